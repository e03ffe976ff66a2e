//! What people see, and its bytes, against libvips' `vipsthumbnail` in the
//! same run on the same files:
//!
//! 1. **Colour**: every file of the colour corpus (`tests/corpus/`: wide
//!    gamut, gAMA/cHRM, CMYK, and the cases that worked before), served by
//!    Imagegram and by `vipsthumbnail --import-profile srgb --export-profile
//!    srgb` (600x600, centre crop, Q=85), each measured against what a
//!    person sees (the sRGB picture, cover-resized): PSNR, SSIMULACRA2 and
//!    bytes.
//! 2. **The encoders alone**: 600x600 sources (the photographs in the
//!    folder given, cover-resized to 600x600 once, and the corpus picture),
//!    so neither side resamples; bytes against vipsthumbnail's Q=85 output
//!    and both SSIMULACRA2 scores against the source; the medians.
//!
//! `bash benches/pictures_vs_vipsthumbnail.sh` fetches sample photographs
//! (scikit-image's and matplotlib's, from PyPI) and runs this:
//! `cargo bench -p imagegram-processors --bench pictures_vs_vipsthumbnail -- PHOTO_DIR`.

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;
use imagegram_processors::convert::{convert, ConvertOptions};
use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};

type Error = Box<dyn std::error::Error>;

fn ssimulacra2(reference: &RgbImage, distorted: &RgbImage) -> Result<f64, Error> {
    let frame = |image: &RgbImage| {
        Rgb::new(
            image
                .pixels()
                .map(|p| p.0.map(|v| f32::from(v) / 255.0))
                .collect(),
            image.width() as usize,
            image.height() as usize,
            TransferCharacteristic::SRGB,
            ColorPrimaries::BT709,
        )
    };
    Ok(compute_frame_ssimulacra2(frame(reference)?, frame(distorted)?)?)
}

/// vipsthumbnail's 600x600 centre crop of `input` at quality 85, with
/// RGB files imported and exported as sRGB (vips 8.14 shifts untagged
/// ones otherwise); CMYK ones left to vips, which makes them sRGB through
/// their profile or its own CMYK one (sRGB profiles cannot take them).
fn vipsthumbnail(input: &Path, work: &Path, cmyk: bool) -> Result<Vec<u8>, Error> {
    let output = work.join("vips.jpg");
    let mut command = Command::new("vipsthumbnail");
    command
        .arg(input)
        .args(["--size", "600x600", "--smartcrop", "centre"]);
    if !cmyk {
        command.args(["--import-profile", "srgb", "--export-profile", "srgb"]);
    }
    let status = command
        .arg("-o")
        .arg(format!("{}[Q=85,strip]", output.display()))
        .status()?;
    if !status.success() {
        return Err(format!("vipsthumbnail failed on {}", input.display()).into());
    }
    Ok(std::fs::read(output)?)
}

fn decoded(jpeg: &[u8]) -> Result<RgbImage, Error> {
    Ok(image::load_from_memory(jpeg)?.to_rgb8())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn colour(work: &Path) -> Result<(), Error> {
    let picture = corpus::picture();
    let seen = corpus::reference(&picture);
    println!("## Colour: the corpus against what a person sees\n");
    println!("| file | Imagegram PSNR | SSIMULACRA2 | bytes | vipsthumbnail PSNR | SSIMULACRA2 | bytes |");
    println!("|---|---|---|---|---|---|---|");
    for case in corpus::cases(&picture) {
        let input = work.join(&case.name);
        std::fs::write(&input, &case.file)?;
        let ours = convert(&case.file, &ConvertOptions::default())?.jpeg;
        let theirs = vipsthumbnail(&input, work, case.bound == corpus::Bound::Cmyk)?;
        let (a, b) = (decoded(&ours)?, decoded(&theirs)?);
        println!(
            "| {} | {:.1} dB | {:.1} | {} | {:.1} dB | {:.1} | {} |",
            case.name,
            corpus::psnr(&a, &seen),
            ssimulacra2(&seen, &a)?,
            ours.len(),
            corpus::psnr(&b, &seen),
            ssimulacra2(&seen, &b)?,
            theirs.len()
        );
    }
    Ok(())
}

fn encoders(photos: &[PathBuf], work: &Path) -> Result<(), Error> {
    let mut sources = vec![("corpus picture".to_owned(), corpus::reference(&corpus::picture()))];
    for photo in photos {
        let name = photo
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        sources.push((name, corpus::reference(&image::open(photo)?.to_rgb8())));
    }
    println!("\n## The encoders alone: 600x600 sources\n");
    println!("| source | vipsthumbnail Q=85 bytes | SSIMULACRA2 | Imagegram bytes | ratio | SSIMULACRA2 | difference |");
    println!("|---|---|---|---|---|---|---|");
    // Other qualities to summarise, besides the default (for example
    // QUALITIES=82,83,84): where equal scores fall.
    let sweep: Vec<u8> = std::env::var("QUALITIES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|q| q.trim().parse().ok())
        .collect();
    let mut swept = vec![(Vec::new(), Vec::new()); sweep.len()];
    // Both sides' files, kept for the decoding-time measurement in
    // Chromium (benches/decode_in_chromium.mjs) when PICTURES_OUT names a
    // folder.
    let kept = std::env::var_os("PICTURES_OUT").map(PathBuf::from);
    if let Some(dir) = &kept {
        std::fs::create_dir_all(dir.join("vipsthumbnail"))?;
        std::fs::create_dir_all(dir.join("imagegram"))?;
    }
    let (mut ratios, mut differences) = (Vec::new(), Vec::new());
    for (name, source) in sources {
        let input = work.join("source.png");
        source.save(&input)?;
        let theirs = vipsthumbnail(&input, work, false)?;
        let original = std::fs::read(&input)?;
        let s_theirs = ssimulacra2(&source, &decoded(&theirs)?)?;
        for (quality, (ratios, differences)) in sweep.iter().zip(&mut swept) {
            let options = ConvertOptions {
                quality: *quality,
                ..ConvertOptions::default()
            };
            let ours = convert(&original, &options)?.jpeg;
            ratios.push(ours.len() as f64 / theirs.len() as f64);
            differences.push(ssimulacra2(&source, &decoded(&ours)?)? - s_theirs);
        }
        let ours = convert(&original, &ConvertOptions::default())?.jpeg;
        if let Some(dir) = &kept {
            let file = format!("{}.jpg", name.replace(['/', ' '], "_"));
            std::fs::write(dir.join("vipsthumbnail").join(&file), &theirs)?;
            std::fs::write(dir.join("imagegram").join(&file), &ours)?;
        }
        let s_ours = ssimulacra2(&source, &decoded(&ours)?)?;
        let ratio = ours.len() as f64 / theirs.len() as f64;
        println!(
            "| {name} | {} | {s_theirs:.2} | {} | {ratio:.3} | {s_ours:.2} | {:+.2} |",
            theirs.len(),
            ours.len(),
            s_ours - s_theirs
        );
        ratios.push(ratio);
        differences.push(s_ours - s_theirs);
    }
    println!(
        "\nmedian bytes ratio {:.3}, median SSIMULACRA2 difference {:+.2} (positive: Imagegram scores higher)",
        median(ratios),
        median(differences)
    );
    for (quality, (ratios, differences)) in sweep.iter().zip(swept) {
        println!(
            "at quality {quality}: median bytes ratio {:.3}, median SSIMULACRA2 difference {:+.2}",
            median(ratios),
            median(differences)
        );
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    if Command::new("vipsthumbnail")
        .arg("--vips-version")
        .output()
        .is_err()
    {
        return Err("vipsthumbnail is not installed (apt-get install libvips-tools)".into());
    }
    // cargo bench passes --bench; the rest are photographs or folders of them.
    let mut photos = Vec::new();
    for arg in std::env::args().skip(1).filter(|a| !a.starts_with("--")) {
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        ["png", "jpg", "jpeg", "bmp"].contains(&x.to_string_lossy().as_ref())
                    })
                })
                .collect();
            found.sort();
            photos.extend(found);
        } else {
            photos.push(path);
        }
    }
    let work = tempfile::tempdir()?;
    println!(
        "vipsthumbnail: {}",
        String::from_utf8_lossy(
            &Command::new("vipsthumbnail")
                .arg("--vips-version")
                .output()?
                .stdout
        )
        .trim()
    );
    colour(work.path())?;
    encoders(&photos, work.path())?;
    Ok(())
}
