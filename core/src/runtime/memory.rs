//! How much memory one request may take. Sizes that come from the user (a batch, a sample count,
//! a free dim, a dim written in the model, a shape declared in a data file) are checked here before
//! anything is allocated: an allocation that cannot be served aborts a Rust process, which would
//! take a notebook's kernel down with it, so an oversized request is refused in one sentence that
//! says what fits instead.
//!
//! The budget is the smallest of what the machine can give now: the kernel's `MemAvailable`, the
//! room left under the process's address-space limit (`ulimit -v`, `prlimit --as`), and the room
//! left under a cgroup memory limit (containers). Where none of these can be read (not Linux), the
//! check passes and the allocator has the last word, as before.

use crate::analysis::ModelAnalysis;
use crate::analysis::ops::Shape;
use crate::error::{Result, Sentence, Setting};
use crate::format::bytes as bytes_text;

/// The memory one request may use, and where that number comes from (for the message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub bytes: u64,
    pub source: &'static str,
}

/// What the machine can give this process now.
pub fn budget() -> Budget {
    let mut best = Budget {
        bytes: u64::MAX,
        source: "memory available",
    };
    let mut consider = |bytes: Option<u64>, source: &'static str| {
        if let Some(bytes) = bytes
            && bytes < best.bytes
        {
            best = Budget { bytes, source };
        }
    };
    consider(mem_available(), "memory available");
    consider(
        address_space_left(),
        "room under this process's address-space limit",
    );
    consider(cgroup_left(), "room under this container's memory limit");
    best
}

/// Refuses a request of `need` bytes that does not fit the budget. `what` names the request and
/// `fix` says what to change, e.g. ("the generated inputs at batch 1000000000", "use a batch of at
/// most 71,000,000").
pub fn check(
    need: Option<u64>,
    what: impl FnOnce() -> String,
    fix: impl FnOnce(&Budget) -> Sentence,
) -> Result<()> {
    let budget = budget();
    let problem = match need {
        Some(need) if need <= budget.bytes => return Ok(()),
        Some(need) => format!(
            "{} would need {}, more than the {} {}; ",
            what(),
            bytes_text(need),
            bytes_text(budget.bytes),
            budget.source,
        ),
        None => format!(
            "{} would need more bytes than a 64-bit count can hold (the sizes overflow); ",
            what(),
        ),
    };
    Err(Sentence::new(problem).then(fix(&budget)).text(".").into())
}

/// Refuses running `analysis`'s model at `batch` when its largest layer alone (its activation
/// input and its outputs, 4 bytes an element) would not fit: ONNX Runtime would fail mid-run
/// with an allocator message about a buffer size, or the machine would start swapping. The
/// analysis's shapes were inferred at its own batch (the first dim of the first input), so they
/// are scaled to `batch`.
pub fn check_activations(analysis: &ModelAnalysis, batch: usize, what: &str) -> Result<()> {
    let analysis_batch = super::batch::analysis_batch(analysis) as f64;
    let shapes_bytes = |shapes: &[Option<Shape>]| -> f64 {
        shapes
            .iter()
            .flatten()
            .map(|s| s.iter().map(|&d| d as f64).product::<f64>() * 4.0)
            .sum()
    };
    let Some((layer, per_sample)) = analysis
        .layers
        .iter()
        .map(|l| {
            // The first input is the activation; the others are mostly weights, which do not
            // grow with the batch.
            let bytes = shapes_bytes(&l.input_shapes[..l.input_shapes.len().min(1)])
                + shapes_bytes(&l.output_shapes);
            (l, bytes / analysis_batch)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Ok(());
    };
    let need = per_sample * batch as f64;
    let need = (need < u64::MAX as f64).then_some(need as u64);
    check(
        need,
        || {
            format!(
                "{what} at batch {batch}: layer '{}' ({}) alone",
                layer.name, layer.op_type
            )
        },
        |budget| {
            let fits = (budget.bytes as f64 / per_sample.max(1.0)).floor() as u64;
            if fits > 0 {
                format!("use a batch of at most {fits}").into()
            } else {
                smaller_shapes()
            }
        },
    )
}

/// The advice when not even one sample fits: the shapes themselves must shrink.
pub(crate) fn smaller_shapes() -> Sentence {
    Sentence::new("use smaller ")
        .setting(Setting::Dim)
        .text(" or ")
        .setting(Setting::Input)
        .text(" sizes")
}

/// `MemAvailable` from /proc/meminfo: what can be allocated without swapping.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    kib_field(&text, "MemAvailable:")
}

/// The soft address-space limit less what the process has mapped already.
fn address_space_left() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?; // "unlimited" does not parse: no limit
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mapped = kib_field(&status, "VmSize:")?;
    Some(soft.saturating_sub(mapped))
}

/// A cgroup v2 `memory.max` less `memory.current`, for the cgroup this process is in.
fn cgroup_left() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?; // "max" does not parse: no limit
    let current: u64 = read("memory.current")?.trim().parse().ok()?;
    Some(max.saturating_sub(current))
}

/// A "Name:   1234 kB" field, in bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_finite_and_below_the_machine_on_linux() {
        let budget = budget();
        if cfg!(target_os = "linux") {
            assert!(budget.bytes > 0 && budget.bytes < u64::MAX, "{budget:?}");
        }
    }

    #[test]
    fn oversized_and_overflowing_requests_are_refused_in_one_sentence() {
        let err = check(
            Some(u64::MAX - 1),
            || "the inputs".into(),
            |_| "use a smaller batch".into(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("the inputs would need 18446.7 PB, more than the "),
            "{err}"
        );
        assert!(err.ends_with("; use a smaller batch."), "{err}");
        let err = check(
            None,
            || "the inputs".into(),
            |_| "use a smaller batch".into(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("the sizes overflow"), "{err}");
        assert!(check(Some(1024), || unreachable!(), |_| unreachable!()).is_ok());
    }

    #[test]
    fn kib_fields_are_read_in_bytes() {
        let text = "MemTotal:       24000000 kB\nMemAvailable:   12000000 kB\n";
        assert_eq!(kib_field(text, "MemAvailable:"), Some(12_000_000 * 1024));
        assert_eq!(kib_field(text, "VmSize:"), None);
    }
}
