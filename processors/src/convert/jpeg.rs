//! JPEG in and out through libjpeg-turbo (the `turbojpeg` crate, built from
//! its bundled source with SIMD). Large JPEGs are scaled while decoding, in
//! the DCT domain (M/8 for M = 1..8), so a 12-megapixel photo is decoded
//! straight to about 1000x750 and the full-size image never exists.

use image::RgbImage;
use turbojpeg::{Colorspace, Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

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
/// per sample of every component, whatever the output scale.
fn progressive_coefficient_bytes(width: usize, height: usize, subsamp: Subsamp) -> u64 {
    let samples_per_pixel_x2 = match subsamp {
        Subsamp::Gray => 2,
        Subsamp::Sub2x2 | Subsamp::Sub4x1 | Subsamp::Sub1x4 => 3,
        Subsamp::Sub2x1 | Subsamp::Sub1x2 => 4,
        _ => 6,
    };
    width as u64 * height as u64 * samples_per_pixel_x2
}

/// Decodes `bytes` scaled for an output of `size`. `Ok(None)` when
/// libjpeg-turbo cannot give RGB for this file (CMYK, YCCK), so the caller
/// can use the general decoder. A progressive file whose coefficients would
/// need more than `max_alloc` bytes is refused before decoding.
pub fn decode_scaled(
    bytes: &[u8],
    size: u32,
    cover: bool,
    max_alloc: u64,
) -> Result<Option<RgbImage>, String> {
    let mut decompressor = Decompressor::new().map_err(|e| e.to_string())?;
    let header = decompressor.read_header(bytes).map_err(|e| e.to_string())?;
    if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Ok(None);
    }
    if header.is_progressive {
        let needed = progressive_coefficient_bytes(header.width, header.height, header.subsamp);
        if needed > max_alloc {
            return Err(format!(
                "a progressive {}x{} image needs {} MB to decode, the limit is {} MB",
                header.width,
                header.height,
                needed / 1_000_000,
                max_alloc / 1_000_000
            ));
        }
    }
    let scale = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        scale_for(header.width, header.height, size as usize, cover)
    };
    decompressor
        .set_scaling_factor(scale)
        .map_err(|e| e.to_string())?;
    let scaled = header.scaled(scale);
    let (width, height) = (scaled.width, scaled.height);
    let len = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(3))
        .ok_or("the image is too large")?;
    let mut pixels = vec![0u8; len];
    let output = Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: width * 3,
        height,
        format: PixelFormat::RGB,
    };
    decompressor
        .decompress(bytes, output)
        .map_err(|e| e.to_string())?;
    let dims = (u32::try_from(width), u32::try_from(height));
    match dims {
        (Ok(w), Ok(h)) => Ok(RgbImage::from_raw(w, h, pixels)),
        _ => Err("the image is too large".into()),
    }
}

/// Baseline JPEG, 4:2:0, at `quality`; no metadata.
pub fn encode(image: &RgbImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut compressor = Compressor::new().map_err(|e| e.to_string())?;
    compressor
        .set_quality(i32::from(quality.clamp(1, 100)))
        .map_err(|e| e.to_string())?;
    compressor
        .set_subsamp(Subsamp::Sub2x2)
        .map_err(|e| e.to_string())?;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let source = Image {
        pixels: image.as_raw().as_slice(),
        width: w,
        pitch: w * 3,
        height: h,
        format: PixelFormat::RGB,
    };
    compressor.compress_to_vec(source).map_err(|e| e.to_string())
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
        assert_eq!(progressive_coefficient_bytes(100, 100, Subsamp::Sub2x2), 30_000);
        assert_eq!(progressive_coefficient_bytes(100, 100, Subsamp::None), 60_000);
    }
}
