//! How `export model` prunes, as the kernel reads it from flags (`--method`, `--pattern`,
//! `--samples`) and says it back: the method and pattern, the samples read, each layer's note.

use prunekit_core::format::percent;
use prunekit_core::reconstruct::{Method, Pattern};
use prunekit_core::workflow::export::{Pruning, PruningRequest};
use prunekit_core::{Error, Result};

use super::flags::Flags;

/// `--method magnitude|wanda|sparsegpt`, `--pattern unstructured|N:M`, `--samples N`.
pub fn request(flags: &Flags) -> Result<PruningRequest> {
    let method = flags
        .get("--method")
        .map(|text| method("--method", text))
        .transpose()?;
    let pattern = flags
        .get("--pattern")
        .map(|text| {
            Pattern::parse(text).ok_or_else(|| {
                Error::Usage(format!(
                    "--pattern {text} is not a sparsity pattern; use unstructured, 2:4 or 4:8 (N:M: N zeros in every M weights)."
                ))
            })
        })
        .transpose()?
        .unwrap_or(Pattern::Unstructured);
    let samples = flags.count("--samples", 1)?;
    Ok(PruningRequest {
        method,
        pattern,
        samples,
    })
}

/// A pruning method named by `flag`.
pub fn method(flag: &str, text: &str) -> Result<Method> {
    Method::parse(text).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} {text} is not a pruning method; use magnitude, wanda or sparsegpt."
        ))
    })
}

/// How the model was pruned, in a sentence or two: the method and pattern, the samples read,
/// and each layer's note (a pattern it could not take, a Hessian dampened harder).
pub fn words(p: &Pruning) -> String {
    if let Some(c) = &p.channels {
        return super::structure::removal_words(c);
    }
    let pruned = p.layers.iter().filter(|l| l.sparsity > 0.0).count();
    let pattern = match p.pattern {
        Pattern::Unstructured => String::new(),
        other => format!(" in the {} pattern", other.name()),
    };
    let mut text = match (&p.data, p.method) {
        (Some(data), method) => format!(
            "{pruned} layers pruned by {}{pattern} to the plan, from their inputs on {} samples of {} ({:.1} s).",
            method_words(method),
            data.samples,
            data.source,
            p.seconds
        ),
        (None, _) => format!("{pruned} layers pruned by magnitude{pattern} to the plan."),
    };
    if p.method == Method::Magnitude && p.method_chosen {
        text.push_str(" Give --data (or --calibration-data) samples to prune with SparseGPT, which keeps accuracy without training.");
    }
    if let Some(s) = p.pattern.sparsity() {
        text.push_str(&format!(
            " The {} pattern fixes each pruned layer at {}, whatever the plan's level.",
            p.pattern.name(),
            percent(s)
        ));
    }
    for note in p.layers.iter().filter_map(|l| l.note.as_deref()) {
        text.push(' ');
        text.push_str(note);
    }
    text
}

fn method_words(method: Method) -> &'static str {
    match method {
        Method::Magnitude => "magnitude",
        Method::Wanda => "Wanda (|w|·‖x‖)",
        Method::SparseGpt => "SparseGPT",
    }
}
