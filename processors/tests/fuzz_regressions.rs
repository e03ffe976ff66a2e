//! Every input the fuzz targets (`fuzz/`) found crashing the converter,
//! kept as a file: each must now be refused as damaged, not panic.

use imagegram_processors::convert::{convert, ConvertError, ConvertOptions};

fn refused_as_corrupt(name: &str, bytes: &[u8]) {
    let outcome = std::panic::catch_unwind(|| convert(bytes, &ConvertOptions::default()));
    match outcome {
        Ok(Err(ConvertError::Corrupt { .. })) => {}
        Ok(other) => panic!("{name}: expected a damaged-file refusal, got {other:?}"),
        Err(_) => panic!("{name}: the converter panicked"),
    }
}

/// A PLTE chunk of 238 bytes (not a whole number of RGB entries): the png
/// crate's palette expansion sliced past its end.
#[test]
fn a_palette_of_238_bytes() {
    refused_as_corrupt(
        "png-palette-of-238-bytes.png",
        include_bytes!("fuzz_regressions/png-palette-of-238-bytes.png"),
    );
}
