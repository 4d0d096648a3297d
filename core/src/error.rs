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
        let text = match self {
            Error::Model { path, problem } => format!("{}: {problem}", path.display()),
            Error::Io { path, problem } => format!("{} {problem}.", path.display()),
            Error::Usage(msg) | Error::RuntimeMissing(msg) | Error::Runtime(msg) => msg.clone(),
            Error::Cancelled => "Cancelled; the state before this command is kept.".into(),
        };
        f.write_str(&one_line(&text))
    }
}

/// Every error is one line: ONNX Runtime's messages span lines, and names quoted from a damaged
/// file may hold control characters that would break the line or move a terminal's cursor. Line
/// breaks become spaces (a space before the closing period is dropped); other control characters
/// are written as escapes (`\u{1e}`).
pub(crate) fn one_line(text: &str) -> String {
    let is_break = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    if !text.contains(|c: char| c.is_control() || is_break(c)) {
        return text.to_string();
    }
    let joined = text
        .split(is_break)
        .map(|part| part.trim_matches(' '))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let joined = joined.replace(" .", ".");
    joined
        .chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_one_line() {
        let err = Error::Runtime(
            "ONNX Runtime could not run the model: Non-zero status code\nStatus Message: failed\n."
                .into(),
        );
        assert_eq!(
            err.to_string(),
            "ONNX Runtime could not run the model: Non-zero status code Status Message: failed."
        );
        let err = Error::model(Path::new("m.onnx"), "tensor 'a\u{1e}b' is bad.");
        assert_eq!(err.to_string(), "m.onnx: tensor 'a\\u{1e}b' is bad.");
        let plain = Error::Usage("give a batch.".into());
        assert_eq!(plain.to_string(), "give a batch.");
    }
}
