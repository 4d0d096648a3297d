//! Round-to-nearest: each block's scale and zero point from its own values, each weight to its
//! nearest code. No data needed.

use super::block::BlockParams;
use super::pack::{Packed, pack};

/// Quantizes a weight given `[N, K]` row-major (one row per output).
pub fn quantize(weight: &[f32], k: usize, n: usize, block: usize, symmetric: bool) -> Packed {
    let kb = k.div_ceil(block);
    let mut params = Vec::with_capacity(n * kb);
    let mut codes = Vec::with_capacity(n * k);
    let mut values = vec![0.0f32; block];
    for row in weight.chunks_exact(k).take(n) {
        let first = params.len();
        for b in 0..kb {
            let part = &row[b * block..((b + 1) * block).min(k)];
            values.fill(0.0);
            values[..part.len()].copy_from_slice(part);
            params.push(BlockParams::of(&values, symmetric));
        }
        codes.extend(
            row.iter()
                .enumerate()
                .map(|(i, &v)| params[first + i / block].code(v)),
        );
    }
    pack(&codes, &params, k, n, block, symmetric)
}
