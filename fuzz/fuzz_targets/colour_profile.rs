//! Any bytes as an ICC profile, read and used as the converter would: RGB
//! and grey ones to sRGB, CMYK ones from ink. Bytes that start as a JPEG
//! are first read as its header's segments, and the profile they put
//! together is used the same way. It must never panic, hang or allocate
//! past the libFuzzer memory limit; what cannot be used is refused.
#![no_main]

use imagegram_processors::convert::colour::{exercise_profile, jpeg_segments};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match jpeg_segments::read(data).icc {
        Some(Ok(profile)) => {
            let _ = exercise_profile(&profile);
        }
        _ => {
            let _ = exercise_profile(data);
        }
    }
});
