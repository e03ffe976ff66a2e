//! Scaling with `fast_image_resize` (SIMD convolution).

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, RgbImage};

/// How the picture fills the square.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Scale to cover the square, then crop the overflow around the centre:
    /// exactly `size`×`size`, nothing distorted.
    Cover,
    /// Scale so the whole picture fits inside the square.
    Fit,
}

/// RGB pixels; transparent pixels are laid over white (JPEG has no alpha).
pub fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(rgb.pixels_mut()) {
        let a = u32::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u32::from(src[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    rgb
}

/// The output size for `mode` from a `w`×`h` source.
pub fn target_size(w: u32, h: u32, size: u32, mode: ResizeMode) -> (u32, u32) {
    match mode {
        ResizeMode::Cover => (size, size),
        ResizeMode::Fit => {
            let scale = f64::from(size) / f64::from(w.max(h));
            let fit = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, size);
            (fit(w), fit(h))
        }
    }
}

pub fn resize(src: &RgbImage, size: u32, mode: ResizeMode) -> Result<RgbImage, String> {
    let (w, h) = target_size(src.width(), src.height(), size, mode);
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if mode == ResizeMode::Cover {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    Resizer::new()
        .resize(src, &mut dst, &options)
        .map_err(|e| e.to_string())?;
    Ok(RgbImage::from_raw(w, h, dst.into_vec()).ok_or("resized buffer has the wrong size")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio() {
        assert_eq!(target_size(4000, 3000, 600, ResizeMode::Fit), (600, 450));
        assert_eq!(target_size(100, 400, 600, ResizeMode::Fit), (150, 600));
        assert_eq!(target_size(4000, 3000, 600, ResizeMode::Cover), (600, 600));
        assert_eq!(target_size(10_000, 1, 600, ResizeMode::Fit), (600, 1));
    }

    #[test]
    fn transparency_becomes_white() {
        let mut rgba = image::RgbaImage::new(1, 1);
        rgba.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
        let rgb = flatten_to_rgb(DynamicImage::ImageRgba8(rgba));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
