//! The syntax tree of an `eval()` expression: operators, the callable functions, nodes with
//! their spans, Python source for a tree (with the parentheses its precedence needs), and the
//! variable names a tree uses.

use std::fmt;

use super::Span;
use super::numbers::py_float_repr;

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

    pub(super) fn from_name(name: &str) -> Option<Func> {
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

/// A parsed expression. Spans are byte ranges in the text given to [`parse_eval`](super::parse_eval); like Python's
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

pub(super) fn render_min(e: &Expr, min_precedence: u8, out: &mut String) {
    if e.precedence() < min_precedence {
        out.push('(');
        render(e, out);
        out.push(')');
    } else {
        render(e, out);
    }
}

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
