//! `check`: a recipe's text in, its parse, typed recipe and every diagnostic out; never a
//! `Result`. It takes no path (the language server checks unsaved buffers): what it needs of the
//! file and the model comes in `CheckOptions`.

use std::collections::BTreeMap;

use super::catalog::Framework;
use super::diagnostic::Diagnostic;
use super::lower::{self, Recipe};
use super::rules;
use super::span::Span;
use super::yaml::{self, YamlDocument};
use crate::ModelAnalysis;
use crate::optimize::PruningPlan;
use crate::profile::{PerfKind, level_key};
use crate::project::ProjectFile;

/// One weight of the recipe's model, as completion, hover and the `params` rules see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weight {
    /// The initializer name a recipe's `params` uses.
    pub name: String,
    /// The layer (node) that reads it.
    pub layer: String,
    pub op_type: String,
    pub shape: Vec<i64>,
    pub output_shape: Option<Vec<u64>>,
    pub params: u64,
    pub flops: Option<u64>,
    pub zeroed: u64,
    pub is_prunable: bool,
    /// Why a Conv/Gemm/MatMul weight is not prunable.
    pub reason: Option<String>,
    /// Loss sensitivity of its layer (higher hurts more when pruned): Sparsify's approximated
    /// value from shapes until the model's project file holds a measured loss profile.
    pub sensitivity: Option<f64>,
    /// 1 for the most sensitive prunable weight.
    pub sensitivity_rank: Option<usize>,
    /// Its layer's measured time per run, from the latest performance profile.
    pub ms: Option<f64>,
    /// The estimated time at 90% sparsity on a sparsity-aware engine, from the same profile.
    pub ms_at_90: Option<f64>,
}

/// What the recipe's model tells the rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelContext {
    /// For messages: the model's file name.
    pub name: String,
    /// Weights of prunable layers first, then every other named weight or bias.
    pub weights: Vec<Weight>,
    /// Exported without names (`onnx::MatMul_99`, all digits): recipe names may still be right.
    pub has_generated_names: bool,
    /// Where `sensitivity` comes from, when it is measured: "one-shot loss profile 'one-shot'".
    /// `None`: approximated from shapes.
    pub sensitivity_source: Option<String>,
    /// Where `ms` comes from: "performance profile 'baseline' (batch 1)".
    pub perf_source: Option<String>,
    /// The model's optimizations from its project file, the latest first: what the editor's
    /// "apply optimization" action writes.
    pub plans: Vec<(String, PruningPlan)>,
}

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
        }
        let latest = project.latest_optimization.as_deref();
        self.plans = project
            .optimizations
            .iter()
            .map(|(name, plan)| (name.clone(), plan.clone()))
            .collect();
        self.plans
            .sort_by_key(|(name, _)| Some(name.as_str()) != latest);
        if let Some((name, perf)) = project.latest_perf_profile()
            && perf.kind == PerfKind::Measured
        {
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

pub fn check(text: &str, options: &CheckOptions) -> Checked {
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
        diagnostics.push(Diagnostic::warning(
            "yml-extension",
            Span { start: 0, end: 0 },
            "SparseML's `from_yaml(path)` accepts `.yaml` and `.md` only; rename this file to `.recipe.yaml`.",
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
