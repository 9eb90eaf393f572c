//! [`SmallDisk`]: a small tmpfs mounted on a temporary directory, to see
//! what a process does when its disk fills (ENOSPC). Mounting needs root
//! (CI and the development machines run the suites as root); elsewhere
//! [`SmallDisk::mount`] says why it cannot, and the test skips with that.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Name of the file that takes the free space.
const FILLER: &str = ".filler";

/// A mounted tmpfs of a fixed size; unmounted when dropped, also when the
/// test fails.
#[derive(Debug)]
pub struct SmallDisk {
    // Kept for its lifetime when the mount point lives inside it.
    parent: Option<tempfile::TempDir>,
    root: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` (rounded up to pages by the kernel).
    ///
    /// # Errors
    /// Why it cannot be mounted (not root, no `mount`), for the skip message.
    pub fn mount(bytes: u64) -> Result<SmallDisk, String> {
        let parent = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let root = parent.path().join("disk");
        fs::create_dir(&root).map_err(|e| format!("mount point: {e}"))?;
        let mut disk = SmallDisk::mount_on(&root, bytes)?;
        disk.parent = Some(parent);
        Ok(disk)
    }

    /// Mounts a tmpfs of `bytes` over the existing directory `dir`, which
    /// then shows an empty disk (its files come back at unmount).
    ///
    /// # Errors
    /// Why it cannot be mounted (not root, no `mount`), for the skip message.
    pub fn mount_on(dir: &Path, bytes: u64) -> Result<SmallDisk, String> {
        let root = dir.to_path_buf();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&root)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot mount a tmpfs (root needed): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk { parent: None, root })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Takes every free byte with one file; returns how many it took.
    ///
    /// # Errors
    /// An I/O error other than the disk filling up.
    pub fn fill(&self) -> io::Result<u64> {
        let mut file = File::options()
            .create(true)
            .append(true)
            .open(self.root.join(FILLER))?;
        let chunk = [0u8; 4096];
        let mut taken = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => return Ok(taken),
                Ok(n) => taken += n as u64,
                Err(e) if is_full(&e) => return Ok(taken),
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives the space [`fill`](Self::fill) took back.
    ///
    /// # Errors
    /// When the filler cannot be removed.
    pub fn free(&self) -> io::Result<()> {
        match fs::remove_file(self.root.join(FILLER)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy, so a process still holding a file there cannot keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}
