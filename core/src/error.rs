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
    /// The same, in a sentence that names the settings to change; each front end words them in its
    /// own syntax (the kernel as its flags), so the core never spells a front end's flag.
    Advice(Sentence),
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

    /// Whether the caller can fix it by asking differently (a CLI exits 2 for these).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_) | Error::Advice(_))
    }

    /// The one-line message, with the settings it names worded by `wording`.
    pub fn message(&self, wording: &dyn Wording) -> String {
        match self {
            Error::Advice(sentence) => one_line(&sentence.words(wording)),
            other => other.to_string(),
        }
    }

    /// The short name a front end shows (`ModelError`, `UsageError`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Error::Model { .. } => "ModelError",
            Error::Usage(_) | Error::Advice(_) => "UsageError",
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
            Error::Advice(sentence) => sentence.words(&PlainWording),
            Error::Cancelled => "Cancelled; the state before this command is kept.".into(),
        };
        f.write_str(&one_line(&text))
    }
}

/// A value the user gives a command, named in an error's advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Items per run.
    Batch,
    /// How many samples a profile or calibration uses.
    Samples,
    /// Timed runs per measurement.
    Iterations,
    /// ONNX Runtime's intra-op threads.
    Threads,
    /// The sparsity levels a profile measures.
    Levels,
    /// Sizes of the model's named free dims.
    Dim,
    /// Whole input shapes.
    Input,
    /// A file of real samples (`.npz`).
    Data,
    /// The quantization mode.
    Quantize,
    /// How calibration ranges are found (min-max, percentile, entropy).
    Calibration,
    /// One scale per tensor instead of per channel.
    PerTensor,
    /// Samples to calibrate on when a model is exported.
    CalibrationData,
    /// Layers an exported model keeps float (named, or `auto`: the most int8-sensitive).
    KeepFloat,
    /// How an exported model's layers are pruned (magnitude, Wanda, SparseGPT).
    Method,
    /// Where the zeros go (unstructured, N:M).
    Pattern,
    /// How int4 weights are rounded (to nearest, or by GPTQ).
    Rounding,
}

/// Something the user can run to get what an operation lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Give the named input a shape when the model is loaded.
    SizeInput(String),
    /// Measure a loss profile with its quantization section.
    LossWithQuantization,
    /// List the profiles measured so far.
    ListProfiles,
    /// Fit an optimization, under a name when one is given.
    Optimize(Option<String>),
    /// Fit an optimization that quantizes statically.
    OptimizeQuantized,
    /// Export the dense model in int8.
    ExportDenseInt8,
    /// Measure the channel loss profile (each channel group losing channels).
    ChannelProfile,
    /// Write the optimization's model.
    ExportModel,
    /// Write a channel plan's kept channels for the framework's model.
    ExportPlan,
}

/// How a front end spells settings and actions.
pub trait Wording {
    /// The setting itself ("--batch").
    fn setting(&self, setting: Setting) -> String;
    /// The setting given a value ("--batch 8").
    fn set(&self, setting: Setting, value: &str) -> String;
    /// An action to run ("`profile loss --quantization`").
    fn action(&self, action: &Action) -> String;
}

/// Front-end-neutral words: what `Display` prints.
pub struct PlainWording;

impl Wording for PlainWording {
    fn setting(&self, setting: Setting) -> String {
        match setting {
            Setting::Batch => "the batch size",
            Setting::Samples => "the sample count",
            Setting::Iterations => "the iteration count",
            Setting::Threads => "the thread count",
            Setting::Levels => "the sparsity levels",
            Setting::Dim => "the free-dim sizes",
            Setting::Input => "the input shapes",
            Setting::Data => "a data file",
            Setting::Quantize => "the quantization mode",
            Setting::Calibration => "a calibration method",
            Setting::PerTensor => "the per-tensor option",
            Setting::CalibrationData => "calibration data",
            Setting::KeepFloat => "layers kept float",
            Setting::Method => "a pruning method",
            Setting::Pattern => "a sparsity pattern",
            Setting::Rounding => "the int4 rounding",
        }
        .into()
    }

    fn set(&self, setting: Setting, value: &str) -> String {
        match setting {
            Setting::Batch => format!("a batch size of {value}"),
            Setting::Samples => format!("a sample count of {value}"),
            Setting::Iterations => format!("{value} iterations"),
            Setting::Threads => format!("{value} threads"),
            Setting::Levels => format!("the sparsity levels {value}"),
            Setting::Dim => format!("the free-dim sizes {value}"),
            Setting::Input => format!("the input shape {value}"),
            Setting::Data => format!("a data file ({value})"),
            Setting::Quantize => format!("{value} quantization"),
            Setting::Calibration => format!("the {value} calibration"),
            Setting::PerTensor => "the per-tensor option".into(),
            Setting::CalibrationData => format!("calibration data ({value})"),
            Setting::KeepFloat if value == "auto" => {
                "the most int8-sensitive layers kept float".into()
            }
            Setting::KeepFloat => format!("layers kept float ({value})"),
            Setting::Method => format!("the {value} pruning method"),
            Setting::Pattern => format!("the {value} sparsity pattern"),
            Setting::Rounding => format!("the {value} rounding"),
        }
    }

    fn action(&self, action: &Action) -> String {
        match action {
            Action::SizeInput(name) => format!("a shape for input '{name}' when loading the model"),
            Action::LossWithQuantization => "a loss profile with quantization".into(),
            Action::ListProfiles => "a listing of the profiles".into(),
            Action::Optimize(None) => "an optimization".into(),
            Action::Optimize(Some(name)) => format!("an optimization named '{name}'"),
            Action::OptimizeQuantized => "an optimization with static quantization".into(),
            Action::ExportDenseInt8 => "an export with static quantization".into(),
            Action::ChannelProfile => "a channel loss profile".into(),
            Action::ExportModel => "a model export".into(),
            Action::ExportPlan => "a plan export".into(),
        }
    }
}

/// One piece of a [`Sentence`].
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Setting(Setting),
    Set(Setting, String),
    Action(Action),
}

/// An error sentence whose settings and actions stay typed until a front end words them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sentence(Vec<Piece>);

impl Sentence {
    pub fn new(text: impl Into<String>) -> Self {
        Sentence(vec![Piece::Text(text.into())])
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.0.push(Piece::Text(text.into()));
        self
    }

    pub fn setting(mut self, setting: Setting) -> Self {
        self.0.push(Piece::Setting(setting));
        self
    }

    pub fn set(mut self, setting: Setting, value: impl ToString) -> Self {
        self.0.push(Piece::Set(setting, value.to_string()));
        self
    }

    pub fn action(mut self, action: Action) -> Self {
        self.0.push(Piece::Action(action));
        self
    }

    /// This sentence followed by `rest`.
    pub fn then(mut self, rest: Sentence) -> Self {
        self.0.extend(rest.0);
        self
    }

    /// The settings this sentence names, in order (for tests and front ends).
    pub fn names(&self) -> Vec<Setting> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Piece::Setting(s) | Piece::Set(s, _) => Some(*s),
                _ => None,
            })
            .collect()
    }

    pub fn words(&self, wording: &dyn Wording) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.clone(),
                Piece::Setting(s) => wording.setting(*s),
                Piece::Set(s, value) => wording.set(*s, value),
                Piece::Action(action) => wording.action(action),
            })
            .collect()
    }
}

impl From<&str> for Sentence {
    fn from(text: &str) -> Self {
        Sentence::new(text)
    }
}

impl From<String> for Sentence {
    fn from(text: String) -> Self {
        Sentence::new(text)
    }
}

impl From<Sentence> for Error {
    fn from(sentence: Sentence) -> Self {
        Error::Advice(sentence)
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

    struct Flags;
    impl Wording for Flags {
        fn setting(&self, _: Setting) -> String {
            "--batch".into()
        }
        fn set(&self, _: Setting, value: &str) -> String {
            format!("--batch {value}")
        }
        fn action(&self, _: &Action) -> String {
            "`profile loss`".into()
        }
    }

    #[test]
    fn advice_is_worded_by_the_front_end_and_plainly_by_display() {
        let err = Error::from(
            Sentence::new("the model's batch is fixed at 4; drop ")
                .setting(Setting::Batch)
                .text(" or give ")
                .set(Setting::Batch, 4)
                .text("."),
        );
        assert_eq!(
            err.message(&Flags),
            "the model's batch is fixed at 4; drop --batch or give --batch 4."
        );
        assert_eq!(
            err.to_string(),
            "the model's batch is fixed at 4; drop the batch size or give a batch size of 4."
        );
        assert!(err.is_usage());
        assert_eq!(err.kind_name(), "UsageError");
        let Error::Advice(sentence) = &err else {
            unreachable!()
        };
        assert_eq!(sentence.names(), vec![Setting::Batch, Setting::Batch]);
        // Plain errors are worded the same by every front end.
        let io = Error::Runtime("ONNX Runtime failed.".into());
        assert_eq!(io.message(&Flags), io.to_string());
    }
}
