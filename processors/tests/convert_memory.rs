//! The 512 MB bound on converting 100 MB originals, measured as the
//! process's peak resident memory (a test binary of its own, so no other
//! test's allocations count).

use std::fs::File;
use std::io::{BufWriter, Write};

use imagegram_processors::convert::{convert_file, ConvertOptions};

mod memory;

use memory::{peak_rss_mib, reset_peak_rss};

/// Noise rows from a xorshift generator: incompressible, so the file is as
/// large as its pixels.
fn noise_row(state: &mut u64, row: &mut [u8]) {
    for chunk in row.chunks_mut(8) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let bytes = state.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

#[test]
fn a_100_mb_png_and_jpeg_convert_under_512_mb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png_path = dir.path().join("big.png");
    let (w, h) = (5800u32, 5800u32);
    {
        let file = BufWriter::new(File::create(&png_path).expect("create"));
        let mut encoder = png::Encoder::new(file, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_compression(png::Compression::NoCompression);
        let mut writer = encoder.write_header().expect("header");
        let mut stream = writer.stream_writer().expect("stream");
        let (mut state, mut row) = (0x9E37_79B9_7F4A_7C15u64, vec![0u8; w as usize * 3]);
        for _ in 0..h {
            noise_row(&mut state, &mut row);
            stream.write_all(&row).expect("row");
        }
        stream.finish().expect("finish");
    }
    let png_size = std::fs::metadata(&png_path).expect("size").len();
    assert!(png_size >= 100_000_000, "the PNG is {png_size} bytes");

    reset_peak_rss();
    let out = convert_file(File::open(&png_path).expect("open"), &ConvertOptions::default())
        .expect("the 100 MB PNG converts");
    assert_eq!((out.width, out.height), (600, 600));
    let png_peak = peak_rss_mib();
    eprintln!("100 MB PNG ({png_size} bytes): peak resident {png_peak} MiB");
    assert!(png_peak < 512, "peak resident {png_peak} MiB");

    // A 100 MB JPEG: noise at quality 100 without subsampling.
    let jpeg = {
        let (jw, jh) = (5000usize, 5000usize);
        let mut pixels = vec![0u8; jw * jh * 3];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        noise_row(&mut state, &mut pixels);
        let image = turbojpeg::Image {
            pixels: pixels.as_slice(),
            width: jw,
            pitch: jw * 3,
            height: jh,
            format: turbojpeg::PixelFormat::RGB,
        };
        let mut compressor = turbojpeg::Compressor::new().expect("compressor");
        compressor.set_quality(100).expect("quality");
        compressor
            .set_subsamp(turbojpeg::Subsamp::None)
            .expect("subsampling");
        compressor.compress_to_vec(image).expect("jpeg")
    };
    assert!(jpeg.len() >= 100_000_000, "the JPEG is {} bytes", jpeg.len());
    let jpeg_path = dir.path().join("big.jpg");
    std::fs::write(&jpeg_path, &jpeg).expect("write jpeg");
    let jpeg_size = jpeg.len();
    drop(jpeg);

    reset_peak_rss();
    let out = convert_file(File::open(&jpeg_path).expect("open"), &ConvertOptions::default())
        .expect("the 100 MB JPEG converts");
    assert_eq!((out.width, out.height), (600, 600));
    let jpeg_peak = peak_rss_mib();
    eprintln!("100 MB JPEG ({jpeg_size} bytes): peak resident {jpeg_peak} MiB");
    assert!(jpeg_peak < 512, "peak resident {jpeg_peak} MiB");
}
