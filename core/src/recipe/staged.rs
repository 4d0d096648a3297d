//! The rules of the staged layout (`<name>_stage: {<group>_modifiers: {ClassName: {args}}}`),
//! read by llm-compressor and by SparseML 1.7's `sparseml.core`: classes and fields from
//! `catalog::staged`, the values their pydantic models and validators reject, `targets` and
//! `ignore` against the model, and the order llm-compressor demands (AWQ before a quantizer).
//!
//! The tools differ where a field or class is missing: llm-compressor's modifiers forbid extra
//! fields (a load error), SparseML 1.7's drop them without a word. A recipe says which tool it is
//! written for by what only one of them reads (`run_type`, `eval()`, a field or class of one
//! tool); [`Target`] is that guess, and decides whether a field one tool lacks is an error there
//! or a note naming the tool.

use std::collections::BTreeSet;

use super::catalog::{self, ModifierSpec, StagedClass, Tool};
use super::check::CheckOptions;
use super::context::{ModelContext, Weight};
use super::diagnostic::{Diagnostic, Severity};
use super::lower::{Entry, Field, Layout, Modifier, Recipe, Value, python_match};
use super::quantization::{is_module_type, module_of};
use super::rules;
use super::span::Span;
use crate::suggest;

/// The tool a staged recipe is written for, from what only one tool reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing only one tool reads: both must load it.
    Either,
    Only(Tool),
    /// Both tools' own keys: each tool-only key is a note naming the other tool.
    Mixed,
}

impl Target {
    /// The tool whose rules decide a field that `lacking` lacks: an error when the recipe is
    /// for that tool (or for either), a warning otherwise.
    fn severity_where_missing(self, lacking: Tool) -> Severity {
        match self {
            Target::Only(tool) if tool == lacking => Severity::Error,
            Target::Either if lacking == Tool::LlmCompressor => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

/// What the recipe reads only in one tool decides its target.
pub fn target(recipe: &Recipe) -> Target {
    let mut sparseml = !recipe.sparseml_only_keys.is_empty();
    let mut llmc = false;
    for m in recipe
        .modifiers
        .iter()
        .filter(|m| m.layout == Layout::Staged)
    {
        let Some(class) = catalog::staged_modifier(&m.class) else {
            continue;
        };
        match class.tools {
            [Tool::LlmCompressor] => llmc = true,
            [Tool::SparseMl17] => sparseml = true,
            _ => {}
        }
        for f in &m.fields {
            match class.field_tools(&f.name).as_slice() {
                [Tool::LlmCompressor] => llmc = true,
                [Tool::SparseMl17] => sparseml = true,
                _ => {}
            }
            if catalog::earlier_sparseml_field(&m.class, &f.name).is_some() {
                sparseml = true;
            }
            // llm-compressor passes values to pydantic as they are; SparseML 1.7 evaluates them.
            if matches!(f.value, Value::Eval { .. }) {
                sparseml = true;
            }
        }
    }
    match (llmc, sparseml) {
        (false, false) => Target::Either,
        (true, false) => Target::Only(Tool::LlmCompressor),
        (false, true) => Target::Only(Tool::SparseMl17),
        (true, true) => Target::Mixed,
    }
}

/// Every rule of one staged modifier.
pub fn modifier(
    modifier: &Modifier,
    options: &CheckOptions,
    target: Target,
    out: &mut Vec<Diagnostic>,
) {
    let Some(class) = catalog::staged_modifier(&modifier.class) else {
        unknown_class(modifier, out);
        return;
    };
    class_tools(modifier, class, target, out);
    fields(modifier, class, target, out);
    validators(modifier, class, out);
    if let Some(model) = options.model {
        for name in ["targets", "ignore"] {
            if class.spec.field(name).is_some() {
                module_names(modifier, name, model, out);
            }
        }
    }
}

/// Rules across modifiers: llm-compressor's recipe validator wants a quantization modifier
/// after every `AWQModifier`; a recipe with a `GPTQModifier` cannot be for SparseML 1.7.0 (it
/// has no such class), and every later tool wants a scheme on each `QuantizationModifier`.
pub fn recipe(recipe: &Recipe, out: &mut Vec<Diagnostic>) {
    let staged: Vec<&Modifier> = recipe
        .modifiers
        .iter()
        .filter(|m| m.layout == Layout::Staged)
        .collect();
    if staged.iter().any(|m| m.class == "GPTQModifier") {
        for m in staged.iter().filter(|m| m.class == "QuantizationModifier") {
            if m.field("config_groups").is_none() && m.field("scheme").is_none() {
                out.push(Diagnostic::error(
                    "missing-field",
                    m.tag_span,
                    "this QuantizationModifier has no `config_groups` (nor `scheme`): SparseML 1.8 and llm-compressor require one, and SparseML 1.7.0, which does not, has no GPTQModifier for the one in this recipe; add `config_groups` (or `scheme: W8A8`).",
                ));
            }
        }
    }
    for (i, m) in staged.iter().enumerate() {
        if m.class != "AWQModifier" {
            continue;
        }
        let quantized_after = staged[i + 1..]
            .iter()
            .any(|later| catalog::staged_modifier(&later.class).is_some_and(|c| c.quantizes));
        if !quantized_after {
            out.push(Diagnostic::error(
                "staged-order",
                m.tag_span,
                "llm-compressor refuses an AWQModifier with no quantization modifier after it; add a QuantizationModifier or GPTQModifier below it.",
            ));
        }
    }
}

fn unknown_class(modifier: &Modifier, out: &mut Vec<Diagnostic>) {
    let name = &modifier.class;
    let mut d = Diagnostic::error(
        "unknown-modifier",
        modifier.tag_span,
        format!(
            "`{name}` is not a modifier class of llm-compressor or SparseML 1.7; check the class name."
        ),
    );
    if catalog::modifier_in_any(name).is_some() {
        d.message = format!(
            "`{name}` is a class of SparseML's tagged recipes (`- !{name}` lists), not of the staged layout that llm-compressor and SparseML 1.7 read; use a staged class such as MagnitudePruningModifier."
        );
    } else if let Some(s) = suggest::did_you_mean(name, catalog::staged_modifier_names()) {
        d.message = format!(
            "`{name}` is not a modifier class of llm-compressor or SparseML 1.7; did you mean `{s}`?"
        );
        d = d.with_fix(format!("Change to {s}"), modifier.tag_span, s);
    }
    out.push(d);
}

fn class_tools(
    modifier: &Modifier,
    class: &StagedClass,
    target: Target,
    out: &mut Vec<Diagnostic>,
) {
    let [tool] = class.tools else { return };
    let other = tool.other();
    let severity = target.severity_where_missing(other);
    let severity = if severity == Severity::Error {
        Severity::Warning
    } else {
        Severity::Hint
    };
    out.push(Diagnostic::new(
        "staged-tool",
        severity,
        modifier.tag_span,
        format!(
            "{} exists only in {tool}; {other} has no such class and fails to load this recipe.",
            class.name()
        ),
    ));
}

fn fields(modifier: &Modifier, class: &StagedClass, target: Target, out: &mut Vec<Diagnostic>) {
    let spec = &class.spec;
    for field in &modifier.fields {
        let Some(field_spec) = spec.field(&field.name) else {
            unknown_field(field, class, target, out);
            continue;
        };
        if field.name == "group" {
            out.push(Diagnostic::new(
                "staged-group",
                target.severity_where_missing(Tool::LlmCompressor),
                field.key_span,
                format!("llm-compressor passes the group from `{}_modifiers` itself, so a `group` argument fails with \"multiple values for keyword argument\"; remove it.", modifier.group),
            ));
        }
        if let [tool] = class.field_tools(&field.name).as_slice() {
            let lacking = tool.other();
            let consequence = match lacking {
                Tool::LlmCompressor => "rejects it (its modifiers forbid unknown fields)",
                Tool::SparseMl17 => "drops it without a word",
            };
            let severity = match (lacking, target) {
                (Tool::LlmCompressor, Target::Either | Target::Only(Tool::LlmCompressor)) => {
                    Severity::Error
                }
                (Tool::LlmCompressor, Target::Mixed) => Severity::Warning,
                (Tool::SparseMl17, Target::Only(Tool::SparseMl17)) => Severity::Warning,
                _ => Severity::Hint,
            };
            out.push(Diagnostic::new(
                "staged-tool",
                severity,
                field.key_span,
                format!(
                    "Only {tool} reads `{}` on {}; {lacking} {consequence}.",
                    field.name,
                    class.name()
                ),
            ));
        }
        rules::value(field, field_spec, out);
    }
    let missing: Vec<&str> = spec
        .required_fields()
        .filter(|f| modifier.field(f.name).is_none())
        .map(|f| f.name)
        .collect();
    out.extend(rules::missing_fields(modifier, class.name(), &missing));
    for (name, tool) in class.required_by {
        if modifier.field(name).is_some()
            || (target != Target::Either
                && target != Target::Only(*tool)
                && target != Target::Mixed)
        {
            continue;
        }
        // SparseML's QuantizationModifier needs config_groups; a `scheme` recipe is for
        // llm-compressor.
        if *name == "config_groups"
            && modifier.field("scheme").is_some()
            && target != Target::Only(Tool::SparseMl17)
        {
            continue;
        }
        let (severity, consequence) = match (*tool, *name) {
            (Tool::LlmCompressor, "sparsity") => (
                Severity::Warning,
                "SparseML 1.7 defaults it to 0.0, which prunes nothing",
            ),
            (Tool::SparseMl17, _) if target == Target::Only(Tool::SparseMl17) => {
                (Severity::Error, "llm-compressor does not require it")
            }
            _ => (Severity::Hint, "the other tool does not require it"),
        };
        out.push(Diagnostic::new(
            "missing-field",
            severity,
            modifier.tag_span,
            format!(
                "{tool} requires `{name}` on {} ({consequence}); add it.",
                class.name()
            ),
        ));
    }
}

fn unknown_field(field: &Field, class: &StagedClass, target: Target, out: &mut Vec<Diagnostic>) {
    // An error only in a recipe for llm-compressor: SparseML 1.7 loads a recipe of either
    // tool's keys and drops the field.
    let severity = match target {
        Target::Only(Tool::LlmCompressor) => Severity::Error,
        _ => Severity::Warning,
    };
    let consequence = match target {
        Target::Only(Tool::SparseMl17) => {
            "SparseML 1.7 drops it without a word (and llm-compressor rejects it)"
        }
        _ => {
            "llm-compressor rejects it (its modifiers forbid unknown fields) and SparseML 1.7 drops it"
        }
    };
    let mut d = Diagnostic::new(
        "unknown-field",
        severity,
        field.key_span,
        format!(
            "{} has no field `{}`: {consequence}.",
            class.name(),
            field.name
        ),
    );
    if let Some(replacement) = catalog::earlier_sparseml_field(class.name(), &field.name) {
        let instead = replacement.map_or(String::from("remove it"), |r| format!("write `{r}`"));
        d.message = format!(
            "`{}` is a field of earlier SparseML releases' {} that SparseML 1.7 no longer has: it drops it without a word, and llm-compressor rejects it; {instead}.",
            field.name,
            class.name()
        );
        if let Some(r) = replacement {
            d = d.with_fix(format!("Rename to {r}"), field.key_span, r);
        }
    } else if let Some(s) = suggest::did_you_mean(&field.name, class.spec.field_names()) {
        d.message = format!(
            "{} has no field `{}` ({consequence}); did you mean `{s}`?",
            class.name(),
            field.name
        );
        d = d.with_fix(format!("Rename to {s}"), field.key_span, s);
    }
    out.push(d);
}

fn effective<'m>(modifier: &'m Modifier, name: &str) -> Option<(&'m Field, &'m Value)> {
    let field = modifier.field(name)?;
    Some((field, field.value.effective()?))
}

/// What the classes' validators check beyond types.
fn validators(modifier: &Modifier, class: &StagedClass, out: &mut Vec<Diagnostic>) {
    mask_structure(modifier, class, out);
    if class.spec.field("sparsity_profile").is_some() {
        owl(modifier, out);
    }
    if let Some((field, value)) = effective(modifier, "dampening_frac")
        && let Some(x) = value.as_f64()
        && !(x > 0.0 && x < 1.0)
    {
        out.push(Diagnostic::warning(
            "range",
            field.value_span,
            format!("dampening_frac {x} is outside (0, 1): it is a fraction of the Hessian's mean diagonal (0.01 is usual); 0 or less leaves a singular Hessian, 1 or more swamps it."),
        ));
    }
    if let Some((field, Value::Bool(false))) = effective(modifier, "sequential_update")
        && class
            .field_tools("sequential_update")
            .contains(&Tool::LlmCompressor)
    {
        out.push(Diagnostic::new(
            "deprecated",
            Severity::Hint,
            field.key_span,
            "llm-compressor no longer supports sequential_update: False and sets it to True (with a warning).",
        ));
    }
    if class.name() == "MagnitudePruningModifier"
        && let Some((field, Value::Bool(true))) = effective(modifier, "leave_enabled")
    {
        out.push(Diagnostic::new(
            "deprecated",
            Severity::Hint,
            field.key_span,
            "llm-compressor deprecates leave_enabled and sets it to False (with a warning); SparseML 1.7 keeps the masks.",
        ));
    }
    if matches!(
        class.name(),
        "SmoothQuantModifier" | "LogarithmicEqualizationModifier"
    ) {
        for name in ["start", "end"] {
            if let Some((field, value)) = effective(modifier, name)
                && let Some(x) = value.as_f64()
                && x != -1.0
                && x != 0.0
            {
                out.push(Diagnostic::error(
                    "schedule",
                    field.value_span,
                    format!("{} runs only in one-shot and raises at initialize when `{name}` is set (here {x}); remove it or use -1.", class.name()),
                ));
            }
        }
    }
    if let Some((field, value)) = effective(modifier, "duo_scaling")
        && !matches!(value, Value::Bool(_))
        && !matches!(value, Value::Str(s) if s == "both")
    {
        out.push(Diagnostic::error(
            "type",
            field.value_span,
            format!(
                "duo_scaling must be True, False or \"both\", not {}.",
                field.value.type_name()
            ),
        ));
    }
    if class
        .spec
        .field("scheme")
        .is_some_and(|f| f.ty == catalog::FieldType::Any)
    {
        scheme(modifier, out);
        if let Some((field, value)) = effective(modifier, "config_groups") {
            config_groups(field, value, out);
        }
        if let Some((field, Value::Map(entries))) = effective(modifier, "kv_cache_scheme") {
            let _ = field;
            quant_args(entries, "kv_cache_scheme", out);
        }
        if let Some((field, value)) = effective(modifier, "observer") {
            observer(field, value, out);
        }
    }
}

/// SparseGPT and Wanda split `mask_structure` as "N:M"; magnitude pruning also takes
/// unstructured, channel, filter and block_<n>.
fn mask_structure(modifier: &Modifier, class: &StagedClass, out: &mut Vec<Diagnostic>) {
    let Some((field, Value::Str(s))) = effective(modifier, "mask_structure") else {
        return;
    };
    let n_m = s
        .split_once(':')
        .and_then(|(n, m)| Some((n.trim().parse::<u32>().ok()?, m.trim().parse::<u32>().ok()?)));
    let named = class.name() == "MagnitudePruningModifier"
        && (matches!(s.as_str(), "unstructured" | "channel" | "filter") || s.starts_with("block_"));
    match n_m {
        Some((n, m)) if n > m => out.push(Diagnostic::error(
            "range",
            field.value_span,
            format!("mask_structure \"{s}\" keeps {n} of every {m} weights, more than the block holds; N must be at most M (\"2:4\")."),
        )),
        Some(_) => {}
        None if named => {}
        None => {
            let accepted = if class.name() == "MagnitudePruningModifier" {
                "unstructured, channel, filter, block_<n> or a quoted \"N:M\" such as \"2:4\""
            } else {
                "a quoted \"N:M\" string such as \"2:4\" (\"0:0\" for unstructured)"
            };
            out.push(Diagnostic::error(
                "enum",
                field.value_span,
                format!("mask_structure `{s}` is not {accepted}."),
            ));
        }
    }
}

/// SparseGPT and Wanda need all of sparsity_profile: owl, owl_m and owl_lmbda, or none.
fn owl(modifier: &Modifier, out: &mut Vec<Diagnostic>) {
    let profile = effective(modifier, "sparsity_profile")
        .is_some_and(|(_, v)| matches!(v, Value::Str(s) if s.eq_ignore_ascii_case("owl")));
    let m = effective(modifier, "owl_m").is_some_and(|(_, v)| *v != Value::Null);
    let lmbda = effective(modifier, "owl_lmbda").is_some_and(|(_, v)| *v != Value::Null);
    if (profile || m || lmbda) && !(profile && m && lmbda) {
        let at = ["sparsity_profile", "owl_m", "owl_lmbda"]
            .iter()
            .find_map(|n| modifier.field(n))
            .map_or(modifier.tag_span, |f| f.key_span);
        out.push(Diagnostic::error(
            "owl",
            at,
            "OWL needs all three of sparsity_profile: owl, owl_m and owl_lmbda, or none of them; add the missing ones.",
        ));
    }
}

/// `scheme`: a preset name, or a mapping of preset names to targets.
fn scheme(modifier: &Modifier, out: &mut Vec<Diagnostic>) {
    let Some((field, value)) = effective(modifier, "scheme") else {
        return;
    };
    match value {
        Value::Str(name) => preset(name, field.value_span, out),
        Value::Map(entries) => {
            for e in entries {
                preset(&e.key, e.key_span, out);
            }
        }
        Value::Null => {}
        _ => out.push(Diagnostic::error(
            "type",
            field.value_span,
            format!(
                "`scheme` must be a preset name or a mapping {{preset: targets}}, not {}.",
                field.value.type_name()
            ),
        )),
    }
    if modifier
        .field("config_groups")
        .is_some_and(|f| f.value.effective() != Some(&Value::Null))
        && value != &Value::Null
    {
        out.push(Diagnostic::error(
            "quantization-scheme",
            field.key_span,
            "Give either `scheme` or `config_groups`, not both; llm-compressor refuses the pair.",
        ));
    }
}

fn preset(name: &str, span: Span, out: &mut Vec<Diagnostic>) {
    if catalog::is_preset_scheme(name) {
        return;
    }
    let mut d = Diagnostic::warning(
        "quantization-scheme",
        span,
        format!(
            "`{name}` is not one of compressed-tensors' preset schemes ({}); llm-compressor refuses a scheme name it does not know.",
            catalog::PRESET_SCHEMES.join(", ")
        ),
    );
    let upper = name.to_ascii_uppercase();
    if let Some(s) = suggest::did_you_mean(&upper, catalog::PRESET_SCHEMES.iter().copied()) {
        d.severity = Severity::Error;
        d.message = format!("`{name}` is not a preset scheme; did you mean `{s}`?");
        d = d.with_fix(format!("Change to {s}"), span, s);
    }
    out.push(d);
}

fn config_groups(field: &Field, value: &Value, out: &mut Vec<Diagnostic>) {
    let Value::Map(groups) = value else { return };
    for group in groups {
        let Some(Value::Map(keys)) = group.value.effective() else {
            out.push(Diagnostic::error(
                "quantization-scheme",
                group.span,
                format!("config group `{}` must be a mapping with targets and weights / input_activations / output_activations.", group.key),
            ));
            continue;
        };
        unknown_keys(
            keys,
            catalog::QUANT_SCHEME_KEYS,
            &format!("config group `{}`", group.key),
            out,
        );
        if !keys.iter().any(|e| e.key == "targets") {
            out.push(Diagnostic::error(
                "quantization-scheme",
                group.key_span,
                format!("config group `{}` needs `targets` (e.g. [\"Linear\"]); compressed-tensors requires it.", group.key),
            ));
        }
        for e in keys {
            if matches!(
                e.key.as_str(),
                "weights" | "input_activations" | "output_activations"
            ) && let Some(Value::Map(args)) = e.value.effective()
            {
                quant_args(args, &e.key, out);
                if e.key != "weights"
                    && args
                        .iter()
                        .any(|a| a.key == "actorder" && a.value.effective() != Some(&Value::Null))
                {
                    out.push(Diagnostic::error(
                        "quantization-scheme",
                        e.key_span,
                        format!(
                            "compressed-tensors cannot apply actorder to {}; put it under weights.",
                            e.key
                        ),
                    ));
                }
            }
        }
    }
    let _ = field;
}

fn unknown_keys(entries: &[Entry], known: &[&str], what: &str, out: &mut Vec<Diagnostic>) {
    for e in entries {
        if known.contains(&e.key.as_str()) {
            continue;
        }
        let mut d = Diagnostic::error(
            "quantization-scheme",
            e.key_span,
            format!(
                "{what} has no key `{}`; compressed-tensors refuses unknown keys.",
                e.key
            ),
        );
        if let Some(s) = suggest::did_you_mean(&e.key, known.iter().copied()) {
            d.message = format!("{what} has no key `{}`; did you mean `{s}`?", e.key);
            d = d.with_fix(format!("Rename to {s}"), e.key_span, s);
        }
        out.push(d);
    }
}

/// compressed-tensors' `QuantizationArgs`.
fn quant_args(args: &[Entry], what: &str, out: &mut Vec<Diagnostic>) {
    unknown_keys(args, catalog::QUANT_ARGS_KEYS, &format!("`{what}`"), out);
    for a in args {
        let Some(v) = a.value.effective() else {
            continue;
        };
        let enum_check = |values: &[&str], out: &mut Vec<Diagnostic>| {
            if let Value::Str(s) = v
                && !values.contains(&s.to_ascii_lowercase().as_str())
            {
                out.push(Diagnostic::error(
                    "enum",
                    a.span,
                    format!(
                        "`{s}` is not a valid {}; use one of {}.",
                        a.key,
                        values.join(", ")
                    ),
                ));
            }
        };
        match a.key.as_str() {
            "num_bits" => match v {
                Value::Int(n) if (1..=32).contains(n) => {}
                Value::Int(n) => out.push(Diagnostic::error(
                    "range",
                    a.span,
                    format!("num_bits {n} is not a bit width; use 4 or 8."),
                )),
                _ => out.push(Diagnostic::error(
                    "type",
                    a.span,
                    format!("num_bits must be an integer, not {}.", a.value.type_name()),
                )),
            },
            "type" => enum_check(catalog::QUANT_TYPES, out),
            "strategy" => enum_check(catalog::QUANT_STRATEGIES, out),
            "actorder" => enum_check(catalog::ACTIVATION_ORDERINGS, out),
            "group_size" => {
                if let Value::Int(n) = v
                    && *n <= 0
                    && *n != -1
                {
                    out.push(Diagnostic::error(
                        "range",
                        a.span,
                        format!("group_size {n} must be positive (128 is usual)."),
                    ));
                }
            }
            "dynamic"
                if !matches!(v, Value::Bool(_)) && !matches!(v, Value::Str(s) if s == "local") =>
            {
                out.push(Diagnostic::error(
                    "type",
                    a.span,
                    format!(
                        "dynamic must be true, false or \"local\", not {}.",
                        a.value.type_name()
                    ),
                ));
            }
            _ => {}
        }
    }
}

fn observer(field: &Field, value: &Value, out: &mut Vec<Diagnostic>) {
    match value {
        Value::Null => {}
        Value::Map(entries) => {
            for e in entries {
                if !catalog::OBSERVER_KEYS.contains(&e.key.as_str()) {
                    out.push(Diagnostic::error(
                        "enum",
                        e.key_span,
                        format!("`{}` is not an observer key; llm-compressor accepts weights, input and output.", e.key),
                    ));
                } else if !matches!(e.value.effective(), Some(Value::Str(_))) {
                    out.push(Diagnostic::error(
                        "type",
                        e.span,
                        format!(
                            "The observer for `{}` must be a name such as minmax or mse.",
                            e.key
                        ),
                    ));
                }
            }
        }
        _ => out.push(Diagnostic::error(
            "type",
            field.value_span,
            "`observer` must be a mapping such as {weights: mse}.",
        )),
    }
}

/// A weight's name, its module and each parent module (`a.b.c.weight`, `a.b.c`, `a.b`, `a`).
fn lineage(weight: &str) -> impl Iterator<Item = &str> {
    let modules = std::iter::successors(Some(module_of(weight)), |&module| {
        module.rsplit_once('.').map(|(parent, _)| parent)
    });
    std::iter::once(weight).chain(modules)
}

/// Every module name of the model: each initializer's module and every parent of it
/// (`model.layers.0` of `model.layers.0.mlp.up_proj`). Sorted, so that a did-you-mean between
/// equally near names is always the same one (the editor and `check` must agree).
fn module_set(model: &ModelContext) -> BTreeSet<&str> {
    model
        .weights
        .iter()
        .flat_map(|w| lineage(&w.name))
        .collect()
}

/// The weights a staged `targets` / `ignore` entry selects: those whose name, module or a parent
/// module is the entry, or matches its `re:` pattern (anchored at the start, as Python's
/// `re.match`). Empty for a PyTorch type name (`Linear`), which the ONNX model does not record,
/// and for a pattern that does not compile.
pub fn target_weights<'m>(entry: &str, model: &'m ModelContext) -> Vec<&'m Weight> {
    if is_module_type(entry) {
        return Vec::new();
    }
    let pattern = match entry.strip_prefix("re:").map(python_match) {
        Some(Ok(re)) => Some(re),
        Some(Err(_)) => return Vec::new(),
        None => None,
    };
    let selects = |name: &str| {
        pattern
            .as_ref()
            .map_or(name == entry, |re| re.is_match(name))
    };
    model
        .weights
        .iter()
        .filter(|w| lineage(&w.name).any(selects))
        .collect()
}

/// `targets` / `ignore` entries against the model's module names: exact names and `re:`
/// patterns (Python's `re.match`, anchored at the start). Class names (`Linear`) are not
/// checked: the ONNX model does not keep PyTorch's module types.
fn module_names(modifier: &Modifier, name: &str, model: &ModelContext, out: &mut Vec<Diagnostic>) {
    let entries = modifier.strings(name);
    if entries.is_empty() {
        return;
    }
    let modules = module_set(model);
    let severity = if model.has_generated_names {
        Severity::Information
    } else {
        Severity::Warning
    };
    for (entry, span) in entries {
        if is_module_type(&entry) || entry.starts_with("__") {
            continue;
        }
        if let Some(pattern) = entry.strip_prefix("re:") {
            match python_match(pattern) {
                Err(err) => out.push(Diagnostic::error(
                    "regex",
                    span,
                    format!("`re:{pattern}` is not a valid regular expression ({}); fix the pattern (Python `re` syntax).", err.lines().last().unwrap_or("invalid pattern").trim()),
                )),
                Ok(re) => {
                    if !modules.iter().any(|m| re.is_match(m)) {
                        out.push(Diagnostic::new(
                            "unknown-module",
                            severity,
                            span,
                            format!("`re:{pattern}` matches no module of {} (patterns match from the start of the name, as Python's re.match does; add `.*` in front to match anywhere).", model.name),
                        ));
                    }
                }
            }
            continue;
        }
        if modules.contains(entry.as_str()) {
            continue;
        }
        let mut d = Diagnostic::new(
            "unknown-module",
            severity,
            span,
            format!(
                "{} has no module `{entry}`, so `{name}` selects nothing there.",
                model.name
            ),
        );
        if let Some(s) = suggest::did_you_mean(&entry, modules.iter().copied()) {
            d.message = format!(
                "{} has no module `{entry}`; did you mean `{s}`?",
                model.name
            );
        }
        out.push(d);
    }
}

/// The class of any modifier, for hover and completion: the staged catalogue's in the staged
/// layout, else the tagged catalogue's (with SparseML's legacy `QuantizationModifier` swap).
pub fn spec_of(modifier: &Modifier) -> Option<&'static ModifierSpec> {
    match modifier.layout {
        Layout::Staged => catalog::staged_modifier(&modifier.class).map(|c| &c.spec),
        Layout::Tagged => catalog::resolve_in_any(
            &modifier.class,
            modifier.fields.iter().map(|f| f.name.as_str()),
        ),
    }
}

/// Which tools accept a field of a modifier, in words, for hover ("llm-compressor only");
/// `None` for the tagged layout or a field both tools accept.
pub fn field_tools_note(modifier: &Modifier, field: &str) -> Option<String> {
    if modifier.layout != Layout::Staged {
        return None;
    }
    let class = catalog::staged_modifier(&modifier.class)?;
    match class.field_tools(field).as_slice() {
        [tool] => Some(format!(
            "{tool} only ({} {} it)",
            tool.other(),
            match tool.other() {
                Tool::LlmCompressor => "rejects",
                Tool::SparseMl17 => "ignores",
            }
        )),
        _ => None,
    }
}

/// The tools that have a staged class, in words, for hover.
pub fn class_tools_note(class: &StagedClass) -> String {
    match class.tools {
        [tool] => format!("{tool} only"),
        _ => "llm-compressor and SparseML 1.7".to_string(),
    }
}

#[cfg(test)]
#[path = "staged_tests.rs"]
mod tests;
