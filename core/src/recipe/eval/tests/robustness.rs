//! Generated and deeply nested text: every entry point returns without panicking.

use super::*;
use crate::recipe::eval::unary_minus::with_text;

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
