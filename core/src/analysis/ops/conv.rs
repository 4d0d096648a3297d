//! Convolutions and pools: sliding windows over the spatial dims of an `[N, C, D1, D2, ...]` input.

use super::{OpContext, Shape, ValueFacts};
use crate::model::attr;
use crate::model::onnx::data_type as dt;

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    let data_type = ctx.data_type(0);
    Some(match op {
        "Conv" => vec![ValueFacts::new(data_type, conv(ctx))],
        "ConvTranspose" => vec![ValueFacts::new(data_type, conv_transpose(ctx))],
        "MaxPool" | "AveragePool" | "LpPool" => {
            let shape = pool(ctx);
            // MaxPool's optional second output holds int64 indices of the same shape.
            vec![
                ValueFacts::new(data_type, shape.clone()),
                ValueFacts::new(dt::INT64, shape),
            ]
        }
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => {
            let shape = ctx.shape(0).filter(|s| s.len() >= 2).map(|s| {
                let mut out = s[..2].to_vec();
                out.resize(s.len(), 1);
                out
            });
            vec![ValueFacts::new(data_type, shape)]
        }
        _ => return None,
    })
}

/// The kernel: the attribute when present, else the weight's spatial dims (the attribute is
/// optional in ONNX, and SparseML's FLOPs fail without it).
pub fn kernel_shape(ctx: &OpContext) -> Option<Vec<u64>> {
    match ctx.ints_attr("kernel_shape") {
        Some(k) => k.iter().map(|&d| u64::try_from(d).ok()).collect(),
        None => ctx
            .shape(1)
            .filter(|w| w.len() >= 2)
            .map(|w| w[2..].to_vec()),
    }
}

struct Window {
    kernel: Vec<u64>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    /// Begin pads then end pads, as in the `pads` attribute.
    pads: Vec<i64>,
    auto_pad: String,
}

impl Window {
    fn of(ctx: &OpContext, kernel: Vec<u64>) -> Option<Window> {
        let n = kernel.len();
        let list = |name: &str, default: i64, len: usize| -> Option<Vec<i64>> {
            match ctx.ints_attr(name) {
                Some(v) if v.len() == len => Some(v.to_vec()),
                Some(_) => None,
                None => Some(vec![default; len]),
            }
        };
        Some(Window {
            strides: list("strides", 1, n)?,
            dilations: list("dilations", 1, n)?,
            pads: list("pads", 0, 2 * n)?,
            auto_pad: attr::string(ctx.node, "auto_pad").unwrap_or_else(|| "NOTSET".into()),
            kernel,
        })
    }

    /// Output size along spatial axis `i` for an input of size `input`.
    fn output(&self, i: usize, input: u64, ceil_mode: bool) -> Option<u64> {
        let (input, k) = (i128::from(input), i128::from(self.kernel[i]));
        let (stride, dilation) = (i128::from(self.strides[i]), i128::from(self.dilations[i]));
        if stride <= 0 || dilation <= 0 {
            return None;
        }
        let reach = dilation * (k - 1) + 1;
        let out = match self.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => (input + stride - 1) / stride,
            "VALID" => (input - reach) / stride + 1,
            _ => {
                let (begin, end) = (
                    i128::from(self.pads[i]),
                    i128::from(self.pads[i + self.kernel.len()]),
                );
                let span = input + begin + end - reach;
                if span < 0 {
                    return None;
                }
                let mut out = if ceil_mode {
                    (span + stride - 1) / stride + 1
                } else {
                    span / stride + 1
                };
                // A last window that would start inside the end padding is dropped (as ONNX Runtime does).
                if ceil_mode && (out - 1) * stride >= input + begin {
                    out -= 1;
                }
                out
            }
        };
        u64::try_from(out).ok().filter(|&o| o > 0)
    }
}

fn spatial(
    ctx: &OpContext,
    x: &Shape,
    channels: u64,
    kernel: Vec<u64>,
    ceil_mode: bool,
) -> Option<Shape> {
    if x.len() != kernel.len() + 2 {
        return None;
    }
    let window = Window::of(ctx, kernel)?;
    let mut out = vec![x[0], channels];
    for (i, &d) in x[2..].iter().enumerate() {
        out.push(window.output(i, d, ceil_mode)?);
    }
    Some(out)
}

fn conv(ctx: &OpContext) -> Option<Shape> {
    let (x, w) = (ctx.shape(0)?, ctx.shape(1)?);
    spatial(ctx, x, *w.first()?, kernel_shape(ctx)?, false)
}

fn pool(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let kernel = kernel_shape(ctx)?;
    spatial(
        ctx,
        x,
        *x.get(1)?,
        kernel,
        ctx.int_attr("ceil_mode", 0) != 0,
    )
}

fn conv_transpose(ctx: &OpContext) -> Option<Shape> {
    let (x, w) = (ctx.shape(0)?, ctx.shape(1)?);
    let group = u64::try_from(ctx.int_attr("group", 1)).ok()?;
    let channels = w.get(1)?.checked_mul(group)?;
    let kernel = kernel_shape(ctx)?;
    let n = kernel.len();
    if x.len() != n + 2 {
        return None;
    }
    if let Some(shape) = ctx.ints_attr("output_shape") {
        let mut out = vec![x[0], channels];
        out.extend(shape.iter().rev().take(n).rev().map(|&d| d.max(0) as u64));
        return Some(out);
    }
    let window = Window::of(ctx, kernel)?;
    let output_padding = ctx
        .ints_attr("output_padding")
        .map(<[i64]>::to_vec)
        .unwrap_or(vec![0; n]);
    let mut out = vec![x[0], channels];
    for i in 0..n {
        let (input, k) = (i128::from(x[i + 2]), i128::from(window.kernel[i]));
        let stride = i128::from(window.strides[i]);
        let reach = i128::from(window.dilations[i]) * (k - 1) + 1;
        let extra = i128::from(*output_padding.get(i)?);
        let size = match window.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => input * stride,
            _ => {
                stride * (input - 1) + extra + reach
                    - i128::from(window.pads[i])
                    - i128::from(window.pads[i + n])
            }
        };
        out.push(u64::try_from(size).ok().filter(|&s| s > 0)?);
    }
    Some(out)
}
