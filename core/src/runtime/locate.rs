//! Finding and loading `libonnxruntime`, in this order: `ORT_DYLIB_PATH`, the
//! project's own `.venv`, then the `onnxruntime` package of the `python3` on PATH. It is looked up
//! at first use, not at start-up, so installing it while a kernel runs works without a restart.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The one sentence every front end shows when the library is missing.
pub const RUNTIME_MISSING_FIX: &str = "ONNX Runtime was not found: run `make setup` in the prunekit checkout (it installs onnxruntime==1.31.1 into .venv), or `pip install onnxruntime==1.31.1`, or set ORT_DYLIB_PATH to a libonnxruntime.so.";

/// A loaded ONNX Runtime.
pub struct Runtime {
    pub env: ort::environment::Environment,
    pub library: PathBuf,
}

impl Runtime {
    /// ONNX Runtime's own description of its build: version branch, commit, compile flags.
    pub fn build_info(&self) -> &'static str {
        ort::info()
    }

    /// The version in the library's file name (`libonnxruntime.so.1.31.1`), when it has one.
    pub fn version(&self) -> Option<&str> {
        let name = self.library.file_name()?.to_str()?;
        name.split_once(".so.")
            .map(|(_, version)| version)
            .filter(|v| !v.is_empty())
    }
}

/// Loading happens once per process (a dynamic library cannot be unloaded safely); a failure is
/// not cached, so a later call can succeed after the user installs the runtime.
static RUNTIME: Mutex<Option<&'static Runtime>> = Mutex::new(None);

pub fn runtime() -> Result<&'static Runtime> {
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = *slot {
        return Ok(runtime);
    }
    let library = find_library()?;
    let builder = ort::init_from(&library).map_err(|err| {
        Error::RuntimeMissing(format!(
            "ONNX Runtime at {} could not be loaded ({err}); install onnxruntime==1.31.1 with `make setup`, or point ORT_DYLIB_PATH at a working libonnxruntime.so.",
            library.display()
        ))
    })?;
    let env = builder
        .with_name("prunekit")
        .build()
        .map_err(|err| Error::Runtime(format!("ONNX Runtime could not start ({err}).")))?;
    // ONNX Runtime's failures come back as errors, which prunekit words in one sentence; its own
    // log records of them on stderr would only repeat them, in several lines.
    env.set_log_level(ort::logging::LogLevel::Fatal);
    let runtime: &'static Runtime = Box::leak(Box::new(Runtime { env, library }));
    *slot = Some(runtime);
    Ok(runtime)
}

fn find_library() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::RuntimeMissing(format!(
                "ORT_DYLIB_PATH is set to {}, which is not a file; point it at libonnxruntime.so or unset it.",
                path.display()
            )))
        };
    }
    project_venv_library()
        .or_else(python_library)
        .ok_or_else(|| Error::RuntimeMissing(RUNTIME_MISSING_FIX.into()))
}

/// `.venv` in the current folder or above it, or above the running binary (`target/release/..`).
fn project_venv_library() -> Option<PathBuf> {
    let mut starts: Vec<PathBuf> = Vec::new();
    starts.extend(std::env::current_dir().ok());
    starts.extend(
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf)),
    );
    starts
        .iter()
        .flat_map(|start| start.ancestors())
        .find_map(|dir| {
            let lib = dir.join(".venv").join("lib");
            std::fs::read_dir(&lib).ok()?.flatten().find_map(|python| {
                library_in(
                    &python
                        .path()
                        .join("site-packages")
                        .join("onnxruntime")
                        .join("capi"),
                )
            })
        })
}

fn python_library() -> Option<PathBuf> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let package = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    library_in(&package.join("capi"))
}

/// The wheel ships `libonnxruntime.so.1.31.1` (no unversioned link).
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                (n.starts_with("libonnxruntime.so")
                    || n.starts_with("libonnxruntime.") && n.ends_with(".dylib"))
                    && !n.contains("providers")
            })
        })
        .collect();
    found.sort();
    found.pop()
}
