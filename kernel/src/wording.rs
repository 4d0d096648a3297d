//! How the kernel spells the settings and actions core errors name: as its own flags and commands.
//! The core words them plainly (it knows no front end); every error the kernel shows, in a
//! notebook or on a terminal, goes through [`message`].

use prunekit_core::Error;
use prunekit_core::error::{Action, Setting, Wording};

/// The kernel's cell and command-line syntax.
pub struct Flags;

impl Wording for Flags {
    fn setting(&self, setting: Setting) -> String {
        flag(setting).into()
    }

    fn set(&self, setting: Setting, value: &str) -> String {
        format!("{} {value}", flag(setting))
    }

    fn action(&self, action: &Action) -> String {
        match action {
            Action::SizeInput(name) => format!("`load --input {name}=D0,D1,..`"),
            Action::LossWithQuantization => "`profile loss --quantization`".into(),
            Action::ListProfiles => "`profiles`".into(),
            Action::Optimize(None) => "`optimize`".into(),
            Action::Optimize(Some(name)) => format!("`optimize --name {name}`"),
            Action::OptimizeQuantized => "`optimize --quantize static`".into(),
            Action::ExportDenseInt8 => "`export model PATH --quantize static`".into(),
            Action::ChannelProfile => "`profile loss --structure channel`".into(),
            Action::ExportModel => "`export model PATH`".into(),
            Action::ExportPlan => "`export plan PATH.json`".into(),
        }
    }
}

fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Batch => "--batch",
        Setting::Samples => "--samples",
        Setting::Iterations => "--iterations",
        Setting::Threads => "--threads",
        Setting::Levels => "--levels",
        Setting::Dim => "--dim",
        Setting::Input => "--input",
        Setting::Data => "--data",
        Setting::Quantize => "--quantize",
        Setting::Calibration => "--calibration",
        Setting::PerTensor => "--per-tensor",
        Setting::CalibrationData => "--calibration-data",
        Setting::KeepFloat => "--keep-float",
        Setting::Method => "--method",
        Setting::Pattern => "--pattern",
        Setting::Rounding => "--rounding",
    }
}

/// The one-line message the kernel shows for `err`.
pub fn message(err: &Error) -> String {
    err.message(&Flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prunekit_core::error::Sentence;

    #[test]
    fn settings_read_as_the_kernels_flags() {
        let err = Error::from(
            Sentence::new("use smaller ")
                .setting(Setting::Dim)
                .text(" or ")
                .set(Setting::Input, "x=1,3")
                .text("; or run ")
                .action(Action::SizeInput("x".into()))
                .text(" then ")
                .action(Action::LossWithQuantization)
                .text("."),
        );
        assert_eq!(
            message(&err),
            "use smaller --dim or --input x=1,3; or run `load --input x=D0,D1,..` then `profile loss --quantization`."
        );
        assert!(!err.to_string().contains("--"), "{err}");
    }
}
