//! JPEG in through libjpeg-turbo (the `turbojpeg` crate, built from its
//! bundled source with SIMD). Large JPEGs are scaled while decoding, in
//! the DCT domain (M/8 for M = 1..8), so a 12-megapixel photo is decoded
//! straight to about 1000x750 and the full-size image never exists.
//! CMYK and YCCK files are scaled alike, then made RGB through their
//! profile (`colour`).

use image::RgbImage;

use crate::convert::colour::{self, jpeg_segments, Tagged};
use crate::convert::{Colour, ConvertError};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

/// The smallest M/8 scale whose result keeps the side that must reach
/// `size` (the short side for cover, the long side for fit) at `size` or more.
fn scale_for(width: usize, height: usize, size: usize, cover: bool) -> ScalingFactor {
    let side = if cover {
        width.min(height)
    } else {
        width.max(height)
    };
    (1..=8)
        .map(|m| ScalingFactor::new(m, 8))
        .find(|f| f.scale(side) >= size)
        .unwrap_or(ScalingFactor::ONE)
}

/// Bytes of DCT coefficients a progressive JPEG keeps while decoding: two
/// per sample of every component (four of them in CMYK and YCCK, where
/// black is never subsampled), whatever the output scale.
fn progressive_coefficient_bytes(width: usize, height: usize, subsamp: Subsamp, cmyk: bool) -> u64 {
    let samples_per_pixel_x2 = match subsamp {
        Subsamp::Gray => 2,
        Subsamp::Sub2x2 | Subsamp::Sub4x1 | Subsamp::Sub1x4 => 3,
        Subsamp::Sub2x1 | Subsamp::Sub1x2 => 4,
        _ => 6,
    } + if cmyk { 2 } else { 0 };
    width as u64 * height as u64 * samples_per_pixel_x2
}

/// Decodes `bytes` scaled for an output of `size`, with what its header
/// says of its colours. CMYK and YCCK files are decoded to CMYK, scaled
/// the same way, and turned into RGB here. A progressive file whose
/// coefficients would need more than `max_alloc` bytes is refused before
/// decoding.
pub fn decode_scaled(
    bytes: &[u8],
    size: u32,
    cover: bool,
    max_alloc: u64,
) -> Result<(RgbImage, Colour), ConvertError> {
    let corrupt = |detail: String| ConvertError::Corrupt {
        format: "jpeg",
        detail,
    };
    let mut decompressor = Decompressor::new().map_err(|e| corrupt(e.to_string()))?;
    let header = decompressor
        .read_header(bytes)
        .map_err(|e| corrupt(e.to_string()))?;
    let cmyk = matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK);
    if header.is_progressive {
        let needed = progressive_coefficient_bytes(header.width, header.height, header.subsamp, cmyk);
        if needed > max_alloc {
            return Err(ConvertError::OverBudget {
                format: "progressive jpeg",
                width: u32::try_from(header.width).unwrap_or(u32::MAX),
                height: u32::try_from(header.height).unwrap_or(u32::MAX),
                needed_mib: needed.div_ceil(1 << 20),
                budget_mib: max_alloc >> 20,
            });
        }
    }
    let scale = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        scale_for(header.width, header.height, size as usize, cover)
    };
    decompressor
        .set_scaling_factor(scale)
        .map_err(|e| corrupt(e.to_string()))?;
    let scaled = header.scaled(scale);
    let (width, height) = (scaled.width, scaled.height);
    let format = if cmyk { PixelFormat::CMYK } else { PixelFormat::RGB };
    let channels = format.size();
    let len = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .filter(|&n| n as u64 <= max_alloc)
        .ok_or_else(|| corrupt("the image is too large".into()))?;
    let mut pixels = vec![0u8; len];
    let output = Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: width * channels,
        height,
        format,
    };
    decompressor
        .decompress(bytes, output)
        .map_err(|e| corrupt(e.to_string()))?;
    let said = jpeg_segments::read(bytes);
    let (pixels, colour) = if cmyk {
        let (rgb, note) = colour::cmyk_to_rgb(pixels, said.adobe, said.icc.as_ref());
        (rgb, Colour::Done(note))
    } else {
        let tagged = said.icc.map_or(Tagged::Untagged, Tagged::Icc);
        (pixels, Colour::Tagged(tagged))
    };
    let dims = (u32::try_from(width), u32::try_from(height));
    match dims {
        (Ok(w), Ok(h)) => RgbImage::from_raw(w, h, pixels)
            .map(|rgb| (rgb, colour))
            .ok_or_else(|| corrupt("the image is too large".into())),
        _ => Err(corrupt("the image is too large".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_keeps_the_needed_side() {
        let f = scale_for(4000, 3000, 600, true);
        assert_eq!(f.scale(3000), 750);
        let f = scale_for(4000, 3000, 600, false);
        assert_eq!(f.scale(4000), 1000);
        let f = scale_for(500, 400, 600, true);
        assert_eq!(f.scale(400), 400);
    }

    #[test]
    fn progressive_coefficients_grow_with_chroma() {
        assert_eq!(
            progressive_coefficient_bytes(100, 100, Subsamp::Sub2x2, false),
            30_000
        );
        assert_eq!(
            progressive_coefficient_bytes(100, 100, Subsamp::None, false),
            60_000
        );
        assert_eq!(
            progressive_coefficient_bytes(100, 100, Subsamp::None, true),
            80_000
        );
    }
}
