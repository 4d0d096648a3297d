//! Evaluation of a parsed expression with a variable lookup, as SparseML's `restricted_eval`
//! does it: variables must be numbers, and the operators and functions follow `numbers`.

use super::ast::Expr;
use super::numbers::{binary_op, call};
use super::parser::parse_eval;
use super::unary_minus::{unary_minus_error, with_text};
use super::{EVAL_TYPE, EVAL_UNKNOWN_VARIABLE, EvalError, Span, Value, error};

/// Evaluates a parsed expression as SparseML's `restricted_eval` does, with Python's number
/// semantics. `lookup` gives the variables; a name it does not know is `eval-unknown-variable`,
/// a `Str` it gives is `eval-type` (the grammar computes with numeric variables only). Any unary
/// minus is `eval-unary-minus`. Python's integers are unbounded; prunekit's are 64-bit, so an
/// integer result beyond that is an `eval-type` error.
///
/// This is the grammar only. In modifier fields SparseML first substitutes `eval(name)` whose text
/// is exactly the name of a non-numeric variable (a list, a string): [`Scope::evaluate_field`](super::Scope::evaluate_field)
/// does that, and [`Scope`](super::Scope) resolves variable definitions.
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

pub(super) fn eval_node(e: &Expr, lookup: &mut Lookup<'_>) -> Result<Value, EvalError> {
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

pub(super) fn non_numeric_error(name: &str, kind: &str, span: Span) -> EvalError {
    error(
        EVAL_TYPE,
        span,
        format!(
            "`{name}` is {kind}, and eval() computes only with numeric variables: use a number here (in a modifier field, `eval({name})` on its own substitutes it)."
        ),
    )
}
