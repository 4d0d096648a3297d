//! The timed runs in rounds a moment apart, the fastest round the profile's times are read from,
//! and the note that says when the times varied as they do on a busy machine.
//!
//! Why rounds: on a shared machine other work comes and goes, and it slows some kernels far more
//! than others (a layer whose threads wait for a busy core doubles; one that ran alone does not).
//! The estimate reads each layer's time against the fastest layer's FLOP rate, so such a slowdown
//! does not cancel out: one profile taken while another process held a core read MobileNet's
//! speedup at 90 % as 1.7× against 2.7× on a quiet machine. Rounds a second apart give the profile
//! several chances at a quiet spell, and how far they disagree says whether it found one.

use std::ops::Range;
use std::time::Duration;

/// Timed runs per round, at least: a round's mean must be steady enough to compare.
const RUNS_PER_ROUND: usize = 10;

/// At most this many rounds, however many runs.
const MAX_ROUNDS: usize = 5;

/// The pause between rounds: long enough for a short burst of other work to pass.
pub(super) const PAUSE: Duration = Duration::from_secs(1);

/// Untimed runs after each pause: while it lasts ONNX Runtime's threads go to sleep and the
/// caches cool, and on the digits CNN the round after a pause took 10–50 % longer without them.
const REWARM_RUNS: usize = 2;

/// Rounds whose means differ by more than this (slowest over fastest) were disturbed: quiet
/// MobileNet-shaped profiles' rounds stayed within 1.11, disturbed ones reached 1.21–1.68.
const BUSY_ROUNDS: f64 = 1.15;

/// Runs this spread (p90 over p50 of every timed run) were disturbed: on a quiet machine the
/// bench models' runs stayed within 1.09 in twelve profiles, and under a second process holding a
/// core they reached 1.34.
const BUSY_SPREAD: f64 = 1.20;

/// Below this median run time a run is mostly ONNX Runtime's own scheduling, which varies by tens
/// of microseconds whatever else the machine does: its rounds and spread say nothing of a busy
/// machine (the digits CNN's 0.1 ms runs spread 1.4× on a quiet one).
const BUSY_MIN_MS: f64 = 1.0;

/// One run of the session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    /// Preceded by [`PAUSE`].
    pub(super) pause_before: bool,
    pub(super) timed: bool,
}

/// Every run of the session: `warmup` untimed runs, then each round's timed runs, each round
/// after the first preceded by a pause and [`REWARM_RUNS`] untimed runs.
pub(super) fn schedule(warmup: usize, rounds: &[Range<usize>]) -> Vec<Step> {
    let untimed = |pause_before| Step {
        pause_before,
        timed: false,
    };
    let mut steps: Vec<Step> = (0..warmup).map(|_| untimed(false)).collect();
    for (k, round) in rounds.iter().enumerate() {
        if k > 0 {
            steps.extend((0..REWARM_RUNS).map(|r| untimed(r == 0)));
        }
        steps.extend(round.clone().map(|_| Step {
            pause_before: false,
            timed: true,
        }));
    }
    steps
}

/// The timed runs' indices, split into rounds of at least [`RUNS_PER_ROUND`] runs (at most
/// [`MAX_ROUNDS`]), the earlier rounds taking the remainder.
pub(super) fn split(iterations: usize) -> Vec<Range<usize>> {
    let count = (iterations / RUNS_PER_ROUND).clamp(1, MAX_ROUNDS);
    let (size, extra) = (iterations / count, iterations % count);
    let mut start = 0;
    (0..count)
        .map(|k| {
            let end = start + size + usize::from(k < extra);
            let round = start..end;
            start = end;
            round
        })
        .collect()
}

/// Each round's mean wall-clock ms per run.
pub(super) fn means(rounds: &[Range<usize>], run_ms: &[f64]) -> Vec<f64> {
    rounds
        .iter()
        .map(|round| {
            let runs = &run_ms[round.start.min(run_ms.len())..round.end.min(run_ms.len())];
            runs.iter().sum::<f64>() / runs.len().max(1) as f64
        })
        .collect()
}

/// The fastest round among those with a run in `recorded` (the timed runs whose kernels the
/// profiler recorded); `None` when none has one.
pub(super) fn fastest(
    rounds: &[Range<usize>],
    round_ms: &[f64],
    recorded: &[usize],
) -> Option<usize> {
    (0..rounds.len())
        .filter(|&k| recorded.iter().any(|run| rounds[k].contains(run)))
        .min_by(|&a, &b| round_ms[a].total_cmp(&round_ms[b]))
}

/// A note when the runs varied as on a busy machine: rounds that disagree, or runs spread wide.
/// It names what it saw, not a cause: the profile cannot tell other work from the machine's own
/// slow spells.
/// `round_ms` is empty for a profile taken in one round.
pub(super) fn busy_note(round_ms: &[f64], p50: f64, p90: f64) -> Option<String> {
    let fastest = round_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = round_ms.iter().copied().fold(0.0, f64::max);
    if p50 < BUSY_MIN_MS {
        return None;
    }
    let rounds_apart = round_ms.len() > 1 && slowest > fastest * BUSY_ROUNDS;
    let spread = p90 > p50 * BUSY_SPREAD;
    if !rounds_apart && !spread {
        return None;
    }
    let what = if rounds_apart {
        format!(
            "its {} rounds took {fastest:.3} to {slowest:.3} ms per batch. Times are from the fastest round; other work slows some layers more than others, so if that round was slowed too, the estimated speedups read low",
            round_ms.len()
        )
    } else {
        format!(
            "its slowest tenth of runs took {:.2}x its median. Other work slows some layers more than others, so the estimated speedups may read low",
            p90 / p50
        )
    };
    Some(format!(
        "Times varied during this profile, as they do when other work shares the machine: {what}. Profile again when the machine is quiet."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_into_rounds_of_ten_at_most_five() {
        assert_eq!(split(5), vec![Range { start: 0, end: 5 }]);
        assert_eq!(split(19), vec![Range { start: 0, end: 19 }]);
        assert_eq!(split(20), [0..10, 10..20]);
        assert_eq!(split(25), [0..13, 13..25]);
        assert_eq!(split(50), [0..10, 10..20, 20..30, 30..40, 40..50]);
        assert_eq!(split(53), [0..11, 11..22, 22..33, 33..43, 43..53]);
    }

    #[test]
    fn each_round_after_a_pause_starts_with_untimed_runs() {
        let steps = schedule(1, &split(20));
        let timed: Vec<bool> = steps.iter().map(|s| s.timed).collect();
        let paused: Vec<usize> = (0..steps.len())
            .filter(|&k| steps[k].pause_before)
            .collect();
        assert_eq!(steps.len(), 1 + 20 + REWARM_RUNS);
        assert_eq!(paused, [11]);
        assert!(!timed[0] && timed[1..11].iter().all(|&t| t));
        assert!(!timed[11] && !timed[12] && timed[13..].iter().all(|&t| t));
        assert_eq!(schedule(2, &split(5)).iter().filter(|s| s.timed).count(), 5);
    }

    #[test]
    fn the_fastest_round_is_one_the_profiler_recorded() {
        let rounds = split(20);
        let run_ms: Vec<f64> = (0..20).map(|k| if k < 10 { 1.0 } else { 2.0 }).collect();
        let round_ms = means(&rounds, &run_ms);
        assert_eq!(round_ms, [1.0, 2.0]);
        assert_eq!(
            fastest(&rounds, &round_ms, &(0..20).collect::<Vec<_>>()),
            Some(0)
        );
        assert_eq!(fastest(&rounds, &round_ms, &[12, 13]), Some(1));
        assert_eq!(fastest(&rounds, &round_ms, &[]), None);
    }

    #[test]
    fn a_busy_machine_is_named_and_a_quiet_one_is_not() {
        assert_eq!(busy_note(&[6.1, 6.3, 6.2], 6.2, 6.5), None);
        assert_eq!(
            busy_note(&[0.09, 0.13], 0.1, 0.14),
            None,
            "too short to tell"
        );
        let rounds = busy_note(&[6.1, 9.2], 6.5, 7.0).unwrap();
        assert!(
            rounds.contains("2 rounds took 6.100 to 9.200 ms"),
            "{rounds}"
        );
        let spread = busy_note(&[13.9], 14.0, 19.0).unwrap();
        assert!(spread.contains("1.36x its median"), "{spread}");
    }
}
