//! A recipe's variables resolved as SparseML resolves them: the top-level scope and each stage's,
//! eval-string variables evaluated in dependency order, cycles found and reported, and the values
//! a modifier field's `eval()` sees.

use std::collections::{HashMap, HashSet};

use super::ast::Expr;
use super::evaluate::{eval_node, non_numeric_error};
use super::parser::parse_eval;
use super::unary_minus::with_text;
use super::{
    EVAL_CYCLE, EVAL_TYPE, EVAL_UNKNOWN_VARIABLE, EvalError, Span, Value, error, strip_eval,
};
use crate::suggest::{self, did_you_mean};

/// Unknown names in one scope that get a did-you-mean: each compares the name with every
/// variable, so a recipe with thousands of unknown names would take quadratic time.
const MAX_SUGGESTIONS: usize = 100;
/// The longest cycle whose every variable a message lists: each member's message names the
/// cycle, so listing long ones in full would take quadratic memory.
const MAX_CYCLE_LISTED: usize = 10;

/// A variable's definition as YAML gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum Definition {
    /// A plain value. Int, float and bool are numeric variables; a string is a non-evaluatable
    /// variable (a string that is an eval string, see [`strip_eval`], is treated as `Eval`).
    Literal(Value),
    /// A list, mapping or null: a non-evaluatable variable; the text names the kind for messages
    /// ("list", "mapping", "null").
    Other(&'static str),
    /// An eval string: the text inside `eval(` … `)`, as [`strip_eval`] returns it.
    Eval(String),
}

/// What an `eval()` in a modifier field gives.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// A number (int, float or bool).
    Value(Value),
    /// The text was exactly the name of a non-numeric variable (a list, string, mapping or null),
    /// whose YAML value SparseML substitutes verbatim (`params: eval(prunable_params)`).
    Variable(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Number(Value),
    Str(String),
    Other(&'static str),
    Failed(EvalError),
}

impl Entry {
    fn kind(&self) -> &'static str {
        match self {
            Entry::Str(_) => "a string",
            Entry::Other("list") => "a list",
            Entry::Other("mapping") => "a mapping",
            Entry::Other("null") => "null",
            Entry::Other(_) => "not a number",
            Entry::Number(_) => "a number",
            Entry::Failed(_) => "an expression that fails",
        }
    }

    fn is_non_numeric(&self) -> bool {
        matches!(self, Entry::Str(_) | Entry::Other(_))
    }
}

fn find<'a>(entries: &'a [(String, Entry)], name: &str) -> Option<&'a Entry> {
    entries.iter().find(|(n, _)| n == name).map(|(_, e)| e)
}

/// The variables of a recipe (or of one stage of a staged recipe), resolved as SparseML resolves
/// them:
///
/// - definitions are taken in order of first appearance, the last definition of a name winning
///   (PyYAML keeps the last duplicate key);
/// - eval strings are evaluated in any order, with the values SparseML's repeated passes reach
///   (each is evaluated again only when a variable it waits for gets its value); what is left
///   forms or depends on a cycle (`eval-cycle`);
/// - a variable defined with `eval()` must be a number: `b: eval(a)` with a string, list or null
///   `a` is `eval-type`;
/// - in a stage, `eval(name)` whose text is exactly a global key takes the global value, even when
///   the stage redefines `name` (SparseML's scoping bug), and a stage variable's expression
///   cannot otherwise use global variables (SparseML resolves it against the stage's own
///   variables only);
/// - in modifier fields, the stage's variables win over the globals.
///
/// A variable whose expression uses a variable that failed gets `eval-unknown-variable` pointing at
/// that name (in SparseML it never becomes a known numeric variable).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    own: Vec<(String, Entry)>,
    global: Vec<(String, Entry)>,
}

impl Scope {
    /// Resolves the top-level variables (every top-level key that is not a modifier group or a
    /// stage, `version` and `__metadata__` included as SparseML includes them).
    pub fn new(defs: &[(String, Definition)]) -> Scope {
        Scope {
            own: resolve_defs(defs, None),
            global: Vec::new(),
        }
    }

    /// Resolves one stage's variables; `self` is the top-level scope.
    pub fn stage(&self, defs: &[(String, Definition)]) -> Scope {
        Scope {
            own: resolve_defs(defs, Some(&self.own)),
            global: self.own.clone(),
        }
    }

    /// This scope's own variables (not the globals a stage sees), one per name in order of first
    /// appearance: numbers and strings with their value, failures with their error (spans in that
    /// definition's eval text). Lists, mappings and nulls are left out.
    pub fn results(&self) -> Vec<(String, Result<Value, EvalError>)> {
        self.own
            .iter()
            .filter_map(|(name, entry)| {
                let result = match entry {
                    Entry::Number(v) => Ok(v.clone()),
                    Entry::Str(s) => Ok(Value::Str(s.clone())),
                    Entry::Other(_) => return None,
                    Entry::Failed(e) => Err(e.clone()),
                };
                Some((name.clone(), result))
            })
            .collect()
    }

    /// The numeric value a modifier field's `eval()` sees for `name`.
    pub fn value(&self, name: &str) -> Option<Value> {
        match self.visible(name) {
            Visible::Number(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// Every variable name visible to modifier fields (the stage's first, then the globals').
    pub fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.own.iter().map(|(n, _)| n.as_str()).collect();
        for (n, _) in &self.global {
            if !out.contains(&n.as_str()) {
                out.push(n);
            }
        }
        out
    }

    /// Evaluates the text inside a modifier field's `eval(` … `)`: the exact name
    /// of a non-numeric variable (no whitespace trimmed) is substituted; anything else is evaluated
    /// with the numeric variables and must be a number.
    pub fn evaluate_field(&self, inner: &str) -> Result<FieldValue, EvalError> {
        let exact = find(&self.own, inner).is_some_and(Entry::is_non_numeric)
            || find(&self.global, inner).is_some_and(Entry::is_non_numeric);
        if exact {
            return Ok(FieldValue::Variable(inner.to_string()));
        }
        let expr = parse_eval(inner).map_err(|e| with_text(e, inner))?;
        let names = self.names();
        let result = eval_node(
            &expr,
            &mut |name: &str, span: Span| match self.visible(name) {
                Visible::Number(v) => Ok(v.clone()),
                Visible::NonNumeric(kind) => Err(non_numeric_error(name, kind, span)),
                Visible::Failed(e) => Err(dependency_error(name, e, span)),
                Visible::Missing => Err(unknown_error(name, span, &names, false)),
            },
        );
        result
            .map(FieldValue::Value)
            .map_err(|e| with_text(e, inner))
    }

    /// SparseML's merge for modifier fields: the stage's numeric variables, then the globals'
    /// numeric variables it does not define as numbers. A stage variable that failed hides the
    /// global.
    fn visible(&self, name: &str) -> Visible<'_> {
        let global = find(&self.global, name);
        match find(&self.own, name) {
            Some(Entry::Number(v)) => Visible::Number(v),
            Some(Entry::Failed(e)) => Visible::Failed(e),
            Some(own) => match global {
                Some(Entry::Number(v)) => Visible::Number(v),
                _ => Visible::NonNumeric(own.kind()),
            },
            None => match global {
                Some(Entry::Number(v)) => Visible::Number(v),
                Some(Entry::Failed(e)) => Visible::Failed(e),
                Some(other) => Visible::NonNumeric(other.kind()),
                None => Visible::Missing,
            },
        }
    }
}

enum Visible<'a> {
    Number(&'a Value),
    NonNumeric(&'static str),
    Failed(&'a EvalError),
    Missing,
}

/// Resolves top-level variable definitions: [`Scope::new`]`(defs).`[`results`](Scope::results)`()`.
pub fn resolve_all(defs: &[(String, Definition)]) -> Vec<(String, Result<Value, EvalError>)> {
    Scope::new(defs).results()
}

enum Kind<'a> {
    Num(Value),
    Str(&'a str),
    Other(&'static str),
    Eval(&'a str),
}

enum Outcome {
    Done(Entry),
    /// Waiting for the variable at this index, used at this span.
    Blocked(usize, Span),
}

fn resolve_defs(
    defs: &[(String, Definition)],
    global: Option<&[(String, Entry)]>,
) -> Vec<(String, Entry)> {
    let mut names: Vec<&str> = Vec::new();
    let mut kinds: Vec<Kind<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, def) in defs {
        let kind = match def {
            Definition::Literal(Value::Str(s)) => match strip_eval(s) {
                Some((inner, _)) => Kind::Eval(inner),
                None => Kind::Str(s),
            },
            Definition::Literal(v) => Kind::Num(v.clone()),
            Definition::Other(k) => Kind::Other(k),
            Definition::Eval(text) => Kind::Eval(text),
        };
        match index.get(name.as_str()) {
            Some(&i) => kinds[i] = kind,
            None => {
                index.insert(name, names.len());
                names.push(name);
                kinds.push(kind);
            }
        }
    }
    let n = names.len();
    // The globals a stage sees; the first of a name, as a scan from the start finds it.
    let mut global_index: HashMap<&str, &Entry> = HashMap::new();
    for (name, entry) in global.unwrap_or_default() {
        global_index.entry(name.as_str()).or_insert(entry);
    }
    let global = global.map(|_| &global_index);
    let mut state: Vec<Option<Entry>> = vec![None; n];
    let mut parsed: Vec<Option<Result<Expr, EvalError>>> = vec![None; n];
    let mut blocker: Vec<Option<(usize, Span)>> = vec![None; n];
    // Who waits for whom: a variable is evaluated again only when the one it waited for is
    // resolved. SparseML instead repeats whole passes until nothing changes, which takes as many
    // passes as the longest chain of variables defined before the ones they use; the outcome is
    // the same because a variable's value depends only on the final values of its variables.
    let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut ready: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    // SparseML fills its non-evaluatable variables as its first pass meets them.
    let mut seen_non_numeric: HashSet<&str> = HashSet::new();
    let suggestions = suggest::Budget::new(MAX_SUGGESTIONS);
    // The first pass, in order, then each variable again once what it waited for is known.
    let mut first_pass = 0..n;
    while let Some(i) = first_pass.next().or_else(|| ready.pop_front()) {
        if state[i].is_some() {
            continue;
        }
        let entry = match &kinds[i] {
            Kind::Num(v) => Some(Entry::Number(v.clone())),
            Kind::Str(s) => {
                seen_non_numeric.insert(names[i]);
                Some(Entry::Str((*s).to_string()))
            }
            Kind::Other(k) => {
                seen_non_numeric.insert(names[i]);
                Some(Entry::Other(k))
            }
            Kind::Eval(text) => {
                let context = Context {
                    names: &names,
                    index: &index,
                    kinds: &kinds,
                    state: &state,
                    seen: &seen_non_numeric,
                    global,
                    suggestions: &suggestions,
                };
                match context.evaluate(text, &mut parsed[i]) {
                    Outcome::Done(entry) => Some(entry),
                    Outcome::Blocked(j, span) => {
                        blocker[i] = Some((j, span));
                        waiting[j].push(i);
                        None
                    }
                }
            }
        };
        if let Some(entry) = entry {
            state[i] = Some(entry);
            ready.extend(std::mem::take(&mut waiting[i]));
        }
    }
    // What is left waits on something else that is left: follow the first blocker of each.
    // Where each variable stands on the path being followed, so that finding a cycle is one
    // lookup rather than a scan of the path.
    let mut on_path: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        let mut path: Vec<usize> = Vec::new();
        let mut cur = i;
        while state[cur].is_none() {
            if let Some(pos) = on_path[cur] {
                let cycle = path.split_off(pos);
                for (k, &member) in cycle.iter().enumerate() {
                    // The cycle as seen from this member, as far as a message lists it.
                    let order: Vec<&str> = cycle[k..]
                        .iter()
                        .chain(&cycle[..k])
                        .take(MAX_CYCLE_LISTED)
                        .map(|&x| names[x])
                        .collect();
                    let span = blocker[member].map(|(_, s)| s);
                    state[member] = Some(Entry::Failed(cycle_error(&order, cycle.len(), span)));
                }
                break;
            }
            on_path[cur] = Some(path.len());
            path.push(cur);
            match blocker[cur] {
                Some((j, _)) => cur = j,
                None => break,
            }
        }
        // Every variable on the path has a state when this walk ends, and walks stop at a
        // variable with a state, so `on_path` is never read again for them.
        for &m in path.iter().rev() {
            if state[m].is_some() {
                continue;
            }
            let failed = match blocker[m] {
                Some((j, span)) => match &state[j] {
                    Some(Entry::Failed(e)) => dependency_error(names[j], e, span),
                    _ => error(
                        EVAL_CYCLE,
                        span,
                        "This expression cannot be evaluated: check its variables for a cycle.",
                    ),
                },
                None => EvalError {
                    code: EVAL_CYCLE,
                    message:
                        "This expression cannot be evaluated: check its variables for a cycle."
                            .into(),
                    span: None,
                },
            };
            state[m] = Some(Entry::Failed(failed));
        }
    }
    names
        .into_iter()
        .zip(state)
        .map(|(name, entry)| {
            let entry = entry.unwrap_or_else(|| {
                Entry::Failed(EvalError {
                    code: EVAL_CYCLE,
                    message: "This variable cannot be evaluated.".into(),
                    span: None,
                })
            });
            (name.to_string(), entry)
        })
        .collect()
}

struct Context<'c, 'a> {
    names: &'c [&'a str],
    index: &'c HashMap<&'a str, usize>,
    kinds: &'c [Kind<'a>],
    state: &'c [Option<Entry>],
    seen: &'c HashSet<&'a str>,
    global: Option<&'c HashMap<&'a str, &'a Entry>>,
    /// How many more unknown names may get a did-you-mean (each compares with every name).
    suggestions: &'c suggest::Budget,
}

impl Context<'_, '_> {
    /// One attempt at an eval-string variable, as `_maybe_evaluate_recipe_equation` makes it.
    fn evaluate(&self, text: &str, parsed: &mut Option<Result<Expr, EvalError>>) -> Outcome {
        let whole = Span {
            start: 0,
            end: text.len(),
        };
        if self.seen.contains(text) {
            let kind = self
                .position(text)
                .map_or("not a number", |j| match &self.kinds[j] {
                    Kind::Other(k) => Entry::Other(k).kind(),
                    _ => "a string",
                });
            return Outcome::Done(Entry::Failed(alias_error(text, kind, whole)));
        }
        if let Some(entry) = self.global.and_then(|g| g.get(text)) {
            return Outcome::Done(match entry {
                Entry::Number(v) => Entry::Number(v.clone()),
                Entry::Failed(e) => Entry::Failed(dependency_error(text, e, whole)),
                other => Entry::Failed(alias_error(text, other.kind(), whole)),
            });
        }
        let expr = match parsed.get_or_insert_with(|| parse_eval(text)) {
            Ok(expr) => &*expr,
            Err(e) => return Outcome::Done(Entry::Failed(with_text(e.clone(), text))),
        };
        let mut blocked: Option<(usize, Span)> = None;
        let result = eval_node(expr, &mut |name: &str, span: Span| {
            let Some(j) = self.position(name) else {
                let in_globals = self.global.is_some_and(|g| g.contains_key(name));
                let candidates = if self.suggestions.take() {
                    self.names
                } else {
                    &[]
                };
                return Err(unknown_error(name, span, candidates, in_globals));
            };
            match (&self.state[j], &self.kinds[j]) {
                (Some(Entry::Number(v)), _) => Ok(v.clone()),
                (Some(Entry::Failed(e)), _) => Err(dependency_error(name, e, span)),
                (Some(other), _) => Err(non_numeric_error(name, other.kind(), span)),
                (None, Kind::Str(_)) => Err(non_numeric_error(name, "a string", span)),
                (None, Kind::Other(k)) => {
                    Err(non_numeric_error(name, Entry::Other(k).kind(), span))
                }
                (None, _) => {
                    blocked = Some((j, span));
                    Err(EvalError {
                        code: EVAL_CYCLE,
                        message: String::new(),
                        span: Some(span),
                    })
                }
            }
        });
        match (result, blocked) {
            (_, Some((j, span))) => Outcome::Blocked(j, span),
            (Ok(v), None) => Outcome::Done(Entry::Number(v)),
            (Err(e), None) => Outcome::Done(Entry::Failed(with_text(e, text))),
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

fn alias_error(name: &str, kind: &str, span: Span) -> EvalError {
    error(
        EVAL_TYPE,
        span,
        format!(
            "A variable defined with eval() must be a number, but `{name}` is {kind}: use `eval({name})` directly in the modifier field instead."
        ),
    )
}

fn unknown_error(name: &str, span: Span, candidates: &[&str], in_globals: bool) -> EvalError {
    let message = if in_globals {
        format!(
            "`{name}` is a global variable, which SparseML does not give to a stage variable's eval() (only `eval({name})` on its own reads it): define `{name}` in this stage."
        )
    } else if let Some(s) = did_you_mean(name, candidates.iter().copied().filter(|c| *c != name)) {
        format!("`{name}` is not defined: did you mean `{s}`?")
    } else {
        format!("`{name}` is not defined: define it as a variable at the top level of the recipe.")
    };
    error(EVAL_UNKNOWN_VARIABLE, span, message)
}

fn dependency_error(name: &str, cause: &EvalError, span: Span) -> EvalError {
    let message = if cause.code == EVAL_CYCLE {
        format!(
            "`{name}` is part of or depends on a cycle of variables, so it has no value: break the cycle first."
        )
    } else {
        format!("`{name}` has no value because its own definition fails: fix `{name}` first.")
    };
    error(EVAL_UNKNOWN_VARIABLE, span, message)
}

/// The error of each variable of a cycle of `len` variables; `order` is the cycle from that
/// variable on, at most [`MAX_CYCLE_LISTED`] of them.
fn cycle_error(order: &[&str], len: usize, span: Option<Span>) -> EvalError {
    let first = order.first().copied().unwrap_or("");
    let listed: Vec<String> = order.iter().map(|n| format!("`{n}`")).collect();
    let message = if len <= 1 {
        format!("`{first}` refers to itself: define it from numbers or other variables.")
    } else if len <= MAX_CYCLE_LISTED {
        format!(
            "The variables {} → `{first}` form a cycle: give one of them a plain value.",
            listed.join(" → ")
        )
    } else {
        format!(
            "The {len} variables {} → … → `{first}` form a cycle: give one of them a plain value.",
            listed.join(" → ")
        )
    };
    EvalError {
        code: EVAL_CYCLE,
        message,
        span,
    }
}
