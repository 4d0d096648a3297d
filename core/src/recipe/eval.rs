//! SparseML's `eval()` expressions (recipes.md §5): the restricted grammar of
//! `utils/restricted_eval.py`, Python number semantics, and variable resolution as
//! `optim/helpers.py` does it, top level and per stage, with the diagnostics of §12.1
//! (`eval-syntax`, `eval-unknown-variable`, `eval-cycle`, `eval-type`, `eval-unary-minus`).
//!
//! The grammar (§5.4): int and float literals, names of numeric variables, the binary operators
//! `+ - * / // ** %`, calls of `abs`, `float`, `int`, `min`, `max` and `round` with positional and
//! keyword arguments. Everything else is rejected. A unary minus parses (so that names inside it
//! are still found and a rewrite can be offered) but never evaluates: SparseML's unary branch reads
//! an operand field that does not exist, so `eval(-1)` fails with
//! `AttributeError: 'UnaryOp' object has no attribute 'left'`.
//!
//! Pure code: no I/O, never panics, bounded recursion. Spans are byte offsets into the text
//! inside `eval(` … `)`; add the offset of that text in the document to place them.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;

use super::catalog::did_you_mean;
pub use super::span::Span;

pub const EVAL_SYNTAX: &str = "eval-syntax";
pub const EVAL_UNKNOWN_VARIABLE: &str = "eval-unknown-variable";
pub const EVAL_CYCLE: &str = "eval-cycle";
pub const EVAL_TYPE: &str = "eval-type";
pub const EVAL_UNARY_MINUS: &str = "eval-unary-minus";

/// The deepest expression tree accepted (Python itself gives up at about 200 nested parentheses).
const MAX_DEPTH: usize = 200;
/// The deepest nesting of parentheses, calls and unary operators the parser recurses through.
const MAX_NEST: usize = 100;
/// Unknown names in one scope that get a did-you-mean: each compares the name with every
/// variable, so a recipe with thousands of unknown names would take quadratic time.
const MAX_SUGGESTIONS: usize = 100;
/// The longest cycle whose every variable a message lists: each member's message names the
/// cycle, so listing long ones in full would take quadratic memory.
const MAX_CYCLE_LISTED: usize = 10;

const ALLOWED: &str = "eval() allows only numbers, numeric variables, + - * / // % ** and abs, float, int, min, max, round";

const FUNCTION_NAMES: [&str; 6] = ["abs", "float", "int", "min", "max", "round"];

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

const STATEMENT_KEYWORDS: [&str; 19] = [
    "assert", "async", "break", "class", "continue", "def", "del", "for", "from", "global", "if",
    "import", "nonlocal", "pass", "raise", "return", "try", "while", "with",
];

/// Operators and delimiters of Python's tokenizer, longest first.
const OPS: [&str; 47] = [
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "%", "&", "(", ")", "*", "+", ",", "-",
    ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
];

// ---------------------------------------------------------------------------------------------
// Errors and values
// ---------------------------------------------------------------------------------------------

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

/// A variable's value or an expression's result. `Bool` counts as a number (Python's `bool` is
/// an `int`); `Str` is a non-numeric variable, which the grammar cannot compute with.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Value {
    /// Int, float or bool: what SparseML accepts as a numeric variable and as an eval() result.
    pub fn is_number(&self) -> bool {
        !matches!(self, Value::Str(_))
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Str(_) => None,
        }
    }
}

/// Python's `repr` for numbers and booleans (`3`, `3.0`, `0.1`, `1e-07`, `True`); a string is
/// shown as it is.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&py_float_repr(*x)),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, exponent form below 1e-4 and from
/// 1e16 on.
fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if !(-5 < exp && exp < 16) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.unsigned_abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}

/// A float as YAML 1.1 (PyYAML) reads it back as a float: Python's repr with a dot in the mantissa
/// (`1e-07` is a string to PyYAML, `1.0e-07` a float).
fn yaml11_float(x: f64) -> String {
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let repr = py_float_repr(x);
    match repr.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => repr,
    }
}

// ---------------------------------------------------------------------------------------------
// The syntax tree
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div | BinOp::FloorDiv | BinOp::Mod => 2,
            BinOp::Pow => 4,
        }
    }
}

/// The functions SparseML lets `eval()` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Abs,
    Float,
    Int,
    Min,
    Max,
    Round,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Abs => "abs",
            Func::Float => "float",
            Func::Int => "int",
            Func::Min => "min",
            Func::Max => "max",
            Func::Round => "round",
        }
    }

    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "abs" => Func::Abs,
            "float" => Func::Float,
            "int" => Func::Int,
            "min" => Func::Min,
            "max" => Func::Max,
            "round" => Func::Round,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Keyword {
    pub name: String,
    pub name_span: Span,
    pub value: Expr,
}

/// A parsed expression. Spans are byte ranges in the text given to [`parse_eval`]; like Python's
/// AST, a node's span includes the parentheses around its operands but not its own.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int {
        value: i64,
        span: Span,
    },
    Float {
        value: f64,
        span: Span,
    },
    Name {
        name: String,
        span: Span,
    },
    /// `-operand`: valid Python that SparseML cannot evaluate (`eval-unary-minus`).
    Neg {
        operand: Box<Expr>,
        span: Span,
    },
    Binary {
        op: BinOp,
        op_span: Span,
        left: Box<Expr>,
        right: Box<Expr>,
        span: Span,
    },
    Call {
        func: Func,
        func_span: Span,
        args: Vec<Expr>,
        keywords: Vec<Keyword>,
        span: Span,
    },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Int { span, .. }
            | Expr::Float { span, .. }
            | Expr::Name { span, .. }
            | Expr::Neg { span, .. }
            | Expr::Binary { span, .. }
            | Expr::Call { span, .. } => *span,
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary { op, .. } => op.precedence(),
            Expr::Neg { .. } => 3,
            _ => 5,
        }
    }
}

/// Python source for the expression, with the parentheses its precedence needs.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        render(self, &mut out);
        f.write_str(&out)
    }
}

fn render(e: &Expr, out: &mut String) {
    match e {
        Expr::Int { value, .. } => out.push_str(&value.to_string()),
        Expr::Float { value, .. } if value.is_infinite() => out.push_str("1e999"),
        Expr::Float { value, .. } => out.push_str(&py_float_repr(*value)),
        Expr::Name { name, .. } => out.push_str(name),
        Expr::Neg { operand, .. } => {
            out.push('-');
            render_min(operand, 3, out);
        }
        Expr::Binary {
            op, left, right, ..
        } => {
            let (l, r) = match op {
                BinOp::Pow => (5, 3),
                _ => (op.precedence(), op.precedence() + 1),
            };
            render_min(left, l, out);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            render_min(right, r, out);
        }
        Expr::Call {
            func,
            args,
            keywords,
            ..
        } => {
            out.push_str(func.name());
            out.push('(');
            let mut first = true;
            for a in args {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                render(a, out);
            }
            for k in keywords {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                out.push_str(&k.name);
                out.push('=');
                render(&k.value, out);
            }
            out.push(')');
        }
    }
}

fn render_min(e: &Expr, min_precedence: u8, out: &mut String) {
    if e.precedence() < min_precedence {
        out.push('(');
        render(e, out);
        out.push(')');
    } else {
        render(e, out);
    }
}

// ---------------------------------------------------------------------------------------------
// Recognising eval strings
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Tokenizer (Python's, for the tokens an expression can contain)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i64),
    /// An integer literal beyond 64 bits (valid Python, beyond prunekit).
    BigInt,
    Float(f64),
    /// An imaginary literal such as `2j`.
    Imag,
    /// An identifier or keyword.
    Name(String),
    /// A string literal, any prefix or quoting.
    Str,
    Op(&'static str),
    /// The end of a logical line (a newline outside brackets).
    Newline,
    Error(String),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    span: Span,
}

/// Python's `str.strip()` whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The byte range of `text` without leading and trailing whitespace, as `str.strip()` gives it.
fn py_strip(text: &str) -> (usize, usize) {
    let start = text.len() - text.trim_start_matches(is_py_space).len();
    let end = text.trim_end_matches(is_py_space).len().max(start);
    (start, end)
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    )
}

fn tokenize(text: &str, start: usize, end: usize) -> Vec<Token> {
    let s = &text[..end];
    let b = s.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut depth = 0usize;
    let mut i = start;
    while i < end {
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        let width = c.len_utf8();
        match c {
            ' ' | '\t' | '\x0c' => i += 1,
            '\n' | '\r' => {
                if depth == 0 && out.last().is_some_and(|t| t.tok != Tok::Newline) {
                    out.push(Token {
                        tok: Tok::Newline,
                        span: Span {
                            start: i,
                            end: i + 1,
                        },
                    });
                }
                i += 1;
            }
            '#' => {
                while i < end && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
            }
            '\\' => {
                let j = i + 1;
                if j < end && (b[j] == b'\n' || b[j] == b'\r') {
                    i = if b[j] == b'\r' && j + 1 < end && b[j + 1] == b'\n' {
                        j + 2
                    } else {
                        j + 1
                    };
                } else {
                    let e = s[j..].chars().next().map_or(j, |c| j + c.len_utf8());
                    out.push(Token {
                        tok: Tok::Error(
                            "A backslash is only allowed at the end of a line: remove it.".into(),
                        ),
                        span: Span { start: i, end: e },
                    });
                    i = e;
                }
            }
            '0'..='9' => {
                let (tok, e) = lex_number(s, i, end);
                out.push(Token {
                    tok,
                    span: Span { start: i, end: e },
                });
                i = e;
            }
            '.' if i + 1 < end && b[i + 1].is_ascii_digit() => {
                let (tok, e) = lex_number(s, i, end);
                out.push(Token {
                    tok,
                    span: Span { start: i, end: e },
                });
                i = e;
            }
            '\'' | '"' => {
                let (tok, e) = lex_string(b, i, end);
                out.push(Token {
                    tok,
                    span: Span { start: i, end: e },
                });
                i = e;
            }
            c if is_ident_start(c) => {
                let mut e = i + width;
                while let Some(d) = s[e..].chars().next() {
                    if !is_ident_continue(d) {
                        break;
                    }
                    e += d.len_utf8();
                }
                let word = &s[i..e];
                if e < end && (b[e] == b'\'' || b[e] == b'"') && is_string_prefix(word) {
                    let (tok, e2) = lex_string(b, e, end);
                    out.push(Token {
                        tok,
                        span: Span { start: i, end: e2 },
                    });
                    i = e2;
                } else {
                    out.push(Token {
                        tok: Tok::Name(word.to_string()),
                        span: Span { start: i, end: e },
                    });
                    i = e;
                }
            }
            _ => {
                let rest = &s[i..];
                if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
                    match *op {
                        "(" | "[" | "{" => depth += 1,
                        ")" | "]" | "}" => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    out.push(Token {
                        tok: Tok::Op(op),
                        span: Span {
                            start: i,
                            end: i + op.len(),
                        },
                    });
                    i += op.len();
                } else {
                    let message = if c.is_whitespace() || c.is_control() {
                        format!(
                            "The invisible character U+{:04X} is not valid in an expression: replace it with a plain space.",
                            c as u32
                        )
                    } else {
                        format!(
                            "The character `{c}` cannot appear in an eval() expression: remove it."
                        )
                    };
                    out.push(Token {
                        tok: Tok::Error(message),
                        span: Span {
                            start: i,
                            end: i + width,
                        },
                    });
                    i += width;
                }
            }
        }
    }
    out
}

/// `digit (_? digit)*` from `i`: the end, whether the underscores were well placed, and the number
/// of digits. `leading_underscore` allows one `_` before the first digit (`0x_ff`).
fn digit_run(
    b: &[u8],
    mut i: usize,
    end: usize,
    radix: u32,
    leading_underscore: bool,
) -> (usize, bool, usize) {
    let is_digit = |c: u8| char::from(c).is_digit(radix);
    let mut count = 0;
    loop {
        if i < end && is_digit(b[i]) {
            i += 1;
            count += 1;
        } else if i < end && b[i] == b'_' {
            if (count > 0 || leading_underscore) && i + 1 < end && is_digit(b[i + 1]) {
                i += 1;
            } else {
                return (i + 1, false, count);
            }
        } else {
            return (i, true, count);
        }
    }
}

/// Identifier characters glued to a number (`1abc`): where they end, and whether there were any.
fn ident_tail(s: &str, mut i: usize, end: usize) -> (usize, bool) {
    let start = i;
    while i < end {
        match s[i..].chars().next() {
            Some(c) if is_ident_continue(c) => i += c.len_utf8(),
            _ => break,
        }
    }
    (i, i > start)
}

fn lex_number(s: &str, start: usize, end: usize) -> (Tok, usize) {
    let b = s.as_bytes();
    let invalid = |kind: &str| {
        Tok::Error(format!(
            "This is not a valid {kind} literal: write a number such as 10, 0.5 or 1.0e-3."
        ))
    };
    if b[start] == b'0' && start + 1 < end && matches!(b[start + 1] | 0x20, b'x' | b'o' | b'b') {
        let (radix, kind) = match b[start + 1] | 0x20 {
            b'x' => (16, "hexadecimal"),
            b'o' => (8, "octal"),
            _ => (2, "binary"),
        };
        let digits_start = start + 2;
        let (e, ok, count) = digit_run(b, digits_start, end, radix, true);
        let (e, tail) = ident_tail(s, e, end);
        if !ok || count == 0 || tail {
            return (invalid(kind), e);
        }
        let digits: String = s[digits_start..e].chars().filter(|c| *c != '_').collect();
        return (
            i64::from_str_radix(&digits, radix).map_or(Tok::BigInt, Tok::Int),
            e,
        );
    }
    let (mut i, mut ok, _) = digit_run(b, start, end, 10, false);
    let mut is_float = false;
    if ok && i < end && b[i] == b'.' {
        is_float = true;
        let (e, ok2, _) = digit_run(b, i + 1, end, 10, false);
        i = e;
        ok = ok2;
    }
    if ok && i < end && (b[i] | 0x20) == b'e' {
        let mut k = i + 1;
        if k < end && (b[k] == b'+' || b[k] == b'-') {
            k += 1;
        }
        let (e, ok3, count) = digit_run(b, k, end, 10, false);
        if count == 0 {
            ok = false;
            i = k;
        } else {
            i = e;
            ok = ok3;
            is_float = true;
        }
    }
    let mut imaginary = false;
    if ok && i < end && (b[i] | 0x20) == b'j' {
        imaginary = true;
        i += 1;
    }
    let (i, tail) = ident_tail(s, i, end);
    if !ok || tail {
        return (invalid("decimal"), i);
    }
    if imaginary {
        return (Tok::Imag, i);
    }
    let lexeme: String = s[start..i].chars().filter(|c| *c != '_').collect();
    if is_float {
        return (
            lexeme
                .parse::<f64>()
                .map_or_else(|_| invalid("float"), Tok::Float),
            i,
        );
    }
    if lexeme.len() > 1 && lexeme.starts_with('0') && lexeme.bytes().any(|c| c != b'0') {
        return (
            Tok::Error("Python does not allow leading zeros in integers (`007`): write 7, or 0o7 for octal.".into()),
            i,
        );
    }
    (lexeme.parse::<i64>().map_or(Tok::BigInt, Tok::Int), i)
}

/// A string literal whose opening quote is at `q`: the token and where it ends.
fn lex_string(b: &[u8], q: usize, end: usize) -> (Tok, usize) {
    let quote = b[q];
    let triple = q + 2 < end && b[q + 1] == quote && b[q + 2] == quote;
    let mut i = if triple { q + 3 } else { q + 1 };
    let unterminated = || {
        Tok::Error("This string is never closed; strings are not allowed in eval() anyway.".into())
    };
    loop {
        if i >= end {
            return (unterminated(), end);
        }
        let c = b[i];
        if c == b'\\' {
            i += 2;
            continue;
        }
        if !triple && (c == b'\n' || c == b'\r') {
            return (unterminated(), i);
        }
        if c == quote {
            if !triple {
                return (Tok::Str, i + 1);
            }
            if i + 2 < end && b[i + 1] == quote && b[i + 2] == quote {
                return (Tok::Str, i + 3);
            }
        }
        i += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// Parses the text inside `eval(` … `)` with SparseML's restricted grammar (recipes.md §5.4).
///
/// Like SparseML (`ast.parse(expression.strip())`), surrounding whitespace is ignored and comments
/// are allowed. Everything the grammar excludes is an `eval-syntax` error at the offending
/// construct; a unary minus parses to [`Expr::Neg`], which [`evaluate`] rejects. Integer literals
/// beyond 64 bits and imaginary literals are `eval-type` errors.
pub fn parse_eval(text: &str) -> Result<Expr, EvalError> {
    let (start, end) = py_strip(text);
    if start == end {
        return Err(syntax(
            Span {
                start: 0,
                end: text.len(),
            },
            "eval() is empty: write an expression such as `eval(num_epochs - 1)`.",
        ));
    }
    let toks = tokenize(text, start, end);
    if let Some((span, message)) = toks.iter().find_map(|t| match &t.tok {
        Tok::Error(message) => Some((t.span, message.clone())),
        _ => None,
    }) {
        return Err(syntax(span, message));
    }
    if toks.is_empty() {
        return Err(syntax(
            Span { start, end },
            "eval() holds only a comment: write an expression such as `eval(num_epochs - 1)`.",
        ));
    }
    let mut parser = Parser {
        text,
        toks,
        pos: 0,
        end,
        nest: 0,
        deferred: None,
    };
    parser.statement_start()?;
    let p = parser.expr()?;
    parser.finish()?;
    // Python parses the whole text before evaluating: syntax errors come first.
    match parser.deferred {
        Some(e) => Err(e),
        None => Ok(p.e),
    }
}

struct P {
    e: Expr,
    depth: usize,
    /// The source extent, including the node's own parentheses.
    ext: Span,
}

type PResult = Result<P, EvalError>;

struct Parser<'t> {
    text: &'t str,
    toks: Vec<Token>,
    pos: usize,
    end: usize,
    nest: usize,
    /// The first problem that is valid Python syntax but fails when SparseML evaluates it (a
    /// complex literal, an integer beyond 64 bits, `**x`): reported only if the whole text parses.
    deferred: Option<EvalError>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, k: usize) -> Option<&Tok> {
        self.toks.get(self.pos + k).map(|t| &t.tok)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    /// The current token's span, or the end of the expression.
    fn here(&self) -> Span {
        self.toks.get(self.pos).map_or(
            Span {
                start: self.end,
                end: self.end,
            },
            |t| t.span,
        )
    }

    fn bump(&mut self) -> Span {
        let span = self.here();
        self.pos += 1;
        span
    }

    fn source(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    fn defer(&mut self, e: EvalError) {
        self.deferred.get_or_insert(e);
    }

    fn enter(&mut self) -> Result<(), EvalError> {
        self.nest += 1;
        if self.nest > MAX_NEST {
            Err(too_deep(self.here()))
        } else {
            Ok(())
        }
    }

    fn ends_early(&self) -> EvalError {
        let span = self.toks.last().map_or(
            Span {
                start: self.end,
                end: self.end,
            },
            |t| t.span,
        );
        syntax(
            span,
            "The expression ends too early: add the missing number, variable or `)`.",
        )
    }

    fn statement_start(&self) -> Result<(), EvalError> {
        if let Some(Tok::Name(n)) = self.peek()
            && STATEMENT_KEYWORDS.contains(&n.as_str())
        {
            return Err(syntax(
                self.here(),
                format!(
                    "`{n}` statements are not allowed in eval(): write one arithmetic expression."
                ),
            ));
        }
        Ok(())
    }

    /// After the expression: nothing, or one `;` and line breaks.
    fn finish(&mut self) -> Result<(), EvalError> {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Ok(());
        };
        match &t.tok {
            Tok::Op(";") | Tok::Newline => {
                let skip = usize::from(t.tok == Tok::Op(";"));
                let rest = self.toks[self.pos + skip..]
                    .iter()
                    .find(|t| t.tok != Tok::Newline);
                match rest {
                    None => Ok(()),
                    Some(r) => Err(syntax(
                        Span {
                            start: r.span.start,
                            end: self.end,
                        },
                        "SparseML evaluates only the first statement of eval(): remove everything after the `;` or line break.",
                    )),
                }
            }
            Tok::Op("=") => Err(syntax(
                t.span,
                "Assignments are not allowed in eval(): write only the expression.",
            )),
            Tok::Op(o) if o.len() >= 2 && o.ends_with('=') => Err(syntax(
                t.span,
                format!(
                    "`{o}` (an assignment) is not allowed in eval(): write only the expression."
                ),
            )),
            Tok::Op(",") => Err(tuple_error(t.span)),
            Tok::Op(")" | "]" | "}") => Err(syntax(
                t.span,
                format!(
                    "Unmatched `{}`: remove it or add the opening bracket.",
                    self.source(t.span)
                ),
            )),
            Tok::Int(_) | Tok::BigInt | Tok::Float(_) | Tok::Imag | Tok::Name(_) | Tok::Str => {
                Err(syntax(
                    t.span,
                    format!(
                        "An operator is missing before `{}`: {ALLOWED}.",
                        self.source(t.span)
                    ),
                ))
            }
            _ => Err(self.unexpected(&t)),
        }
    }

    fn unexpected(&self, t: &Token) -> EvalError {
        match &t.tok {
            Tok::Newline => self.ends_early(),
            _ => syntax(
                t.span,
                format!("Unexpected `{}`: {ALLOWED}.", self.source(t.span)),
            ),
        }
    }

    fn expr(&mut self) -> PResult {
        self.enter()?;
        let p = self.additive()?;
        self.nest -= 1;
        if let Some(message) = self.unsupported_infix() {
            return Err(syntax(self.here(), message));
        }
        Ok(p)
    }

    /// Valid Python that may follow an arithmetic expression but that the grammar excludes.
    fn unsupported_infix(&self) -> Option<String> {
        let comparison = || format!("Comparisons are not allowed: {ALLOWED}.");
        match self.peek()? {
            Tok::Op(op) => match *op {
                "<" | ">" | "<=" | ">=" | "==" | "!=" => Some(comparison()),
                "<<" | ">>" | "&" | "|" | "^" | "@" => Some(format!(
                    "The operator `{op}` is not supported (\"Unsupported binary operator type\"): {ALLOWED}."
                )),
                ":=" => Some(format!(
                    "Assignment expressions (`:=`) are not allowed: {ALLOWED}."
                )),
                _ => None,
            },
            Tok::Name(n) => match n.as_str() {
                "in" | "is" | "not" => Some(comparison()),
                "and" | "or" => Some(format!(
                    "Boolean operators (`{n}`) are not allowed: {ALLOWED}."
                )),
                "if" => Some(format!(
                    "Conditional expressions (`a if c else b`) are not allowed: {ALLOWED}."
                )),
                "for" | "async" => Some(format!(
                    "Comprehensions and generators are not allowed: {ALLOWED}."
                )),
                _ => None,
            },
            _ => None,
        }
    }

    fn binary(&self, op: BinOp, op_span: Span, left: P, right: P) -> PResult {
        let depth = 1 + left.depth.max(right.depth);
        let span = Span {
            start: left.ext.start,
            end: right.ext.end,
        };
        if depth > MAX_DEPTH {
            return Err(too_deep(op_span));
        }
        Ok(P {
            e: Expr::Binary {
                op,
                op_span,
                left: Box::new(left.e),
                right: Box::new(right.e),
                span,
            },
            depth,
            ext: span,
        })
    }

    fn additive(&mut self) -> PResult {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("+")) => BinOp::Add,
                Some(Tok::Op("-")) => BinOp::Sub,
                _ => return Ok(left),
            };
            let op_span = self.bump();
            let right = self.multiplicative()?;
            left = self.binary(op, op_span, left, right)?;
        }
    }

    fn multiplicative(&mut self) -> PResult {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op("*")) => BinOp::Mul,
                Some(Tok::Op("/")) => BinOp::Div,
                Some(Tok::Op("//")) => BinOp::FloorDiv,
                Some(Tok::Op("%")) => BinOp::Mod,
                _ => return Ok(left),
            };
            let op_span = self.bump();
            let right = self.unary()?;
            left = self.binary(op, op_span, left, right)?;
        }
    }

    fn unary(&mut self) -> PResult {
        match self.peek() {
            Some(Tok::Op("-")) => {
                let minus = self.bump();
                self.enter()?;
                let operand = self.unary()?;
                self.nest -= 1;
                let span = Span {
                    start: minus.start,
                    end: operand.ext.end,
                };
                let depth = operand.depth + 1;
                if depth > MAX_DEPTH {
                    return Err(too_deep(minus));
                }
                Ok(P {
                    e: Expr::Neg {
                        operand: Box::new(operand.e),
                        span,
                    },
                    depth,
                    ext: span,
                })
            }
            Some(Tok::Op("+")) => Err(syntax(
                self.here(),
                "SparseML's eval() does not support a unary `+` (\"Unsupported binary operator type\"): remove the `+`.",
            )),
            Some(Tok::Op("~")) => Err(syntax(
                self.here(),
                format!(
                    "The operator `~` is not supported (\"Unsupported binary operator type\"): {ALLOWED}."
                ),
            )),
            Some(Tok::Name(n)) if n == "not" => Err(syntax(
                self.here(),
                format!("Boolean operators (`not`) are not allowed: {ALLOWED}."),
            )),
            _ => self.power(),
        }
    }

    fn power(&mut self) -> PResult {
        let base = self.primary()?;
        if !self.is_op("**") {
            return Ok(base);
        }
        let op_span = self.bump();
        self.enter()?;
        let exponent = self.unary()?;
        self.nest -= 1;
        self.binary(BinOp::Pow, op_span, base, exponent)
    }

    fn primary(&mut self) -> PResult {
        let mut p = self.atom()?;
        loop {
            if self.is_op("(") {
                let Expr::Name { name, span } = &p.e else {
                    return Err(syntax(
                        self.here(),
                        "Only abs, float, int, min, max and round can be called in eval(): remove the `(`…`)` after this value.",
                    ));
                };
                let (name, span) = (name.clone(), *span);
                p = self.call(name, span, p.ext)?;
            } else if self.is_op(".") {
                let dot = self.here();
                let end = match self.peek_at(1) {
                    Some(Tok::Name(_)) => self.toks[self.pos + 1].span.end,
                    _ => dot.end,
                };
                return Err(syntax(
                    Span {
                        start: p.ext.start,
                        end,
                    },
                    format!("Attribute access (`x.y`) is not allowed: {ALLOWED}."),
                ));
            } else if self.is_op("[") {
                return Err(syntax(
                    self.here(),
                    format!("Subscripts (`x[i]`) are not allowed: {ALLOWED}."),
                ));
            } else {
                return Ok(p);
            }
        }
    }

    fn call(&mut self, name: String, name_span: Span, ext: Span) -> PResult {
        let Some(func) = Func::from_name(&name) else {
            let message = match did_you_mean(&name, FUNCTION_NAMES) {
                Some(s) => {
                    format!("`{name}` is not a function eval() can call: did you mean `{s}`?")
                }
                None => format!(
                    "`{name}` is not a function eval() can call: use abs, float, int, min, max or round."
                ),
            };
            return Err(syntax(name_span, message));
        };
        let open = self.bump();
        self.enter()?;
        let mut args: Vec<Expr> = Vec::new();
        let mut keywords: Vec<Keyword> = Vec::new();
        let mut depth = 1;
        let close = loop {
            if self.is_op(")") {
                break self.bump();
            }
            if self.is_op("*") {
                return Err(syntax(
                    self.here(),
                    format!("Starred arguments (`*x`) are not allowed: {ALLOWED}."),
                ));
            }
            if self.is_op("**") {
                let span = self.bump();
                self.defer(error(
                    EVAL_TYPE,
                    span,
                    "Keyword unpacking (`**x`) fails in SparseML (TypeError: keywords must be strings): pass the arguments one by one.",
                ));
                self.expr()?;
                if self.is_op(",") {
                    self.bump();
                }
                continue;
            }
            let keyword = match (self.peek(), self.peek_at(1)) {
                (Some(Tok::Name(n)), Some(Tok::Op("="))) if !is_keyword(n) => Some(n.clone()),
                _ => None,
            };
            if let Some(kname) = keyword {
                let kspan = self.bump();
                self.bump();
                let value = self.expr()?;
                depth = depth.max(value.depth + 1);
                keywords.push(Keyword {
                    name: kname,
                    name_span: kspan,
                    value: value.e,
                });
            } else {
                if !keywords.is_empty() {
                    return Err(syntax(
                        self.here(),
                        "A positional argument cannot follow a keyword argument: move it before the keyword arguments.",
                    ));
                }
                let arg = self.expr()?;
                depth = depth.max(arg.depth + 1);
                args.push(arg.e);
            }
            if self.is_op(",") {
                self.bump();
                continue;
            }
            if self.is_op(")") {
                continue;
            }
            return Err(match self.toks.get(self.pos) {
                None => syntax(open, "This `(` is never closed: add the missing `)`."),
                Some(t) => syntax(
                    t.span,
                    format!(
                        "Unexpected `{}` in the arguments: separate them with `,` and close with `)`.",
                        self.source(t.span)
                    ),
                ),
            });
        };
        self.nest -= 1;
        if depth > MAX_DEPTH {
            return Err(too_deep(name_span));
        }
        let span = Span {
            start: ext.start,
            end: close.end,
        };
        Ok(P {
            e: Expr::Call {
                func,
                func_span: name_span,
                args,
                keywords,
                span,
            },
            depth,
            ext: span,
        })
    }

    fn atom(&mut self) -> PResult {
        let Some(t) = self.toks.get(self.pos).cloned() else {
            return Err(self.ends_early());
        };
        let leaf = |e: Expr| {
            Ok(P {
                e,
                depth: 1,
                ext: t.span,
            })
        };
        match t.tok {
            Tok::Int(value) => {
                self.pos += 1;
                leaf(Expr::Int {
                    value,
                    span: t.span,
                })
            }
            Tok::Float(value) => {
                self.pos += 1;
                leaf(Expr::Float {
                    value,
                    span: t.span,
                })
            }
            Tok::BigInt | Tok::Imag => {
                self.pos += 1;
                self.defer(error(
                    EVAL_TYPE,
                    t.span,
                    if t.tok == Tok::Imag {
                        "Complex numbers such as `2j` cannot be used: a recipe value must be a float or int."
                    } else {
                        "This integer is beyond prunekit's 64-bit range: write it as a float such as 1.0e20."
                    },
                ));
                leaf(Expr::Int {
                    value: 0,
                    span: t.span,
                })
            }
            Tok::Str => Err(syntax(
                t.span,
                format!("Strings are not allowed: {ALLOWED}."),
            )),
            Tok::Name(name) if is_keyword(&name) => Err(syntax(t.span, keyword_message(&name))),
            Tok::Name(name) => {
                self.pos += 1;
                leaf(Expr::Name { name, span: t.span })
            }
            Tok::Op("(") => self.parenthesized(),
            Tok::Op("[") => Err(syntax(
                t.span,
                format!("Lists and list comprehensions are not allowed: {ALLOWED}."),
            )),
            Tok::Op("{") => Err(syntax(
                t.span,
                format!("Dicts, sets and comprehensions are not allowed: {ALLOWED}."),
            )),
            Tok::Op("*" | "**") => Err(syntax(
                t.span,
                format!("Starred expressions (`*x`) are not allowed: {ALLOWED}."),
            )),
            Tok::Op("...") => Err(syntax(t.span, format!("`...` is not allowed: {ALLOWED}."))),
            Tok::Op(";") => Err(self.ends_early()),
            _ => Err(self.unexpected(&t)),
        }
    }

    fn parenthesized(&mut self) -> PResult {
        let open = self.bump();
        if self.is_op(")") {
            let close = self.bump();
            return Err(syntax(
                Span {
                    start: open.start,
                    end: close.end,
                },
                "Empty parentheses (a tuple) are not allowed: put an expression inside.",
            ));
        }
        let inner = self.expr()?;
        if self.is_op(")") {
            let close = self.bump();
            return Ok(P {
                e: inner.e,
                depth: inner.depth,
                ext: Span {
                    start: open.start,
                    end: close.end,
                },
            });
        }
        if self.is_op(",") {
            return Err(tuple_error(self.here()));
        }
        match self.toks.get(self.pos).cloned() {
            None => Err(syntax(
                open,
                "This `(` is never closed: add the missing `)`.",
            )),
            Some(t) => Err(syntax(
                t.span,
                format!(
                    "Unexpected `{}`: an operator or the closing `)` is missing.",
                    self.source(t.span)
                ),
            )),
        }
    }
}

fn too_deep(span: Span) -> EvalError {
    syntax(span, "The expression is nested too deeply: simplify it.")
}

fn tuple_error(span: Span) -> EvalError {
    syntax(
        span,
        "Tuples (values separated by commas) are not allowed: write one expression, using min() or max() to combine values.",
    )
}

fn keyword_message(name: &str) -> String {
    match name {
        "True" | "False" => {
            format!("`{name}` is not allowed in eval(): use 1 or 0, or a boolean variable.")
        }
        "None" => "`None` is not allowed in eval(): use a number.".into(),
        "lambda" => format!("Lambdas are not allowed: {ALLOWED}."),
        "not" | "and" | "or" => format!("Boolean operators (`{name}`) are not allowed: {ALLOWED}."),
        _ => format!("The Python keyword `{name}` cannot appear here: {ALLOWED}."),
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// The variable names an expression uses, with their spans, in source order (function names and
/// keyword-argument names are not variables).
pub fn variables(expr: &Expr) -> Vec<(String, Span)> {
    fn walk(e: &Expr, out: &mut Vec<(String, Span)>) {
        match e {
            Expr::Name { name, span } => out.push((name.clone(), *span)),
            Expr::Neg { operand, .. } => walk(operand, out),
            Expr::Binary { left, right, .. } => {
                walk(left, out);
                walk(right, out);
            }
            Expr::Call { args, keywords, .. } => {
                args.iter().for_each(|a| walk(a, out));
                keywords.iter().for_each(|k| walk(&k.value, out));
            }
            Expr::Int { .. } | Expr::Float { .. } => {}
        }
    }
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

/// The names an expression text uses, found token by token so that it works on text that does not
/// parse (completion and go-to-definition while typing): identifiers that are not keywords, not
/// attribute names, not called, and not keyword-argument names.
pub fn scan_names(text: &str) -> Vec<(String, Span)> {
    let (start, end) = py_strip(text);
    let toks = tokenize(text, start, end);
    let mut out = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let Tok::Name(name) = &t.tok else { continue };
        let prev = k.checked_sub(1).and_then(|p| toks.get(p)).map(|t| &t.tok);
        let next = toks.get(k + 1).map(|t| &t.tok);
        if is_keyword(name)
            || matches!(prev, Some(Tok::Op(".")))
            || matches!(next, Some(Tok::Op("(" | "=")))
        {
            continue;
        }
        out.push((name.clone(), t.span));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

/// Evaluates a parsed expression as SparseML's `restricted_eval` does, with Python's number
/// semantics. `lookup` gives the variables; a name it does not know is `eval-unknown-variable`,
/// a `Str` it gives is `eval-type` (the grammar computes with numeric variables only). Any unary
/// minus is `eval-unary-minus`. Python's integers are unbounded; prunekit's are 64-bit, so an
/// integer result beyond that is an `eval-type` error.
///
/// This is the grammar only. In modifier fields SparseML first substitutes `eval(name)` whose text
/// is exactly the name of a non-numeric variable (a list, a string): [`Scope::evaluate_field`]
/// does that, and [`Scope`] resolves variable definitions.
pub fn evaluate(expr: &Expr, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Value, EvalError> {
    eval_node(expr, &mut |name: &str, span: Span| match lookup(name) {
        Some(Value::Str(_)) => Err(non_numeric_error(name, "a string", span)),
        Some(v) => Ok(v),
        None => Err(error(
            EVAL_UNKNOWN_VARIABLE,
            span,
            format!(
                "`{name}` is not a defined numeric variable: define it at the top level of the recipe or fix the name."
            ),
        )),
    })
}

/// [`parse_eval`] then [`evaluate`], with an `eval-unary-minus` message that quotes the whole
/// rewritten expression (`write eval(num_epochs - (0 - 1)) instead`).
pub fn evaluate_str(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, EvalError> {
    parse_eval(text)
        .and_then(|expr| evaluate(&expr, lookup))
        .map_err(|e| with_text(e, text))
}

type Lookup<'a> = dyn FnMut(&str, Span) -> Result<Value, EvalError> + 'a;

fn eval_node(e: &Expr, lookup: &mut Lookup<'_>) -> Result<Value, EvalError> {
    match e {
        Expr::Int { value, .. } => Ok(Value::Int(*value)),
        Expr::Float { value, .. } => Ok(Value::Float(*value)),
        Expr::Name { name, span } => match lookup(name, *span)? {
            Value::Str(_) => Err(non_numeric_error(name, "a string", *span)),
            v => Ok(v),
        },
        Expr::Neg { operand, span } => Err(unary_minus_error(operand, *span)),
        Expr::Binary {
            op,
            left,
            right,
            span,
            ..
        } => {
            let a = eval_node(left, lookup)?;
            let b = eval_node(right, lookup)?;
            binary_op(*op, &a, &b).map_err(|m| error(EVAL_TYPE, *span, m))
        }
        Expr::Call {
            func,
            args,
            keywords,
            span,
            ..
        } => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(eval_node(a, lookup)?);
            }
            // Python builds a dict of the keywords: a repeated name keeps its first place and its
            // last value.
            let mut named: Vec<(&str, Value)> = Vec::with_capacity(keywords.len());
            for k in keywords {
                let value = eval_node(&k.value, lookup)?;
                match named.iter_mut().find(|(n, _)| *n == k.name) {
                    Some(slot) => slot.1 = value,
                    None => named.push((k.name.as_str(), value)),
                }
            }
            call(*func, &values, &named).map_err(|m| error(EVAL_TYPE, *span, m))
        }
    }
}

fn non_numeric_error(name: &str, kind: &str, span: Span) -> EvalError {
    error(
        EVAL_TYPE,
        span,
        format!(
            "`{name}` is {kind}, and eval() computes only with numeric variables: use a number here (in a modifier field, `eval({name})` on its own substitutes it)."
        ),
    )
}

const UNARY_MINUS_FAILURE: &str =
    "fails in SparseML with AttributeError: 'UnaryOp' object has no attribute 'left'";

fn unary_minus_error(operand: &Expr, span: Span) -> EvalError {
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
fn with_text(mut e: EvalError, text: &str) -> EvalError {
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

/// The rewrite for `eval-unary-minus` (recipes.md §5.4: "`eval(0 - 1)`, or put negative numbers in
/// plain YAML").
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

// ---------------------------------------------------------------------------------------------
// Python number semantics
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn of(v: &Value) -> Result<Num, String> {
        match v {
            Value::Int(i) => Ok(Num::I(*i)),
            Value::Bool(b) => Ok(Num::I(i64::from(*b))),
            Value::Float(f) => Ok(Num::F(*f)),
            Value::Str(_) => Err("A string cannot be used in arithmetic: use a number.".into()),
        }
    }

    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

const INT_OVERFLOW: &str = "The integer result is beyond prunekit's 64-bit range (Python's integers are unbounded): use a float operand such as 2.0 to compute in floating point.";
const DIVISION_BY_ZERO: &str =
    "This divides by zero (ZeroDivisionError): make sure the divisor cannot be 0.";

fn fits_i64(v: i128) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| INT_OVERFLOW.to_string())
}

fn binary_op(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    let (a, b) = (Num::of(a)?, Num::of(b)?);
    let int = |r: Option<i64>| r.map(Value::Int).ok_or_else(|| INT_OVERFLOW.to_string());
    match (op, a, b) {
        (BinOp::Add, Num::I(x), Num::I(y)) => int(x.checked_add(y)),
        (BinOp::Sub, Num::I(x), Num::I(y)) => int(x.checked_sub(y)),
        (BinOp::Mul, Num::I(x), Num::I(y)) => int(x.checked_mul(y)),
        (BinOp::Add, ..) => Ok(Value::Float(a.f() + b.f())),
        (BinOp::Sub, ..) => Ok(Value::Float(a.f() - b.f())),
        (BinOp::Mul, ..) => Ok(Value::Float(a.f() * b.f())),
        (BinOp::Div, ..) => {
            if b.f() == 0.0 {
                Err(DIVISION_BY_ZERO.into())
            } else {
                Ok(Value::Float(a.f() / b.f()))
            }
        }
        (BinOp::FloorDiv, Num::I(x), Num::I(y)) => {
            let (q, _) = int_divmod(x, y)?;
            Ok(Value::Int(q))
        }
        (BinOp::Mod, Num::I(x), Num::I(y)) => {
            let (_, r) = int_divmod(x, y)?;
            Ok(Value::Int(r))
        }
        (BinOp::FloorDiv, ..) => float_divmod(a.f(), b.f()).map(|(q, _)| Value::Float(q)),
        (BinOp::Mod, ..) => float_divmod(a.f(), b.f()).map(|(_, r)| Value::Float(r)),
        (BinOp::Pow, Num::I(x), Num::I(y)) if y >= 0 => int(int_pow(x, y)),
        (BinOp::Pow, ..) => float_pow(a.f(), b.f()).map(Value::Float),
    }
}

/// Python's `divmod` for ints: the quotient is floored, the remainder takes the divisor's sign.
fn int_divmod(x: i64, y: i64) -> Result<(i64, i64), String> {
    if y == 0 {
        return Err(DIVISION_BY_ZERO.into());
    }
    let (x, y) = (i128::from(x), i128::from(y));
    let (mut q, mut r) = (x / y, x % y);
    if r != 0 && ((r < 0) != (y < 0)) {
        q -= 1;
        r += y;
    }
    Ok((fits_i64(q)?, fits_i64(r)?))
}

/// Python's `divmod` for floats (`float_divmod` in CPython).
fn float_divmod(x: f64, y: f64) -> Result<(f64, f64), String> {
    if y == 0.0 {
        return Err(DIVISION_BY_ZERO.into());
    }
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let q = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 { f + 1.0 } else { f }
    } else {
        0.0f64.copysign(x / y)
    };
    Ok((q, m))
}

fn int_pow(x: i64, y: i64) -> Option<i64> {
    match u32::try_from(y) {
        Ok(e) => x.checked_pow(e),
        Err(_) => match x {
            0 => Some(0),
            1 => Some(1),
            -1 => Some(if y % 2 == 0 { 1 } else { -1 }),
            _ => None,
        },
    }
}

fn is_odd_integer(y: f64) -> bool {
    y.is_finite() && y.fract() == 0.0 && (y % 2.0).abs() == 1.0
}

/// Python's `float.__pow__` (an int with a negative exponent goes through it too).
fn float_pow(x: f64, y: f64) -> Result<f64, String> {
    if y == 0.0 {
        return Ok(1.0);
    }
    if x.is_nan() {
        return Ok(x);
    }
    if y.is_nan() {
        return Ok(if x == 1.0 { 1.0 } else { y });
    }
    if y.is_infinite() {
        let ax = x.abs();
        return Ok(if ax == 1.0 {
            1.0
        } else if (y > 0.0) == (ax > 1.0) {
            f64::INFINITY
        } else {
            0.0
        });
    }
    if x.is_infinite() {
        let odd = is_odd_integer(y);
        return Ok(if y > 0.0 {
            if odd { x } else { x.abs() }
        } else if odd {
            0.0f64.copysign(x)
        } else {
            0.0
        });
    }
    if x == 0.0 {
        if y < 0.0 {
            return Err("0 cannot be raised to a negative power (ZeroDivisionError): change the base or the exponent.".into());
        }
        return Ok(if is_odd_integer(y) { x } else { 0.0 });
    }
    if x < 0.0 && y.fract() != 0.0 {
        return Err("A negative number raised to a fractional power gives a complex number, which a recipe cannot use: make the base non-negative.".into());
    }
    let r = x.powf(y);
    if r.is_infinite() {
        return Err(
            "The result of `**` is too large for a float (OverflowError): use a smaller exponent."
                .into(),
        );
    }
    Ok(r)
}

/// Python's `<` between two numbers (exact between ints and floats; false with NaN).
fn py_lt(a: Num, b: Num) -> bool {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x < y,
        (Num::F(x), Num::F(y)) => x < y,
        (Num::I(x), Num::F(y)) => cmp_int_float(x, y) == Some(Ordering::Less),
        (Num::F(x), Num::I(y)) => cmp_int_float(y, x) == Some(Ordering::Greater),
    }
}

fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    Some(match i.cmp(&(t as i64)) {
        Ordering::Equal => {
            let frac = f - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    })
}

/// A float converted to int as `int()` does (truncating), within 64 bits.
fn float_to_int(f: f64, func: &str) -> Result<Value, String> {
    if f.is_nan() {
        return Err(format!(
            "{func} cannot convert NaN to an integer (ValueError): check the operands."
        ));
    }
    if f.is_infinite() {
        return Err(format!(
            "{func} cannot convert an infinite float to an integer (OverflowError): check the operands."
        ));
    }
    let t = f.trunc();
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        Ok(Value::Int(t as i64))
    } else {
        Err(INT_OVERFLOW.into())
    }
}

fn call(func: Func, args: &[Value], keywords: &[(&str, Value)]) -> Result<Value, String> {
    let name = func.name();
    let no_keywords = || match keywords.first() {
        Some((k, _)) => Err(format!(
            "{name}() does not take the keyword argument `{k}`: pass the value positionally."
        )),
        None => Ok(()),
    };
    match func {
        Func::Abs => {
            no_keywords()?;
            let [v] = args else {
                return Err(format!(
                    "abs() takes exactly one number, not {}: write `abs(x)`.",
                    args.len()
                ));
            };
            match Num::of(v)? {
                Num::I(i) => i
                    .checked_abs()
                    .map(Value::Int)
                    .ok_or_else(|| INT_OVERFLOW.to_string()),
                Num::F(f) => Ok(Value::Float(f.abs())),
            }
        }
        Func::Float => {
            no_keywords()?;
            match args {
                [] => Ok(Value::Float(0.0)),
                [v] => Ok(Value::Float(Num::of(v)?.f())),
                _ => Err("float() takes at most one number: write `float(x)`.".into()),
            }
        }
        Func::Int => {
            if keywords.iter().any(|(k, _)| *k == "base") || args.len() > 1 {
                return Err("int() with a base converts only strings, which eval() cannot use: write `int(x)`.".into());
            }
            no_keywords()?;
            match args.first() {
                None => Ok(Value::Int(0)),
                Some(v) => match Num::of(v)? {
                    Num::I(i) => Ok(Value::Int(i)),
                    Num::F(f) => float_to_int(f, "int()"),
                },
            }
        }
        Func::Min | Func::Max => {
            if let Some((k, _)) = keywords.first() {
                return Err(match *k {
                    "key" => format!(
                        "{name}()'s `key` must be a function, which eval() cannot express: remove it."
                    ),
                    "default" => format!(
                        "{name}()'s `default` only applies to an iterable, which eval() cannot express: remove it."
                    ),
                    _ => format!("{name}() does not take the keyword argument `{k}`: remove it."),
                });
            }
            let Some((first, rest)) = args.split_first() else {
                return Err(format!(
                    "{name}() needs at least two numbers: write `{name}(a, b)`."
                ));
            };
            if rest.is_empty() {
                return Err(format!(
                    "{name}() with one number fails in Python ('int' object is not iterable): pass at least two numbers."
                ));
            }
            let mut best = first;
            for v in rest {
                let (candidate, current) = (Num::of(v)?, Num::of(best)?);
                let replace = if func == Func::Min {
                    py_lt(candidate, current)
                } else {
                    py_lt(current, candidate)
                };
                if replace {
                    best = v;
                }
            }
            Ok(best.clone())
        }
        Func::Round => {
            if args.len() > 2 {
                return Err(
                    "round() takes at most two arguments: write `round(x)` or `round(x, ndigits)`."
                        .into(),
                );
            }
            let mut number = args.first();
            let mut ndigits = args.get(1);
            for (k, v) in keywords {
                let slot = match *k {
                    "number" => &mut number,
                    "ndigits" => &mut ndigits,
                    _ => {
                        return Err(format!(
                            "round() does not take the keyword argument `{k}`: use `ndigits`."
                        ));
                    }
                };
                if slot.is_some() {
                    return Err(format!(
                        "round() got `{k}` twice, by position and by name: give it once."
                    ));
                }
                *slot = Some(v);
            }
            let Some(number) = number else {
                return Err(
                    "round() needs a number: write `round(x)` or `round(x, ndigits=2)`.".into(),
                );
            };
            let Some(ndigits) = ndigits else {
                return match Num::of(number)? {
                    Num::I(i) => Ok(Value::Int(i)),
                    Num::F(f) => float_to_int(f.round_ties_even(), "round()"),
                };
            };
            let ndigits = match ndigits {
                Value::Int(i) => *i,
                Value::Bool(b) => i64::from(*b),
                _ => {
                    return Err(
                        "round()'s ndigits must be an integer: write e.g. `round(x, 2)`.".into(),
                    );
                }
            };
            match Num::of(number)? {
                Num::I(i) => round_int(i, ndigits).map(Value::Int),
                Num::F(f) => round_float(f, ndigits).map(Value::Float),
            }
        }
    }
}

/// `round(int, ndigits)`: unchanged for ndigits >= 0, else half-to-even at 10**-ndigits.
fn round_int(i: i64, ndigits: i64) -> Result<i64, String> {
    if ndigits >= 0 {
        return Ok(i);
    }
    let k = ndigits.unsigned_abs();
    if k >= 20 {
        return Ok(0);
    }
    let p = 10i128.pow(k as u32);
    let x = i128::from(i);
    let (mut q, r) = (x.div_euclid(p), x.rem_euclid(p));
    if 2 * r > p || (2 * r == p && q % 2 != 0) {
        q += 1;
    }
    fits_i64(q * p)
}

/// `round(float, ndigits)`: the exact binary value rounded half-to-even at the decimal digit, as
/// CPython does with correctly rounded decimal conversion.
fn round_float(x: f64, ndigits: i64) -> Result<f64, String> {
    if !x.is_finite() || x == 0.0 || ndigits > 323 {
        return Ok(x);
    }
    if ndigits < -308 {
        return Ok(0.0 * x);
    }
    if ndigits >= 0 {
        // Rust formats the exact value and rounds ties to even, like CPython's dtoa mode 3.
        let s = format!("{:.*}", ndigits as usize, x);
        return Ok(s.parse::<f64>().unwrap_or(x));
    }
    let k = ndigits.unsigned_abs() as usize;
    let ax = x.abs();
    let digits = format!("{:.0}", ax.trunc());
    let fraction = ax.fract() != 0.0;
    let (head, tail) = if digits.len() > k {
        digits.split_at(digits.len() - k)
    } else {
        ("0", digits.as_str())
    };
    let rounded_up = if tail.len() < k {
        false
    } else {
        let bytes = tail.as_bytes();
        match bytes[0].cmp(&b'5') {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => {
                let beyond_half = fraction || bytes[1..].iter().any(|c| *c != b'0');
                beyond_half || head.bytes().last().is_some_and(|c| (c - b'0') % 2 == 1)
            }
        }
    };
    let head = if rounded_up {
        increment_decimal(head)
    } else {
        head.to_string()
    };
    let r: f64 = format!("{head}e{k}").parse().unwrap_or(f64::INFINITY);
    if r.is_infinite() {
        return Err(
            "The rounded value is too large for a float (OverflowError): round to fewer digits."
                .into(),
        );
    }
    Ok(r.copysign(x))
}

fn increment_decimal(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    let mut out = String::from("1");
    out.push_str(&String::from_utf8(bytes).unwrap_or_default());
    out
}

// ---------------------------------------------------------------------------------------------
// Variables
// ---------------------------------------------------------------------------------------------

/// A variable's definition as YAML gives it (recipes.md §3.4, §5.1).
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
/// them (recipes.md §5.2, §5.3, §5.5):
///
/// - definitions are taken in order of first appearance, the last definition of a name winning
///   (PyYAML keeps the last duplicate key);
/// - eval strings are evaluated in any order, with the values SparseML's repeated passes reach
///   (each is evaluated again only when a variable it waits for gets its value); what is left
///   forms or depends on a cycle (`eval-cycle`);
/// - a variable defined with `eval()` must be a number: `b: eval(a)` with a string, list or null
///   `a` is `eval-type`;
/// - in a stage, `eval(name)` whose text is exactly a global key takes the global value, even when
///   the stage redefines `name` (the scoping bug of §5.5), and a stage variable's expression
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

    /// Evaluates the text inside a modifier field's `eval(` … `)` (recipes.md §5.3): the exact name
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
    let suggestions = Cell::new(MAX_SUGGESTIONS);
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
    suggestions: &'c Cell<usize>,
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
                let left = self.suggestions.get();
                self.suggestions.set(left.saturating_sub(1));
                let candidates = if left > 0 { self.names } else { &[] };
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

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<Value> {
        match name {
            "num_epochs" => Some(Value::Int(10)),
            "sparsity" => Some(Value::Float(0.8)),
            "flag" => Some(Value::Bool(true)),
            "mask" => Some(Value::Str("2:4".into())),
            "x" => Some(Value::Int(7)),
            "y" => Some(Value::Float(2.5)),
            "big" => Some(Value::Int(i64::MAX)),
            "inf" => Some(Value::Float(f64::INFINITY)),
            "nan" => Some(Value::Float(f64::NAN)),
            _ => None,
        }
    }

    /// Python's repr of the result, or the error code.
    fn run(input: &str) -> String {
        match parse_eval(input).and_then(|e| evaluate(&e, &vars)) {
            Ok(v) => v.to_string(),
            Err(e) => e.code.to_string(),
        }
    }

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(run(input), expected, "eval({input})");
    }

    #[test]
    fn eval_arithmetic_and_precedence() {
        check("1 + 2 * 3", "7");
        check("(1 + 2) * 3", "9");
        check("10 - 4 - 3", "3");
        check("2 ** 3 ** 2", "512");
        check("(2 ** 3) ** 2", "64");
        check("2 * 3 ** 2", "18");
        check("100 / 10 / 5", "2.0");
        check("7 // 2 * 2 + 7 % 2", "7");
        check("num_epochs - 1", "9");
        check("num_epochs * 0.5 - 1", "4.0");
        check("  num_epochs  ", "10");
        check("\tnum_epochs\n", "10");
        check("(num_epochs)", "10");
        check("((((1))))", "1");
        check("1 +\n 2", "eval-syntax");
        check("(1 +\n 2)", "3");
        check("1 + \\\n 2", "3");
        check("x  # a comment", "7");
        check("1;", "1");
        check("1;\n", "1");
        check("1;;", "eval-syntax");
        check("2**3", "8");
        check("max(1,2)", "2");
        check("round(num_epochs/3)", "3");
    }

    #[test]
    fn eval_python_number_semantics() {
        // True division always gives a float; // and % floor; ** of ints stays int.
        check("7 / 2", "3.5");
        check("6 / 3", "2.0");
        check("7 // 2", "3");
        check("7.0 // 2", "3.0");
        check("7 % 3", "1");
        check("(0 - 7) // 2", "-4");
        check("(0 - 7) % 3", "2");
        check("7 % (0 - 3)", "-2");
        check("(0 - 7.5) // 2", "-4.0");
        check("(0 - 7.5) % 2", "0.5");
        check("7.5 % (0 - 2)", "-0.5");
        check("0 - 7 // 2", "-3");
        check("2 ** 0.5", "1.4142135623730951");
        check("2 ** 62", "4611686018427387904");
        check("4 ** 0.5", "2.0");
        check("0 ** 0", "1");
        check("3 * 1.0", "3.0");
        check("sparsity * 0.9", "0.7200000000000001");
        check("0.1 + 0.2", "0.30000000000000004");
        check("1e16", "1e+16");
        check("1e15", "1000000000000000.0");
        check("1e-5", "1e-05");
        check("0.0001", "0.0001");
        check("1e-7", "1e-07");
        check("1e999", "inf");
        check("1e308 * 10", "inf");
        check("1_000 + 0x10 + 0o10 + 0b11", "1027");
        check("0x_ff", "255");
        check("1. + .5", "1.5");
        check("00", "0");
        check("00.5", "0.5");
        check("1E3", "1000.0");
        check("y // 1", "2.0");
        check("inf // 1", "nan");
        check("5 % inf", "5.0");
        // bool counts as an int.
        check("flag", "True");
        check("flag + 1", "2");
        check("flag / 2", "0.5");
        check("flag * flag", "1");
        check("flag ** 2", "1");
    }

    #[test]
    fn eval_functions() {
        check("abs(0 - 3)", "3");
        check("abs(0 - 2.5)", "2.5");
        check("abs(flag)", "1");
        check("float(3)", "3.0");
        check("float(flag)", "1.0");
        check("float()", "0.0");
        check("int(2.9)", "2");
        check("int(0 - 2.9)", "-2");
        check("int(flag)", "1");
        check("int()", "0");
        check("min(1, 2.0)", "1");
        check("max(2, 2.0)", "2");
        check("max(2.0, 2)", "2.0");
        check("max(flag, 0)", "True");
        check("min(3, 1, 2)", "1");
        check("max(nan, 1)", "nan");
        check("max(1, nan)", "1");
        check("round(2.5)", "2");
        check("round(3.5)", "4");
        check("round(0 - 2.5)", "-2");
        check("round(0.5)", "0");
        check("round(x)", "7");
        check("round(2.675, 2)", "2.67");
        check("round(0.125, 2)", "0.12");
        check("round(0.375, 2)", "0.38");
        check("round(1234.5, 0)", "1234.0");
        check("round(1234.5, 0 - 2)", "1200.0");
        check("round(1250.0, 0 - 2)", "1200.0");
        check("round(1350.0, 0 - 2)", "1400.0");
        check("round(1250.0001, 0 - 2)", "1300.0");
        check("round(0 - 0.4, 0 - 1)", "-0.0");
        check("round(1250, 0 - 2)", "1200");
        check("round(1350, 0 - 2)", "1400");
        check("round(15, 0 - 1)", "20");
        check("round(25, 0 - 1)", "20");
        check("round(x, 2)", "7");
        check("round(x, ndigits=2)", "7");
        check("round(sparsity, ndigits=1)", "0.8");
        check("round(number=2.5)", "2");
        check("round(ndigits=1, number=0.25)", "0.2");
        check("round(1e300, 400)", "1e+300");
        check("round(5.5, 0 - 400)", "0.0");
        check("round(flag)", "1");
        check("round(1.25, ndigits=0, ndigits=1)", "1.2");
        check("max(1, min(2, 3)) * 2", "4");
    }

    #[test]
    fn eval_runtime_errors_are_type_errors() {
        for input in [
            "7 % 0",
            "1 / 0",
            "1 // 0.0",
            "5 % 0.0",
            "0 ** (0 - 1)",
            "(0 - 8) ** 0.5",
            "10.0 ** 400",
            "2 ** 63",
            "big + 1",
            "big * 2",
            "abs(1, 2)",
            "abs()",
            "abs(x=1)",
            "float(1, 2)",
            "int(1, 2)",
            "int(1, base=10)",
            "int(x=1)",
            "max(1)",
            "max()",
            "max(1, 2, key=x)",
            "min(1, 2, default=3)",
            "round()",
            "round(1, 2, 3)",
            "round(1.5, 1.0)",
            "round(1.5, digits=1)",
            "round(1.5, number=1)",
            "int(1e300)",
            "int(inf)",
            "int(nan)",
            "round(inf)",
            "round(1e300)",
            "round(1.7e308, 0 - 308)",
            "mask + 1",
            "mask",
            "99999999999999999999",
            "2j",
            "1.5J + 1",
            "max(**x)",
            "max(1, a=1, a=2)",
        ] {
            check(input, "eval-type");
        }
    }

    #[test]
    fn eval_disallowed_constructs_are_syntax_errors() {
        for input in [
            // comparisons, bool ops, conditionals
            "num_epochs < 3",
            "num_epochs == 3",
            "num_epochs != 3",
            "1 < x < 3",
            "x in y",
            "x not in y",
            "x is y",
            "flag and 1",
            "flag or 1",
            "not flag",
            "1 if flag else 2",
            // other operators
            "1 & 2",
            "1 | 2",
            "1 ^ 2",
            "1 << 2",
            "1 >> 2",
            "x @ x",
            "~1",
            "+1",
            "x + +1",
            // attribute, subscript, calls
            "x.real",
            "x .real",
            "1.real",
            "x[0]",
            "sqrt(4)",
            "Max(1, 2)",
            "math.sqrt(4)",
            "x(1)",
            "(1)(2)",
            "max(1, 2)(3)",
            "max(*x)",
            "max(a=1, 2)",
            "max(1 for x in y)",
            "print(1)",
            "__import__('os')",
            // lambdas, comprehensions, literals
            "lambda: 1",
            "lambda x: x",
            "[1, 2]",
            "[i for i in x]",
            "{1: 2}",
            "{1}",
            "(1, 2)",
            "()",
            "1, 2",
            "'abc'",
            "\"abc\"",
            "f'{x}'",
            "b'x'",
            "'''x'''",
            "'unterminated",
            "True",
            "False",
            "None",
            "...",
            "*x",
            "(x := 1)",
            "await x",
            "yield x",
            // statements
            "x = 1",
            "x += 1",
            "x: int",
            "import os",
            "if x: 1",
            "pass",
            "1; 2",
            "1\n2",
            "del x",
            // not Python
            "",
            "   ",
            "# only a comment",
            "1 2",
            "x y",
            "(1",
            "1)",
            "max(1, 2",
            "max(1 2)",
            "max(,)",
            "1 +",
            "* 2",
            "007",
            "09",
            "1__0",
            "1_",
            "1e",
            "1e+",
            "0x",
            "0b2",
            "0o8",
            "12abc",
            "1 $ 2",
            "x\u{a0}+ 1",
            "x ≠ 1",
            "x \\ 1",
            "if",
            "for",
        ] {
            check(input, "eval-syntax");
        }
    }

    #[test]
    fn eval_unknown_names() {
        check("num_epoch - 1", "eval-unknown-variable");
        check("abs", "eval-unknown-variable");
        let err = parse_eval("num_epochs + zz")
            .and_then(|e| evaluate(&e, &vars))
            .unwrap_err();
        assert_eq!(err.span, Some(Span { start: 13, end: 15 }));
        // Evaluation goes left to right: the first problem met is reported.
        check("zz + -1", "eval-unknown-variable");
        check("-1 + zz", "eval-unary-minus");
        check("zz + 1 / 0", "eval-unknown-variable");
        check("1 / 0 + zz", "eval-type");
    }

    #[test]
    fn eval_unary_minus() {
        for input in [
            "-1",
            "- 1",
            "-1.5",
            "-x",
            "-x * 2",
            "abs(-3)",
            "num_epochs - -1",
            "2 ** -1",
            "-(1 + 2)",
            "--1",
            "-x ** 2",
        ] {
            check(input, "eval-unary-minus");
        }
        let err = parse_eval("num_epochs - -1")
            .and_then(|e| evaluate(&e, &vars))
            .unwrap_err();
        assert_eq!(err.span, Some(Span { start: 13, end: 15 }));
        assert!(
            err.message
                .contains("'UnaryOp' object has no attribute 'left'"),
            "{}",
            err.message
        );
        assert!(err.message.contains("`(0 - 1)`"), "{}", err.message);
        let err = evaluate_str("num_epochs - -1", &vars).unwrap_err();
        assert!(
            err.message.contains("`eval(num_epochs - (0 - 1))`"),
            "{}",
            err.message
        );
        assert_eq!(evaluate_str("num_epochs - 1", &vars), Ok(Value::Int(9)));

        let fix = |t: &str| unary_minus_fix(t).map(|f| (f.inner, f.plain));
        let some =
            |inner: &str, plain: Option<&str>| Some((inner.to_string(), plain.map(str::to_string)));
        assert_eq!(fix("-1"), some("0 - 1", Some("-1")));
        assert_eq!(fix("- 1"), some("0 - 1", Some("-1")));
        assert_eq!(fix("-0.5"), some("0 - 0.5", Some("-0.5")));
        assert_eq!(fix("-1e-7"), some("0 - 1e-7", Some("-1.0e-07")));
        assert_eq!(fix("-x * 2"), some("(0 - x) * 2", None));
        assert_eq!(fix("(-x) * 2"), some("(0 - x) * 2", None));
        assert_eq!(fix("num_epochs - -1"), some("num_epochs - (0 - 1)", None));
        assert_eq!(fix("abs(-3)"), some("abs(0 - 3)", None));
        assert_eq!(
            fix("max(-1, x, ndigits=-2)"),
            some("max(0 - 1, x, ndigits=0 - 2)", None)
        );
        assert_eq!(fix("2 ** -1"), some("2 ** (0 - 1)", None));
        assert_eq!(fix("-x ** 2"), some("0 - x ** 2", None));
        assert_eq!(fix("--x"), some("0 - (0 - x)", None));
        assert_eq!(fix("-(x + 1)"), some("0 - (x + 1)", None));
        assert_eq!(fix(" -1 "), some(" 0 - 1 ", Some("-1")));
        assert_eq!(fix("x - 1"), None);
        assert_eq!(fix("-"), None);

        // Each rewrite evaluates to what Python gives for the original.
        for (original, python) in [
            ("-1", "-1"),
            ("-x * 2", "-14"),
            ("num_epochs - -1", "11"),
            ("abs(-3)", "3"),
            ("2 ** -1", "0.5"),
            ("-x ** 2", "-49"),
            ("--x", "7"),
            ("-(x + 1) // 3", "-3"),
            ("-2 ** -2", "-0.25"),
            ("round(-2.5)", "-2"),
            ("max(-1, -2) * -y", "2.5"),
        ] {
            let rewritten = unary_minus_fix(original)
                .map(|f| f.inner)
                .unwrap_or_default();
            assert_eq!(run(&rewritten), python, "{original} → {rewritten}");
        }
    }

    #[test]
    fn eval_strip_eval() {
        assert_eq!(
            strip_eval("eval(num_epochs - 1)"),
            Some(("num_epochs - 1", 5))
        );
        assert_eq!(strip_eval("eval()"), Some(("", 5)));
        assert_eq!(strip_eval("eval(a) + 1"), None);
        assert_eq!(strip_eval(" eval(a)"), None);
        assert_eq!(strip_eval("eval("), None);
        assert_eq!(strip_eval("eval)"), None);
        assert_eq!(strip_eval("Eval(a)"), None);
        assert_eq!(strip_eval("num_epochs"), None);
        assert_eq!(strip_eval("eval(a)(b)"), Some(("a)(b", 5)));
        check("a)(b", "eval-syntax");
    }

    #[test]
    fn eval_variables_and_spans() {
        let expr = parse_eval("num_epochs - max(x, 2, ndigits=sparsity) ** -y").unwrap();
        let names: Vec<(String, Span)> = variables(&expr);
        assert_eq!(
            names,
            vec![
                ("num_epochs".to_string(), Span { start: 0, end: 10 }),
                ("x".to_string(), Span { start: 17, end: 18 }),
                ("sparsity".to_string(), Span { start: 31, end: 39 }),
                ("y".to_string(), Span { start: 45, end: 46 }),
            ]
        );
        assert_eq!(expr.span(), Span { start: 0, end: 46 });
        assert_eq!(
            expr.to_string(),
            "num_epochs - max(x, 2, ndigits=sparsity) ** -y"
        );
        let expr = parse_eval(" (a + b) * c ").unwrap();
        assert_eq!(expr.span(), Span { start: 1, end: 12 });
        assert_eq!(expr.to_string(), "(a + b) * c");
        assert_eq!(
            parse_eval("(a - (b - c))").unwrap().to_string(),
            "a - (b - c)"
        );
        assert_eq!(parse_eval("(-a) ** 2").unwrap().to_string(), "(-a) ** 2");

        // Names in text that does not parse.
        let scanned: Vec<String> = scan_names("num_epochs < max(x, key=y) + z.real")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(scanned, ["num_epochs", "x", "y", "z"]);

        // Error spans point at the construct.
        let span = |t: &str| parse_eval(t).unwrap_err().span;
        assert_eq!(span("x < 1"), Some(Span { start: 2, end: 3 }));
        assert_eq!(span("sqrt(x)"), Some(Span { start: 0, end: 4 }));
        assert_eq!(span("1 + 'a'"), Some(Span { start: 4, end: 7 }));
        assert_eq!(span("(1 + 2"), Some(Span { start: 0, end: 1 }));
        let message = parse_eval("Max(1, 2)").unwrap_err().message;
        assert!(message.contains("did you mean `max`"), "{message}");
    }

    fn def(name: &str, d: Definition) -> (String, Definition) {
        (name.to_string(), d)
    }

    fn lit(name: &str, v: Value) -> (String, Definition) {
        def(name, Definition::Literal(v))
    }

    fn ev(name: &str, text: &str) -> (String, Definition) {
        def(name, Definition::Eval(text.to_string()))
    }

    fn get<'a>(
        results: &'a [(String, Result<Value, EvalError>)],
        name: &str,
    ) -> &'a Result<Value, EvalError> {
        &results.iter().find(|(n, _)| n == name).unwrap().1
    }

    fn code(r: &Result<Value, EvalError>) -> &'static str {
        r.as_ref().err().map_or("ok", |e| e.code)
    }

    #[test]
    fn eval_resolution_order() {
        // Definitions may use variables defined after them; the last duplicate wins but keeps the
        // first position (a Python dict).
        let results = resolve_all(&[
            ev("pruning_end", "num_epochs - warmup"),
            ev("final", "round(pruning_end / 3)"),
            lit("num_epochs", Value::Float(10.0)),
            lit("warmup", Value::Int(5)),
            lit("warmup", Value::Int(1)),
            lit("version", Value::Str("1.1.0".into())),
            lit("flag", Value::Bool(true)),
            ev("uses_flag", "flag * 2"),
            lit("via_literal", Value::Str("eval(warmup + 1)".into())),
            def("params", Definition::Other("list")),
        ]);
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "pruning_end",
                "final",
                "num_epochs",
                "warmup",
                "version",
                "flag",
                "uses_flag",
                "via_literal"
            ]
        );
        assert_eq!(get(&results, "pruning_end"), &Ok(Value::Float(9.0)));
        assert_eq!(get(&results, "final"), &Ok(Value::Int(3)));
        assert_eq!(get(&results, "warmup"), &Ok(Value::Int(1)));
        assert_eq!(get(&results, "version"), &Ok(Value::Str("1.1.0".into())));
        assert_eq!(get(&results, "uses_flag"), &Ok(Value::Int(2)));
        assert_eq!(get(&results, "via_literal"), &Ok(Value::Int(2)));
    }

    #[test]
    fn eval_resolution_errors() {
        let results = resolve_all(&[
            lit("num_epochs", Value::Int(10)),
            ev("a", "b + 1"),
            ev("b", "c * 2"),
            ev("c", "a - 1"),
            ev("d", "a + num_epochs"),
            ev("self_ref", "self_ref + 1"),
            ev("typo", "num_epoch - 1"),
            ev("negative", "-1"),
            ev("negative_expr", "num_epochs - -1"),
            ev("after_negative", "negative + 1"),
            lit("mask_type", Value::Str("2:4".into())),
            def("prunable", Definition::Other("list")),
            ev("alias", "mask_type"),
            ev("alias_list", "prunable"),
            ev("arith_on_string", "mask_type + 1"),
            ev("spaced_alias", " prunable "),
            ev("bad_syntax", "num_epochs < 2"),
            ev("empty", ""),
            ev("zero", "num_epochs / 0"),
        ]);
        for (name, expected) in [
            ("a", EVAL_CYCLE),
            ("b", EVAL_CYCLE),
            ("c", EVAL_CYCLE),
            ("d", EVAL_UNKNOWN_VARIABLE),
            ("self_ref", EVAL_CYCLE),
            ("typo", EVAL_UNKNOWN_VARIABLE),
            ("negative", EVAL_UNARY_MINUS),
            ("negative_expr", EVAL_UNARY_MINUS),
            ("after_negative", EVAL_UNKNOWN_VARIABLE),
            ("alias", EVAL_TYPE),
            ("alias_list", EVAL_TYPE),
            ("arith_on_string", EVAL_TYPE),
            ("spaced_alias", EVAL_TYPE),
            ("bad_syntax", EVAL_SYNTAX),
            ("empty", EVAL_SYNTAX),
            ("zero", EVAL_TYPE),
            ("num_epochs", "ok"),
        ] {
            assert_eq!(
                code(get(&results, name)),
                expected,
                "{name}: {:?}",
                get(&results, name)
            );
        }
        let message = |name: &str| get(&results, name).as_ref().unwrap_err().message.clone();
        let span = |name: &str| get(&results, name).as_ref().unwrap_err().span;
        assert!(
            message("a").contains("`a` → `b` → `c` → `a`"),
            "{}",
            message("a")
        );
        assert!(
            message("b").contains("`b` → `c` → `a` → `b`"),
            "{}",
            message("b")
        );
        assert!(
            message("c").contains("`c` → `a` → `b` → `c`"),
            "{}",
            message("c")
        );
        assert_eq!(span("a"), Some(Span { start: 0, end: 1 }));
        assert_eq!(span("c"), Some(Span { start: 0, end: 1 }));
        assert!(message("self_ref").contains("refers to itself"));
        assert!(message("d").contains("cycle"), "{}", message("d"));
        assert!(
            message("typo").contains("did you mean `num_epochs`?"),
            "{}",
            message("typo")
        );
        assert_eq!(span("typo"), Some(Span { start: 0, end: 9 }));
        assert!(
            message("negative").contains("plain number `-1`"),
            "{}",
            message("negative")
        );
        assert!(
            message("negative").contains("`eval(0 - 1)`"),
            "{}",
            message("negative")
        );
        assert!(
            message("negative_expr").contains("`eval(num_epochs - (0 - 1))`"),
            "{}",
            message("negative_expr")
        );
        assert!(
            message("after_negative").contains("fix `negative` first"),
            "{}",
            message("after_negative")
        );
        assert!(
            message("alias").contains("is a string"),
            "{}",
            message("alias")
        );
        assert!(
            message("alias_list").contains("is a list"),
            "{}",
            message("alias_list")
        );
    }

    #[test]
    fn eval_modifier_fields() {
        let scope = Scope::new(&[
            lit("num_epochs", Value::Int(10)),
            lit("mask_type", Value::Str("2:4".into())),
            def("prunable", Definition::Other("list")),
            ev("pruning_end", "num_epochs - 2"),
            ev("broken", "-1"),
        ]);
        assert_eq!(
            scope.evaluate_field("pruning_end"),
            Ok(FieldValue::Value(Value::Int(8)))
        );
        assert_eq!(
            scope.evaluate_field("num_epochs * 0.5"),
            Ok(FieldValue::Value(Value::Float(5.0)))
        );
        assert_eq!(
            scope.evaluate_field("mask_type"),
            Ok(FieldValue::Variable("mask_type".into()))
        );
        assert_eq!(
            scope.evaluate_field("prunable"),
            Ok(FieldValue::Variable("prunable".into()))
        );
        // No whitespace is trimmed for the exact-name rule (§5.2/§5.3).
        assert_eq!(
            scope.evaluate_field(" prunable ").map_err(|e| e.code),
            Err(EVAL_TYPE)
        );
        assert_eq!(
            scope.evaluate_field("mask_type + 1").map_err(|e| e.code),
            Err(EVAL_TYPE)
        );
        assert_eq!(
            scope.evaluate_field("broken + 1").map_err(|e| e.code),
            Err(EVAL_UNKNOWN_VARIABLE)
        );
        let err = scope.evaluate_field("num_epoch").unwrap_err();
        assert_eq!(err.code, EVAL_UNKNOWN_VARIABLE);
        assert!(
            err.message.contains("did you mean `num_epochs`?"),
            "{}",
            err.message
        );
        let err = scope.evaluate_field("-1").unwrap_err();
        assert_eq!(err.code, EVAL_UNARY_MINUS);
        assert!(err.message.contains("plain number `-1`"), "{}", err.message);
        assert_eq!(scope.value("pruning_end"), Some(Value::Int(8)));
        assert_eq!(scope.value("mask_type"), None);
    }

    /// Every expectation here was confirmed by running SparseML 1.7.0's
    /// `evaluate_recipe_yaml_str_equations` on the same recipe.
    #[test]
    fn eval_staged_resolution() {
        let global = Scope::new(&[
            lit("a", Value::Int(2)),
            lit("num_epochs", Value::Int(10)),
            lit("lr", Value::Float(0.1)),
            lit("mode", Value::Str("g".into())),
        ]);
        let stage = global.stage(&[
            lit("a", Value::Int(5)),
            ev("c", "a"),
            ev("c_spaced", " a "),
            ev("d", "a + 0"),
            ev("from_global", "num_epochs"),
            ev("global_in_expr", "num_epochs - 1"),
            lit("lr", Value::Str("stage".into())),
        ]);
        let results = stage.results();
        // The scoping bug (§5.5): eval(a) whose text is a global key reads the global.
        assert_eq!(get(&results, "c"), &Ok(Value::Int(2)));
        assert_eq!(get(&results, "c_spaced"), &Ok(Value::Int(5)));
        assert_eq!(get(&results, "d"), &Ok(Value::Int(5)));
        assert_eq!(get(&results, "from_global"), &Ok(Value::Int(10)));
        let err = get(&results, "global_in_expr").as_ref().unwrap_err();
        assert_eq!(err.code, EVAL_UNKNOWN_VARIABLE);
        assert!(err.message.contains("global variable"), "{}", err.message);
        // Results hold only the stage's own variables.
        assert!(results.iter().all(|(n, _)| n != "num_epochs"));
        // Modifier fields: the stage wins; globals fill in.
        assert_eq!(
            stage.evaluate_field("a"),
            Ok(FieldValue::Value(Value::Int(5)))
        );
        assert_eq!(
            stage.evaluate_field("c"),
            Ok(FieldValue::Value(Value::Int(2)))
        );
        assert_eq!(
            stage.evaluate_field("num_epochs - 1"),
            Ok(FieldValue::Value(Value::Int(9)))
        );
        assert_eq!(
            stage.evaluate_field("mode"),
            Ok(FieldValue::Variable("mode".into()))
        );
        // A stage string over a global number: exact text substitutes the string, arithmetic
        // uses the global number (SparseML's merge of the two variable sets).
        assert_eq!(
            stage.evaluate_field("lr"),
            Ok(FieldValue::Variable("lr".into()))
        );
        assert_eq!(
            stage.evaluate_field("lr * 2"),
            Ok(FieldValue::Value(Value::Float(0.2)))
        );
        assert!(stage.names().contains(&"num_epochs"));

        // SparseML meets non-numeric stage variables as its first pass reaches them: `eval(a)`
        // before a string `a` in the stage still reads the global number.
        let before = global.stage(&[ev("c", "a"), lit("a", Value::Str("x".into()))]);
        assert_eq!(get(&before.results(), "c"), &Ok(Value::Int(2)));
        let after = global.stage(&[lit("a", Value::Str("x".into())), ev("c", "a")]);
        assert_eq!(code(get(&after.results(), "c")), EVAL_TYPE);
    }

    /// A small deterministic generator, so the fuzz cases are the same on every run.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn exercise(text: &str) {
        let parsed = parse_eval(text);
        if let Ok(expr) = &parsed {
            let _ = evaluate(expr, &vars);
            let _ = variables(expr);
            let _ = expr.to_string();
        }
        let _ = scan_names(text);
        let _ = unary_minus_fix(text);
        let _ = with_text(
            parsed.err().unwrap_or(EvalError {
                code: EVAL_UNARY_MINUS,
                message: String::new(),
                span: None,
            }),
            text,
        );
    }

    #[test]
    fn eval_never_panics() {
        const PIECES: [&str; 48] = [
            "1",
            "0",
            "2.5",
            ".5",
            "1e",
            "e",
            "x",
            "y",
            "flag",
            "mask",
            "big",
            "nan",
            "inf",
            "num_epochs",
            "max",
            "min",
            "round",
            "abs",
            "int",
            "float",
            "(",
            ")",
            "(",
            ")",
            ",",
            "-",
            "+",
            "*",
            "**",
            "/",
            "//",
            "%",
            " ",
            "=",
            "ndigits",
            "'",
            "\"",
            "\\",
            "\n",
            "#",
            "é",
            "€",
            "_",
            "0x",
            "j",
            ";",
            "[",
            "<",
        ];
        let mut rng = Lcg(7);
        for _ in 0..20_000 {
            let len = (rng.next() % 12) as usize;
            let text: String = (0..len)
                .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
                .collect();
            exercise(&text);
        }
        let valid = "round(max(num_epochs, 2.5e1) / -x ** 2, ndigits=int(1_0.0 // 3)) % (flag + 0x1F) - 1e-3 # c";
        for (i, _) in valid
            .char_indices()
            .chain(std::iter::once((valid.len(), ' ')))
        {
            exercise(&valid[..i]);
            exercise(&valid[i..]);
        }
        for text in [
            "é",
            "€x",
            "x€",
            "'é",
            "1é",
            "0xé",
            "\u{a0}",
            "1 + \u{2028} 2",
            "\\é",
            "eval(",
            ")",
            "\r\n1",
        ] {
            exercise(text);
        }
        // Deep nesting is an error, not a stack overflow.
        for deep in [
            format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{}1", "-".repeat(10_000)),
            format!("{}1", "1+".repeat(10_000)),
            format!("{}2", "2**".repeat(10_000)),
            format!("{}1{}", "abs(".repeat(10_000), ")".repeat(10_000)),
            "(".repeat(10_000),
        ] {
            assert_eq!(parse_eval(&deep).unwrap_err().code, EVAL_SYNTAX);
            exercise(&deep);
        }
        // Long but shallow chains of variables resolve.
        let mut defs = vec![lit("v0", Value::Int(1))];
        for i in 1..500 {
            defs.push(ev(&format!("v{i}"), &format!("v{} + 1", i - 1)));
        }
        defs.reverse();
        let results = resolve_all(&defs);
        assert_eq!(get(&results, "v499"), &Ok(Value::Int(500)));
    }

    /// A chain of 20,000 variables each defined before the one it uses: SparseML's passes would
    /// take 20,000 rounds over all of them; resolving by waiting lists takes one.
    #[test]
    fn long_chains_in_either_order_resolve_in_linear_time() {
        let n = 20_000;
        let mut defs: Vec<(String, Definition)> = (0..n)
            .map(|i| ev(&format!("v{i}"), &format!("v{} + 1", i + 1)))
            .collect();
        defs.push(lit(&format!("v{n}"), Value::Int(0)));
        let started = std::time::Instant::now();
        let results = resolve_all(&defs);
        let backwards = started.elapsed();
        assert_eq!(get(&results, "v0"), &Ok(Value::Int(n)));
        assert_eq!(get(&results, "v19999"), &Ok(Value::Int(1)));
        defs.reverse();
        let started = std::time::Instant::now();
        let results = resolve_all(&defs);
        let forwards = started.elapsed();
        assert_eq!(get(&results, "v0"), &Ok(Value::Int(n)));
        println!("{n}-variable chain: {backwards:?} used-after-defined, {forwards:?} in order");
        assert!(backwards.as_secs() < 5 && forwards.as_secs() < 5);
    }

    /// Every member of a long cycle gets an error whose message names only the first few.
    #[test]
    fn long_cycles_have_short_messages() {
        let n = 20_000;
        let defs: Vec<(String, Definition)> = (0..n)
            .map(|i| ev(&format!("v{i}"), &format!("v{} + 1", (i + 1) % n)))
            .collect();
        let results = resolve_all(&defs);
        for (_, result) in &results {
            let err = result.as_ref().unwrap_err();
            assert_eq!(err.code, EVAL_CYCLE);
            assert!(err.message.len() < 300, "{}", err.message);
        }
        let message = &get(&results, "v5").as_ref().unwrap_err().message;
        assert!(
            message.starts_with("The 20000 variables `v5` → `v6` →"),
            "{message}"
        );
        assert!(message.ends_with("→ … → `v5` form a cycle: give one of them a plain value."));
        // A short cycle is still listed in full.
        let results = resolve_all(&[ev("a", "b"), ev("b", "c"), ev("c", "a")]);
        assert_eq!(
            get(&results, "b").as_ref().unwrap_err().message,
            "The variables `b` → `c` → `a` → `b` form a cycle: give one of them a plain value."
        );
    }

    /// Thousands of unknown names: the first ones get a did-you-mean, the rest a plain message,
    /// so the whole stays fast.
    #[test]
    fn many_unknown_names_stay_fast() {
        let n = 20_000;
        let mut defs: Vec<(String, Definition)> = (0..n)
            .map(|i| lit(&format!("known{i:05}"), Value::Int(i)))
            .collect();
        defs.extend((0..n).map(|i| ev(&format!("use{i:05}"), &format!("knwn{i:05} + 1"))));
        let started = std::time::Instant::now();
        let results = resolve_all(&defs);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
        let message = |name: &str| get(&results, name).as_ref().unwrap_err().message.clone();
        assert_eq!(
            message("use00000"),
            "`knwn00000` is not defined: did you mean `known00000`?"
        );
        assert!(message("use19999").starts_with("`knwn19999` is not defined: define it"));
    }
}
