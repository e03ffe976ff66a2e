/*
 * The served JPEG, made with libjpeg-turbo's libjpeg API (the library the
 * turbojpeg crate already links): its TurboJPEG API cannot take
 * quantisation tables of our choosing, and libjpeg reports errors by
 * longjmp, which only C may catch. Everything here is C frames between
 * setjmp and longjmp; Rust sees a return code.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

struct failure {
  struct jpeg_error_mgr manager;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr info) {
  struct failure *failure = (struct failure *)info->err;
  (*info->err->format_message)(info, failure->message);
  longjmp(failure->jump, 1);
}

/* Warnings and traces are not printed to stderr. */
static void on_message(j_common_ptr info, int level) {
  (void)info;
  (void)level;
}

/*
 * Baseline 4:2:0 YCbCr from packed RGB rows, `table` (64 values in
 * natural order) scaled by `scale_percent` for luma and chroma alike,
 * with Huffman tables made for this picture. On success *out holds
 * *out_len bytes to be freed with imagegram_jpeg_free; on failure
 * libjpeg's message is in `message` (JMSG_LENGTH_MAX bytes) and *out is
 * NULL.
 */
int imagegram_jpeg_encode(const unsigned char *rgb, unsigned int width,
                          unsigned int height, const unsigned int *table,
                          int scale_percent, unsigned char **out,
                          unsigned long *out_len, char *message) {
  struct jpeg_compress_struct compress;
  struct failure failure;

  *out = NULL;
  *out_len = 0;
  message[0] = '\0';
  compress.err = jpeg_std_error(&failure.manager);
  failure.manager.error_exit = on_error;
  failure.manager.emit_message = on_message;
  if (setjmp(failure.jump)) {
    memcpy(message, failure.message, JMSG_LENGTH_MAX);
    jpeg_destroy_compress(&compress);
    free(*out);
    *out = NULL;
    *out_len = 0;
    return -1;
  }
  jpeg_create_compress(&compress);
  compress.image_width = width;
  compress.image_height = height;
  compress.input_components = 3;
  compress.in_color_space = JCS_RGB;
  jpeg_set_defaults(&compress);
  jpeg_add_quant_table(&compress, 0, table, scale_percent, TRUE);
  jpeg_add_quant_table(&compress, 1, table, scale_percent, TRUE);
  compress.optimize_coding = TRUE;
  jpeg_mem_dest(&compress, out, out_len);
  jpeg_start_compress(&compress, TRUE);
  while (compress.next_scanline < compress.image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)compress.next_scanline * width * 3);
    jpeg_write_scanlines(&compress, &row, 1);
  }
  jpeg_finish_compress(&compress);
  jpeg_destroy_compress(&compress);
  return 0;
}

void imagegram_jpeg_free(unsigned char *bytes) { free(bytes); }
