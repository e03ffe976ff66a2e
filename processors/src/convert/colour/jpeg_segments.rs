//! What a JPEG's header segments say about its colours: the ICC profile
//! in `APP2 ICC_PROFILE` segments (split across as many as 255 of them,
//! each numbered), and whether an `APP14 Adobe` segment is there (whose
//! CMYK is stored inverted, as Photoshop writes it).
//!
//! Only the segments before the first scan are read, and the profile is
//! never assembled past [`MAX_PROFILE_BYTES`].

use super::MAX_PROFILE_BYTES;

const ICC_SIGNATURE: &[u8] = b"ICC_PROFILE\0";
const ADOBE_SIGNATURE: &[u8] = b"Adobe";

/// The colour information of a JPEG's header.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JpegColour {
    /// The assembled profile; `Err` says why the segments there did not
    /// make one (so the picture is read as sRGB, with a warning).
    pub icc: Option<Result<Vec<u8>, String>>,
    /// An `APP14 Adobe` segment is present.
    pub adobe: bool,
}

/// Reads the segments of `jpeg` up to its first scan. Never fails: a
/// damaged header is the decoder's to refuse, and what was read of it is
/// kept.
pub fn read(jpeg: &[u8]) -> JpegColour {
    let mut chunks: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut adobe = false;
    let mut at = 2; // past SOI
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return JpegColour::default();
    }
    while at + 1 < jpeg.len() {
        if jpeg[at] != 0xFF {
            break; // not a marker: the header is damaged; keep what was read
        }
        let marker = jpeg[at + 1];
        at += 2;
        match marker {
            0xFF => at -= 1,         // a fill byte before the marker
            0x01 | 0xD0..=0xD7 => {} // no length
            0xD9 | 0xDA => break,    // EOI, or the first scan: the header is over
            _ => {
                let Some(length) = jpeg
                    .get(at..at + 2)
                    .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                else {
                    break;
                };
                if length < 2 {
                    break;
                }
                let Some(data) = jpeg.get(at + 2..at + length) else {
                    break;
                };
                if marker == 0xE2 && data.starts_with(ICC_SIGNATURE) && data.len() >= ICC_SIGNATURE.len() + 2
                {
                    let sequence = data[ICC_SIGNATURE.len()];
                    let count = data[ICC_SIGNATURE.len() + 1];
                    chunks.push((sequence, count, &data[ICC_SIGNATURE.len() + 2..]));
                } else if marker == 0xEE && data.starts_with(ADOBE_SIGNATURE) {
                    adobe = true;
                }
                at += length;
            }
        }
    }
    let icc = (!chunks.is_empty()).then(|| assemble(chunks));
    JpegColour { icc, adobe }
}

/// The profile from its numbered chunks, in any order: every number from
/// 1 to the count once, all agreeing on the count.
fn assemble(mut chunks: Vec<(u8, u8, &[u8])>) -> Result<Vec<u8>, String> {
    let count = chunks[0].1;
    if count == 0 || chunks.iter().any(|&(_, c, _)| c != count) {
        return Err("its ICC_PROFILE segments disagree on how many there are".into());
    }
    chunks.sort_by_key(|&(sequence, _, _)| sequence);
    let numbered_in_order = chunks
        .iter()
        .enumerate()
        .all(|(i, &(sequence, _, _))| usize::from(sequence) == i + 1);
    if chunks.len() != usize::from(count) || !numbered_in_order {
        return Err(format!(
            "its ICC profile should come in {count} segments numbered 1 to {count}, and does not"
        ));
    }
    let size: usize = chunks.iter().map(|(_, _, data)| data.len()).sum();
    if size > MAX_PROFILE_BYTES {
        return Err(format!(
            "its ICC profile is {size} bytes, more than the {MAX_PROFILE_BYTES} read"
        ));
    }
    let mut profile = Vec::with_capacity(size);
    for (_, _, data) in chunks {
        profile.extend_from_slice(data);
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A JPEG header carrying `profile` in segments of at most `chunk`
    /// bytes, in the order `order` gives (indices into the chunks).
    fn with_profile(profile: &[u8], chunk: usize, reversed: bool) -> Vec<u8> {
        let parts: Vec<&[u8]> = profile.chunks(chunk.max(1)).collect();
        let count = parts.len() as u8;
        let mut numbered: Vec<(u8, &[u8])> =
            parts.iter().enumerate().map(|(i, p)| (i as u8 + 1, *p)).collect();
        if reversed {
            numbered.reverse();
        }
        let mut jpeg = vec![0xFF, 0xD8];
        for (sequence, part) in numbered {
            let length = 2 + ICC_SIGNATURE.len() + 2 + part.len();
            jpeg.extend([0xFF, 0xE2]);
            jpeg.extend((length as u16).to_be_bytes());
            jpeg.extend(ICC_SIGNATURE);
            jpeg.extend([sequence, count]);
            jpeg.extend(part);
        }
        jpeg.extend([0xFF, 0xDA, 0, 2, 0xFF, 0xD9]);
        jpeg
    }

    #[test]
    fn a_profile_in_several_segments_is_put_together_in_their_numbered_order() {
        let profile: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let read = read(&with_profile(&profile, 300, true));
        assert_eq!(read.icc, Some(Ok(profile)));
        assert!(!read.adobe);
    }

    #[test]
    fn a_missing_segment_is_told_not_guessed() {
        let profile = vec![7u8; 900];
        let mut jpeg = with_profile(&profile, 300, false);
        // Renumber the second segment as the third: 1, 3, 3.
        let second = jpeg
            .windows(ICC_SIGNATURE.len())
            .enumerate()
            .filter(|(_, w)| *w == ICC_SIGNATURE)
            .nth(1)
            .map(|(i, _)| i + ICC_SIGNATURE.len())
            .expect("a second segment");
        jpeg[second] = 3;
        assert!(matches!(read(&jpeg).icc, Some(Err(_))));
    }

    #[test]
    fn an_adobe_segment_is_seen_and_nothing_after_the_scan_is_read() {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xEE, 0, 14];
        jpeg.extend(b"Adobe\0\x64\0\0\0\0\x02");
        jpeg.extend([0xFF, 0xDA, 0, 2]);
        jpeg.extend(with_profile(&[1, 2, 3], 10, false));
        let read = read(&jpeg);
        assert!(read.adobe);
        assert_eq!(read.icc, None);
    }

    proptest! {
        #[test]
        fn any_profile_split_any_way_comes_back_whole(
            profile in proptest::collection::vec(any::<u8>(), 1..4000),
            chunk in 16usize..2000,
            reversed in any::<bool>(),
        ) {
            prop_assume!(profile.len().div_ceil(chunk) <= 255);
            prop_assert_eq!(read(&with_profile(&profile, chunk, reversed)).icc, Some(Ok(profile)));
        }

        #[test]
        fn any_bytes_are_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut jpeg = vec![0xFF, 0xD8];
            jpeg.extend(bytes);
            let _ = read(&jpeg);
        }
    }
}
