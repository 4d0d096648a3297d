//! Numbers written for people, the same in charts, tables, messages and both front ends: counts
//! with an SI suffix (3.74K, 25.6M), counts with thousands separators (25,610,152), and byte sizes
//! in decimal units (3.4 MB).

/// A count with an SI suffix and three significant digits: 80, 3.74K, 25.6M, 4.12G. A value that
/// rounds up to the next power of ten keeps three digits (9,999,999 is 10.0M, 999,950 is 1.00M).
pub fn si(n: u64) -> String {
    const SUFFIXES: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1000 {
        return n.to_string();
    }
    let x = n as f64;
    let mut power = ((x.log10() / 3.0).floor() as usize).clamp(1, SUFFIXES.len());
    loop {
        let scaled = x / 1000f64.powi(power as i32);
        let rounded: f64 = format!("{scaled:.prec$}", prec = decimals(scaled))
            .parse()
            .unwrap_or(scaled);
        if rounded >= 1000.0 && power < SUFFIXES.len() {
            power += 1;
            continue;
        }
        // Rounding may carry into another digit (9.999 → 10.00): count the digits after it.
        return format!(
            "{scaled:.prec$}{}",
            SUFFIXES[power - 1],
            prec = decimals(rounded)
        );
    }
}

/// Decimals that give three significant digits to a value in [1, 1000).
fn decimals(value: f64) -> usize {
    if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    }
}

/// Like [`si`] without trailing zeros, for axis ticks: 2.5K, 5K, 7.5K.
pub fn short_si(n: u64) -> String {
    let s = si(n);
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.contains('.') {
        let number = number.trim_end_matches('0').trim_end_matches('.');
        format!("{number}{suffix}")
    } else {
        s
    }
}

/// A fraction as a percentage with one decimal: 0.8766 -> "87.7%".
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A measured time ratio (old time over new) in words: 1.5 -> "1.50× faster", 0.8 -> "1.25×
/// slower" (a ratio under 1 read as "0.80× faster" misleads).
pub fn faster(ratio: f64) -> String {
    if ratio >= 1.0 || ratio <= 0.0 {
        format!("{ratio:.2}× faster")
    } else {
        format!("{:.2}× slower", 1.0 / ratio)
    }
}

/// A measurement with three significant digits: 123, 12.3, 1.23, 0.0123; very small or large
/// ones in scientific notation (1.23e-5), so a tiny model's ms per item does not print as 0.001.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// A count with thousands separators: 25,610,152.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in decimal units: "812 B", "3.4 MB", "256.0 GB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_has_one_decimal() {
        assert_eq!(percent(0.8766), "87.7%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.0), "0.0%");
    }

    #[test]
    fn si_keeps_three_significant_digits() {
        assert_eq!(si(0), "0");
        assert_eq!(si(80), "80");
        assert_eq!(si(999), "999");
        assert_eq!(si(3_738), "3.74K");
        assert_eq!(si(36_864), "36.9K");
        assert_eq!(si(25_557_032), "25.6M");
        assert_eq!(si(250_000_000), "250M");
        assert_eq!(si(4_119_381_992), "4.12G");
    }

    #[test]
    fn si_carries_into_the_next_digit_or_suffix() {
        assert_eq!(si(999_950), "1.00M");
        assert_eq!(si(999_499), "999K");
        assert_eq!(si(9_999_999), "10.0M");
        assert_eq!(si(99_999), "100K");
        assert_eq!(si(u64::MAX), "18.4E");
    }

    #[test]
    fn ticks_drop_trailing_zeros() {
        assert_eq!(short_si(2500), "2.5K");
        assert_eq!(short_si(5000), "5K");
        assert_eq!(short_si(120_000), "120K");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(grouped(25_610_152), "25,610,152");
        assert_eq!(grouped(999), "999");
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(3_400_000), "3.4 MB");
        assert_eq!(bytes(999_960), "1.0 MB");
        assert_eq!(bytes(256_000_000_000), "256.0 GB");
    }
}
