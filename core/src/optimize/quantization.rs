//! The quantization half of an optimization (`optimize --quantize`): the calibration method,
//! which layers stay float, and when quantization-aware training starts in the schedule.

use super::plan::Schedule;
use super::schedule::quantization_epochs;
use crate::profile::QuantizationLoss;
use crate::quantize::sensitivity::best_of;
use crate::quantize::{Calibration, CalibrationSource, IgnoredLayer, QuantMode, QuantizationPlan};

/// A layer stays float when quantizing it alone costs more than this much accuracy…
pub const MAX_ACCURACY_DROP: f64 = 0.01;
/// …or, without labels, when its metric is this many times the median layer's.
pub const MAX_VALUE_OVER_MEDIAN: f64 = 5.0;

/// The calibration method of a `mode` plan: the one `given`, else the one the earlier run
/// (`before`) was given, else the best the quantization loss profile (`loss`, with its name)
/// measured on the whole model, else the earlier run's, else min-max. Dynamic quantization
/// calibrates nothing: min-max, as a placeholder.
pub fn calibration(
    mode: QuantMode,
    given: Option<Calibration>,
    before: Option<&QuantizationPlan>,
    loss: Option<(&str, &QuantizationLoss)>,
) -> (Calibration, CalibrationSource) {
    if let Some(given) = given {
        return (given, CalibrationSource::Named);
    }
    if mode != QuantMode::Static {
        return (Calibration::MinMax, CalibrationSource::Default);
    }
    let before = before.filter(|q| q.mode == QuantMode::Static);
    if let Some(q) = before.filter(|q| q.calibration_source == CalibrationSource::Named) {
        return (q.calibration, CalibrationSource::Named);
    }
    let measured = loss.and_then(|(name, loss)| {
        let best = best_of(&loss.calibrations)?;
        Some((
            best.calibration,
            CalibrationSource::Measured {
                profile: name.to_string(),
                metric: loss.metric.clone(),
                calibrations: loss.calibrations.clone(),
            },
        ))
    });
    measured
        .or_else(|| before.map(|q| (q.calibration, q.calibration_source.clone())))
        .unwrap_or((Calibration::MinMax, CalibrationSource::Default))
}

/// The plan for `mode` calibrated by `calibration` (with where it came from): the layers `loss`
/// (a quantization loss profile, when there is one) finds too sensitive left float with the
/// measured reason, and the recipe's epochs from `schedule`.
pub fn plan(
    mode: QuantMode,
    (calibration, calibration_source): (Calibration, CalibrationSource),
    per_channel: bool,
    loss: Option<&QuantizationLoss>,
    schedule: &Schedule,
) -> QuantizationPlan {
    let (start_epoch, observer_end_epoch, freeze_bn_epoch) = quantization_epochs(schedule);
    QuantizationPlan {
        mode,
        calibration,
        calibration_source,
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
    use crate::quantize::sensitivity::CalibrationLoss;

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
            calibrations: Vec::new(),
            best_calibration: None,
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
            (Calibration::MinMax, CalibrationSource::Default),
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

    #[test]
    fn the_calibration_is_the_named_one_then_the_measured_best() {
        let [minmax, percentile, entropy] = Calibration::COMPARED;
        let mut measured = loss(&[(0.001, None)], None);
        measured.calibrations = [(minmax, 0.03), (percentile, 0.02), (entropy, 0.01)]
            .into_iter()
            .map(|(calibration, value)| CalibrationLoss {
                calibration,
                value,
                accuracy: None,
            })
            .collect();
        let schedule = crate::optimize::plan::schedule_e90();
        let static_plan = |choice: (Calibration, CalibrationSource)| {
            plan(QuantMode::Static, choice, true, None, &schedule)
        };
        let profile = Some(("one-shot", &measured));
        // Named: kept over the measurement, now and on a re-run that names nothing.
        let named = calibration(QuantMode::Static, Some(percentile), None, profile);
        assert_eq!(named, (percentile, CalibrationSource::Named));
        let earlier = static_plan(named);
        assert_eq!(
            calibration(QuantMode::Static, None, Some(&earlier), profile).0,
            percentile
        );
        // Not named: the measured best, with the figures behind it.
        let (chosen, source) = calibration(QuantMode::Static, None, None, profile);
        assert_eq!(chosen, entropy);
        let CalibrationSource::Measured {
            profile: name,
            metric,
            calibrations,
        } = &source
        else {
            panic!("{source:?}");
        };
        assert_eq!(
            (name.as_str(), metric.as_str()),
            ("one-shot", "kl_divergence")
        );
        assert_eq!(calibrations.len(), 3);
        // A re-run follows a newer measurement, keeps the earlier choice without one.
        let earlier = static_plan((chosen, source.clone()));
        let mut newer = measured.clone();
        newer.calibrations[0].value = 0.001;
        let again = calibration(QuantMode::Static, None, Some(&earlier), Some(("q", &newer)));
        assert_eq!(again.0, minmax);
        assert_eq!(
            calibration(QuantMode::Static, None, Some(&earlier), None),
            (entropy, source)
        );
        // Nothing named, nothing measured: min-max; dynamic calibrates nothing.
        let nothing = (Calibration::MinMax, CalibrationSource::Default);
        assert_eq!(calibration(QuantMode::Static, None, None, None), nothing);
        assert_eq!(
            calibration(QuantMode::Dynamic, None, None, profile),
            nothing
        );
    }
}
