//! Python number semantics: arithmetic, precedence, the builtins and their runtime errors.

use super::*;

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
