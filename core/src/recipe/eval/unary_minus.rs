//! The unary minus, which parses but which SparseML cannot evaluate: its `eval-unary-minus`
//! message and the quick fix that writes every `-x` as `0 - x` (or, for a negated number, the
//! plain YAML number).

use super::ast::{Expr, render_min};
use super::numbers::yaml11_float;
use super::parser::parse_eval;
use super::{EVAL_UNARY_MINUS, EvalError, Span, error};

const UNARY_MINUS_FAILURE: &str =
    "fails in SparseML with AttributeError: 'UnaryOp' object has no attribute 'left'";

pub(super) fn unary_minus_error(operand: &Expr, span: Span) -> EvalError {
    let mut shown = String::from("-");
    render_min(operand, 3, &mut shown);
    let mut fix = String::from("(0 - ");
    render_min(operand, 2, &mut fix);
    fix.push(')');
    error(
        EVAL_UNARY_MINUS,
        span,
        format!("A unary minus (`{shown}`) {UNARY_MINUS_FAILURE}: write `{fix}` instead."),
    )
}

/// The same error with its message naming the whole rewritten expression, now that the text is
/// known.
pub(super) fn with_text(mut e: EvalError, text: &str) -> EvalError {
    if e.code != EVAL_UNARY_MINUS {
        return e;
    }
    let Some(fix) = unary_minus_fix(text) else {
        return e;
    };
    let shown = e.span.and_then(|s| text.get(s.start..s.end)).unwrap_or("-");
    let inner = fix.inner.trim();
    e.message = match fix.plain {
        Some(plain) => format!(
            "A unary minus (`{shown}`) {UNARY_MINUS_FAILURE}: write the plain number `{plain}` instead of `eval({})`, or `eval({inner})`.",
            text.trim()
        ),
        None => format!(
            "A unary minus (`{shown}`) {UNARY_MINUS_FAILURE}: write `eval({inner})` instead."
        ),
    };
    e
}

/// The rewrite for `eval-unary-minus`: `eval(0 - 1)`, or the negative number in plain YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct UnaryMinusFix {
    /// The text inside `eval(` … `)` with every `-x` written as `0 - x` (parenthesised where the
    /// context needs it): `-x * 2` → `(0 - x) * 2`, `num_epochs - -1` → `num_epochs - (0 - 1)`.
    pub inner: String,
    /// When the whole expression is a negated number: that number as a plain YAML 1.1 scalar that
    /// PyYAML reads as the same type (`-1`, `-0.5`, `-1.0e-07`), to replace the whole `eval(...)`.
    pub plain: Option<String>,
}

/// The quick fix for an expression containing a unary minus; `None` when it does not parse or has
/// no unary minus.
pub fn unary_minus_fix(text: &str) -> Option<UnaryMinusFix> {
    let expr = parse_eval(text).ok()?;
    if !contains_neg(&expr) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut cursor = 0;
    rewrite_neg(text, &expr, false, &mut out, &mut cursor);
    out.push_str(text.get(cursor..).unwrap_or(""));
    let plain = match &expr {
        Expr::Neg { operand, .. } => match operand.as_ref() {
            Expr::Int { value, .. } => Some((-i128::from(*value)).to_string()),
            Expr::Float { value, .. } => Some(yaml11_float(-value)),
            _ => None,
        },
        _ => None,
    };
    Some(UnaryMinusFix { inner: out, plain })
}

fn contains_neg(e: &Expr) -> bool {
    match e {
        Expr::Neg { .. } => true,
        Expr::Binary { left, right, .. } => contains_neg(left) || contains_neg(right),
        Expr::Call { args, keywords, .. } => {
            args.iter().any(contains_neg) || keywords.iter().any(|k| contains_neg(&k.value))
        }
        Expr::Int { .. } | Expr::Float { .. } | Expr::Name { .. } => false,
    }
}

/// Copies `text` up to each unary minus and writes it as `0 - x`. `operand` says whether the node
/// is an operand of an operator (so that `0 - x` needs parentheses there).
fn rewrite_neg(text: &str, e: &Expr, operand: bool, out: &mut String, cursor: &mut usize) {
    match e {
        Expr::Neg {
            operand: inner,
            span,
        } => {
            out.push_str(text.get(*cursor..span.start).unwrap_or(""));
            let parens = operand && !is_parenthesized(text, *span);
            if parens {
                out.push('(');
            }
            out.push_str("0 - ");
            let after_minus = span.start + 1;
            let skipped = text
                .get(after_minus..span.end)
                .map_or(0, |t| t.len() - t.trim_start().len());
            *cursor = after_minus + skipped;
            rewrite_neg(text, inner, true, out, cursor);
            out.push_str(text.get(*cursor..span.end).unwrap_or(""));
            *cursor = span.end;
            if parens {
                out.push(')');
            }
        }
        Expr::Binary { left, right, .. } => {
            rewrite_neg(text, left, true, out, cursor);
            rewrite_neg(text, right, true, out, cursor);
        }
        Expr::Call { args, keywords, .. } => {
            args.iter()
                .for_each(|a| rewrite_neg(text, a, false, out, cursor));
            keywords
                .iter()
                .for_each(|k| rewrite_neg(text, &k.value, false, out, cursor));
        }
        Expr::Int { .. } | Expr::Float { .. } | Expr::Name { .. } => {}
    }
}

/// Whether the source has `(` right before the span and `)` right after it.
fn is_parenthesized(text: &str, span: Span) -> bool {
    let before = text.get(..span.start).map(|t| t.trim_end().ends_with('('));
    let after = text
        .get(span.end..)
        .map(|t| t.trim_start().starts_with(')'));
    before == Some(true) && after == Some(true)
}
