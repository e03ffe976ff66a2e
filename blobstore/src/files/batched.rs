//! Writing a file from a stream of chunks in large writes.

use std::io::Write;

use bytes::Bytes;

use super::{blocking, joined};
use crate::BlobError;

/// The bytes gathered for one write at least.
const WRITE_SIZE: usize = 1 << 20;

/// Opens the file to write, on the blocking pool.
pub(super) type Opener = Box<dyn FnOnce() -> Result<std::fs::File, BlobError> + Send>;

/// A file written from a stream of chunks. Chunks arrive at a few KiB;
/// a tokio file copies each into its own buffer and makes one trip to the
/// blocking pool for it. Here they are gathered, uncopied, into writes of
/// 1 MiB or more, each written on the blocking pool while the next one
/// gathers. The file is opened by the first write, in the same trip: a
/// trip of its own before the first byte cost 5 MB tus PATCHes 3.5%.
/// (Writing each chunk at once when no write was running, so the disk
/// would start sooner, made them slower: more thread switches on two
/// cores.)
pub(super) struct BatchedFile {
    /// The file (or how to open it), unless a write has it.
    idle: Option<Handle>,
    writing: Option<tokio::task::JoinHandle<Result<std::fs::File, BlobError>>>,
    gathered: Vec<Bytes>,
    gathered_len: usize,
}

/// The file, or how to open it until the first write does.
enum Handle {
    ToOpen(Opener),
    Open(std::fs::File),
}

impl Handle {
    fn open(self) -> Result<std::fs::File, BlobError> {
        match self {
            Handle::ToOpen(open) => open(),
            Handle::Open(file) => Ok(file),
        }
    }
}

impl BatchedFile {
    /// Writes go to the file `open` gives, from where it stands.
    pub(super) fn opening(open: Opener) -> Self {
        BatchedFile {
            idle: Some(Handle::ToOpen(open)),
            writing: None,
            gathered: Vec::new(),
            gathered_len: 0,
        }
    }

    pub(super) async fn push(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        self.gathered_len += chunk.len();
        self.gathered.push(chunk);
        if self.gathered_len >= WRITE_SIZE {
            self.write_gathered().await?;
        }
        Ok(())
    }

    /// Waits for the write before, then starts writing what is gathered.
    async fn write_gathered(&mut self) -> Result<(), BlobError> {
        let handle = self.handle().await?;
        let chunks = self.take_gathered();
        self.writing = Some(tokio::task::spawn_blocking(move || {
            let mut file = handle.open()?;
            write_chunks(&mut file, &chunks)?;
            start_writeback(&file);
            Ok(file)
        }));
        Ok(())
    }

    fn take_gathered(&mut self) -> Vec<Bytes> {
        self.gathered_len = 0;
        std::mem::take(&mut self.gathered)
    }

    /// The file (or its opener), once no write has it.
    async fn handle(&mut self) -> Result<Handle, BlobError> {
        match (self.idle.take(), self.writing.take()) {
            (Some(handle), _) => Ok(handle),
            (None, Some(writing)) => Ok(Handle::Open(writing.await.map_err(joined)??)),
            (None, None) => Err(BlobError::Io(std::io::Error::other(
                "a failed write lost the file",
            ))),
        }
    }

    /// Writes the rest, and waits until it is all on the disk: one trip to
    /// the blocking pool for both (and the opening, for a body under one
    /// write), as this is what the request waits on.
    pub(super) async fn sync(mut self) -> Result<(), BlobError> {
        let handle = self.handle().await?;
        let chunks = self.take_gathered();
        blocking(move || {
            let mut file = handle.open()?;
            write_chunks(&mut file, &chunks)?;
            Ok(file.sync_all()?)
        })
        .await
    }
}

fn write_chunks(file: &mut std::fs::File, chunks: &[Bytes]) -> std::io::Result<()> {
    chunks.iter().try_for_each(|chunk| file.write_all(chunk))
}

/// Starts writing the file's dirty pages to the disk without waiting, so
/// the disk works while the next bytes arrive and the closing sync has
/// little left to do. Without it, a 5 MB tus PATCH spent about half its
/// time in its final fsync, the disk idle until then. Only a hint: any
/// failure shows at the sync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open for the call's duration (we hold
    // `file`), and the call reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File) {}
