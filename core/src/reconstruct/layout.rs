//! A prunable layer's weight seen as matrices of one row per output and one column per input
//! feature, and what its data input is as rows of those features.
//!
//! - Conv `W[O, C/g, k…]`: one matrix per group, rows `O/g`, columns `C/g·∏k` in memory order
//!   (channel, then kernel positions); its inputs are im2col patches in the same order.
//! - Gemm, weight as B: `transB = 1` stores `W[N, K]`, the matrix itself; `transB = 0` stores
//!   `W[K, N]`, the matrix is `Wᵀ`. The inputs are the rows of `A` (columns when `transA`).
//! - Gemm, weight as A (`Y = A·B`, the weight on the left): each row of `A` (stored `[M, K]`,
//!   or `[K, M]` with `transA`) is an output; the inputs are the columns of `B` (its rows with
//!   `transB`).
//! - MatMul `x·W`, `W[K, N]`: the matrix is `Wᵀ`; the inputs are `x` flattened to rows of `K`.
//! - MatMul `W·x`, `W[M, K]`: the matrix is `W`; the inputs are the columns of `x` (`[…, K, N]`).
//!
//! A weight read through a 2-D `Transpose` of a constant is laid out from the stored constant.

use ndarray::{Array2, ArrayView2};

use crate::analysis::Layer;
use crate::analysis::graph::GraphIndex;
use crate::model::attr;
use crate::model::onnx::NodeProto;
use crate::model::weight::Home;

/// How the stored weight tensor maps to matrices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightLayout {
    /// `[rows, columns]` as stored.
    Direct { rows: usize, columns: usize },
    /// Stored `[columns, rows]`: the matrix is the transpose.
    Transposed { rows: usize, columns: usize },
    /// A Conv weight: `groups` blocks of `rows` outputs, each with `columns` inputs.
    Grouped {
        groups: usize,
        rows: usize,
        columns: usize,
    },
}

impl WeightLayout {
    pub fn groups(&self) -> usize {
        match self {
            WeightLayout::Grouped { groups, .. } => *groups,
            _ => 1,
        }
    }

    /// Rows of each group's matrix.
    pub fn rows(&self) -> usize {
        match self {
            WeightLayout::Direct { rows, .. }
            | WeightLayout::Transposed { rows, .. }
            | WeightLayout::Grouped { rows, .. } => *rows,
        }
    }

    /// Columns of each group's matrix (input features).
    pub fn columns(&self) -> usize {
        match self {
            WeightLayout::Direct { columns, .. }
            | WeightLayout::Transposed { columns, .. }
            | WeightLayout::Grouped { columns, .. } => *columns,
        }
    }

    /// Every output, all groups together.
    pub fn outputs(&self) -> usize {
        self.groups() * self.rows()
    }

    pub fn len(&self) -> usize {
        self.outputs() * self.columns()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored values (memory order) as one matrix per group.
    pub fn to_matrices(&self, values: &[f32]) -> Vec<Array2<f32>> {
        assert_eq!(
            values.len(),
            self.len(),
            "the weight holds its layout's values"
        );
        let (rows, columns) = (self.rows(), self.columns());
        match self {
            WeightLayout::Direct { .. } => {
                vec![Array2::from_shape_vec((rows, columns), values.to_vec()).expect("sized")]
            }
            WeightLayout::Transposed { .. } => {
                let stored = ArrayView2::from_shape((columns, rows), values).expect("sized");
                vec![stored.t().to_owned()]
            }
            WeightLayout::Grouped { .. } => values
                .chunks(rows * columns)
                .map(|block| {
                    Array2::from_shape_vec((rows, columns), block.to_vec()).expect("sized")
                })
                .collect(),
        }
    }

    /// The inverse of [`to_matrices`](Self::to_matrices): the values in the stored order.
    pub fn from_matrices(&self, matrices: &[Array2<f32>]) -> Vec<f32> {
        match self {
            WeightLayout::Transposed { .. } => matrices[0].t().iter().copied().collect(),
            _ => matrices.iter().flat_map(|m| m.iter().copied()).collect(),
        }
    }
}

/// How a layer's data input turns into rows of input features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputForm {
    /// Features along the last axis; every leading index is one row.
    Rows,
    /// Features along the second-to-last axis; every column (of every leading index) is one row.
    Columns,
    /// A Conv's input `[N, C, spatial…]`, read as im2col patches.
    Conv(ConvGeometry),
}

/// What im2col needs of a Conv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvGeometry {
    pub group: usize,
    /// Input channels of every group together.
    pub channels: usize,
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub dilations: Vec<usize>,
    pub padding: Padding,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Padding {
    /// Explicit pads, begins then ends (`NOTSET`), or zeros (`VALID`).
    Explicit(Vec<usize>),
    /// `SAME_UPPER` (the odd pad at the end) or `SAME_LOWER` (at the start).
    Same { upper: bool },
}

impl ConvGeometry {
    /// The pads before each spatial dim and the output size, for an input of `spatial` size.
    pub fn output(&self, spatial: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let d = self.kernel.len();
        let mut begins = Vec::with_capacity(d);
        let mut sizes = Vec::with_capacity(d);
        for i in 0..d {
            let reach = (self.kernel[i] - 1) * self.dilations[i] + 1;
            let (begin, end) = match &self.padding {
                Padding::Explicit(pads) => (pads[i], pads[d + i]),
                Padding::Same { upper } => {
                    let out = spatial[i].div_ceil(self.strides[i]);
                    let total = ((out - 1) * self.strides[i] + reach).saturating_sub(spatial[i]);
                    let small = total / 2;
                    if *upper {
                        (small, total - small)
                    } else {
                        (total - small, small)
                    }
                }
            };
            begins.push(begin);
            let padded = spatial[i] + begin + end;
            sizes.push(if padded < reach {
                0
            } else {
                (padded - reach) / self.strides[i] + 1
            });
        }
        (begins, sizes)
    }

    /// Columns of each group's matrix: the group's channels times the kernel's positions.
    pub fn columns(&self) -> usize {
        self.channels / self.group * self.kernel.iter().product::<usize>()
    }
}

/// A prunable layer's weight and input, as matrices.
#[derive(Debug, Clone)]
pub struct LayerLayout {
    /// The node input that reads the weight, and the constant stored for it.
    pub weight: String,
    pub home: Home,
    pub dims: Vec<usize>,
    pub layout: WeightLayout,
    /// The node input that carries the activations.
    pub input: String,
    pub form: InputForm,
    /// Where each output sits in the layer's output, counted from the last axis (1: the last
    /// axis, as Gemm and `x·W` put it; 2: `W·x`'s rows; Conv: its channel axis, 1-based from the
    /// front, is not counted here and is `None`).
    pub output_axis_from_end: Option<usize>,
}

/// Input-statistics bytes (`XᵀX` in f64) one pass over the samples holds at most; layers beyond
/// it go to the next pass.
pub const PASS_BYTES: u64 = 1 << 30;

/// The layers (indices into `layouts`) in passes whose input statistics fit [`PASS_BYTES`]
/// together, in order; a layer bigger than that gets a pass of its own.
pub fn passes<'a>(layouts: impl IntoIterator<Item = &'a LayerLayout>) -> Vec<Vec<usize>> {
    let mut passes: Vec<Vec<usize>> = Vec::new();
    let mut held = 0u64;
    for (l, layout) in layouts.into_iter().enumerate() {
        let bytes = (layout.layout.columns() as u64).pow(2) * 8;
        match passes.last_mut() {
            Some(pass) if held + bytes <= PASS_BYTES => {
                pass.push(l);
                held += bytes;
            }
            _ => {
                passes.push(vec![l]);
                held = bytes;
            }
        }
    }
    passes
}

/// Why a layer's weight cannot be seen as matrices.
pub type Unsupported = String;

/// The layout of a prunable Conv, Gemm or MatMul.
pub fn of(layer: &Layer, node: &NodeProto, index: &GraphIndex) -> Result<LayerLayout, Unsupported> {
    let w_input = layer
        .weight_input
        .ok_or_else(|| "it has no constant weight".to_string())?;
    let weight_name = node
        .input
        .get(w_input)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "its weight input is missing".to_string())?
        .clone();
    let (home, dims, transposed_view) = stored_weight(index, &weight_name)?;
    // The dims the node reads.
    let read: Vec<usize> = if transposed_view {
        dims.iter().rev().copied().collect()
    } else {
        dims.clone()
    };
    let flip = |layout: WeightLayout| match (transposed_view, layout) {
        (false, l) => l,
        (true, WeightLayout::Direct { rows, columns }) => {
            WeightLayout::Transposed { rows, columns }
        }
        (true, WeightLayout::Transposed { rows, columns }) => {
            WeightLayout::Direct { rows, columns }
        }
        (true, l) => l,
    };
    let data_input = |i: usize| -> Result<String, Unsupported> {
        node.input
            .get(i)
            .filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| "its data input is missing".to_string())
    };
    let int = |name: &str, default: i64| attr::int(node, name).unwrap_or(default);
    match layer.op_type.as_str() {
        "Conv" => {
            if read.len() < 3 {
                return Err(format!("its weight has rank {}", read.len()));
            }
            let group = usize::try_from(int("group", 1)).unwrap_or(0);
            let out = read[0];
            if group == 0 || !out.is_multiple_of(group) {
                return Err(format!(
                    "its {out} output channels do not split into {group} groups"
                ));
            }
            let kernel = read[2..].to_vec();
            let d = kernel.len();
            let ints =
                |name: &str, default: usize, len: usize| -> Result<Vec<usize>, Unsupported> {
                    match attr::ints(node, name) {
                        Some(v) if v.len() == len && v.iter().all(|&x| x >= 0) => {
                            Ok(v.iter().map(|&x| x as usize).collect())
                        }
                        Some(v) => Err(format!("its {name} {v:?} do not fit a {d}-D kernel")),
                        None => Ok(vec![default; len]),
                    }
                };
            let strides = ints("strides", 1, d)?;
            let dilations = ints("dilations", 1, d)?;
            if strides.contains(&0) || dilations.contains(&0) {
                return Err("a stride or dilation is 0".into());
            }
            let padding = match attr::string(node, "auto_pad").as_deref() {
                None | Some("NOTSET") => Padding::Explicit(ints("pads", 0, 2 * d)?),
                Some("VALID") => Padding::Explicit(vec![0; 2 * d]),
                Some("SAME_UPPER") => Padding::Same { upper: true },
                Some("SAME_LOWER") => Padding::Same { upper: false },
                Some(other) => return Err(format!("its auto_pad is {other}")),
            };
            let geometry = ConvGeometry {
                group,
                channels: read[1] * group,
                kernel,
                strides,
                dilations,
                padding,
            };
            Ok(LayerLayout {
                weight: weight_name,
                home,
                layout: WeightLayout::Grouped {
                    groups: group,
                    rows: out / group,
                    columns: geometry.columns(),
                },
                dims,
                input: data_input(0)?,
                form: InputForm::Conv(geometry),
                output_axis_from_end: None,
            })
        }
        "Gemm" => {
            if read.len() != 2 {
                return Err(format!("its weight has rank {}", read.len()));
            }
            let (trans_a, trans_b) = (int("transA", 0) != 0, int("transB", 0) != 0);
            let (r0, r1) = (read[0], read[1]);
            // Y = A'·B'. With the weight as B' (= W, or Wᵀ with transB) the outputs are its
            // columns; as A' (= W, or Wᵀ with transA) its rows. Either way the weight is stored
            // output-first exactly when it is read transposed as B or untransposed as A.
            let as_b = w_input == 1;
            let output_first = if as_b { trans_b } else { !trans_a };
            let layout = if output_first {
                WeightLayout::Direct {
                    rows: r0,
                    columns: r1,
                }
            } else {
                WeightLayout::Transposed {
                    rows: r1,
                    columns: r0,
                }
            };
            // The other operand's features run along its rows unless its transpose says not.
            let rows_form = if as_b { !trans_a } else { trans_b };
            let form = if rows_form {
                InputForm::Rows
            } else {
                InputForm::Columns
            };
            let (input, axis) = if as_b {
                (data_input(0)?, 1)
            } else {
                (data_input(1)?, 2)
            };
            Ok(LayerLayout {
                weight: weight_name,
                home,
                dims,
                layout: flip(layout),
                input,
                form,
                output_axis_from_end: Some(axis),
            })
        }
        "MatMul" => {
            if read.len() != 2 {
                return Err(format!(
                    "its weight has rank {} (prunekit reconstructs 2-D MatMul weights)",
                    read.len()
                ));
            }
            let (r0, r1) = (read[0], read[1]);
            let (layout, input, form, axis) = if w_input == 1 {
                (
                    WeightLayout::Transposed {
                        rows: r1,
                        columns: r0,
                    },
                    data_input(0)?,
                    InputForm::Rows,
                    1,
                )
            } else {
                (
                    WeightLayout::Direct {
                        rows: r0,
                        columns: r1,
                    },
                    data_input(1)?,
                    InputForm::Columns,
                    2,
                )
            };
            Ok(LayerLayout {
                weight: weight_name,
                home,
                dims,
                layout: flip(layout),
                input,
                form,
                output_axis_from_end: Some(axis),
            })
        }
        other => Err(format!("{other} is not a Conv, Gemm or MatMul")),
    }
}

/// Where the weight `value` is stored, its stored dims, and whether the node reads it through a
/// 2-D `Transpose`.
fn stored_weight(index: &GraphIndex, value: &str) -> Result<(Home, Vec<usize>, bool), Unsupported> {
    let dims = |t: &crate::model::onnx::TensorProto| -> Vec<usize> {
        t.dims.iter().map(|&d| d.max(0) as usize).collect()
    };
    if let Some(w) = index.weight(value) {
        return Ok((w.home, dims(w.tensor), false));
    }
    if let Some(node) = index.producer(value)
        && crate::analysis::graph::is_default_domain(node)
        && node.op_type() == "Transpose"
        && let Some(w) = node.input.first().and_then(|i| index.weight(i))
        && w.tensor.dims.len() == 2
        && attr::ints(node, "perm").is_none_or(|p| p == [1, 0])
    {
        return Ok((w.home, dims(w.tensor), true));
    }
    Err("it reads its weight through a view other than Identity or a 2-D Transpose".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn matrices_round_trip_in_every_layout() {
        for layout in [
            WeightLayout::Direct {
                rows: 3,
                columns: 4,
            },
            WeightLayout::Transposed {
                rows: 3,
                columns: 4,
            },
            WeightLayout::Grouped {
                groups: 2,
                rows: 3,
                columns: 4,
            },
        ] {
            let values = counting(layout.len());
            let matrices = layout.to_matrices(&values);
            assert_eq!(matrices.len(), layout.groups());
            assert_eq!(matrices[0].dim(), (3, 4));
            assert_eq!(layout.from_matrices(&matrices), values);
        }
        // A stored [K=4, N=3] weight: output n reads input k at values[k·3 + n].
        let t = WeightLayout::Transposed {
            rows: 3,
            columns: 4,
        };
        let m = &t.to_matrices(&counting(12))[0];
        assert_eq!(m[[1, 2]], (2 * 3 + 1) as f32);
        // Group 1's row 0 is output channel 3.
        let g = WeightLayout::Grouped {
            groups: 2,
            rows: 3,
            columns: 4,
        };
        assert_eq!(g.to_matrices(&counting(24))[1][[0, 0]], 12.0);
    }

    #[test]
    fn same_padding_matches_onnx() {
        let geometry = |upper| ConvGeometry {
            group: 1,
            channels: 1,
            kernel: vec![4],
            strides: vec![2],
            dilations: vec![1],
            padding: Padding::Same { upper },
        };
        // in 7, stride 2: out 4, total pad (4-1)·2 + 4 - 7 = 3.
        assert_eq!(geometry(true).output(&[7]), (vec![1], vec![4]));
        assert_eq!(geometry(false).output(&[7]), (vec![2], vec![4]));
    }
}
