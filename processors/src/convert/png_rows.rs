//! PNG decoded one row at a time straight into a [`Shrinker`]: memory stays
//! at a few rows plus the shrunk image, whatever the file's size. Interlaced
//! (Adam7) files arrive pass by pass; each row is placed by its pass.

use std::io::{BufRead, Seek};

use image::RgbImage;
use png::{BitDepth, ColorType, Transformations};

use super::colour::Tagged;
use super::shrink::{Region, Shrinker};

/// (x start, y start, x step, y step) of the seven Adam7 passes.
const ADAM7: [(u32, u32, u32, u32); 7] = [
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
];

/// Where each decoded row goes: (y, x start, x step, samples).
fn row_layout(width: u32, height: u32, interlaced: bool) -> Vec<(u32, u32, u32, u32)> {
    if !interlaced {
        return (0..height).map(|y| (y, 0, 1, width)).collect();
    }
    let count = |len: u32, start: u32, step: u32| {
        if len > start {
            (len - start).div_ceil(step)
        } else {
            0
        }
    };
    let mut rows = Vec::new();
    for (x0, y0, xs, ys) in ADAM7 {
        let samples = count(width, x0, xs);
        if samples == 0 {
            continue;
        }
        for line in 0..count(height, y0, ys) {
            rows.push((y0 + line * ys, x0, xs, samples));
        }
    }
    rows
}

/// RGB from a decoded 8-bit row; alpha is laid over white.
fn to_rgb(color: ColorType, row: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let over_white =
        |v: u8, a: u8| ((u32::from(v) * u32::from(a) + 255 * (255 - u32::from(a)) + 127) / 255) as u8;
    match color {
        ColorType::Rgb => out.extend_from_slice(row),
        ColorType::Rgba => {
            for p in row.chunks_exact(4) {
                out.extend([
                    over_white(p[0], p[3]),
                    over_white(p[1], p[3]),
                    over_white(p[2], p[3]),
                ]);
            }
        }
        ColorType::Grayscale => row.iter().for_each(|&v| out.extend([v; 3])),
        ColorType::GrayscaleAlpha => {
            for p in row.chunks_exact(2) {
                out.extend([over_white(p[0], p[1]); 3]);
            }
        }
        // EXPAND turns palettes into RGB(A); nothing indexed reaches here.
        ColorType::Indexed => {}
    }
}

/// What a PNG says of its colours: iCCP first, then sRGB, then gAMA
/// with cHRM (the order the PNG specification gives them).
fn tagged(info: &png::Info) -> Tagged {
    if let Some(icc) = &info.icc_profile {
        return Tagged::Icc(Ok(icc.to_vec()));
    }
    if info.srgb.is_some() {
        return Tagged::Srgb;
    }
    match info.gama_chunk {
        Some(gamma) => Tagged::Gamma {
            gamma: f64::from(gamma.into_value()),
            chromaticities: info.chrm_chunk.map(|c| {
                let xy = |(x, y): (png::ScaledFloat, png::ScaledFloat)| {
                    (f64::from(x.into_value()), f64::from(y.into_value()))
                };
                [xy(c.white), xy(c.red), xy(c.green), xy(c.blue)]
            }),
        },
        None => Tagged::Untagged,
    }
}

/// Decodes the `region` of a PNG shrunk by `factor`, with what it says
/// of its colours.
pub fn decode_shrunk<R: BufRead + Seek>(
    source: R,
    region: Region,
    factor: u32,
    max_alloc: u64,
) -> Result<(RgbImage, Tagged), String> {
    let mut decoder = png::Decoder::new(source);
    decoder.set_transformations(Transformations::EXPAND | Transformations::STRIP_16);
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(max_alloc).unwrap_or(usize::MAX),
    });
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let (width, height, interlaced, tagged) = {
        let info = reader.info();
        // A PLTE chunk holds whole RGB entries; the png crate panics
        // expanding one that does not (found by fuzzing).
        if info
            .palette
            .as_ref()
            .is_some_and(|p| p.is_empty() || p.len() % 3 != 0)
        {
            return Err("the palette (PLTE) is not a whole number of colours".into());
        }
        (info.width, info.height, info.interlaced, tagged(info))
    };
    let (color, depth) = reader.output_color_type();
    if depth != BitDepth::Eight || color == ColorType::Indexed {
        return Err(format!("unexpected decoded layout {color:?} {depth:?}"));
    }
    let channels = color.samples();
    let mut shrinker = Shrinker::new(region, factor, !interlaced);
    let mut rgb = Vec::with_capacity(width as usize * 3);
    for (y, x0, step, samples) in row_layout(width, height, interlaced) {
        let row = reader
            .next_row()
            .map_err(|e| e.to_string())?
            .ok_or("the image data ends early")?;
        let data = row.data();
        if data.len() != samples as usize * channels {
            return Err("a row has the wrong length".into());
        }
        to_rgb(color, data, &mut rgb);
        shrinker.add_row(y, x0, step, &rgb);
    }
    reader.finish().map_err(|e| e.to_string())?;
    Ok((shrinker.finish(), tagged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam7_covers_every_pixel_once() {
        let (w, h) = (13, 11);
        let mut seen = vec![0u8; (w * h) as usize];
        for (y, x0, step, samples) in row_layout(w, h, true) {
            for i in 0..samples {
                seen[(y * w + x0 + i * step) as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(row_layout(3, 2, false), vec![(0, 0, 1, 3), (1, 0, 1, 3)]);
    }

    #[test]
    fn grey_and_alpha_become_rgb_over_white() {
        let mut out = Vec::new();
        to_rgb(ColorType::GrayscaleAlpha, &[0, 0, 10, 255], &mut out);
        assert_eq!(out, vec![255, 255, 255, 10, 10, 10]);
    }
}
