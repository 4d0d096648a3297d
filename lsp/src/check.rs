//! `prunekit-lsp check FILE [--model M] [--framework F] [--format text|json]`: the language
//! server's diagnostics on the command line, for scripts and CI. Exit 1 when there are errors.

use std::path::{Path, PathBuf};

use prunekit_core::recipe::{self, Severity};
use serde::Serialize;

use crate::line_index::{Encoding, LineIndex};
use crate::world::{self, Framework};

#[derive(Serialize)]
struct Report<'a> {
    file: &'a str,
    model: Option<String>,
    diagnostics: Vec<DiagnosticJson>,
}

#[derive(Serialize)]
struct DiagnosticJson {
    code: &'static str,
    severity: &'static str,
    message: String,
    range: RangeJson,
}

#[derive(Serialize)]
struct RangeJson {
    start: PositionJson,
    end: PositionJson,
}

/// Lines are 0-based and characters are UTF-16 units, as LSP counts them.
#[derive(Serialize)]
struct PositionJson {
    line: u32,
    character: u32,
}

/// Runs the check; the `Err` is the one sentence for a usage problem (exit 2).
pub fn run(args: &[String]) -> Result<bool, String> {
    let mut file: Option<PathBuf> = None;
    let mut model: Option<String> = None;
    let mut framework = Framework::default();
    let mut json = false;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--model" => {
                model = Some(
                    words
                        .next()
                        .ok_or("--model needs a path to an .onnx file.")?
                        .clone(),
                )
            }
            "--framework" => {
                let name = words
                    .next()
                    .ok_or("--framework needs pytorch, keras or tensorflow.")?;
                framework = Framework::from_name(name).ok_or(format!(
                    "--framework {name}: use pytorch, keras or tensorflow."
                ))?;
            }
            "--format" => {
                json = match words.next().map(String::as_str) {
                    Some("json") => true,
                    Some("text") => false,
                    _ => return Err("--format takes text or json.".into()),
                }
            }
            flag if flag.starts_with("--") => {
                return Err(format!(
                    "unknown flag {flag}; check takes --model, --framework and --format."
                ));
            }
            path if file.is_none() => file = Some(PathBuf::from(path)),
            extra => {
                return Err(format!(
                    "unexpected argument '{extra}'; check takes one recipe file."
                ));
            }
        }
    }
    let file = file.ok_or("give a recipe file: prunekit-lsp check FILE.recipe.yaml")?;
    let text = crate::files::read_recipe(&file)?;
    let context = world::model_context(&file, &text, model.as_deref());
    let checked = recipe::check(
        &text,
        &world::options(&file, framework, context.model.as_ref()),
    );
    let mut diagnostics = checked.diagnostics;
    diagnostics.extend(context.diagnostics);
    diagnostics.sort_by_key(|d| (d.span.start, d.severity));
    let index = LineIndex::new(&text);
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let position = |offset: usize| {
        let (line, character) = index.position(&text, offset, Encoding::Utf16);
        PositionJson { line, character }
    };
    let shown = file.display().to_string();
    if json {
        let report = Report {
            file: &shown,
            model: context.path.as_ref().map(|p| p.display().to_string()),
            diagnostics: diagnostics
                .iter()
                .map(|d| DiagnosticJson {
                    code: d.code,
                    severity: d.severity.name(),
                    message: d.message.clone(),
                    range: RangeJson {
                        start: position(d.span.start),
                        end: position(d.span.end),
                    },
                })
                .collect(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("plain data serializes")
        );
    } else {
        for d in &diagnostics {
            let p = position(d.span.start);
            println!(
                "{}:{}:{}: {}[{}]: {}",
                shown,
                p.line + 1,
                p.character + 1,
                d.severity.name(),
                d.code,
                d.message
            );
        }
        let n_errors = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let summary = match (diagnostics.len(), n_errors) {
            (0, _) => format!("{}: no problems", Path::new(&shown).display()),
            (n, e) => format!("{shown}: {n} problem(s), {e} error(s)"),
        };
        eprintln!("{summary}");
    }
    Ok(!has_errors)
}
