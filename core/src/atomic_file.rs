//! Writing a file so that readers see either the old contents or the new, never half a file: the
//! bytes go to a temporary file in the same folder, are flushed to disk, then renamed over the target.
//!
//! The temporary file is `.NAME.PID.tmp`. A writer killed between creating and renaming it leaves
//! it behind (a project file or a model: megabytes each), so every write first removes those of
//! writers that are no longer running.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the owner of a temporary file cannot be looked up, one untouched for this long is taken
/// as left behind: a write takes seconds at most, and its file's time changes as it goes.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut pending = Pending::create(path)?;
    pending.write_all(bytes)?;
    pending.commit()
}

/// A file being written: its bytes go to the temporary file, which replaces the target at
/// [`Pending::commit`]. Dropped uncommitted (an error, a cancellation), the temporary file goes
/// and the target is untouched. Two files that must change together (a model and its external
/// data) are both written and synced first, then renamed one after the other.
pub struct Pending {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Pending {
    pub fn create(path: &Path) -> Result<Pending> {
        let (dir, name) = dir_and_name(path);
        remove_orphans(path);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|err| Error::io(path, &err))?;
        Ok(Pending {
            path: path.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Appends `bytes` (large slices go straight to the file, past the buffer).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let file = self.file.as_mut().expect("written after sync");
        file.write_all(bytes)
            .map_err(|err| Error::io(&self.path, &err))
    }

    /// Flushes everything written to disk; the target is still untouched.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(file) = self.file.take() {
            let file = file
                .into_inner()
                .map_err(|err| Error::io(&self.path, err.error()))?;
            file.sync_all().map_err(|err| Error::io(&self.path, &err))?;
        }
        Ok(())
    }

    /// Syncs (if not yet) and renames the temporary file over the target.
    pub fn commit(mut self) -> Result<()> {
        self.sync()?;
        std::fs::rename(&self.tmp, &self.path).map_err(|err| Error::io(&self.path, &err))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn dir_and_name(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir.to_path_buf(), name)
}

/// Removes the temporary files of `path` (`.NAME.PID.tmp`) whose writer is gone, and returns how
/// many it removed. A file is kept while its PID is a running process (this one included), so a
/// write in progress is never touched; a PID reused by an unrelated process only delays the
/// removal. Best effort: a folder that cannot be listed or a file that cannot be removed is left
/// as it is, since the write itself does not depend on it.
pub fn remove_orphans(path: &Path) -> usize {
    let (dir, name) = dir_and_name(path);
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || !writer_is_gone(pid, &entry) {
            continue;
        }
        if std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

fn writer_is_gone(pid: u32, entry: &std::fs::DirEntry) -> bool {
    // Linux lists every running process under /proc; where /proc is missing (other systems, or a
    // sandbox without it) the file's age decides instead.
    if Path::new("/proc/self").exists() {
        return !Path::new(&format!("/proc/{pid}")).exists();
    }
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > STALE_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PID that no process has: above Linux's largest (2^22), within u32.
    const DEAD_PID: u32 = 4_000_000_000;

    #[test]
    fn temporary_files_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("prunekit-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("m.onnx.prunekit.json");
        let dead = dir.join(format!(".m.onnx.prunekit.json.{DEAD_PID}.tmp"));
        // A writer in another process, still running.
        let mut writer = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let live = dir.join(format!(".m.onnx.prunekit.json.{}.tmp", writer.id()));
        // Files that only look alike belong to other targets or are not temporary files.
        let unrelated = [
            dir.join(format!(".m.onnx.{DEAD_PID}.tmp")),
            dir.join(format!(".m.onnx.prunekit.json.{DEAD_PID}.tmp.keep")),
            dir.join(".m.onnx.prunekit.json.x1.tmp"),
            dir.join(".m.onnx.prunekit.json.lock"),
        ];
        for f in [&dead, &live].into_iter().chain(&unrelated) {
            std::fs::write(f, "partial").unwrap();
        }

        let result = write(&target, b"{}\n");
        let live_kept = live.exists();
        let _ = writer.kill();
        let _ = writer.wait();

        result.unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}\n");
        assert!(live_kept, "a running writer's temporary file is kept");
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists(), "a dead writer's temporary file is removed");
        }
        for f in &unrelated {
            assert!(
                f.exists(),
                "{} is not a temporary file of the target",
                f.display()
            );
        }
        // Once its writer has exited, the file goes at the next write.
        if Path::new("/proc/self").exists() {
            assert_eq!(remove_orphans(&target), 1);
            assert!(!live.exists());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
