//! Where things live. Originals and converted images are under separate
//! prefixes; both are named by the post id alone.

use uuid::Uuid;

/// The original upload, byte for byte.
pub fn original(post_id: Uuid) -> String {
    format!("originals/{}", post_id.hyphenated())
}

/// The served 600x600 JPEG.
pub fn image(post_id: Uuid) -> String {
    format!("images/{}.jpg", post_id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate_key;

    #[test]
    fn keys_are_valid_and_separate() {
        let id = Uuid::from_u128(7);
        assert!(validate_key(&original(id)).is_ok());
        assert!(validate_key(&image(id)).is_ok());
        assert_ne!(original(id), image(id));
    }
}
