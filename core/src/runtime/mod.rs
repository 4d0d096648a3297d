//! ONNX Runtime: finding its shared library, and running models on generated or given inputs:
//! the samples (`Dataset`) and the batch to run them in (`batch`), and how far a changed model's
//! outputs are from the original's (`metric`).
//! The library is loaded at run time (`ort`'s `load-dynamic`), so prunekit builds without it and
//! says in one sentence how to get it when it is missing.

pub mod batch;
mod data;
mod dataset;
mod locate;
pub mod memory;
pub mod metric;
mod npz;
mod session;

pub use batch::analysis_batch;
pub use data::InputArray;
pub use dataset::{Batch, DataInfo, Dataset, LABELS};
pub use locate::{RUNTIME_MISSING_FIX, Runtime, runtime};
pub use npz::{Npz, read_npz};
pub use session::{ModelSession, SessionOptions, SplitMix64, generated_inputs};
pub(crate) use session::{
    build_mapped_session, build_session, commit, copy_value, onnx_type, to_f32, to_value,
};
