//! Joining files into one by copying in the kernel: `std::io::copy`
//! between two files is `copy_file_range(2)` on Linux, so the bytes never
//! pass through this process (the default `compose` reads every source
//! and writes it back out, through the runtime, chunk by chunk).
//!
//! One source is not copied at all: the result is a second name (a hard
//! link) for it. An upload written in place (`write_at`) is one source,
//! and copying its 100 MB again cost more than half of a tus upload's time
//! on this project's ext4 disk, which cannot share blocks between files.

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
        let outcome = join_into(&sources, &partial).and_then(|size| {
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

/// The sources joined at `partial`: a link to the one source of the
/// expected size, else a synced copy of them all.
fn join_into(sources: &[(String, PathBuf, u64)], partial: &PathBuf) -> Result<u64, BlobError> {
    if let [(_, path, size)] = sources {
        if std::fs::metadata(path).is_ok_and(|meta| meta.len() == *size) {
            std::fs::hard_link(path, partial)?;
            return Ok(*size);
        }
    }
    concatenate(sources, partial)
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
