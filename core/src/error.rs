//! The one error type of the core. Every message is one sentence that says what is wrong and what to
//! do; front ends only translate it (a kernel `error` output, an LSP diagnostic, a CLI exit code).

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The model file is not a usable ONNX model.
    Model { path: PathBuf, problem: String },
    /// The caller asked for something that cannot be done as asked (a bad flag, a bad shape).
    Usage(String),
    /// ONNX Runtime's shared library could not be found or loaded.
    RuntimeMissing(String),
    /// ONNX Runtime failed while building or running a session.
    Runtime(String),
    /// The operation was cancelled through its `Cancel` flag.
    Cancelled,
    /// Reading or writing a file failed.
    Io { path: PathBuf, problem: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn model(path: &Path, problem: impl Into<String>) -> Self {
        Error::Model {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        let problem = match err.kind() {
            std::io::ErrorKind::NotFound => "does not exist; check the path".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "cannot be read (permission denied); check its permissions".to_string()
            }
            std::io::ErrorKind::IsADirectory => {
                "is a directory, not a file; give the path of a file".to_string()
            }
            _ => format!("could not be read or written ({err})"),
        };
        Error::Io {
            path: path.to_path_buf(),
            problem,
        }
    }

    /// The short name a front end shows (`ModelError`, `UsageError`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Model { .. } => "ModelError",
            Error::Usage(_) => "UsageError",
            Error::RuntimeMissing(_) => "RuntimeMissing",
            Error::Runtime(_) => "RuntimeError",
            Error::Cancelled => "KeyboardInterrupt",
            Error::Io { .. } => "IoError",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Model { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Io { path, problem } => write!(f, "{} {problem}.", path.display()),
            Error::Usage(msg) | Error::RuntimeMissing(msg) | Error::Runtime(msg) => {
                f.write_str(msg)
            }
            Error::Cancelled => f.write_str("Cancelled; the state before this command is kept."),
        }
    }
}

impl std::error::Error for Error {}
