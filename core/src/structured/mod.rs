//! Structured pruning: whole channels (and attention heads, MLP hidden units) removed from an
//! ONNX graph, so the smaller dense model is faster on every runtime.
//!
//! `group` describes a channel dependency group; detection finds them on the graph index;
//! removal rewrites the constants, attributes and shapes; repair refits what the removal
//! changed on calibration data.

pub mod detect;
pub mod group;

pub use detect::channel_groups;
pub use group::{Carrier, ChannelGroup, Edit, Keep, Role, Slice};
