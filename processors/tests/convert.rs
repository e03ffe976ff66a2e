//! Conversion of real files made here: formats, modes, orientation, and hostile input.

mod png_files;

use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};
use imagegram_processors::convert::{convert, ConvertError, ConvertOptions, ResizeMode};

fn gradient(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128]))
}

fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn decoded(jpeg: &[u8]) -> DynamicImage {
    assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "output is a JPEG");
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("output decodes")
}

fn fit() -> ConvertOptions {
    ConvertOptions {
        mode: ResizeMode::Fit,
        ..ConvertOptions::default()
    }
}

#[test]
fn png_becomes_a_600_square_jpeg() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(1200, 800)),
        image::ImageFormat::Png,
    );
    let out = convert(&png, &ConvertOptions::default()).expect("converts");
    assert_eq!((out.width, out.height), (600, 600));
    let img = decoded(&out.jpeg);
    assert_eq!((img.width(), img.height()), (600, 600));
    // Cover crops the sides: the centre column of the source is the centre of the output.
    let centre = img.to_rgb8().get_pixel(300, 300).0;
    assert!((i32::from(centre[0]) - 127).abs() < 12, "centre red {centre:?}");
}

#[test]
fn fit_keeps_the_whole_picture() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(1200, 800)),
        image::ImageFormat::Png,
    );
    let out = convert(&png, &fit()).expect("converts");
    assert_eq!((out.width, out.height), (600, 400));
}

#[test]
fn baseline_and_progressive_jpeg_and_bmp() {
    let source = DynamicImage::ImageRgb8(gradient(1600, 1200));
    let baseline = encode(&source, image::ImageFormat::Jpeg);
    let mut progressive = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 90);
    encoder.set_progressive(true);
    encoder
        .encode(source.as_bytes(), 1600, 1200, jpeg_encoder::ColorType::Rgb)
        .expect("progressive jpeg");
    let bmp = encode(&source, image::ImageFormat::Bmp);
    for (name, bytes) in [("baseline", baseline), ("progressive", progressive), ("bmp", bmp)] {
        let out = convert(&bytes, &ConvertOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((out.width, out.height), (600, 600), "{name}");
        decoded(&out.jpeg);
    }
}

/// A JPEG whose EXIF says "rotate 90° clockwise to display" (orientation 6).
fn jpeg_with_orientation(image: &DynamicImage, orientation: u16) -> Vec<u8> {
    let plain = encode(image, image::ImageFormat::Jpeg);
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one IFD entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

#[test]
fn exif_orientation_is_applied_and_metadata_dropped() {
    let landscape = DynamicImage::ImageRgb8(gradient(800, 400));
    let rotated = jpeg_with_orientation(&landscape, 6);
    let out = convert(&rotated, &fit()).expect("converts");
    assert_eq!(
        (out.width, out.height),
        (300, 600),
        "displayed upright, so portrait"
    );
    assert!(
        !out.jpeg.windows(6).any(|w| w == b"Exif\x00\x00"),
        "no EXIF in the output"
    );
}

#[test]
fn transparency_is_laid_over_white() {
    let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(50, 50, Rgba([0, 0, 0, 0])));
    let out = convert(
        &encode(&clear, image::ImageFormat::Png),
        &ConvertOptions::default(),
    )
    .expect("converts");
    let px = decoded(&out.jpeg).to_rgb8().get_pixel(300, 300).0;
    assert!(px.iter().all(|&c| c > 245), "white, got {px:?}");
}

#[test]
fn a_text_file_named_like_an_image_is_not_an_image() {
    assert_eq!(
        convert(b"hello, I am photo.png", &ConvertOptions::default()).err(),
        Some(ConvertError::NotAnImage)
    );
}

#[test]
fn truncated_and_corrupt_files_say_so() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(300, 300)),
        image::ImageFormat::Png,
    );
    let err = convert(&png[..png.len() / 2], &ConvertOptions::default()).expect_err("truncated");
    assert!(err.to_string().starts_with("corrupt png"), "{err}");
    assert_eq!(
        err.for_people(),
        "The PNG file is damaged or incomplete, so it could not be read."
    );
    let jpeg = encode(
        &DynamicImage::ImageRgb8(gradient(300, 300)),
        image::ImageFormat::Jpeg,
    );
    let mut broken = jpeg[..200].to_vec();
    broken.extend(std::iter::repeat_n(0u8, 100));
    let err = convert(&broken, &ConvertOptions::default()).expect_err("corrupt");
    assert!(err.to_string().starts_with("corrupt jpeg"), "{err}");
}

#[test]
fn a_decompression_bomb_fails_fast_on_its_header() {
    // 100000x100000 RGB declared in 60-odd bytes.
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n".to_vec();
    bomb.extend(png_files::chunk(b"IHDR", &ihdr));
    bomb.extend(png_files::chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    bomb.extend(png_files::chunk(b"IEND", &[]));
    let started = std::time::Instant::now();
    let err = convert(&bomb, &ConvertOptions::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "image is 100000x100000, the limit is 100 megapixels"
    );
    assert_eq!(
        err.for_people(),
        "The image is 100000x100000 pixels, larger than the 100 megapixels accepted."
    );
    // Not a speed assertion: a refusal that decoded pixels would take minutes and gigabytes.
    eprintln!("refused in {:?}", started.elapsed());
}

#[test]
fn quality_changes_the_size() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(900, 900)),
        image::ImageFormat::Png,
    );
    let low = convert(
        &png,
        &ConvertOptions {
            quality: 30,
            ..ConvertOptions::default()
        },
    )
    .expect("q30");
    let high = convert(
        &png,
        &ConvertOptions {
            quality: 95,
            ..ConvertOptions::default()
        },
    )
    .expect("q95");
    assert!(low.jpeg.len() < high.jpeg.len());
}
