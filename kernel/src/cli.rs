//! `prunekit-kernel run`: the cell language from a shell, for scripts and benchmarks. Each
//! argument is one command line (or `-` reads a whole cell from stdin), run in one session exactly
//! as a notebook cell would run it; results go to stdout as each command makes them (their text,
//! or their JSON with `--format json`, one object per line), progress to stderr when it is a
//! terminal (one line redrawn in place, cleared when done, so a log or a pipe gets only results
//! and error sentences). Nothing is kept once printed, and there is no cap: a shell user chooses
//! with `| head` or a redirect. A closed stdout stops the run quietly, as `| head` expects.

use std::io::{IsTerminal, Read, Write};
use std::sync::Mutex;

use prunekit_core::{Cancel, Error, Result};

use crate::cell::output::{Output, Sink};
use crate::display::bundle::RESULT_MIME;
use crate::session::KernelSession;

struct Terminal {
    json: bool,
    show_progress: bool,
    /// Whether the last thing on stderr was a progress line still to be ended.
    progress_open: Mutex<bool>,
    /// Cancelled when stdout is closed: nobody reads the rest.
    cancel: Cancel,
}

impl Terminal {
    fn end_progress(&self) {
        let mut open = self.progress_open.lock().unwrap_or_else(|p| p.into_inner());
        if *open {
            // Carriage return and erase the line.
            let _ = std::io::stderr().write_all(b"\r\x1b[2K");
            *open = false;
        }
    }

    fn progress(&self, text: &str) {
        if self.show_progress {
            let _ = write!(std::io::stderr(), "\r\x1b[2K{text}");
            *self.progress_open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        }
    }

    /// Writes to stdout, or to stderr for `to_stderr`. `print!` would panic on a closed pipe.
    fn write(&self, to_stderr: bool, text: &str) {
        if to_stderr {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else if std::io::stdout().write_all(text.as_bytes()).is_err() {
            self.cancel.cancel();
        }
    }
}

impl Sink for Terminal {
    fn emit(&self, output: Output) {
        let text_of = |b: &crate::display::bundle::Bundle| {
            b.data
                .get("text/plain")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        match output {
            Output::Stream { name, text } => {
                self.end_progress();
                self.write(name == "stderr" || self.json, &text);
            }
            Output::Display { bundle, display_id } => {
                if display_id.is_some() {
                    self.progress(&text_of(&bundle));
                } else if !self.json {
                    self.end_progress();
                    self.write(false, &format!("{}\n", text_of(&bundle)));
                }
            }
            Output::Update { bundle, .. } => self.progress(&text_of(&bundle)),
            Output::Result(bundle) => {
                self.end_progress();
                let line = if self.json {
                    let value = bundle.data.get(RESULT_MIME).cloned().unwrap_or_default();
                    format!("{value}\n")
                } else {
                    format!("{}\n", text_of(&bundle))
                };
                self.write(false, &line);
            }
        }
    }
}

pub fn run(args: &[String]) -> Result<()> {
    let mut json = false;
    let mut lines = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--format" => {
                json = match it.next().map(String::as_str) {
                    Some("json") => true,
                    Some("text") => false,
                    _ => return Err(Error::Usage("--format takes `text` or `json`.".into())),
                }
            }
            line => lines.push(line.to_string()),
        }
    }
    if lines.is_empty() {
        return Err(Error::Usage(
            "give the commands to run, one per argument: prunekit-kernel run 'load model.onnx' 'profile loss' (or `-` to read them from stdin)."
                .into(),
        ));
    }
    let code = if lines == ["-"] {
        let mut code = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut code)
            .map_err(|err| Error::Io {
                path: "stdin".into(),
                problem: format!("could not be read ({err})"),
            })?;
        code
    } else {
        lines.join("\n")
    };
    let sink = Terminal {
        json,
        show_progress: std::io::stderr().is_terminal(),
        progress_open: Mutex::new(false),
        cancel: Cancel::default(),
    };
    let mut session = KernelSession::default();
    let result = crate::cell::run::run(&mut session, &code, &sink, &sink.cancel);
    sink.end_progress();
    match result {
        // The reader went away (`| head`): what it wanted was printed.
        Err(Error::Cancelled) if sink.cancel.is_cancelled() => Ok(()),
        other => other,
    }
}
