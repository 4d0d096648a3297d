//! A fixture model copied into a fresh folder, so a test's project file and exports stay
//! there; the folder is removed when the copy is dropped.

use std::path::{Path, PathBuf};

use crate::ModelAnalysis;
use crate::fixtures::{fixture, load_analyzed};

pub struct Copied {
    pub dir: PathBuf,
    pub model: PathBuf,
    pub analysis: ModelAnalysis,
}

impl Copied {
    pub fn new(test: &str, name: &str) -> Copied {
        let dir =
            std::env::temp_dir().join(format!("prunekit-workflow-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join(name);
        std::fs::copy(fixture(name), &model).unwrap();
        let (_, analysis) = load_analyzed(name);
        Copied {
            dir,
            model,
            analysis,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn model(&self) -> &Path {
        &self.model
    }
}

impl Drop for Copied {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
