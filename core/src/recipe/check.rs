//! `check`: a recipe's text in, its parse, typed recipe and every diagnostic out; never a
//! `Result`. It takes no path (the language server checks unsaved buffers): what it needs of the
//! file and the model comes in `CheckOptions`.

use std::collections::BTreeMap;

use super::catalog::Framework;
use super::context::{ModelContext, QuantizationSource, Weight};
use super::diagnostic::Diagnostic;
use super::lower::{self, Recipe};
use super::rules;
use super::span::Span;
use super::yaml::{self, YamlDocument};
use crate::ModelAnalysis;
use crate::profile::level_key;
use crate::profile::loss::LossProfile;
use crate::project::ProjectFile;

/// Ranks prunable weights by sensitivity, 1 for the most sensitive.
fn rank(weights: &mut [Weight]) {
    let mut ranked: Vec<(usize, f64)> = weights
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some((i, w.sensitivity.filter(|_| w.is_prunable)?)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    for w in weights.iter_mut() {
        w.sensitivity_rank = None;
    }
    for (rank, (i, _)) in ranked.into_iter().enumerate() {
        weights[i].sensitivity_rank = Some(rank + 1);
    }
}

/// Names such as `onnx::MatMul_99` or `2425` come from exporters that lost the framework's names.
pub fn is_generated_name(name: &str) -> bool {
    name.starts_with("onnx::") || (!name.is_empty() && name.chars().all(|c| c.is_ascii_digit()))
}

impl ModelContext {
    pub fn from_analysis(analysis: &ModelAnalysis) -> ModelContext {
        let mut weights: BTreeMap<String, Weight> = BTreeMap::new();
        for layer in &analysis.layers {
            let output_shape = layer.output_shapes.first().cloned().flatten();
            if let Some(w) = &layer.weight {
                weights.entry(w.name.clone()).or_insert_with(|| Weight {
                    name: w.name.clone(),
                    layer: layer.name.clone(),
                    op_type: layer.op_type.clone(),
                    shape: w.shape.clone(),
                    output_shape: output_shape.clone(),
                    params: layer.prunable_params,
                    flops: layer.flops,
                    zeroed: layer.zeroed_params,
                    is_prunable: layer.is_prunable,
                    reason: None,
                    sensitivity: layer.approx_sensitivity(),
                    ..Default::default()
                });
            }
            if let Some(b) = &layer.bias {
                weights.entry(b.name.clone()).or_insert_with(|| Weight {
                    name: b.name.clone(),
                    layer: layer.name.clone(),
                    op_type: layer.op_type.clone(),
                    shape: b.shape.clone(),
                    output_shape: output_shape.clone(),
                    params: b.shape.iter().map(|&d| d.max(0) as u64).product(),
                    flops: None,
                    zeroed: 0,
                    is_prunable: false,
                    reason: Some("it is a bias; pruning modifiers prune weights".into()),
                    ..Default::default()
                });
            }
        }
        let mut weights: Vec<Weight> = weights.into_values().collect();
        weights.sort_by_key(|w| !w.is_prunable);
        rank(&mut weights);
        let has_generated_names = weights
            .iter()
            .filter(|w| w.is_prunable)
            .any(|w| is_generated_name(&w.name));
        let name = analysis
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ModelContext {
            name,
            weights,
            has_generated_names,
            sensitivity_source: None,
            perf_source: None,
            plans: Vec::new(),
            quantization: None,
        }
    }

    /// Measured numbers from the model's project file replace the approximations: the latest
    /// loss profile's sensitivities (the integral over levels) and ranks, the latest performance
    /// profile's layer times.
    pub fn apply_profiles(&mut self, project: &ProjectFile) {
        if let Some((name, loss)) = project.latest_loss_profile() {
            for w in self.weights.iter_mut().filter(|w| w.is_prunable) {
                w.sensitivity = loss.by_weight(&w.name).map(|l| l.integral);
            }
            rank(&mut self.weights);
            self.sensitivity_source = Some(loss.source(name));
            self.apply_quantization(name, loss);
        }
        let latest = project.latest_optimization.as_deref();
        self.plans = project
            .optimizations
            .iter()
            .map(|(name, plan)| (name.clone(), plan.clone()))
            .collect();
        self.plans
            .sort_by_key(|(name, _)| Some(name.as_str()) != latest);
        if let Some((name, perf)) = project.latest_measured_perf_profile() {
            let key = level_key(0.9);
            for w in &mut self.weights {
                let layer = perf.layers.iter().find(|l| l.name == w.layer);
                w.ms = layer.and_then(|l| l.ms);
                w.ms_at_90 = layer.and_then(|l| l.estimated_ms.get(&key).copied());
            }
            self.perf_source = Some(format!(
                "performance profile '{name}' (batch {})",
                perf.model.batch
            ));
        }
    }

    /// The loss profile's int8 quantization values, when it measured them.
    fn apply_quantization(&mut self, name: &str, loss: &LossProfile) {
        let Some(quantization) = &loss.quantization else {
            return;
        };
        for w in &mut self.weights {
            w.quantization = quantization
                .layers
                .iter()
                .find(|l| l.weight == w.name)
                .cloned();
        }
        let setup = format!(
            "{} int8, per-{} weights, {} calibration",
            quantization.mode.name(),
            if quantization.per_channel {
                "channel"
            } else {
                "tensor"
            },
            quantization.calibration.name()
        );
        self.quantization = Some(QuantizationSource {
            source: loss.source(name),
            metric: quantization.metric.replace('_', " "),
            setup,
            layers: quantization.layers.len(),
            model: quantization.model.clone(),
            baseline_accuracy: loss.model.baseline_accuracy,
        });
    }

    pub fn weight(&self, name: &str) -> Option<&Weight> {
        self.weights.iter().find(|w| w.name == name)
    }

    pub fn prunable(&self) -> impl Iterator<Item = &Weight> {
        self.weights.iter().filter(|w| w.is_prunable)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions<'m> {
    pub framework: Framework,
    /// `*.recipe.md`: the recipe is the YAML front matter.
    pub is_markdown: bool,
    /// `*.yml`: SparseML's `from_yaml(path)` rejects the extension.
    pub is_yml: bool,
    pub model: Option<&'m ModelContext>,
}

#[derive(Debug, Clone)]
pub struct Checked {
    pub document: YamlDocument,
    pub recipe: Recipe,
    pub diagnostics: Vec<Diagnostic>,
}

/// The largest recipe `check` reads: real recipes are a few kilobytes, and checking takes about
/// a hundred times the text's size in memory, so a bigger text gets one diagnostic instead.
pub const MAX_RECIPE_BYTES: usize = 8 << 20;

pub fn check(text: &str, options: &CheckOptions) -> Checked {
    if text.len() > MAX_RECIPE_BYTES {
        return Checked {
            document: YamlDocument::default(),
            recipe: Recipe::default(),
            diagnostics: vec![Diagnostic::error(
                "too-large",
                Span { start: 0, end: 0 },
                too_large(text.len()),
            )],
        };
    }
    let mut diagnostics = Vec::new();
    let document = if options.is_markdown {
        yaml::parse_markdown(text)
    } else {
        yaml::parse(text)
    };
    if let Some(error) = &document.error {
        diagnostics.push(Diagnostic::error(
            "syntax",
            error.span,
            format!("{}.", error.message.trim_end_matches('.')),
        ));
    }
    if options.is_markdown {
        for problem in yaml::front_matter_diagnostics(text) {
            let severity = if problem.is_error() {
                super::Severity::Error
            } else {
                super::Severity::Warning
            };
            diagnostics.push(Diagnostic::new(
                "front-matter",
                severity,
                problem.span,
                problem.message.clone(),
            ));
        }
    }
    if options.is_yml {
        diagnostics.push(Diagnostic::error(
            "yml-extension",
            Span { start: 0, end: 0 },
            "SparseML's `from_yaml(path)` raises on a `.yml` path (it accepts `.yaml` and `.md` only); rename this file to `.recipe.yaml`.",
        ));
    }
    let (recipe, lowering) = lower::lower(text, &document);
    diagnostics.extend(lowering);
    let mut findings = rules::check(text, &recipe, options);
    // The modifier a syntax error cut short is not missing fields: they are after the error.
    if let (Some(error), true) = (&document.error, document.is_partial) {
        let cut = recipe
            .modifiers
            .iter()
            .rev()
            .find(|m| m.tag_span.start <= error.span.start)
            .map(|m| m.tag_span);
        findings.retain(|d| !(d.code == "missing-field" && Some(d.span) == cut));
    }
    diagnostics.extend(findings);
    diagnostics.sort_by_key(|d| (d.span.start, d.severity));
    Checked {
        document,
        recipe,
        diagnostics,
    }
}

/// Why a text of `len` bytes is not checked, in one sentence.
pub fn too_large(len: usize) -> String {
    format!(
        "This recipe is {:.1} MiB, more than the {} MiB prunekit checks; split it into smaller recipes.",
        len as f64 / (1 << 20) as f64,
        MAX_RECIPE_BYTES >> 20
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight(name: &str) -> Weight {
        Weight {
            name: name.into(),
            is_prunable: true,
            ..Default::default()
        }
    }

    /// A loss profile's `quantization` section (as the project file holds it) reaches the weights
    /// it measured, with the whole model's value and where it comes from.
    #[test]
    fn profiles_bring_the_quantization_sensitivity() {
        let project: ProjectFile = serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "model": "m.onnx",
            "latest_loss": "q",
            "loss_profiles": {"q": {
                "method": "one_shot",
                "metric": "kl_divergence",
                "levels": [0.5],
                "layers": [
                    {"name": "/a", "weight": "a.weight", "op_type": "Conv", "values": [0.1],
                     "integral": 0.1, "at_90": 0.1, "rank": 1},
                ],
                "model": {"values": [0.1], "baseline_accuracy": 0.99},
                "quantization": {
                    "mode": "static",
                    "calibration": {"method": "min_max"},
                    "per_channel": false,
                    "metric": "kl_divergence",
                    "layers": [{"name": "/a", "weight": "a.weight", "op_type": "Conv",
                                "value": 0.002, "accuracy": 0.98, "rank": 1}],
                    "model": {"value": 0.003},
                },
            }},
        }))
        .unwrap();
        let mut context = ModelContext {
            weights: vec![weight("a.weight"), weight("b.weight")],
            ..Default::default()
        };
        context.apply_profiles(&project);
        let a = context.weight("a.weight").unwrap().quantization.as_ref();
        assert_eq!(
            a.map(|q| (q.value, q.rank, q.accuracy)),
            Some((0.002, 1, Some(0.98)))
        );
        assert!(context.weight("b.weight").unwrap().quantization.is_none());
        let source = context.quantization.unwrap();
        assert_eq!(source.source, "one-shot loss profile 'q' (kl divergence)");
        assert_eq!(source.metric, "kl divergence");
        assert_eq!(
            source.setup,
            "static int8, per-tensor weights, minmax calibration"
        );
        assert_eq!((source.layers, source.model.value), (1, 0.003));
        assert_eq!(source.baseline_accuracy, Some(0.99));
    }

    const MODIFIERS: &str =
        "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n";

    /// Seconds to check `text`, asserting that it has no errors.
    fn timed(text: &str) -> f64 {
        let started = std::time::Instant::now();
        let checked = check(text, &CheckOptions::default());
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            checked.diagnostics.is_empty(),
            "{:?}",
            &checked.diagnostics[..checked.diagnostics.len().min(3)]
        );
        seconds
    }

    /// Ten times the keys, anchors or chained `eval()`s take about ten times as long (printed
    /// with `--nocapture`); the bound only catches a return of quadratic time, which took 45 s
    /// for 100,000 keys.
    #[test]
    fn checking_time_grows_linearly() {
        let keys =
            |n: usize| (0..n).map(|i| format!("k{i}: {i}\n")).collect::<String>() + MODIFIERS;
        let anchors = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}: &a{i} {i}\nu{i}: *a{i}\n"))
                .collect::<String>()
                + MODIFIERS
        };
        // Each variable uses the next, defined after it: the worst order for repeated passes.
        let chain = |n: usize| {
            (0..n)
                .map(|i| format!("v{i}: eval(v{} + 1)\n", i + 1))
                .collect::<String>()
                + &format!("v{n}: 1\n")
                + MODIFIERS
        };
        let (k10, k100) = (timed(&keys(10_000)), timed(&keys(100_000)));
        let (a10, a100) = (timed(&anchors(10_000)), timed(&anchors(100_000)));
        let (c2, c20) = (timed(&chain(2_000)), timed(&chain(20_000)));
        println!("keys: 10k {k10:.3} s, 100k {k100:.3} s");
        println!("anchors and aliases: 10k {a10:.3} s, 100k {a100:.3} s");
        println!("eval chain: 2k {c2:.3} s, 20k {c20:.3} s");
        assert!(k100 < 20.0 && a100 < 20.0 && c20 < 20.0);
    }

    #[test]
    fn a_huge_text_gets_one_diagnostic() {
        let text = "k: v\n".repeat(MAX_RECIPE_BYTES / 5 + 1);
        let checked = check(&text, &CheckOptions::default());
        assert_eq!(checked.diagnostics.len(), 1);
        let d = &checked.diagnostics[0];
        assert_eq!(d.code, "too-large");
        assert_eq!(
            d.message,
            "This recipe is 8.0 MiB, more than the 8 MiB prunekit checks; split it into smaller recipes."
        );
    }
}

/// Layouts and values real recipes use, which SparseML loads: no error for them; and what it
/// refuses or runs differently than written: flagged.
#[cfg(test)]
mod real_recipe_tests {
    use super::{CheckOptions, check};
    use crate::recipe::{Diagnostic, Severity};

    fn diagnostics(text: &str) -> Vec<Diagnostic> {
        check(text, &CheckOptions::default()).diagnostics
    }

    fn errors(text: &str) -> Vec<Diagnostic> {
        diagnostics(text)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect()
    }

    fn coded<'d>(found: &'d [Diagnostic], code: &str) -> Vec<&'d Diagnostic> {
        found.iter().filter(|d| d.code == code).collect()
    }

    const GMP_FIELDS: &str = "    init_sparsity: 0.05\n    final_sparsity: 0.8\n    start_epoch: 0.0\n    end_epoch: 10.0\n    update_frequency: 1.0\n";

    #[test]
    fn a_closing_bracket_at_its_keys_column_loads() {
        for closer in ["    ]", "  ]", "]"] {
            let text = format!(
                "modifiers:\n  - !GMPruningModifier\n    params: [\n      \"re:.*conv.*weight\",  # the convs\n      \"fc.weight\",\n{closer}\n{GMP_FIELDS}"
            );
            let checked = check(&text, &CheckOptions::default());
            assert!(
                checked.document.error.is_none(),
                "{closer:?}: {:?}",
                checked.document.error
            );
            let errors: Vec<_> = checked
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{closer:?}: {errors:?}");
            let params: Vec<String> = checked.recipe.modifiers[0]
                .params()
                .into_iter()
                .map(|p| p.0)
                .collect();
            assert_eq!(params, ["re:.*conv.*weight", "fc.weight"]);
            // Spans still point at the text.
            let (_, span) = &checked.recipe.modifiers[0].params()[1];
            assert_eq!(span.text(&text), "\"fc.weight\"");
        }
    }

    #[test]
    fn a_document_that_is_one_modifier_is_a_recipe_of_it() {
        let text = format!(
            "!GMPruningModifier\nparams: __ALL_PRUNABLE__\n{}",
            GMP_FIELDS.replace("    ", "")
        );
        let checked = check(&text, &CheckOptions::default());
        assert_eq!(checked.recipe.modifiers.len(), 1);
        assert!(errors(&text).is_empty(), "{:?}", errors(&text));
    }

    #[test]
    fn fields_sparseml_drops_or_accepts_quietly_are_not_warned() {
        let text = format!(
            "modifiers:\n  - !GMPruningModifier\n    params: __ALL_PRUNABLE__\n    log_types: __ALL__\n    global_sparsity: False\n{GMP_FIELDS}"
        );
        let found = diagnostics(&text);
        assert!(
            found.iter().all(|d| d.severity == Severity::Hint),
            "{found:?}"
        );
        assert_eq!(coded(&found, "unknown-field").len(), 1);
        let set = text.replace("global_sparsity: False", "global_sparsity: True");
        assert_eq!(coded(&diagnostics(&set), "deprecated").len(), 1);
    }

    #[test]
    fn a_redefined_anchor_is_an_error() {
        let text = format!(
            "a: &n 1\nb: &n 2\nmodifiers:\n  - !GMPruningModifier\n    params: __ALL_PRUNABLE__\n{GMP_FIELDS}"
        );
        let found = diagnostics(&text);
        let anchors = coded(&found, "duplicate-anchor");
        assert_eq!(anchors.len(), 1, "{found:?}");
        assert_eq!(anchors[0].severity, Severity::Error);
        assert_eq!(anchors[0].span.text(&text), "&n");
        assert_eq!(anchors[0].related[0].span.start, text.find("&n").unwrap());
    }

    #[test]
    fn gradual_schedules_sparseml_runs_otherwise_are_warned() {
        let base = format!(
            "modifiers:\n  - !GMPruningModifier\n    params: __ALL_PRUNABLE__\n{GMP_FIELDS}"
        );
        assert!(coded(&diagnostics(&base), "schedule").is_empty());
        let one_step = base.replace("end_epoch: 10.0", "end_epoch: 0.0");
        let found = diagnostics(&one_step);
        let schedule = coded(&found, "schedule");
        assert!(
            schedule
                .iter()
                .any(|d| d.severity == Severity::Warning && d.message.contains("in one step")),
            "{found:?}"
        );
        let falling = base.replace("final_sparsity: 0.8", "final_sparsity: 0.01");
        let found = diagnostics(&falling);
        assert!(
            coded(&found, "range")
                .iter()
                .any(|d| d.message.contains("below init_sparsity")),
            "{found:?}"
        );
    }

    #[test]
    fn a_yml_path_is_an_error() {
        let text = format!(
            "modifiers:\n  - !GMPruningModifier\n    params: __ALL_PRUNABLE__\n{GMP_FIELDS}"
        );
        let checked = check(
            &text,
            &CheckOptions {
                is_yml: true,
                ..Default::default()
            },
        );
        let yml: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code == "yml-extension")
            .collect();
        assert_eq!(yml.len(), 1);
        assert_eq!(yml[0].severity, Severity::Error);
    }
}

#[cfg(test)]
mod legacy_quantization_tests {
    use super::{CheckOptions, check};
    use crate::recipe::Severity;

    /// A legacy-only key selects the legacy class, whose flags Python tests for truth.
    #[test]
    fn legacy_quantization_fields_load_as_sparseml_reads_them() {
        let text = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n    submodules: [\"model.0\"]\n    custom_quantizable_module_types: [\"SiLU\"]\n    exclude_module_types: [\"SiLU\"]\n    quantize_embeddings: 0\n    quantize_linear_activations: 1\n";
        let checked = check(text, &CheckOptions::default());
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let two = text.replace("quantize_embeddings: 0", "quantize_embeddings: 2");
        let checked = check(&two, &CheckOptions::default());
        assert!(checked.diagnostics.iter().any(|d| d.code == "type"));
    }
}
