//! Files read by path (the recipe given to `check`, a recipe's model and the model's project
//! file), refused unless they are regular files of a sensible size. Opening a FIFO blocks until
//! something writes to it, and `/dev/zero` never ends: either would hang the server or `check`.

use std::io::Read;
use std::path::Path;

use prunekit_core::project::{self, ProjectFile};
use prunekit_core::recipe::MAX_RECIPE_BYTES;
use prunekit_core::user_file;

/// One sentence when `path` exists but is not a regular file (a FIFO, a device, a directory);
/// `None` for a regular file or a path that does not exist, whose reader says what is wrong.
/// `what` names what the path should be: "an .onnx model".
pub fn not_regular(path: &Path, what: &str) -> Option<String> {
    if !path.exists() {
        return None;
    }
    user_file::regular(path, what)
        .err()
        .map(|err| err.to_string())
}

/// The text of the recipe at `path`, or the one sentence that says why it cannot be checked.
pub fn read_recipe(path: &Path) -> Result<String, String> {
    let unreadable = |err: std::io::Error| format!("{} could not be read ({err}).", path.display());
    let metadata = match not_regular(path, "a recipe file") {
        Some(refusal) => return Err(refusal),
        None => std::fs::metadata(path).map_err(unreadable)?,
    };
    let too_large = |len: u64| {
        format!(
            "{} is {:.1} MiB, more than the {} MiB prunekit checks; split it into smaller recipes.",
            path.display(),
            len as f64 / (1 << 20) as f64,
            MAX_RECIPE_BYTES >> 20
        )
    };
    if metadata.len() > MAX_RECIPE_BYTES as u64 {
        return Err(too_large(metadata.len()));
    }
    // The file may grow after its size was read: never read more than the limit and a byte.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_RECIPE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(unreadable)?;
    if bytes.len() > MAX_RECIPE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "{} is not UTF-8 text; save the recipe as UTF-8.",
            path.display()
        )
    })
}

/// The project file of the model at `model`, unless it is missing, unreadable, or not a regular
/// file.
pub fn peek_project(model: &Path) -> Option<ProjectFile> {
    let path = project::path_for(model);
    if not_regular(&path, "a project file").is_some() {
        return None;
    }
    project::peek(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused() {
        assert_eq!(
            not_regular(Path::new("/dev/zero"), "an .onnx model").as_deref(),
            Some("/dev/zero is not a regular file; give the path of an .onnx model.")
        );
        assert_eq!(
            read_recipe(Path::new("/dev/zero")).unwrap_err(),
            "/dev/zero is not a regular file; give the path of a recipe file."
        );
        assert_eq!(
            read_recipe(Path::new("/")).unwrap_err(),
            "/ is a directory, not a regular file; give the path of a recipe file."
        );
        assert!(not_regular(Path::new("/nonexistent/m.onnx"), "an .onnx model").is_none());
        assert!(
            read_recipe(Path::new("/nonexistent/r.recipe.yaml"))
                .unwrap_err()
                .starts_with("/nonexistent/r.recipe.yaml could not be read (")
        );
    }

    #[test]
    fn big_and_binary_recipes_are_refused() {
        let dir = std::env::temp_dir().join(format!("prunekit-lsp-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.recipe.yaml");
        std::fs::write(&big, vec![b'#'; MAX_RECIPE_BYTES + 1]).unwrap();
        let binary = dir.join("binary.recipe.yaml");
        std::fs::write(&binary, b"a: \xff\n").unwrap();
        let small = dir.join("small.recipe.yaml");
        std::fs::write(&small, "a: 1\n").unwrap();
        let big_error = read_recipe(&big).unwrap_err();
        let binary_error = read_recipe(&binary).unwrap_err();
        let small_text = read_recipe(&small);
        std::fs::remove_dir_all(&dir).ok();
        assert!(
            big_error.ends_with(
                "big.recipe.yaml is 8.0 MiB, more than the 8 MiB prunekit checks; split it into smaller recipes."
            ),
            "{big_error}"
        );
        assert!(
            binary_error.ends_with("is not UTF-8 text; save the recipe as UTF-8."),
            "{binary_error}"
        );
        assert_eq!(small_text.as_deref(), Ok("a: 1\n"));
    }
}
