//! The shared HS256 secret: from settings, or made once in the data dir
//! (32 random bytes, hex, mode 0600) and read from there after.

use std::io::{Read, Write};
use std::path::Path;

use crate::IngestError;

/// The shortest secret accepted, in bytes: HS256 is only as strong as
/// its key, and RFC 7518 asks for at least the hash's size.
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret from settings, or the one kept in the data dir (made once,
/// mode 0600). A secret shorter than [`MIN_SECRET_BYTES`], or a secret
/// file that exists but is empty, is refused with a clear error.
pub fn load_or_create_secret(explicit: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, IngestError> {
    if let Some(secret) = explicit.filter(|s| !s.is_empty()) {
        return long_enough(secret.as_bytes().to_vec(), "--jwt-secret (IMAGEGRAM_JWT_SECRET)");
    }
    let path = data_dir.join("jwt-secret");
    if let Some(kept) = read_kept(&path)? {
        return long_enough(kept, &path.display().to_string());
    }
    let mut random = [0u8; MIN_SECRET_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut urandom| urandom.read_exact(&mut random))
        .map_err(IngestError::Secret)?;
    let secret = hex::encode(random);
    std::fs::create_dir_all(data_dir).map_err(IngestError::Secret)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => file
            .write_all(secret.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(IngestError::Secret)?,
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let kept = read_kept(&path)?.ok_or_else(|| empty_file(&path))?;
            return long_enough(kept, &path.display().to_string());
        }
        Err(e) => return Err(IngestError::Secret(e)),
    }
    Ok(secret.into_bytes())
}

/// The secret in `path`, `None` if there is no such file; an error if it
/// is there but empty (it was cut short, or someone emptied it).
fn read_kept(path: &Path) -> Result<Option<Vec<u8>>, IngestError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(empty_file(path)),
        Ok(text) => Ok(Some(text.trim().as_bytes().to_vec())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IngestError::Secret(e)),
    }
}

fn empty_file(path: &Path) -> IngestError {
    IngestError::BadSecret(format!(
        "{} is empty: delete it to have a new secret made (tokens signed with the old one stop working), or put the shared secret in it",
        path.display()
    ))
}

fn long_enough(secret: Vec<u8>, from: &str) -> Result<Vec<u8>, IngestError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(IngestError::BadSecret(format!(
            "the secret from {from} is {} bytes; at least {MIN_SECRET_BYTES} are needed",
            secret.len()
        )));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("imagegram-auth-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn the_secret_is_made_once_and_kept() {
        let dir = temp_dir();
        let first = load_or_create_secret(None, &dir).expect("made");
        let second = load_or_create_secret(None, &dir).expect("read");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        let explicit = "an explicit secret of 32 bytes..";
        assert_eq!(
            load_or_create_secret(Some(explicit), &dir).expect("explicit"),
            explicit.as_bytes()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_secrets_and_empty_files_are_clear_errors() {
        let dir = temp_dir();
        let short = load_or_create_secret(Some("explicit"), &dir)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            short.as_ref().is_err_and(|e| e.contains("at least 32")),
            "{short:?}"
        );
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("jwt-secret"), "").expect("empty file");
        let empty = load_or_create_secret(None, &dir)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(empty.as_ref().is_err_and(|e| e.contains("is empty")), "{empty:?}");
        std::fs::write(dir.join("jwt-secret"), "short").expect("short file");
        assert!(load_or_create_secret(None, &dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
