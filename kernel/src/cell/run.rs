//! Running a cell: each command line in turn against the session, stopping at the first error.
//! Results go to the sink as outputs as each command makes them; errors come back as the core's
//! typed `Error`.

use std::time::{Duration, Instant};

use prunekit_core::project::{self, Found, LoadState, ProjectFile};
use prunekit_core::{Cancel, Error, Progress, Result, format};
use regex::Regex;

use super::load::LoadArgs;
use super::output::{Output, Sink};
use super::parse::{self, Line};
use super::spec;
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, Column};
use crate::display::{json, text};
use crate::session::{KernelSession, LoadedModel};

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
        "load" => load(session, &line.words, sink),
        "layers" => layers(session, &line.words, sink),
        "profile" => super::profile::profile(session, &line.words, sink, cancel),
        "profiles" => super::profile::list(session, &line.words, sink),
        "optimize" => super::optimize::optimize(session, &line.words, sink),
        "override" => super::optimize::override_layers(session, &line.words, sink),
        "export" => super::optimize::export(session, &line.words, sink, cancel),
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

fn load(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let mut rest = Vec::new();
    let mut args = LoadArgs::parse(words, &mut rest)?;
    if let Some(flag) = rest.first() {
        return Err(Error::Usage(format!(
            "unknown flag {flag}; load takes --input and --dim."
        )));
    }
    // A new project starts with the session's settings.
    let model_path = args.path.clone();
    let fresh = |settings: &project::Settings| ProjectFile {
        settings: settings.clone(),
        ..ProjectFile::new(&model_path)
    };
    let project = match project::read(&args.path)? {
        Found::Project(project) => {
            // A restarted kernel carries on with the settings this model had.
            session.settings = project.settings.clone();
            *project
        }
        Found::None => fresh(&session.settings),
        Found::MovedAside(aside) => {
            super::saving::moved_aside(sink, &project::moved_aside_notice(&aside));
            fresh(&session.settings)
        }
    };
    // Sizes given now win; without any, the sizes of the last load of this model are reused,
    // and the output says so.
    let mut restored = String::new();
    if args.options.input_shapes.is_empty() && args.options.dims.is_empty() {
        args.options = project.load.to_options();
        let inputs = args.options.input_shapes.iter().map(|(n, s)| {
            let dims: Vec<String> = s.iter().map(u64::to_string).collect();
            format!("--input {n}={}", dims.join(","))
        });
        let dims = args
            .options
            .dims
            .iter()
            .map(|(n, s)| format!("--dim {n}={s}"));
        let sizes: Vec<String> = inputs.chain(dims).collect();
        if !sizes.is_empty() {
            restored = format!(
                "Sizes from this model's project file: {} (give --dim or --input to change them).\n",
                sizes.join(" ")
            );
        }
    }
    let model = prunekit_core::load(&args.path)?;
    let analysis = prunekit_core::analyze(&model, &args.options)?;
    // Only the sizes are saved, into the project as it is now: other processes may have saved
    // to it while the model was analyzed.
    let load_state = LoadState::from_options(&args.options);
    super::saving::save_or_create(
        &args.path,
        sink,
        || fresh(&session.settings),
        |p| p.load = load_state,
    )?;

    let summary = format!("{restored}{}", text::analysis(&analysis));
    let note = if restored.is_empty() {
        String::new()
    } else {
        format!("<p>{}</p>", table::escape(restored.trim()))
    };
    let html = format!(
        "{note}{}{}",
        summary_html(&analysis),
        layers_table(&analysis.layers.iter().collect::<Vec<_>>())
    );
    sink.emit(Output::Result(
        Bundle::text(summary)
            .html(html)
            .json(&json::analysis(&analysis)),
    ));
    session.current = Some(LoadedModel {
        path: args.path,
        analysis,
    });
    Ok(())
}

fn summary_html(a: &prunekit_core::ModelAnalysis) -> String {
    let t = &a.totals;
    let file = a.path.file_name().map_or_else(
        || a.path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let defaults = if a.defaults.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = a.defaults.iter().map(|(s, n)| format!("{s}={n}")).collect();
        format!(
            "<br>free dims set by default: {} (size them with <code>--dim</code>)",
            table::escape(&list.join(", "))
        )
    };
    format!(
        "<p><b>{}</b>: opset {}, {} layers ({} prunable), {} params ({} prunable, {:.1}% already zero), {} MACs, {} FLOPs{}</p>",
        table::escape(&file),
        a.opset,
        a.layers.len(),
        a.n_prunable(),
        format::grouped(t.params),
        format::grouped(t.prunable_params),
        100.0 * t.sparsity(),
        format::si(t.macs),
        format::si(t.flops),
        defaults
    )
}

fn layers_table(layers: &[&prunekit_core::Layer]) -> String {
    let columns = [
        Column {
            title: "layer",
            is_numeric: false,
        },
        Column {
            title: "op",
            is_numeric: false,
        },
        Column {
            title: "output shape",
            is_numeric: false,
        },
        Column {
            title: "params",
            is_numeric: true,
        },
        Column {
            title: "MACs",
            is_numeric: true,
        },
        Column {
            title: "FLOPs",
            is_numeric: true,
        },
        Column {
            title: "prunable",
            is_numeric: false,
        },
    ];
    let rows: Vec<Vec<String>> = layers
        .iter()
        .map(|l| {
            let shape = match l.output_shapes.first() {
                Some(Some(dims)) => format!("{dims:?}"),
                _ => "?".into(),
            };
            let opt = |v: Option<u64>| v.map_or("?".to_string(), format::si);
            let prunable = match (&l.is_prunable, &l.not_prunable_reason) {
                (true, _) => "yes".to_string(),
                (false, Some(reason)) => format!("no: {reason}"),
                (false, None) => String::new(),
            };
            vec![
                l.name.clone(),
                l.op_type.clone(),
                shape,
                format::si(l.params),
                opt(l.macs),
                opt(l.flops),
                prunable,
            ]
        })
        .collect();
    table::html(None, &columns, &rows)
}

fn layers(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let loaded = session.model()?;
    // Graph order unless asked otherwise.
    let mut sort = "graph";
    let mut top: Option<usize> = None;
    let mut pattern: Option<Regex> = None;
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| Error::Usage(format!("{flag} needs a value; see `help layers`.")))
        };
        match word.as_str() {
            "--sort" => {
                sort = match value("--sort")?.as_str() {
                    "name" => "name",
                    "params" => "params",
                    "flops" => "flops",
                    "macs" => "macs",
                    other => {
                        return Err(Error::Usage(format!(
                            "--sort {other} is not a key; use name, params, flops or macs."
                        )));
                    }
                }
            }
            "--top" => {
                let text = value("--top")?;
                top = Some(
                    text.parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "--top {text} is not a count; give a whole number above 0."
                            ))
                        })?,
                );
            }
            "--match" => {
                let text = value("--match")?;
                pattern = Some(Regex::new(text).map_err(|err| {
                    Error::Usage(format!(
                        "--match {text} is not a valid regular expression ({err})."
                    ))
                })?);
            }
            other => {
                return Err(Error::Usage(format!(
                    "unexpected '{other}'; see `help layers`."
                )));
            }
        }
    }
    let analysis = &loaded.analysis;
    let mut selected: Vec<&prunekit_core::Layer> = analysis
        .layers
        .iter()
        .filter(|l| {
            pattern.as_ref().is_none_or(|re| {
                re.is_match(&l.name)
                    || re.is_match(&l.op_type)
                    || l.weight.as_ref().is_some_and(|w| re.is_match(&w.name))
            })
        })
        .collect();
    let key = |l: &prunekit_core::Layer| match sort {
        "params" => l.params,
        "flops" => l.flops.unwrap_or(0),
        "macs" => l.macs.unwrap_or(0),
        _ => 0,
    };
    match sort {
        "graph" => {}
        "name" => selected.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => selected.sort_by_key(|l| std::cmp::Reverse(key(l))),
    }
    if let Some(n) = top {
        selected.truncate(n);
    }
    let mut subset = analysis.clone();
    subset.layers = selected.iter().map(|l| (*l).clone()).collect();

    let chart = prunekit_core::chart::params_and_flops(&subset, None)?;
    sink.emit(Output::Display {
        bundle: Bundle::text(format!(
            "[chart: params and FLOPs of {} layers]",
            subset.layers.len()
        ))
        .png(&chart.png, chart.width, chart.height),
        display_id: None,
    });
    let caption = format!(
        "{} of {} layers",
        subset.layers.len(),
        analysis.layers.len()
    );
    let plain = text::layer_rows(&subset.layers);
    let html = format!(
        "<p>{}</p>{}",
        table::escape(&caption),
        layers_table(&selected)
    );
    sink.emit(Output::Result(
        Bundle::text(format!("{caption}\n{plain}"))
            .html(html)
            .json(&json::analysis(&subset)),
    ));
    Ok(())
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
