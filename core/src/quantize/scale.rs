//! The arithmetic of int8 quantization, shared by the static and dynamic rewrites.
//!
//! Activations are uint8 and asymmetric: the calibrated range is widened to hold 0 (so zero
//! padding and ReLU's zeros are exact) and mapped onto 0..=255. Weights are int8 and symmetric
//! (zero point 0) on -127..=127, one scale per output channel or per tensor: ONNX Runtime's
//! integer kernels on x86 want exactly this pairing (u8 activations, s8 weights), and -128 is left
//! out so that VNNI's u8×s8 pair sums cannot saturate.

/// Scale and zero point of one uint8 activation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationParams {
    pub scale: f32,
    pub zero_point: u8,
}

impl ActivationParams {
    /// The parameters that cover `[min, max]` widened to hold 0.
    pub fn of_range(min: f32, max: f32) -> ActivationParams {
        let lo = min.min(0.0);
        let hi = max.max(0.0);
        let span = hi - lo;
        if !span.is_finite() || span <= f32::MIN_POSITIVE {
            // A constant zero (or a broken range): any scale represents it exactly.
            return ActivationParams {
                scale: 1.0,
                zero_point: 0,
            };
        }
        let scale = span / 255.0;
        let zero_point = (-lo / scale).round().clamp(0.0, 255.0) as u8;
        ActivationParams { scale, zero_point }
    }
}

/// The uint8 values of `values` under `params`, as QuantizeLinear computes them.
pub fn quantize_activation(values: &[f32], params: ActivationParams) -> Vec<u8> {
    values
        .iter()
        .map(|v| {
            let q = (v / params.scale).round_ties_even() + f32::from(params.zero_point);
            q.clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The largest int8 magnitude a weight takes.
const WEIGHT_MAX: f32 = 127.0;

/// How a weight tensor's channels are laid out, for per-channel scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelLayout {
    /// The channel axis's length (1 for per-tensor).
    pub channels: usize,
    /// Elements after the channel axis in row-major order (for flat index `i`, the channel is
    /// `(i / inner) % channels`).
    pub inner: usize,
}

impl ChannelLayout {
    pub const PER_TENSOR: ChannelLayout = ChannelLayout {
        channels: 1,
        inner: 1,
    };

    /// The layout of `dims` split along `axis`; `None` when the axis is out of range.
    pub fn along(dims: &[i64], axis: usize) -> Option<ChannelLayout> {
        let channels = usize::try_from(*dims.get(axis)?).ok()?;
        let inner = dims[axis + 1..]
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(usize::try_from(d).ok()?))?;
        (channels > 0 && inner > 0).then_some(ChannelLayout { channels, inner })
    }

    fn channel(self, index: usize) -> usize {
        (index / self.inner) % self.channels
    }
}

/// The symmetric scale of each channel: its largest magnitude over 127 (1 for an all-zero
/// channel, which then quantizes to zeros).
pub fn weight_scales(values: &[f32], layout: ChannelLayout) -> Vec<f32> {
    let mut max_abs = vec![0.0f32; layout.channels];
    for (i, v) in values.iter().enumerate() {
        let c = layout.channel(i);
        max_abs[c] = max_abs[c].max(v.abs());
    }
    max_abs
        .into_iter()
        .map(|m| {
            if m.is_finite() && m > 0.0 {
                m / WEIGHT_MAX
            } else {
                1.0
            }
        })
        .collect()
}

/// The int8 values of a weight under `scales` (zero point 0).
pub fn quantize_weight(values: &[f32], layout: ChannelLayout, scales: &[f32]) -> Vec<i8> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let q = (v / scales[layout.channel(i)]).round_ties_even();
            q.clamp(-WEIGHT_MAX, WEIGHT_MAX) as i8
        })
        .collect()
}

/// The int32 bias of an integer kernel: the float bias over `input_scale × weight_scale` of its
/// channel, so that it adds straight onto the int32 accumulator. The scales come back one per
/// weight scale (one for a per-tensor weight).
pub fn quantize_bias(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> (Vec<i32>, Vec<f32>) {
    let scales: Vec<f32> = weight_scales.iter().map(|w| input_scale * w).collect();
    let values = bias
        .iter()
        .enumerate()
        .map(|(c, b)| {
            let s = scales[if scales.len() == 1 { 0 } else { c }];
            (b / s)
                .round_ties_even()
                .clamp(i32::MIN as f32, i32::MAX as f32) as i32
        })
        .collect();
    (values, scales)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x` as ONNX Runtime's QuantizeLinear followed by DequantizeLinear returns it.
    fn fake_quantize(p: ActivationParams, x: f32) -> f32 {
        let q = (x / p.scale).round_ties_even() + f32::from(p.zero_point);
        (q.clamp(0.0, 255.0) - f32::from(p.zero_point)) * p.scale
    }

    /// The weight as the quantized model computes with it: quantized then dequantized.
    fn fake_quantize_weight(values: &[f32], layout: ChannelLayout) -> Vec<f32> {
        let scales = weight_scales(values, layout);
        quantize_weight(values, layout, &scales)
            .into_iter()
            .enumerate()
            .map(|(i, q)| f32::from(q) * scales[layout.channel(i)])
            .collect()
    }

    #[test]
    fn activation_ranges_hold_zero_exactly() {
        let p = ActivationParams::of_range(0.5, 2.0);
        assert_eq!(p.zero_point, 0);
        assert_eq!(fake_quantize(p, 0.0), 0.0);
        let p = ActivationParams::of_range(-1.0, 3.0);
        assert_eq!(p.zero_point, 64);
        assert_eq!(fake_quantize(p, 0.0), 0.0);
        assert!((fake_quantize(p, 1.0) - 1.0).abs() <= p.scale / 2.0);
        // Values beyond the range clip to its ends.
        assert!((fake_quantize(p, 10.0) - 3.0).abs() <= p.scale);
        assert_eq!(ActivationParams::of_range(0.0, 0.0).scale, 1.0);
    }

    #[test]
    fn per_channel_weights_use_each_channels_largest_magnitude() {
        // Two output channels of a 2x1x1x2 conv weight.
        let w = [1.0, -0.5, 0.015, -0.02];
        let layout = ChannelLayout::along(&[2, 1, 1, 2], 0).unwrap();
        assert_eq!(
            layout,
            ChannelLayout {
                channels: 2,
                inner: 2
            }
        );
        let scales = weight_scales(&w, layout);
        assert_eq!(scales, vec![1.0 / 127.0, 0.02 / 127.0]);
        assert_eq!(
            quantize_weight(&w, layout, &scales),
            vec![127, -64, 95, -127]
        );
        let fq = fake_quantize_weight(&w, layout);
        for (a, b) in w.iter().zip(&fq) {
            assert!((a - b).abs() <= 0.5 / 127.0, "{a} vs {b}");
        }
        // Per tensor, the small channel loses most of its precision.
        let coarse = fake_quantize_weight(&w, ChannelLayout::PER_TENSOR);
        assert!((coarse[2] - w[2]).abs() > 10.0 * (fq[2] - w[2]).abs());
    }

    #[test]
    fn columns_are_channels_along_the_last_axis() {
        let layout = ChannelLayout::along(&[3, 2], 1).unwrap();
        let w = [1.0, 10.0, -2.0, 5.0, 0.5, -20.0];
        assert_eq!(weight_scales(&w, layout), vec![2.0 / 127.0, 20.0 / 127.0]);
        assert_eq!(ChannelLayout::along(&[3, 2], 2), None);
    }

    #[test]
    fn bias_scales_are_input_scale_times_weight_scale() {
        let (q, s) = quantize_bias(&[0.5, -1.0], 0.1, &[0.01, 0.02]);
        assert_eq!(q, vec![500, -500]);
        assert!((s[0] - 0.001).abs() < 1e-9 && (s[1] - 0.002).abs() < 1e-9);
    }
}
