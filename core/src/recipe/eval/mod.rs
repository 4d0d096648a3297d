//! SparseML's `eval()` expressions: the restricted grammar of `utils/restricted_eval.py`, Python
//! number semantics, and variable resolution as `optim/helpers.py` does it, top level and per
//! stage, with the diagnostics `eval-syntax`, `eval-unknown-variable`, `eval-cycle`, `eval-type`
//! and `eval-unary-minus`.
//!
//! The grammar: int and float literals, names of numeric variables, the binary operators
//! `+ - * / // ** %`, calls of `abs`, `float`, `int`, `min`, `max` and `round` with positional and
//! keyword arguments. Everything else is rejected. A unary minus parses (so that names inside it
//! are still found and a rewrite can be offered) but never evaluates: SparseML's unary branch reads
//! an operand field that does not exist, so `eval(-1)` fails with
//! `AttributeError: 'UnaryOp' object has no attribute 'left'`.
//!
//! Pure code: no I/O, never panics, bounded recursion. Spans are byte offsets into the text
//! inside `eval(` … `)`; add the offset of that text in the document to place them.
//!
//! The parts, in the order the text goes through them: `lexer` (Python's tokens), `parser` (the
//! restricted grammar into the `ast`), `evaluate` (the tree with a variable lookup, using the
//! number rules of `numbers`), `unary_minus` (its error and quick fix) and `scope` (a recipe's
//! variable definitions resolved as SparseML resolves them). This file owns the error type and the
//! diagnostic codes they share.

use std::fmt;

pub use super::span::Span;

mod ast;
mod evaluate;
mod lexer;
mod numbers;
mod parser;
mod scope;
#[cfg(test)]
mod tests;
mod unary_minus;

pub use ast::{BinOp, Expr, Func, Keyword, variables};
pub use evaluate::{evaluate, evaluate_str};
pub use lexer::scan_names;
pub use numbers::Value;
pub use parser::parse_eval;
pub use scope::{Definition, FieldValue, Scope, resolve_all};
pub use unary_minus::{UnaryMinusFix, unary_minus_fix};

pub const EVAL_SYNTAX: &str = "eval-syntax";
pub const EVAL_UNKNOWN_VARIABLE: &str = "eval-unknown-variable";
pub const EVAL_CYCLE: &str = "eval-cycle";
pub const EVAL_TYPE: &str = "eval-type";
pub const EVAL_UNARY_MINUS: &str = "eval-unary-minus";

/// Why an expression cannot be parsed or evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    /// One of the `EVAL_*` codes.
    pub code: &'static str,
    /// One sentence that says what to do.
    pub message: String,
    /// Byte range in the text inside `eval(` … `)`.
    pub span: Option<Span>,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EvalError {}

fn error(code: &'static str, span: Span, message: impl Into<String>) -> EvalError {
    EvalError {
        code,
        message: message.into(),
        span: Some(span),
    }
}

fn syntax(span: Span, message: impl Into<String>) -> EvalError {
    error(EVAL_SYNTAX, span, message)
}

/// SparseML's `is_eval_string`: the whole (YAML-parsed) value starts with `eval(` and ends with
/// `)`. Returns the text inside and its byte offset in `scalar` (always 5). `eval(a) + 1` and
/// ` eval(a)` are plain strings; `eval()` is an eval string with empty text.
pub fn strip_eval(scalar: &str) -> Option<(&str, usize)> {
    if scalar.len() >= 6 && scalar.starts_with("eval(") && scalar.ends_with(')') {
        Some((&scalar[5..scalar.len() - 1], 5))
    } else {
        None
    }
}
