//! The samples a model is run on: a user's `.npz` (arrays named after the model inputs, plus an
//! optional `labels`), checked against the model's inputs, or seeded random inputs; cut into
//! batches along the first axis.

use std::path::Path;

use ndarray::{Axis, Slice};
use serde::{Deserialize, Serialize};

use super::data::InputArray;
use super::npz::read_npz;
use super::session::generated_inputs;
use crate::analysis::{DimDecl, ResolvedInput};
use crate::error::{Error, Result, Setting};
use crate::model::onnx::data_type as dt;
use crate::model::tensor::dtype_name;

/// The samples a run used, as profiles and quantization reports record them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The `.npz` path, or "generated" for seeded random inputs.
    pub source: String,
    pub samples: usize,
    pub batch: usize,
    pub has_labels: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// The array of class indices that turns loss measurements into accuracies too.
pub const LABELS: &str = "labels";

#[derive(Debug, Clone)]
pub struct Dataset {
    /// One array per model input, in the model's input order, samples along axis 0.
    pub inputs: Vec<(String, InputArray)>,
    pub labels: Option<Vec<i64>>,
    pub samples: usize,
    /// Where the samples came from, for reports: the file, or "generated".
    pub source: String,
}

impl Dataset {
    /// Reads and checks `path`: every model input present with a compatible element type, the
    /// model's fixed dims respected, one sample count for all. `limit` keeps the first samples.
    pub fn from_npz(path: &Path, inputs: &[ResolvedInput], limit: Option<usize>) -> Result<Self> {
        let npz = read_npz(path, |name| {
            name == LABELS || inputs.iter().any(|input| input.name == name)
        })?;
        let mut arrays = npz.arrays;
        let bad = |what: String| Error::Usage(format!("{}: {what}", path.display()));
        let mut labels: Option<Vec<i64>> = None;
        if let Some(i) = arrays.iter().position(|(n, _)| n == LABELS) {
            labels = match arrays.remove(i).1 {
                InputArray::I64(a) if a.ndim() == 1 => Some(a.iter().copied().collect()),
                other => {
                    return Err(bad(format!(
                        "'labels' must be a 1-D array of integer class indices, not an array of shape {:?}.",
                        other.shape()
                    )));
                }
            };
        }
        let mut ordered = Vec::with_capacity(inputs.len());
        for input in inputs {
            let Some(i) = arrays.iter().position(|(n, _)| n == &input.name) else {
                let have: Vec<&str> = npz.names.iter().map(String::as_str).collect();
                return Err(bad(format!(
                    "there is no array named '{}', the model's input (the file holds {}); save the arrays under the model's input names.",
                    input.name,
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                )));
            };
            let (name, array) = arrays.remove(i);
            check_fits(&array, input).map_err(bad)?;
            ordered.push((name, array));
        }
        let samples = ordered.first().map_or(0, |(_, a)| a.shape()[0]);
        if let Some((name, a)) = ordered.iter().find(|(_, a)| a.shape()[0] != samples) {
            return Err(bad(format!(
                "'{name}' has {} samples but '{}' has {samples}; every input needs the same number along the first axis.",
                a.shape()[0],
                ordered[0].0
            )));
        }
        if samples == 0 {
            return Err(bad("the arrays hold no samples.".into()));
        }
        if let Some(l) = &labels
            && l.len() != samples
        {
            return Err(bad(format!(
                "'labels' has {} entries for {samples} samples; give one label per sample.",
                l.len()
            )));
        }
        let mut data = Dataset {
            inputs: ordered,
            labels,
            samples,
            source: path.display().to_string(),
        };
        if let Some(n) = limit {
            data = data.first(n);
        }
        Ok(data)
    }

    /// `samples` seeded random samples shaped like the analysis's inputs (first axis = samples).
    pub fn generated(inputs: &[ResolvedInput], samples: usize, seed: u64) -> Result<Self> {
        let specs = inputs
            .iter()
            .map(|input| {
                let mut shape: Vec<usize> = input
                    .shape
                    .as_ref()
                    .ok_or_else(|| {
                        Error::from(
                            crate::analysis::no_known_shape(&input.name)
                                .text(" or give data with ")
                                .set(Setting::Data, "FILE.npz")
                                .text("."),
                        )
                    })?
                    .iter()
                    .map(|&d| d as usize)
                    .collect();
                if let Some(first) = shape.first_mut() {
                    *first = samples;
                }
                Ok((input.name.clone(), input.data_type, shape))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Dataset {
            inputs: generated_inputs(&specs, seed)?,
            labels: None,
            samples,
            source: "generated".into(),
        })
    }

    /// The first `n` samples.
    pub fn first(self, n: usize) -> Self {
        let n = n.min(self.samples);
        let inputs = self
            .inputs
            .into_iter()
            .map(|(name, a)| (name, slice(&a, 0, n)))
            .collect();
        Dataset {
            inputs,
            labels: self.labels.map(|l| l[..n].to_vec()),
            samples: n,
            source: self.source,
        }
    }

    /// Consecutive batches of at most `size` samples.
    pub fn batches(&self, size: usize) -> Vec<Batch> {
        let size = size.max(1);
        (0..self.samples)
            .step_by(size)
            .map(|start| {
                let end = (start + size).min(self.samples);
                Batch {
                    inputs: self
                        .inputs
                        .iter()
                        .map(|(n, a)| (n.clone(), slice(a, start, end)))
                        .collect(),
                    labels: self.labels.as_ref().map(|l| l[start..end].to_vec()),
                }
            })
            .collect()
    }
}

pub struct Batch {
    pub inputs: Vec<(String, InputArray)>,
    pub labels: Option<Vec<i64>>,
}

impl Batch {
    /// Samples in the batch.
    pub fn size(&self) -> usize {
        self.inputs.first().map_or(0, |(_, a)| a.shape()[0])
    }
}

fn slice(array: &InputArray, start: usize, end: usize) -> InputArray {
    let s = Slice::from(start..end);
    match array {
        InputArray::F32(a) => InputArray::F32(a.slice_axis(Axis(0), s).to_owned()),
        InputArray::I64(a) => InputArray::I64(a.slice_axis(Axis(0), s).to_owned()),
        InputArray::Bool(a) => InputArray::Bool(a.slice_axis(Axis(0), s).to_owned()),
    }
}

/// Element type and shape of one array against the model input it feeds.
fn check_fits(array: &InputArray, input: &ResolvedInput) -> std::result::Result<(), String> {
    let type_fits = matches!(
        (array, input.data_type),
        (InputArray::F32(_), dt::FLOAT | dt::DOUBLE | dt::FLOAT16)
            | (InputArray::I64(_), dt::INT64 | dt::INT32)
            | (InputArray::Bool(_), dt::BOOL)
    );
    let array_type = match array {
        InputArray::F32(_) => "float",
        InputArray::I64(_) => "integer",
        InputArray::Bool(_) => "bool",
    };
    if !type_fits {
        return Err(format!(
            "'{}' holds {array_type} values but the model's input takes {}; convert the array (for example with .astype).",
            input.name,
            dtype_name(input.data_type)
        ));
    }
    let shape = array.shape();
    if shape.is_empty() {
        return Err(format!(
            "'{}' is a scalar; give an array with samples along the first axis.",
            input.name
        ));
    }
    if let Some(declared) = &input.declared {
        // The first axis holds the samples, so a batch dim fixed at 1 (as many exporters write
        // it) still takes a file of many samples: they run one batch of the model's size at a
        // time, and the batch policy (`runtime::batch`) asks for a whole number of batches.
        let fixed_mismatch = declared
            .iter()
            .zip(shape)
            .enumerate()
            .skip(1)
            .find(|(_, (d, s))| matches!(d, DimDecl::Fixed(f) if *f as usize != **s));
        if shape.len() != declared.len() || fixed_mismatch.is_some() {
            let want: Vec<String> = declared
                .iter()
                .map(|d| match d {
                    DimDecl::Fixed(f) => f.to_string(),
                    DimDecl::Symbol(s) => s.clone(),
                    DimDecl::Anonymous => "?".into(),
                })
                .collect();
            return Err(format!(
                "'{}' has shape {shape:?} but the model's input is [{}]; reshape the array to fit.",
                input.name,
                want.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{fixture, load_analyzed};

    #[test]
    fn a_batch_fixed_at_one_takes_a_file_of_many_samples_but_other_dims_must_fit() {
        let (_, mut analysis) = load_analyzed("digits_cnn.onnx");
        if let Some(dims) = analysis.inputs[0].declared.as_mut() {
            dims[0] = DimDecl::Fixed(1);
        }
        // digits_test.npz holds many samples of [1, 8, 8]: one run of the model each.
        let data = Dataset::from_npz(&fixture("digits_test.npz"), &analysis.inputs, None).unwrap();
        assert!(data.samples > 1, "{}", data.samples);
        // A fixed dim after the first must still match the file.
        if let Some(dims) = analysis.inputs[0].declared.as_mut() {
            dims[2] = DimDecl::Fixed(7);
        }
        let err = Dataset::from_npz(&fixture("digits_test.npz"), &analysis.inputs, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("reshape the array to fit"), "{err}");
    }
}
