//! The rules of SparseML's current `QuantizationModifier` (1.4+) beyond field
//! types: its `scheme` and each `scheme_overrides` value (an alias, or a mapping read by
//! pydantic), and, with a model, the module names in `ignore` and the keys of
//! `scheme_overrides`.
//!
//! SparseML's scheme classes are pydantic (v1) models that ignore unknown keys, so a misspelt
//! `symetric:` is dropped without a word; those get a warning. Values pydantic or the `strategy`
//! validator rejects at load, and bit widths PyTorch's observers cannot hold, are errors.

use super::catalog::{self, ModifierSpec};
use super::context::ModelContext;
use super::diagnostic::{Diagnostic, Severity};
use super::lower::{Entry, Modifier, Value};
use super::span::Span;
use crate::suggest;

/// The PyTorch module a weight belongs to, as `ignore` names it: the initializer name without
/// its trailing `.weight` (`conv1.weight` → `conv1`); a name without one is kept as it is.
pub fn module_name(weight: &str) -> &str {
    weight.strip_suffix(".weight").unwrap_or(weight)
}

/// A PyTorch module type name (`Conv2d`, `BatchNorm2d`, `ReLU`): a capitalized identifier. The
/// ONNX model cannot say which types the PyTorch model has, so these are not checked.
pub fn is_module_type(entry: &str) -> bool {
    entry.starts_with(|c: char| c.is_ascii_uppercase())
        && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The module of any initializer: [`module_name`] of a weight, the name without its last part
/// for other parameters (`conv1.bias`, `bn1.running_mean`), and a name without a dot as it is.
pub fn module_of(initializer: &str) -> &str {
    match initializer.strip_suffix(".weight") {
        Some(module) => module,
        None => initializer.rsplit_once('.').map_or(initializer, |(m, _)| m),
    }
}

/// The model's module names (each initializer's [`module_of`]), once each, in model order.
pub fn modules(model: &ModelContext) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for w in &model.weights {
        let name = module_of(&w.name);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The modules an `ignore` or `scheme_overrides` entry selects: SparseML matches a module whose
/// name starts with the entry (`layer1` selects `layer1.0.conv1`), `module.` prefixes dropped.
pub fn selected<'m>(entry: &str, modules: &[&'m str]) -> Vec<&'m str> {
    modules
        .iter()
        .filter(|m| m.strip_prefix("module.").unwrap_or(m).starts_with(entry))
        .copied()
        .collect()
}

/// The modules a `QuantizationModifier` names, each with its span: its `ignore` entries and its
/// `scheme_overrides` keys.
pub fn module_entries(modifier: &Modifier) -> Vec<(String, Span)> {
    let mut entries = modifier.strings("ignore");
    if let Some(field) = modifier.field("scheme_overrides")
        && let Some(Value::Map(overrides)) = field.value.effective()
    {
        entries.extend(overrides.iter().map(|e| (e.key.clone(), e.key_span)));
    }
    entries
}

pub fn check(
    modifier: &Modifier,
    spec: &ModifierSpec,
    model: Option<&ModelContext>,
    out: &mut Vec<Diagnostic>,
) {
    if spec.name != "QuantizationModifier" || spec.legacy {
        return;
    }
    if let Some(field) = modifier.field("scheme") {
        // Other types get the field's `type` error.
        match field.value.effective() {
            Some(Value::Str(alias)) => scheme_alias(alias, field.value_span, "scheme", out),
            Some(Value::Map(entries)) => scheme(entries, "scheme", out),
            _ => {}
        }
    }
    if let Some(field) = modifier.field("scheme_overrides")
        && let Some(Value::Map(entries)) = field.value.effective()
    {
        for entry in entries {
            loadable(&entry.value, entry.span, &override_path(&entry.key), out);
        }
    }
    if let Some(model) = model {
        targets(modifier, model, out);
    }
}

/// `scheme_overrides.Conv2d`, or `scheme_overrides['features.0']` for a dotted module name.
fn override_path(key: &str) -> String {
    if key.contains('.') {
        format!("scheme_overrides['{key}']")
    } else {
        format!("scheme_overrides.{key}")
    }
}

/// Anything `QuantizationScheme.load` takes: null, an alias or a scheme mapping.
fn loadable(value: &Value, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    match value.effective() {
        None | Some(Value::Null) => {}
        Some(Value::Str(alias)) => scheme_alias(alias, span, path, out),
        Some(Value::Map(entries)) => scheme(entries, path, out),
        Some(other) => out.push(Diagnostic::error(
            "type",
            span,
            format!(
                "`{path}` must be a scheme alias ({}) or a scheme mapping, not {}.",
                catalog::QUANTIZATION_SCHEMES.join(", "),
                other.type_name()
            ),
        )),
    }
}

fn scheme_alias(alias: &str, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    if catalog::QUANTIZATION_SCHEMES.contains(&alias) {
        return;
    }
    let aliases = catalog::QUANTIZATION_SCHEMES.join(", ");
    let mut d = Diagnostic::error(
        "enum",
        span,
        format!(
            "`{alias}` is not a quantization scheme alias for `{path}`; use one of {aliases}, or a mapping of input_activations and weights."
        ),
    );
    if alias.eq_ignore_ascii_case("null") || alias == "None" {
        // `QuantizationScheme.load` only turns a real null into the default scheme.
        d.message = format!(
            "SparseML reads the string `{alias}` in `{path}` as an unknown scheme alias, not as null; write `default` (or a bare `null`)."
        );
        d = d.with_fix("Write default", span, "default");
    } else if let Some(suggestion) =
        suggest::did_you_mean(alias, catalog::QUANTIZATION_SCHEMES.iter().copied())
    {
        d = d.with_fix(format!("Change to {suggestion}"), span, suggestion);
    }
    out.push(d);
}

/// A warning for a key pydantic drops without a word, with a rename to the nearest valid key.
fn unknown_key(entry: &Entry, path: &str, valid: &[&'static str], out: &mut Vec<Diagnostic>) {
    let keys = valid.join(", ");
    let mut d = Diagnostic::warning(
        "unknown-field",
        entry.key_span,
        format!(
            "SparseML ignores `{}` in `{path}`, which takes {keys}; remove it or fix the name.",
            entry.key
        ),
    );
    if let Some(suggestion) = suggest::did_you_mean(&entry.key, valid.iter().copied()) {
        d.message = format!(
            "SparseML ignores `{}` in `{path}`; did you mean `{suggestion}`?",
            entry.key
        );
        d = d.with_fix(
            format!("Rename to {suggestion}"),
            entry.key_span,
            suggestion,
        );
    }
    out.push(d);
}

/// A scheme mapping: input_activations, weights, output_activations, target_hardware.
fn scheme(entries: &[Entry], path: &str, out: &mut Vec<Diagnostic>) {
    for entry in entries {
        let at = format!("{path}.{}", entry.key);
        match entry.key.as_str() {
            "input_activations" | "weights" | "output_activations" => {
                args(&entry.value, entry.span, &at, out)
            }
            "target_hardware" => {
                if let Some(v @ (Value::List(_) | Value::Map(_))) = entry.value.effective() {
                    out.push(Diagnostic::error(
                        "type",
                        entry.span,
                        format!("`{at}` must be a name such as deepsparse or tensorrt, or null, not {}.", v.type_name()),
                    ));
                }
            }
            _ => unknown_key(entry, path, catalog::SCHEME_KEYS, out),
        }
    }
}

/// The quantization args of activations or weights: a mapping, or null for "not quantized"
/// (`QuantizationScheme` also reads the strings `"null"` and `"None"` as null).
fn args(value: &Value, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    match value.effective() {
        None | Some(Value::Null) => {}
        Some(Value::Str(s)) if s == "null" || s == "None" => {}
        Some(Value::Map(entries)) => {
            for entry in entries {
                let at = format!("{path}.{}", entry.key);
                match entry.key.as_str() {
                    "num_bits" => num_bits(&entry.value, entry.span, &at, out),
                    "symmetric" => symmetric(&entry.value, entry.span, &at, out),
                    "strategy" => strategy(&entry.value, entry.span, &at, out),
                    "kwargs" => {
                        if let Some(v) = entry.value.effective()
                            && !matches!(v, Value::Map(_))
                        {
                            out.push(Diagnostic::error(
                                "type",
                                entry.span,
                                format!("`{at}` must be a mapping of observer arguments, not {}; leave it out for none.", v.type_name()),
                            ));
                        }
                    }
                    _ => unknown_key(entry, path, catalog::SCHEME_ARGS_KEYS, out),
                }
            }
        }
        Some(other) => out.push(Diagnostic::error(
            "type",
            span,
            format!(
                "`{path}` must be a mapping of {}, or null to leave it unquantized, not {}.",
                catalog::SCHEME_ARGS_KEYS.join(", "),
                other.type_name()
            ),
        )),
    }
}

/// An int, 1 to 8. pydantic also takes a numeric string, truncates a float and reads a boolean
/// as 0 or 1; the last two are warnings.
fn num_bits(value: &Value, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    let bits = match value.effective() {
        None => return,
        Some(Value::Int(i)) => *i as f64,
        Some(Value::Float(f)) if f.fract() == 0.0 => *f,
        Some(Value::Float(f)) if f.is_finite() => {
            out.push(Diagnostic::warning(
                "type",
                span,
                format!(
                    "`{path}` is {f}, which SparseML truncates to {} bits; write a whole number.",
                    f.trunc()
                ),
            ));
            f.trunc()
        }
        Some(Value::Bool(b)) => {
            out.push(Diagnostic::warning(
                "type",
                span,
                format!("`{path}` is {b}, which SparseML reads as {} bits; write a number of bits such as 8.", u8::from(*b)),
            ));
            return;
        }
        Some(other) => match other {
            Value::Str(s) if let Ok(i) = s.trim().parse::<i64>() => i as f64,
            _ => {
                out.push(Diagnostic::error(
                    "type",
                    span,
                    format!(
                        "`{path}` must be a whole number of bits such as 8, not {}.",
                        other.type_name()
                    ),
                ));
                return;
            }
        },
    };
    if bits == 0.0 {
        out.push(
            Diagnostic::warning(
                "range",
                span,
                format!("`{path}` 0 means 8 bits to SparseML; write 8."),
            )
            .with_fix("Write 8", span, "8"),
        );
    } else if !catalog::QUANTIZATION_BITS.contains(bits) {
        out.push(Diagnostic::error(
            "range",
            span,
            format!("`{path}` is {bits}, outside {}; PyTorch's fake quantization holds int8 and uint8 values, so use 1 to 8 bits.", catalog::QUANTIZATION_BITS),
        ));
    }
}

/// A bool, as pydantic reads one: also 0 / 1 and strings such as "true" or "no".
fn symmetric(value: &Value, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    let ok = match value.effective() {
        None | Some(Value::Bool(_)) => true,
        Some(Value::Int(i)) => *i == 0 || *i == 1,
        Some(Value::Str(s)) => catalog::PYDANTIC_BOOL_STRINGS.contains(&s.to_lowercase().as_str()),
        _ => false,
    };
    if !ok {
        out.push(Diagnostic::error(
            "type",
            span,
            format!("`{path}` must be true or false, not {}.", value.type_name()),
        ));
    }
}

fn strategy(value: &Value, span: Span, path: &str, out: &mut Vec<Diagnostic>) {
    let strategies = catalog::QUANTIZATION_STRATEGIES;
    let text = match value.effective() {
        None => return,
        Some(Value::Str(s)) if strategies.contains(&s.as_str()) => return,
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.type_name().to_string(),
    };
    let mut d = Diagnostic::error(
        "enum",
        span,
        format!(
            "`{path}` is `{text}`; SparseML accepts {} (one scale per tensor or per output channel).",
            strategies.join(" or ")
        ),
    );
    if let Some(suggestion) = suggest::did_you_mean(&text, strategies.iter().copied()) {
        d = d.with_fix(format!("Change to {suggestion}"), span, suggestion);
    }
    out.push(d);
}

/// With a model: every `ignore` entry and `scheme_overrides` key names a module of the model (by
/// prefix, as SparseML matches) or is a module type. SparseML's `strict` check (the default)
/// raises at `initialize` on one that matches nothing.
fn targets(modifier: &Modifier, model: &ModelContext, out: &mut Vec<Diagnostic>) {
    let modules = modules(model);
    let strict = !matches!(
        modifier.field("strict").and_then(|f| f.value.effective()),
        Some(Value::Bool(false))
    );
    for (entry, span) in module_entries(modifier) {
        if is_module_type(&entry) || !selected(&entry, &modules).is_empty() {
            continue;
        }
        out.push(unknown_module(&entry, span, model, &modules, strict));
    }
}

fn unknown_module(
    entry: &str,
    span: Span,
    model: &ModelContext,
    modules: &[&str],
    strict: bool,
) -> Diagnostic {
    let consequence = if strict {
        "so SparseML's strict check fails at initialize"
    } else {
        "so SparseML skips it (strict is false)"
    };
    // A weight name (`conv1.weight`) is compared as the module it belongs to.
    let probe = module_name(entry);
    let near = suggest::closest(probe, modules.iter().copied(), 3);
    let examples = near
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    // Names an exporter made up cannot be compared with the PyTorch model's.
    let severity = if model.has_generated_names {
        Severity::Information
    } else {
        Severity::Warning
    };
    let mut d = Diagnostic::new(
        "unknown-module",
        severity,
        span,
        format!(
            "`{entry}` names no module of {}, {consequence}; use a module name (a weight name without `.weight`) such as {examples}, or a module type such as Conv2d.",
            model.name
        ),
    );
    if let Some(suggestion) = suggest::did_you_mean(probe, modules.iter().copied()) {
        d.message = format!(
            "`{entry}` names no module of {}, {consequence}; did you mean `{suggestion}`?",
            model.name
        );
        let quote = if span.len() > entry.len() { "'" } else { "" };
        d = d.with_fix(
            format!("Change to {suggestion}"),
            span,
            format!("{quote}{suggestion}{quote}"),
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::context::Weight;
    use crate::recipe::{CheckOptions, check as check_recipe};

    fn recipe(quantization_fields: &str) -> String {
        format!(
            "version: 1.1.0\nmodifiers:\n    - !QuantizationModifier\n        start_epoch: 0.0\n{quantization_fields}"
        )
    }

    /// (code, severity, the text the span covers, message) of every diagnostic.
    fn findings(
        text: &str,
        model: Option<&ModelContext>,
    ) -> Vec<(&'static str, Severity, String, String)> {
        let options = CheckOptions {
            model,
            ..Default::default()
        };
        check_recipe(text, &options)
            .diagnostics
            .into_iter()
            .map(|d| {
                (
                    d.code,
                    d.severity,
                    text[d.span.start..d.span.end].to_string(),
                    d.message,
                )
            })
            .collect()
    }

    fn digits() -> ModelContext {
        let weight = |name: &str| Weight {
            name: name.into(),
            is_prunable: name.ends_with(".weight") && !name.starts_with("bn"),
            ..Default::default()
        };
        ModelContext {
            name: "digits_cnn.onnx".into(),
            weights: [
                "conv1.weight",
                "conv2.weight",
                "fc1.weight",
                "fc2.weight",
                "conv1.bias",
                "bn1.weight",
                "bn1.running_mean",
            ]
            .into_iter()
            .map(weight)
            .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn valid_schemes_pass() {
        for fields in [
            "        scheme: default\n",
            "        scheme: deepsparse\n",
            "        scheme: tensorrt\n",
            "        scheme: null\n",
            "        scheme:\n            input_activations: null\n            weights:\n                num_bits: 8\n                symmetric: true\n                strategy: channel\n                kwargs: {reduce_range: true}\n            output_activations: \"null\"\n            target_hardware: deepsparse\n",
            "        scheme: {input_activations: {num_bits: 4, symmetric: 'yes'}, weights: None}\n",
            "        scheme_overrides:\n            Conv2d: tensorrt\n            classifier: {weights: null}\n            fc1: default\n",
        ] {
            let text = recipe(fields);
            assert_eq!(findings(&text, None), [], "{text}");
        }
    }

    #[test]
    fn bad_scheme_values_get_one_diagnostic_each_naming_the_path() {
        let text = recipe(
            "        scheme:\n            input_activation: {num_bits: 8}\n            weights:\n                num_bits: 16\n                symetric: true\n                strategy: chanel\n                kwargs: 3\n            output_activations: 8\n        scheme_overrides:\n            fc1: deepsprse\n            fc2: {weights: {num_bits: 8.5, symmetric: maybe}}\n            features.0: [8]\n",
        );
        let found = findings(&text, None);
        let summary: Vec<(&str, Severity, &str)> = found
            .iter()
            .map(|(c, s, t, _)| (*c, *s, t.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("unknown-field", Severity::Warning, "input_activation"),
                ("range", Severity::Error, "16"),
                ("unknown-field", Severity::Warning, "symetric"),
                ("enum", Severity::Error, "chanel"),
                ("type", Severity::Error, "3"),
                ("type", Severity::Error, "8"),
                ("enum", Severity::Error, "deepsprse"),
                ("type", Severity::Warning, "8.5"),
                ("type", Severity::Error, "maybe"),
                ("type", Severity::Error, "[8]"),
            ],
            "{found:#?}"
        );
        let message = |i: usize| found[i].3.as_str();
        assert!(
            message(0).contains("did you mean `input_activations`"),
            "{}",
            message(0)
        );
        assert!(
            message(1).contains("`scheme.weights.num_bits` is 16"),
            "{}",
            message(1)
        );
        assert!(message(2).contains("`scheme.weights`; did you mean `symmetric`"));
        assert!(message(3).contains("`scheme.weights.strategy` is `chanel`"));
        assert!(message(5).contains("`scheme.output_activations` must be a mapping"));
        assert!(
            message(6).contains("`scheme_overrides.fc1`"),
            "{}",
            message(6)
        );
        assert!(
            message(7).contains(
                "`scheme_overrides.fc2.weights.num_bits` is 8.5, which SparseML truncates to 8 bits"
            ),
            "{}",
            message(7)
        );
        assert!(
            message(9).contains("`scheme_overrides['features.0']`"),
            "{}",
            message(9)
        );
        for (_, _, _, m) in &found {
            assert!(m.ends_with('.') || m.ends_with('?'), "{m}");
        }
    }

    #[test]
    fn alias_mistakes() {
        let found = findings(&recipe("        scheme: \"null\"\n"), None);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), ("enum", Severity::Error));
        assert!(
            found[0].3.contains("not as null; write `default`"),
            "{}",
            found[0].3
        );
        let found = findings(&recipe("        scheme: tensorrrt\n"), None);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0]
                .3
                .contains("use one of default, deepsparse, tensorrt")
        );
        let found = findings(&recipe("        scheme: 8\n"), None);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, "type");
        let found = findings(&recipe("        scheme: {weights: {num_bits: 0}}\n"), None);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].0, found[0].1), ("range", Severity::Warning));
    }

    #[test]
    fn ignore_and_override_keys_name_modules_or_types() {
        let model = digits();
        let text = recipe(
            "        ignore: [conv1, conv, bn1, ReLU, BatchNorm2d, fc3, 'cnv2.weight', conv1.weight]\n        scheme_overrides:\n            fc: default\n            clasifier: default\n",
        );
        let found = findings(&text, Some(&model));
        let flagged: Vec<&str> = found.iter().map(|(_, _, t, _)| t.as_str()).collect();
        assert_eq!(
            flagged,
            ["fc3", "'cnv2.weight'", "conv1.weight", "clasifier"],
            "{found:#?}"
        );
        for (code, severity, _, message) in &found {
            assert_eq!((*code, *severity), ("unknown-module", Severity::Warning));
            assert!(message.contains("digits_cnn.onnx") && message.contains("strict check"));
        }
        assert!(
            found[0].3.contains("`fc1`"),
            "closest names: {}",
            found[0].3
        );
        assert!(found[1].3.contains("`conv2`"), "{}", found[1].3);
        assert!(
            found[2].3.contains("did you mean `conv1`?"),
            "{}",
            found[2].3
        );

        // Without strict, and with a model whose names were made up: informational.
        let mut generated = digits();
        generated.has_generated_names = true;
        let text = recipe("        ignore: [fc3]\n        strict: false\n");
        let found = findings(&text, Some(&generated));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].1, Severity::Information);
        assert!(
            found[0].3.contains("skips it (strict is false)"),
            "{}",
            found[0].3
        );
        // No model: nothing to compare with.
        assert_eq!(findings(&recipe("        ignore: [fc3]\n"), None), []);
    }

    #[test]
    fn legacy_keys_select_the_legacy_class() {
        // `submodules` is legacy-only: the legacy class knows it, and `scheme` is unknown there.
        let text = recipe("        submodules: [features]\n        exclude_module_types: [ReLU]\n");
        assert_eq!(findings(&text, None), []);
        let text = recipe("        submodules: [features]\n        scheme: default\n");
        let found = findings(&text, None);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            (found[0].0, found[0].2.as_str()),
            ("unknown-field", "scheme")
        );
    }

    #[test]
    fn module_names_and_types() {
        assert_eq!(module_name("features.0.conv.weight"), "features.0.conv");
        assert_eq!(module_name("onnx::Conv_12"), "onnx::Conv_12");
        assert_eq!(module_name("conv1.bias"), "conv1.bias");
        assert_eq!(module_of("conv1.bias"), "conv1");
        assert_eq!(module_of("bn1.running_mean"), "bn1");
        assert_eq!(module_of("fc.weight"), "fc");
        assert_eq!(module_of("2425"), "2425");
        let model = digits();
        let modules = super::modules(&model);
        assert_eq!(modules, ["conv1", "conv2", "fc1", "fc2", "bn1"]);
        assert!(is_module_type("Conv2d") && is_module_type("BatchNorm2d"));
        assert!(!is_module_type("conv1") && !is_module_type("Conv.0") && !is_module_type(""));
        let modules = ["module.layer1.0.conv1", "layer1.1.conv1", "fc"];
        assert_eq!(
            selected("layer1", &modules),
            ["module.layer1.0.conv1", "layer1.1.conv1"]
        );
        assert_eq!(
            suggest::closest("conv3", ["fc1", "conv1", "conv2"], 2),
            ["conv1", "conv2"]
        );
    }
}
