//! Plain scalars typed the way SparseML's YAML reader types them (PyYAML `safe_load`, YAML 1.1),
//! and the way a YAML 1.2 core-schema reader does (saphyr, most editors), so the rules can report
//! a `yaml11-trap` where the two disagree: `1e-7` is a string to PyYAML, `2:4`
//! is the integer 124, `yes` is true, `010` is 8.
//!
//! Both functions take the scalar's value (`NodeKind::Scalar::value`; for a one-line plain scalar
//! that is its source text) and are only meant for plain, untagged scalars: quoted scalars are
//! always strings. PyYAML also resolves timestamps (`2001-12-14`), the merge key `<<` and the
//! value key `=`; this module calls them strings.

/// A plain scalar's type and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Yaml11 {
    Null,
    Bool(bool),
    /// Integers beyond `i64` saturate (Python's are unbounded).
    Int(i64),
    Float(f64),
    Str,
}

impl Yaml11 {
    /// Same type and value; unlike `==`, NaN is the same as NaN.
    pub fn same_as(self, other: Yaml11) -> bool {
        match (self, other) {
            (Yaml11::Float(a), Yaml11::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            _ => self == other,
        }
    }
}

/// PyYAML's reading of a plain scalar: its implicit resolvers (`resolver.py`) and constructors
/// (`SafeConstructor.construct_yaml_int` / `_float`), pattern for pattern.
pub fn resolve_plain(raw: &str) -> Yaml11 {
    if matches!(raw, "" | "~" | "null" | "Null" | "NULL") {
        return Yaml11::Null;
    }
    match raw {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Yaml11::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Yaml11::Bool(false);
        }
        _ => {}
    }
    if is_float11(raw) {
        return float11(raw);
    }
    if is_int11(raw) {
        return int11(raw);
    }
    Yaml11::Str
}

/// A YAML 1.2 core-schema reading: `null`, `true`/`false` in three
/// capitalisations, decimal `[-+]?[0-9]+`, `0o` octal, `0x` hex, floats with an optional dot and
/// an exponent with an optional sign, `.inf` and `.nan`.
pub fn resolve_plain_yaml12(raw: &str) -> Yaml11 {
    match raw {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml11::Null,
        "true" | "True" | "TRUE" => return Yaml11::Bool(true),
        "false" | "False" | "FALSE" => return Yaml11::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Yaml11::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Yaml11::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Yaml11::Float(f64::NAN),
        _ => {}
    }
    let (negative, unsigned) = split_sign(raw);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Yaml11::Int(signed(negative, parse_radix(unsigned, 10)));
    }
    if let Some(octal) = raw.strip_prefix("0o")
        && !octal.is_empty()
        && octal.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Yaml11::Int(signed(false, parse_radix(octal, 8)));
    }
    if let Some(hex) = raw.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Yaml11::Int(signed(false, parse_radix(hex, 16)));
    }
    if is_float12(unsigned) {
        return Yaml11::Float(raw.parse().unwrap_or(f64::NAN));
    }
    Yaml11::Str
}

/// Both readings when a YAML 1.2 reader (the editor) and PyYAML (SparseML) disagree, as
/// `(yaml11, yaml12)`; `None` when they agree.
pub fn readings_differ(raw: &str) -> Option<(Yaml11, Yaml11)> {
    let (yaml11, yaml12) = (resolve_plain(raw), resolve_plain_yaml12(raw));
    (!yaml11.same_as(yaml12)).then_some((yaml11, yaml12))
}

fn split_sign(raw: &str) -> (bool, &str) {
    match raw.as_bytes().first() {
        Some(b'-') => (true, &raw[1..]),
        Some(b'+') => (false, &raw[1..]),
        _ => (false, raw),
    }
}

fn digits(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(allowed)
}

fn is_digit_or_underscore(b: u8) -> bool {
    b.is_ascii_digit() || b == b'_'
}

/// `(?::[0-5]?[0-9])+`: the base-60 parts after the first.
fn is_sexagesimal_tail(s: &str) -> bool {
    let Some(rest) = s.strip_prefix(':') else {
        return false;
    };
    rest.split(':').all(|part| match part.as_bytes() {
        [d] => d.is_ascii_digit(),
        [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
        _ => false,
    })
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
/// [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
fn is_int11(raw: &str) -> bool {
    let (_, s) = split_sign(raw);
    if let Some(bin) = s.strip_prefix("0b") {
        return digits(bin, |b| matches!(b, b'0' | b'1' | b'_'));
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return digits(hex, |b| b.is_ascii_hexdigit() || b == b'_');
    }
    if s == "0" {
        return true;
    }
    if let Some(octal) = s.strip_prefix('0') {
        return digits(octal, |b| matches!(b, b'0'..=b'7' | b'_'));
    }
    if !s.starts_with(|c: char| ('1'..='9').contains(&c)) {
        return false;
    }
    match s.find(':') {
        None => digits(s, is_digit_or_underscore),
        Some(colon) => {
            digits(&s[..colon], is_digit_or_underscore) && is_sexagesimal_tail(&s[colon..])
        }
    }
}

/// `[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)? | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)? |
/// [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)`
fn is_float11(raw: &str) -> bool {
    if matches!(raw, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (_, s) = split_sign(raw);
    if matches!(s, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let Some(dot) = s.find('.') else { return false };
    let (whole, rest) = (&s[..dot], &s[dot + 1..]);
    // The exponent needs a sign, and digits after it.
    let exponent_ok = |exponent: &str| {
        exponent.is_empty()
            || (exponent.len() >= 3
                && matches!(exponent.as_bytes()[0], b'e' | b'E')
                && matches!(exponent.as_bytes()[1], b'+' | b'-')
                && exponent[2..].bytes().all(|b| b.is_ascii_digit()))
    };
    if whole.is_empty() {
        // `.5`: no sign allowed, a digit first.
        let fraction_end = rest.find(['e', 'E']).unwrap_or(rest.len());
        let fraction = &rest[..fraction_end];
        return s.len() == raw.len()
            && fraction.starts_with(|c: char| c.is_ascii_digit())
            && digits(fraction, is_digit_or_underscore)
            && exponent_ok(&rest[fraction_end..]);
    }
    if !whole.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    match whole.find(':') {
        // Base 60: no exponent.
        Some(colon) => {
            digits(&whole[..colon], is_digit_or_underscore)
                && is_sexagesimal_tail(&whole[colon..])
                && rest.bytes().all(is_digit_or_underscore)
        }
        None => {
            let fraction_end = rest.find(['e', 'E']).unwrap_or(rest.len());
            digits(whole, is_digit_or_underscore)
                && rest[..fraction_end].bytes().all(is_digit_or_underscore)
                && exponent_ok(&rest[fraction_end..])
        }
    }
}

/// `construct_yaml_int`: underscores dropped, then `0b`, `0x`, leading-`0` octal, base 60 or
/// decimal.
fn int11(raw: &str) -> Yaml11 {
    let cleaned = raw.replace('_', "");
    let (negative, s) = split_sign(&cleaned);
    let magnitude = if s == "0" {
        Some(0)
    } else if let Some(bin) = s.strip_prefix("0b") {
        parse_radix(bin, 2)
    } else if let Some(hex) = s.strip_prefix("0x") {
        parse_radix(hex, 16)
    } else if let Some(octal) = s.strip_prefix('0') {
        parse_radix(octal, 8)
    } else if s.contains(':') {
        s.split(':').try_fold(0_i128, |acc, part| {
            Some(
                acc.saturating_mul(60)
                    .saturating_add(parse_radix(part, 10)?),
            )
        })
    } else {
        parse_radix(s, 10)
    };
    // `0b_` and `0x_` match the pattern but leave no digits: PyYAML's `int('')` raises.
    magnitude.map_or(Yaml11::Str, |m| Yaml11::Int(signed(negative, Some(m))))
}

/// `construct_yaml_float`: underscores dropped, lower-cased, `.inf`, `.nan`, base 60 or `float()`.
fn float11(raw: &str) -> Yaml11 {
    let cleaned = raw.replace('_', "").to_ascii_lowercase();
    let (negative, s) = split_sign(&cleaned);
    let sign = if negative { -1.0 } else { 1.0 };
    let value = match s {
        ".inf" => f64::INFINITY,
        ".nan" => return Yaml11::Float(f64::NAN),
        _ if s.contains(':') => s.split(':').fold(0.0, |acc, part| {
            acc * 60.0 + part.parse::<f64>().unwrap_or(f64::NAN)
        }),
        _ => s.parse().unwrap_or(f64::NAN),
    };
    Yaml11::Float(sign * value)
}

/// The value of ASCII digits in `radix`, saturating; `None` when there are none or one is not a
/// digit.
fn parse_radix(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() {
        return None;
    }
    digits.chars().try_fold(0_i128, |acc, c| {
        let digit = c.to_digit(radix)?;
        Some(
            acc.saturating_mul(i128::from(radix))
                .saturating_add(i128::from(digit)),
        )
    })
}

fn signed(negative: bool, magnitude: Option<i128>) -> i64 {
    let magnitude = magnitude.unwrap_or(0);
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).unwrap_or(if negative { i64::MIN } else { i64::MAX })
}

/// The core schema's float without its sign: `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float12(s: &str) -> bool {
    let mantissa_end = s.find(['e', 'E']).unwrap_or(s.len());
    let (mantissa, exponent) = (&s[..mantissa_end], &s[mantissa_end..]);
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction, |b| b.is_ascii_digit()),
        Some((whole, fraction)) => {
            digits(whole, |b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => digits(mantissa, |b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_empty() || {
        let e = &exponent[1..];
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        digits(e, |b| b.is_ascii_digit())
    };
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use Yaml11::{Bool, Float, Int, Null, Str};

    /// `raw` reads as `yaml11` in PyYAML and as `yaml12` in a YAML 1.2 reader.
    fn check(raw: &str, yaml11: Yaml11, yaml12: Yaml11) {
        let (got11, got12) = (resolve_plain(raw), resolve_plain_yaml12(raw));
        assert!(
            got11.same_as(yaml11),
            "PyYAML reads {raw:?} as {got11:?}, expected {yaml11:?}"
        );
        assert!(
            got12.same_as(yaml12),
            "YAML 1.2 reads {raw:?} as {got12:?}, expected {yaml12:?}"
        );
        assert_eq!(
            readings_differ(raw).is_some(),
            !yaml11.same_as(yaml12),
            "readings_differ({raw:?})"
        );
    }

    // Every YAML 1.1 trap: each value PyYAML and YAML 1.2 read differently.

    #[test]
    fn exponent_without_a_dot_is_a_string() {
        for raw in ["1e-7", "1e3", "5e-1", "1.5e3", "1e+3", "1e-07"] {
            check(raw, Str, Float(raw.parse().unwrap()));
        }
    }

    #[test]
    fn dot_and_signed_exponent_is_a_float() {
        check("1.0e-7", Float(1.0e-7), Float(1.0e-7));
        check("1.e+3", Float(1000.0), Float(1000.0));
        check("1.0E-3", Float(0.001), Float(0.001));
    }

    #[test]
    fn signed_leading_dot_is_a_string() {
        check("-.5", Str, Float(-0.5));
        check("+.5", Str, Float(0.5));
        check(".5", Float(0.5), Float(0.5));
        check("1.", Float(1.0), Float(1.0));
        check("0.", Float(0.0), Float(0.0));
    }

    #[test]
    fn base_60() {
        check("2:4", Int(124), Str);
        check("4:2", Int(242), Str);
        check("1:30", Int(90), Str);
        check("1:2:3.5", Float(3723.5), Str);
        check("2:60", Str, Str);
        check("190:20:30", Int(685_230), Str);
        check("-1:30", Int(-90), Str);
        check("0:30", Str, Str);
        check("0:30.5", Float(30.5), Str);
        check("1:305", Str, Str);
    }

    #[test]
    fn booleans() {
        for raw in ["yes", "Yes", "YES", "on", "On", "ON"] {
            check(raw, Bool(true), Str);
        }
        for raw in ["true", "True", "TRUE"] {
            check(raw, Bool(true), Bool(true));
        }
        for raw in ["no", "No", "NO", "off", "Off", "OFF"] {
            check(raw, Bool(false), Str);
        }
        for raw in ["false", "False", "FALSE"] {
            check(raw, Bool(false), Bool(false));
        }
        for raw in ["y", "n", "Y", "tRUE", "oN"] {
            check(raw, Str, Str);
        }
    }

    #[test]
    fn integers() {
        check("0", Int(0), Int(0));
        check("-1", Int(-1), Int(-1));
        check("010", Int(8), Int(10));
        check("007", Int(7), Int(7));
        check("08", Str, Int(8));
        check("0x10", Int(16), Int(16));
        check("0b11", Int(3), Str);
        check("0o10", Str, Int(8));
        check("1_000", Int(1000), Str);
        check("1_0.5", Float(10.5), Str);
        check("-0x1F", Int(-31), Str);
        check("+12", Int(12), Int(12));
        check("0_", Int(0), Str);
        check("0b_", Str, Str);
        check("99999999999999999999", Int(i64::MAX), Int(i64::MAX));
    }

    #[test]
    fn nulls() {
        for raw in ["~", "null", "Null", "NULL", ""] {
            check(raw, Null, Null);
        }
        check("nULL", Str, Str);
    }

    #[test]
    fn infinity_and_nan() {
        check(".inf", Float(f64::INFINITY), Float(f64::INFINITY));
        check("-.inf", Float(f64::NEG_INFINITY), Float(f64::NEG_INFINITY));
        check("+.INF", Float(f64::INFINITY), Float(f64::INFINITY));
        check(".nan", Float(f64::NAN), Float(f64::NAN));
        check(".NaN", Float(f64::NAN), Float(f64::NAN));
        check("-.nan", Str, Str);
    }

    #[test]
    fn recipe_values() {
        check("0.05", Float(0.05), Float(0.05));
        check("eval(num_epochs - 2)", Str, Str);
        check("unstructured", Str, Str);
        check("re:.*conv", Str, Str);
        check("__ALL_PRUNABLE__", Str, Str);
        check("1.1.0", Str, Str);
        check("2001-12-14", Str, Str);
        check(".", Str, Str);
        check("-", Str, Str);
        check("1e", Str, Str);
        check("1.0e7", Str, Float(1.0e7));
        check("1.0e+", Str, Str);
        check("._5", Str, Str);
    }
}
