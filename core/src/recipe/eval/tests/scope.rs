//! Variable resolution: order, errors, modifier fields, stages, and long chains and cycles.

use super::*;

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
    // No whitespace is trimmed for the exact-name rule.
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
    // The scoping bug: eval(a) whose text is a global key reads the global.
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
    let results = resolve_all(&defs);
    let message = |name: &str| get(&results, name).as_ref().unwrap_err().message.clone();
    // The search for a near name (the costly part) runs a bounded number of times.
    let suggested = (0..n)
        .filter(|i| message(&format!("use{i:05}")).contains("did you mean"))
        .count();
    assert!(suggested > 0 && suggested <= 100, "{suggested} suggestions");
    assert_eq!(
        message("use00000"),
        "`knwn00000` is not defined: did you mean `known00000`?"
    );
    assert!(message("use19999").starts_with("`knwn19999` is not defined: define it"));
}
