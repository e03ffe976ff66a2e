//! Colour: what an original says about its colours, and its pixels turned
//! into sRGB with qcms (Firefox's colour management, in Rust).
//!
//! The served JPEG is sRGB and carries no profile, so it looks the same in
//! a browser that manages colour and in one that does not. What is read:
//! a JPEG's ICC profile (APP2, in as many segments as it takes); a PNG's
//! iCCP, else its sRGB chunk, else its gAMA and cHRM; CMYK and YCCK JPEGs
//! through their profile, or the browsers' plain `1 − ink` rendering when
//! they have none. A profile that cannot be read (damaged, hostile, over
//! [`MAX_PROFILE_BYTES`], for the wrong pixels) never fails a post: the
//! picture is read as sRGB and the [`ColourNote`] says why, for the log.
//!
//! ## Layout
//! - `mod.rs`: [`Tagged`], what a file says; [`rgb_to_srgb`] and
//!   [`cmyk_to_rgb`], the conversions.
//! - `jpeg_segments.rs`: a JPEG header's profile and Adobe segment.
//! - `made.rs`: transforms made from profiles, kept for the next picture
//!   with the same profile.

pub mod jpeg_segments;
mod made;

use std::sync::{Arc, OnceLock};

use qcms::{DataType, Intent, Profile, Transform};

/// The largest profile read: qcms itself reads none of 4 MiB or more.
/// The largest printer profiles in use are 2–3 MB.
pub const MAX_PROFILE_BYTES: usize = 4 * 1024 * 1024 - 1;

/// What a file says about the colours of its pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Tagged {
    /// Nothing: the pixels are taken as sRGB, as browsers do.
    Untagged,
    /// It says sRGB (PNG's sRGB chunk).
    Srgb,
    /// An ICC profile, or why the one there could not be put together.
    Icc(Result<Vec<u8>, String>),
    /// PNG's gAMA (the file's encoding exponent, e.g. 0.45455), with the
    /// cHRM chromaticities (white, red, green, blue) when there are any.
    Gamma {
        gamma: f64,
        chromaticities: Option<[(f64, f64); 4]>,
    },
}

/// What was done to the colours, for the converter's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourNote {
    /// Taken as sRGB: the file said so, or said nothing.
    AsSrgb,
    /// Converted to sRGB from what the file said (named here).
    Converted(&'static str),
    /// What the file said could not be used, for the reason given: the
    /// pixels were read as sRGB (CMYK: with the plain conversion).
    Ignored(String),
}

/// Turns RGB pixels (or grey ones expanded to RGB) into sRGB in place.
pub struct SrgbTransform {
    transform: Arc<Transform>,
    /// The profile is a grey one: the pixels' first channel is its input.
    grey: bool,
}

impl SrgbTransform {
    /// Converts `rgb`, three bytes a pixel, in place.
    pub fn apply(&self, rgb: &mut [u8]) {
        let whole = rgb.len() - rgb.len() % 3;
        let rgb = &mut rgb[..whole];
        if self.grey {
            let grey: Vec<u8> = rgb.chunks_exact(3).map(|p| p[0]).collect();
            self.transform.convert(&grey, rgb);
        } else {
            self.transform.apply(rgb);
        }
    }
}

/// sRGB as qcms's output profile, with its output tables computed once.
fn srgb() -> &'static Profile {
    static SRGB: OnceLock<Box<Profile>> = OnceLock::new();
    SRGB.get_or_init(|| {
        let mut profile = Profile::new_sRGB();
        profile.precache_output_transform();
        profile
    })
}

/// qcms on input that may be hostile: a panic of its (it has
/// `debug_assert!`s and a few `assert!`s on what it has checked) is a
/// profile that cannot be used, never a failed conversion.
fn guarded<T>(work: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .ok()
        .flatten()
}

/// The profile's colour space, from its header.
fn colour_space(icc: &[u8]) -> &[u8] {
    icc.get(16..20).unwrap_or(b"none")
}

fn read_profile(icc: &[u8]) -> Result<Box<Profile>, String> {
    if icc.len() > MAX_PROFILE_BYTES {
        return Err(format!(
            "its ICC profile is {} bytes, more than the {MAX_PROFILE_BYTES} read",
            icc.len()
        ));
    }
    guarded(|| Profile::new_from_slice(icc, false))
        .ok_or_else(|| "its ICC profile is damaged or of a kind not supported".to_owned())
}

/// The conversion of RGB pixels tagged so to sRGB: `None` when they are
/// sRGB already (said so, or a profile that changes no pixel by more than
/// one level).
pub fn rgb_to_srgb(tagged: &Tagged) -> (Option<SrgbTransform>, ColourNote) {
    let made = match tagged {
        Tagged::Untagged | Tagged::Srgb => return (None, ColourNote::AsSrgb),
        Tagged::Icc(Err(why)) => Err(why.clone()),
        Tagged::Icc(Ok(icc)) => from_icc(icc).map(|t| (Some(t), "its ICC profile")),
        Tagged::Gamma {
            gamma,
            chromaticities,
        } => from_gamma(*gamma, *chromaticities).map(|t| (t, "its gAMA and cHRM")),
    };
    match made {
        Ok((Some(transform), from)) if !changes_nothing(&transform) => {
            (Some(transform), ColourNote::Converted(from))
        }
        Ok(_) => (None, ColourNote::AsSrgb),
        Err(why) => (None, ColourNote::Ignored(why)),
    }
}

fn from_icc(icc: &[u8]) -> Result<SrgbTransform, String> {
    let space = colour_space(icc);
    let grey = match space {
        b"RGB " => false,
        b"GRAY" => true,
        _ => {
            return Err(format!(
                "its ICC profile is for {} pixels, not RGB",
                String::from_utf8_lossy(space).trim()
            ))
        }
    };
    let input = if grey { DataType::Gray8 } else { DataType::RGB8 };
    let transform = to_srgb_from(icc, input)?;
    Ok(SrgbTransform { transform, grey })
}

/// The transform from `icc`'s `input` pixels to sRGB, made or kept.
fn to_srgb_from(icc: &[u8], input: DataType) -> Result<Arc<Transform>, String> {
    made::transform(icc, input, || {
        let profile = read_profile(icc)?;
        guarded(|| Transform::new_to(&profile, srgb(), input, DataType::RGB8, Intent::Perceptual))
            .ok_or_else(|| "its ICC profile cannot be converted from".to_owned())
    })
}

/// sRGB's white point and primaries, for a gAMA without a cHRM.
const SRGB_CHROMATICITIES: [(f64, f64); 4] = [(0.3127, 0.329), (0.64, 0.33), (0.30, 0.60), (0.15, 0.06)];

fn from_gamma(gamma: f64, chromaticities: Option<[(f64, f64); 4]>) -> Result<Option<SrgbTransform>, String> {
    if !(0.05..=5.0).contains(&gamma) {
        return Err(format!("its gAMA of {gamma} is not a sane gamma"));
    }
    // 1/2.2 alone is how most writers say "sRGB"; browsers take it so.
    if chromaticities.is_none() && (gamma - 1.0 / 2.2).abs() < 0.01 {
        return Ok(None);
    }
    let [white, red, green, blue] = chromaticities.unwrap_or(SRGB_CHROMATICITIES);
    let sane = |(x, y): (f64, f64)| x > 0.0 && y > 0.0 && x + y <= 1.0 && x.is_finite() && y.is_finite();
    if ![white, red, green, blue].into_iter().all(sane) {
        return Err("its cHRM chromaticities are not sane".into());
    }
    let xy_y = |(x, y): (f64, f64)| qcms::CIE_xyY { x, y, Y: 1.0 };
    let primaries = qcms::CIE_xyYTRIPLE {
        red: xy_y(red),
        green: xy_y(green),
        blue: xy_y(blue),
    };
    let decoding = (1.0 / gamma) as f32;
    let profile =
        guarded(|| Profile::new_rgb_with_gamma_set(xy_y(white), primaries, decoding, decoding, decoding))
            .ok_or("its gAMA and cHRM make no colour space")?;
    let transform = guarded(|| Transform::new(&profile, srgb(), DataType::RGB8, Intent::Perceptual))
        .ok_or("its gAMA and cHRM cannot be converted from")?;
    Ok(Some(SrgbTransform {
        transform: Arc::new(transform),
        grey: false,
    }))
}

/// Whether `transform` moves no colour of a coarse grid by more than one
/// level: an embedded sRGB profile (most phone and camera JPEGs carry
/// one) then costs nothing per pixel.
fn changes_nothing(transform: &SrgbTransform) -> bool {
    let levels = [0u8, 1, 16, 64, 100, 128, 180, 230, 254, 255];
    let mut grid = Vec::with_capacity(levels.len().pow(3) * 3);
    for r in levels {
        for g in levels {
            for b in levels {
                grid.extend(if transform.grey { [r, r, r] } else { [r, g, b] });
            }
        }
    }
    let before = grid.clone();
    transform.apply(&mut grid);
    grid.iter().zip(&before).all(|(a, b)| a.abs_diff(*b) <= 1)
}

/// CMYK pixels (four bytes each, as the JPEG stores them: inverted when
/// `adobe`) to RGB through `icc`, or through the plain conversion
/// browsers use when there is no usable profile.
pub fn cmyk_to_rgb(
    mut ink: Vec<u8>,
    adobe: bool,
    icc: Option<&Result<Vec<u8>, String>>,
) -> (Vec<u8>, ColourNote) {
    // Ink amounts as ICC profiles take them (0 is none), in place.
    if adobe {
        ink.iter_mut().for_each(|v| *v = 255 - *v);
    }
    ink.truncate(ink.len() / 4 * 4);
    let mut rgb = vec![0u8; ink.len() / 4 * 3];
    let ink = &ink[..];
    let profiled = match icc {
        None => Err(None),
        Some(Err(why)) => Err(Some(why.clone())),
        Some(Ok(icc)) => cmyk_transform(icc).map_err(Some),
    };
    let note = match profiled {
        Ok(transform) => {
            transform.convert(ink, &mut rgb);
            ColourNote::Converted("its CMYK ICC profile")
        }
        Err(why) => {
            for (out, px) in rgb.chunks_exact_mut(3).zip(ink.chunks_exact(4)) {
                let white = 255 - u32::from(px[3]);
                for (o, &c) in out.iter_mut().zip(&px[..3]) {
                    *o = ((255 - u32::from(c)) * white / 255) as u8;
                }
            }
            match why {
                None => ColourNote::Converted("plain CMYK, having no profile"),
                Some(why) => ColourNote::Ignored(why),
            }
        }
    };
    (rgb, note)
}

fn cmyk_transform(icc: &[u8]) -> Result<Arc<Transform>, String> {
    if colour_space(icc) != b"CMYK" {
        return Err(format!(
            "its ICC profile is for {} pixels, not CMYK",
            String::from_utf8_lossy(colour_space(icc)).trim()
        ));
    }
    to_srgb_from(icc, DataType::CMYK)
}

/// Reads `icc` as the converter would and runs a few pixels through it,
/// whatever its colour space: what the fuzz target exercises.
pub fn exercise_profile(icc: &[u8]) -> ColourNote {
    if colour_space(icc) == b"CMYK" {
        let pixels: Vec<u8> = (0..=255u8)
            .step_by(15)
            .flat_map(|v| [v, 255 - v, v / 2, v / 3])
            .collect();
        cmyk_to_rgb(pixels, false, Some(&Ok(icc.to_vec()))).1
    } else {
        let (transform, note) = rgb_to_srgb(&Tagged::Icc(Ok(icc.to_vec())));
        if let Some(transform) = transform {
            let mut pixels: Vec<u8> = (0..=255u8).flat_map(|v| [v, 255 - v, v / 2]).collect();
            transform.apply(&mut pixels);
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_and_srgb_are_left_alone() {
        assert!(matches!(
            rgb_to_srgb(&Tagged::Untagged),
            (None, ColourNote::AsSrgb)
        ));
        assert!(matches!(rgb_to_srgb(&Tagged::Srgb), (None, ColourNote::AsSrgb)));
        let (t, note) = rgb_to_srgb(&Tagged::Gamma {
            gamma: 0.45455,
            chromaticities: None,
        });
        assert!(t.is_none());
        assert_eq!(note, ColourNote::AsSrgb);
    }

    #[test]
    fn a_linear_gamma_brightens_the_mid_tones() {
        let (t, note) = rgb_to_srgb(&Tagged::Gamma {
            gamma: 1.0,
            chromaticities: None,
        });
        assert_eq!(note, ColourNote::Converted("its gAMA and cHRM"));
        let mut px = [50u8, 50, 50];
        t.expect("a transform").apply(&mut px);
        // Linear 50/255 = 0.196 is sRGB 0.48.
        assert!((118..=126).contains(&px[0]), "{px:?}");
    }

    #[test]
    fn garbage_profiles_are_ignored_with_a_reason() {
        for bad in [
            vec![],
            vec![0u8; 200],
            b"not a profile at all, but long enough".repeat(10),
        ] {
            let (t, note) = rgb_to_srgb(&Tagged::Icc(Ok(bad)));
            assert!(t.is_none());
            assert!(matches!(note, ColourNote::Ignored(_)), "{note:?}");
        }
        let (t, note) = rgb_to_srgb(&Tagged::Gamma {
            gamma: 0.0,
            chromaticities: None,
        });
        assert!(t.is_none() && matches!(note, ColourNote::Ignored(_)));
    }

    #[test]
    fn cmyk_without_a_profile_is_one_minus_ink() {
        // Pure cyan, half black, no ink; as an Adobe file stores them.
        let stored = [0u8, 255, 255, 255, 255, 255, 255, 127, 255, 255, 255, 255];
        let (rgb, note) = cmyk_to_rgb(stored.to_vec(), true, None);
        assert_eq!(rgb, vec![0, 255, 255, 127, 127, 127, 255, 255, 255]);
        assert_eq!(note, ColourNote::Converted("plain CMYK, having no profile"));
        let (_, note) = cmyk_to_rgb(stored.to_vec(), true, Some(&Ok(vec![1, 2, 3])));
        assert!(matches!(note, ColourNote::Ignored(_)));
    }
}
