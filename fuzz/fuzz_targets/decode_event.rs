//! Any bytes as an Avro single-object message of any event schema: a
//! typed error or an event that encodes again, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = imagegram_schemas::decode(data) {
        let again = imagegram_schemas::encode(&event).map(|bytes| imagegram_schemas::decode(&bytes).ok());
        assert!(matches!(again, Ok(Some(_))), "a decoded event encodes and decodes again");
    }
});
