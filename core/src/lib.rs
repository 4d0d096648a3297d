//! prunekit-core: analysis, profiling and pruning of ONNX models.
//!
//! Modules read only the modules below them:
//! `model` (ONNX in/out) → `analysis` → `runtime` (ONNX Runtime) → profiles, pruning, benchmarks →
//! optimization → recipes, project files, charts → `workflow` (the use cases front ends call).
//!
//! The core knows nothing of Jupyter, LSP, async runtimes or stdout: front ends call these
//! synchronous functions and translate the typed `Error` into their own terms.

pub mod analysis;
pub mod atomic_file;
pub mod benchmark;
pub mod chart;
pub mod error;
pub mod export;
#[cfg(test)]
mod fixtures;
pub mod format;
pub mod model;
pub mod optimize;
pub mod percentile;
pub mod profile;
pub mod progress;
pub mod project;
pub mod quantize;
pub mod recipe;
pub mod reconstruct;
pub mod runtime;
mod scratch;
pub mod structured;
pub mod suggest;
pub mod user_file;
pub mod workflow;

pub use analysis::{AnalysisOptions, Layer, ModelAnalysis, analyze};
pub use error::{Error, Result};
pub use model::{Model, load, save};
pub use progress::{Cancel, NoProgress, Progress};
