//! Any bytes as the tus headers a client controls (`Upload-Metadata`,
//! `Upload-Checksum`, `Upload-Length`, `Upload-Offset`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imagegram_ingest::fuzzing::tus_headers(data);
});
