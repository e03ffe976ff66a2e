//! Turning an untrusted original into the served JPEG. Pure: bytes in,
//! bytes out, no I/O, so it is tested directly and run on a blocking pool.
//!
//! The format comes from magic bytes; the dimensions are read from the
//! header and checked before a single pixel is decoded; the decoder runs
//! under an allocation limit; EXIF orientation is applied; nothing of the
//! original's metadata is written out.

mod resize;

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use imagegram_schemas::ImageFormat;

pub use resize::ResizeMode;

/// How originals are converted.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Side of the square output, in pixels.
    pub size: u32,
    pub mode: ResizeMode,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Largest original accepted, in pixels (width × height).
    pub max_pixels: u64,
    /// Most memory the decoder may allocate, in bytes.
    pub max_alloc: u64,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            size: 600,
            mode: ResizeMode::Cover,
            quality: 85,
            max_pixels: 100_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

/// The served image.
#[derive(Debug, Clone)]
pub struct Converted {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why an original cannot be served. Its `Display` is shown to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("not an image: only png, jpeg and bmp are accepted")]
    NotAnImage,
    #[error("image is {width}x{height}, the limit is {limit_mp} megapixels")]
    TooLarge { width: u32, height: u32, limit_mp: u64 },
    #[error("corrupt {format}: {detail}")]
    Corrupt { format: &'static str, detail: String },
    #[error("the image could not be encoded: {0}")]
    Encode(String),
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Bmp => "bmp",
    }
}

/// Converts `original` to a JPEG as `options` say.
pub fn convert(original: &[u8], options: &ConvertOptions) -> Result<Converted, ConvertError> {
    let format = ImageFormat::sniff(original).ok_or(ConvertError::NotAnImage)?;
    let name = format_name(format);
    let corrupt = |e: image::ImageError| ConvertError::Corrupt {
        format: name,
        detail: e.to_string(),
    };
    let codec = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
    };
    let mut reader = ImageReader::with_format(Cursor::new(original), codec);
    let mut limits = Limits::default();
    limits.max_alloc = Some(options.max_alloc);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > options.max_pixels {
        return Err(ConvertError::TooLarge {
            width,
            height,
            limit_mp: options.max_pixels / 1_000_000,
        });
    }
    if width == 0 || height == 0 {
        return Err(ConvertError::Corrupt {
            format: name,
            detail: "the image has no pixels".into(),
        });
    }
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    let rgb = resize::flatten_to_rgb(image);
    let out = resize::resize(&rgb, options.size, options.mode).map_err(ConvertError::Encode)?;
    let mut jpeg = Vec::with_capacity(128 * 1024);
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, options.quality.clamp(1, 100));
    out.write_with_encoder(encoder)
        .map_err(|e| ConvertError::Encode(e.to_string()))?;
    Ok(Converted {
        jpeg,
        width: out.width(),
        height: out.height(),
    })
}
