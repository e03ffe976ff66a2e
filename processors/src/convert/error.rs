//! Why an original cannot be served: what the converter logs, and one
//! sentence for the uploader.

use super::MAX_ASPECT;

/// Why an original cannot be served. Its `Display` is shown to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("not an image: only png, jpeg and bmp are accepted")]
    NotAnImage,
    #[error("image is {width}x{height}, the limit is {limit_mp} megapixels")]
    TooLarge { width: u32, height: u32, limit_mp: u64 },
    #[error("image is {width}x{height}: one side is more than {MAX_ASPECT} times the other")]
    BadShape { width: u32, height: u32 },
    #[error("a {width}x{height} {format} is decoded whole, which needs {needed_mib} MiB, more than the {budget_mib} MiB allowed")]
    OverBudget {
        format: &'static str,
        width: u32,
        height: u32,
        needed_mib: u64,
        budget_mib: u64,
    },
    #[error("corrupt {format}: {detail}")]
    Corrupt { format: &'static str, detail: String },
    #[error("the image could not be encoded: {0}")]
    Encode(String),
}

impl ConvertError {
    /// What the uploader is told: one sentence for a person, without the
    /// decoder's internals (those go to the converter's log).
    pub fn for_people(&self) -> String {
        match self {
            ConvertError::NotAnImage => "The file is not a PNG, JPEG or BMP image.".to_owned(),
            ConvertError::TooLarge {
                width,
                height,
                limit_mp,
            } => format!(
                "The image is {width}x{height} pixels, larger than the {limit_mp} megapixels accepted."
            ),
            ConvertError::BadShape { width, height } => format!(
                "The image is {width}x{height} pixels: one side may be at most {MAX_ASPECT} times the other."
            ),
            ConvertError::OverBudget {
                format,
                width,
                height,
                ..
            } => format!(
                "The image is a {width}x{height} {}, too large to convert in this format; a PNG or an RGB JPEG of that size works.",
                format.to_uppercase()
            ),
            ConvertError::Corrupt { format, .. } => format!(
                "The {} file is damaged or incomplete, so it could not be read.",
                format.to_uppercase()
            ),
            ConvertError::Encode(_) => "The image could not be converted.".to_owned(),
        }
    }
}
