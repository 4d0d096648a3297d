//! The kernel's state, owned by the execution side: the current model and its analysis, the
//! settings, the execution count and the input history. What must outlive the process goes to the
//! model's project file, so a restarted kernel picks up where it stopped.

use std::path::PathBuf;

use prunekit_core::ModelAnalysis;
use prunekit_core::project::Settings;

pub struct LoadedModel {
    pub path: PathBuf,
    pub analysis: ModelAnalysis,
}

#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub line: u32,
    pub input: String,
    /// The cell's `text/plain` result, if it had one.
    pub output: Option<String>,
}

#[derive(Default)]
pub struct KernelSession {
    pub current: Option<LoadedModel>,
    pub settings: Settings,
    pub execution_count: u32,
    pub history: Vec<HistoryEntry>,
}

impl KernelSession {
    /// The current model, or the one sentence that says how to get one.
    pub fn model(&self) -> prunekit_core::Result<&LoadedModel> {
        self.current.as_ref().ok_or_else(|| {
            prunekit_core::Error::Usage("no model is loaded; run `load PATH.onnx` first.".into())
        })
    }
}
