//! Every validation rule that needs the lowered recipe: modifier classes and
//! tags, fields (presence, types, ranges, enumerations, YAML 1.1 traps), schedules, `eval()`,
//! `params` against the model, and overlaps between modifiers. The kernel's export, the language
//! server and `prunekit-lsp check` all run these, so there is one rule set.

use std::collections::{HashMap, HashSet};

use super::catalog::{self, EndComparator, FieldType, ModifierSpec, TypeCheck};
use super::check::{CheckOptions, is_generated_name};
use super::context::ModelContext;
use super::diagnostic::{Diagnostic, Severity};
use super::eval;
use super::lower::{Field, Layout, Modifier, Recipe, Value, Variable, python_match};
use super::quantization;
use super::span::Span;
use super::staged;
use super::yaml11::{self, Yaml11};
use crate::suggest;

/// The recipe's variables by name, for the `eval()` rules: one lookup per name however many
/// variables there are.
struct Variables<'r> {
    /// The last variable of each name, as PyYAML keeps the last duplicate key.
    by_name: HashMap<&'r str, &'r Variable>,
    all: &'r [Variable],
    /// How many more unknown names may get a did-you-mean (each compares with every variable).
    suggestions: suggest::Budget,
}

/// Unknown names that get a did-you-mean in one recipe; past it, quadratic time for no help.
const MAX_SUGGESTIONS: usize = 100;

impl<'r> Variables<'r> {
    fn new(recipe: &'r Recipe) -> Self {
        Variables {
            by_name: recipe
                .variables
                .iter()
                .map(|v| (v.name.as_str(), v))
                .collect(),
            all: &recipe.variables,
            suggestions: suggest::Budget::new(MAX_SUGGESTIONS),
        }
    }

    /// The variable most like `name`, when `name` is not a variable itself.
    fn suggestion_for(&self, name: &str) -> Option<&'r str> {
        if self.by_name.contains_key(name) {
            return None;
        }
        self.suggestions
            .did_you_mean(name, self.all.iter().map(|v| v.name.as_str()))
    }
}

pub fn check(text: &str, recipe: &Recipe, options: &CheckOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let names = Variables::new(recipe);
    variables(text, &names, &mut out);
    aliases(recipe, &mut out);
    let target = staged::target(recipe);
    for modifier in &recipe.modifiers {
        if modifier.layout == Layout::Staged {
            staged::modifier(modifier, options, target, &mut out);
            eval_errors(text, modifier, &names, &mut out);
            continue;
        }
        tag(text, modifier, &mut out);
        // A legacy-only key selects SparseML's legacy QuantizationModifier.
        let keys = modifier.fields.iter().map(|f| f.name.as_str());
        let Some(spec) = catalog::resolve_modifier(&modifier.class, options.framework, keys) else {
            unknown_modifier(modifier, options, &mut out);
            continue;
        };
        fields(text, modifier, spec, &mut out);
        eval_errors(text, modifier, &names, &mut out);
        schedule(modifier, spec, &mut out);
        params(modifier, options.model, &mut out);
        sensitivity(modifier, options.model, &mut out);
        quantization::check(modifier, spec, options.model, &mut out);
    }
    staged::recipe(recipe, &mut out);
    overlaps(recipe, &mut out);
    epoch_range(recipe, &mut out);
    out
}

/// Why the `eval()` values of a modifier's fields could not be computed.
fn eval_errors(text: &str, modifier: &Modifier, names: &Variables, out: &mut Vec<Diagnostic>) {
    for field in &modifier.fields {
        if let Value::Eval { value: None, .. } = &field.value {
            eval_error(text, field.value_span, names, out);
        }
    }
}

fn variables(text: &str, names: &Variables, out: &mut Vec<Diagnostic>) {
    for variable in names.all {
        if let Some(err) = &variable.eval_error {
            report_eval_error(text, variable.value_span, err.clone(), names, out);
        } else if let Value::Eval { value: None, .. } = &variable.value {
            eval_error(text, variable.value_span, names, out);
        }
    }
}

/// Where the text inside `eval(...)` starts in the document, for a scalar at `value_span`.
fn eval_base(text: &str, value_span: Span) -> Option<usize> {
    let source = &text[value_span.start..value_span.end];
    let (unquoted, quote) = match source.chars().next() {
        Some(q @ ('"' | '\'')) => (source.trim_matches(q), q.len_utf8()),
        _ => (source, 0),
    };
    let (_, inner_offset) = eval::strip_eval(unquoted)?;
    Some(value_span.start + quote + inner_offset)
}

fn report_eval_error(
    text: &str,
    value_span: Span,
    err: eval::EvalError,
    names: &Variables,
    out: &mut Vec<Diagnostic>,
) {
    let base = eval_base(text, value_span).unwrap_or(value_span.start);
    let span = err
        .span
        .map(|s| Span {
            start: base + s.start,
            end: base + s.end,
        })
        .filter(|s| {
            s.end <= value_span.end
                && text.is_char_boundary(s.start)
                && text.is_char_boundary(s.end)
        })
        .unwrap_or(value_span);
    let mut diagnostic = Diagnostic::error(err.code, span, err.message.clone());
    if err.code == eval::EVAL_UNARY_MINUS
        && let Some(rest) = text.get(base..value_span.end)
        && let Some(inner) = rest.rfind(')').map(|end| &rest[..end])
        && let Some(fix) = eval::unary_minus_fix(inner)
    {
        let inner_span = Span {
            start: base,
            end: base + inner.len(),
        };
        diagnostic = match fix.plain {
            Some(plain) => diagnostic.with_fix(format!("Write {plain}"), value_span, plain),
            None => {
                diagnostic.with_fix(format!("Write eval({})", fix.inner), inner_span, fix.inner)
            }
        };
    }
    if err.code == "eval-unknown-variable"
        && let Some(name) = text.get(span.start..span.end)
        && let Some(suggestion) = names.suggestion_for(name)
    {
        diagnostic = diagnostic.with_fix(format!("Use `{suggestion}`"), span, suggestion);
    }
    out.push(diagnostic);
}

/// Why an `eval()` value could not be computed, at the span of the failing part.
fn eval_error(text: &str, value_span: Span, names: &Variables, out: &mut Vec<Diagnostic>) {
    let Some(base) = eval_base(text, value_span) else {
        return;
    };
    let Some(rest) = text.get(base..value_span.end) else {
        return;
    };
    let Some(inner) = rest.rfind(')').map(|end| &rest[..end]) else {
        return;
    };
    let lookup = |name: &str| -> Option<eval::Value> {
        names
            .by_name
            .get(name)
            .and_then(|v| super::lower::to_eval_value(&v.value))
    };
    if let Err(err) = eval::parse_eval(inner).and_then(|expr| eval::evaluate(&expr, &lookup)) {
        report_eval_error(text, value_span, err, names, out);
    }
}

fn aliases(recipe: &Recipe, out: &mut Vec<Diagnostic>) {
    // Where each anchor name is first defined: an alias needs one before it.
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (anchor, anchor_span, _) in &recipe.anchors {
        let start = first.entry(anchor.as_str()).or_insert(anchor_span.start);
        *start = (*start).min(anchor_span.start);
    }
    for (name, span) in &recipe.aliases {
        if first
            .get(name.as_str())
            .is_none_or(|&start| start >= span.start)
        {
            out.push(Diagnostic::error(
                "syntax",
                *span,
                format!("`*{name}` refers to no anchor defined before it; define `&{name}` on a value above."),
            ));
        }
    }
}

/// SparseML rewrites `!Name` to `!pytorch.Name` with a regex that skips tags followed by a `.`
/// on the same line, and mangles `!!` tags.
fn tag(text: &str, modifier: &Modifier, out: &mut Vec<Diagnostic>) {
    let line_end = text[modifier.tag_span.end..]
        .find('\n')
        .map_or(text.len(), |i| modifier.tag_span.end + i);
    if text[modifier.tag_span.end..line_end].contains('.') {
        out.push(Diagnostic::error(
            "tag-not-rewritten",
            modifier.tag_span,
            "A `.` later on this line stops SparseML from rewriting the tag, so the modifier fails to load; put the fields (and comments with dots) on the following lines.",
        ));
    }
    if modifier.class.contains('.') {
        out.push(Diagnostic::warning(
            "tag-not-rewritten",
            modifier.tag_span,
            format!(
                "Qualified tags such as `!{}` load only when that framework's classes are registered; write the short `!{}`.",
                modifier.class,
                modifier.class.rsplit('.').next().unwrap_or_default()
            ),
        ));
    }
}

fn unknown_modifier(modifier: &Modifier, options: &CheckOptions, out: &mut Vec<Diagnostic>) {
    let short = modifier.class.rsplit('.').next().unwrap_or(&modifier.class);
    if short != modifier.class && catalog::modifier(short, options.framework).is_some() {
        return; // reported as a qualified tag above
    }
    if let Some((_, _, why)) = catalog::UNREGISTERED
        .iter()
        .find(|(n, f, _)| *n == short && *f == options.framework)
    {
        out.push(Diagnostic::error(
            "unknown-modifier",
            modifier.tag_span,
            format!("`!{short}` {why}; use another modifier."),
        ));
        return;
    }
    let names = catalog::modifiers(options.framework).map(|m| m.name);
    let mut diagnostic = Diagnostic::error(
        "unknown-modifier",
        modifier.tag_span,
        format!(
            "`!{}` is not a SparseML {} modifier; check the class name.",
            modifier.class, options.framework
        ),
    );
    if let Some(suggestion) = suggest::did_you_mean(short, names) {
        diagnostic.message = format!(
            "`!{}` is not a SparseML modifier; did you mean `!{suggestion}`?",
            modifier.class
        );
        diagnostic = diagnostic.with_fix(
            format!("Change to !{suggestion}"),
            modifier.tag_span,
            format!("!{suggestion}"),
        );
    }
    out.push(diagnostic);
}

fn fields(text: &str, modifier: &Modifier, spec: &ModifierSpec, out: &mut Vec<Diagnostic>) {
    for field in &modifier.fields {
        match spec.fields.iter().find(|f| f.name == field.name) {
            Some(field_spec) => {
                // SparseML warns only when the field is set: a `False` (as its own saved
                // recipes write) is quiet.
                if let Some(why) = field_spec.deprecated
                    && !matches!(field.value.effective(), Some(Value::Bool(false)))
                {
                    out.push(Diagnostic::warning(
                        "deprecated",
                        field.key_span,
                        format!("`{}` is deprecated: {why}", field.name),
                    ));
                }
                value(field, field_spec, out)
            }
            None if spec.accepts_unknown_fields => {}
            // Common in real recipes and harmless: a hint, not a warning on every modifier.
            None if catalog::SILENTLY_DROPPED_FIELDS.contains(&field.name.as_str()) => {
                out.push(Diagnostic::new(
                    "unknown-field",
                    Severity::Hint,
                    field.key_span,
                    format!("SparseML drops `{}`; it has no effect.", field.name),
                ))
            }
            None => {
                let names = spec.fields.iter().map(|f| f.name);
                let mut d = Diagnostic::error(
                    "unknown-field",
                    field.key_span,
                    format!("{} has no field `{}`.", spec.name, field.name),
                );
                if let Some(suggestion) = suggest::did_you_mean(&field.name, names) {
                    d.message = format!(
                        "{} has no field `{}`; did you mean `{suggestion}`?",
                        spec.name, field.name
                    );
                    d = d.with_fix(
                        format!("Rename to {suggestion}"),
                        field.key_span,
                        suggestion,
                    );
                }
                out.push(d);
            }
        }
    }
    let missing: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| f.required && modifier.field(f.name).is_none())
        .map(|f| f.name)
        .collect();
    if let Some(mut d) = missing_fields(modifier, spec.name, &missing) {
        // Insert the missing fields after the last field (or after the tag), at the same indent.
        let (at, indent) = match modifier.fields.last() {
            Some(last) => (
                line_end(text, last.value_span.end),
                indent_of(text, last.key_span.start),
            ),
            None => (
                line_end(text, modifier.tag_span.end),
                indent_of(text, modifier.tag_span.start) + 4,
            ),
        };
        let insertion: String = missing
            .iter()
            .map(|m| format!("\n{}{m}: ", " ".repeat(indent)))
            .collect();
        d = d.with_fix(
            "Add the missing fields",
            Span { start: at, end: at },
            insertion,
        );
        out.push(d);
    }
}

/// The error for a modifier that lacks required fields (on its tag), `None` when it lacks none.
pub(super) fn missing_fields(
    modifier: &Modifier,
    class: &str,
    missing: &[&str],
) -> Option<Diagnostic> {
    if missing.is_empty() {
        return None;
    }
    let list = missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Diagnostic::error(
        "missing-field",
        modifier.tag_span,
        format!(
            "{class} needs {list}; add {}.",
            if missing.len() == 1 { "it" } else { "them" }
        ),
    ))
}

fn line_end(text: &str, offset: usize) -> usize {
    text[offset..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| offset + i)
}

fn indent_of(text: &str, offset: usize) -> usize {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[start..offset]
        .chars()
        .take_while(|c| *c == ' ' || *c == '-')
        .count()
}

/// What a field's value must be, with the YAML 1.1 reading checked against it.
pub(super) fn value(field: &Field, spec: &catalog::Field, out: &mut Vec<Diagnostic>) {
    if let Value::Eval { value: None, .. } = &field.value {
        return; // `check` reports why the expression failed, at the expression
    }
    if let Some(trap) = yaml11_trap(field, spec) {
        out.push(trap);
        return;
    }
    let Some(effective) = field.value.effective() else {
        return;
    };
    let is_str = |v: &Value| matches!(v, Value::Str(_));
    let strict = spec.type_check == TypeCheck::Strict;
    let type_ok = match (&spec.ty, effective) {
        (_, Value::Null) => !spec.required || matches!(spec.ty, FieldType::Any),
        (FieldType::Any, _) => true,
        // Python does not check annotations: ints pass for floats unless SparseML's own
        // validation demands a real float (sparsities), and some fields cast strings.
        (
            FieldType::Float
            | FieldType::FloatOrList
            | FieldType::FloatOrListOrDict
            | FieldType::FloatOrDict
            | FieldType::FloatOrFromParam,
            Value::Int(_),
        ) => !strict,
        (FieldType::Float, Value::Float(_)) => true,
        (FieldType::Float, Value::Str(_)) => spec.type_check == TypeCheck::CastFromStr,
        (FieldType::Int, Value::Int(_)) => true,
        (FieldType::Int, Value::Float(f)) => f.fract() == 0.0 && !strict,
        (FieldType::Bool, Value::Bool(_)) => true,
        // Python tests such a flag for truth: 0 and 1 work as False and True.
        (FieldType::Bool, Value::Int(0 | 1)) => !strict,
        (FieldType::Str, Value::Str(_)) => true,
        (FieldType::StrOrList, Value::Str(_) | Value::List(_)) => true,
        (FieldType::FloatOrList, Value::Float(_) | Value::List(_)) => true,
        (FieldType::FloatOrListOrDict, Value::Float(_) | Value::List(_) | Value::Map(_)) => true,
        (FieldType::FloatOrDict, Value::Float(_) | Value::Map(_)) => true,
        (FieldType::FloatOrFromParam, Value::Float(_)) => true,
        (FieldType::FloatOrFromParam, Value::Str(s)) => s == catalog::FROM_PARAM,
        (FieldType::IntOrDict, Value::Int(_) | Value::Map(_)) => true,
        (FieldType::StrOrInt, Value::Str(_) | Value::Int(_)) => true,
        (FieldType::MaskType, Value::Str(_) | Value::List(_)) => true,
        (FieldType::StrOrListInt, Value::Str(_) | Value::List(_)) => true,
        (
            FieldType::ListInt
            | FieldType::ListFloat
            | FieldType::ListStr
            | FieldType::List
            | FieldType::ListListStr,
            Value::List(_),
        ) => true,
        (FieldType::Dict | FieldType::DictStrListStr, Value::Map(_)) => true,
        (FieldType::Scheme | FieldType::SchemeMap, Value::Map(_)) => true,
        (FieldType::Scheme, v) => is_str(v),
        _ => false,
    };
    if !type_ok {
        let mut d = Diagnostic::error(
            "type",
            field.value_span,
            format!(
                "`{}` must be {}, not {}.",
                spec.name,
                type_words(&spec.ty),
                field.value.type_name()
            ),
        );
        if let (Value::Int(i), true) = (effective, strict) {
            d.message = format!(
                "`{}` must be a float: SparseML rejects the integer {i}; write {i}.0.",
                spec.name
            );
            d = d.with_fix(format!("Write {i}.0"), field.value_span, format!("{i}.0"));
        }
        out.push(d);
        return;
    }
    range_and_enum(field, spec, out);
}

fn type_words(ty: &FieldType) -> String {
    let words = ty.describe();
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    if words.contains(' ') || words.starts_with(['{', '"']) {
        words.to_string()
    } else {
        format!("{article} {words}")
    }
}

/// Where PyYAML (YAML 1.1) reads a plain scalar differently from what the author meant.
fn yaml11_trap(field: &Field, spec: &catalog::Field) -> Option<Diagnostic> {
    let raw = field.plain.as_deref()?;
    let (old, new) = (
        yaml11::resolve_plain(raw),
        yaml11::resolve_plain_yaml12(raw),
    );
    let wants_number = matches!(
        spec.ty,
        FieldType::Float
            | FieldType::Int
            | FieldType::FloatOrList
            | FieldType::FloatOrListOrDict
            | FieldType::FloatOrDict
            | FieldType::FloatOrFromParam
    );
    let wants_string = matches!(
        spec.ty,
        FieldType::Str | FieldType::StrOrList | FieldType::MaskType | FieldType::Scheme
    );
    match (&old, &new) {
        (Yaml11::Str, Yaml11::Float(_)) if wants_number => {
            let fixed = float_with_dot(raw);
            // Learning-rate fields cast strings to float, so there it only misleads other tools.
            let casts = spec.type_check == TypeCheck::CastFromStr;
            let consequence = if casts { "SparseML casts it back here, but other tools read it differently" } else { "SparseML rejects it" };
            Some(
                Diagnostic::new(
                    "yaml11-trap",
                    if casts { Severity::Warning } else { Severity::Error },
                    field.value_span,
                    format!("SparseML's YAML 1.1 reader loads `{raw}` as a string, not a number ({consequence}); write `{fixed}` (a dot and a signed exponent)."),
                )
                .with_fix(format!("Write {fixed}"), field.value_span, fixed),
            )
        }
        (Yaml11::Int(i), Yaml11::Str) if raw.contains(':') => Some(
            Diagnostic::new(
                "yaml11-trap",
                if wants_string { Severity::Error } else { Severity::Warning },
                field.value_span,
                format!("YAML 1.1 reads `{raw}` as the base-60 integer {i}; quote it: \"{raw}\"."),
            )
            .with_fix(format!("Quote \"{raw}\""), field.value_span, format!("\"{raw}\"")),
        ),
        (Yaml11::Bool(b), Yaml11::Str) if !matches!(spec.ty, FieldType::Bool) => Some(
            Diagnostic::warning(
                "yaml11-trap",
                field.value_span,
                format!("YAML 1.1 reads `{raw}` as the boolean {b}; quote it if you meant the text: \"{raw}\"."),
            )
            .with_fix(format!("Quote \"{raw}\""), field.value_span, format!("\"{raw}\"")),
        ),
        (Yaml11::Bool(b), Yaml11::Str) => Some(
            Diagnostic::warning(
                "yaml11-trap",
                field.value_span,
                format!("`{raw}` is {b} for SparseML (YAML 1.1) but a string for YAML 1.2 tools; write `{}`.", if *b { "true" } else { "false" }),
            )
            .with_fix(format!("Write {}", if *b { "true" } else { "false" }), field.value_span, if *b { "true" } else { "false" }),
        ),
        (Yaml11::Int(a), Yaml11::Int(b)) if a != b => Some(Diagnostic::warning(
            "yaml11-trap",
            field.value_span,
            format!("YAML 1.1 reads `{raw}` as the octal number {a}, YAML 1.2 tools as {b}; write the number without a leading 0."),
        )),
        (Yaml11::Str, Yaml11::Int(_)) if wants_number => Some(Diagnostic::error(
            "yaml11-trap",
            field.value_span,
            format!("SparseML's YAML 1.1 reader loads `{raw}` as a string, not a number; write it in decimal."),
        )),
        _ => None,
    }
}

/// `1e-7` → `1.0e-7`: the form both YAML versions read as a float.
fn float_with_dot(raw: &str) -> String {
    let (sign, rest) = match raw.strip_prefix(['-', '+']) {
        Some(rest) => (&raw[..1], rest),
        None => ("", raw),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (rest, None),
    };
    let mantissa = if mantissa.starts_with('.') {
        format!("0{mantissa}")
    } else {
        mantissa.to_string()
    };
    let mantissa = if mantissa.contains('.') {
        mantissa
    } else {
        format!("{mantissa}.0")
    };
    match exponent {
        Some(e) if e.starts_with(['-', '+']) => format!("{sign}{mantissa}e{e}"),
        Some(e) => format!("{sign}{mantissa}e+{e}"),
        None => format!("{sign}{mantissa}"),
    }
}

fn range_and_enum(field: &Field, spec: &catalog::Field, out: &mut Vec<Diagnostic>) {
    let Some(effective) = field.value.effective() else {
        return;
    };
    // `params` tokens have their own rule (params-token), scheme aliases theirs (quantization).
    if !spec.enum_values.is_empty()
        && spec.name != "params"
        && spec.ty != FieldType::Scheme
        && let Value::Str(s) = effective
        && !spec.enum_values.contains(&s.as_str())
        && !(spec.lowercased && spec.enum_values.contains(&s.to_lowercase().as_str()))
    {
        let mut d = Diagnostic::error(
            "enum",
            field.value_span,
            format!(
                "`{s}` is not a valid {}; use one of {}.",
                spec.name,
                spec.enum_values.join(", ")
            ),
        );
        if let Some(suggestion) = suggest::did_you_mean(s, spec.enum_values.iter().copied()) {
            d = d.with_fix(
                format!("Change to {suggestion}"),
                field.value_span,
                suggestion,
            );
        }
        out.push(d);
    }
    let Some(range) = &spec.range else { return };
    let values: Vec<(f64, Span)> = match effective {
        Value::List(items) => items
            .iter()
            .filter_map(|(v, s)| Some((v.as_f64()?, *s)))
            .collect(),
        Value::Map(entries) => entries
            .iter()
            .filter_map(|e| Some((e.key.parse::<f64>().ok()?, e.span)))
            .collect(),
        v => v
            .as_f64()
            .map(|x| vec![(x, field.value_span)])
            .unwrap_or_default(),
    };
    for (x, span) in values {
        if !range.contains(x) {
            out.push(Diagnostic::error(
                "range",
                span,
                format!(
                    "`{}` is {x}, outside {range}; {}",
                    spec.name,
                    range_hint(spec.name)
                ),
            ));
        }
    }
}

fn range_hint(field: &str) -> &'static str {
    match field {
        "final_sparsity" => "a sparsity of 1.0 would remove every weight: use at most 0.99.",
        "init_sparsity" => "start from 0.0 (dense) up to 1.0.",
        _ => "bring it inside the range.",
    }
}

fn schedule(modifier: &Modifier, spec: &ModifierSpec, out: &mut Vec<Diagnostic>) {
    let start = modifier.number("start_epoch");
    let end = modifier.number("end_epoch");
    let span_of = |name: &str| {
        modifier
            .field(name)
            .map_or(modifier.tag_span, |f| f.value_span)
    };
    if let Some(s) = start
        && s < -1.0
    {
        out.push(Diagnostic::error(
            "schedule",
            span_of("start_epoch"),
            format!("start_epoch {s} is below -1; use -1 (start immediately) or a later epoch."),
        ));
    }
    if let Some(e) = end
        && e < spec.min_end
    {
        out.push(Diagnostic::error(
            "schedule",
            span_of("end_epoch"),
            format!(
                "end_epoch {e} is below {} for {}; give a later epoch.",
                spec.min_end, spec.name
            ),
        ));
    }
    if let (Some(s), Some(e)) = (start.or(Some(-1.0)), end.or(Some(-1.0))) {
        let problem = match spec.end_comparator {
            EndComparator::MinusOne if e != -1.0 && e < s => {
                Some("greater than or equal to start_epoch, or -1 (never ends)")
            }
            EndComparator::Zero if e < s => {
                Some("greater than or equal to start_epoch (-1 is not special for this class)")
            }
            EndComparator::One if e <= s => Some("greater than start_epoch"),
            _ => None,
        };
        if let Some(rule) = problem
            && (modifier.field("end_epoch").is_some() || modifier.field("start_epoch").is_some())
        {
            out.push(Diagnostic::error(
                "schedule",
                span_of("end_epoch"),
                format!("end_epoch {e} must be {rule} (start_epoch is {s}) for {}; swap them or move the end.", spec.name),
            ));
        }
    }
    if spec.is_pruning && spec.fields.iter().any(|f| f.name == "init_sparsity") {
        gradual(modifier, &span_of, out);
    }
    if spec.is_pruning
        && let Some(f) = modifier.number("update_frequency")
    {
        let range = match (start, end) {
            (Some(s), Some(e)) if e > s => Some(e - s),
            _ => None,
        };
        if f <= 0.0 && f != -1.0 {
            out.push(Diagnostic::warning(
                "schedule",
                span_of("update_frequency"),
                format!("update_frequency {f} never advances the pruning; use a positive number of epochs between steps (e.g. 0.5)."),
            ));
        } else if let Some(r) = range
            && f > r
        {
            out.push(Diagnostic::warning(
                "schedule",
                span_of("update_frequency"),
                format!("update_frequency {f} is longer than the pruning range of {r} epochs, so sparsity jumps in one step; use a smaller value."),
            ));
        }
    }
}

/// A gradual pruning modifier whose schedule SparseML runs other than it reads: a range of no
/// length (one prune at that epoch), or a sparsity that falls.
fn gradual(modifier: &Modifier, span_of: &dyn Fn(&str) -> Span, out: &mut Vec<Diagnostic>) {
    if let (Some(s), Some(e)) = (modifier.number("start_epoch"), modifier.number("end_epoch"))
        && e == s
        && s >= 0.0
    {
        out.push(Diagnostic::warning(
            "schedule",
            span_of("end_epoch"),
            format!("end_epoch equals start_epoch ({e}), so SparseML prunes to final_sparsity in one step at that epoch, not gradually; give a later end_epoch."),
        ));
    }
    if let (Some(init), Some(last)) = (
        modifier.number("init_sparsity"),
        modifier.number("final_sparsity"),
    ) && last < init
    {
        out.push(Diagnostic::warning(
            "range",
            span_of("final_sparsity"),
            format!("final_sparsity {last} is below init_sparsity {init}: pruned weights do not grow back, so the sparsity cannot fall; swap them."),
        ));
    }
}

const TOKENS: &[&str] = &["__ALL__", "__ALL_PRUNABLE__"];

fn params(modifier: &Modifier, model: Option<&ModelContext>, out: &mut Vec<Diagnostic>) {
    let Some(field) = modifier.field("params") else {
        return;
    };
    if let Some(Value::Str(s)) = field.value.effective() {
        let upper = s.to_uppercase();
        if !TOKENS.contains(&upper.as_str()) {
            out.push(
                Diagnostic::error(
                    "params-token",
                    field.value_span,
                    format!("A bare string in `params` must be __ALL__ or __ALL_PRUNABLE__; put `{s}` in a list: [{s}]."),
                )
                .with_fix("Put it in a list", field.value_span, format!("['{s}']")),
            );
            return;
        }
    }
    for (entry, span) in modifier.params() {
        if TOKENS.contains(&entry.as_str()) || TOKENS.contains(&entry.to_uppercase().as_str()) {
            continue;
        }
        if let Some(pattern) = entry.strip_prefix("re:") {
            regex_param(pattern, span, model, out);
            continue;
        }
        let Some(model) = model else { continue };
        if is_generated_name(&entry) {
            out.push(Diagnostic::warning(
                "param-generated-name",
                span,
                format!("`{entry}` looks like an exporter's generated name; it will not match the PyTorch model. Export with names preserved."),
            ));
        }
        match model.weight(&entry) {
            Some(w) if w.is_prunable => {}
            Some(w) => out.push(Diagnostic::warning(
                "unknown-param",
                span,
                format!(
                    "`{entry}` is in {} but is not prunable: {}.",
                    model.name,
                    w.reason
                        .as_deref()
                        .unwrap_or("its layer has no prunable weight")
                ),
            )),
            None => {
                let severity = if model.has_generated_names {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                let mut d = Diagnostic::new(
                    "unknown-param",
                    severity,
                    span,
                    format!("{} has no prunable weight `{entry}`.", model.name),
                );
                if let Some(s) =
                    suggest::did_you_mean(&entry, model.prunable().map(|w| w.name.as_str()))
                {
                    d.message = format!(
                        "{} has no prunable weight `{entry}`; did you mean `{s}`?",
                        model.name
                    );
                    let quote = if span.len() > entry.len() { "'" } else { "" };
                    d = d.with_fix(format!("Change to {s}"), span, format!("{quote}{s}{quote}"));
                }
                out.push(d);
            }
        }
    }
}

fn regex_param(pattern: &str, span: Span, model: Option<&ModelContext>, out: &mut Vec<Diagnostic>) {
    let re = match python_match(pattern) {
        Ok(re) => re,
        Err(err) => {
            let first = err
                .lines()
                .last()
                .unwrap_or("invalid pattern")
                .trim()
                .to_string();
            out.push(Diagnostic::error(
                "regex",
                span,
                format!("`re:{pattern}` is not a valid regular expression ({first}); fix the pattern (Python `re` syntax)."),
            ));
            return;
        }
    };
    let Some(model) = model else { return };
    if !model.prunable().any(|w| re.is_match(&w.name)) {
        out.push(Diagnostic::error(
            "unknown-param",
            span,
            format!("`re:{pattern}` matches no prunable weight of {} (patterns match from the start of the name, as Python's re.match does; add `.*` in front to match anywhere).", model.name),
        ));
    }
}

/// The sparsity from which pruning a highly sensitive layer gets a hint.
const SENSITIVE_SPARSITY: f64 = 0.8;

/// A weight whose measured loss sensitivity is above the mean plus one standard deviation of the
/// model's (the top tier of SparseML's `TieredPruningRecipeEditor`), pruned to `SENSITIVE_SPARSITY`
/// or more. Only with a measured loss profile: the approximation from shapes is too crude to
/// advise on.
fn sensitivity(modifier: &Modifier, model: Option<&ModelContext>, out: &mut Vec<Diagnostic>) {
    let (Some(model), Some(final_sparsity)) = (model, modifier.number("final_sparsity")) else {
        return;
    };
    let Some(source) = &model.sensitivity_source else {
        return;
    };
    if final_sparsity < SENSITIVE_SPARSITY {
        return;
    }
    let values: Vec<f64> = model.prunable().filter_map(|w| w.sensitivity).collect();
    if values.len() < 2 {
        return;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
    for (entry, span) in modifier.params() {
        let Some(w) = model.weight(&entry) else {
            continue;
        };
        let (Some(value), Some(rank)) = (w.sensitivity, w.sensitivity_rank) else {
            continue;
        };
        if value > mean + sd {
            out.push(Diagnostic::new(
                "sensitivity",
                Severity::Hint,
                span,
                format!(
                    "`{entry}` is among the most sensitive layers (rank {rank} of {}, sensitivity {value:.3} against a mean of {mean:.3}, from the {source}); pruning it to {final_sparsity} may cost accuracy: consider about {:.2} for it in a modifier of its own.",
                    values.len(),
                    final_sparsity * 0.8
                ),
            ));
        }
    }
}

/// Overlap warnings given at most: a recipe that prunes one weight in many modifiers would
/// otherwise get one for every pair of them (1,600 modifiers: over a million).
pub const MAX_OVERLAPS: usize = 100;

/// Earlier modifiers a `param-overlap` warning points at, at most.
const MAX_RELATED: usize = 10;

/// The same weight pruned by modifiers whose epochs overlap: one warning on each later entry
/// that names it, pointing at the earlier modifiers' entries (up to [`MAX_RELATED`]); at most
/// [`MAX_OVERLAPS`] warnings, then one saying that there are more.
fn overlaps(recipe: &Recipe, out: &mut Vec<Diagnostic>) {
    let pruning: Vec<&Modifier> = recipe
        .modifiers
        .iter()
        .filter(|m| m.class.contains("Pruning") && m.class != "ConstantPruningModifier")
        .collect();
    let range = |m: &Modifier| {
        let start = m.number("start_epoch").unwrap_or(-1.0);
        let end = m
            .number("end_epoch")
            .filter(|&e| e >= 0.0)
            .unwrap_or(f64::INFINITY);
        (start.max(0.0), end)
    };
    let params: Vec<Vec<(String, Span)>> = pruning.iter().map(|m| m.params()).collect();
    // For each stage and weight name, the earlier modifiers that prune it: their epochs and the
    // first entry that names it.
    type Earlier = Vec<((f64, f64), Span)>;
    let mut earlier: HashMap<(Option<&str>, &str), Earlier> = HashMap::new();
    let mut given = 0;
    for (m, entries) in pruning.iter().zip(&params) {
        let stage = m.stage.as_deref();
        let (sb, eb) = range(m);
        for (name, span) in entries {
            if name.starts_with("re:") || name.starts_with("__") {
                continue;
            }
            let Some(before) = earlier.get(&(stage, name.as_str())) else {
                continue;
            };
            let overlapping: Vec<Span> = before
                .iter()
                .filter(|((sa, ea), _)| !(*sa >= eb || sb >= *ea))
                .map(|(_, first)| *first)
                .collect();
            if overlapping.is_empty() {
                continue;
            }
            if given == MAX_OVERLAPS {
                out.push(Diagnostic::warning(
                    "param-overlap",
                    *span,
                    format!("More than {MAX_OVERLAPS} entries name a weight that an earlier modifier with overlapping epochs also prunes, so the rest are not listed; fix these and check again."),
                ));
                return;
            }
            given += 1;
            let others = match overlapping.len() {
                1 => "an earlier modifier whose epochs overlap".to_string(),
                n => format!("{n} earlier modifiers whose epochs overlap"),
            };
            let mut diagnostic = Diagnostic::warning(
                "param-overlap",
                *span,
                format!("`{name}` is also pruned by {others}; give it to one of them."),
            );
            for first in overlapping.iter().take(MAX_RELATED) {
                diagnostic = diagnostic.with_related(*first, "also pruned here");
            }
            out.push(diagnostic);
        }
        // A modifier's first entry of a name is the one later modifiers point at.
        let mut named: HashSet<&str> = HashSet::new();
        for (name, span) in entries {
            if named.insert(name.as_str()) {
                earlier
                    .entry((stage, name.as_str()))
                    .or_default()
                    .push(((sb, eb), *span));
            }
        }
    }
}

/// Modifiers that start or end outside the EpochRangeModifier's span never get those epochs.
fn epoch_range(recipe: &Recipe, out: &mut Vec<Diagnostic>) {
    let Some(range) = recipe
        .modifiers
        .iter()
        .find(|m| m.class == "EpochRangeModifier")
    else {
        return;
    };
    let (Some(start), Some(end)) = (range.number("start_epoch"), range.number("end_epoch")) else {
        return;
    };
    for m in &recipe.modifiers {
        if std::ptr::eq(m, range) || m.stage != range.stage {
            continue;
        }
        if let Some(e) = m.number("end_epoch")
            && e > end
        {
            let span = m.field("end_epoch").map_or(m.tag_span, |f| f.value_span);
            out.push(
                Diagnostic::warning(
                    "epoch-range",
                    span,
                    format!("end_epoch {e} is after the recipe's EpochRangeModifier ends ({end}); training stops first. Extend the range or end earlier."),
                )
                .with_related(range.tag_span, "the epoch range"),
            );
        }
        if let Some(s) = m.number("start_epoch")
            && s >= 0.0
            && s < start
        {
            let span = m.field("start_epoch").map_or(m.tag_span, |f| f.value_span);
            out.push(Diagnostic::warning(
                "epoch-range",
                span,
                format!("start_epoch {s} is before the EpochRangeModifier starts ({start})."),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_OVERLAPS, float_with_dot};
    use crate::recipe::{CheckOptions, Diagnostic, check};

    fn gmp(params: &str, start: f64, end: f64) -> String {
        format!(
            "  - !GMPruningModifier\n    params: [{params}]\n    init_sparsity: 0.05\n    final_sparsity: 0.8\n    start_epoch: {start:.1}\n    end_epoch: {end:.1}\n    update_frequency: 1.0\n"
        )
    }

    fn overlaps(text: &str) -> Vec<Diagnostic> {
        check(text, &CheckOptions::default())
            .diagnostics
            .into_iter()
            .filter(|d| d.code == "param-overlap")
            .collect()
    }

    #[test]
    fn each_overlapping_entry_is_given_once_naming_the_others() {
        let text = format!(
            "modifiers:\n{}{}{}{}",
            gmp("a.weight, b.weight", 0.0, 10.0),
            gmp("a.weight", 5.0, 15.0),
            gmp("c.weight, a.weight", 8.0, 9.0),
            gmp("a.weight", 20.0, 30.0),
        );
        let found = overlaps(&text);
        // The second modifier overlaps the first; the third both (one warning); the fourth none.
        assert_eq!(found.len(), 2, "{found:?}");
        let first = text.find("a.weight").unwrap();
        let second = text[first + 1..].find("a.weight").unwrap() + first + 1;
        assert_eq!(found[0].span.start, second);
        assert_eq!(found[0].related.len(), 1);
        assert_eq!(found[0].related[0].span.start, first);
        let related: Vec<usize> = found[1].related.iter().map(|r| r.span.start).collect();
        assert_eq!(related, [first, second]);
        assert!(
            found[1].message.contains("2 earlier modifiers"),
            "{}",
            found[1].message
        );
        assert!(found.iter().all(|d| d.span.text(&text) == "a.weight"));
    }

    /// 1,600 modifiers of the same weight: over a million overlapping pairs, of which the first
    /// ones are given and then one warning that there are more.
    #[test]
    fn an_overlap_storm_is_capped() {
        let text = format!(
            "modifiers:\n{}",
            gmp("a.weight, b.weight", 0.0, 10.0).repeat(1600)
        );
        let found = overlaps(&text);
        assert_eq!(found.len(), MAX_OVERLAPS + 1);
        assert!(
            found
                .last()
                .unwrap()
                .message
                .contains("the rest are not listed")
        );
    }

    #[test]
    fn floats_get_a_dot_and_a_signed_exponent() {
        assert_eq!(float_with_dot("1e-7"), "1.0e-7");
        assert_eq!(float_with_dot("5e3"), "5.0e+3");
        assert_eq!(float_with_dot("-.5"), "-0.5");
        assert_eq!(float_with_dot("1.5e3"), "1.5e+3");
    }
}
