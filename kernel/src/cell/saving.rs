//! Saving into the model's project file from a cell: one locked read-modify-write in the core,
//! and the user told on stderr when an unreadable project file had to be moved aside first.

use std::path::Path;

use prunekit_core::Result;
use prunekit_core::project::{self, ProjectFile};

use super::output::{Output, Sink};

/// `project::update`, saying so when the old project file was moved aside.
pub fn save(model: &Path, sink: &dyn Sink, change: impl FnOnce(&mut ProjectFile)) -> Result<()> {
    save_or_create(model, sink, || ProjectFile::new(model), change)
}

/// `project::update_or_create`, saying so when the old project file was moved aside.
pub fn save_or_create(
    model: &Path,
    sink: &dyn Sink,
    fresh: impl FnOnce() -> ProjectFile,
    change: impl FnOnce(&mut ProjectFile),
) -> Result<()> {
    let saved = project::update_or_create(model, fresh, change)?;
    if let Some(notice) = saved.notice() {
        moved_aside(sink, &notice);
    }
    Ok(())
}

/// One stderr line with the notice.
pub fn moved_aside(sink: &dyn Sink, notice: &str) {
    sink.emit(Output::Stream {
        name: "stderr",
        text: format!("{notice}\n"),
    });
}

/// One stderr line for each project file a core workflow moved aside.
pub fn moved_aside_all(sink: &dyn Sink, asides: &[std::path::PathBuf]) {
    for aside in asides {
        moved_aside(sink, &project::moved_aside_notice(aside));
    }
}
