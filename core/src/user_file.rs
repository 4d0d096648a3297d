//! Reading a file a user names (a model, a data file, a name map, a recipe, a model a recipe
//! names): only regular files,
//! since opening a FIFO blocks until a writer comes and a device such as /dev/zero never ends, and
//! only up to a size the caller sets, so a wrong path cannot fill the memory.

use std::fs::Metadata;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::bytes as format_bytes;

/// The file's metadata if it is a regular file (a symlink to one counts); else one sentence.
/// `expected` names what the caller wants there, e.g. "an .onnx file".
pub fn regular(path: &Path, expected: &str) -> Result<Metadata> {
    let meta = std::fs::metadata(path).map_err(|err| Error::io(path, &err))?;
    if meta.is_dir() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            problem: format!("is a directory, not a regular file; give the path of {expected}"),
        });
    }
    if !meta.is_file() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            problem: format!("is not a regular file; give the path of {expected}"),
        });
    }
    Ok(meta)
}

/// The whole text of a regular file of at most `limit` bytes.
pub fn read_to_string(path: &Path, limit: u64, expected: &str) -> Result<String> {
    let meta = regular(path, expected)?;
    if meta.len() > limit {
        return Err(Error::Io {
            path: path.to_path_buf(),
            problem: format!(
                "is {}, more than the {} prunekit reads for {expected}; check the path",
                format_bytes(meta.len()),
                format_bytes(limit)
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|err| Error::io(path, &err))?;
    String::from_utf8(bytes).map_err(|_| Error::Io {
        path: path.to_path_buf(),
        problem: format!("is not UTF-8 text; give the path of {expected}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_oversized_files_are_refused_in_one_sentence() {
        let err = regular(Path::new("/dev/zero"), "an .npz file").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero is not a regular file; give the path of an .npz file."
        );
        let dir = std::env::temp_dir();
        assert!(
            regular(&dir, "a file")
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
        let file = dir.join(format!("prunekit-user-file-{}.json", std::process::id()));
        std::fs::write(&file, "{\"a\": \"b\"}").unwrap();
        assert_eq!(
            read_to_string(&file, 100, "a JSON file").unwrap(),
            "{\"a\": \"b\"}"
        );
        let err = read_to_string(&file, 4, "a JSON file")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is 10 B, more than the 4 B prunekit reads"),
            "{err}"
        );
        std::fs::remove_file(&file).unwrap();
    }
}
