//! Which weights may be zeroed together: anywhere (unstructured), or N of every M consecutive
//! input features of an output row (N:M, the pattern sparse tensor cores run).

/// Where a layer's zeros go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    Unstructured,
    /// `n` zeros in every group of `m` consecutive columns (inputs) of each row: 2:4 is half
    /// the weights, whatever the plan's sparsity.
    NofM {
        n: usize,
        m: usize,
    },
}

impl Pattern {
    /// "unstructured", or "2:4".
    pub fn name(self) -> String {
        match self {
            Pattern::Unstructured => "unstructured".into(),
            Pattern::NofM { n, m } => format!("{n}:{m}"),
        }
    }

    /// `unstructured`, or `N:M` with 0 < N < M ≤ 64.
    pub fn parse(text: &str) -> Option<Pattern> {
        if text == "unstructured" {
            return Some(Pattern::Unstructured);
        }
        let (n, m) = text.split_once(':')?;
        let (n, m) = (n.trim().parse().ok()?, m.trim().parse().ok()?);
        (0 < n && n < m && m <= 64).then_some(Pattern::NofM { n, m })
    }

    /// The sparsity the pattern itself fixes (N:M), else `None`.
    pub fn sparsity(self) -> Option<f64> {
        match self {
            Pattern::Unstructured => None,
            Pattern::NofM { n, m } => Some(n as f64 / m as f64),
        }
    }

    /// Whether a row of `columns` inputs can be cut into groups of M.
    pub fn fits(self, columns: usize) -> bool {
        match self {
            Pattern::Unstructured => true,
            Pattern::NofM { m, .. } => columns.is_multiple_of(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names() {
        assert_eq!(Pattern::parse("2:4"), Some(Pattern::NofM { n: 2, m: 4 }));
        assert_eq!(Pattern::parse("4:8").unwrap().name(), "4:8");
        assert_eq!(Pattern::parse("unstructured"), Some(Pattern::Unstructured));
        assert_eq!(Pattern::parse("4:4"), None);
        assert_eq!(Pattern::parse("0:4"), None);
        assert_eq!(Pattern::parse("2x4"), None);
        assert_eq!(Pattern::parse("2:4").unwrap().sparsity(), Some(0.5));
        assert!(!Pattern::parse("2:4").unwrap().fits(6));
    }
}
