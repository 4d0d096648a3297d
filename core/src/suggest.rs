//! "Did you mean" for every message about an unknown name (a modifier class, a field, an enum
//! value, a variable, a module, a function of `eval()`): one edit distance and the two ways of
//! choosing from candidates with it, so that every message suggests by the same rule.
//!
//! Names are compared case-insensitively: a case-only difference is distance 0, so
//! `gmpruningmodifier` suggests `GMPruningModifier`.

use std::cell::Cell;

/// The closest candidate to `name` by edit distance (optimal string alignment, case-insensitive),
/// or `None` when nothing is close enough: at most one edit per three characters of `name` (at
/// least one). A case-only difference counts as distance 0; ties go to the first candidate.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name = lower_chars(name);
    let limit = name.len().max(3) / 3;
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let lower = lower_chars(candidate);
        // Cheap reject: the length difference is a lower bound on the distance.
        if name.len().abs_diff(lower.len()) > limit {
            continue;
        }
        let d = osa_distance(&name, &lower);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Up to `n` candidates nearest to `name` by edit distance (case-insensitive), nearest first;
/// ties keep the candidates' order. Unlike [`did_you_mean`] there is no limit: for messages
/// that list the names that exist.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let name = lower_chars(name);
    let mut scored: Vec<(usize, &'a str)> = candidates
        .into_iter()
        .map(|c| (osa_distance(&name, &lower_chars(c)), c))
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

/// The optimal string alignment distance between `a` and `b`, counted in characters and
/// case-sensitive: insertions, deletions, substitutions and transpositions of adjacent
/// characters, each costing one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    osa_distance(&a, &b)
}

fn lower_chars(s: &str) -> Vec<char> {
    s.to_lowercase().chars().collect()
}

/// A limit on the did-you-means one check computes: each compares a name with every candidate,
/// so a text with thousands of unknown names among thousands of candidates would take quadratic
/// time for no help. Past the limit, messages go without a suggestion.
#[derive(Debug)]
pub struct Budget {
    left: Cell<usize>,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget {
            left: Cell::new(limit),
        }
    }

    /// Whether one more suggestion may be computed; counts it when so.
    pub fn take(&self) -> bool {
        let left = self.left.get();
        self.left.set(left.saturating_sub(1));
        left > 0
    }

    /// [`did_you_mean`] while the budget lasts, `None` after.
    pub fn did_you_mean<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        if self.take() {
            did_you_mean(name, candidates)
        } else {
            None
        }
    }
}

/// [`edit_distance`] on characters.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    // Three rows: i-2, i-1, i.
    let mut rows = vec![0usize; 3 * w];
    for (j, cell) in rows[..w].iter_mut().enumerate() {
        *cell = j;
    }
    // rows are addressed modulo 3 so that row i-2 is available for transpositions.
    for i in 1..=a.len() {
        let cur = (i % 3) * w;
        let prev = ((i - 1) % 3) * w;
        let prev2 = ((i + 1) % 3) * w;
        rows[cur] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev + j] + 1)
                .min(rows[cur + j - 1] + 1)
                .min(rows[prev + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[prev2 + j - 2] + 1);
            }
            rows[cur + j] = d;
        }
    }
    rows[(a.len() % 3) * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_each_edit_once() {
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("ab", ""), 2);
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("final_sparsty", "final_sparsity"), 1);
        assert_eq!(edit_distance("inter_fnuc", "inter_func"), 1);
        // Optimal string alignment: a substring is never edited twice, so `ca` → `abc` is 3.
        assert_eq!(edit_distance("ca", "abc"), 3);
        // Case-sensitive and in characters, not bytes.
        assert_eq!(edit_distance("Conv", "conv"), 1);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn did_you_mean_allows_one_edit_per_three_characters() {
        let names = ["num_epochs", "sparsity", "lr"];
        assert_eq!(did_you_mean("num_epoch", names), Some("num_epochs"));
        assert_eq!(did_you_mean("NUM_EPOCHS", names), Some("num_epochs"));
        assert_eq!(did_you_mean("sprty", names), None);
        assert_eq!(did_you_mean("spasity", names), Some("sparsity"));
        // Short names still get one edit.
        assert_eq!(did_you_mean("l", names), Some("lr"));
        assert_eq!(did_you_mean("xy", names), None);
        assert_eq!(did_you_mean("anything", []), None);
    }

    #[test]
    fn did_you_mean_prefers_the_nearest_then_the_first() {
        assert_eq!(did_you_mean("abcd", ["abxy", "abcx", "abcd"]), Some("abcd"));
        assert_eq!(did_you_mean("abcdef", ["abcdxx", "abcdex"]), Some("abcdex"));
        assert_eq!(did_you_mean("abc", ["abd", "abe"]), Some("abd"));
    }

    #[test]
    fn a_budget_stops_suggesting_when_spent() {
        let budget = Budget::new(2);
        assert_eq!(budget.did_you_mean("lr", ["lr_"]), Some("lr_"));
        assert!(budget.take());
        assert_eq!(budget.did_you_mean("lr", ["lr_"]), None);
        assert!(!budget.take());
        assert!(!Budget::new(0).take());
    }

    #[test]
    fn closest_lists_the_nearest_in_order_without_a_limit() {
        assert_eq!(
            closest("conv3", ["fc1", "conv1", "conv2"], 2),
            ["conv1", "conv2"]
        );
        assert_eq!(closest("zzzz", ["a", "bb"], 5), ["a", "bb"]);
        assert_eq!(closest("x", ["a", "b"], 0), Vec::<&str>::new());
    }
}
