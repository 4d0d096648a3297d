//! Reading a model from disk: the file is memory-mapped and decoded once, tensor payloads stay
//! slices of the mapping (no copy), and tensors stored in external-data files are resolved to slices
//! of those files, mapped once each.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use prost::Message;

use super::Model;
use super::onnx::{DATA_LOCATION_EXTERNAL, GraphProto, ModelProto, TensorProto};
use super::tensor::{dtype_name, elem_size, numel};
use crate::error::{Error, Result};

/// The oldest default-domain opset prunekit reads (as Sparsify did).
pub const MIN_OPSET: i64 = 11;

/// Loads an ONNX model, validating that it is one prunekit can analyze.
pub fn load(path: &Path) -> Result<Model> {
    let bytes = map_file(path)?;
    if bytes.is_empty() {
        return Err(Error::model(
            path,
            "the file is empty; it is not an ONNX model.",
        ));
    }
    let file_bytes = bytes.len() as u64;
    if looks_like_text(&bytes) {
        return Err(Error::model(
            path,
            "this is a text file, not an ONNX model; give the path of a binary .onnx file.",
        ));
    }
    let mut proto = ModelProto::decode(bytes).map_err(|err| decode_error(path, &err))?;
    validate(path, &proto)?;

    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut external = ExternalFiles {
        dir,
        files: HashMap::new(),
        model_path: path.to_path_buf(),
    };
    if let Some(graph) = proto.graph.as_mut() {
        resolve_graph(graph, &mut external)?;
    }
    let external_bytes = external.files.values().map(|b| b.len() as u64).sum::<u64>();
    Ok(Model {
        path: path.to_path_buf(),
        proto,
        file_bytes: file_bytes + external_bytes,
    })
}

/// Maps a whole file into memory as `Bytes`, with one sentence naming the path if it cannot be read.
fn map_file(path: &Path) -> Result<Bytes> {
    let meta = crate::user_file::regular(path, "an .onnx file")?;
    let file = File::open(path).map_err(|err| Error::io(path, &err))?;
    if meta.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the mapping is read-only. If another process truncates the file while we hold it,
    // reads fault; models are not edited in place while being analyzed, the same bet every
    // memory-mapping model loader (ONNX Runtime included) makes.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|err| Error::io(path, &err))?;
    Ok(Bytes::from_owner(super::pages::Mapping::of_file(
        map, path, &file,
    )))
}

/// A protobuf model starts with a field key byte; text files (JSON, Python, prototxt, HTML) are
/// printable ASCII or UTF-8 in their first bytes, which a binary ModelProto never is.
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character may be cut at the 512th byte.
        Err(err) if err.error_len().is_none() && err.valid_up_to() > 0 => {
            std::str::from_utf8(&head[..err.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
}

fn decode_error(path: &Path, err: &prost::DecodeError) -> Error {
    let text = err.to_string();
    // These kinds mean "the bytes ended in the middle of something": more of the file is missing.
    let is_truncated = [
        "buffer underflow",
        "invalid varint",
        "delimited length exceeded",
    ]
    .iter()
    .any(|kind| text.contains(kind));
    if is_truncated {
        Error::model(
            path,
            "the file is truncated or corrupt (the protobuf data ends mid-message); export or copy the model again.",
        )
    } else {
        Error::model(
            path,
            "this is not an ONNX model (the file is not a valid ONNX protobuf); give the path of an .onnx file.",
        )
    }
}

fn validate(path: &Path, proto: &ModelProto) -> Result<()> {
    if proto.graph.is_none() {
        return Err(Error::model(
            path,
            "the model has no graph; it may be truncated or not an ONNX model.",
        ));
    }
    if proto.opset_import.is_empty() {
        return Err(Error::model(
            path,
            "the model declares no opset (opset_import is empty); re-export it with a recent exporter.",
        ));
    }
    if let Some(opset) = default_opset(proto)
        && opset < MIN_OPSET
    {
        return Err(Error::model(
            path,
            format!(
                "the model uses opset {opset} of the default ONNX domain; prunekit needs opset {MIN_OPSET} or newer: convert it with onnx.version_converter.convert_version(model, 17)."
            ),
        ));
    }
    Ok(())
}

/// The version of the default ONNX domain ("" or "ai.onnx"), if the model imports it.
pub fn default_opset(proto: &ModelProto) -> Option<i64> {
    proto
        .opset_import
        .iter()
        .filter(|op| matches!(op.domain(), "" | "ai.onnx"))
        .map(|op| op.version())
        .max()
}

struct ExternalFiles {
    dir: PathBuf,
    model_path: PathBuf,
    files: HashMap<String, Bytes>,
}

impl ExternalFiles {
    fn dir_real(&self) -> std::io::Result<PathBuf> {
        let dir = if self.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &self.dir
        };
        dir.canonicalize()
    }

    fn file(&mut self, location: &str, tensor: &str) -> Result<Bytes> {
        if let Some(bytes) = self.files.get(location) {
            return Ok(bytes.clone());
        }
        let relative = Path::new(location);
        let escapes = relative.is_absolute()
            || relative
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)));
        if escapes {
            return Err(Error::model(
                &self.model_path,
                format!(
                    "tensor '{tensor}' names the external data file '{location}', which is outside the model's folder; keep external data files beside the model."
                ),
            ));
        }
        let path = self.dir.join(relative);
        if !path.exists() {
            return Err(Error::model(
                &self.model_path,
                format!(
                    "tensor '{tensor}' is stored in the external data file {}, which does not exist; copy it next to the model.",
                    path.display()
                ),
            ));
        }
        // A symlink (or a symlinked folder on the way) may point anywhere: the file's real path
        // must still be inside the model's real folder, or a crafted model could copy any file
        // the user can read (an SSH key, /etc/passwd) into the model prunekit writes.
        let inside = match (path.canonicalize(), self.dir_real()) {
            (Ok(real), Ok(dir)) => real.starts_with(dir),
            _ => false,
        };
        if !inside {
            return Err(Error::model(
                &self.model_path,
                format!(
                    "tensor '{tensor}' names the external data file '{location}', which is a link to a file outside the model's folder; copy the data file itself beside the model."
                ),
            ));
        }
        let bytes = map_file(&path)?;
        self.files.insert(location.to_string(), bytes.clone());
        Ok(bytes)
    }
}

fn resolve_graph(graph: &mut GraphProto, external: &mut ExternalFiles) -> Result<()> {
    for tensor in &mut graph.initializer {
        resolve_tensor(tensor, external)?;
    }
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            if let Some(tensor) = attr.t.as_mut() {
                resolve_tensor(tensor, external)?;
            }
            for tensor in &mut attr.tensors {
                resolve_tensor(tensor, external)?;
            }
            if let Some(sub) = attr.g.as_mut() {
                resolve_graph(sub, external)?;
            }
            for sub in &mut attr.graphs {
                resolve_graph(sub, external)?;
            }
        }
    }
    Ok(())
}

/// Replaces an external tensor's payload by a slice of its data file, so the rest of the core sees
/// every tensor as inline `raw_data` (and `save` writes a self-contained model).
fn resolve_tensor(tensor: &mut TensorProto, external: &mut ExternalFiles) -> Result<()> {
    if tensor.data_location != Some(DATA_LOCATION_EXTERNAL) {
        return Ok(());
    }
    let name = tensor.name().to_string();
    let entry = |key: &str| {
        tensor
            .external_data
            .iter()
            .find(|e| e.key() == key)
            .map(|e| e.value().to_string())
    };
    let Some(location) = entry("location") else {
        return Err(Error::model(
            &external.model_path,
            format!(
                "tensor '{name}' is marked as external data but names no file (no 'location' entry)."
            ),
        ));
    };
    let parse = |key: &str| -> Result<Option<u64>> {
        match entry(key) {
            None => Ok(None),
            Some(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
                Error::model(
                    &external.model_path,
                    format!("tensor '{name}' has an external-data {key} of '{text}', which is not a byte count."),
                )
            }),
        }
    };
    let offset = parse("offset")?.unwrap_or(0);
    let length = parse("length")?;
    let file = external.file(&location, &name)?;
    let size = file.len() as u64;
    let expected = numel(&tensor.dims)
        .zip(elem_size(tensor.data_type()))
        .and_then(|(n, size)| n.checked_mul(size as u64));
    // Without `length`, the tensor takes what its dims call for (as ONNX Runtime reads it), or the
    // rest of the file for a type of no fixed size.
    let end = match (length, expected) {
        (Some(length), _) => offset.checked_add(length),
        (None, Some(expected)) => offset.checked_add(expected),
        (None, None) => Some(size),
    };
    let Some(end) = end.filter(|&end| offset <= end && end <= size) else {
        return Err(Error::model(
            &external.model_path,
            format!(
                "tensor '{name}' points past the end of its external data file '{location}' ({size} bytes); the file is truncated or belongs to another model."
            ),
        ));
    };
    // The bytes must be what the dims and element type call for, or ONNX Runtime refuses the
    // model prunekit writes.
    if let Some(expected) = expected
        && expected != end - offset
    {
        return Err(Error::model(
            &external.model_path,
            format!(
                "tensor '{name}' has {} bytes in its external data file '{location}' but its dims {:?} of {} need {expected}; the model's external-data entries are wrong, re-export it.",
                end - offset,
                tensor.dims,
                dtype_name(tensor.data_type())
            ),
        ));
    }
    tensor.raw_data = Some(file.slice(offset as usize..end as usize));
    tensor.data_location = None;
    tensor.external_data.clear();
    Ok(())
}
