//! The semantic layer: the span tree of `yaml.rs` lowered to a typed recipe (variables, stages,
//! modifiers and their fields), with every plain scalar re-read the way PyYAML (YAML 1.1) reads it
//! and `eval()` values evaluated against the variables. Lowering never stops at the first problem:
//! it collects layout problems as diagnostics and keeps going, so the editor always has a recipe.

use std::collections::HashMap;

use super::diagnostic::Diagnostic;
use super::eval;
use super::span::Span;
use super::yaml::{Node, NodeKind, ScalarStyle, YamlDocument};
use super::yaml11::{self, Yaml11};

mod staged;

/// A value as SparseML would receive it, with `eval()` and aliases resolved where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<(Value, Span)>),
    Map(Vec<Entry>),
    /// `eval(...)`: its text, and its value when it could be computed.
    Eval {
        text: String,
        value: Option<Box<Value>>,
    },
    /// `*name`: the anchor, and the anchored value when it is known.
    Alias {
        name: String,
        value: Option<Box<Value>>,
    },
}

/// One `key: value` of a mapping value, with both spans: rules about nested keys (a quantization
/// scheme's) point at the key, rules about values at the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
    pub span: Span,
}

impl Value {
    /// The value with `eval()` and aliases looked through.
    pub fn effective(&self) -> Option<&Value> {
        match self {
            Value::Eval { value, .. } | Value::Alias { value, .. } => {
                value.as_deref().and_then(Value::effective)
            }
            other => Some(other),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.effective()? {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.effective() {
            None => "an expression prunekit could not evaluate",
            Some(Value::Null) => "null",
            Some(Value::Bool(_)) => "a boolean",
            Some(Value::Int(_)) => "an integer",
            Some(Value::Float(_)) => "a float",
            Some(Value::Str(_)) => "a string",
            Some(Value::List(_)) => "a list",
            Some(Value::Map(_)) => "a mapping",
            Some(Value::Eval { .. } | Value::Alias { .. }) => "an expression",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub key_span: Span,
    pub value_span: Span,
    pub value: Value,
    /// The plain scalar's source text, for YAML 1.1 checks (`None` for quoted or nested values).
    pub plain: Option<String>,
}

/// How a recipe writes its modifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// SparseML's legacy recipes: `- !ClassName` items in lists under `*modifiers*` keys.
    #[default]
    Tagged,
    /// The staged format of SparseML 1.7's `sparseml.core` and of llm-compressor:
    /// `<name>_stage: {<group>_modifiers: {ClassName: {args}}}`, without tags.
    Staged,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Modifier {
    /// The class name from the tag, without `!` (in the staged layout, the class key).
    pub class: String,
    /// The tag (in the staged layout, the class key).
    pub tag_span: Span,
    /// The whole list item (in the staged layout, the class key and its arguments).
    pub span: Span,
    pub layout: Layout,
    /// The group key it is listed under (`modifiers`, `pruning_modifiers`, ...).
    pub group: String,
    pub stage: Option<String>,
    pub fields: Vec<Field>,
}

impl Modifier {
    pub fn field(&self, name: &str) -> Option<&Field> {
        // PyYAML keeps the last of duplicate keys.
        self.fields.iter().rev().find(|f| f.name == name)
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        self.field(name).and_then(|f| f.value.as_f64())
    }

    /// Entries of `params`: each name or pattern with its span (a bare string is one entry).
    pub fn params(&self) -> Vec<(String, Span)> {
        self.strings("params")
    }

    /// The strings of a name-list field (`params`, `ignore`), each with its span; nested lists
    /// are flattened and a bare string is one entry.
    pub fn strings(&self, name: &str) -> Vec<(String, Span)> {
        let Some(field) = self.field(name) else {
            return Vec::new();
        };
        match field.value.effective() {
            Some(Value::Str(s)) => vec![(s.clone(), field.value_span)],
            Some(Value::List(items)) => {
                let mut out = Vec::new();
                flatten_strings(items, &mut out);
                out
            }
            _ => Vec::new(),
        }
    }
}

/// A `re:` entry as SparseML matches it: Python's `re.match`, anchored at the start only.
pub fn python_match(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(&format!("^(?:{pattern})")).map_err(|e| e.to_string())
}

impl Modifier {
    /// Whether this modifier's `params` select the weight `name`: an exact name, a `re:` pattern,
    /// or one of the `__ALL__` / `__ALL_PRUNABLE__` tokens.
    pub fn selects(&self, name: &str) -> bool {
        self.params()
            .iter()
            .any(|(entry, _)| match entry.strip_prefix("re:") {
                Some(pattern) => python_match(pattern).is_ok_and(|re| re.is_match(name)),
                None => {
                    entry == name
                        || entry.eq_ignore_ascii_case("__ALL_PRUNABLE__")
                        || entry.eq_ignore_ascii_case("__ALL__")
                }
            })
    }
}

fn flatten_strings(items: &[(Value, Span)], out: &mut Vec<(String, Span)>) {
    for (value, span) in items {
        match value.effective() {
            Some(Value::Str(s)) => out.push((s.clone(), *span)),
            Some(Value::List(inner)) => flatten_strings(inner, out),
            _ => {}
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub key_span: Span,
    pub value_span: Span,
    pub value: Value,
    pub stage: Option<String>,
    /// The anchor defined on the value (`num_epochs: &num_epochs 10`).
    pub anchor: Option<(String, Span)>,
    /// Why its `eval()` could not be resolved (a cycle, an unknown name, a type error); spans are
    /// relative to the text inside `eval(...)`.
    pub eval_error: Option<eval::EvalError>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recipe {
    pub variables: Vec<Variable>,
    pub modifiers: Vec<Modifier>,
    /// Stage names with the span of their key.
    pub stages: Vec<(String, Span)>,
    /// Anchors defined anywhere: name, span of `&name`, and the anchored value's span.
    pub anchors: Vec<(String, Span, Span)>,
    /// Aliases used anywhere: name and the span of `*name`.
    pub aliases: Vec<(String, Span)>,
    pub layout: Layout,
    /// Staged layout: what only SparseML 1.7 reads (`run_type`, stage `args`, top-level groups,
    /// `stages:`), each with its key's span. The rules take it as a sign of the recipe's tool.
    pub sparseml_only_keys: Vec<(String, Span)>,
}

/// Keys that are neither groups, stages nor variables.
const RESERVED_KEYS: &[&str] = &["__metadata__", "version"];

fn is_group_key(key: &str) -> bool {
    key.contains("modifiers")
}

/// A local `!Class` tag: what SparseML turns into a modifier (`!!` tags are YAML core tags).
fn is_modifier_tag(node: &Node) -> bool {
    node.tag.as_ref().is_some_and(|t| t.handle == "!")
}

fn scalar(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Scalar { value, .. } => Some(value),
        _ => None,
    }
}

/// The fewest values that anchors, aliases and `eval(name)` substitutions may copy, however
/// short the recipe: far above what real recipes use (an anchored list of a few hundred names
/// used in a few dozen modifiers).
pub const MIN_EXPANSION: usize = 100_000;

/// How many values anchors, aliases and `eval(name)` substitutions may copy in a recipe of
/// `text_len` bytes: one per byte, at least [`MIN_EXPANSION`]. A list of aliases of a list of
/// aliases multiplies the values with every line (YAML's "billion laughs"), so without a bound a
/// short recipe could take all memory and minutes; with it, lowering stays linear in the text.
pub fn expansion_limit(text_len: usize) -> usize {
    text_len.max(MIN_EXPANSION)
}

/// What is left of the recipe's expansion limit, and whether its diagnostic was given.
struct Expansion {
    limit: usize,
    left: usize,
    reported: bool,
}

impl Expansion {
    /// Takes `size` values from what is left; false (and nothing taken) when they do not fit.
    fn take(&mut self, size: usize) -> bool {
        match self.left.checked_sub(size) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

struct Lowering<'t> {
    text: &'t str,
    recipe: Recipe,
    diagnostics: Vec<Diagnostic>,
    /// Anchored values by name, the latest definition of a name winning, with their size in
    /// values (`None` when copying it did not fit the expansion limit). YAML requires an anchor
    /// before its aliases, so they are resolved as they are met.
    anchored: HashMap<String, (Option<Value>, usize)>,
    /// The index in `recipe.variables` of the latest variable of each name, and the size of each
    /// variable's value: lookups by name stay constant-time however many keys a recipe has.
    variable_index: HashMap<String, usize>,
    variable_sizes: Vec<usize>,
    expansion: Expansion,
    /// The first definition of each anchor name (a second one is an error).
    anchor_spans: HashMap<String, Span>,
    /// Lowering a modifier's fields, where `eval(name)` of a non-numeric variable substitutes it.
    in_modifier: bool,
}

/// Lowers a parsed document. The variables are evaluated first, so `eval()` in fields sees them.
pub fn lower(text: &str, doc: &YamlDocument) -> (Recipe, Vec<Diagnostic>) {
    let limit = expansion_limit(text.len());
    let mut lowering = Lowering {
        text,
        recipe: Recipe::default(),
        diagnostics: Vec::new(),
        anchored: HashMap::new(),
        variable_index: HashMap::new(),
        variable_sizes: Vec::new(),
        expansion: Expansion {
            limit,
            left: limit,
            reported: false,
        },
        anchor_spans: HashMap::new(),
        in_modifier: false,
    };
    match &doc.root {
        None if doc.error.is_none() => lowering.diagnostics.push(Diagnostic::error(
            "layout",
            Span { start: 0, end: 0 },
            "The recipe is empty; add a `modifiers:` list of `!ModifierClass` entries.",
        )),
        None => {}
        Some(root) => lowering.root(root, doc.is_partial),
    }
    let Lowering {
        recipe,
        diagnostics,
        ..
    } = lowering;
    (recipe, diagnostics)
}

impl Lowering<'_> {
    fn root(&mut self, root: &Node, is_partial: bool) {
        self.collect_anchors(root);
        match &root.kind {
            // A document that is one `!Modifier` (SparseML's Keras and TensorFlow managers load
            // it as a recipe of that modifier).
            _ if is_modifier_tag(root) => self.modifier(root, "(root)", None),
            NodeKind::Mapping { entries, .. } if staged::is_staged(entries) => {
                self.recipe.layout = Layout::Staged;
                self.staged_top_level(entries);
            }
            NodeKind::Mapping { entries, .. } => self.top_level(entries),
            NodeKind::Sequence { items, .. } => {
                for item in items {
                    self.modifier(item, "(root list)", None);
                }
            }
            _ => self.diagnostics.push(Diagnostic::error(
                "layout",
                root.span,
                "A recipe is a mapping with a `modifiers:` list; this document is a single value.",
            )),
        }
        if self.recipe.modifiers.is_empty() && !is_partial {
            let message = match self.recipe.layout {
                Layout::Tagged => {
                    "No modifiers found: list them under a key whose name contains `modifiers`, as `- !GMPruningModifier` items."
                }
                Layout::Staged => {
                    "No modifiers found: write them as `ClassName: {args}` under a `<group>_modifiers:` key inside a `<name>_stage:` key."
                }
            };
            self.diagnostics.push(Diagnostic::error(
                "layout",
                Span {
                    start: root.span.start,
                    end: root.span.start,
                },
                message,
            ));
        }
    }

    /// Anchors, aliases and `!!` tags, anywhere in the document.
    fn collect_anchors(&mut self, node: &Node) {
        if let Some(anchor) = &node.anchor {
            if let Some(&first) = self.anchor_spans.get(&anchor.name) {
                self.diagnostics.push(
                    Diagnostic::error(
                        "duplicate-anchor",
                        anchor.span,
                        format!("`&{}` is defined twice; PyYAML refuses to load the recipe (\"found duplicate anchor\"): rename one of them.", anchor.name),
                    )
                    .with_related(first, "first defined here"),
                );
            } else {
                self.anchor_spans.insert(anchor.name.clone(), anchor.span);
            }
            self.recipe
                .anchors
                .push((anchor.name.clone(), anchor.span, node.span));
        }
        if let Some(tag) = node.tag.as_ref().filter(|t| t.handle == "!!") {
            self.diagnostics.push(Diagnostic::error(
                "core-tag",
                tag.span,
                format!("SparseML rewrites `!!{}` tags and then cannot load them; remove the tag (write floats as 1.0e-7).", tag.suffix),
            ));
        }
        match &node.kind {
            NodeKind::Mapping { entries, .. } => {
                for (k, v) in entries {
                    self.collect_anchors(k);
                    self.collect_anchors(v);
                }
            }
            NodeKind::Sequence { items, .. } => items.iter().for_each(|i| self.collect_anchors(i)),
            NodeKind::Alias { name } => self.recipe.aliases.push((name.clone(), node.span)),
            NodeKind::Scalar { .. } => {}
        }
    }

    fn duplicate_keys(&mut self, entries: &[(Node, Node)]) {
        let mut firsts: HashMap<&str, &Node> = HashMap::new();
        for (key, _) in entries {
            let Some(name) = scalar(key) else { continue };
            let first = *firsts.entry(name).or_insert(key);
            if !std::ptr::eq(first, key) {
                self.diagnostics.push(
                    Diagnostic::warning(
                        "duplicate-key",
                        key.span,
                        format!("`{name}` is given twice; PyYAML keeps only this last one. Remove one of them."),
                    )
                    .with_related(first.span, "first given here"),
                );
            }
        }
    }

    fn top_level(&mut self, entries: &[(Node, Node)]) {
        self.duplicate_keys(entries);
        let has_groups = entries
            .iter()
            .any(|(k, _)| scalar(k).is_some_and(is_group_key));
        // A stage is a key whose value is a mapping with a modifier group in it.
        let is_stage: Vec<bool> = entries
            .iter()
            .map(|(_, v)| match &v.kind {
                NodeKind::Mapping { entries, .. } => entries
                    .iter()
                    .any(|(k, _)| scalar(k).is_some_and(is_group_key)),
                _ => false,
            })
            .collect();
        let stage_keys: Vec<&Node> = entries
            .iter()
            .zip(&is_stage)
            .filter(|(_, stage)| **stage)
            .map(|((k, _), _)| k)
            .collect();
        if has_groups && !stage_keys.is_empty() {
            for key in &stage_keys {
                self.diagnostics.push(Diagnostic::error(
                    "staged-mix",
                    key.span,
                    "This stage sits beside top-level modifier groups; SparseML then drops the stage's modifiers silently. Put every group inside a stage, or none.",
                ));
            }
        }
        // Variables first, so eval() in the modifiers can use them.
        for ((key, value), &is_stage) in entries.iter().zip(&is_stage) {
            let Some(name) = scalar(key) else { continue };
            if is_group_key(name)
                || is_stage
                || RESERVED_KEYS.contains(&name)
                || is_modifier_tag(value)
            {
                continue;
            }
            self.variable(name, key, value, None);
        }
        self.resolve_variables(None);
        for ((key, value), &is_stage) in entries.iter().zip(&is_stage) {
            let Some(name) = scalar(key) else { continue };
            if is_group_key(name) {
                self.group(name, value, None);
            } else if is_stage {
                self.stage(name, key, value);
            } else if is_modifier_tag(value) {
                // A single tagged modifier as the value of any key is accepted.
                self.modifier(value, name, None);
            } else if let NodeKind::Sequence { items, .. } = &value.kind
                && items.iter().any(is_modifier_tag)
            {
                self.diagnostics.push(Diagnostic::error(
                    "layout",
                    key.span,
                    format!("Modifiers listed under `{name}` are not loaded: SparseML only reads lists under keys that contain `modifiers`. Rename it, e.g. `{name}_modifiers`."),
                ));
            }
        }
    }

    fn stage(&mut self, stage: &str, key: &Node, value: &Node) {
        self.recipe.stages.push((stage.to_string(), key.span));
        let NodeKind::Mapping { entries, .. } = &value.kind else {
            return;
        };
        self.duplicate_keys(entries);
        for (k, v) in entries {
            if let Some(name) = scalar(k)
                && !is_group_key(name)
                && !RESERVED_KEYS.contains(&name)
            {
                self.variable(name, k, v, Some(stage));
            }
        }
        self.resolve_variables(Some(stage));
        for (k, v) in entries {
            if let Some(name) = scalar(k)
                && is_group_key(name)
            {
                self.group(name, v, Some(stage));
            }
        }
    }

    /// Resolves the `eval()` variables of the global scope (or of a stage, with the globals
    /// visible) in any order, as SparseML does by repeated passes; cycles and unknown names
    /// become errors on the variables, which `rules.rs` reports.
    fn resolve_variables(&mut self, stage: Option<&str>) {
        let definition = |v: &Variable| match &v.value {
            Value::Eval { text, .. } => eval::Definition::Eval(
                eval::strip_eval(text).map_or(String::new(), |(inner, _)| inner.to_string()),
            ),
            Value::Int(i) => eval::Definition::Literal(eval::Value::Int(*i)),
            Value::Float(f) => eval::Definition::Literal(eval::Value::Float(*f)),
            Value::Bool(b) => eval::Definition::Literal(eval::Value::Bool(*b)),
            Value::Str(s) => eval::Definition::Literal(eval::Value::Str(s.clone())),
            Value::List(_) => eval::Definition::Other("list"),
            Value::Map(_) => eval::Definition::Other("mapping"),
            Value::Null | Value::Alias { .. } => eval::Definition::Other("null"),
        };
        let mut defs: Vec<(String, eval::Definition)> = Vec::new();
        if stage.is_some() {
            defs.extend(
                self.recipe
                    .variables
                    .iter()
                    .filter(|v| v.stage.is_none())
                    .map(|v| (v.name.clone(), definition(v))),
            );
        }
        let in_scope = |v: &Variable| v.stage.as_deref() == stage;
        defs.extend(
            self.recipe
                .variables
                .iter()
                .filter(|v| in_scope(v))
                .map(|v| (v.name.clone(), definition(v))),
        );
        let results = eval::resolve_all(&defs);
        // The last result of a name wins, as the last definition does.
        let results: HashMap<&str, &Result<eval::Value, eval::EvalError>> = results
            .iter()
            .map(|(name, result)| (name.as_str(), result))
            .collect();
        for v in self
            .recipe
            .variables
            .iter_mut()
            .filter(|v| v.stage.as_deref() == stage)
        {
            let Value::Eval { value, .. } = &mut v.value else {
                continue;
            };
            match results.get(v.name.as_str()) {
                Some(Ok(resolved)) => *value = Some(Box::new(from_eval_value(resolved.clone()))),
                Some(Err(err)) => {
                    *value = None;
                    v.eval_error = Some(err.clone());
                }
                None => {}
            }
        }
    }

    fn group(&mut self, name: &str, value: &Node, stage: Option<&str>) {
        match &value.kind {
            NodeKind::Sequence { items, .. } => {
                for item in items {
                    self.modifier(item, name, stage);
                }
            }
            _ if is_modifier_tag(value) => self.modifier(value, name, stage),
            NodeKind::Scalar { value: v, .. } if v.is_empty() => {}
            _ => self.diagnostics.push(Diagnostic::error(
                "layout",
                value.span,
                format!("`{name}` must be a list of `- !ModifierClass` entries."),
            )),
        }
    }

    fn variable(&mut self, name: &str, key: &Node, value: &Node, stage: Option<&str>) {
        let (resolved, size) = self.sized_value(value);
        self.variable_index
            .insert(name.to_string(), self.recipe.variables.len());
        self.variable_sizes.push(size);
        self.recipe.variables.push(Variable {
            name: name.to_string(),
            key_span: key.span,
            value_span: value.span,
            value: resolved,
            stage: stage.map(str::to_string),
            anchor: value.anchor.as_ref().map(|a| (a.name.clone(), a.span)),
            eval_error: None,
        });
    }

    fn modifier(&mut self, node: &Node, group: &str, stage: Option<&str>) {
        let Some(tag) = node.tag.as_ref().filter(|t| t.handle == "!") else {
            self.diagnostics.push(Diagnostic::error(
                "layout",
                node.span,
                "This modifier has no `!Class` tag; write it as `- !GMPruningModifier` (or another modifier class).",
            ));
            return;
        };
        let mut fields = Vec::new();
        match &node.kind {
            NodeKind::Mapping { entries, .. } => fields = self.fields(entries),
            // `- !EpochRangeModifier` with nothing below it: constructed without arguments.
            NodeKind::Scalar { value, .. } if value.is_empty() => {}
            _ => self.diagnostics.push(Diagnostic::error(
                "layout",
                node.span,
                format!(
                    "`!{}` must be followed by a mapping of its fields.",
                    tag.suffix
                ),
            )),
        }
        let span = Span {
            start: tag.span.start.min(node.span.start),
            end: node.span.end.max(tag.span.end),
        };
        let class = tag.suffix.clone();
        self.recipe.modifiers.push(Modifier {
            class,
            tag_span: tag.span,
            span,
            layout: Layout::Tagged,
            group: group.to_string(),
            stage: stage.map(str::to_string),
            fields,
        });
    }

    /// A modifier's fields from its mapping, each value read as PyYAML reads it.
    fn fields(&mut self, entries: &[(Node, Node)]) -> Vec<Field> {
        self.duplicate_keys(entries);
        let mut fields = Vec::new();
        for (k, v) in entries {
            let Some(name) = scalar(k) else {
                self.diagnostics.push(Diagnostic::error(
                    "type",
                    k.span,
                    "A field name must be a plain word.",
                ));
                continue;
            };
            let plain = match &v.kind {
                NodeKind::Scalar {
                    style: ScalarStyle::Plain,
                    ..
                } if v.tag.is_none() => Some(self.text[v.span.start..v.span.end].to_string()),
                _ => None,
            };
            self.in_modifier = true;
            let value = self.value(v);
            self.in_modifier = false;
            fields.push(Field {
                name: name.to_string(),
                key_span: k.span,
                value_span: v.span,
                value,
                plain,
            });
        }
        fields
    }

    /// A node's value as PyYAML would load it.
    fn value(&mut self, node: &Node) -> Value {
        self.sized_value(node).0
    }

    /// A node's value and its size: the number of values in it, aliases and `eval(name)`
    /// substitutions counted as the values they copy.
    fn sized_value(&mut self, node: &Node) -> (Value, usize) {
        let (value, size) = match &node.kind {
            NodeKind::Scalar { value, style } => match style {
                ScalarStyle::Plain if node.tag.as_ref().is_none_or(|t| t.handle != "!!") => {
                    match yaml11::resolve_plain(&self.text[node.span.start..node.span.end]) {
                        Yaml11::Null => (Value::Null, 1),
                        Yaml11::Bool(b) => (Value::Bool(b), 1),
                        Yaml11::Int(i) => (Value::Int(i), 1),
                        Yaml11::Float(f) => (Value::Float(f), 1),
                        Yaml11::Str => self.string(value, node.span),
                    }
                }
                _ => self.string(value, node.span),
            },
            NodeKind::Sequence { items, .. } => {
                let mut size = 1;
                let list = items
                    .iter()
                    .map(|i| {
                        let (value, n) = self.sized_value(i);
                        size += n;
                        (value, i.span)
                    })
                    .collect();
                (Value::List(list), size)
            }
            NodeKind::Mapping { entries, .. } => {
                let mut size = 1;
                let map = entries
                    .iter()
                    .map(|(k, v)| {
                        let (value, n) = self.sized_value(v);
                        size += 1 + n;
                        Entry {
                            key: scalar(k).unwrap_or_default().to_string(),
                            key_span: k.span,
                            value,
                            span: v.span,
                        }
                    })
                    .collect();
                (Value::Map(map), size)
            }
            NodeKind::Alias { name } => {
                let (value, size) = self.expand_alias(name, node.span);
                (
                    Value::Alias {
                        name: name.clone(),
                        value: value.map(Box::new),
                    },
                    1 + size,
                )
            }
        };
        if let Some(anchor) = &node.anchor {
            // The anchored copy counts too: nested anchors would otherwise copy a big value
            // once per level.
            let copy = if self.expansion.take(size) {
                Some(value.clone())
            } else {
                self.expansion_exceeded(&format!("&{}", anchor.name), anchor.span);
                None
            };
            self.anchored.insert(anchor.name.clone(), (copy, size));
        }
        (value, size)
    }

    /// The anchored value an alias stands for and its size, when it is known and its copy fits
    /// the expansion limit.
    fn expand_alias(&mut self, name: &str, span: Span) -> (Option<Value>, usize) {
        let Some((Some(_), size)) = self.anchored.get(name) else {
            return (None, 0);
        };
        let size = *size;
        if !self.expansion.take(size) {
            self.expansion_exceeded(&format!("*{name}"), span);
            return (None, 0);
        }
        let value = self.anchored.get(name).and_then(|(v, _)| v.clone());
        (value, size)
    }

    /// The one diagnostic of a recipe whose copies passed the expansion limit, at the first
    /// alias, anchor or `eval(name)` that did not fit. What did not fit is left unknown, so no
    /// rule reports it again.
    fn expansion_exceeded(&mut self, what: &str, span: Span) {
        if std::mem::replace(&mut self.expansion.reported, true) {
            return;
        }
        let limit = self.expansion.limit;
        let message = if what.starts_with('&') {
            format!(
                "The value anchored as `{what}` holds more values than prunekit expands in one recipe ({limit}, counting each alias as the values it repeats); write it out or nest fewer aliases in it."
            )
        } else {
            format!(
                "`{what}` repeats more values than prunekit expands in one recipe ({limit} in all, aliases within aliases multiplying them); write the value out or nest fewer aliases."
            )
        };
        self.diagnostics
            .push(Diagnostic::error("alias-limit", span, message));
    }

    /// A string value, or an `eval()` expression evaluated against the variables met so far,
    /// with its size.
    fn string(&mut self, text: &str, span: Span) -> (Value, usize) {
        let Some((inner, _)) = eval::strip_eval(text) else {
            return (Value::Str(text.to_string()), 1);
        };
        // Inside modifiers, `eval(name)` of a string, list, mapping or null variable is replaced by
        // that value verbatim: `params: eval(prunable_params)`. No trimming.
        if self.in_modifier
            && let Some(&index) = self.variable_index.get(inner)
            && let v = &self.recipe.variables[index]
            && to_eval_value(&v.value).is_none()
            && v.value.effective().is_some()
        {
            let size = self.variable_sizes[index];
            let value = if self.expansion.take(size) {
                self.recipe.variables[index].value.clone()
            } else {
                self.expansion_exceeded(text, span);
                // A reference to the variable whose value is left unknown: an `eval()` without a
                // value would be evaluated again by the rules, and reported as a wrong number.
                Value::Alias {
                    name: inner.to_string(),
                    value: None,
                }
            };
            return (
                Value::Eval {
                    text: text.to_string(),
                    value: Some(Box::new(value)),
                },
                1 + size,
            );
        }
        let (variables, index) = (&self.recipe.variables, &self.variable_index);
        let lookup = |name: &str| -> Option<eval::Value> {
            index
                .get(name)
                .and_then(|&i| to_eval_value(&variables[i].value))
        };
        // A failed eval keeps no value; `rules.rs` reports why, with the span.
        let value = eval::parse_eval(inner)
            .and_then(|expr| eval::evaluate(&expr, &lookup))
            .ok();
        (
            Value::Eval {
                text: text.to_string(),
                value: value.map(|v| Box::new(from_eval_value(v))),
            },
            1,
        )
    }
}

/// A variable as `eval()` arithmetic sees it: only numbers (bools count) are numeric variables.
pub fn to_eval_value(value: &Value) -> Option<eval::Value> {
    Some(match value.effective()? {
        Value::Int(i) => eval::Value::Int(*i),
        Value::Float(f) => eval::Value::Float(*f),
        Value::Bool(b) => eval::Value::Bool(*b),
        _ => return None,
    })
}

pub fn from_eval_value(value: eval::Value) -> Value {
    match value {
        eval::Value::Int(i) => Value::Int(i),
        eval::Value::Float(f) => Value::Float(f),
        eval::Value::Bool(b) => Value::Bool(b),
        eval::Value::Str(s) => Value::Str(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe::yaml;

    fn lowered(text: &str) -> (Recipe, Vec<Diagnostic>) {
        lower(text, &yaml::parse(text))
    }

    fn codes(diagnostics: &[Diagnostic]) -> Vec<&str> {
        diagnostics.iter().map(|d| d.code).collect()
    }

    /// Ten levels of ten aliases: a billion strings for a loader that expands them all.
    fn billion_laughs() -> String {
        let mut text = String::from("lol0: &lol0 \"lol\"\n");
        for i in 1..10 {
            let items = vec![format!("*lol{}", i - 1); 10].join(", ");
            text.push_str(&format!("lol{i}: &lol{i} [{items}]\n"));
        }
        text + "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n"
    }

    #[test]
    fn billion_laughs_stops_at_the_limit_with_one_diagnostic() {
        let text = billion_laughs();
        let started = std::time::Instant::now();
        let (recipe, diagnostics) = lowered(&text);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
        let limits: Vec<&Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.code == "alias-limit")
            .collect();
        assert_eq!(limits.len(), 1, "{diagnostics:?}");
        let message = &limits[0].message;
        assert!(message.starts_with("`*lol"), "{message}");
        assert!(message.contains("nest fewer aliases"), "{message}");
        assert_eq!(message.matches(". ").count(), 0, "one sentence: {message}");
        assert!(limits[0].span.text(&text).starts_with("*lol"));
        // The first levels fit and keep their values; past the limit the aliases are unknown.
        fn strings(value: &Value) -> usize {
            match value.effective() {
                Some(Value::Str(_)) => 1,
                Some(Value::List(items)) => items.iter().map(|(v, _)| strings(v)).sum(),
                _ => 0,
            }
        }
        let value = |name: &str| {
            &recipe
                .variables
                .iter()
                .find(|v| v.name == name)
                .unwrap()
                .value
        };
        assert_eq!(strings(value("lol2")), 100);
        assert_eq!(strings(value("lol9")), 0);
    }

    #[test]
    fn nested_anchors_are_bounded_too() {
        // Each level anchors a list of the previous level's aliases: the anchored copies alone
        // would grow ninefold per line.
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        let mut previous = 'a';
        for name in 'b'..='h' {
            let items = vec![format!("*{previous}"); 9].join(", ");
            text.push_str(&format!("{name}: &{name} [{items}]\n"));
            previous = name;
        }
        text.push_str("modifiers:\n  - !EpochRangeModifier\n    end_epoch: *h\n");
        let (_, diagnostics) = lowered(&text);
        assert_eq!(
            codes(&diagnostics)
                .iter()
                .filter(|c| **c == "alias-limit")
                .count(),
            1
        );
    }

    #[test]
    fn ordinary_aliases_expand() {
        let text = "\
num_epochs: &num_epochs 10
names: &names [conv1.weight, conv2.weight]
modifiers:
  - !GMPruningModifier
    params: *names
    end_epoch: *num_epochs
  - !GMPruningModifier
    params: eval(names)
    end_epoch: *num_epochs
";
        let (recipe, diagnostics) = lowered(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        for modifier in &recipe.modifiers {
            assert_eq!(modifier.number("end_epoch"), Some(10.0));
            let params: Vec<String> = modifier.params().into_iter().map(|(n, _)| n).collect();
            assert_eq!(params, ["conv1.weight", "conv2.weight"]);
        }
    }

    #[test]
    fn eval_substitutions_count_against_the_limit() {
        // A variable of 10,000 names, substituted by `eval(names)` into 20 fields: 200,000 copies.
        let names: Vec<String> = (0..10_000).map(|i| format!("w{i}")).collect();
        let mut text = format!("names: [{}]\nmodifiers:\n", names.join(", "));
        for _ in 0..20 {
            text.push_str("  - !GMPruningModifier\n    params: eval(names)\n");
        }
        assert!(text.len() < MIN_EXPANSION, "the floor applies");
        let (recipe, diagnostics) = lowered(&text);
        assert_eq!(codes(&diagnostics), ["alias-limit"], "{diagnostics:?}");
        assert!(diagnostics[0].message.starts_with("`eval(names)`"));
        // What did not fit is unknown rather than wrong, so no rule reports it again.
        let last = recipe.modifiers.last().unwrap();
        assert!(last.field("params").unwrap().value.effective().is_none());
        assert!(last.params().is_empty());
    }

    #[test]
    fn the_limit_grows_with_the_text() {
        assert_eq!(expansion_limit(10), MIN_EXPANSION);
        assert_eq!(expansion_limit(5 * MIN_EXPANSION), 5 * MIN_EXPANSION);
    }
}
