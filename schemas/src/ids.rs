//! Ids derived from what caused them, so that a retry anywhere (another
//! gateway instance, a processor that restarted) names the same things and
//! every consumer can drop the duplicate.

use uuid::Uuid;

/// The namespace of every derived Imagegram id (UUIDv5).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b0e_8d4a_4f7e_9a51_3c2d_e0b7_a913);

/// A stable id for `kind` of thing made from `parts`. Parts are joined with
/// a separator that cannot appear inside them (their lengths are included).
pub fn derive(kind: &str, parts: &[&str]) -> Uuid {
    let mut name = String::with_capacity(64);
    name.push_str(kind);
    for part in parts {
        name.push('\u{1f}');
        name.push_str(&part.len().to_string());
        name.push(':');
        name.push_str(part);
    }
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_id_and_no_ambiguity() {
        assert_eq!(derive("post", &["ann", "k1"]), derive("post", &["ann", "k1"]));
        assert_ne!(derive("post", &["ann", "k1"]), derive("post", &["bob", "k1"]));
        assert_ne!(derive("post", &["a:b", "c"]), derive("post", &["a", "b:c"]));
        assert_ne!(derive("post", &["x"]), derive("comment", &["x"]));
    }
}
