//! The colour corpus (`corpus/`): each file served must be as close to
//! what a person sees (the sRGB picture, cover-resized) as the same picture
//! posted as plain sRGB and served the same way: within 1.5 dB of PSNR,
//! 4 dB for CMYK, where the rendering is a choice.

mod corpus;

use std::collections::HashMap;

use corpus::{cases, jpeg, picture, psnr, reference};
use image::RgbImage;
use imagegram_processors::convert::colour::ColourNote;
use imagegram_processors::convert::{convert, ConvertOptions};
use imagegram_testkit::colour::{
    cmyk_from_srgb, from_srgb, jpeg_with_icc, rgb_profile, ADOBE_RGB, DISPLAY_P3, DOT_GAIN,
};
use turbojpeg::PixelFormat;

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

#[test]
fn every_file_of_the_corpus_is_served_as_its_srgb_original() {
    let picture = picture();
    let seen = reference(&picture);
    let mut scores: HashMap<String, f64> = HashMap::new();
    for case in cases(&picture) {
        let served = serve(&case.file);
        let db = psnr(&served.image, &seen);
        scores.insert(case.name.clone(), db);
        let baseline = scores[case.beside];
        let allowed = case.bound.allowed_db();
        println!(
            "{}: {db:.2} dB against {baseline:.2} dB for {} ({:?})",
            case.name, case.beside, served.colour
        );
        assert!(
            db >= baseline - allowed,
            "{} is served at {db:.2} dB, more than {allowed} dB below {}'s {baseline:.2} dB",
            case.name,
            case.beside
        );
        assert_eq!(format!("{:?}", served.colour), case.note, "{}", case.name);
    }
}

#[test]
fn the_profile_is_what_makes_the_difference() {
    // The same Adobe RGB pixels served without their profile, and the
    // press's CMYK without its profile, are off by more than the bounds:
    // the corpus can tell a profile ignored.
    let picture = picture();
    let seen = reference(&picture);
    let (w, h) = picture.dimensions();
    let srgb = psnr(
        &serve(&jpeg(picture.as_raw(), PixelFormat::RGB, w, h, false)).image,
        &seen,
    );
    let adobe = from_srgb(picture.as_raw(), &ADOBE_RGB);
    let untagged = psnr(&serve(&jpeg(&adobe, PixelFormat::RGB, w, h, false)).image, &seen);
    assert!(
        untagged < srgb - 1.5,
        "untagged Adobe RGB at {untagged:.1} dB, sRGB {srgb:.1}"
    );
    let ink: Vec<u8> = cmyk_from_srgb(picture.as_raw(), DOT_GAIN)
        .into_iter()
        .map(|v| 255 - v)
        .collect();
    let press = psnr(&serve(&jpeg(&ink, PixelFormat::CMYK, w, h, false)).image, &seen);
    assert!(
        press < srgb - 4.0,
        "the press's CMYK without its profile at {press:.1} dB"
    );
}

#[test]
fn a_broken_profile_is_read_as_srgb_and_said() {
    let picture = picture();
    let seen = reference(&picture);
    let (w, h) = picture.dimensions();
    let plain = jpeg(picture.as_raw(), PixelFormat::RGB, w, h, false);
    let srgb = psnr(&serve(&plain).image, &seen);
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
    let mut cmyk_on_rgb = rgb_profile(&DISPLAY_P3);
    cmyk_on_rgb[16..20].copy_from_slice(b"CMYK");
    for (name, icc) in [
        ("truncated", truncated),
        ("absurd tag count", absurd),
        ("5 MiB", huge),
        ("CMYK, on RGB pixels", cmyk_on_rgb),
    ] {
        let served = serve(&jpeg_with_icc(&plain, &icc, 65_000));
        let db = psnr(&served.image, &seen);
        assert!(
            (db - srgb).abs() < 0.01,
            "{name}: {db:.2} dB, as sRGB {srgb:.2} dB"
        );
        assert!(
            matches!(served.colour, ColourNote::Ignored(_)),
            "{name}: {:?}",
            served.colour
        );
    }
}
