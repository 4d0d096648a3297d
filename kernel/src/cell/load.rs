//! `load PATH [--input NAME=D0,D1,..] [--dim SYMBOL=SIZE]`: the arguments of loading a model, and
//! the command itself.

use std::path::PathBuf;

use prunekit_core::project::{self, Found, LoadState, ProjectFile};
use prunekit_core::{AnalysisOptions, Error, Result, format};

use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::table;
use crate::display::{json, text};
use crate::session::{KernelSession, LoadedModel};

#[derive(Debug, Clone, Default)]
pub struct LoadArgs {
    pub path: PathBuf,
    pub options: AnalysisOptions,
}

impl LoadArgs {
    /// Parses the words after `load` (or `analyze`); `rest` collects flags the caller handles.
    pub fn parse<'a>(words: &'a [String], rest: &mut Vec<&'a str>) -> Result<LoadArgs> {
        let mut path = None;
        let mut options = AnalysisOptions::default();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "--input" | "--dim" => {
                    let value = words.next().ok_or_else(|| {
                        Error::Usage(format!("{word} needs a value, like {}.", example(word)))
                    })?;
                    parse_flag(word, value, &mut options)?;
                }
                flag if flag.starts_with("--input=") || flag.starts_with("--dim=") => {
                    let (name, value) = flag.split_once('=').expect("checked above");
                    parse_flag(name, value, &mut options)?;
                }
                flag if flag.starts_with("--") => rest.push(flag),
                other if path.is_none() => path = Some(PathBuf::from(other)),
                other => {
                    return Err(Error::Usage(format!(
                        "unexpected argument '{other}': give one model path, then flags."
                    )));
                }
            }
        }
        let path = path.ok_or_else(|| {
            Error::Usage("give the path of an .onnx model, like `load model.onnx`.".into())
        })?;
        Ok(LoadArgs { path, options })
    }
}

fn example(flag: &str) -> &'static str {
    if flag == "--input" {
        "--input input=1,3,224,224"
    } else {
        "--dim batch=8"
    }
}

fn parse_flag(flag: &str, value: &str, options: &mut AnalysisOptions) -> Result<()> {
    let bad = || {
        Error::Usage(format!(
            "{flag} {value} is not valid; write it like {}.",
            example(flag)
        ))
    };
    let (name, sizes) = value.split_once('=').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let sizes: Vec<u64> = sizes
        .split(',')
        .map(|s| s.trim().parse::<u64>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {value}: every size must be a whole number above 0."
            ))
        })?;
    if flag == "--dim" {
        let [size] = sizes[..] else { return Err(bad()) };
        options.dims.retain(|(n, _)| n != name);
        options.dims.push((name.to_string(), size));
    } else {
        options.input_shapes.retain(|(n, _)| n != name);
        options.input_shapes.push((name.to_string(), sizes));
    }
    Ok(())
}

/// `load PATH`: analyzes the model, restores or saves the sizes of its free dims, and shows
/// the analysis.
pub fn load(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
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
        super::layers::layers_table(&analysis.layers.iter().collect::<Vec<_>>())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str) -> Result<LoadArgs> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        LoadArgs::parse(&words, &mut Vec::new())
    }

    #[test]
    fn flags_in_both_spellings() {
        let args = check("m.onnx --input x=2,3 --dim=batch=4 --dim seq=9").unwrap();
        assert_eq!(args.path, PathBuf::from("m.onnx"));
        assert_eq!(
            args.options.input_shapes,
            vec![("x".to_string(), vec![2, 3])]
        );
        assert_eq!(
            args.options.dims,
            vec![("batch".to_string(), 4), ("seq".to_string(), 9)]
        );
    }

    #[test]
    fn bad_values_get_one_sentence() {
        for line in [
            "m.onnx --dim batch",
            "m.onnx --dim batch=0",
            "m.onnx --input x=2,a",
            "m.onnx --dim",
            "",
            "a b",
        ] {
            let err = check(line).unwrap_err().to_string();
            assert!(err.ends_with('.'), "{line}: {err}");
            assert!(!err.contains('\n'), "{line}: {err}");
        }
    }
}
