//! The streaming decoders: every PNG layout through the row-by-row path,
//! and JPEGs libjpeg-turbo cannot give as RGB. The memory bound on 100 MB
//! originals is in `convert_memory.rs`.

mod png_files;

use image::{DynamicImage, Rgb, RgbImage};
use imagegram_processors::convert::{convert, ConvertOptions, ResizeMode};

/// Encodes `pixels` (w×h, `color` layout) as a PNG with the png crate.
fn png_of(w: u32, h: u32, color: png::ColorType, depth: png::BitDepth, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(color);
    encoder.set_depth(depth);
    if color == png::ColorType::Indexed {
        encoder.set_palette(vec![255, 0, 0, 0, 0, 255]);
    }
    let mut writer = encoder.write_header().expect("png header");
    writer.write_image_data(pixels).expect("png data");
    writer.finish().expect("png end");
    out
}

/// zlib with stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// An Adam7-interlaced 8-bit RGB PNG (the png crate's encoder writes only
/// plain ones): the passes are laid out here, each row with filter 0.
fn adam7_png(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let mut raw = Vec::new();
    for (x0, y0, xs, ys) in PASSES {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(ys as usize) {
            raw.push(0);
            for x in (x0..w).step_by(xs as usize) {
                let at = ((y * w + x) * 3) as usize;
                raw.extend_from_slice(&rgb[at..at + 3]);
            }
        }
    }
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 1]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_files::chunk(b"IHDR", &ihdr));
    out.extend(png_files::chunk(b"IDAT", &zlib_stored(&raw)));
    out.extend(png_files::chunk(b"IEND", &[]));
    out
}

/// Left half red, right half blue: after a cover crop of a 2:1 image, the
/// output's left quarter is red and its right quarter blue.
fn halves(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    })
}

fn decoded(jpeg: &[u8]) -> RgbImage {
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("output decodes")
        .to_rgb8()
}

fn assert_red_left_blue_right(out: &RgbImage, what: &str) {
    let (w, h) = out.dimensions();
    let left = out.get_pixel(w / 8, h / 2).0;
    let right = out.get_pixel(w - w / 8, h / 2).0;
    assert!(left[0] > 200 && left[2] < 60, "{what}: left {left:?}");
    assert!(right[2] > 200 && right[0] < 60, "{what}: right {right:?}");
}

#[test]
fn interlaced_and_plain_png_give_the_same_picture() {
    let source = halves(2600, 1300);
    let plain = png_of(
        2600,
        1300,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        source.as_raw(),
    );
    let adam7 = adam7_png(2600, 1300, source.as_raw());
    image::load_from_memory(&adam7).expect("the interlaced test file is a valid PNG");
    let a = decoded(&convert(&plain, &ConvertOptions::default()).expect("plain").jpeg);
    let b = decoded(
        &convert(&adam7, &ConvertOptions::default())
            .expect("interlaced")
            .jpeg,
    );
    assert_eq!(a.dimensions(), (600, 600));
    assert_eq!(a.as_raw(), b.as_raw(), "same pixels whatever the interlacing");
    assert_red_left_blue_right(&a, "plain");
}

#[test]
fn sixteen_bit_palette_and_grey_alpha_pngs() {
    let (w, h) = (1400u32, 700u32);
    let rgb16: Vec<u8> = halves(w, h).as_raw().iter().flat_map(|&v| [v, v]).collect();
    let palette: Vec<u8> = (0..h)
        .flat_map(|_| (0..w).map(move |x| u8::from(x >= w / 2)))
        .collect();
    // Opaque black on the left, fully transparent on the right (→ white).
    let grey_alpha: Vec<u8> = (0..h)
        .flat_map(|_| (0..w).flat_map(move |x| if x < w / 2 { [0, 255] } else { [0, 0] }))
        .collect();
    let cases = [
        (
            "rgb16",
            png_of(w, h, png::ColorType::Rgb, png::BitDepth::Sixteen, &rgb16),
        ),
        (
            "palette",
            png_of(w, h, png::ColorType::Indexed, png::BitDepth::Eight, &palette),
        ),
        (
            "grey+alpha",
            png_of(
                w,
                h,
                png::ColorType::GrayscaleAlpha,
                png::BitDepth::Eight,
                &grey_alpha,
            ),
        ),
    ];
    for (what, bytes) in cases {
        let out = decoded(
            &convert(&bytes, &ConvertOptions::default())
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .jpeg,
        );
        assert_eq!(out.dimensions(), (600, 600), "{what}");
        if what == "grey+alpha" {
            assert!(out.get_pixel(75, 300).0[0] < 40, "opaque black stays black");
            assert!(out.get_pixel(525, 300).0[0] > 215, "transparent becomes white");
        } else {
            assert_red_left_blue_right(&out, what);
        }
    }
}

#[test]
fn a_cmyk_jpeg_converts_through_the_scaled_decoder_too() {
    let (w, h) = (800u16, 400u16);
    let cmyk: Vec<u8> = (0..h)
        .flat_map(|_| {
            (0..w).flat_map(move |x| {
                if x < w / 2 {
                    [0, 255, 255, 0]
                } else {
                    [255, 255, 0, 0]
                }
            })
        })
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 95)
        .encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk)
        .expect("cmyk jpeg");
    let out = convert(&jpeg, &ConvertOptions::default()).expect("converts");
    assert_eq!((out.width, out.height), (600, 600));
}

#[test]
fn large_jpegs_are_scaled_while_decoding_and_keep_their_shape() {
    let source = DynamicImage::ImageRgb8(halves(4000, 3000));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    source
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("jpeg");
    let fit = ConvertOptions {
        mode: ResizeMode::Fit,
        ..ConvertOptions::default()
    };
    let out = convert(jpeg.get_ref(), &fit).expect("converts");
    assert_eq!((out.width, out.height), (600, 450));
    assert_red_left_blue_right(&decoded(&out.jpeg), "scaled jpeg");
}
