//! Real staged recipes (tests/recipes/staged, see its SOURCES.md): those llm-compressor or
//! SparseML 1.7 load give no error, those SparseML 1.7 rejects give the error that says why; and a
//! 5,000-line staged recipe checks in well under the 50 ms an edit may take.

use std::path::{Path, PathBuf};
use std::time::Instant;

use prunekit_core::recipe::{CheckOptions, Severity, check};

fn fixtures(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/recipes/staged")
        .join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn errors(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    check(&text, &CheckOptions::default())
        .diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect()
}

#[test]
fn recipes_the_tools_load_give_no_error() {
    let mut checked = 0;
    for folder in ["llm-compressor", "sparseml"] {
        for path in fixtures(folder) {
            let errors = errors(&path);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} recipes");
}

#[test]
fn recipes_sparseml_rejects_are_flagged_with_the_reason() {
    let files = fixtures("rejected");
    assert_eq!(files.len(), 4);
    for path in files {
        let errors = errors(&path);
        let name = path.file_name().unwrap().to_string_lossy();
        let expected = if name.contains("e2e_recipe") {
            "eval-unknown-variable"
        } else {
            "missing-field"
        };
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{name}: {errors:#?}"
        );
    }
}

/// 250 stages of four modifiers, about 5,000 lines.
fn long_recipe() -> String {
    let mut text = String::new();
    for i in 0..250 {
        text.push_str(&format!(
            "stage{i}_stage:\n  run_type: oneshot\n  sparsity_modifiers:\n    SparseGPTModifier:\n      sparsity: 0.5\n      mask_structure: \"2:4\"\n      block_size: 128\n      dampening_frac: 0.01\n      targets: ['re:model.layers.{i}.*']\n  quant_modifiers:\n    GPTQModifier:\n      block_size: 128\n      targets: [Linear]\n      ignore: [lm_head]\n      config_groups:\n        group_0:\n          targets: [Linear]\n          weights: {{num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 128}}\n  smooth_modifiers:\n    SmoothQuantModifier:\n      smoothing_strength: 0.8\n      mappings: [[['re:.*q_proj', 're:.*k_proj'], 're:.*input_layernorm']]\n"
        ));
    }
    text
}

#[test]
fn a_five_thousand_line_staged_recipe_checks_fast() {
    let text = long_recipe();
    assert!(text.lines().count() >= 5_000, "{}", text.lines().count());
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let checked = check(&text, &CheckOptions::default());
        times.push(started.elapsed());
        assert_eq!(checked.recipe.modifiers.len(), 750);
        assert!(
            checked
                .diagnostics
                .iter()
                .all(|d| d.severity != Severity::Error),
            "{:?}",
            &checked.diagnostics[..3.min(checked.diagnostics.len())]
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    eprintln!("5,000-line staged recipe: check median {median:?} of {times:?}");
    // A debug build is about ten times slower than the release build the server ships.
    let limit = if cfg!(debug_assertions) { 500 } else { 50 };
    assert!(median.as_millis() < limit, "{median:?}");
}
