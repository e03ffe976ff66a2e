//! Joining files into one by copying in the kernel: `std::io::copy`
//! between two files is `copy_file_range(2)` on Linux, so the bytes never
//! pass through this process (the default `compose` reads every source
//! and writes it back out, through the runtime, chunk by chunk).

use std::path::PathBuf;

use crate::BlobError;

/// Writes the concatenation of `sources` (key, path, size) to `partial`,
/// syncs it and renames it to `target`; on any failure nothing is left.
pub(super) async fn by_kernel_copy(
    sources: Vec<(String, PathBuf, u64)>,
    partial: PathBuf,
    target: PathBuf,
) -> Result<u64, BlobError> {
    let join = move || -> Result<u64, BlobError> {
        let outcome = concatenate(&sources, &partial).and_then(|size| {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&partial, &target)?;
            Ok(size)
        });
        if outcome.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        outcome
    };
    tokio::task::spawn_blocking(join)
        .await
        .map_err(|e| BlobError::Io(std::io::Error::other(e)))?
}

fn concatenate(sources: &[(String, PathBuf, u64)], partial: &PathBuf) -> Result<u64, BlobError> {
    let mut out = std::fs::File::create(partial)?;
    let (mut expected, mut found) = (0, 0);
    for (key, path, size) in sources {
        let mut source = match std::fs::File::open(path) {
            Ok(source) => source,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(key.clone()))
            }
            Err(e) => return Err(e.into()),
        };
        expected += size;
        found += std::io::copy(&mut source, &mut out)?;
    }
    if found != expected {
        return Err(BlobError::SizeMismatch { expected, found });
    }
    out.sync_all()?;
    Ok(found)
}
