//! Python's numbers as `eval()` computes with them: the `Value` type, `repr` of floats, the
//! arithmetic operators (floor division, modulo and powers with Python's signs and special cases)
//! and the builtins `abs`, `float`, `int`, `min`, `max` and `round`. Results beyond 64-bit integers
//! and Python's runtime errors (division by zero, overflow) are messages for `eval-type`.

use std::cmp::Ordering;
use std::fmt;

use super::ast::{BinOp, Func};

/// A variable's value or an expression's result. `Bool` counts as a number (Python's `bool` is
/// an `int`); `Str` is a non-numeric variable, which the grammar cannot compute with.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Value {
    /// Int, float or bool: what SparseML accepts as a numeric variable and as an eval() result.
    pub fn is_number(&self) -> bool {
        !matches!(self, Value::Str(_))
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Str(_) => None,
        }
    }
}

/// Python's `repr` for numbers and booleans (`3`, `3.0`, `0.1`, `1e-07`, `True`); a string is
/// shown as it is.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&py_float_repr(*x)),
            Value::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Value::Str(s) => f.write_str(s),
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, exponent form below 1e-4 and from
/// 1e16 on.
pub(super) fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if x < 0.0 { "-" } else { "" };
    if !(-5 < exp && exp < 16) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.unsigned_abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        let zeros = "0".repeat(int_len - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (int, frac) = digits.split_at(int_len);
        format!("{sign}{int}.{frac}")
    }
}

/// A float as YAML 1.1 (PyYAML) reads it back as a float: Python's repr with a dot in the mantissa
/// (`1e-07` is a string to PyYAML, `1.0e-07` a float).
pub(super) fn yaml11_float(x: f64) -> String {
    if x.is_nan() {
        return ".nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let repr = py_float_repr(x);
    match repr.split_once('e') {
        Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0e{exp}"),
        _ => repr,
    }
}

#[derive(Clone, Copy, Debug)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn of(v: &Value) -> Result<Num, String> {
        match v {
            Value::Int(i) => Ok(Num::I(*i)),
            Value::Bool(b) => Ok(Num::I(i64::from(*b))),
            Value::Float(f) => Ok(Num::F(*f)),
            Value::Str(_) => Err("A string cannot be used in arithmetic: use a number.".into()),
        }
    }

    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

const INT_OVERFLOW: &str = "The integer result is beyond prunekit's 64-bit range (Python's integers are unbounded): use a float operand such as 2.0 to compute in floating point.";
const DIVISION_BY_ZERO: &str =
    "This divides by zero (ZeroDivisionError): make sure the divisor cannot be 0.";

fn fits_i64(v: i128) -> Result<i64, String> {
    i64::try_from(v).map_err(|_| INT_OVERFLOW.to_string())
}

pub(super) fn binary_op(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    let (a, b) = (Num::of(a)?, Num::of(b)?);
    let int = |r: Option<i64>| r.map(Value::Int).ok_or_else(|| INT_OVERFLOW.to_string());
    match (op, a, b) {
        (BinOp::Add, Num::I(x), Num::I(y)) => int(x.checked_add(y)),
        (BinOp::Sub, Num::I(x), Num::I(y)) => int(x.checked_sub(y)),
        (BinOp::Mul, Num::I(x), Num::I(y)) => int(x.checked_mul(y)),
        (BinOp::Add, ..) => Ok(Value::Float(a.f() + b.f())),
        (BinOp::Sub, ..) => Ok(Value::Float(a.f() - b.f())),
        (BinOp::Mul, ..) => Ok(Value::Float(a.f() * b.f())),
        (BinOp::Div, ..) => {
            if b.f() == 0.0 {
                Err(DIVISION_BY_ZERO.into())
            } else {
                Ok(Value::Float(a.f() / b.f()))
            }
        }
        (BinOp::FloorDiv, Num::I(x), Num::I(y)) => {
            let (q, _) = int_divmod(x, y)?;
            Ok(Value::Int(q))
        }
        (BinOp::Mod, Num::I(x), Num::I(y)) => {
            let (_, r) = int_divmod(x, y)?;
            Ok(Value::Int(r))
        }
        (BinOp::FloorDiv, ..) => float_divmod(a.f(), b.f()).map(|(q, _)| Value::Float(q)),
        (BinOp::Mod, ..) => float_divmod(a.f(), b.f()).map(|(_, r)| Value::Float(r)),
        (BinOp::Pow, Num::I(x), Num::I(y)) if y >= 0 => int(int_pow(x, y)),
        (BinOp::Pow, ..) => float_pow(a.f(), b.f()).map(Value::Float),
    }
}

/// Python's `divmod` for ints: the quotient is floored, the remainder takes the divisor's sign.
fn int_divmod(x: i64, y: i64) -> Result<(i64, i64), String> {
    if y == 0 {
        return Err(DIVISION_BY_ZERO.into());
    }
    let (x, y) = (i128::from(x), i128::from(y));
    let (mut q, mut r) = (x / y, x % y);
    if r != 0 && ((r < 0) != (y < 0)) {
        q -= 1;
        r += y;
    }
    Ok((fits_i64(q)?, fits_i64(r)?))
}

/// Python's `divmod` for floats (`float_divmod` in CPython).
fn float_divmod(x: f64, y: f64) -> Result<(f64, f64), String> {
    if y == 0.0 {
        return Err(DIVISION_BY_ZERO.into());
    }
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let q = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 { f + 1.0 } else { f }
    } else {
        0.0f64.copysign(x / y)
    };
    Ok((q, m))
}

fn int_pow(x: i64, y: i64) -> Option<i64> {
    match u32::try_from(y) {
        Ok(e) => x.checked_pow(e),
        Err(_) => match x {
            0 => Some(0),
            1 => Some(1),
            -1 => Some(if y % 2 == 0 { 1 } else { -1 }),
            _ => None,
        },
    }
}

fn is_odd_integer(y: f64) -> bool {
    y.is_finite() && y.fract() == 0.0 && (y % 2.0).abs() == 1.0
}

/// Python's `float.__pow__` (an int with a negative exponent goes through it too).
fn float_pow(x: f64, y: f64) -> Result<f64, String> {
    if y == 0.0 {
        return Ok(1.0);
    }
    if x.is_nan() {
        return Ok(x);
    }
    if y.is_nan() {
        return Ok(if x == 1.0 { 1.0 } else { y });
    }
    if y.is_infinite() {
        let ax = x.abs();
        return Ok(if ax == 1.0 {
            1.0
        } else if (y > 0.0) == (ax > 1.0) {
            f64::INFINITY
        } else {
            0.0
        });
    }
    if x.is_infinite() {
        let odd = is_odd_integer(y);
        return Ok(if y > 0.0 {
            if odd { x } else { x.abs() }
        } else if odd {
            0.0f64.copysign(x)
        } else {
            0.0
        });
    }
    if x == 0.0 {
        if y < 0.0 {
            return Err("0 cannot be raised to a negative power (ZeroDivisionError): change the base or the exponent.".into());
        }
        return Ok(if is_odd_integer(y) { x } else { 0.0 });
    }
    if x < 0.0 && y.fract() != 0.0 {
        return Err("A negative number raised to a fractional power gives a complex number, which a recipe cannot use: make the base non-negative.".into());
    }
    let r = x.powf(y);
    if r.is_infinite() {
        return Err(
            "The result of `**` is too large for a float (OverflowError): use a smaller exponent."
                .into(),
        );
    }
    Ok(r)
}

/// Python's `<` between two numbers (exact between ints and floats; false with NaN).
fn py_lt(a: Num, b: Num) -> bool {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x < y,
        (Num::F(x), Num::F(y)) => x < y,
        (Num::I(x), Num::F(y)) => cmp_int_float(x, y) == Some(Ordering::Less),
        (Num::F(x), Num::I(y)) => cmp_int_float(y, x) == Some(Ordering::Greater),
    }
}

fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    Some(match i.cmp(&(t as i64)) {
        Ordering::Equal => {
            let frac = f - t;
            if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    })
}

/// A float converted to int as `int()` does (truncating), within 64 bits.
fn float_to_int(f: f64, func: &str) -> Result<Value, String> {
    if f.is_nan() {
        return Err(format!(
            "{func} cannot convert NaN to an integer (ValueError): check the operands."
        ));
    }
    if f.is_infinite() {
        return Err(format!(
            "{func} cannot convert an infinite float to an integer (OverflowError): check the operands."
        ));
    }
    let t = f.trunc();
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        Ok(Value::Int(t as i64))
    } else {
        Err(INT_OVERFLOW.into())
    }
}

pub(super) fn call(
    func: Func,
    args: &[Value],
    keywords: &[(&str, Value)],
) -> Result<Value, String> {
    let name = func.name();
    let no_keywords = || match keywords.first() {
        Some((k, _)) => Err(format!(
            "{name}() does not take the keyword argument `{k}`: pass the value positionally."
        )),
        None => Ok(()),
    };
    match func {
        Func::Abs => {
            no_keywords()?;
            let [v] = args else {
                return Err(format!(
                    "abs() takes exactly one number, not {}: write `abs(x)`.",
                    args.len()
                ));
            };
            match Num::of(v)? {
                Num::I(i) => i
                    .checked_abs()
                    .map(Value::Int)
                    .ok_or_else(|| INT_OVERFLOW.to_string()),
                Num::F(f) => Ok(Value::Float(f.abs())),
            }
        }
        Func::Float => {
            no_keywords()?;
            match args {
                [] => Ok(Value::Float(0.0)),
                [v] => Ok(Value::Float(Num::of(v)?.f())),
                _ => Err("float() takes at most one number: write `float(x)`.".into()),
            }
        }
        Func::Int => {
            if keywords.iter().any(|(k, _)| *k == "base") || args.len() > 1 {
                return Err("int() with a base converts only strings, which eval() cannot use: write `int(x)`.".into());
            }
            no_keywords()?;
            match args.first() {
                None => Ok(Value::Int(0)),
                Some(v) => match Num::of(v)? {
                    Num::I(i) => Ok(Value::Int(i)),
                    Num::F(f) => float_to_int(f, "int()"),
                },
            }
        }
        Func::Min | Func::Max => {
            if let Some((k, _)) = keywords.first() {
                return Err(match *k {
                    "key" => format!(
                        "{name}()'s `key` must be a function, which eval() cannot express: remove it."
                    ),
                    "default" => format!(
                        "{name}()'s `default` only applies to an iterable, which eval() cannot express: remove it."
                    ),
                    _ => format!("{name}() does not take the keyword argument `{k}`: remove it."),
                });
            }
            let Some((first, rest)) = args.split_first() else {
                return Err(format!(
                    "{name}() needs at least two numbers: write `{name}(a, b)`."
                ));
            };
            if rest.is_empty() {
                return Err(format!(
                    "{name}() with one number fails in Python ('int' object is not iterable): pass at least two numbers."
                ));
            }
            let mut best = first;
            for v in rest {
                let (candidate, current) = (Num::of(v)?, Num::of(best)?);
                let replace = if func == Func::Min {
                    py_lt(candidate, current)
                } else {
                    py_lt(current, candidate)
                };
                if replace {
                    best = v;
                }
            }
            Ok(best.clone())
        }
        Func::Round => {
            if args.len() > 2 {
                return Err(
                    "round() takes at most two arguments: write `round(x)` or `round(x, ndigits)`."
                        .into(),
                );
            }
            let mut number = args.first();
            let mut ndigits = args.get(1);
            for (k, v) in keywords {
                let slot = match *k {
                    "number" => &mut number,
                    "ndigits" => &mut ndigits,
                    _ => {
                        return Err(format!(
                            "round() does not take the keyword argument `{k}`: use `ndigits`."
                        ));
                    }
                };
                if slot.is_some() {
                    return Err(format!(
                        "round() got `{k}` twice, by position and by name: give it once."
                    ));
                }
                *slot = Some(v);
            }
            let Some(number) = number else {
                return Err(
                    "round() needs a number: write `round(x)` or `round(x, ndigits=2)`.".into(),
                );
            };
            let Some(ndigits) = ndigits else {
                return match Num::of(number)? {
                    Num::I(i) => Ok(Value::Int(i)),
                    Num::F(f) => float_to_int(f.round_ties_even(), "round()"),
                };
            };
            let ndigits = match ndigits {
                Value::Int(i) => *i,
                Value::Bool(b) => i64::from(*b),
                _ => {
                    return Err(
                        "round()'s ndigits must be an integer: write e.g. `round(x, 2)`.".into(),
                    );
                }
            };
            match Num::of(number)? {
                Num::I(i) => round_int(i, ndigits).map(Value::Int),
                Num::F(f) => round_float(f, ndigits).map(Value::Float),
            }
        }
    }
}

/// `round(int, ndigits)`: unchanged for ndigits >= 0, else half-to-even at 10**-ndigits.
fn round_int(i: i64, ndigits: i64) -> Result<i64, String> {
    if ndigits >= 0 {
        return Ok(i);
    }
    let k = ndigits.unsigned_abs();
    if k >= 20 {
        return Ok(0);
    }
    let p = 10i128.pow(k as u32);
    let x = i128::from(i);
    let (mut q, r) = (x.div_euclid(p), x.rem_euclid(p));
    if 2 * r > p || (2 * r == p && q % 2 != 0) {
        q += 1;
    }
    fits_i64(q * p)
}

/// `round(float, ndigits)`: the exact binary value rounded half-to-even at the decimal digit, as
/// CPython does with correctly rounded decimal conversion.
fn round_float(x: f64, ndigits: i64) -> Result<f64, String> {
    if !x.is_finite() || x == 0.0 || ndigits > 323 {
        return Ok(x);
    }
    if ndigits < -308 {
        return Ok(0.0 * x);
    }
    if ndigits >= 0 {
        // Rust formats the exact value and rounds ties to even, like CPython's dtoa mode 3.
        let s = format!("{:.*}", ndigits as usize, x);
        return Ok(s.parse::<f64>().unwrap_or(x));
    }
    let k = ndigits.unsigned_abs() as usize;
    let ax = x.abs();
    let digits = format!("{:.0}", ax.trunc());
    let fraction = ax.fract() != 0.0;
    let (head, tail) = if digits.len() > k {
        digits.split_at(digits.len() - k)
    } else {
        ("0", digits.as_str())
    };
    let rounded_up = if tail.len() < k {
        false
    } else {
        let bytes = tail.as_bytes();
        match bytes[0].cmp(&b'5') {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => {
                let beyond_half = fraction || bytes[1..].iter().any(|c| *c != b'0');
                beyond_half || head.bytes().last().is_some_and(|c| (c - b'0') % 2 == 1)
            }
        }
    };
    let head = if rounded_up {
        increment_decimal(head)
    } else {
        head.to_string()
    };
    let r: f64 = format!("{head}e{k}").parse().unwrap_or(f64::INFINITY);
    if r.is_infinite() {
        return Err(
            "The rounded value is too large for a float (OverflowError): round to fewer digits."
                .into(),
        );
    }
    Ok(r.copysign(x))
}

fn increment_decimal(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).unwrap_or_default();
        }
    }
    let mut out = String::from("1");
    out.push_str(&String::from_utf8(bytes).unwrap_or_default());
    out
}
