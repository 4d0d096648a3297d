//! Lowering of the staged layout (`<name>_stage: {<group>_modifiers: {ClassName: {args}}}`) into
//! the same `Modifier` records as tagged recipes, so the rules, hover and symbols read both.
//!
//! What the loaders read: llm-compressor's `Recipe.from_dict` takes every top-level key ending in
//! `_stage` whose value is a mapping, and in it every key ending in `_modifiers` whose value is a
//! mapping; everything else is dropped without a word (`args` aside). SparseML 1.7's
//! `Recipe.remap_stages` reads the same stages and groups, plus top-level `*_modifiers` groups
//! (a default stage) and a `stages:` mapping; its other top-level keys are recipe arguments for
//! `eval()`, and a stage's `run_type`, `args`, `enabled` and `exclude_default` are its fields.

use super::{Layout, Lowering, Modifier, scalar};
use crate::recipe::catalog::{self, STAGE_KEYS};
use crate::recipe::diagnostic::{Diagnostic, Severity};
use crate::recipe::span::Span;
use crate::recipe::yaml::{Node, NodeKind};

/// Whether a top-level mapping is a staged recipe: a stage or a top-level group whose modifier
/// group is a mapping of class names (the tagged layout lists `- !Class` items instead).
pub(super) fn is_staged(entries: &[(Node, Node)]) -> bool {
    let is_class_map = |node: &Node| {
        matches!(&node.kind, NodeKind::Mapping { entries, .. } if !entries.is_empty())
            && node.tag.is_none()
    };
    let holds_class_map = |node: &Node| match &node.kind {
        NodeKind::Mapping { entries, .. } => entries
            .iter()
            .any(|(k, v)| scalar(k).is_some_and(catalog::is_group_key) && is_class_map(v)),
        _ => false,
    };
    entries.iter().any(|(k, v)| {
        let Some(key) = scalar(k) else { return false };
        (catalog::is_staged_group_key(key) && is_class_map(v)) || holds_class_map(v)
    })
}

/// Keys that sit quietly beside stages: what llm-compressor reads (`args`) or both ignore by
/// design (`version`, metadata).
const QUIET_TOP_LEVEL: &[&str] = &["args", "version", "metadata", "__metadata__"];

fn has_group_like_key(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Mapping { entries, .. } => entries
            .iter()
            .any(|(k, _)| scalar(k).is_some_and(catalog::is_group_key)),
        _ => false,
    }
}

impl Lowering<'_> {
    pub(super) fn staged_top_level(&mut self, entries: &[(Node, Node)]) {
        self.duplicate_keys(entries);
        // Recipe arguments first, so `eval()` in the modifiers sees them (SparseML 1.7).
        for (key, value) in entries {
            let Some(name) = scalar(key) else { continue };
            if name == "args" {
                self.argument_mapping(value, None);
            } else if !catalog::is_stage_key(name)
                && !catalog::is_group_key(name)
                && name != "stages"
                && !QUIET_TOP_LEVEL.contains(&name)
                && !has_group_like_key(value)
            {
                self.variable(name, key, value, None);
            }
        }
        self.resolve_variables(None);
        for (key, value) in entries {
            let Some(name) = scalar(key) else { continue };
            if catalog::is_stage_key(name) {
                match &value.kind {
                    NodeKind::Mapping { .. } => self.staged_stage(name, key, value),
                    _ => self.diagnostics.push(Diagnostic::warning(
                        "staged-ignored",
                        key.span,
                        format!("`{name}` is not a mapping, so it holds no modifier groups and the loaders skip it."),
                    )),
                }
            } else if catalog::is_staged_group_key(name) {
                self.sparseml_only(name, key.span);
                self.diagnostics.push(Diagnostic::warning(
                    "staged-ignored",
                    key.span,
                    format!("llm-compressor ignores a top-level `{name}` (it reads groups inside `*_stage` keys only; SparseML 1.7 runs it as a default stage); move it into a stage such as `default_stage`."),
                ));
                self.staged_group(name, value, None);
            } else if name == "stages" {
                self.sparseml_only(name, key.span);
                self.diagnostics.push(Diagnostic::warning(
                    "staged-ignored",
                    key.span,
                    "llm-compressor ignores `stages:` (SparseML 1.7 reads each entry as a stage); write each stage as a top-level `<name>_stage` key.",
                ));
                if let NodeKind::Mapping { entries, .. } = &value.kind {
                    for (k, v) in entries {
                        if let Some(stage) = scalar(k) {
                            self.staged_stage(stage, k, v);
                        }
                    }
                }
            } else if let NodeKind::Sequence { items, .. } = &value.kind
                && items.iter().any(|i| i.tag.is_some())
            {
                self.staged_mix(key.span);
            } else if has_group_like_key(value) || catalog::is_group_key(name) {
                let fix = if catalog::is_group_key(name) {
                    "put it inside a stage as `<group>_modifiers`".to_string()
                } else {
                    format!("rename it `{name}_stage`")
                };
                self.diagnostics.push(Diagnostic::warning(
                    "staged-ignored",
                    key.span,
                    format!("The loaders ignore `{name}`: they read only top-level keys ending in `_stage`, so its modifiers never run; {fix}."),
                ));
            } else if !QUIET_TOP_LEVEL.contains(&name) {
                self.diagnostics.push(Diagnostic::new(
                    "staged-ignored",
                    Severity::Hint,
                    key.span,
                    format!("llm-compressor ignores `{name}` (it reads only `*_stage` keys and `args`); SparseML 1.7 reads it as a recipe argument for `eval()`."),
                ));
            }
        }
    }

    fn sparseml_only(&mut self, what: &str, span: Span) {
        self.recipe
            .sparseml_only_keys
            .push((what.to_string(), span));
    }

    fn staged_mix(&mut self, span: Span) {
        self.diagnostics.push(Diagnostic::error(
            "staged-mix",
            span,
            "Tagged `- !Modifier` lists and the staged `ClassName: {args}` layout are mixed in one recipe; neither loader reads both. Write every modifier in one layout.",
        ));
    }

    /// A stage's entries of `args:` as variables of that stage (or of the recipe).
    fn argument_mapping(&mut self, value: &Node, stage: Option<&str>) {
        if let NodeKind::Mapping { entries, .. } = &value.kind {
            for (k, v) in entries {
                if let Some(name) = scalar(k) {
                    self.variable(name, k, v, stage);
                }
            }
        }
    }

    fn staged_stage(&mut self, stage: &str, key: &Node, value: &Node) {
        self.recipe.stages.push((stage.to_string(), key.span));
        let NodeKind::Mapping { entries, .. } = &value.kind else {
            return;
        };
        self.duplicate_keys(entries);
        for (k, v) in entries {
            if scalar(k) == Some("args") {
                self.sparseml_only("args", k.span);
                self.argument_mapping(v, Some(stage));
            }
        }
        self.resolve_variables(Some(stage));
        for (k, v) in entries {
            let Some(name) = scalar(k) else { continue };
            if catalog::is_staged_group_key(name) {
                self.staged_group(name, v, Some(stage));
            } else if name == "run_type" {
                self.sparseml_only(name, k.span);
                self.run_type(v);
            } else if STAGE_KEYS.iter().any(|(key, _)| *key == name) || name == "group" {
                if name != "args" {
                    self.sparseml_only(name, k.span);
                }
            } else if catalog::is_group_key(name) || has_class_keys(v) {
                let base = ["modifiers", "modifier"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
                    .trim_end_matches('_');
                let base = if base.is_empty() { "default" } else { base };
                self.diagnostics.push(
                    Diagnostic::warning(
                        "staged-ignored",
                        k.span,
                        format!("The loaders ignore `{name}`: inside a stage they read only keys ending in `_modifiers`, so its modifiers never run; rename it `{base}_modifiers`."),
                    )
                    .with_fix(format!("Rename to {base}_modifiers"), k.span, format!("{base}_modifiers")),
                );
            } else {
                self.diagnostics.push(Diagnostic::warning(
                    "staged-ignored",
                    k.span,
                    format!("Both loaders ignore `{name}` inside a stage (a stage holds `*_modifiers` groups, and for SparseML 1.7 run_type, args, enabled and exclude_default); remove it."),
                ));
            }
        }
    }

    fn run_type(&mut self, value: &Node) {
        let text = scalar(value).unwrap_or_default();
        if !matches!(text, "oneshot" | "train") {
            self.diagnostics.push(Diagnostic::error(
                "enum",
                value.span,
                format!("`{text}` is not a run_type; SparseML 1.7 accepts `oneshot` or `train`."),
            ));
        }
    }

    fn staged_group(&mut self, group: &str, value: &Node, stage: Option<&str>) {
        match &value.kind {
            NodeKind::Mapping { entries, .. } => {
                self.duplicate_keys(entries);
                for (k, v) in entries {
                    self.staged_modifier(k, v, group, stage);
                }
            }
            NodeKind::Sequence { .. } => self.staged_mix(value.span),
            NodeKind::Scalar { value: v, .. } if v.is_empty() => {}
            _ => self.diagnostics.push(Diagnostic::error(
                "layout",
                value.span,
                format!("`{group}` must be a mapping of modifier classes to their arguments (`ClassName: {{...}}`)."),
            )),
        }
    }

    fn staged_modifier(&mut self, key: &Node, value: &Node, group: &str, stage: Option<&str>) {
        let Some(class) = scalar(key) else {
            self.diagnostics.push(Diagnostic::error(
                "layout",
                key.span,
                "A modifier class must be a plain name such as `GPTQModifier`.",
            ));
            return;
        };
        if key.tag.is_some() || value.tag.is_some() {
            self.staged_mix(key.span);
        }
        let fields = match &value.kind {
            NodeKind::Mapping { entries, .. } => self.fields(entries),
            _ => {
                let what = if matches!(&value.kind, NodeKind::Scalar { value, .. } if value.is_empty())
                {
                    "nothing"
                } else {
                    "a single value"
                };
                self.diagnostics.push(Diagnostic::error(
                    "layout",
                    key.span,
                    format!("`{class}` is followed by {what}; both loaders need a mapping of its arguments (`{class}: {{}}` for none in llm-compressor)."),
                ));
                Vec::new()
            }
        };
        let group_name = group.strip_suffix("_modifiers").unwrap_or(group);
        self.recipe.modifiers.push(Modifier {
            class: class.to_string(),
            tag_span: key.span,
            span: Span {
                start: key.span.start,
                end: value.span.end.max(key.span.end),
            },
            layout: Layout::Staged,
            group: group_name.to_string(),
            stage: stage.map(str::to_string),
            fields,
        });
    }
}

/// A mapping whose keys include a known staged class name: a group under the wrong key.
fn has_class_keys(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Mapping { entries, .. } => entries
            .iter()
            .any(|(k, _)| scalar(k).is_some_and(|n| catalog::staged_modifier(n).is_some())),
        _ => false,
    }
}
