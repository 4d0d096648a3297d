//! Tests of `eval()`, one file per part: `numbers` (arithmetic and builtins), `parser` (the
//! grammar and spans), `evaluate` (names and the unary minus), `scope` (variable resolution) and
//! `robustness` (generated text never panics). The helpers here are what several of them share.

use super::*;

mod evaluate;
mod numbers;
mod parser;
mod robustness;
mod scope;

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
