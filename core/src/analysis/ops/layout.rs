//! Ops that move data without arithmetic: reshapes, transposes, concatenation, slicing, gathering,
//! padding, resizing. Small integer values are carried through them (shape arithmetic).

use super::{OpContext, Shape, ValueFacts, axis, broadcast, numel};

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    let data_type = ctx.data_type(0);
    let one = |shape: Option<Shape>| vec![ValueFacts::new(data_type, shape)];
    Some(match op {
        "Identity" => vec![ctx.facts(0).cloned().unwrap_or_default()],
        "Reshape" => vec![keep_ints(ctx, reshape(ctx))],
        "Flatten" => one(flatten(ctx)),
        "Transpose" => one(transpose(ctx)),
        "Squeeze" => vec![keep_ints(ctx, squeeze(ctx))],
        "Unsqueeze" => vec![keep_ints(ctx, unsqueeze(ctx))],
        "Concat" => vec![concat(ctx)],
        "Split" => split(ctx),
        "Slice" => vec![slice(ctx)],
        "Gather" => vec![gather(ctx)],
        "Expand" => one(ctx
            .ints(1)
            .and_then(to_shape)
            .and_then(|s| broadcast([ctx.shape(0)?, &s]))),
        "Tile" => one(tile(ctx)),
        "Pad" => one(pad(ctx)),
        "Resize" | "Upsample" => one(resize(ctx)),
        "DepthToSpace" | "SpaceToDepth" => one(depth_space(op, ctx)),
        _ => return None,
    })
}

/// Dims from folded integers; negative entries are not sizes.
fn to_shape(ints: &[i64]) -> Option<Shape> {
    ints.iter().map(|&d| u64::try_from(d).ok()).collect()
}

/// A reshaped integer tensor keeps its values (flattened order does not change).
fn keep_ints(ctx: &OpContext, shape: Option<Shape>) -> ValueFacts {
    match (shape, ctx.ints(0)) {
        (Some(shape), Some(ints)) => ValueFacts::with_ints(ctx.data_type(0), shape, ints.to_vec()),
        (shape, _) => ValueFacts::new(ctx.data_type(0), shape),
    }
}

fn reshape(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let target = ctx.ints(1)?;
    let allow_zero = ctx.int_attr("allowzero", 0) != 0;
    let mut out: Vec<Option<u64>> = Vec::with_capacity(target.len());
    for (i, &d) in target.iter().enumerate() {
        out.push(match d {
            0 if !allow_zero => Some(*x.get(i)?),
            -1 => None,
            d => Some(u64::try_from(d).ok()?),
        });
    }
    let n_unknown = out.iter().filter(|d| d.is_none()).count();
    let total = numel(x)?;
    let known = out
        .iter()
        .flatten()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    match n_unknown {
        0 => (known == total).then(|| out.into_iter().flatten().collect()),
        1 if known > 0 && total % known == 0 => Some(
            out.into_iter()
                .map(|d| d.unwrap_or(total / known))
                .collect(),
        ),
        _ => None,
    }
}

fn flatten(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let a = ctx.int_attr("axis", 1);
    let a = if a < 0 { a + x.len() as i64 } else { a };
    if !(0..=x.len() as i64).contains(&a) {
        return None;
    }
    let (head, tail) = x.split_at(a as usize);
    Some(vec![numel(head)?, numel(tail)?])
}

fn transpose(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let perm: Vec<i64> = match ctx.ints_attr("perm") {
        Some(p) => p.to_vec(),
        None => (0..x.len() as i64).rev().collect(),
    };
    if perm.len() != x.len() {
        return None;
    }
    let mut seen = vec![false; x.len()];
    perm.iter()
        .map(|&p| {
            let p = axis(p, x.len())?;
            (!std::mem::replace(&mut seen[p], true)).then_some(x[p])
        })
        .collect()
}

fn squeeze(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    match ctx.axes(1) {
        None if !ctx.has_input(1) => Some(x.iter().copied().filter(|&d| d != 1).collect()),
        None => None,
        Some(axes) => {
            let axes: Vec<usize> = axes
                .iter()
                .map(|&a| axis(a, x.len()))
                .collect::<Option<_>>()?;
            if axes.iter().any(|&a| x[a] != 1) {
                return None;
            }
            Some(
                x.iter()
                    .enumerate()
                    .filter(|(i, _)| !axes.contains(i))
                    .map(|(_, &d)| d)
                    .collect(),
            )
        }
    }
}

fn unsqueeze(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let axes = ctx.axes(1)?;
    let rank = x.len() + axes.len();
    let axes: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Option<_>>()?;
    let mut rest = x.iter();
    (0..rank)
        .map(|i| {
            if axes.contains(&i) {
                Some(1)
            } else {
                rest.next().copied()
            }
        })
        .collect()
}

fn concat(ctx: &OpContext) -> ValueFacts {
    let data_type = ctx.data_type(0);
    let shapes: Option<Vec<&Shape>> = (0..ctx.node.input.len()).map(|i| ctx.shape(i)).collect();
    let shape = shapes.and_then(|shapes| {
        let first = shapes.first()?;
        let a = axis(ctx.int_attr("axis", 0), first.len())?;
        let mut out = (*first).clone();
        out[a] = 0;
        for s in &shapes {
            let same_rest =
                s.len() == first.len() && (0..s.len()).all(|i| i == a || s[i] == first[i]);
            if !same_rest {
                return None;
            }
            out[a] = out[a].checked_add(s[a])?;
        }
        Some(out)
    });
    let ints: Option<Vec<i64>> = (0..ctx.node.input.len())
        .map(|i| ctx.ints(i))
        .collect::<Option<Vec<_>>>()
        .map(|parts| parts.concat());
    match (shape, ints) {
        (Some(shape), Some(ints)) if shape.len() == 1 => {
            ValueFacts::with_ints(data_type, shape, ints)
        }
        (shape, _) => ValueFacts::new(data_type, shape),
    }
}

fn split(ctx: &OpContext) -> Vec<ValueFacts> {
    let data_type = ctx.data_type(0);
    let n_outputs = ctx.node.output.len();
    let shapes = (|| {
        let x = ctx.shape(0)?;
        let a = axis(ctx.int_attr("axis", 0), x.len())?;
        let sizes: Vec<u64> = match ctx
            .ints_attr("split")
            .map(<[i64]>::to_vec)
            .or_else(|| ctx.ints(1).map(<[i64]>::to_vec))
        {
            Some(sizes) => to_shape(&sizes)?,
            None => {
                // Equal parts; since opset 18 the last may be smaller.
                let n = n_outputs as u64;
                let part = x[a].div_ceil(n.max(1));
                (0..n)
                    .map(|i| part.min(x[a].saturating_sub(i * part)))
                    .collect()
            }
        };
        if sizes.len() != n_outputs
            || sizes.iter().try_fold(0u64, |acc, &s| acc.checked_add(s)) != Some(x[a])
        {
            return None;
        }
        Some(
            sizes
                .into_iter()
                .map(|s| {
                    let mut out = x.clone();
                    out[a] = s;
                    out
                })
                .collect::<Vec<_>>(),
        )
    })();
    match shapes {
        Some(shapes) => shapes
            .into_iter()
            .map(|s| ValueFacts::new(data_type, Some(s)))
            .collect(),
        None => vec![ValueFacts::new(data_type, None); n_outputs],
    }
}

/// Slice with opset-10+ inputs (starts, ends, axes, steps), or opset-1 attributes.
fn slice(ctx: &OpContext) -> ValueFacts {
    let data_type = ctx.data_type(0);
    let result = (|| {
        let x = ctx.shape(0)?;
        let (starts, ends, axes, steps) = if ctx.opset < 10 {
            (
                ctx.ints_attr("starts")?.to_vec(),
                ctx.ints_attr("ends")?.to_vec(),
                ctx.ints_attr("axes").map(<[i64]>::to_vec),
                None,
            )
        } else {
            let optional = |i: usize| {
                if ctx.has_input(i) {
                    ctx.ints(i).map(|v| Some(v.to_vec()))
                } else {
                    Some(None)
                }
            };
            (
                ctx.ints(1)?.to_vec(),
                ctx.ints(2)?.to_vec(),
                optional(3)?,
                optional(4)?,
            )
        };
        let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
        if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return None;
        }
        let mut out = x.clone();
        let mut ranges: Vec<(i128, i128, i128)> = x.iter().map(|&d| (0, d as i128, 1)).collect();
        for i in 0..starts.len() {
            let a = axis(axes[i], x.len())?;
            let dim = x[a] as i128;
            let step = steps[i] as i128;
            if step == 0 {
                return None;
            }
            let clamp = |v: i64, lo: i128, hi: i128| {
                let v = v as i128;
                (if v < 0 { v + dim } else { v }).clamp(lo, hi)
            };
            let (start, end, len) = if step > 0 {
                let (s, e) = (clamp(starts[i], 0, dim), clamp(ends[i], 0, dim));
                (s, e, ((e - s) + step - 1).div_euclid(step).max(0))
            } else {
                let (s, e) = (clamp(starts[i], 0, dim - 1), clamp(ends[i], -1, dim - 1));
                (s, e, ((s - e) + (-step) - 1).div_euclid(-step).max(0))
            };
            out[a] = u64::try_from(len).ok()?;
            ranges[a] = (start, end, step);
        }
        // Fold 1-D integer slices (`Shape → Slice` takes a shape's tail).
        let ints = match (ctx.ints(0), x.len()) {
            (Some(values), 1) => {
                let (start, _, step) = ranges[0];
                (0..out[0] as i128)
                    .map(|j| values.get(usize::try_from(start + j * step).ok()?).copied())
                    .collect()
            }
            _ => None,
        };
        Some((out, ints))
    })();
    ValueFacts::from_parts(data_type, result)
}

fn gather(ctx: &OpContext) -> ValueFacts {
    let data_type = ctx.data_type(0);
    let result = (|| {
        let (x, indices) = (ctx.shape(0)?, ctx.shape(1)?);
        let a = axis(ctx.int_attr("axis", 0), x.len())?;
        let mut out = x[..a].to_vec();
        out.extend_from_slice(indices);
        out.extend_from_slice(&x[a + 1..]);
        let ints = match (ctx.ints(0), ctx.ints(1)) {
            (Some(values), Some(idx)) if x.len() == 1 => idx
                .iter()
                .map(|&i| {
                    let i = if i < 0 { i + values.len() as i64 } else { i };
                    values.get(usize::try_from(i).ok()?).copied()
                })
                .collect(),
            _ => None,
        };
        Some((out, ints))
    })();
    ValueFacts::from_parts(data_type, result)
}

fn tile(ctx: &OpContext) -> Option<Shape> {
    let (x, repeats) = (ctx.shape(0)?, to_shape(ctx.ints(1)?)?);
    if x.len() != repeats.len() {
        return None;
    }
    x.iter()
        .zip(&repeats)
        .map(|(&d, &r)| d.checked_mul(r))
        .collect()
}

fn pad(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let pads: Vec<i64> = match ctx.ints_attr("pads") {
        Some(p) => p.to_vec(),
        None => ctx.ints(1)?.to_vec(),
    };
    let axes: Vec<usize> = match ctx.ints(3) {
        Some(axes) if ctx.has_input(3) => axes
            .iter()
            .map(|&a| axis(a, x.len()))
            .collect::<Option<_>>()?,
        None if ctx.has_input(3) => return None,
        _ => (0..x.len()).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return None;
    }
    let mut out = x.clone();
    for (i, &a) in axes.iter().enumerate() {
        let size = out[a] as i128 + pads[i] as i128 + pads[i + axes.len()] as i128;
        out[a] = u64::try_from(size).ok()?;
    }
    Some(out)
}

/// Resize with constant `sizes`, or constant `scales` (floor of dim × scale).
fn resize(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    if let Some(sizes) = ctx.ints(3).filter(|_| ctx.has_input(3)) {
        let sizes = to_shape(sizes)?;
        return (sizes.len() == x.len()).then_some(sizes);
    }
    let scales_input = if ctx.node.op_type() == "Upsample" || ctx.opset < 11 {
        1
    } else {
        2
    };
    let scales = ctx.const_floats(scales_input)?;
    if scales.len() != x.len() {
        return None;
    }
    x.iter()
        .zip(&scales)
        .map(|(&d, &s)| {
            let size = (d as f64 * s as f64).floor();
            (size.is_finite() && size >= 0.0 && size < u64::MAX as f64).then_some(size as u64)
        })
        .collect()
}

fn depth_space(op: &str, ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let b = u64::try_from(ctx.int_attr("blocksize", 0))
        .ok()
        .filter(|&b| b > 0)?;
    if x.len() != 4 {
        return None;
    }
    if op == "DepthToSpace" {
        let bb = b.checked_mul(b)?;
        (x[1] % bb == 0).then(|| vec![x[0], x[1] / bb, x[2] * b, x[3] * b])
    } else {
        (x[2] % b == 0 && x[3] % b == 0).then(|| vec![x[0], x[1] * b * b, x[2] / b, x[3] / b])
    }
}
