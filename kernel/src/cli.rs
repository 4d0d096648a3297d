//! `prunekit-kernel run`: the cell language from a shell, for scripts and benchmarks. Each
//! argument is one command line, run in one session exactly as a notebook cell would run it;
//! results go to stdout (their text, or their JSON with `--format json`, one object per line),
//! progress to stderr when it is a terminal (one line redrawn in place, cleared when done, so a
//! log or a pipe gets only results and error sentences).

use std::io::{IsTerminal, Write};
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
}

impl Terminal {
    fn end_progress(&self) {
        let mut open = self.progress_open.lock().unwrap_or_else(|p| p.into_inner());
        if *open {
            // Carriage return and erase the line.
            eprint!("\r\x1b[2K");
            *open = false;
        }
    }

    fn progress(&self, text: &str) {
        if self.show_progress {
            eprint!("\r\x1b[2K{text}");
            *self.progress_open.lock().unwrap_or_else(|p| p.into_inner()) = true;
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
                if name == "stderr" || self.json {
                    eprint!("{text}");
                } else {
                    print!("{text}");
                }
            }
            Output::Display { bundle, display_id } => {
                if display_id.is_some() {
                    self.progress(&text_of(&bundle));
                } else if !self.json {
                    self.end_progress();
                    println!("{}", text_of(&bundle));
                }
            }
            Output::Update { bundle, .. } => self.progress(&text_of(&bundle)),
            Output::Result(bundle) => {
                self.end_progress();
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth a message.
                let _ = if self.json {
                    let value = bundle.data.get(RESULT_MIME).cloned().unwrap_or_default();
                    writeln!(out, "{value}")
                } else {
                    writeln!(out, "{}", text_of(&bundle))
                };
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
            "give the commands to run, one per argument: prunekit-kernel run 'load model.onnx' 'profile loss'."
                .into(),
        ));
    }
    let sink = Terminal {
        json,
        show_progress: std::io::stderr().is_terminal(),
        progress_open: Mutex::new(false),
    };
    let mut session = KernelSession::default();
    let result = crate::cell::run::run(&mut session, &lines.join("\n"), &sink, &Cancel::default());
    sink.end_progress();
    result
}
