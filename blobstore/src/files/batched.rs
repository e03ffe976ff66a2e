//! Writing a file from a stream of chunks in large writes.

use std::io::Write;
use std::path::Path;

use bytes::Bytes;

/// The bytes gathered for one write at least.
const WRITE_SIZE: usize = 1 << 20;

/// A file written from a stream of chunks. Chunks arrive at a few KiB;
/// a tokio file copies each into its own buffer and makes one trip to the
/// blocking pool for it. Here they are gathered, uncopied, into writes of
/// 1 MiB or more, each written on the blocking pool while the next one
/// gathers. (Writing each chunk at once when no write was running, so the
/// disk would start sooner, made 5 MB tus PATCHes slower: more thread
/// switches on two cores.)
pub(super) struct BatchedFile {
    /// The file, unless a write has it.
    idle: Option<std::fs::File>,
    writing: Option<tokio::task::JoinHandle<std::io::Result<std::fs::File>>>,
    gathered: Vec<Bytes>,
    gathered_len: usize,
}

impl BatchedFile {
    pub(super) async fn create(path: &Path) -> std::io::Result<Self> {
        let file = tokio::fs::File::create(path).await?.into_std().await;
        Ok(BatchedFile::from_file(file))
    }

    /// Writes go to `file` from where it stands.
    pub(super) fn from_file(file: std::fs::File) -> Self {
        BatchedFile {
            idle: Some(file),
            writing: None,
            gathered: Vec::new(),
            gathered_len: 0,
        }
    }

    pub(super) async fn push(&mut self, chunk: Bytes) -> std::io::Result<()> {
        self.gathered_len += chunk.len();
        self.gathered.push(chunk);
        if self.gathered_len >= WRITE_SIZE {
            self.write_gathered().await?;
        }
        Ok(())
    }

    /// Waits for the write before, then starts writing what is gathered.
    async fn write_gathered(&mut self) -> std::io::Result<()> {
        let mut file = self.file().await?;
        let chunks = self.take_gathered();
        self.writing = Some(tokio::task::spawn_blocking(move || {
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

    /// The file, once no write has it.
    async fn file(&mut self) -> std::io::Result<std::fs::File> {
        match (self.idle.take(), self.writing.take()) {
            (Some(file), _) => Ok(file),
            (None, Some(writing)) => writing.await.map_err(std::io::Error::other)?,
            (None, None) => Err(std::io::Error::other("a failed write lost the file")),
        }
    }

    /// Writes the rest, and waits until it is all on the disk: one trip to
    /// the blocking pool for both, as this is what the request waits on.
    pub(super) async fn sync(mut self) -> std::io::Result<()> {
        let mut file = self.file().await?;
        let chunks = self.take_gathered();
        tokio::task::spawn_blocking(move || {
            write_chunks(&mut file, &chunks)?;
            file.sync_all()
        })
        .await
        .map_err(std::io::Error::other)?
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
