//! Any bytes as an original: png, jpeg, bmp (by magic bytes) or refused.
//! A conversion may fail with a reason; it must never panic, hang or
//! allocate past the libFuzzer memory limit.
#![no_main]

use imagegram_processors::convert::{convert, ConvertOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = convert(data, &ConvertOptions::default());
});
