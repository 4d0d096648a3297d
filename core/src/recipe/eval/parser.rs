//! The restricted grammar of SparseML's `eval()`: a recursive-descent parser over the lexer's
//! tokens that builds the `ast`, rejects every construct the grammar excludes with an
//! `eval-syntax` message at the offending token, and defers what is valid Python but fails when
//! SparseML evaluates it.

use super::ast::{BinOp, Expr, Func, Keyword};
use super::lexer::{Tok, Token, is_keyword, py_strip, tokenize};
use super::{EVAL_TYPE, EvalError, Span, error, syntax};
use crate::suggest::did_you_mean;

/// The deepest expression tree accepted (Python itself gives up at about 200 nested parentheses).
const MAX_DEPTH: usize = 200;
/// The deepest nesting of parentheses, calls and unary operators the parser recurses through.
const MAX_NEST: usize = 100;

const ALLOWED: &str = "eval() allows only numbers, numeric variables, + - * / // % ** and abs, float, int, min, max, round";

const FUNCTION_NAMES: [&str; 6] = ["abs", "float", "int", "min", "max", "round"];

const STATEMENT_KEYWORDS: [&str; 19] = [
    "assert", "async", "break", "class", "continue", "def", "del", "for", "from", "global", "if",
    "import", "nonlocal", "pass", "raise", "return", "try", "while", "with",
];

/// Parses the text inside `eval(` … `)` with SparseML's restricted grammar.
///
/// Like SparseML (`ast.parse(expression.strip())`), surrounding whitespace is ignored and comments
/// are allowed. Everything the grammar excludes is an `eval-syntax` error at the offending
/// construct; a unary minus parses to [`Expr::Neg`], which [`evaluate`](super::evaluate) rejects. Integer literals
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
