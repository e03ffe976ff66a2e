//! Turning an untrusted original into the served JPEG. Pure: bytes in,
//! bytes out, no I/O, so it is tested directly and run on a blocking pool.
//!
//! The format comes from magic bytes; the dimensions are read from the
//! header and checked before a single pixel is decoded; the decoder runs
//! under an allocation limit; EXIF orientation is applied; nothing of the
//! original's metadata is written out.
//!
//! Colour profiles are honoured (`colour`): the served JPEG is sRGB.
//!
//! Memory does not grow with the original: PNGs are decoded row by row and
//! box-shrunk as they arrive, JPEGs are scaled by libjpeg-turbo while
//! decoding. A 100 MB PNG read from its file (`convert_file`) converts in
//! about 14 MiB in all; from memory (`convert`), in that besides its bytes.

pub mod colour;
mod error;
mod jpeg;
mod png_rows;
mod resize;
mod shrink;

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom};

use colour::{ColourNote, Tagged};
use image::codecs::{bmp::BmpDecoder, jpeg::JpegDecoder, png::PngDecoder};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, Limits, RgbImage};
use imagegram_schemas::ImageFormat;
use shrink::Region;

pub use error::ConvertError;
pub use resize::ResizeMode;

/// The longest side may be at most this many times the shortest: a
/// 1x100,000,000 strip is refused from its header.
pub const MAX_ASPECT: u32 = 50;

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
    /// Most memory a decoder may allocate, in bytes; with the original
    /// itself (at most 100 MB) this keeps a conversion under 512 MB.
    pub max_alloc: u64,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            size: 600,
            mode: ResizeMode::Cover,
            quality: 85,
            max_pixels: 100_000_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// The served image.
#[derive(Debug, Clone)]
pub struct Converted {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// What was done to its colours: the converter logs an ignored
    /// profile as a warning.
    pub colour: ColourNote,
}

/// The colours of decoded pixels: still as the file tagged them, or made
/// sRGB already (CMYK, which is turned into RGB as it is decoded).
enum Colour {
    Tagged(Tagged),
    Done(ColourNote),
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
    refusing_panics(|| convert_source(Cursor::new(original), Some(original), options))
}

/// Runs a conversion; a decoder that panics on a hostile file (a bug of
/// the decoder's, such as fuzzing finds) refuses the file as damaged
/// instead of taking the worker down and being retried.
fn refusing_panics(
    conversion: impl FnOnce() -> Result<Converted, ConvertError>,
) -> Result<Converted, ConvertError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(conversion)).unwrap_or_else(|_| {
        Err(ConvertError::Corrupt {
            format: "image",
            detail: "the decoder failed on it".into(),
        })
    })
}

/// Converts what `source` holds. PNGs are decoded as they are read, so a
/// file source keeps memory small whatever the file's size; a JPEG is read
/// whole (libjpeg-turbo decodes from memory), scaled while decoding.
pub fn convert_from<R: BufRead + Seek>(
    source: R,
    options: &ConvertOptions,
) -> Result<Converted, ConvertError> {
    refusing_panics(|| convert_source(source, None, options))
}

/// How much of a file is read at a time: large enough that reads are few,
/// small enough to stay in the CPU's cache.
const READ_BUFFER: usize = 128 * 1024;

/// Converts the original in `file`, read as it is decoded (see [`convert_from`]).
pub fn convert_file(file: std::fs::File, options: &ConvertOptions) -> Result<Converted, ConvertError> {
    convert_from(std::io::BufReader::with_capacity(READ_BUFFER, file), options)
}

/// `whole`: the same bytes as `source` when they are already in memory,
/// so a JPEG is not read into a second copy.
fn convert_source<R: BufRead + Seek>(
    mut source: R,
    whole: Option<&[u8]>,
    options: &ConvertOptions,
) -> Result<Converted, ConvertError> {
    let format = sniff(&mut source)?;
    let name = format_name(format);
    let corrupt = |detail: String| ConvertError::Corrupt { format: name, detail };
    let header = probe(&mut source, format, options)?;
    let cover = options.mode == ResizeMode::Cover;
    let (rgb, colour) = match format {
        ImageFormat::Png => {
            let region = Region::visible(header.width, header.height, cover);
            let factor = shrink::factor(region, options.size);
            let (rgb, tagged) =
                png_rows::decode_shrunk(source, region, factor, options.max_alloc).map_err(corrupt)?;
            (rgb, Colour::Tagged(tagged))
        }
        ImageFormat::Jpeg => {
            let read;
            let bytes = match whole {
                Some(bytes) => bytes,
                None => {
                    // Sized at once, so reading does not copy it over as it grows.
                    let size = source.seek(SeekFrom::End(0)).and_then(|size| {
                        source.rewind()?;
                        Ok(size)
                    });
                    let size = size.map_err(|e| corrupt(e.to_string()))?;
                    let mut buffer = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    source
                        .read_to_end(&mut buffer)
                        .map_err(|e| corrupt(e.to_string()))?;
                    read = buffer;
                    &read
                }
            };
            jpeg::decode_scaled(bytes, options.size, cover, options.max_alloc)?
        }
        ImageFormat::Bmp => (
            decode_whole(source, format, header.orientation, options)?,
            Colour::Tagged(Tagged::Untagged),
        ),
    };
    // Colours are converted before resampling, so that it averages sRGB
    // values as it would for an sRGB original; the decoded image is
    // already shrunk near the output's size (for a 12 MP photo, 0.75 MP).
    let (rgb, colour) = into_srgb(rgb, colour);
    let mut oriented = DynamicImage::ImageRgb8(rgb);
    oriented.apply_orientation(header.orientation);
    let out =
        resize::resize(&oriented.into_rgb8(), options.size, options.mode).map_err(ConvertError::Encode)?;
    let jpeg = jpeg::encode(&out, options.quality).map_err(ConvertError::Encode)?;
    Ok(Converted {
        jpeg,
        width: out.width(),
        height: out.height(),
        colour,
    })
}

/// `rgb` in sRGB, and what was done to make it so.
fn into_srgb(mut rgb: RgbImage, colour: Colour) -> (RgbImage, ColourNote) {
    match colour {
        Colour::Done(note) => (rgb, note),
        Colour::Tagged(tagged) => {
            let (transform, note) = colour::rgb_to_srgb(&tagged);
            if let Some(transform) = transform {
                transform.apply(&mut rgb);
            }
            (rgb, note)
        }
    }
}

/// The format, from the first bytes; `source` is left at its start.
fn sniff<R: Read + Seek>(source: &mut R) -> Result<ImageFormat, ConvertError> {
    let mut magic = Vec::with_capacity(16);
    source
        .by_ref()
        .take(16)
        .read_to_end(&mut magic)
        .map_err(|_| ConvertError::NotAnImage)?;
    source.rewind().map_err(|_| ConvertError::NotAnImage)?;
    ImageFormat::sniff(&magic).ok_or(ConvertError::NotAnImage)
}

struct Header {
    width: u32,
    height: u32,
    orientation: Orientation,
}

fn decoder_for<'a, R: BufRead + Seek + 'a>(
    source: R,
    format: ImageFormat,
    options: &ConvertOptions,
) -> Result<Box<dyn ImageDecoder + 'a>, ConvertError> {
    let mut limits = Limits::default();
    limits.max_alloc = Some(options.max_alloc);
    let decoder: Result<Box<dyn ImageDecoder>, _> = match format {
        ImageFormat::Png => PngDecoder::with_limits(source, limits.clone()).map(|d| Box::new(d) as _),
        ImageFormat::Jpeg => JpegDecoder::new(source).map(|d| Box::new(d) as _),
        ImageFormat::Bmp => BmpDecoder::new(source).map(|d| Box::new(d) as _),
    };
    let mut decoder = decoder.map_err(|e| ConvertError::Corrupt {
        format: format_name(format),
        detail: e.to_string(),
    })?;
    decoder.set_limits(limits).map_err(|e| ConvertError::Corrupt {
        format: format_name(format),
        detail: e.to_string(),
    })?;
    Ok(decoder)
}

/// Reads the header only and refuses what is too large before a single
/// pixel is decoded; `source` is left at its start.
fn probe<R: BufRead + Seek>(
    source: &mut R,
    format: ImageFormat,
    options: &ConvertOptions,
) -> Result<Header, ConvertError> {
    let name = format_name(format);
    let mut decoder = decoder_for(&mut *source, format, options)?;
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
    if width.max(height) / width.min(height) > MAX_ASPECT {
        return Err(ConvertError::BadShape { width, height });
    }
    let orientation = decoder.orientation().map_err(|e| ConvertError::Corrupt {
        format: name,
        detail: e.to_string(),
    })?;
    drop(decoder);
    source.rewind().map_err(|e| ConvertError::Corrupt {
        format: name,
        detail: e.to_string(),
    })?;
    Ok(Header {
        width,
        height,
        orientation,
    })
}

/// The general decoder, whole image in memory (BMP). What it
/// will hold (the decoded pixels, their RGB copy when they are not RGB,
/// and a rotated copy when the orientation turns them) is reckoned from
/// the header and refused past `max_alloc` before anything is decoded;
/// the decoder's own allocation limit backs that up.
fn decode_whole<R: BufRead + Seek>(
    source: R,
    format: ImageFormat,
    orientation: Orientation,
    options: &ConvertOptions,
) -> Result<RgbImage, ConvertError> {
    let decoder = decoder_for(source, format, options)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    let decoded = pixels * u64::from(decoder.color_type().bytes_per_pixel());
    let as_rgb = if decoder.color_type() == image::ColorType::Rgb8 {
        0
    } else {
        pixels * 3
    };
    let turned = if orientation == Orientation::NoTransforms {
        0
    } else {
        pixels * 3
    };
    let needed = decoded + as_rgb + turned;
    if needed > options.max_alloc {
        return Err(ConvertError::OverBudget {
            format: format_name(format),
            width,
            height,
            needed_mib: needed.div_ceil(1 << 20),
            budget_mib: options.max_alloc >> 20,
        });
    }
    let image = DynamicImage::from_decoder(decoder).map_err(|e| ConvertError::Corrupt {
        format: format_name(format),
        detail: e.to_string(),
    })?;
    Ok(resize::flatten_to_rgb(image))
}
