//! Hostile originals settle, refused from their headers, in bounded
//! memory: each test runs in a process of its own (nextest), so the peak
//! it measures is that file's alone. The bound the converter keeps is
//! 512 MiB with the original's bytes; these stay far below it.

use imagegram_processors::convert::{convert, ConvertError, ConvertOptions, MAX_ASPECT};

mod memory;

use memory::peak_rss_mib;

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32(kind);
    crc = crc32_update(crc, data);
    chunk.extend_from_slice(&(!crc).to_be_bytes());
    chunk
}

fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0xFFFF_FFFF, bytes)
}

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A PNG header declaring `width`x`height` RGB, then a little data.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    file.extend(png_chunk(b"IHDR", &ihdr));
    file.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01],
    ));
    file.extend(png_chunk(b"IEND", &[]));
    file
}

#[test]
fn a_strip_one_pixel_wide_is_refused_from_its_header() {
    let strip = png_declaring(1, 100_000_000);
    let refused = convert(&strip, &ConvertOptions::default()).err();
    assert_eq!(
        refused,
        Some(ConvertError::BadShape {
            width: 1,
            height: 100_000_000
        })
    );
    let peak = peak_rss_mib();
    eprintln!(
        "1x100,000,000 PNG ({} bytes): peak resident {peak} MiB",
        strip.len()
    );
    assert!(peak < 64, "peak resident {peak} MiB");
    // Within the limit, a long panorama still converts.
    let wide = image::RgbImage::from_fn(MAX_ASPECT * 20, 20, |x, _| image::Rgb([x as u8, 0, 0]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(wide)
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png");
    assert!(convert(bytes.get_ref(), &ConvertOptions::default()).is_ok());
}

/// A 1 KiB RLE8 BMP that declares 10000x10000: decoding it whole would
/// take 300 MB; it is refused before a pixel is decoded.
#[test]
fn a_tiny_rle_bmp_declaring_100_megapixels_is_refused_before_decoding() {
    let (width, height) = (10_000i32, 10_000i32);
    let palette = [0u8, 0, 255, 0, 255, 0, 0, 0];
    let mut rle = Vec::new();
    for _ in 0..200 {
        rle.extend_from_slice(&[255, 1]); // runs of colour 1
    }
    rle.extend_from_slice(&[0, 1]); // end of bitmap
    let offset = 14 + 40 + palette.len() as u32;
    let mut file = Vec::new();
    file.extend_from_slice(b"BM");
    file.extend_from_slice(&(offset + rle.len() as u32).to_le_bytes());
    file.extend_from_slice(&[0, 0, 0, 0]);
    file.extend_from_slice(&offset.to_le_bytes());
    file.extend_from_slice(&40u32.to_le_bytes());
    file.extend_from_slice(&width.to_le_bytes());
    file.extend_from_slice(&height.to_le_bytes());
    file.extend_from_slice(&1u16.to_le_bytes());
    file.extend_from_slice(&8u16.to_le_bytes());
    file.extend_from_slice(&1u32.to_le_bytes()); // BI_RLE8
    file.extend_from_slice(&(rle.len() as u32).to_le_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&2u32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&palette);
    file.extend_from_slice(&rle);
    assert!(file.len() < 1024);
    refused_over_budget(&file, "1 KiB RLE8 BMP of 10000x10000");
}

/// A progressive CMYK JPEG whose header says 10000x10000: its DCT
/// coefficients alone (8 bytes a pixel) would be 800 MB, so it is refused
/// from its header.
#[test]
fn a_progressive_cmyk_jpeg_of_100_megapixels_is_refused_before_decoding() {
    let (w, h) = (16u16, 16u16);
    let cmyk = vec![128u8; usize::from(w) * usize::from(h) * 4];
    let mut jpeg = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut jpeg, 90);
    encoder.set_progressive(true);
    encoder
        .encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk)
        .expect("cmyk jpeg");
    // Say 10000x10000 in the frame header (SOF2: FF C2, length, precision,
    // height, width).
    let sof = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC2])
        .expect("a progressive frame header");
    jpeg[sof + 5..sof + 7].copy_from_slice(&10_000u16.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&10_000u16.to_be_bytes());
    refused_over_budget(&jpeg, "progressive CMYK JPEG declaring 10000x10000");
}

/// `file` (10000x10000) is refused as over the whole-decode budget, with
/// this process's peak memory small.
fn refused_over_budget(file: &[u8], what: &str) {
    let refused = convert(file, &ConvertOptions::default()).err();
    assert!(
        matches!(
            refused,
            Some(ConvertError::OverBudget {
                width: 10_000,
                height: 10_000,
                ..
            })
        ),
        "{refused:?}"
    );
    let peak = peak_rss_mib();
    eprintln!("{what}: peak resident {peak} MiB");
    assert!(peak < 64, "peak resident {peak} MiB");
}
