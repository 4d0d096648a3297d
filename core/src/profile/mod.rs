//! Profiles of one model: how long each layer takes and what pruning would save (`perf`), and how
//! much pruning each layer hurts (`loss`). Each is a plain serde value, saved by name in the
//! project file and shown by the front ends; the algorithms live in one file each.

pub mod approx;
pub mod channels;
pub mod levels;
pub mod loss;
pub mod magnitude;
pub mod one_shot;
pub mod perf;
pub mod prune;
pub mod weights;

pub use levels::{LOSS_LEVELS, PERF_LEVELS, level_key, magnitude_levels};
pub use loss::{
    LayerLoss, LossMethod, LossProfile, QuantLayerLoss, QuantModelLoss, QuantizationLoss, Skipped,
    Structure,
};
pub use perf::{LayerPerf, ModelPerf, OpTypePerf, PerfKind, PerfOptions, PerfProfile};
