//! Hover: a modifier's documentation and effective schedule on its tag; a field's documentation
//! (type, default, valid values); on a layer name in `params`, what the model says about it (op,
//! shapes, params, FLOPs, existing sparsity, measured sensitivities); on a module in a
//! `QuantizationModifier`'s `ignore` or `scheme_overrides`, the layers it selects with their int8
//! quantization sensitivity; on a staged modifier's `targets` / `ignore` entry, the layers it
//! selects with their sensitivities; an alias's or a variable's value.

use prunekit_core::recipe::catalog;
use prunekit_core::recipe::lower::python_match;
use prunekit_core::recipe::lower::{Layout, Modifier, Value};
use prunekit_core::recipe::quantization::{is_module_type, module_of, modules, selected};
use prunekit_core::recipe::staged;
use prunekit_core::recipe::{ModelContext, Weight};
use tower_lsp_server::ls_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use super::context::{At, at};
use crate::line_index::Encoding;
use crate::world::Analysis;

pub fn hover(
    analysis: &Analysis,
    encoding: Encoding,
    position: Position,
    markdown: bool,
) -> Option<Hover> {
    let convert = analysis.converter(encoding);
    let (text, span) = match at(analysis, convert.offset(position)) {
        At::Tag(m) => (modifier_doc(analysis, m), m.tag_span),
        At::FieldKey(m, f) => (field_doc(m, &f.name)?, f.key_span),
        At::FieldValue(m, f) => (field_doc(m, &f.name)?, f.value_span),
        At::Param(m, entry, span) => (param_doc(analysis, m, &entry), span),
        At::Module(m, entry, span) => (module_doc(analysis, m, &entry), span),
        At::Target(m, entry, span) => (target_doc(analysis, m, &entry), span),
        At::Alias(name, span) | At::Anchor(name, span) => {
            let value = analysis
                .checked
                .recipe
                .variables
                .iter()
                .find(|v| v.anchor.as_ref().is_some_and(|(a, _)| *a == name));
            let shown = value.map_or("(a value anchored in this recipe)".to_string(), |v| {
                show(&v.value)
            });
            (format!("**&{name}** = `{shown}`"), span)
        }
        At::Variable(name, span) | At::EvalName(name, span) => {
            let v = analysis
                .checked
                .recipe
                .variables
                .iter()
                .rev()
                .find(|v| v.name == name)?;
            (
                format!(
                    "**{name}** = `{}`  \nrecipe variable{}",
                    show(&v.value),
                    v.stage
                        .as_ref()
                        .map_or(String::new(), |s| format!(" of stage `{s}`"))
                ),
                span,
            )
        }
        At::Nothing => return None,
    };
    let value = if markdown {
        text
    } else {
        text.replace("**", "").replace('`', "")
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: if markdown {
                MarkupKind::Markdown
            } else {
                MarkupKind::PlainText
            },
            value,
        }),
        range: Some(convert.range(span)),
    })
}

pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => s.clone(),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|(v, _)| show(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|e| format!("{}: {}", e.key, show(&e.value)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Eval { text, value } => match value {
            Some(v) => format!("{} → {}", text, show(v)),
            None => text.clone(),
        },
        Value::Alias { name, value } => match value {
            Some(v) => show(v),
            None => format!("*{name}"),
        },
    }
}

fn modifier_doc(analysis: &Analysis, m: &Modifier) -> String {
    let Some(spec) = staged::spec_of(m) else {
        return match m.layout {
            Layout::Tagged => format!("**!{}**: not a SparseML modifier.", m.class),
            Layout::Staged => format!(
                "**{}**: not a modifier class of llm-compressor or SparseML 1.7.",
                m.class
            ),
        };
    };
    let mut out = format!("**{}**\n\n{}\n", spec.name, spec.doc);
    if let Some(class) = catalog::staged_modifier(&m.class).filter(|_| m.layout == Layout::Staged) {
        out.push_str(&format!(
            "\n- {} · stage `{}` · group `{}`\n",
            staged::class_tools_note(class),
            m.stage.as_deref().unwrap_or("(none)"),
            m.group
        ));
    }
    let num = |name: &str| m.number(name).map(|v| format!("{v}"));
    if let (Some(start), Some(end)) = (num("start_epoch"), num("end_epoch")) {
        out.push_str(&format!("\n- epochs {start} → {end}"));
        if let Some(f) = m.number("update_frequency")
            && f > 0.0
            && let (Some(s), Some(e)) = (m.number("start_epoch"), m.number("end_epoch"))
            && e > s
        {
            out.push_str(&format!(", {:.0} pruning steps", ((e - s) / f).floor()));
        }
        out.push('\n');
    }
    if let (Some(init), Some(fin)) = (num("init_sparsity"), num("final_sparsity")) {
        out.push_str(&format!("- sparsity {init} → {fin}\n"));
    }
    let params = m.params();
    if let (Some(model), false) = (&analysis.model, params.is_empty()) {
        let mut n_weights = 0u64;
        let mut n_layers = 0;
        for w in model.prunable() {
            if m.selects(&w.name) {
                n_weights += w.params;
                n_layers += 1;
            }
        }
        out.push_str(&format!(
            "- {n_layers} layer(s) of {}, {n_weights} weights\n",
            model.name
        ));
    }
    if let Some(model) = &analysis.model
        && m.layout == Layout::Staged
    {
        out.push_str(&staged_layers(model, m));
    }
    out
}

/// The prunable layers a staged modifier's `targets` select, less its `ignore`, as a line of the
/// class hover; empty without `targets`. PyTorch types (`Linear`) are named, not counted: the
/// ONNX model does not record them.
fn staged_layers(model: &ModelContext, m: &Modifier) -> String {
    let targets = m.strings("targets");
    if targets.is_empty() {
        return String::new();
    }
    let ignored: Vec<&Weight> = m
        .strings("ignore")
        .iter()
        .flat_map(|(entry, _)| staged::target_weights(entry, model))
        .collect();
    let mut chosen: Vec<&Weight> = Vec::new();
    for (entry, _) in &targets {
        for w in staged::target_weights(entry, model) {
            let ignore = ignored.iter().any(|i| std::ptr::eq(*i, w));
            if w.is_prunable && !ignore && !chosen.iter().any(|c| std::ptr::eq(*c, w)) {
                chosen.push(w);
            }
        }
    }
    let weights: u64 = chosen.iter().map(|w| w.params).sum();
    let mut out = format!(
        "- {} layer(s) of {} in `targets`, {weights} weights",
        chosen.len(),
        model.name
    );
    let types: Vec<&str> = targets
        .iter()
        .map(|(entry, _)| entry.as_str())
        .filter(|entry| is_module_type(entry))
        .collect();
    if !types.is_empty() {
        out.push_str(&format!(", and every {} module", types.join(" / ")));
    }
    out.push('\n');
    out
}

fn no_model(entry: &str) -> String {
    format!(
        "`{entry}`: no model is associated; add `# prunekit: model=PATH.onnx` to see its layers."
    )
}

/// "loss sensitivity 0.067, rank 4 of 4" for a weight the model ranks.
fn sensitivity(model: &ModelContext, w: &Weight) -> Option<String> {
    let (value, rank) = (w.sensitivity?, w.sensitivity_rank?);
    let n = model
        .prunable()
        .filter(|w| w.sensitivity_rank.is_some())
        .count();
    Some(format!("loss sensitivity {value:.3}, rank {rank} of {n}"))
}

/// Where the loss sensitivities come from, in words.
fn sensitivity_source(model: &ModelContext) -> String {
    match &model.sensitivity_source {
        Some(source) => format!("from the {source}"),
        None => "approximated from shapes, as Sparsify's \"Approximated\" profile; `profile loss` in the notebook measures it".into(),
    }
}

fn field_doc(m: &Modifier, name: &str) -> Option<String> {
    let spec = staged::spec_of(m)?;
    let field = spec.field(name)?;
    let mut out = format!(
        "**{}** ({}){}\n\n{}\n",
        field.name,
        field.ty.describe(),
        if field.required { ", required" } else { "" },
        field.doc
    );
    if let Some(default) = field.default {
        out.push_str(&format!("\n- default: `{default}`"));
    }
    if let Some(range) = field.range {
        out.push_str(&format!("\n- valid: {range}"));
    }
    if !field.enum_values.is_empty() {
        out.push_str(&format!("\n- one of: {}", field.enum_values.join(", ")));
    }
    if let Some(note) = staged::field_tools_note(m, name) {
        out.push_str(&format!("\n- {note}"));
    }
    Some(out)
}

fn param_doc(analysis: &Analysis, m: &Modifier, entry: &str) -> String {
    let Some(model) = &analysis.model else {
        return no_model(entry);
    };
    if let Some(pattern) = entry.strip_prefix("re:") {
        let matched: Vec<&str> = match python_match(pattern) {
            Ok(re) => model
                .prunable()
                .filter(|w| re.is_match(&w.name))
                .map(|w| w.name.as_str())
                .collect(),
            Err(_) => Vec::new(),
        };
        return format!(
            "`re:{pattern}` matches {} prunable weight(s) of {}: {}",
            matched.len(),
            model.name,
            matched.join(", ")
        );
    }
    let Some(w) = model.weight(entry) else {
        return format!("`{entry}` is not a weight of {}.", model.name);
    };
    // The staged classes name their target `sparsity`; one outside [0, 1] has its own error and
    // removes no FLOPs.
    let sparsity = m
        .number("final_sparsity")
        .or_else(|| m.number("sparsity"))
        .filter(|s| (0.0..=1.0).contains(s));
    let mut out = format!("**{}** — {} `{}`\n\n", w.name, w.op_type, w.layer);
    out.push_str(&format!(
        "- weight shape {:?}, {} params",
        w.shape, w.params
    ));
    if w.params > 0 && w.zeroed > 0 {
        out.push_str(&format!(
            " ({:.1}% already zero)",
            100.0 * w.zeroed as f64 / w.params as f64
        ));
    }
    out.push('\n');
    if let Some(shape) = &w.output_shape {
        out.push_str(&format!("- output shape {shape:?}\n"));
    }
    if let Some(flops) = w.flops {
        out.push_str(&format!("- {flops} FLOPs per run"));
        if let Some(s) = sparsity {
            out.push_str(&format!(
                "; at {s} sparsity about {:.0} FLOPs removed",
                flops as f64 * s
            ));
        }
        out.push('\n');
    }
    if !w.is_prunable {
        out.push_str(&format!(
            "- not prunable: {}\n",
            w.reason.as_deref().unwrap_or("no prunable weight")
        ));
    }
    if let Some(sensitivity) = sensitivity(model, w) {
        out.push_str(&format!(
            "- {sensitivity} (1 = most sensitive; {})\n",
            sensitivity_source(model)
        ));
    }
    out.push_str(&quantization_lines(model, &[w]));
    if let (Some(ms), Some(source)) = (w.ms, &model.perf_source) {
        out.push_str(&format!("- {ms:.3} ms per run in ONNX Runtime ({source})"));
        if let Some(at_90) = w.ms_at_90 {
            out.push_str(&format!(
                "; an estimated {at_90:.3} ms at 90% sparsity on {}",
                prunekit_core::profile::perf::ENGINE
            ));
        }
        out.push('\n');
    }
    out
}

/// A measured value: four decimals, or three significant digits when that would show zeros.
fn figure(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.001 {
        format!("{value:.2e}")
    } else {
        format!("{value:.4}")
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// The int8 quantization sensitivity of each of `weights` that the latest loss profile measured,
/// then the whole model's quantized value and where the numbers come from; empty without one.
fn quantization_lines(model: &ModelContext, weights: &[&Weight]) -> String {
    let Some(q) = &model.quantization else {
        return String::new();
    };
    let mut out = String::new();
    let mut measured = 0;
    for w in weights {
        let Some(loss) = &w.quantization else {
            continue;
        };
        measured += 1;
        let who = if weights.len() > 1 {
            format!("`{}`: ", module_of(&w.name))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "- {who}int8 quantization sensitivity {} ({}), rank {} of {} (1 = most sensitive)",
            figure(loss.value),
            q.metric,
            loss.rank,
            q.layers
        ));
        if let Some(accuracy) = loss.accuracy {
            out.push_str(&format!("; accuracy {} quantized alone", percent(accuracy)));
        }
        out.push('\n');
    }
    if measured == 0 {
        return String::new();
    }
    out.push_str(&format!(
        "- whole model quantized ({}): {}",
        q.setup,
        figure(q.model.value)
    ));
    if let Some(accuracy) = q.model.accuracy {
        out.push_str(&format!(", accuracy {}", percent(accuracy)));
        if let Some(float) = q.baseline_accuracy {
            out.push_str(&format!(" (float {})", percent(float)));
        }
    }
    out.push_str(&format!("; from the {}\n", q.source));
    out
}

/// What an entry of a module list does (`roles.0` in the modifier's `ignore`, else `roles.1`)
/// and the model to list its modules from; the whole hover instead where the entry is a PyTorch
/// module type or no model is associated.
fn selection<'a>(
    analysis: &'a Analysis,
    m: &Modifier,
    entry: &str,
    roles: (&'static str, &'static str),
) -> Result<(&'a ModelContext, &'static str), String> {
    let role = if m.strings("ignore").iter().any(|(e, _)| e == entry) {
        roles.0
    } else {
        roles.1
    };
    if is_module_type(entry) {
        return Err(format!(
            "**{entry}**: a PyTorch module type; every `{entry}` module is {role}. The ONNX model does not record PyTorch types, so prunekit cannot list them."
        ));
    }
    match &analysis.model {
        Some(model) => Ok((model, role)),
        None => Err(no_model(entry)),
    }
}

/// An `ignore` entry or `scheme_overrides` key: the modules it selects (SparseML matches names by
/// prefix), their layers, and how much quantizing each hurts when a loss profile measured it.
fn module_doc(analysis: &Analysis, m: &Modifier, entry: &str) -> String {
    let roles = (
        "left in float (`ignore`)",
        "quantized with its own scheme (`scheme_overrides`)",
    );
    let (model, role) = match selection(analysis, m, entry, roles) {
        Ok(found) => found,
        Err(doc) => return doc,
    };
    let names = modules(model);
    let chosen = selected(entry, &names);
    if chosen.is_empty() {
        return format!("`{entry}` names no module of {}.", model.name);
    }
    // One initializer per module: its weight where it has one.
    let weights: Vec<&Weight> = chosen
        .iter()
        .filter_map(|module| {
            let mut own = model
                .weights
                .iter()
                .filter(|w| module_of(&w.name) == *module);
            let first = own.clone().next();
            own.find(|w| w.name.ends_with(".weight")).or(first)
        })
        .collect();
    let mut out = format!(
        "**{entry}** — {} module(s) of {}, {role}\n\n",
        chosen.len(),
        model.name
    );
    for w in &weights {
        out.push_str(&format!(
            "- `{}`: {} `{}`, weight {:?}\n",
            module_of(&w.name),
            w.op_type,
            w.layer,
            w.shape
        ));
    }
    out.push_str(&quantization_lines(model, &weights));
    out
}

/// A staged `targets` / `ignore` entry: the layers it selects (compressed-tensors matches a
/// module's name, a parent's, or a `re:` pattern), each with its sensitivities; a single layer
/// gets the hover of a layer name in `params`.
fn target_doc(analysis: &Analysis, m: &Modifier, entry: &str) -> String {
    let roles = ("left out (`ignore`)", "selected (`targets`)");
    let (model, role) = match selection(analysis, m, entry, roles) {
        Ok(found) => found,
        Err(doc) => return doc,
    };
    let layers: Vec<&Weight> = staged::target_weights(entry, model)
        .into_iter()
        .filter(|w| w.is_prunable || w.name.ends_with(".weight"))
        .collect();
    match layers.as_slice() {
        [] => format!("`{entry}` selects no layer of {}.", model.name),
        [w] => format!(
            "`{entry}` — 1 layer of {}, {role}\n\n{}",
            model.name,
            param_doc(analysis, m, &w.name)
        ),
        _ => {
            let mut out = format!(
                "`{entry}` — {} layers of {}, {role}\n\n",
                layers.len(),
                model.name
            );
            for w in &layers {
                out.push_str(&format!(
                    "- `{}`: {} `{}`, weight {:?}",
                    w.name, w.op_type, w.layer, w.shape
                ));
                if let Some(sensitivity) = sensitivity(model, w) {
                    out.push_str(&format!(", {sensitivity}"));
                }
                out.push('\n');
            }
            if layers.iter().any(|w| w.sensitivity_rank.is_some()) {
                out.push_str(&format!(
                    "- 1 = most sensitive; {}\n",
                    sensitivity_source(model)
                ));
            }
            out.push_str(&quantization_lines(model, &layers));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::fixture::{Fixture, Model, fixture_with};
    use tower_lsp_server::ls_types::Range;

    const GM: &str = "\
modifiers:
  - !GMPruningModifier
    init_sparsity: 0.05
    final_sparsity: 0.9
    start_epoch: 0.0
    end_epoch: 10.0
    update_frequency: 1.0
    inter_func: cubic
    params: [conv1.weight, conv2.weight, fc1.weight, fc2.weight]
";

    /// `GM` with `$0` put after the first occurrence of `at`.
    fn gm_at(at: &str) -> String {
        let i = GM.find(at).unwrap_or_else(|| panic!("{at:?} is not in GM")) + at.len();
        format!("{}$0{}", &GM[..i], &GM[i..])
    }

    fn hover_of(f: &Fixture, markdown: bool) -> Option<(String, Range)> {
        let found = hover(&f.analysis, Encoding::Utf16, f.position, markdown)?;
        let HoverContents::Markup(content) = found.contents else {
            panic!("hover answers markup");
        };
        assert_eq!(
            content.kind,
            if markdown {
                MarkupKind::Markdown
            } else {
                MarkupKind::PlainText
            }
        );
        Some((content.value, found.range.expect("hover has a range")))
    }

    fn hover_text(marked: &str, model: Model) -> String {
        let f = fixture_with(marked, model);
        hover_of(&f, true)
            .unwrap_or_else(|| panic!("no hover at the cursor of {marked:?}"))
            .0
    }

    #[test]
    fn modifier_tag_shows_its_doc_and_schedule() {
        let f = fixture_with(&gm_at("!GMPrun"), Model::None);
        let (text, range) = hover_of(&f, true).unwrap();
        assert!(
            text.starts_with("**GMPruningModifier**\n\nGradual magnitude pruning"),
            "{text}"
        );
        assert!(
            text.contains("- epochs 0 → 10, 10 pruning steps\n"),
            "{text}"
        );
        assert!(text.contains("- sparsity 0.05 → 0.9\n"), "{text}");
        // No model: no line about the layers it selects.
        assert!(!text.contains("layer(s)"), "{text}");
        // The range is the tag on line 1.
        assert_eq!((range.start.line, range.end.line), (1, 1));
        assert_eq!(range.start.character, 4);
    }

    #[test]
    fn modifier_tag_with_a_model_counts_the_selected_layers() {
        let text = hover_text(&gm_at("!GM"), Model::Digits);
        assert!(text.contains("- 4 layer(s) of digits_cnn.onnx, "), "{text}");
    }

    #[test]
    fn an_unknown_modifier_says_so() {
        let text = hover_text("modifiers:\n  - !NoSuch$0Modifier\n    a: 1\n", Model::None);
        assert_eq!(text, "**!NoSuchModifier**: not a SparseML modifier.");
    }

    #[test]
    fn field_key_shows_type_requirement_and_range() {
        let text = hover_text(&gm_at("final_spar"), Model::None);
        assert!(text.starts_with("**final_sparsity** ("), "{text}");
        assert!(
            text.contains(", required\n\nSparsity reached at end_epoch"),
            "{text}"
        );
        assert!(text.contains("\n- valid: "), "{text}");
    }

    #[test]
    fn field_value_shows_the_field_with_its_default_and_values() {
        let text = hover_text(&gm_at("inter_func: cu"), Model::None);
        assert!(text.starts_with("**inter_func** ("), "{text}");
        assert!(text.contains("\n- default: `cubic`"), "{text}");
        assert!(
            text.contains("\n- one of: linear, cubic, inverse_cubic"),
            "{text}"
        );
    }

    #[test]
    fn plain_text_clients_get_no_markdown() {
        let f = fixture_with(&gm_at("final_spar"), Model::None);
        let (text, _) = hover_of(&f, false).unwrap();
        assert!(text.starts_with("final_sparsity ("), "{text}");
        assert!(!text.contains("**") && !text.contains('`'), "{text}");
    }

    #[test]
    fn an_unknown_field_has_no_hover() {
        let f = fixture_with(
            "modifiers:\n  - !GMPruningModifier\n    no_such_fi$0eld: 1\n",
            Model::None,
        );
        assert!(hover_of(&f, true).is_none());
    }

    #[test]
    fn layer_name_with_a_project_shows_the_measured_sensitivity() {
        let text = hover_text(&gm_at("conv2.we"), Model::DigitsWithProject);
        assert!(
            text.starts_with("**conv2.weight** — Conv `/conv2/Conv_output_0`\n\n"),
            "{text}"
        );
        assert!(text.contains("- weight shape ["), "{text}");
        assert!(
            text.contains(" FLOPs per run; at 0.9 sparsity about "),
            "{text}"
        );
        assert!(
            text.contains(
                "- loss sensitivity 0.067, rank 4 of 4 (1 = most sensitive; from the magnitude loss profile 'magnitude' (mean abs weight removed))"
            ),
            "{text}"
        );
    }

    #[test]
    fn layer_name_without_a_project_shows_the_approximation() {
        let text = hover_text(&gm_at("conv1.we"), Model::Digits);
        assert!(text.starts_with("**conv1.weight** — Conv"), "{text}");
        assert!(
            text.contains("- loss sensitivity 57.600, rank 1 of 4 (1 = most sensitive; approximated from shapes"),
            "{text}"
        );
    }

    #[test]
    fn layer_name_without_a_model_says_how_to_name_one() {
        let text = hover_text(&gm_at("fc1.we"), Model::None);
        assert_eq!(
            text,
            "`fc1.weight`: no model is associated; add `# prunekit: model=PATH.onnx` to see its layers."
        );
    }

    #[test]
    fn a_name_the_model_lacks_is_named() {
        let text = hover_text(&GM.replace("fc2.weight]", "fc9.we$0ight]"), Model::Digits);
        assert_eq!(text, "`fc9.weight` is not a weight of digits_cnn.onnx.");
    }

    #[test]
    fn a_regex_lists_what_it_matches() {
        let text = hover_text(
            &GM.replace(
                "[conv1.weight, conv2.weight, fc1.weight, fc2.weight]",
                "['re:conv$0.*']",
            ),
            Model::Digits,
        );
        assert_eq!(
            text,
            "`re:conv.*` matches 2 prunable weight(s) of digits_cnn.onnx: conv1.weight, conv2.weight"
        );
    }

    #[test]
    fn a_variable_in_eval_shows_its_value() {
        let marked = format!(
            "num_epochs: 10.0\n{}",
            GM.replace("end_epoch: 10.0", "end_epoch: eval(num_e$0pochs)")
        );
        let text = hover_text(&marked, Model::None);
        assert_eq!(text, "**num_epochs** = `10.0`  \nrecipe variable");
    }

    #[test]
    fn whitespace_and_the_group_key_have_no_hover() {
        for at in ["modifiers:\n$0  - !GMPruningModifier", "modif$0iers:"] {
            let f = fixture_with(&GM.replacen(&at.replace("$0", ""), at, 1), Model::Digits);
            assert_eq!(f.analysis.text.as_str(), GM);
            assert!(hover_of(&f, true).is_none(), "{at:?}");
        }
        let f = fixture_with(&format!("{GM}\n$0\n"), Model::Digits);
        assert!(hover_of(&f, true).is_none());
    }

    const STAGED: &str = "\
sparsity_stage:
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: [conv2, 're:fc.*', Linear]
      ignore: [fc2]
";

    fn staged_at(at: &str, model: Model) -> String {
        let i = STAGED
            .find(at)
            .unwrap_or_else(|| panic!("{at:?} is not in STAGED"))
            + at.len();
        hover_text(&format!("{}$0{}", &STAGED[..i], &STAGED[i..]), model)
    }

    #[test]
    fn a_staged_target_shows_its_layer_with_the_measured_sensitivity() {
        let text = staged_at("[con", Model::DigitsWithProject);
        assert!(
            text.starts_with(
                "`conv2` — 1 layer of digits_cnn.onnx, selected (`targets`)\n\n**conv2.weight** — Conv `"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "- loss sensitivity 0.067, rank 4 of 4 (1 = most sensitive; from the magnitude loss profile 'magnitude'"
            ),
            "{text}"
        );
        // The staged classes' `sparsity` is the target the FLOPs line uses, when it is one.
        assert!(text.contains("; at 0.5 sparsity about "), "{text}");
        let marked = STAGED.replace("0.5", "1.5").replace("[conv2", "[con$0v2");
        let text = hover_text(&marked, Model::DigitsWithProject);
        assert!(text.contains(" FLOPs per run\n"), "{text}");
    }

    #[test]
    fn a_staged_pattern_lists_its_layers_with_their_sensitivities() {
        let text = staged_at("'re:f", Model::DigitsWithProject);
        assert!(
            text.starts_with("`re:fc.*` — 2 layers of digits_cnn.onnx, selected (`targets`)\n\n"),
            "{text}"
        );
        for layer in ["fc1.weight", "fc2.weight"] {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("- `{layer}`: ")))
                .unwrap_or_else(|| panic!("no line for {layer}: {text}"));
            assert!(line.contains(", loss sensitivity "), "{line}");
            assert!(line.contains(" of 4"), "{line}");
        }
        assert!(
            text.contains("- 1 = most sensitive; from the magnitude loss profile"),
            "{text}"
        );
    }

    #[test]
    fn staged_ignore_types_and_unknown_names() {
        let ignored = staged_at("ignore: [f", Model::Digits);
        assert!(
            ignored.starts_with("`fc2` — 1 layer of digits_cnn.onnx, left out (`ignore`)"),
            "{ignored}"
        );
        let linear = staged_at("Lin", Model::Digits);
        assert!(
            linear.starts_with("**Linear**: a PyTorch module type"),
            "{linear}"
        );
        let text = hover_text(&STAGED.replace("[conv2", "[conv$09"), Model::Digits);
        assert_eq!(text, "`conv9` selects no layer of digits_cnn.onnx.");
        let text = staged_at("[con", Model::None);
        assert!(
            text.starts_with("`conv2`: no model is associated"),
            "{text}"
        );
    }

    #[test]
    fn a_staged_class_counts_the_layers_its_targets_select() {
        let text = staged_at("SparseG", Model::Digits);
        assert!(text.starts_with("**SparseGPTModifier**"), "{text}");
        // conv2 and fc1: fc2 is ignored, and Linear is a type the ONNX model does not record.
        assert!(
            text.contains("- 2 layer(s) of digits_cnn.onnx in `targets`, "),
            "{text}"
        );
        assert!(
            text.contains(" weights, and every Linear module\n"),
            "{text}"
        );
    }
}
