//! The quantization half of an optimization (`optimize --quantize`): which layers stay float, and
//! when quantization-aware training starts in the schedule.

use super::plan::Schedule;
use super::schedule::quantization_epochs;
use crate::profile::QuantizationLoss;
use crate::quantize::{Calibration, IgnoredLayer, QuantMode, QuantizationPlan};

/// A layer stays float when quantizing it alone costs more than this much accuracy…
pub const MAX_ACCURACY_DROP: f64 = 0.01;
/// …or, without labels, when its metric is this many times the median layer's.
pub const MAX_VALUE_OVER_MEDIAN: f64 = 5.0;

/// The plan for `mode`: the layers `loss` (a quantization loss profile, when there is one) finds
/// too sensitive left float with the measured reason, and the recipe's epochs from `schedule`.
pub fn plan(
    mode: QuantMode,
    calibration: Calibration,
    per_channel: bool,
    loss: Option<&QuantizationLoss>,
    schedule: &Schedule,
) -> QuantizationPlan {
    let (start_epoch, observer_end_epoch, freeze_bn_epoch) = quantization_epochs(schedule);
    QuantizationPlan {
        mode,
        calibration,
        per_channel,
        ignore: loss.map_or_else(Vec::new, too_sensitive),
        start_epoch,
        observer_end_epoch,
        freeze_bn_epoch,
    }
}

/// The layers whose int8 version alone loses more than `MAX_ACCURACY_DROP` of the float
/// accuracy, or (no accuracy) whose metric exceeds `MAX_VALUE_OVER_MEDIAN` times the median.
fn too_sensitive(loss: &QuantizationLoss) -> Vec<IgnoredLayer> {
    let float_accuracy = loss.float_accuracy;
    let mut values: Vec<f64> = loss.layers.iter().map(|l| l.value).collect();
    values.sort_by(f64::total_cmp);
    let median = values.get(values.len() / 2).copied().unwrap_or(0.0);
    loss.layers
        .iter()
        .filter_map(|l| {
            let reason = match (l.accuracy, float_accuracy) {
                (Some(acc), Some(float)) if float - acc > MAX_ACCURACY_DROP => format!(
                    "int8 alone drops accuracy from {:.1}% to {:.1}%",
                    float * 100.0,
                    acc * 100.0
                ),
                (Some(_), Some(_)) => return None,
                _ if median > 0.0 && l.value > MAX_VALUE_OVER_MEDIAN * median => format!(
                    "int8 alone costs {:.2e} {}, {:.0}x the median layer",
                    l.value,
                    loss.metric.replace('_', " "),
                    l.value / median
                ),
                _ => return None,
            };
            Some(IgnoredLayer {
                name: l.name.clone(),
                weight: l.weight.clone(),
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{QuantLayerLoss, QuantModelLoss};

    fn loss(values: &[(f64, Option<f64>)], float_accuracy: Option<f64>) -> QuantizationLoss {
        QuantizationLoss {
            mode: QuantMode::Static,
            calibration: Calibration::MinMax,
            per_channel: true,
            metric: "kl_divergence".into(),
            layers: values
                .iter()
                .enumerate()
                .map(|(i, &(value, accuracy))| QuantLayerLoss {
                    name: format!("layer{i}"),
                    weight: format!("w{i}"),
                    op_type: "Conv".into(),
                    value,
                    accuracy,
                    rank: 0,
                })
                .collect(),
            model: QuantModelLoss::default(),
            float_accuracy,
            data: None,
        }
    }

    #[test]
    fn layers_that_cost_more_than_a_point_stay_float() {
        let l = loss(
            &[
                (0.001, Some(0.95)),
                (0.05, Some(0.93)),
                (0.002, Some(0.955)),
            ],
            Some(0.95),
        );
        let ignored = too_sensitive(&l);
        assert_eq!(ignored.len(), 1);
        assert_eq!(ignored[0].name, "layer1");
        assert_eq!(ignored[0].weight, "w1");
        assert!(
            ignored[0].reason.contains("95.0% to 93.0%"),
            "{}",
            ignored[0].reason
        );
    }

    #[test]
    fn without_labels_outliers_against_the_median_stay_float() {
        let l = loss(
            &[(0.001, None), (0.002, None), (0.0015, None), (0.02, None)],
            None,
        );
        let ignored = too_sensitive(&l);
        assert_eq!(
            ignored.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            ["layer3"]
        );
    }

    #[test]
    fn the_recipe_epochs_come_from_the_schedule() {
        let schedule = crate::optimize::plan::schedule_e90();
        let p = plan(
            QuantMode::Static,
            Calibration::MinMax,
            true,
            None,
            &schedule,
        );
        assert_eq!(
            (p.start_epoch, p.observer_end_epoch, p.freeze_bn_epoch),
            quantization_epochs(&schedule)
        );
        assert!(p.ignore.is_empty());
    }
}
