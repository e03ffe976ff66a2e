//! The colour corpus, shared by the colour test and the pictures
//! benchmark: one picture posted as the files phones, cameras, editors and
//! print send, all made here from the same sRGB pixels (profiles and
//! conversions by `imagegram_testkit::colour`), and what a person sees of
//! it at 600x600, to measure each served JPEG against.
#![allow(dead_code)] // each includer uses its part

use image::{imageops, RgbImage, RgbaImage};
use imagegram_testkit::colour::{
    cmyk_from_srgb, cmyk_profile, from_srgb, jpeg_with_icc, rgb_profile, Curve, RgbSpace, ADOBE_RGB,
    DISPLAY_P3, DOT_GAIN, PROPHOTO,
};
use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

/// A 1200x900 picture with what photos have: smooth skies, saturated
/// colours near sRGB's edge, skin-like tones, dark shadows, fine texture.
pub fn picture() -> RgbImage {
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

/// What a person sees at 600x600: the centred square, Lanczos-resized
/// (also how the benchmark makes its 600x600 sources).
pub fn reference(picture: &RgbImage) -> RgbImage {
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

pub fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
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

/// A JPEG as a camera writes one: quality 98, no chroma subsampling;
/// progressive when asked.
pub fn jpeg(pixels: &[u8], format: PixelFormat, width: u32, height: u32, progressive: bool) -> Vec<u8> {
    let mut compressor = Compressor::new().expect("a compressor");
    compressor.set_quality(98).expect("quality");
    compressor.set_subsamp(Subsamp::None).expect("4:4:4");
    compressor.set_progressive(progressive).expect("progressive");
    let (width, height) = (width as usize, height as usize);
    let image = Image {
        pixels,
        width,
        pitch: width * format.size(),
        height,
        format,
    };
    compressor.compress_to_vec(image).expect("encodes")
}

/// A PNG of `pixels` in `color` at `depth`, with `info` adjusted by `tag`.
pub fn png(
    pixels: &[u8],
    (width, height): (u32, u32),
    color: png::ColorType,
    depth: png::BitDepth,
    tag: impl FnOnce(&mut png::Info<'static>),
) -> Vec<u8> {
    let mut info = png::Info::with_size(width, height);
    info.color_type = color;
    info.bit_depth = depth;
    tag(&mut info);
    let mut out = Vec::new();
    {
        let encoder = png::Encoder::with_info(&mut out, info).expect("info");
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(pixels).expect("pixels");
    }
    out
}

/// How close a case must come to the sRGB original's own score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// RGB: within 1.5 dB PSNR of the sRGB original served the same way.
    Rgb,
    /// CMYK, where the rendering intent is a choice: within 4 dB.
    Cmyk,
}

impl Bound {
    pub fn allowed_db(self) -> f64 {
        match self {
            Bound::Rgb => 1.5,
            Bound::Cmyk => 4.0,
        }
    }
}

/// One file of the corpus.
pub struct Case {
    pub name: String,
    pub file: Vec<u8>,
    /// The plain sRGB file it is measured beside: `srgb.jpg` or `srgb.png`.
    pub beside: &'static str,
    pub bound: Bound,
    /// The converter's note on its colours, in Debug form.
    pub note: &'static str,
}

/// The corpus made from `picture`: first the two sRGB originals, then
/// every other case.
pub fn cases(picture: &RgbImage) -> Vec<Case> {
    let size = picture.dimensions();
    let (w, h) = size;
    let rgb = picture.as_raw();
    let case = |name: &str, file: Vec<u8>, beside, bound, note| Case {
        name: name.to_owned(),
        file,
        beside,
        bound,
        note,
    };
    let srgb_png =
        |tag: fn(&mut png::Info<'static>)| png(rgb, size, png::ColorType::Rgb, png::BitDepth::Eight, tag);
    let converted = r#"Converted("its ICC profile")"#;
    let mut cases = vec![
        case(
            "srgb.jpg",
            jpeg(rgb, PixelFormat::RGB, w, h, false),
            "srgb.jpg",
            Bound::Rgb,
            "AsSrgb",
        ),
        case("srgb.png", srgb_png(|_| {}), "srgb.png", Bound::Rgb, "AsSrgb"),
    ];
    for space in [DISPLAY_P3, ADOBE_RGB, PROPHOTO] {
        let pixels = from_srgb(rgb, &space);
        let icc = rgb_profile(&space);
        let plain = jpeg(&pixels, PixelFormat::RGB, w, h, false);
        let slug = space.name.split(' ').next().unwrap_or("rgb").to_lowercase();
        cases.push(case(
            &format!("{slug}.jpg"),
            jpeg_with_icc(&plain, &icc, icc.len()),
            "srgb.jpg",
            Bound::Rgb,
            converted,
        ));
        cases.push(case(
            &format!("{slug}-3-segments.jpg"),
            jpeg_with_icc(&plain, &icc, icc.len() / 3 + 1),
            "srgb.jpg",
            Bound::Rgb,
            converted,
        ));
        let tagged = png(&pixels, size, png::ColorType::Rgb, png::BitDepth::Eight, |info| {
            info.icc_profile = Some(icc.into());
        });
        cases.push(case(
            &format!("{slug}-iccp.png"),
            tagged,
            "srgb.png",
            Bound::Rgb,
            converted,
        ));
    }
    let gamma_space = RgbSpace {
        name: "gamma 1.8, Adobe RGB primaries",
        curve: Curve::Gamma(1.8),
        ..ADOBE_RGB
    };
    let gamma_pixels = from_srgb(rgb, &gamma_space);
    let gamma_png = png(
        &gamma_pixels,
        size,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        |info| {
            info.source_gamma = Some(png::ScaledFloat::new(1.0 / 1.8));
            let [r, g, b] = ADOBE_RGB.primaries.map(|(x, y)| (x as f32, y as f32));
            let white = (ADOBE_RGB.white.0 as f32, ADOBE_RGB.white.1 as f32);
            info.source_chromaticities = Some(png::SourceChromaticities::new(white, r, g, b));
        },
    );
    cases.push(case(
        "gama-chrm.png",
        gamma_png,
        "srgb.png",
        Bound::Rgb,
        r#"Converted("its gAMA and cHRM")"#,
    ));
    // As Photoshop stores CMYK in a JPEG: inverted, with an Adobe segment
    // (which libjpeg writes for CMYK).
    let stored = |ink: Vec<u8>| {
        let inverted: Vec<u8> = ink.into_iter().map(|v| 255 - v).collect();
        jpeg(&inverted, PixelFormat::CMYK, w, h, false)
    };
    let press = stored(cmyk_from_srgb(rgb, DOT_GAIN));
    cases.push(case(
        "cmyk-profile.jpg",
        jpeg_with_icc(&press, &cmyk_profile(DOT_GAIN), 20_000),
        "srgb.jpg",
        Bound::Cmyk,
        r#"Converted("its CMYK ICC profile")"#,
    ));
    cases.push(case(
        "cmyk-plain.jpg",
        stored(cmyk_from_srgb(rgb, 1.0)),
        "srgb.jpg",
        Bound::Cmyk,
        r#"Converted("plain CMYK, having no profile")"#,
    ));
    // Regression cases: what worked before colour management.
    let wide: Vec<u8> = rgb.iter().flat_map(|&v| [v, v]).collect();
    cases.push(case(
        "16-bit.png",
        png(&wide, size, png::ColorType::Rgb, png::BitDepth::Sixteen, |_| {}),
        "srgb.png",
        Bound::Rgb,
        "AsSrgb",
    ));
    let opaque = RgbaImage::from_fn(w, h, |x, y| {
        let p = picture.get_pixel(x, y).0;
        image::Rgba([p[0], p[1], p[2], 255])
    });
    cases.push(case(
        "rgba.png",
        png(
            opaque.as_raw(),
            size,
            png::ColorType::Rgba,
            png::BitDepth::Eight,
            |_| {},
        ),
        "srgb.png",
        Bound::Rgb,
        "AsSrgb",
    ));
    cases.push(case(
        "srgb-chunk.png",
        srgb_png(|info| info.srgb = Some(png::SrgbRenderingIntent::Perceptual)),
        "srgb.png",
        Bound::Rgb,
        "AsSrgb",
    ));
    cases.push(case(
        "progressive.jpg",
        jpeg(rgb, PixelFormat::RGB, w, h, true),
        "srgb.jpg",
        Bound::Rgb,
        "AsSrgb",
    ));
    cases
}
