//! The training schedule from the project's training settings, as Sparsify's
//! `default_epochs_distribution` and `optim_lr_sched_default_mods` make it.
//!
//! Epochs (E = the training epochs; 100 when unset or below 1): one stabilization epoch, then
//! ⌊E/3⌋ pruning epochs from epoch 1, then ⌊E/4⌋ fine-tuning epochs; the schedule ends at
//! `1 + pruning + fine-tuning` and the pruning mask is updated 40 times (`update_frequency =
//! pruning / 40`).
//!
//! LR (only when an initial LR L0 is known): a `set` modifier at epoch 0 with `(L0 + Lf) / 2`, or
//! L0 alone without a final LR; with a final LR Lf, a `step` modifier from the fine-tuning start
//! (end −1) with `init = lr / 4`, `gamma = 0.25` and `step_size = ⌊(fine-tuning epochs − 1) / n⌋`
//! where `n = ln(0.1 · Lf / init) / ln 0.25`, the number of steps that takes `init` to a tenth of
//! Lf.

use super::plan::{LrModifier, Schedule};

/// The sparsity the pruning modifier starts from (Sparsify's `init_sparsity`).
pub const INIT_SPARSITY: f64 = 0.05;
/// Epochs when the training settings give none (or fewer than 1).
pub const DEFAULT_EPOCHS: f64 = 100.0;
const PRUNING_STEPS: f64 = 40.0;
const GAMMA: f64 = 0.25;
/// Quantization-aware training takes half the fine-tuning phase, within these bounds (epochs).
const QAT_MIN_EPOCHS: f64 = 1.0;
const QAT_MAX_EPOCHS: f64 = 5.0;

pub fn schedule(
    optimizer: &str,
    epochs: f64,
    init_lr: Option<f64>,
    final_lr: Option<f64>,
) -> Schedule {
    let epochs = if epochs.is_finite() && epochs >= 1.0 {
        epochs
    } else {
        DEFAULT_EPOCHS
    };
    let start = 0.0;
    let stabilization = 1.0;
    let pruning = (epochs / 3.0).floor();
    let fine_tuning = (epochs / 4.0).floor();
    let pruning_start = start + stabilization;
    let pruning_end = pruning_start + pruning;
    let end = pruning_end + fine_tuning;
    let mut lr = Vec::new();
    if let Some(l0) = init_lr.filter(|v| v.is_finite() && *v > 0.0) {
        let final_lr = final_lr.filter(|v| v.is_finite() && *v > 0.0);
        let set = final_lr.map_or(l0, |lf| (l0 + lf) / 2.0);
        lr.push(LrModifier::Set {
            start_epoch: start,
            learning_rate: set,
        });
        if let Some(lf) = final_lr {
            let init = GAMMA * set;
            let steps = (0.1 * lf / init).ln() / GAMMA.ln();
            let fine_epochs = end - pruning_end;
            // Sparsify divides without a guard; a final LR at or above a tenth of the step's start
            // would give no step (n ≤ 0), so the step size is kept to at least one epoch.
            let step_size = if steps > 0.0 {
                ((fine_epochs - 1.0) / steps).floor().max(1.0)
            } else {
                fine_epochs.max(1.0)
            };
            lr.push(LrModifier::Step {
                start_epoch: pruning_end,
                end_epoch: -1.0,
                init_lr: init,
                step_size,
                gamma: GAMMA,
            });
        }
    }
    Schedule {
        optimizer: optimizer.to_string(),
        epochs,
        start_epoch: start,
        end_epoch: end,
        stabilization_epochs: stabilization,
        pruning_start,
        pruning_end,
        fine_tune_start: pruning_end,
        update_frequency: pruning / PRUNING_STEPS,
        init_sparsity: INIT_SPARSITY,
        lr,
    }
}

/// When quantization-aware training runs in the recipe: `(start_epoch, observer_end_epoch,
/// freeze_bn_epoch)`.
///
/// QAT fine-tunes an already pruned model, so it takes the last epochs of the fine-tuning phase:
/// half of them, at least 1 and at most 5 (SparseML's example recipes use 3 to 5; more only
/// slows training, as the fake-quantized model converges within a few epochs), in whole epochs
/// when the phase allows. Inside that window batch-norm statistics freeze first (40% of the way)
/// and the observers stop a little later (60%), as in PyTorch's QAT tutorial and SparseML's
/// YOLOv5 recipes (BN at +1, observers at +2): the last epoch or two then train the weights
/// against fixed ranges and fixed statistics, which is what the quantized model will run with.
pub fn quantization_epochs(schedule: &Schedule) -> (f64, f64, f64) {
    let end = schedule.end_epoch;
    let fine_tuning = (end - schedule.fine_tune_start).max(0.0);
    let available = (end - schedule.start_epoch).max(0.0);
    let qat = (fine_tuning / 2.0)
        .round()
        .clamp(QAT_MIN_EPOCHS, QAT_MAX_EPOCHS)
        .min(available);
    let start = end - qat;
    // Two or more epochs: whole epochs, each strictly before the end (round(0.4 q) and
    // round(0.6 q) are below q for q >= 2). A single epoch is split.
    let at = |fraction: f64| {
        let offset = qat * fraction;
        start + if qat >= 2.0 { offset.round() } else { offset }
    };
    (start, at(0.6), at(0.4))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sparsify's own example: E = 90, L0 = 0.1, Lf = 0.001.
    #[test]
    fn worked_example_e90() {
        let s = schedule("sgd", 90.0, Some(0.1), Some(0.001));
        assert_eq!(s.optimizer, "sgd");
        assert_eq!(s.epochs, 90.0);
        assert_eq!((s.start_epoch, s.end_epoch), (0.0, 53.0));
        assert_eq!(s.stabilization_epochs, 1.0);
        assert_eq!((s.pruning_start, s.pruning_end), (1.0, 31.0));
        assert_eq!(s.fine_tune_start, 31.0);
        assert_eq!(s.update_frequency, 0.75);
        assert_eq!(s.init_sparsity, 0.05);
        assert_eq!(s.lr.len(), 2);
        let LrModifier::Set {
            start_epoch,
            learning_rate,
        } = s.lr[0]
        else {
            panic!("first is set: {:?}", s.lr)
        };
        assert_eq!(start_epoch, 0.0);
        assert!((learning_rate - 0.0505).abs() < 1e-15);
        let LrModifier::Step {
            start_epoch,
            end_epoch,
            init_lr,
            step_size,
            gamma,
        } = s.lr[1]
        else {
            panic!("second is step: {:?}", s.lr)
        };
        assert_eq!((start_epoch, end_epoch), (31.0, -1.0));
        assert!((init_lr - 0.012625).abs() < 1e-15);
        assert_eq!(gamma, 0.25);
        assert_eq!(step_size, 6.0);
        let n = (0.0001f64 / 0.012625).ln() / 0.25f64.ln();
        assert!((n - 3.490).abs() < 1e-3);
    }

    #[test]
    fn quantization_in_the_last_fine_tuning_epochs() {
        // E = 90: fine-tuning 31 → 53 (22 epochs), so 5 QAT epochs from 48; BN freezes at 50,
        // observers stop at 51, and epochs 51 to 53 train against fixed ranges.
        let s = crate::optimize::plan::schedule_e90();
        assert_eq!(quantization_epochs(&s), (48.0, 51.0, 50.0));
        let short = |fine: f64| Schedule {
            fine_tune_start: 10.0,
            end_epoch: 10.0 + fine,
            ..s.clone()
        };
        for (fine, expected) in [
            (0.0, (9.0, 9.6, 9.4)),
            (2.0, (11.0, 11.6, 11.4)),
            (4.0, (12.0, 13.0, 13.0)),
            (6.0, (13.0, 15.0, 14.0)),
            (8.0, (14.0, 16.0, 16.0)),
        ] {
            let (start, observers, bn) = quantization_epochs(&short(fine));
            let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
            assert!(
                close(start, expected.0) && close(observers, expected.1) && close(bn, expected.2),
                "{fine} fine-tuning epochs: {:?}",
                (start, observers, bn)
            );
        }
        // Every schedule `schedule` makes: inside the fine-tuning end, in SparseML's order.
        for epochs in [1.0, 2.0, 4.0, 10.0, 30.0, 100.0, 1000.0] {
            let s = schedule("sgd", epochs, None, None);
            let (start, observers, bn) = quantization_epochs(&s);
            assert!(
                start >= s.start_epoch && start < s.end_epoch,
                "{epochs}: {start}"
            );
            assert!(
                bn >= start && observers >= bn && observers < s.end_epoch,
                "{epochs}"
            );
            assert!(s.end_epoch - start <= QAT_MAX_EPOCHS);
        }
    }

    #[test]
    fn defaults_without_lr() {
        let s = schedule("adam", 0.0, None, Some(0.001));
        assert_eq!(s.epochs, 100.0);
        assert_eq!(
            (s.pruning_start, s.pruning_end, s.end_epoch),
            (1.0, 34.0, 59.0)
        );
        assert_eq!(s.update_frequency, 33.0 / 40.0);
        assert!(s.lr.is_empty(), "no LR modifiers without an initial LR");
        let only_init = schedule("sgd", 90.0, Some(0.1), None);
        assert_eq!(
            only_init.lr,
            vec![LrModifier::Set {
                start_epoch: 0.0,
                learning_rate: 0.1
            }]
        );
    }
}
