//! Weight-only int4 quantization: the constant weights of MatMul and Gemm become 4-bit codes in
//! blocks along K, each block with its own float scale (and zero point), run by ONNX Runtime's
//! `com.microsoft::MatMulNBits`; activations stay float.
//!
//! `block` holds the arithmetic of one block, `pack` the layout MatMulNBits reads, `rtn` and
//! `gptq` the two ways of choosing the codes (round-to-nearest; GPTQ's error compensation on
//! calibration inputs, `calibrate` collecting their statistics), `rewrite` the graph change.
//! docs/analysis.md ("Int4 weight-only quantization") says the format in full.

pub mod block;
mod calibrate;
pub mod gptq;
pub mod pack;
mod rewrite;
pub mod rtn;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use pack::{Packed, PackedTensors};
pub use rewrite::{DOMAIN, rewrite};

use super::targets::Target;
use crate::analysis::Skipped;
use crate::error::Result;
use crate::model::onnx::GraphProto;
use crate::progress::{Cancel, Progress};
use crate::runtime::Batch;

/// The block sizes MatMulNBits takes that prunekit writes.
pub const BLOCKS: [usize; 3] = [32, 64, 128];

/// How the 4-bit codes are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Each weight to its nearest code: no data needed.
    Rtn,
    /// GPTQ: codes chosen column by column, each rounding error compensated on the columns left,
    /// weighted by the layer's calibration inputs.
    Gptq,
}

impl Rounding {
    pub fn name(self) -> &'static str {
        match self {
            Rounding::Rtn => "rtn",
            Rounding::Gptq => "gptq",
        }
    }

    pub fn parse(text: &str) -> Option<Rounding> {
        match text {
            "rtn" => Some(Rounding::Rtn),
            "gptq" => Some(Rounding::Gptq),
            _ => None,
        }
    }
}

/// What an int4 quantization asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Int4Settings {
    /// Weights per block along K: 32, 64 or 128.
    pub block: usize,
    pub rounding: Rounding,
    /// No zero points: each block is symmetric around 0.
    pub symmetric: bool,
}

impl Default for Int4Settings {
    /// Blocks of 32 (the smallest, the closest to the float weights: one f32 scale per 32
    /// weights, 5 bits a weight with its zero point), with zero points (a block's range need
    /// not be centred on 0), round-to-nearest (no calibration data needed).
    fn default() -> Int4Settings {
        Int4Settings {
            block: 32,
            rounding: Rounding::Rtn,
            symmetric: false,
        }
    }
}

impl Int4Settings {
    /// "int4 (rtn, blocks of 32, zero points)".
    pub fn describe(&self) -> String {
        format!(
            "int4 ({}, blocks of {}, {})",
            self.rounding.name(),
            self.block,
            if self.symmetric {
                "symmetric"
            } else {
                "zero points"
            }
        )
    }
}

/// A target's weight as `[N, K]` row-major (one row per output), with K and N.
pub fn weight_matrix(target: &Target, graph: &GraphProto) -> Result<(Vec<f32>, usize, usize)> {
    let values = target.weight_values(graph)?;
    let (rows, cols) = (
        target.weight_dims[0] as usize,
        target.weight_dims[1] as usize,
    );
    if target.transposed_weight {
        // A Gemm with transB stores [N, K]: the matrix as it is.
        return Ok((values, cols, rows));
    }
    let (k, n) = (rows, cols);
    // Transposed in tiles, so both the reads and the writes stay within a few cache lines.
    const TILE: usize = 32;
    let mut out = vec![0.0; values.len()];
    for r0 in (0..k).step_by(TILE) {
        for c0 in (0..n).step_by(TILE) {
            for r in r0..(r0 + TILE).min(k) {
                for c in c0..(c0 + TILE).min(n) {
                    out[c * k + r] = values[r * n + c];
                }
            }
        }
    }
    Ok((out, k, n))
}

/// What choosing the 4-bit weights gave.
pub struct Chosen {
    /// Each target's packed weight, by layer name.
    pub packed: HashMap<String, PackedTensors>,
    /// Targets that could not be quantized, with the reason.
    pub skipped: Vec<Skipped>,
    pub notes: Vec<String>,
}

/// Each target's packed weight, by layer name, and the layers that could not be quantized with
/// the reason. GPTQ runs the float model on `batches` first (one progress step per batch and
/// pass); RTN reads nothing but the weights.
pub fn quantize_targets(
    proto: &crate::model::onnx::ModelProto,
    analysis: &crate::ModelAnalysis,
    targets: &[Target],
    settings: &Int4Settings,
    batches: &[Batch],
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Chosen> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| crate::Error::Usage("the model has no graph to quantize.".into()))?;
    match settings.rounding {
        Rounding::Rtn => Ok(Chosen {
            packed: rtn_all(graph, targets, settings, progress, cancel)?,
            skipped: Vec::new(),
            notes: Vec::new(),
        }),
        Rounding::Gptq => calibrate::gptq_all(
            proto, analysis, targets, settings, batches, progress, cancel,
        ),
    }
}

/// Round-to-nearest on every target, on every core: each worker takes the largest weight left
/// (so the last to finish are small ones), reads it where it is stored (a mapped payload is read
/// in place, its pages handed back as each run is read) and spills its packed tensors.
fn rtn_all(
    graph: &GraphProto,
    targets: &[Target],
    settings: &Int4Settings,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<HashMap<String, PackedTensors>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..targets.len()).collect();
    let size = |t: &Target| t.weight_dims.iter().product::<i64>();
    order.sort_by_key(|&i| std::cmp::Reverse(size(&targets[i])));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(order.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut packed = HashMap::new();
    let mut failed = None;
    std::thread::scope(|scope| {
        let (sender, results) = std::sync::mpsc::channel();
        for _ in 0..workers {
            let sender = sender.clone();
            let (order, next) = (&order, &next);
            scope.spawn(move || {
                while !cancel.is_cancelled() {
                    let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let result = rtn_target(&targets[i], graph, settings);
                    if sender.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (done, (i, result)) in results.iter().enumerate() {
            match result {
                Ok(p) => {
                    packed.insert(targets[i].name.clone(), p);
                }
                Err(err) => {
                    failed.get_or_insert(err);
                    // The workers stop at their next weight.
                    next.store(order.len(), Ordering::Relaxed);
                }
            }
            progress.report(
                done as u64 + 1,
                targets.len() as u64,
                "int4 round-to-nearest",
            );
        }
    });
    cancel.check()?;
    match failed {
        Some(err) => Err(err),
        None => Ok(packed),
    }
}

/// One target's packed weight by round-to-nearest, read as it is stored.
fn rtn_target(
    target: &Target,
    graph: &GraphProto,
    settings: &Int4Settings,
) -> Result<PackedTensors> {
    let unreadable = || {
        crate::Error::Usage(format!(
            "weight '{}' of layer {} has an unreadable payload; export the model again.",
            target.weight, target.name
        ))
    };
    let tensor = crate::model::weight::stored(graph, target.weight_home).ok_or_else(unreadable)?;
    let (rows, cols) = (
        target.weight_dims[0] as usize,
        target.weight_dims[1] as usize,
    );
    let (k, n, stored) = if target.transposed_weight {
        (cols, rows, rtn::Stored::Rows)
    } else {
        (rows, cols, rtn::Stored::Columns)
    };
    let values = crate::model::tensor::f32_view(&tensor).ok_or_else(unreadable)?;
    if values.len() != k * n {
        return Err(unreadable());
    }
    let mapped = matches!(values, std::borrow::Cow::Borrowed(_));
    let p = rtn::quantize_stored(
        &values,
        k,
        n,
        stored,
        settings.block,
        settings.symmetric,
        &mut |run| {
            if mapped {
                crate::model::pages::release_f32(run);
            }
        },
    );
    Ok(p.into_tensors())
}

#[cfg(test)]
mod tests;
