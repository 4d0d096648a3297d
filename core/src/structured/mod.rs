//! Structured pruning: whole channels (and attention heads, MLP hidden units) removed from an
//! ONNX graph, so the smaller dense model is faster on every runtime.
//!
//! `group` describes a channel dependency group; detection finds them on the graph index;
//! `plan` checks which channels a list of `Keep`s removes; `remove` rewrites the constants,
//! attributes and shapes; `importance` scores channels; `repair` refits what the removal
//! changed on calibration data.

pub mod choose;
pub mod detect;
pub mod group;
pub mod importance;
pub mod plan;
pub mod remove;
pub mod repair;

#[cfg(test)]
#[path = "tests/digits.rs"]
mod digits;
#[cfg(test)]
pub(crate) mod fixtures;

pub use detect::channel_groups;
pub use group::{Carrier, ChannelGroup, Edit, Keep, Role, Slice};
pub use importance::{Criterion, keep_highest, reconstruction_scores, weight_scores};
pub use remove::{GroupRemoval, Removal, remove_channels};
