//! Numbers as charts write them. Counts go through `crate::format` (the one formatter of counts,
//! shared with the front ends' tables); these are the measurements, ratios and percentages.

use crate::format::si;

pub use crate::format::num;

/// A count given as a float (an estimate of FLOPs) with an SI suffix, as [`si`] writes counts.
pub fn si_float(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        si(v.round() as u64)
    } else {
        num(v)
    }
}

/// A tick value: the shortest decimal, free of float noise (0.3, not 0.30000000000000004).
pub fn tick_num(v: f64) -> String {
    let clean: f64 = format!("{v:.12e}").parse().unwrap_or(v);
    if clean == 0.0 {
        "0".to_string()
    } else {
        format!("{clean}")
    }
}

/// A fraction as an exact percentage, for sparsity levels and axis ticks: 90%, 97.5%.
pub fn percent(fraction: f64) -> String {
    format!("{}%", tick_num(fraction * 100.0))
}

/// A fraction as a percentage with at most one decimal, for computed values: 80%, 77.1%, n/a.
pub fn percent_rounded(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "n/a".to_string();
    }
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{:.0}%", p.round())
    } else {
        format!("{p:.1}%")
    }
}

/// A ratio: 1.85×, 12.3×.
pub fn times(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_string()
    } else if v < 10.0 {
        format!("{v:.2}×")
    } else if v < 100.0 {
        format!("{v:.1}×")
    } else {
        format!("{v:.0}×")
    }
}

/// `part` as a share of `whole`: 42%, 0.3%, <0.1%.
pub fn share(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        return String::new();
    }
    let p = 100.0 * part / whole;
    if p >= 9.95 {
        format!("{p:.0}%")
    } else if p >= 0.05 {
        format!("{p:.1}%")
    } else {
        "<0.1%".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.37), "1.37");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(0.0000123), "1.23e-5");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(percent(0.975), "97.5%");
        assert_eq!(percent(0.7000000000000001), "70%");
        assert_eq!(tick_num(0.1 + 0.2), "0.3");
        assert_eq!(times(4.444), "4.44×");
        assert_eq!(share(1.0, 3.0), "33%");
    }

    #[test]
    fn counts_and_rounded_percentages() {
        assert_eq!(si_float(2_300_000.0), "2.30M");
        assert_eq!(si_float(999_950.0), "1.00M");
        assert_eq!(si_float(f64::NAN), "n/a");
        assert_eq!(percent_rounded(0.7712), "77.1%");
        assert_eq!(percent_rounded(0.8), "80%");
        assert_eq!(percent_rounded(f64::NAN), "n/a");
    }
}
