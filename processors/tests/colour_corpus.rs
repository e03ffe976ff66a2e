//! The colour corpus: one picture posted in the colour spaces phones,
//! cameras and print send (Display P3, Adobe RGB and ProPhoto, as JPEG and
//! PNG with their profiles; PNG with gAMA and cHRM; CMYK with a profile
//! and without), all made here. Each served JPEG must be as close to what
//! a person sees (the sRGB picture, cover-resized) as the same picture
//! posted as plain sRGB and served the same way: within 1.5 dB of PSNR,
//! 4 dB for CMYK, where the rendering is a choice.

use image::{imageops, RgbImage};
use imagegram_processors::convert::colour::ColourNote;
use imagegram_processors::convert::{convert, ConvertOptions};
use imagegram_testkit::colour::{
    cmyk_from_srgb, cmyk_profile, from_srgb, jpeg_with_icc, rgb_profile, Curve, RgbSpace, ADOBE_RGB,
    DISPLAY_P3, DOT_GAIN, PROPHOTO,
};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// A 1200x900 picture with what photos have: smooth skies, saturated
/// colours near sRGB's edge, skin-like tones, dark shadows, fine texture.
fn photo() -> RgbImage {
    RgbImage::from_fn(1200, 900, |x, y| {
        let (fx, fy) = (f64::from(x) / 1200.0, f64::from(y) / 900.0);
        let texture = ((f64::from(x) * 0.31).sin() * (f64::from(y) * 0.23).cos() * 10.0) as i32;
        let base = match (x / 300, y / 300) {
            (0, 0) => [(60.0 + 120.0 * fy) as i32, (120.0 + 80.0 * fy) as i32, 230],
            (1, 0) => [235, 40, 30],
            (2, 0) => [30, 200, 60],
            (3, 0) => [40, 50, 220],
            (_, 1) => [
                (225.0 - 40.0 * fx) as i32,
                (170.0 - 50.0 * fx) as i32,
                (140.0 - 40.0 * fx) as i32,
            ],
            _ => [
                (255.0 * fx) as i32,
                (200.0 * (1.0 - fx)) as i32,
                (30.0 + 200.0 * fy) as i32,
            ],
        };
        image::Rgb(base.map(|v| (v + texture).clamp(0, 255) as u8))
    })
}

/// What a person sees at 600x600: the centred square, Lanczos-resized.
fn reference(picture: &RgbImage) -> RgbImage {
    let side = picture.width().min(picture.height());
    let square = imageops::crop_imm(
        picture,
        (picture.width() - side) / 2,
        (picture.height() - side) / 2,
        side,
        side,
    )
    .to_image();
    imageops::resize(&square, 600, 600, imageops::FilterType::Lanczos3)
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mse = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
        .sum::<f64>()
        / a.as_raw().len() as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-9)).log10()
}

fn jpeg(pixels: &[u8], format: PixelFormat, width: usize, height: usize) -> Vec<u8> {
    let mut compressor = Compressor::new().expect("a compressor");
    compressor.set_quality(98).expect("quality");
    compressor.set_subsamp(Subsamp::None).expect("4:4:4");
    let image = Image {
        pixels,
        width,
        pitch: width * format.size(),
        height,
        format,
    };
    compressor.compress_to_vec(image).expect("encodes")
}

fn png(rgb: &[u8], width: u32, height: u32, tag: impl FnOnce(&mut png::Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        tag(&mut encoder);
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(rgb).expect("pixels");
    }
    out
}

fn png_with_icc(rgb: &[u8], width: u32, height: u32, icc: Vec<u8>) -> Vec<u8> {
    let mut info = png::Info::with_size(width, height);
    info.color_type = png::ColorType::Rgb;
    info.bit_depth = png::BitDepth::Eight;
    info.icc_profile = Some(icc.into());
    let mut out = Vec::new();
    {
        let encoder = png::Encoder::with_info(&mut out, info).expect("info");
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(rgb).expect("pixels");
    }
    out
}

struct Served {
    image: RgbImage,
    colour: ColourNote,
}

fn serve(original: &[u8]) -> Served {
    let out = convert(original, &ConvertOptions::default()).expect("converts");
    let image = image::load_from_memory(&out.jpeg).expect("decodes").to_rgb8();
    Served {
        image,
        colour: out.colour,
    }
}

struct Corpus {
    picture: RgbImage,
    seen: RgbImage,
    /// PSNR of the plain sRGB JPEG and PNG, served.
    srgb_jpeg: f64,
    srgb_png: f64,
}

impl Corpus {
    fn new() -> Corpus {
        let picture = photo();
        let seen = reference(&picture);
        let (w, h) = picture.dimensions();
        let srgb_jpeg = psnr(
            &serve(&jpeg(picture.as_raw(), PixelFormat::RGB, w as usize, h as usize)).image,
            &seen,
        );
        let srgb_png = psnr(&serve(&png(picture.as_raw(), w, h, |_| {})).image, &seen);
        Corpus {
            picture,
            seen,
            srgb_jpeg,
            srgb_png,
        }
    }

    fn size(&self) -> (u32, u32) {
        self.picture.dimensions()
    }

    /// Serves `original` and checks it against the sRGB `baseline`.
    fn check(&self, name: &str, original: &[u8], baseline: f64, allowed_db: f64) -> Served {
        let served = serve(original);
        let db = psnr(&served.image, &self.seen);
        println!(
            "{name}: {db:.1} dB against {baseline:.1} dB for sRGB ({:?})",
            served.colour
        );
        assert!(
            db >= baseline - allowed_db,
            "{name} is served at {db:.1} dB, more than {allowed_db} dB below the sRGB original's {baseline:.1} dB"
        );
        served
    }
}

#[test]
fn wide_gamut_jpegs_and_pngs_come_out_as_their_srgb_originals() {
    let corpus = Corpus::new();
    let (w, h) = corpus.size();
    for space in [DISPLAY_P3, ADOBE_RGB, PROPHOTO] {
        let pixels = from_srgb(corpus.picture.as_raw(), &space);
        let icc = rgb_profile(&space);
        let plain = jpeg(&pixels, PixelFormat::RGB, w as usize, h as usize);
        // In one segment, and split across three.
        for chunk in [icc.len(), icc.len() / 3 + 1] {
            let tagged = jpeg_with_icc(&plain, &icc, chunk);
            let served = corpus.check(
                &format!("{} JPEG, {chunk} B segments", space.name),
                &tagged,
                corpus.srgb_jpeg,
                1.5,
            );
            assert_eq!(served.colour, ColourNote::Converted("its ICC profile"));
        }
        let tagged = png_with_icc(&pixels, w, h, icc);
        corpus.check(
            &format!("{} PNG (iCCP)", space.name),
            &tagged,
            corpus.srgb_png,
            1.5,
        );
    }
}

#[test]
fn the_profile_is_what_makes_the_difference() {
    // The same Adobe RGB pixels served without their profile are read as
    // sRGB, and miss the bound: the corpus can tell a profile ignored.
    let corpus = Corpus::new();
    let (w, h) = corpus.size();
    let pixels = from_srgb(corpus.picture.as_raw(), &ADOBE_RGB);
    let untagged = serve(&jpeg(&pixels, PixelFormat::RGB, w as usize, h as usize));
    let db = psnr(&untagged.image, &corpus.seen);
    assert!(
        db < corpus.srgb_jpeg - 1.5,
        "untagged Adobe RGB at {db:.1} dB is too close to tell"
    );
}

#[test]
fn png_gamma_and_chromaticities_are_honoured_without_a_profile() {
    let corpus = Corpus::new();
    let (w, h) = corpus.size();
    let space = RgbSpace {
        name: "gamma 1.8, Adobe RGB primaries",
        curve: Curve::Gamma(1.8),
        ..ADOBE_RGB
    };
    let pixels = from_srgb(corpus.picture.as_raw(), &space);
    let tagged = png(&pixels, w, h, |encoder| {
        encoder.set_source_gamma(png::ScaledFloat::new(1.0 / 1.8));
        let [r, g, b] = space.primaries.map(|(x, y)| (x as f32, y as f32));
        let white = (space.white.0 as f32, space.white.1 as f32);
        encoder.set_source_chromaticities(png::SourceChromaticities::new(white, r, g, b));
    });
    let served = corpus.check("PNG gAMA and cHRM", &tagged, corpus.srgb_png, 1.5);
    assert_eq!(served.colour, ColourNote::Converted("its gAMA and cHRM"));
}

#[test]
fn cmyk_jpegs_through_their_profile_or_the_plain_conversion() {
    let corpus = Corpus::new();
    let (w, h) = corpus.size();
    // As Photoshop stores CMYK in a JPEG: inverted, with an Adobe segment
    // (which libjpeg writes for CMYK).
    let stored = |ink: Vec<u8>| {
        let inverted: Vec<u8> = ink.into_iter().map(|v| 255 - v).collect();
        jpeg(&inverted, PixelFormat::CMYK, w as usize, h as usize)
    };
    let press = stored(cmyk_from_srgb(corpus.picture.as_raw(), DOT_GAIN));
    let profiled = jpeg_with_icc(&press, &cmyk_profile(DOT_GAIN), 20_000);
    let served = corpus.check("CMYK JPEG with its profile", &profiled, corpus.srgb_jpeg, 4.0);
    assert_eq!(served.colour, ColourNote::Converted("its CMYK ICC profile"));

    let plain = stored(cmyk_from_srgb(corpus.picture.as_raw(), 1.0));
    let served = corpus.check("CMYK JPEG without a profile", &plain, corpus.srgb_jpeg, 4.0);
    assert_eq!(
        served.colour,
        ColourNote::Converted("plain CMYK, having no profile")
    );

    // The press's file read without its profile is visibly off.
    let db = psnr(&serve(&press).image, &corpus.seen);
    assert!(
        db < corpus.srgb_jpeg - 4.0,
        "the press file without its profile: {db:.1} dB"
    );
}

#[test]
fn a_broken_profile_is_read_as_srgb_and_said() {
    let corpus = Corpus::new();
    let (w, h) = corpus.size();
    let plain = jpeg(corpus.picture.as_raw(), PixelFormat::RGB, w as usize, h as usize);
    let mut truncated = rgb_profile(&DISPLAY_P3);
    truncated.truncate(300);
    let mut absurd = rgb_profile(&DISPLAY_P3);
    absurd[128..132].copy_from_slice(&u32::MAX.to_be_bytes()); // tag count
    let huge = {
        let mut icc = rgb_profile(&DISPLAY_P3);
        icc.resize(5 * 1024 * 1024, 0xAB);
        let size = icc.len() as u32;
        icc[..4].copy_from_slice(&size.to_be_bytes());
        icc
    };
    for (name, icc) in [
        ("truncated", truncated),
        ("absurd tag count", absurd),
        ("5 MiB", huge),
    ] {
        let tagged = jpeg_with_icc(&plain, &icc, 65_000);
        let served = corpus.check(&format!("{name} profile"), &tagged, corpus.srgb_jpeg, 1.5);
        assert!(
            matches!(served.colour, ColourNote::Ignored(_)),
            "{name}: {:?}",
            served.colour
        );
    }
}
