//! Any bytes as the multipart body of `POST /v1/posts` (boundary `fuzz`):
//! parsed, the image part sniffed, hashed and streamed to a file store,
//! the caption checked. Problems are fine; panics are not.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn runtime() -> Option<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    if let Some(runtime) = runtime() {
        runtime.block_on(imagegram_ingest::fuzzing::receive_multipart(data.to_vec()));
    }
});
