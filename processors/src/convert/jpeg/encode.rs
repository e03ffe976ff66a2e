//! The served JPEG: baseline 4:2:0, Huffman tables made for each picture,
//! and N. Robidoux's quantisation table in place of the JPEG standard's
//! Annex K example tables.
//!
//! Why: Annex K's tables were a 1990s example, tuned for neither today's
//! screens nor any modern quality metric. Robidoux's table (made for
//! ImageMagick, and one of mozjpeg's presets) spends fewer bits on the
//! high frequencies that the 600x600 output barely carries. At quality 85
//! that is 0.925x the bytes of vipsthumbnail's Annex K `Q=85` at a
//! slightly better SSIMULACRA2 score (median of the benchmark's
//! photographs, docs/benchmarks.md).
//!
//! Why not progressive scans or trellis quantisation: progressive files
//! took Chromium 1.6x as long to decode (successive approximation;
//! spectral selection alone saved no bytes), and mozjpeg's trellis
//! lowered SSIMULACRA2 as much as it saved bytes.
//!
//! libjpeg-turbo's TurboJPEG API cannot take our tables, so `encode.c`
//! drives its libjpeg API, linked already by the `turbojpeg` crate.

use std::ffi::{c_char, c_int, c_uint, c_ulong, CStr};

use image::RgbImage;

/// N. Robidoux's table, in natural (row-major) order: luma and chroma
/// alike.
const ROBIDOUX: [c_uint; 64] = [
    16, 16, 16, 18, 25, 37, 56, 85, //
    16, 17, 20, 27, 34, 40, 53, 75, //
    16, 20, 24, 31, 43, 62, 91, 135, //
    18, 27, 31, 40, 53, 74, 106, 156, //
    25, 34, 43, 53, 69, 94, 131, 189, //
    37, 40, 62, 74, 94, 124, 169, 238, //
    56, 53, 91, 106, 131, 169, 226, 311, //
    85, 75, 135, 156, 189, 238, 311, 418,
];

/// libjpeg's `JMSG_LENGTH_MAX`.
const MESSAGE_LEN: usize = 200;

extern "C" {
    fn imagegram_jpeg_encode(
        rgb: *const u8,
        width: c_uint,
        height: c_uint,
        table: *const c_uint,
        scale_percent: c_int,
        out: *mut *mut u8,
        out_len: *mut c_ulong,
        message: *mut c_char,
    ) -> c_int;
    fn imagegram_jpeg_free(bytes: *mut u8);
}

/// libjpeg's quality scale: the percentage a base table is multiplied by
/// at `quality` (1–100); 50 keeps it as it is.
pub fn scale_percent(quality: u8) -> c_int {
    let q = c_int::from(quality.clamp(1, 100));
    if q < 50 {
        5000 / q
    } else {
        200 - 2 * q
    }
}

/// Encodes `image` at `quality`; no metadata but JFIF's header.
pub fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut out: *mut u8 = std::ptr::null_mut();
    let mut out_len: c_ulong = 0;
    let mut message = [0 as c_char; MESSAGE_LEN];
    // SAFETY: `image` holds width × height × 3 bytes (RgbImage keeps that
    // invariant) and outlives the call; the table has 64 entries; `out`,
    // `out_len` and `message` are valid for writes, and `message` has the
    // JMSG_LENGTH_MAX bytes the C side may fill. The C side catches every
    // libjpeg error itself, so no longjmp crosses a Rust frame.
    let code = unsafe {
        imagegram_jpeg_encode(
            image.as_raw().as_ptr(),
            image.width(),
            image.height(),
            ROBIDOUX.as_ptr(),
            scale_percent(quality),
            &mut out,
            &mut out_len,
            message.as_mut_ptr(),
        )
    };
    if code != 0 || out.is_null() {
        // SAFETY: the C side writes a NUL-terminated message on failure
        // (or leaves the empty string it started with).
        let text = unsafe { CStr::from_ptr(message.as_ptr()) };
        return Err(text.to_string_lossy().into_owned());
    }
    let len = usize::try_from(out_len).map_err(|_| "the JPEG is too large".to_string());
    // SAFETY: on success `out` points at `out_len` bytes libjpeg allocated
    // with malloc; they are copied, then freed exactly once.
    let bytes = len.map(|len| unsafe { std::slice::from_raw_parts(out, len) }.to_vec());
    unsafe { imagegram_jpeg_free(out) };
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quality_scale_is_libjpegs() {
        assert_eq!(scale_percent(50), 100);
        assert_eq!(scale_percent(85), 30);
        assert_eq!(scale_percent(100), 0);
        assert_eq!(scale_percent(25), 200);
        assert_eq!(scale_percent(0), 5000);
    }

    #[test]
    fn encodes_a_baseline_4_2_0_jpeg_that_decodes_to_the_picture() {
        let image = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
        let bytes = encode(&image, 85).expect("encodes");
        let header = turbojpeg::read_header(&bytes).expect("a JPEG");
        assert_eq!((header.width, header.height), (64, 48));
        assert!(!header.is_progressive);
        assert_eq!(header.subsamp, turbojpeg::Subsamp::Sub2x2);
        let back = turbojpeg::decompress(&bytes, turbojpeg::PixelFormat::RGB).expect("decodes");
        let worst = image
            .as_raw()
            .iter()
            .zip(&back.pixels)
            .map(|(a, b)| a.abs_diff(*b))
            .max();
        assert!(worst.is_some_and(|d| d < 24), "worst difference {worst:?}");
    }

    #[test]
    fn a_picture_libjpeg_refuses_is_an_error_with_its_message() {
        // Wider than JPEG's 65,535 pixels.
        let image = RgbImage::new(70_000, 1);
        let error = encode(&image, 85).expect_err("refused");
        assert!(error.contains("65500") || error.contains("large"), "{error}");
    }
}
