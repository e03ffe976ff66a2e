//! A small tmpfs of the test's own, for faults of a full disk: mounted on
//! a temporary directory, unmounted when dropped. Mounting needs root,
//! which CI has; anywhere else the test fails saying so, never skips.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Tmpfs {
    dir: tempfile::TempDir,
}

/// Whether this process runs as root (the first Uid of /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `2m`).
    pub fn mount(size: &str) -> Tmpfs {
        assert!(
            is_root(),
            "this test mounts a tmpfs of its own and needs root: run it as root \
             (CI does), e.g. `sudo -E ./x test -E 'test(log_output::)'`"
        );
        let dir = tempfile::tempdir().expect("a mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "mount -t tmpfs on {}", dir.path().display());
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file of zeros until the disk is full; its path.
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("the filler file");
        let block = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&block).and_then(|()| file.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(28), "the fill ends with ENOSPC, not {e}");
                break;
            }
        }
        // What a block left unwritten may leave: fill it byte by byte.
        while file.write_all(&[0]).and_then(|()| file.flush()).is_ok() {}
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process still holding a file in it does not keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
