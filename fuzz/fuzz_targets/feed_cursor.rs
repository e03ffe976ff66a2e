//! Any text as a `next_cursor`: refused unless it carries our signature.
#![no_main]

use imagegram_ingest::CursorSigner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let signer = CursorSigner::new(b"the fuzz target's cursor secret, 32+ bytes");
    let text = String::from_utf8_lossy(data);
    assert!(
        signer.decode(&text).is_none(),
        "a cursor forged from random bytes was accepted"
    );
});
