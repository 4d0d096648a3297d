//! The grammar: what is rejected as `eval-syntax`, and the spans and names of what parses.

use super::*;

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
