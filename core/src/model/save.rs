//! Writing a model: one self-contained protobuf file, written atomically.

use std::path::Path;

use prost::Message;

use super::onnx::ModelProto;
use crate::atomic_file;
use crate::error::{Error, Result};

/// Protobuf messages cannot exceed 2 GiB.
const MAX_PROTOBUF_BYTES: usize = i32::MAX as usize;

pub fn save(proto: &ModelProto, path: &Path) -> Result<()> {
    let n_bytes = proto.encoded_len();
    if n_bytes > MAX_PROTOBUF_BYTES {
        return Err(Error::Usage(format!(
            "the model is {} MB, over protobuf's 2 GB limit for one file; prunekit cannot yet save models that need external data.",
            n_bytes / 1_000_000
        )));
    }
    atomic_file::write(path, &proto.encode_to_vec())
}
