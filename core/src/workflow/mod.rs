//! Use cases: what one command of a front end does, from a typed request to a typed result. Each
//! reads the model's project file, decides what the request leaves open (which profiles, which
//! earlier settings a re-run keeps, which quantization), does the work, and saves the result.
//! Front ends parse their flags into the request, call one function, and render what it returns.
//!
//! This layer sits above `project`, `optimize`, `export`, `quantize`, `benchmark` and `runtime`;
//! no other core module imports it.

pub mod benchmark;
mod channel_timing;
pub mod channels;
pub mod export;
pub mod fit;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::progress::{NoProgress, Progress};
use crate::project::{self, Found, ProjectFile};

/// The long steps of a workflow, each of which a front end may show as a progress display of
/// its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Pruning the model to export to its plan.
    Pruning,
    /// Quantizing the model to export.
    Quantizing,
    /// Pruning and quantizing the models a benchmark times.
    PreparingModels,
    /// Timing the models.
    Benchmarking,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Cancelled,
    Failed,
}

impl Outcome {
    pub fn of<T>(result: &Result<T>) -> Outcome {
        match result {
            Ok(_) => Outcome::Done,
            Err(Error::Cancelled) => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        }
    }
}

/// Where a workflow reports its steps: `begin` before a step's work, progress (the `Progress`
/// it also is) while the step runs, `end` with how it went.
pub trait Steps: Progress {
    fn begin(&self, step: Step);
    fn end(&self, step: Step, outcome: Outcome);
}

/// For callers that show nothing.
impl Steps for NoProgress {
    fn begin(&self, _step: Step) {}
    fn end(&self, _step: Step, _outcome: Outcome) {}
}

/// Runs `work` as `step`, reporting its start and its end.
fn run_step<T>(
    steps: &dyn Steps,
    step: Step,
    work: impl FnOnce(&dyn Progress) -> Result<T>,
) -> Result<T> {
    steps.begin(step);
    let result = work(steps);
    steps.end(step, Outcome::of(&result));
    result
}

/// The model's project file, or a fresh one when there is none; an unreadable one is moved aside
/// and where it went is pushed onto `moved_aside`, for the front end to tell the user.
pub fn read_project(model: &Path, moved_aside: &mut Vec<PathBuf>) -> Result<ProjectFile> {
    Ok(match project::read(model)? {
        Found::Project(p) => *p,
        Found::None => ProjectFile::new(model),
        Found::MovedAside(aside) => {
            moved_aside.push(aside);
            ProjectFile::new(model)
        }
    })
}

/// `project::update`, pushing where an unreadable project file was moved aside.
fn save(
    model: &Path,
    moved_aside: &mut Vec<PathBuf>,
    change: impl FnOnce(&mut ProjectFile),
) -> Result<()> {
    let saved = project::update(model, change)?;
    moved_aside.extend(saved.moved_aside);
    Ok(())
}

/// Writes `bytes` to `path` atomically, creating its folder first.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    make_parent(path)?;
    crate::atomic_file::write(path, bytes)
}

/// Exports create the folder they write into, as `jupyter nbconvert --output-dir` does.
fn make_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, &err)),
        None => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod testing;
