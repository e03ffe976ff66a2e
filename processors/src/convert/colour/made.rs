//! Transforms made from ICC profiles, kept for the next picture that
//! carries the same profile: phones embed the same few (every iPhone photo
//! the same Display P3), and a CMYK transform is a 17⁴ table that takes
//! about 50 ms to build. The last [`KEPT`] are kept, each at most
//! [`LARGEST_KEPT`] bytes of profile, found by comparing the bytes whole.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use qcms::{DataType, Transform};

/// How many transforms are kept: a CMYK one holds about 1 MB of table.
const KEPT: usize = 8;
/// Larger profiles are converted from, but not kept.
const LARGEST_KEPT: usize = 1 << 20;

struct Kept {
    icc: Box<[u8]>,
    input: DataType,
    transform: Arc<Transform>,
}

fn kept() -> &'static Mutex<VecDeque<Kept>> {
    static KEPT_TRANSFORMS: OnceLock<Mutex<VecDeque<Kept>>> = OnceLock::new();
    KEPT_TRANSFORMS.get_or_init(|| Mutex::new(VecDeque::with_capacity(KEPT)))
}

/// The transform from `icc` for `input` pixels: a kept one, or one `make`
/// builds (and is kept). Two conversions that miss at once both build it;
/// what they build is the same.
pub fn transform(
    icc: &[u8],
    input: DataType,
    make: impl FnOnce() -> Result<Transform, String>,
) -> Result<Arc<Transform>, String> {
    let found = |list: &VecDeque<Kept>| {
        list.iter()
            .find(|k| k.input == input && *k.icc == *icc)
            .map(|k| Arc::clone(&k.transform))
    };
    // A poisoned lock only means a panic elsewhere while it was held; the
    // list is whole after every push and pop, so it is used as it is.
    if let Some(transform) = found(&kept().lock().unwrap_or_else(|p| p.into_inner())) {
        return Ok(transform);
    }
    let transform = Arc::new(make()?);
    if icc.len() <= LARGEST_KEPT {
        let mut list = kept().lock().unwrap_or_else(|p| p.into_inner());
        if found(&list).is_none() {
            if list.len() == KEPT {
                list.pop_front();
            }
            list.push_back(Kept {
                icc: icc.into(),
                input,
                transform: Arc::clone(&transform),
            });
        }
    }
    Ok(transform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegram_testkit::colour::{rgb_profile, ADOBE_RGB};

    fn make(icc: &[u8]) -> Result<Transform, String> {
        let profile = qcms::Profile::new_from_slice(icc, false).ok_or("no profile")?;
        let srgb = qcms::Profile::new_sRGB();
        Transform::new(&profile, &srgb, DataType::RGB8, qcms::Intent::Perceptual)
            .ok_or_else(|| "no transform".into())
    }

    #[test]
    fn a_profile_seen_again_reuses_its_transform_and_failures_are_not_kept() {
        let icc = rgb_profile(&ADOBE_RGB);
        let first = transform(&icc, DataType::RGB8, || make(&icc)).expect("made");
        let again = transform(&icc, DataType::RGB8, || Err("made again".into())).expect("kept");
        assert!(Arc::ptr_eq(&first, &again));
        // Same bytes, other pixels: another transform.
        assert!(transform(&icc, DataType::Gray8, || Err("not kept".into())).is_err());
        let broken = b"broken".to_vec();
        assert!(transform(&broken, DataType::RGB8, || Err("refused".into())).is_err());
        assert!(transform(&broken, DataType::RGB8, || Err("refused again".into())).is_err());
    }
}
