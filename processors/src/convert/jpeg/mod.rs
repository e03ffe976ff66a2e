//! JPEG in (`decode`: scaled while decoding, CMYK made RGB) and out
//! (`encode`: the served picture's own tables).

mod decode;
mod encode;

pub use decode::decode_scaled;
pub use encode::encode;
