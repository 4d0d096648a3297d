//! Python's tokenizer, for the tokens an `eval()` expression can contain: numbers with Python's
//! literal rules, names, strings (recognised only to be rejected), operators, and the error tokens
//! for everything else. Also `scan_names`, the token-level name finder for text that does not
//! parse.

use super::Span;

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Operators and delimiters of Python's tokenizer, longest first.
const OPS: [&str; 47] = [
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "%", "&", "(", ")", "*", "+", ",", "-",
    ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
];

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) span: Span,
}

/// Python's `str.strip()` whitespace.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The byte range of `text` without leading and trailing whitespace, as `str.strip()` gives it.
pub(super) fn py_strip(text: &str) -> (usize, usize) {
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

pub(super) fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "f" | "t" | "br" | "rb" | "fr" | "rf" | "tr" | "rt"
    )
}

pub(super) fn tokenize(text: &str, start: usize, end: usize) -> Vec<Token> {
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
