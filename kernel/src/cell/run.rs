//! Running a cell: each command line in turn against the session, stopping at the first error.
//! Results go to the sink as outputs as each command makes them; errors come back as the core's
//! typed `Error`.

use std::time::{Duration, Instant};

use prunekit_core::{Cancel, Error, Progress, Result};

use super::output::{Output, Sink};
use super::parse::{self, Line};
use super::spec;
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table;
use crate::session::KernelSession;

pub fn run(
    session: &mut KernelSession,
    code: &str,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    // Every line is checked first, then parsed again as it runs, so no list of lines is kept.
    parse::check(code)?;
    for line in parse::lines(code) {
        cancel.check()?;
        run_line(session, &line?, sink, cancel)?;
    }
    Ok(())
}

fn run_line(
    session: &mut KernelSession,
    line: &Line,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    match line.verb.as_str() {
        "load" => super::load::load(session, &line.words, sink),
        "layers" => super::layers::layers(session, &line.words, sink),
        "profile" => super::profile::profile(session, &line.words, sink, cancel),
        "profiles" => super::profile::list(session, &line.words, sink),
        "optimize" => super::optimize::optimize(session, &line.words, sink),
        "override" => super::optimize::override_layers(session, &line.words, sink),
        "export" => super::export::export(session, &line.words, sink, cancel),
        "benchmark" => super::benchmark::benchmark(session, &line.words, sink, cancel),
        "settings" => super::settings::settings(session, &line.words, sink),
        "help" => help(&line.words, sink),
        "echo" => {
            sink.emit(Output::Stream {
                name: "stdout",
                text: format!("{}\n", line.words.join(" ")),
            });
            Ok(())
        }
        "sleep" => sleep(&line.words, sink, cancel),
        other => unreachable!("parse::check checked the verb {other}"),
    }
}

fn help(words: &[String], sink: &dyn Sink) -> Result<()> {
    let text = match words.first() {
        Some(name) => {
            let spec = spec::find(name).ok_or_else(|| {
                Error::Usage(format!(
                    "'{name}' is not a command; run `help` for the list."
                ))
            })?;
            spec::help_text(spec)
        }
        None => {
            let mut text =
                String::from("prunekit commands (one per line; # starts a comment):\n\n");
            for c in spec::COMMANDS {
                text.push_str(&format!("  {}\n      {}\n", c.synopsis, c.summary));
            }
            text.push_str("\nhelp COMMAND explains one; Tab completes commands, flags, paths and layer names.\n");
            text
        }
    };
    let html = format!("<pre>{}</pre>", table::escape(&text));
    sink.emit(Output::Result(Bundle::text(text).html(html)));
    Ok(())
}

/// The longest `sleep`: a day, so a typo cannot hang a notebook for years.
const MAX_SLEEP_SECONDS: f64 = 86_400.0;

fn sleep(words: &[String], sink: &dyn Sink, cancel: &Cancel) -> Result<()> {
    let text = words.first().map(String::as_str).unwrap_or("");
    let seconds: f64 = text
        .parse()
        .ok()
        .filter(|s: &f64| (0.0..=MAX_SLEEP_SECONDS).contains(s))
        .ok_or_else(|| {
            Error::Usage(format!(
                "sleep '{text}': give a number of seconds between 0 and 86400."
            ))
        })?;
    let total_ms = (seconds * 1000.0) as u64;
    let progress = ProgressDisplay::start(sink, "sleeping");
    let started = Instant::now();
    loop {
        let done_ms = (started.elapsed().as_millis() as u64).min(total_ms);
        if cancel.is_cancelled() {
            progress.finish(done_ms, total_ms, "interrupted while sleeping");
            return Err(Error::Cancelled);
        }
        progress.report(done_ms, total_ms, "sleeping");
        if done_ms >= total_ms {
            progress.finish(total_ms, total_ms, "slept");
            return Ok(());
        }
        std::thread::sleep(
            Duration::from_millis(20).min(Duration::from_millis(total_ms - done_ms)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::output::Collected;

    fn check(session: &mut KernelSession, code: &str) -> (Result<()>, Vec<Output>) {
        let sink = Collected::default();
        let result = run(session, code, &sink, &Cancel::default());
        (result, sink.0.into_inner().unwrap())
    }

    fn fixture(name: &str) -> String {
        format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn echo_and_settings() {
        let mut session = KernelSession::default();
        let (result, outputs) = check(&mut session, "echo hello, world\nsettings seed");
        result.unwrap();
        assert!(
            matches!(&outputs[0], Output::Stream { name: "stdout", text } if text == "hello, world\n")
        );
        match &outputs[1] {
            Output::Result(b) => assert_eq!(b.data["text/plain"], "seed = 0"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layers_needs_a_model_and_bad_flags_are_one_sentence() {
        let mut session = KernelSession::default();
        let err = check(&mut session, "layers").0.unwrap_err();
        assert!(err.to_string().contains("load"), "{err}");
        let err = check(&mut session, "sleep forever").0.unwrap_err();
        assert_eq!(err.kind_name(), "UsageError");
    }

    #[test]
    fn load_then_layers_gives_chart_and_table() {
        let dir = std::env::temp_dir().join(format!("prunekit-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("digits_cnn.onnx");
        std::fs::copy(fixture("digits_cnn.onnx"), &model).unwrap();
        let mut session = KernelSession::default();
        let (result, outputs) = check(
            &mut session,
            &format!(
                "load {} --dim batch=4\nlayers --sort flops --top 3",
                model.display()
            ),
        );
        result.unwrap();
        assert_eq!(outputs.len(), 3);
        match &outputs[1] {
            Output::Display { bundle, .. } => {
                assert!(bundle.data.contains_key("image/png"));
                assert!(bundle.metadata["image/png"]["width"].as_u64().unwrap() > 0);
            }
            other => panic!("{other:?}"),
        }
        match &outputs[2] {
            Output::Result(b) => {
                assert!(b.data["text/html"].as_str().unwrap().contains("<table"));
                assert_eq!(
                    b.data[crate::display::bundle::RESULT_MIME]["layers"]
                        .as_array()
                        .unwrap()
                        .len(),
                    3
                );
            }
            other => panic!("{other:?}"),
        }
        // A restarted kernel: the project file remembers the dims.
        let mut fresh = KernelSession::default();
        let (result, outputs) = check(&mut fresh, &format!("load {}", model.display()));
        result.unwrap();
        match &outputs[0] {
            Output::Result(b) => {
                assert_eq!(
                    b.data[crate::display::bundle::RESULT_MIME]["model"]["inputs"][0]["shape"][0],
                    4
                );
                let text = b.data["text/plain"].as_str().unwrap();
                assert!(
                    text.starts_with("Sizes from this model's project file: --dim batch=4"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sleep_stops_when_cancelled() {
        let cancel = Cancel::default();
        cancel.cancel();
        let sink = Collected::default();
        let err = run(&mut KernelSession::default(), "sleep 30", &sink, &cancel).unwrap_err();
        assert_eq!(err, Error::Cancelled);
    }
}
