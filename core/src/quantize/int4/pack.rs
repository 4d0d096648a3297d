//! A weight's 4-bit codes laid out as ONNX Runtime's `MatMulNBits` reads them.
//!
//! For a weight of K inputs and N outputs in blocks of `block` along K (`k_blocks = ⌈K/block⌉`,
//! the last block padded with zeros):
//! - `B`: uint8 `[N, k_blocks, block/2]`: output `n`'s codes in K order, two to a byte, the
//!   first in the low nibble;
//! - `scales`: float `[N · k_blocks]`, output-major;
//! - `zero_points` (absent when symmetric: the operator's default is 8): uint8
//!   `[N · ⌈k_blocks/2⌉]`, each output's zero points two to a byte in the same order, an odd
//!   count leaving the last high nibble 0.

use super::block::BlockParams;
use crate::model::onnx::TensorProto;
use crate::quantize::build;

/// The quantized form of one weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub k: usize,
    pub n: usize,
    pub block: usize,
    pub b: Vec<u8>,
    pub scales: Vec<f32>,
    pub zero_points: Option<Vec<u8>>,
}

impl Packed {
    pub fn k_blocks(&self) -> usize {
        self.k.div_ceil(self.block)
    }

    /// The dims of `B`.
    pub fn b_dims(&self) -> Vec<i64> {
        vec![
            self.n as i64,
            self.k_blocks() as i64,
            (self.block / 2) as i64,
        ]
    }

    /// The weight it stands for, `[N, K]` row-major.
    pub fn dequantized(&self) -> Vec<f32> {
        let (kb, half) = (self.k_blocks(), self.block / 2);
        let mut out = vec![0.0; self.n * self.k];
        for n in 0..self.n {
            for b in 0..kb {
                let params = self.params(n, b);
                for i in 0..self.block {
                    let k = b * self.block + i;
                    if k >= self.k {
                        break;
                    }
                    let byte = self.b[(n * kb + b) * half + i / 2];
                    let code = if i.is_multiple_of(2) {
                        byte & 0x0f
                    } else {
                        byte >> 4
                    };
                    out[n * self.k + k] = params.value(code);
                }
            }
        }
        out
    }

    /// Block `b` of output `n`'s scale and zero point.
    pub fn params(&self, n: usize, b: usize) -> BlockParams {
        let kb = self.k_blocks();
        let zero_point = match &self.zero_points {
            None => super::block::SYMMETRIC_ZERO_POINT,
            Some(z) => {
                let byte = z[n * kb.div_ceil(2) + b / 2];
                if b.is_multiple_of(2) {
                    byte & 0x0f
                } else {
                    byte >> 4
                }
            }
        };
        BlockParams {
            scale: self.scales[n * kb + b],
            zero_point,
        }
    }
}

/// A packed weight as the tensors `MatMulNBits` reads (unnamed: the graph rewrite names them),
/// their payloads out of the heap (`model::spill`): a model's packed weights are chosen one
/// layer at a time and kept until the graph is rewritten and written, so none of them is held
/// in memory meanwhile.
#[derive(Debug, Clone)]
pub struct PackedTensors {
    pub k: usize,
    pub n: usize,
    pub block: usize,
    pub b: TensorProto,
    pub scales: TensorProto,
    pub zero_points: Option<TensorProto>,
}

impl Packed {
    pub fn into_tensors(self) -> PackedTensors {
        let b_dims = self.b_dims();
        PackedTensors {
            k: self.k,
            n: self.n,
            block: self.block,
            b: build::u8_tensor(String::new(), b_dims, &self.b),
            scales: build::f32_tensor(String::new(), vec![self.scales.len() as i64], &self.scales),
            zero_points: self
                .zero_points
                .map(|z| build::u8_tensor(String::new(), vec![z.len() as i64], &z)),
        }
    }
}

impl PackedTensors {
    /// The packed weight read back from its tensors (to dequantize it, to compare).
    pub fn packed(&self) -> Packed {
        let raw = |t: &TensorProto| t.raw_data.as_deref().unwrap_or_default().to_vec();
        Packed {
            k: self.k,
            n: self.n,
            block: self.block,
            b: raw(&self.b),
            scales: raw(&self.scales)
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            zero_points: self.zero_points.as_ref().map(raw),
        }
    }
}

/// Packs the codes and block parameters of a `[N, K]` weight: `codes` row-major `[N, K]`,
/// `params` `[N, k_blocks]`.
pub fn pack(
    codes: &[u8],
    params: &[BlockParams],
    k: usize,
    n: usize,
    block: usize,
    symmetric: bool,
) -> Packed {
    let kb = k.div_ceil(block);
    let half = block / 2;
    debug_assert_eq!(codes.len(), n * k);
    debug_assert_eq!(params.len(), n * kb);
    let mut b = vec![0u8; n * kb * half];
    for row in 0..n {
        for (i, &code) in codes[row * k..(row + 1) * k].iter().enumerate() {
            let (blk, at) = (i / block, i % block);
            let byte = &mut b[(row * kb + blk) * half + at / 2];
            *byte |= if at.is_multiple_of(2) {
                code
            } else {
                code << 4
            };
        }
        // Padding past K codes the value 0 of its block.
        for at in k - (kb - 1) * block..block {
            let code = params[row * kb + kb - 1].code(0.0);
            let byte = &mut b[(row * kb + kb - 1) * half + at / 2];
            *byte |= if at.is_multiple_of(2) {
                code
            } else {
                code << 4
            };
        }
    }
    let zero_points = (!symmetric).then(|| {
        let per_row = kb.div_ceil(2);
        let mut z = vec![0u8; n * per_row];
        for row in 0..n {
            for blk in 0..kb {
                let zp = params[row * kb + blk].zero_point;
                z[row * per_row + blk / 2] |= if blk.is_multiple_of(2) { zp } else { zp << 4 };
            }
        }
        z
    });
    Packed {
        k,
        n,
        block,
        b,
        scales: params.iter().map(|p| p.scale).collect(),
        zero_points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_pack_low_nibble_first_and_round_trip() {
        // K = 5 in blocks of 4: two blocks, the second padded with three zeros.
        let weight = [1.0f32, -2.0, 0.5, 3.0, -1.0, 0.25, 0.0, -0.75, 2.0, 1.5];
        let (k, n, block) = (5, 2, 4);
        for symmetric in [true, false] {
            let mut params = Vec::new();
            let mut codes = Vec::new();
            for row in 0..n {
                for blk in 0..2 {
                    let mut values = [0.0f32; 4];
                    for (i, v) in values.iter_mut().enumerate() {
                        if blk * block + i < k {
                            *v = weight[row * k + blk * block + i];
                        }
                    }
                    params.push(BlockParams::of(&values, symmetric));
                }
                for i in 0..k {
                    codes.push(params[row * 2 + i / block].code(weight[row * k + i]));
                }
            }
            let packed = pack(&codes, &params, k, n, block, symmetric);
            assert_eq!(packed.b.len(), 2 * 2 * 2);
            assert_eq!(packed.b[0], codes[0] | (codes[1] << 4));
            assert_eq!(packed.zero_points.is_none(), symmetric);
            let back = packed.dequantized();
            for (w, d) in weight.iter().zip(&back) {
                assert!((w - d).abs() <= 3.0 / 15.0 + 1e-6, "{w} {d}");
            }
        }
    }
}
