//! Typed access to tensor payloads. A payload can live in `raw_data` (little-endian bytes) or in
//! one of the typed repeated fields; every reader here checks that its size agrees with the dims,
//! and answers `None` when it does not, so a corrupt file cannot make the core read out of bounds
//! or allocate what the dims claim.

use super::onnx::TensorProto;
use super::onnx::data_type as dt;

/// The element count of a shape, or `None` for a negative dim or an overflow.
pub fn numel(dims: &[i64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| {
        u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    })
}

/// Bytes per element in `raw_data`, for the fixed-size types.
pub fn elem_size(data_type: i32) -> Option<usize> {
    Some(match data_type {
        dt::BOOL | dt::INT8 | dt::UINT8 => 1,
        dt::INT16 | dt::UINT16 | dt::FLOAT16 | dt::BFLOAT16 => 2,
        dt::FLOAT | dt::INT32 | dt::UINT32 => 4,
        dt::DOUBLE | dt::INT64 | dt::UINT64 | dt::COMPLEX64 => 8,
        dt::COMPLEX128 => 16,
        17..=20 => 1, // float8 variants
        _ => return None,
    })
}

/// The numpy-style name of an ONNX element type.
pub fn dtype_name(data_type: i32) -> &'static str {
    match data_type {
        dt::FLOAT => "float32",
        dt::UINT8 => "uint8",
        dt::INT8 => "int8",
        dt::UINT16 => "uint16",
        dt::INT16 => "int16",
        dt::INT32 => "int32",
        dt::INT64 => "int64",
        dt::STRING => "string",
        dt::BOOL => "bool",
        dt::FLOAT16 => "float16",
        dt::DOUBLE => "float64",
        dt::UINT32 => "uint32",
        dt::UINT64 => "uint64",
        dt::COMPLEX64 => "complex64",
        dt::COMPLEX128 => "complex128",
        dt::BFLOAT16 => "bfloat16",
        17..=20 => "float8",
        _ => "unknown",
    }
}

pub fn is_float(data_type: i32) -> bool {
    matches!(
        data_type,
        dt::FLOAT | dt::DOUBLE | dt::FLOAT16 | dt::BFLOAT16
    )
}

/// Element types whose constants count as model parameters (weights, possibly quantized).
pub fn is_parameter_type(data_type: i32) -> bool {
    is_float(data_type) || matches!(data_type, dt::INT8 | dt::UINT8)
}

/// The payload's raw bytes, when it is stored in `raw_data` with the size the dims call for.
fn raw_bytes(tensor: &TensorProto) -> Option<&[u8]> {
    let raw = tensor.raw_data.as_deref()?;
    let expected = numel(&tensor.dims)?.checked_mul(elem_size(tensor.data_type())? as u64)?;
    (raw.len() as u64 == expected).then_some(raw)
}

fn typed_len_ok(tensor: &TensorProto, len: usize) -> bool {
    numel(&tensor.dims) == Some(len as u64)
}

/// How many elements are exactly zero (`-0.0` included), or `None` if the payload is inconsistent.
pub fn count_zeros(tensor: &TensorProto) -> Option<u64> {
    let data_type = tensor.data_type();
    if tensor.raw_data.is_some() {
        let raw = raw_bytes(tensor)?;
        let size = elem_size(data_type)?;
        // One pass, its pages handed back as it goes: a model's weights may be larger than memory.
        let mut n = 0;
        super::pages::stream(raw, size, |raw| {
            n += match data_type {
                // Compare bits without the sign: one integer op per element, no float decode.
                dt::FLOAT => {
                    count_chunks(raw, |c: [u8; 4]| u32::from_le_bytes(c) & 0x7fff_ffff == 0)
                }
                dt::DOUBLE => {
                    count_chunks(raw, |c: [u8; 8]| u64::from_le_bytes(c) & !(1 << 63) == 0)
                }
                dt::FLOAT16 | dt::BFLOAT16 => {
                    count_chunks(raw, |c: [u8; 2]| u16::from_le_bytes(c) & 0x7fff == 0)
                }
                _ => raw
                    .chunks_exact(size)
                    .filter(|c| c.iter().all(|&b| b == 0))
                    .count() as u64,
            }
        });
        return Some(n);
    }
    let n = match data_type {
        dt::FLOAT if typed_len_ok(tensor, tensor.float_data.len()) => {
            tensor.float_data.iter().filter(|v| **v == 0.0).count()
        }
        dt::DOUBLE if typed_len_ok(tensor, tensor.double_data.len()) => {
            tensor.double_data.iter().filter(|v| **v == 0.0).count()
        }
        dt::INT64 if typed_len_ok(tensor, tensor.int64_data.len()) => {
            tensor.int64_data.iter().filter(|v| **v == 0).count()
        }
        dt::UINT32 | dt::UINT64 if typed_len_ok(tensor, tensor.uint64_data.len()) => {
            tensor.uint64_data.iter().filter(|v| **v == 0).count()
        }
        // float16 and bfloat16 keep their bits in int32_data.
        dt::FLOAT16 | dt::BFLOAT16 if typed_len_ok(tensor, tensor.int32_data.len()) => tensor
            .int32_data
            .iter()
            .filter(|v| **v & 0x7fff == 0)
            .count(),
        dt::INT32 | dt::INT16 | dt::INT8 | dt::UINT16 | dt::UINT8 | dt::BOOL
            if typed_len_ok(tensor, tensor.int32_data.len()) =>
        {
            tensor.int32_data.iter().filter(|v| **v == 0).count()
        }
        _ => return None,
    };
    Some(n as u64)
}

fn count_chunks<const N: usize>(raw: &[u8], is_zero: impl Fn([u8; N]) -> bool) -> u64 {
    raw.chunks_exact(N)
        .filter(|c| is_zero((*c).try_into().expect("chunks_exact gives N bytes")))
        .count() as u64
}

/// The values of an integer tensor (int64, int32, ...) widened to i64, for shape arithmetic.
/// Only for small tensors: callers pass the most elements they are willing to read.
pub fn to_i64(tensor: &TensorProto, max_elements: u64) -> Option<Vec<i64>> {
    let n = numel(&tensor.dims)?;
    if n > max_elements {
        return None;
    }
    let data_type = tensor.data_type();
    if tensor.raw_data.is_some() {
        let raw = raw_bytes(tensor)?;
        return Some(match data_type {
            dt::INT64 => raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            dt::INT32 => raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            dt::UINT8 | dt::BOOL => raw.iter().map(|&b| b as i64).collect(),
            dt::INT8 => raw.iter().map(|&b| b as i8 as i64).collect(),
            _ => return None,
        });
    }
    match data_type {
        dt::INT64 if typed_len_ok(tensor, tensor.int64_data.len()) => {
            Some(tensor.int64_data.clone())
        }
        dt::INT32 | dt::INT8 | dt::UINT8 | dt::BOOL
            if typed_len_ok(tensor, tensor.int32_data.len()) =>
        {
            Some(tensor.int32_data.iter().map(|&v| v as i64).collect())
        }
        _ => None,
    }
}

/// The payload as little-endian bytes of [`elem_size`] each, from `raw_data` or from the typed
/// field the type keeps it in (float16 and bfloat16 bits, and the narrow integers, in
/// `int32_data`), so a rewrite that only moves elements (structured pruning's slicing) handles
/// every fixed-size type alike; `None` for other types or a payload that disagrees with its dims.
pub fn le_bytes(tensor: &TensorProto) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    if tensor.raw_data.is_some() {
        return raw_bytes(tensor).map(Cow::Borrowed);
    }
    let data_type = tensor.data_type();
    let size = elem_size(data_type)?;
    let bytes: Vec<u8> = match data_type {
        dt::FLOAT if typed_len_ok(tensor, tensor.float_data.len()) => tensor
            .float_data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        dt::DOUBLE if typed_len_ok(tensor, tensor.double_data.len()) => tensor
            .double_data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        dt::INT64 if typed_len_ok(tensor, tensor.int64_data.len()) => tensor
            .int64_data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        dt::UINT32 | dt::UINT64 if typed_len_ok(tensor, tensor.uint64_data.len()) => tensor
            .uint64_data
            .iter()
            .flat_map(|v| v.to_le_bytes()[..size].to_vec())
            .collect(),
        dt::INT32
        | dt::INT16
        | dt::INT8
        | dt::UINT16
        | dt::UINT8
        | dt::BOOL
        | dt::FLOAT16
        | dt::BFLOAT16
            if typed_len_ok(tensor, tensor.int32_data.len()) =>
        {
            tensor
                .int32_data
                .iter()
                .flat_map(|v| v.to_le_bytes()[..size].to_vec())
                .collect()
        }
        _ => return None,
    };
    Some(Cow::Owned(bytes))
}

/// The values of a float32 or float64 tensor as f32, read in place where `raw_data` can be (float32,
/// 4-byte aligned, on a little-endian machine: a mapped payload is then not copied), else copied
/// as [`to_f32`] copies them; `None` for other types or a bad payload.
pub fn f32_view(tensor: &TensorProto) -> Option<std::borrow::Cow<'_, [f32]>> {
    if tensor.data_type() == dt::FLOAT
        && cfg!(target_endian = "little")
        && let Some(raw) = raw_bytes(tensor)
        && raw.as_ptr().align_offset(std::mem::align_of::<f32>()) == 0
    {
        // SAFETY: the bytes are aligned for f32, their count is a multiple of 4 (`raw_bytes`
        // checked it against the dims), every bit pattern is a valid f32, and the slice borrows
        // the tensor, which owns the bytes for as long.
        let values =
            unsafe { std::slice::from_raw_parts(raw.as_ptr().cast::<f32>(), raw.len() / 4) };
        return Some(std::borrow::Cow::Borrowed(values));
    }
    to_f32(tensor).map(std::borrow::Cow::Owned)
}

/// The values of a float32 or float64 tensor as f32, or `None` for other types or a bad payload.
pub fn to_f32(tensor: &TensorProto) -> Option<Vec<f32>> {
    let data_type = tensor.data_type();
    if tensor.raw_data.is_some() {
        let raw = raw_bytes(tensor)?;
        let size = match data_type {
            dt::FLOAT => 4,
            dt::DOUBLE => 8,
            _ => return None,
        };
        // The copy is what the caller keeps; the mapped pages it came from are handed back.
        let mut values = Vec::with_capacity(raw.len() / size);
        super::pages::stream(raw, size, |raw| {
            if size == 4 {
                values.extend(
                    raw.chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
                );
            } else {
                values.extend(
                    raw.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32),
                );
            }
        });
        return Some(values);
    }
    match data_type {
        dt::FLOAT if typed_len_ok(tensor, tensor.float_data.len()) => {
            Some(tensor.float_data.clone())
        }
        dt::DOUBLE if typed_len_ok(tensor, tensor.double_data.len()) => {
            Some(tensor.double_data.iter().map(|&v| v as f32).collect())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn float_tensor(values: &[f32], raw: bool) -> TensorProto {
        let mut t = TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(dt::FLOAT),
            ..Default::default()
        };
        if raw {
            t.raw_data = Some(Bytes::from(
                values
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect::<Vec<u8>>(),
            ));
        } else {
            t.float_data = values.to_vec();
        }
        t
    }

    #[test]
    fn zeros_are_counted_in_both_storage_forms() {
        let values = [0.0, -0.0, 1.5, 0.0, -2.0];
        assert_eq!(count_zeros(&float_tensor(&values, true)), Some(3));
        assert_eq!(count_zeros(&float_tensor(&values, false)), Some(3));
    }

    #[test]
    fn a_payload_that_disagrees_with_its_dims_is_refused() {
        let mut t = float_tensor(&[1.0, 2.0], true);
        t.dims = vec![3];
        assert_eq!(count_zeros(&t), None);
        assert_eq!(to_f32(&t), None);
        t.dims = vec![i64::MAX, i64::MAX];
        assert_eq!(count_zeros(&t), None);
    }

    #[test]
    fn numel_refuses_negative_dims_and_overflow() {
        assert_eq!(numel(&[2, 3]), Some(6));
        assert_eq!(numel(&[]), Some(1));
        assert_eq!(numel(&[-1, 3]), None);
        assert_eq!(numel(&[i64::MAX, 4]), None);
    }
}
