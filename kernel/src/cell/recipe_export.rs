//! `export recipe PATH [--format sparseml|llm-compressor]`: the request from the flags (the
//! one-shot flags only with llm-compressor, whose recipe carries them), and what was written in a
//! sentence with its facts.

use std::path::PathBuf;

use prunekit_core::export::llm_compressor::OneShot;
use prunekit_core::quantize::{Int4Settings, QuantMode, Rounding};
use prunekit_core::reconstruct::Method;
use prunekit_core::workflow::export::{RecipeExport, RecipeFormat, RecipeWritten};
use prunekit_core::{Error, Result};
use serde_json::json;

use super::flags::Flags;

/// `--format sparseml|llm-compressor`, for `export recipe` only; the one-shot flags (`--method`,
/// `--pattern`, int4's) go with llm-compressor, whose recipe carries them.
pub fn format(flags: &Flags, kind: &str) -> Result<Option<RecipeFormat>> {
    let format = match flags.get("--format") {
        None => None,
        Some(_) if kind != "recipe" => {
            return Err(Error::Usage(
                "--format applies to `export recipe` (sparseml or llm-compressor).".into(),
            ));
        }
        Some(text) => Some(RecipeFormat::parse(text).ok_or_else(|| {
            Error::Usage(format!(
                "--format {text} is not a recipe format; use sparseml (pruning while training) or llm-compressor (one-shot, staged)."
            ))
        })?),
    };
    let one_shot_flags = [
        "--method",
        "--pattern",
        "--samples",
        "--block",
        "--rounding",
        "--symmetric",
    ];
    let given = one_shot_flags.into_iter().find(|f| flags.has(f));
    match (kind, format, given) {
        ("recipe", Some(RecipeFormat::LlmCompressor), Some(_)) if flags.has("--samples") => Err(Error::Usage(
            "--samples is llm-compressor's own setting (oneshot's num_calibration_samples), not the recipe's; drop it.".into(),
        )),
        ("recipe", Some(RecipeFormat::LlmCompressor), _) | (_, _, None) => Ok(format),
        ("recipe", _, Some(flag)) => Err(Error::Usage(format!(
            "{flag} describes one-shot pruning, which a SparseML recipe does not carry; add --format llm-compressor for a recipe that does, or give it to `export model`."
        ))),
        _ => Ok(format),
    }
}

/// The `export recipe` request.
pub fn request(
    flags: &Flags,
    path: PathBuf,
    optimization: Option<String>,
    int4: Int4Settings,
) -> Result<RecipeExport> {
    let pruning = super::pruning::request(flags)?;
    Ok(RecipeExport {
        path,
        optimization,
        names: flags.get("--names").map(PathBuf::from),
        format: format(flags, "recipe")?.unwrap_or_default(),
        one_shot: OneShot {
            method: pruning.method.unwrap_or(Method::SparseGpt),
            pattern: pruning.pattern,
            int4,
        },
    })
}

/// What was written, in a sentence, and its facts.
pub fn written(w: &RecipeWritten) -> (String, serde_json::Value) {
    let llm_compressor = w.format == RecipeFormat::LlmCompressor;
    let mut message = format!(
        "Wrote {} ({}{} modifier{}, {} layer{} pruned{}).",
        w.path.display(),
        if llm_compressor {
            "llm-compressor, "
        } else {
            ""
        },
        w.modifiers,
        if w.modifiers == 1 { "" } else { "s" },
        w.layers_pruned.len(),
        if w.layers_pruned.len() == 1 { "" } else { "s" },
        if llm_compressor {
            format!(
                " by {} in the {} pattern",
                w.one_shot.method.name(),
                w.one_shot.pattern.name()
            )
        } else {
            String::new()
        }
    );
    if let Some(q) = w.quantization.as_ref().filter(|_| llm_compressor) {
        message.push_str(&format!(
            " Then {} quantization ({}){}.",
            q.mode.name(),
            match (q.mode, w.one_shot.int4.rounding) {
                (QuantMode::Int4, Rounding::Gptq) => "GPTQModifier",
                _ => "QuantizationModifier",
            },
            if q.ignore.is_empty() {
                String::new()
            } else {
                format!("; {} layers left float", q.ignore.len())
            }
        ));
    } else if let Some(q) = &w.quantization {
        message.push_str(&match q.mode {
            QuantMode::Static => format!(
                " Quantization-aware training from epoch {} (QuantizationModifier){}.",
                q.start_epoch,
                if q.ignore.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} layer{} left float: {}",
                        q.ignore.len(),
                        if q.ignore.len() == 1 { "" } else { "s" },
                        q.ignore
                            .iter()
                            .map(|i| i.weight.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            QuantMode::Dynamic => " Dynamic quantization needs no training: `export model` applies it after pruning (the recipe says so in a comment).".into(),
            QuantMode::Int4 => " Int4 weight-only quantization needs no training: `export model --quantize int4` applies it after pruning (the recipe says so in a comment).".into(),
        });
    }
    if !w.generated_names.is_empty() && !w.names_given {
        message.push_str(&format!(
            " {} weight names look generated by the exporter ({}...); they will not match the framework's parameter names: give --names MAP.json mapping each to its framework name.",
            w.generated_names.len(),
            w.generated_names.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let value = json!({"path": w.path, "kind": "recipe", "format": w.format.name(), "modifiers": w.modifiers, "layers_pruned": w.layers_pruned, "generated_names": w.generated_names, "quantization": w.quantization.as_ref().map(|q| q.mode)});
    let mut value = value;
    if llm_compressor {
        value["method"] = json!(w.one_shot.method.name());
        value["pattern"] = json!(w.one_shot.pattern.name());
    }
    (message, value)
}
