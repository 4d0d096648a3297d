//! Round-to-nearest: each block's scale and zero point from its own values, each weight to its
//! nearest code. No data needed.
//!
//! The weight is read as it is stored, with no transposed copy: a Gemm's `[N, K]` row by row
//! (each block a run of one row), a MatMul's `[K, N]` band by band (the `block` rows of one block
//! of every output at once, each output's range folded along its column, row after row, in the
//! order the row form folds it, so both give the same bytes). Codes go straight into the packed
//! layout (`pack`).

use super::block::{BlockParams, larger_magnitude};
use super::pack::Packed;

/// How a weight's values are laid out, row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// `[N, K]`: one row per output (a Gemm with `transB`, GPTQ's working form).
    Rows,
    /// `[K, N]`: one row per input (MatMul's B).
    Columns,
}

/// Quantizes a weight given `[N, K]` row-major (one row per output).
pub fn quantize(weight: &[f32], k: usize, n: usize, block: usize, symmetric: bool) -> Packed {
    quantize_stored(weight, k, n, Stored::Rows, block, symmetric, &mut |_| {})
}

/// Quantizes a weight of K inputs and N outputs laid out as `stored`. `done` is handed each run
/// of `weight` once it has been read for the last time (about [`DONE_VALUES`] at a time), so a
/// caller reading a mapped payload can hand its pages back as it goes.
pub fn quantize_stored(
    weight: &[f32],
    k: usize,
    n: usize,
    stored: Stored,
    block: usize,
    symmetric: bool,
    done: &mut dyn FnMut(&[f32]),
) -> Packed {
    let mut out = Output::new(k, n, block, symmetric);
    match stored {
        Stored::Rows => by_rows(weight, &mut out, done),
        Stored::Columns => by_bands(weight, &mut out, done),
    }
    out.packed
}

/// Values read between two calls of `done`: 4 MiB of float32.
pub const DONE_VALUES: usize = 1 << 20;

/// The packed weight being filled, block by block.
struct Output {
    packed: Packed,
    symmetric: bool,
}

impl Output {
    fn new(k: usize, n: usize, block: usize, symmetric: bool) -> Output {
        let kb = k.div_ceil(block);
        Output {
            packed: Packed {
                k,
                n,
                block,
                b: vec![0; n * kb * (block / 2)],
                scales: vec![0.0; n * kb],
                zero_points: (!symmetric).then(|| vec![0; n * kb.div_ceil(2)]),
            },
            symmetric,
        }
    }

    /// Stores block `b` of output `n`: its parameters, and its codes, `codes[i * stride]` for
    /// the block's `i`-th weight (the padding past K included).
    fn set(&mut self, n: usize, b: usize, params: &BlockParams, codes: &[u8], stride: usize) {
        let p = &mut self.packed;
        let (kb, half) = (p.k.div_ceil(p.block), p.block / 2);
        p.scales[n * kb + b] = params.scale;
        if let Some(z) = p.zero_points.as_mut() {
            let zp = params.zero_point;
            z[n * kb.div_ceil(2) + b / 2] |= if b.is_multiple_of(2) { zp } else { zp << 4 };
        }
        let bytes = &mut p.b[(n * kb + b) * half..(n * kb + b + 1) * half];
        for (j, byte) in bytes.iter_mut().enumerate() {
            *byte = codes[2 * j * stride] | (codes[(2 * j + 1) * stride] << 4);
        }
    }
}

/// `[N, K]`: each block a run of one row.
fn by_rows(weight: &[f32], out: &mut Output, done: &mut dyn FnMut(&[f32])) {
    let (k, n, block) = (out.packed.k, out.packed.n, out.packed.block);
    let mut codes = vec![0u8; block];
    let rows_per_done = (DONE_VALUES / k.max(1)).max(1);
    for (start, rows) in weight[..n * k]
        .chunks(rows_per_done * k)
        .enumerate()
        .map(|(i, rows)| (i * rows_per_done, rows))
    {
        for (r, row) in rows.chunks_exact(k).enumerate() {
            for (b, part) in row.chunks(block).enumerate() {
                let params = BlockParams::of(part, out.symmetric);
                codes_of(part, &params, &mut codes);
                out.set(start + r, b, &params, &codes, 1);
            }
        }
        done(rows);
    }
}

/// One block's codes, the padding past K coding 0.
fn codes_of(part: &[f32], params: &BlockParams, codes: &mut [u8]) {
    for (c, &v) in codes.iter_mut().zip(part) {
        *c = params.code(v);
    }
    codes[part.len()..].fill(params.code(0.0));
}

/// `[K, N]`: the `block` rows of each block of K at once, every output's block a column of them.
fn by_bands(weight: &[f32], out: &mut Output, done: &mut dyn FnMut(&[f32])) {
    let (k, n, block) = (out.packed.k, out.packed.n, out.packed.block);
    if n == 0 {
        return;
    }
    let mut low = vec![0.0f32; n];
    let mut high = vec![0.0f32; n];
    let mut params = vec![
        BlockParams {
            scale: 1.0,
            zero_point: 0
        };
        n
    ];
    // The band's codes row-major, `codes[i * n + c]`: written along rows, read down columns.
    let mut codes = vec![0u8; block * n];
    for (b, band) in weight[..k * n].chunks(block * n).enumerate() {
        if out.symmetric {
            low.fill(0.0);
            for row in band.chunks_exact(n) {
                for (m, &v) in low.iter_mut().zip(row) {
                    *m = larger_magnitude(*m, v);
                }
            }
            for (p, &m) in params.iter_mut().zip(&low) {
                *p = BlockParams::of_extreme(m);
            }
        } else {
            low.fill(0.0);
            high.fill(0.0);
            for row in band.chunks_exact(n) {
                for ((lo, hi), &v) in low.iter_mut().zip(high.iter_mut()).zip(row) {
                    *lo = lo.min(v);
                    *hi = hi.max(v);
                }
            }
            for ((p, &lo), &hi) in params.iter_mut().zip(&low).zip(&high) {
                *p = BlockParams::of_range(lo, hi);
            }
        }
        let rows = band.len() / n;
        for (row, line) in band.chunks_exact(n).zip(codes.chunks_exact_mut(n)) {
            for ((c, &v), p) in line.iter_mut().zip(row).zip(&params) {
                *c = p.code(v);
            }
        }
        for line in codes.chunks_exact_mut(n).skip(rows) {
            for (c, p) in line.iter_mut().zip(&params) {
                *c = p.code(0.0);
            }
        }
        for (c, p) in params.iter().enumerate() {
            out.set(c, b, p, &codes[c..], n);
        }
        done(band);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[K, N]` band form gives the bytes of the `[N, K]` row form, ties and a short last
    /// block included.
    #[test]
    fn stored_columns_give_the_bytes_of_rows() {
        let (k, n) = (75, 9);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Quarter steps make exact ties and repeated extremes of both signs.
            ((x % 41) as f32 - 20.0) * 0.25
        };
        let nk: Vec<f32> = (0..n * k).map(|_| next()).collect();
        let mut kn = vec![0.0; k * n];
        for r in 0..n {
            for c in 0..k {
                kn[c * n + r] = nk[r * k + c];
            }
        }
        for block in [16, 32] {
            for symmetric in [false, true] {
                let rows = quantize(&nk, k, n, block, symmetric);
                let mut seen = 0;
                let columns =
                    quantize_stored(&kn, k, n, Stored::Columns, block, symmetric, &mut |part| {
                        seen += part.len()
                    });
                assert_eq!(rows, columns, "block {block} symmetric {symmetric}");
                assert_eq!(seen, k * n);
                // The row form is the block arithmetic, block by block.
                for r in 0..n {
                    for b in 0..k.div_ceil(block) {
                        let part = &nk[r * k + b * block..r * k + ((b + 1) * block).min(k)];
                        assert_eq!(rows.params(r, b), BlockParams::of(part, symmetric));
                    }
                }
            }
        }
    }
}
