//! Channel dependency groups: the channels of a graph that must be removed together.
//!
//! Removing output channel `c` of a convolution removes row `c` of its weight and entry `c` of its
//! bias; every tensor that carries that channel further down must lose it too: the
//! BatchNormalization after it (scale, bias, mean, variance), the depthwise convolution that
//! filters it (its weight rows and its `group` attribute), the other operand of a residual `Add`
//! (and so its own producer), and the input columns of every consumer (a convolution's input
//! channels, the block of features a `Flatten` into a `Gemm` makes of it, the offset a `Concat`
//! puts it at). A group is the closure of those ties: one set of `channels` channels, and every
//! slice of every constant tensor that moves with them.
//!
//! A group is described in the coordinates of the original model, so that removing several
//! groups that meet in one tensor (two branches concatenated, then read by one convolution)
//! composes: each slice names the original indices its channels occupy.
//!
//! Removal reads a group list and a `Keep` per group it prunes. Along each axis of each tensor,
//! the indices removed are the union, over the groups that slice it, of the indices their
//! removed channels occupy; every other index (a `Concat` input from a branch left whole) stays.
//! A `ShapeEntry` loses `block` per removed channel; a `ConvGroups` attribute loses one per removed
//! channel. The carriers' value-info shapes shrink the same way.
//!
//! Where the slices sit, for the common layers (axes of the constant as stored):
//!
//! | node | producer slice | consumer slice |
//! |---|---|---|
//! | Conv (group 1), ConvTranspose is unprunable | weight axis 0, bias axis 0 | weight axis 1 |
//! | Conv, depthwise (group = channels) | weight axis 0 and bias axis 0 are `PerChannel`, plus `ConvGroups` | — |
//! | Gemm, transB = 1 | B axis 0, C axis 0 (when C has the output's width) | B axis 1 |
//! | Gemm, transB = 0 | B axis 1, C last axis | B axis 0 |
//! | MatMul with a constant right operand `[in, out]` | axis 1 (an `Add` of a bias after it: `PerChannel` axis 0) | axis 0 |
//! | BatchNormalization | scale, B, mean, var: `PerChannel` axis 0 | — |
//! | a `Flatten` or `Reshape` from `[N, C, H, W]` into a Gemm/MatMul | — | the consumer's input axis with `block` = H·W |

use serde::{Deserialize, Serialize};

/// One channel dependency group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelGroup {
    /// A stable name for people and plans: the name of the first layer (in topological order)
    /// that produces the channels, e.g. `"layer1.0.conv1"`.
    pub name: String,
    /// How many channels the group has.
    pub channels: usize,
    /// Every constant tensor slice that moves with the channels.
    pub slices: Vec<Slice>,
    /// Attributes and shape constants that count the group's channels.
    pub edits: Vec<Edit>,
    /// The layers whose outputs carry the channels and whose weight rows are removed: the
    /// convolutions, Gemm and MatMul nodes that compute them. A layer is named as the analysis
    /// names it: its node's first output.
    pub producers: Vec<String>,
    /// The layers (named by their first output) that read the channels as input features and
    /// lose those input columns; repair refits these on the activations they see.
    pub consumers: Vec<String>,
    /// The activations (value names) that carry the channels, each with the axis the channels
    /// are on and the offset they start at (a `Concat` output carries several groups): what
    /// data-driven importance and BatchNormalization re-estimation read.
    pub values: Vec<Carrier>,
    /// Why the group cannot be pruned, when it cannot (a graph output carries its channels, a
    /// Reshape mixes them with another axis, a weight is shared with a node outside the group).
    /// One sentence, naming the node.
    pub unprunable: Option<String>,
}

/// What a tensor slice does for the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A weight (or bias) of a layer that computes the channels: removing them removes rows.
    Producer,
    /// A per-channel parameter the channels pass through: BatchNormalization's scale, bias,
    /// mean and variance; PRelu's slope; a depthwise convolution's weight and bias; a
    /// squeeze-and-excitation gate's last layer.
    PerChannel,
    /// A weight of a layer that reads the channels as input features: removing them removes
    /// columns.
    Consumer,
}

/// A slice of one constant tensor: channel `c` of the group occupies indices
/// `offset + c * block .. offset + (c + 1) * block` along `axis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// The constant's own name (an initializer's, or a `Constant` node's output), as
    /// `GraphIndex::weight` reports it; the slice applies wherever the constant lives.
    pub tensor: String,
    pub axis: usize,
    pub offset: usize,
    /// How many consecutive indices one channel occupies: 1, or the spatial size a `Flatten`
    /// folds into each channel's block of features, or an attention head's width.
    pub block: usize,
    pub role: Role,
    /// The layer that reads the constant, named by its node's first output (for messages and for
    /// repair).
    pub node: String,
}

/// Something other than a tensor slice that counts the group's channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// A depthwise convolution's `group` attribute: it becomes the number of channels kept.
    ConvGroups { node: String },
    /// One entry of a shape constant (a `Reshape` target, a `Split`'s sizes, an `Expand`
    /// shape): the entry counts `offset + channels * block` elements and loses `block` for each
    /// channel removed.
    ShapeEntry {
        tensor: String,
        index: usize,
        block: usize,
        node: String,
    },
}

/// An activation that carries the group's channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carrier {
    pub value: String,
    pub axis: usize,
    pub offset: usize,
    pub block: usize,
}

/// The channels to keep of one group, as indices into the group's original channels (sorted,
/// at least one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keep {
    pub group: String,
    pub channels: Vec<usize>,
}
