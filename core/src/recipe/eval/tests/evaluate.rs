//! Evaluation with a lookup: unknown names, evaluation order and the unary minus.

use super::*;

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
