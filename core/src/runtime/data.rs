//! Arrays fed to a model: generated from a seed, or read from a user's `.npz` file (`npz`).

use ndarray::ArrayD;

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
