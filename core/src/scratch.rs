//! A scratch folder for files needed only while an operation runs (the models a benchmark times,
//! the graph a performance profile saves): removed with everything in it when dropped, on
//! success, error and cancellation alike.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A fresh folder `prunekit-{what}-{pid}-{n}` under the system temp dir.
    pub(crate) fn create(what: &str) -> Result<ScratchDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "prunekit-{what}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).map_err(|err| Error::io(&path, &err))?;
        Ok(ScratchDir(path))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_goes_with_everything_in_it() {
        let scratch = ScratchDir::create("scratch-test").unwrap();
        let path = scratch.path().to_path_buf();
        std::fs::write(path.join("a.onnx"), b"x").unwrap();
        let other = ScratchDir::create("scratch-test").unwrap();
        assert_ne!(other.path(), path, "two scratch folders share a path");
        drop(scratch);
        assert!(!path.exists());
        assert!(other.path().exists());
    }
}
