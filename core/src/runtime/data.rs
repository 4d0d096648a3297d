//! Arrays fed to a model: generated from a seed, or read from a user's `.npz` file.

use std::path::Path;

use ndarray::{ArrayD, IxDyn, OwnedRepr};
use ndarray_npy::NpzReader;

use crate::error::{Error, Result};

/// One input array, in one of the element types models take.
#[derive(Debug, Clone, PartialEq)]
pub enum InputArray {
    F32(ArrayD<f32>),
    I64(ArrayD<i64>),
    Bool(ArrayD<bool>),
}

impl InputArray {
    pub fn shape(&self) -> &[usize] {
        match self {
            InputArray::F32(a) => a.shape(),
            InputArray::I64(a) => a.shape(),
            InputArray::Bool(a) => a.shape(),
        }
    }
}

/// Reads every array of an `.npz` file (compressed or not). float64 becomes float32 and int32
/// becomes int64, the types models take.
pub fn read_npz(path: &Path) -> Result<Vec<(String, InputArray)>> {
    let file = std::fs::File::open(path).map_err(|err| Error::io(path, &err))?;
    let bad = |what: String| Error::Usage(format!("{}: {what}", path.display()));
    let mut npz = NpzReader::new(file).map_err(|err| {
        bad(format!(
            "this is not a readable .npz file ({err}); save it with numpy.savez."
        ))
    })?;
    let names = npz
        .names()
        .map_err(|err| bad(format!("the .npz file could not be listed ({err}).")))?;
    let mut arrays = Vec::with_capacity(names.len());
    for name in names {
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        let array = if let Ok(a) = npz.by_name::<OwnedRepr<f32>, IxDyn>(&name) {
            InputArray::F32(a)
        } else if let Ok(a) = npz.by_name::<OwnedRepr<f64>, IxDyn>(&name) {
            InputArray::F32(a.mapv(|v| v as f32))
        } else if let Ok(a) = npz.by_name::<OwnedRepr<i64>, IxDyn>(&name) {
            InputArray::I64(a)
        } else if let Ok(a) = npz.by_name::<OwnedRepr<i32>, IxDyn>(&name) {
            InputArray::I64(a.mapv(i64::from))
        } else if let Ok(a) = npz.by_name::<OwnedRepr<bool>, IxDyn>(&name) {
            InputArray::Bool(a)
        } else {
            return Err(bad(format!(
                "array '{key}' has an element type prunekit cannot feed to a model; use float32, int64 or bool."
            )));
        };
        arrays.push((key, array));
    }
    Ok(arrays)
}
