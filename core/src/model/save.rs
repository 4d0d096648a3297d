//! Writing a model, atomically: one self-contained protobuf file, or the model plus one external
//! data file beside it (`model.onnx` -> `model.onnx.data`) that holds every tensor over
//! [`EXTERNAL_MIN_BYTES`], as ONNX's external data format lays it out.
//!
//! Protobuf messages cannot pass 2 GB, so a larger model can only be written with external data.
//! The tensors are streamed into the data file one at a time (a loaded model's payloads are slices
//! of its memory-mapped files) and the model is encoded without them; a model written as one file
//! is encoded straight into the file through a small buffer ([`FileSink`]). Writing never holds a
//! second copy of the weights, and the pages of mapped payloads are handed back once copied
//! (`pages::release`), so writing a 5 GB model leaves no more of it resident than loading did. Both files go to temporary files first, are synced, then renamed (data,
//! then model); a data file left from an earlier save that the new model no longer uses is removed.
//! Renaming keeps a memory-mapped old file alive, so a model can be written over the very files it
//! was loaded from.

use std::path::{Path, PathBuf};

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut};
use prost::Message;

use super::onnx::{
    DATA_LOCATION_EXTERNAL, GraphProto, ModelProto, StringStringEntryProto, TensorProto,
};
use super::pages;
use super::tensor::le_bytes;
use crate::atomic_file::Pending;
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
        let mut model = Pending::create(path)?;
        encode_into(proto, &mut model)?;
        model.commit()?;
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
    encode_into(&skeleton, &mut model)?;
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

/// Writes `bytes` in chunks, handing each chunk's pages back once written when they belong to a
/// mapping (`pages::release` leaves heap memory alone).
fn write_released(pending: &mut Pending, bytes: &[u8]) -> Result<()> {
    for chunk in bytes.chunks(pages::CHUNK_BYTES) {
        pending.write_all(chunk)?;
        pages::release(chunk);
    }
    Ok(())
}

/// Encodes `proto` into `pending` without building the message in memory first.
fn encode_into(proto: &ModelProto, pending: &mut Pending) -> Result<()> {
    let mut sink = FileSink {
        pending,
        buffer: Vec::with_capacity(SINK_BUFFER),
        written: 0,
        error: None,
    };
    proto
        .encode(&mut sink)
        .expect("a file sink has room for any message");
    sink.flush();
    match sink.error {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// Bytes encoded between two writes to the file.
const SINK_BUFFER: usize = 1 << 20;

/// A `BufMut` over a file being written: prost encodes the small fields into a buffer that goes
/// to the file when full, and large payloads (`raw_data`) straight to the file, their mapped pages
/// handed back as they go. An I/O error is kept and every later write skipped: `BufMut` cannot
/// fail, so the caller reads `error` afterwards.
struct FileSink<'a> {
    pending: &'a mut Pending,
    buffer: Vec<u8>,
    written: usize,
    error: Option<Error>,
}

impl FileSink<'_> {
    fn flush(&mut self) {
        if self.error.is_none()
            && !self.buffer.is_empty()
            && let Err(err) = self.pending.write_all(&self.buffer)
        {
            self.error = Some(err);
        }
        self.written += self.buffer.len();
        self.buffer.clear();
    }
}

// SAFETY: `chunk_mut` hands out the buffer's spare capacity, never empty (it flushes a full
// buffer first), and `advance_mut` only grows the length over bytes the caller has written there.
unsafe impl BufMut for FileSink<'_> {
    fn remaining_mut(&self) -> usize {
        usize::MAX - self.written - self.buffer.len()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        let len = self.buffer.len() + cnt;
        assert!(len <= self.buffer.capacity(), "advanced past the buffer");
        // SAFETY: the caller wrote `cnt` bytes into the spare capacity `chunk_mut` gave.
        unsafe { self.buffer.set_len(len) };
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        if self.buffer.len() == self.buffer.capacity() {
            self.flush();
        }
        UninitSlice::uninit(self.buffer.spare_capacity_mut())
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() < SINK_BUFFER {
            if self.buffer.len() + src.len() > self.buffer.capacity() {
                self.flush();
            }
            self.buffer.extend_from_slice(src);
            return;
        }
        self.flush();
        if self.error.is_none()
            && let Err(err) = write_released(self.pending, src)
        {
            self.error = Some(err);
        }
        self.written += src.len();
    }

    fn put<T: Buf>(&mut self, mut src: T)
    where
        Self: Sized,
    {
        while src.has_remaining() {
            let chunk = src.chunk();
            let n = chunk.len();
            self.put_slice(chunk);
            src.advance(n);
        }
    }
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
    /// Appends `bytes` at the next aligned offset and returns that offset; a mapped payload's
    /// pages go back as they are copied.
    fn append(&mut self, bytes: &[u8]) -> Result<u64> {
        let start = self.offset.div_ceil(ALIGNMENT) * ALIGNMENT;
        let padding = (start - self.offset) as usize;
        self.pending
            .write_all(&[0; ALIGNMENT as usize][..padding])?;
        write_released(&mut self.pending, bytes)?;
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

/// `proto` with its large initializers pointing, by location and offset, into the files their
/// payloads are mapped from (a loaded model's data file, or the model file itself), and the
/// folder those files are in: a session built from it with that folder
/// (`runtime::build_mapped_session`) maps the weights from where they already are on disk,
/// and nothing is copied or written. `None` when a large initializer's payload is not a slice of
/// such a file, unchanged since it was mapped, in one folder (a rewritten payload: spilled or on
/// the heap). With no large initializer the folder is empty and the model is `proto` as it is.
pub fn referencing_mapped_files(proto: &ModelProto) -> Option<(PathBuf, ModelProto)> {
    let mut referencing = proto.clone();
    let graph = referencing.graph.as_mut()?;
    let mut folder: Option<PathBuf> = None;
    let mut checked: Vec<std::sync::Arc<pages::MappedFile>> = Vec::new();
    for tensor in &mut graph.initializer {
        let Some(bytes) = tensor.raw_data.as_ref() else {
            continue;
        };
        if bytes.len() <= EXTERNAL_MIN_BYTES || tensor.data_location == Some(DATA_LOCATION_EXTERNAL)
        {
            continue;
        }
        let (file, offset) = pages::file_of(bytes)?;
        if !checked.iter().any(|f| std::sync::Arc::ptr_eq(f, &file)) {
            if !file.unchanged() {
                return None;
            }
            checked.push(file.clone());
        }
        let parent = file.path.parent()?;
        match &folder {
            Some(f) if f != parent => return None,
            Some(_) => {}
            None => folder = Some(parent.to_path_buf()),
        }
        let location = file.path.file_name()?.to_str()?.to_string();
        let length = bytes.len();
        let entry = |key: &str, value: String| StringStringEntryProto {
            key: Some(key.to_string()),
            value: Some(value),
        };
        tensor.external_data = vec![
            entry("location", location),
            entry("offset", offset.to_string()),
            entry("length", length.to_string()),
        ];
        tensor.data_location = Some(DATA_LOCATION_EXTERNAL);
        tensor.raw_data = None;
    }
    // No large initializer: nothing to point anywhere, the model is whole as it is.
    Some((folder.unwrap_or_default(), referencing))
}

#[cfg(test)]
mod tests;
