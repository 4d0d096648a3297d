//! The arithmetic of one block of 4-bit weights: its scale and zero point, and each value's code.
//!
//! A block is `block_size` consecutive weights along K of one output column. A code `q` in
//! `0..=15` stands for `(q − zero_point) · scale`.
//!
//! - Symmetric: the value of largest magnitude `m` (with its sign) becomes code 0, so
//!   `scale = m / −8` and the zero point is 8. All 16 codes are used: `m` is exact and the other
//!   extreme, `−m`, rounds to code 16 and is clipped to 15 (one step off), a smaller error over
//!   the block than a scale of `|m| / 7` that never clips.
//! - With zero points: the range `[min(w, 0), max(w, 0)]` (0 is always in it, so zero stays
//!   exact) spans the 15 steps: `scale = (max − min) / 15`, `zero_point = round(−min / scale)`.
//!
//! A block of zeros gets scale 1 (every code is then the zero point). Rounding is to nearest,
//! ties to even, in float32 throughout, so a reference written with numpy gets the same bytes.

/// The largest 4-bit code.
pub const MAX_CODE: u8 = 15;
/// The zero point of symmetric blocks (MatMulNBits' default when none is stored).
pub const SYMMETRIC_ZERO_POINT: u8 = 8;

/// One block's scale and zero point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockParams {
    pub scale: f32,
    pub zero_point: u8,
}

impl BlockParams {
    /// The parameters of `values` (one block; zeros padding it where K ends change nothing, so
    /// a short last block may be given as it is).
    pub fn of(values: &[f32], symmetric: bool) -> BlockParams {
        if symmetric {
            BlockParams::of_extreme(values.iter().copied().fold(0.0f32, larger_magnitude))
        } else {
            let low = values.iter().copied().fold(0.0f32, f32::min);
            let high = values.iter().copied().fold(0.0f32, f32::max);
            BlockParams::of_range(low, high)
        }
    }

    /// A symmetric block's parameters from its value of largest magnitude (with its sign: the
    /// first one met, folded from 0 with [`larger_magnitude`]).
    pub fn of_extreme(extreme: f32) -> BlockParams {
        let scale = if extreme == 0.0 { 1.0 } else { extreme / -8.0 };
        BlockParams {
            scale,
            zero_point: SYMMETRIC_ZERO_POINT,
        }
    }

    /// A block's parameters with a zero point from its range, folded from 0 (`low ≤ 0 ≤ high`).
    pub fn of_range(low: f32, high: f32) -> BlockParams {
        if high == low {
            return BlockParams {
                scale: 1.0,
                zero_point: 0,
            };
        }
        let scale = (high - low) / f32::from(MAX_CODE);
        let zero_point = round_ties_even(-low / scale).clamp(0.0, f32::from(MAX_CODE)) as u8;
        BlockParams { scale, zero_point }
    }

    /// The code nearest to `value`.
    pub fn code(&self, value: f32) -> u8 {
        (round_ties_even(value / self.scale) + f32::from(self.zero_point))
            .clamp(0.0, f32::from(MAX_CODE)) as u8
    }

    /// The value a code stands for.
    pub fn value(&self, code: u8) -> f32 {
        (f32::from(code) - f32::from(self.zero_point)) * self.scale
    }
}

/// The running value of largest magnitude of a symmetric block: `value` when it is strictly
/// larger than `extreme`, so the first of two opposite extremes stays.
pub fn larger_magnitude(extreme: f32, value: f32) -> f32 {
    if value.abs() > extreme.abs() {
        value
    } else {
        extreme
    }
}

/// `x.round_ties_even()` without a call into libm per weight (x86-64's baseline SSE2 has no
/// rounding instruction, so the method compiles to a call to `rintf`): adding and subtracting
/// 1.5·2²³ leaves the nearest integer, ties to even, for |x| ≤ 2²², where the sum's unit in the
/// last place is 1 and the constant is even. Larger values are clamped first: every caller
/// clamps the result to a 4-bit code anyway.
fn round_ties_even(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    const LIMIT: f32 = 4_194_304.0;
    (x.clamp(-LIMIT, LIMIT) + MAGIC) - MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_the_standard_librarys_ties_to_even() {
        let mut x = -40.0f32;
        while x <= 40.0 {
            assert_eq!(round_ties_even(x), x.round_ties_even(), "{x}");
            x += 0.125;
        }
        for x in [
            0.5f32,
            1.5,
            2.5,
            -0.5,
            -2.5,
            1e-8,
            -1e-8,
            4_194_303.5,
            0.49999997,
        ] {
            assert_eq!(round_ties_even(x), x.round_ties_even(), "{x}");
        }
        assert!(round_ties_even(f32::NAN).is_nan());
    }

    #[test]
    fn symmetric_blocks_map_the_largest_magnitude_to_code_zero() {
        let p = BlockParams::of(&[0.5, -2.0, 1.0, 2.0], true);
        assert_eq!(p.zero_point, 8);
        assert_eq!(p.scale, 0.25);
        assert_eq!(p.code(-2.0), 0);
        assert_eq!(p.code(0.0), 8);
        // The opposite extreme is clipped one step short.
        assert_eq!(p.code(2.0), 15);
        assert_eq!(p.value(p.code(0.5)), 0.5);
    }

    #[test]
    fn asymmetric_blocks_span_their_range_and_keep_zero_exact() {
        let p = BlockParams::of(&[1.0, 4.0, 2.5], false);
        assert_eq!(p.scale, 4.0 / 15.0);
        assert_eq!(p.zero_point, 0);
        assert_eq!(p.code(4.0), 15);
        let p = BlockParams::of(&[-1.0, 2.0], false);
        assert_eq!(p.zero_point, 5);
        assert_eq!(p.value(p.code(0.0)), 0.0);
        assert_eq!(BlockParams::of(&[0.0, 0.0], false).code(0.0), 0);
        assert_eq!(BlockParams::of(&[0.0; 4], true).code(0.0), 8);
    }
}
