//! Writing a model, atomically: one self-contained protobuf file, or the model plus one external
//! data file beside it (`model.onnx` -> `model.onnx.data`) that holds every tensor over
//! [`EXTERNAL_MIN_BYTES`], as ONNX's external data format lays it out.
//!
//! Protobuf messages cannot pass 2 GB, so a larger model can only be written with external data.
//! The tensors are streamed into the data file one at a time (a loaded model's payloads are slices
//! of its memory-mapped files) and the model is encoded without them: writing never holds a second
//! copy of the weights. Both files go to temporary files first, are synced, then renamed (data,
//! then model); a data file left from an earlier save that the new model no longer uses is removed.
//! Renaming keeps a memory-mapped old file alive, so a model can be written over the very files it
//! was loaded from.

use std::path::{Path, PathBuf};

use prost::Message;

use super::onnx::{
    DATA_LOCATION_EXTERNAL, GraphProto, ModelProto, StringStringEntryProto, TensorProto,
};
use super::tensor::le_bytes;
use crate::atomic_file::{self, Pending};
use crate::error::{Error, Result};

/// Protobuf messages cannot exceed 2 GiB.
const MAX_PROTOBUF_BYTES: usize = i32::MAX as usize;

/// Tensors larger than this go to the data file (ONNX's own default threshold); smaller ones
/// (shapes, scales, biases) stay in the model, where readers find them without a second file.
pub const EXTERNAL_MIN_BYTES: usize = 1024;

/// Offsets in the data file are multiples of this (a page), so a reader can map each tensor.
const ALIGNMENT: u64 = 4096;

/// Where a saved model keeps its large tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalData {
    /// In the data file only when the model would not fit in one protobuf file (2 GB).
    #[default]
    Auto,
    /// Every tensor over [`EXTERNAL_MIN_BYTES`] in the data file.
    Always,
    /// In the model file; a model over 2 GB cannot be written so.
    Never,
}

impl ExternalData {
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    pub fn name(self) -> &'static str {
        match self {
            ExternalData::Auto => "auto",
            ExternalData::Always => "always",
            ExternalData::Never => "never",
        }
    }

    pub fn from_name(name: &str) -> Option<ExternalData> {
        match name {
            "auto" => Some(ExternalData::Auto),
            "always" => Some(ExternalData::Always),
            "never" => Some(ExternalData::Never),
            _ => None,
        }
    }
}

/// The external data file of the model at `model`: its name with `.data` added, beside it.
pub fn data_path(model: &Path) -> PathBuf {
    let mut name = model.file_name().unwrap_or_default().to_os_string();
    name.push(".data");
    model.with_file_name(name)
}

/// Saves `proto` at `path`, with external data only when it needs it.
pub fn save(proto: &ModelProto, path: &Path) -> Result<()> {
    save_with(proto, path, ExternalData::Auto)
}

/// Saves `proto` at `path` with its large tensors where `external` says. Afterwards
/// [`data_path`]`(path)` exists exactly when the model uses it.
pub fn save_with(proto: &ModelProto, path: &Path, external: ExternalData) -> Result<()> {
    let n_bytes = proto.encoded_len();
    let to_data_file = match external {
        ExternalData::Always => true,
        ExternalData::Auto => n_bytes > MAX_PROTOBUF_BYTES,
        ExternalData::Never => false,
    };
    if !to_data_file {
        if n_bytes > MAX_PROTOBUF_BYTES {
            return Err(too_large(n_bytes, "as one file"));
        }
        atomic_file::write(path, &proto.encode_to_vec())?;
        remove_stale_data(path);
        return Ok(());
    }
    let data_path = data_path(path);
    let location = data_path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    // A clone shares every `raw_data` payload (reference-counted); only typed fields are copied.
    let mut skeleton = proto.clone();
    let mut data = DataFile {
        pending: Pending::create(&data_path)?,
        location,
        offset: 0,
    };
    if let Some(graph) = skeleton.graph.as_mut() {
        externalize_graph(graph, &mut data)?;
    }
    let n_bytes = skeleton.encoded_len();
    if n_bytes > MAX_PROTOBUF_BYTES {
        return Err(too_large(n_bytes, "even without its large tensors"));
    }
    let mut model = Pending::create(path)?;
    model.write_all(&skeleton.encode_to_vec())?;
    model.sync()?;
    if data.offset == 0 {
        // Nothing was large enough: the model is self-contained after all.
        drop(data);
        model.commit()?;
        remove_stale_data(path);
    } else {
        data.pending.commit()?;
        model.commit()?;
    }
    Ok(())
}

fn too_large(n_bytes: usize, how: &str) -> Error {
    Error::Usage(format!(
        "the model is {} MB {how}, over protobuf's 2 GB limit for one file; write it with external data (its large tensors in a data file beside it).",
        n_bytes / 1_000_000
    ))
}

/// Removes `NAME.data` beside a model that no longer uses it (best effort: a data file that cannot
/// be removed does not make the model wrong).
fn remove_stale_data(path: &Path) {
    let data = data_path(path);
    if data.is_file() {
        let _ = std::fs::remove_file(data);
    }
}

/// The data file being written, and where its next tensor goes.
struct DataFile {
    pending: Pending,
    location: String,
    offset: u64,
}

impl DataFile {
    /// Appends `bytes` at the next aligned offset and returns that offset.
    fn append(&mut self, bytes: &[u8]) -> Result<u64> {
        let start = self.offset.div_ceil(ALIGNMENT) * ALIGNMENT;
        let padding = (start - self.offset) as usize;
        self.pending
            .write_all(&[0; ALIGNMENT as usize][..padding])?;
        self.pending.write_all(bytes)?;
        self.offset = start + bytes.len() as u64;
        Ok(start)
    }
}

/// Moves the large tensors of `graph` (initializers, `Constant` values and other attribute
/// tensors, subgraphs included) into the data file.
fn externalize_graph(graph: &mut GraphProto, data: &mut DataFile) -> Result<()> {
    for tensor in &mut graph.initializer {
        externalize(tensor, data)?;
    }
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            if let Some(tensor) = attr.t.as_mut() {
                externalize(tensor, data)?;
            }
            for tensor in &mut attr.tensors {
                externalize(tensor, data)?;
            }
            if let Some(sub) = attr.g.as_mut() {
                externalize_graph(sub, data)?;
            }
            for sub in &mut attr.graphs {
                externalize_graph(sub, data)?;
            }
        }
    }
    Ok(())
}

fn externalize(tensor: &mut TensorProto, data: &mut DataFile) -> Result<()> {
    if tensor.data_location == Some(DATA_LOCATION_EXTERNAL) {
        // `load` resolves every external tensor; one still pointing at a file has no payload here.
        return Err(Error::Usage(format!(
            "tensor '{}' still points to an external data file; load the model with prunekit before saving it.",
            tensor.name()
        )));
    }
    // Strings and payloads that disagree with their dims have no fixed-size layout: they stay.
    let Some(bytes) = le_bytes(tensor) else {
        return Ok(());
    };
    if bytes.len() <= EXTERNAL_MIN_BYTES {
        return Ok(());
    }
    let length = bytes.len();
    let offset = data.append(&bytes)?;
    drop(bytes);
    let entry = |key: &str, value: String| StringStringEntryProto {
        key: Some(key.to_string()),
        value: Some(value),
    };
    tensor.external_data = vec![
        entry("location", data.location.clone()),
        entry("offset", offset.to_string()),
        entry("length", length.to_string()),
    ];
    tensor.data_location = Some(DATA_LOCATION_EXTERNAL);
    tensor.raw_data = None;
    tensor.float_data = Vec::new();
    tensor.int32_data = Vec::new();
    tensor.int64_data = Vec::new();
    tensor.double_data = Vec::new();
    tensor.uint64_data = Vec::new();
    Ok(())
}

#[cfg(test)]
mod tests;
