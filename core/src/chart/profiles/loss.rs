//! Charts of a loss profile: the sensitivity of each layer as bars, its int8 sensitivity, and
//! the values of chosen layers against sparsity as curves.

use super::{check_top, range_text, rank, sparsity_ticks};
use crate::Result;
use crate::chart::Chart;
use crate::chart::kit::axis::TickFormat;
use crate::chart::kit::bars::{Aside, Bar, BarChart, BarPanel, BarRow};
use crate::chart::kit::lines::{LineChart, Series};
use crate::chart::kit::numbers::num;
use crate::chart::kit::page::empty_scene;
use crate::chart::kit::style::{ACCENT, MARK_POINTS_UP_TO, MAX_BARS, SERIES};
use crate::chart::render::render;
use crate::error::{Action, Sentence};
use crate::profile::{LayerLoss, LossProfile};

/// The most curves one loss chart draws (one colour each).
const MAX_CURVES: usize = SERIES.len();
/// How many curves `loss_curves` draws when no layer is named: the most sensitive ones.
const DEFAULT_CURVES: usize = 5;

/// The sensitivity of each layer of a loss profile (the integral of its values over the levels,
/// each layer pruned alone), as bars: in graph order, or largest first with `sorted`. With `top`,
/// the `top` most sensitive layers, largest first; at most [`MAX_BARS`] rows (a profile with more
/// layers shows its `MAX_BARS` most sensitive; the title says so). The title names the method and
/// the metric.
pub fn loss_layers(profile: &LossProfile, sorted: bool, top: Option<usize>) -> Result<Chart> {
    check_top(top)?;
    let total = profile.layers.len();
    let all: Vec<_> = profile.layers.iter().collect();
    let sort_key = |l: &&LayerLoss| {
        if l.integral.is_finite() {
            l.integral
        } else {
            f64::NEG_INFINITY
        }
    };
    let (layers, ranked) = if sorted {
        let mut layers = all;
        layers.sort_by(|a, b| sort_key(b).total_cmp(&sort_key(a)));
        layers.truncate(top.unwrap_or(MAX_BARS).min(MAX_BARS));
        (layers, true)
    } else {
        rank(all, top, sort_key)
    };

    let mut heading = format!(
        "loss sensitivity per layer — {}, {}",
        profile.method.name(),
        profile.metric
    );
    if ranked {
        if layers.len() < total {
            heading.push_str(&format!(", top {} of {total}", layers.len()));
        } else {
            heading.push_str(", largest first");
        }
    }
    let mut caption = format!(
        "the integral of {} over sparsity {}, each layer pruned alone; {total} layers",
        profile.metric,
        range_text(&profile.levels)
    );
    if !profile.skipped.is_empty() {
        caption.push_str(&format!(", {} skipped", profile.skipped.len()));
    }
    if layers.is_empty() {
        return render(&empty_scene(&heading, &caption, "no layers in the profile"));
    }
    let rows = layers
        .iter()
        .map(|l| BarRow {
            name: l.name.clone(),
            bars: vec![Some(Bar {
                value: l.integral,
                label: format!("{}  #{}", num(l.integral), l.rank),
                color: ACCENT,
            })],
        })
        .collect();
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            heading: "sensitivity (integral)".to_string(),
            aside: Aside::None,
            ticks: TickFormat::Number,
            log: false,
        },
        rows,
        note: None,
    };
    render(&chart.scene())
}

/// The int8 sensitivity of each layer (`profile loss --quantization`): the metric with that layer
/// alone quantized, in graph order (the most sensitive first when there are too many to show),
/// with its accuracy when the data has labels.
pub fn quantization_layers(profile: &LossProfile) -> Result<Chart> {
    let Some(q) = &profile.quantization else {
        return Err(
            Sentence::new("this loss profile has no quantization section; run ")
                .action(Action::LossWithQuantization)
                .text(".")
                .into(),
        );
    };
    let total = q.layers.len();
    let (layers, ranked) = rank(q.layers.iter().collect(), None, |l| l.value);
    let mut heading = format!(
        "int8 sensitivity per layer — {} quantization, {}",
        q.mode.name(),
        q.metric
    );
    if ranked {
        heading.push_str(&format!(", top {} of {total}", layers.len()));
    }
    let mut caption = format!(
        "each layer quantized alone and run in ONNX Runtime; all {total} at once: {}",
        num(q.model.value)
    );
    if let (Some(float), Some(int8)) = (q.float_accuracy, q.model.accuracy) {
        caption.push_str(&format!(
            ", accuracy {:.1}% float, {:.1}% int8",
            float * 100.0,
            int8 * 100.0
        ));
    }
    if layers.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no layer could be quantized",
        ));
    }
    let rows = layers
        .iter()
        .map(|l| BarRow {
            name: l.name.clone(),
            bars: vec![Some(Bar {
                value: l.value,
                label: match l.accuracy {
                    Some(a) => format!("{}  {:.1}%  #{}", num(l.value), a * 100.0, l.rank),
                    None => format!("{}  #{}", num(l.value), l.rank),
                },
                color: ACCENT,
            })],
        })
        .collect();
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            heading: format!("{} with the layer in int8", q.metric),
            aside: Aside::None,
            ticks: TickFormat::Number,
            log: false,
        },
        rows,
        note: None,
    };
    render(&chart.scene())
}

/// Two or more loss profiles of one model side by side: per layer (in the first profile's order;
/// layers it lacks are left out), one bar per profile for its sensitivity (the integral of its
/// values over its levels), each profile in its colour, named in the legend. The profiles must
/// measure the same metric over the same levels, else the bars would not compare.
pub fn loss_compare(profiles: &[(&str, &LossProfile)]) -> Result<Chart> {
    let Some((first_name, first)) = profiles.first() else {
        return Err(crate::Error::Usage(
            "name at least two loss profiles to compare.".into(),
        ));
    };
    for (name, p) in &profiles[1..] {
        if p.metric != first.metric || p.levels != first.levels {
            return Err(crate::Error::Usage(format!(
                "loss profiles '{first_name}' and '{name}' do not compare: '{first_name}' measures {} over sparsity {}, '{name}' {} over {}; profile both with the same method over the same levels.",
                first.metric,
                range_text(&first.levels),
                p.metric,
                range_text(&p.levels)
            )));
        }
    }
    let shown = &profiles[..profiles.len().min(SERIES.len())];
    let heading = format!(
        "loss sensitivity per layer — {}",
        shown
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    let caption = format!(
        "the integral of {} over sparsity {}, each layer pruned alone; {}",
        first.metric,
        range_text(&first.levels),
        shown
            .iter()
            .map(|(name, p)| format!("{name}: {}", p.pruning_words()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let rows: Vec<BarRow> = first
        .layers
        .iter()
        .take(MAX_BARS)
        .map(|layer| BarRow {
            name: layer.name.clone(),
            bars: shown
                .iter()
                .zip(SERIES)
                .map(|((_, p), color)| {
                    p.layer(&layer.name).map(|l| Bar {
                        value: l.integral,
                        label: num(l.integral),
                        color,
                    })
                })
                .collect(),
        })
        .collect();
    if rows.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no layers in the profiles",
        ));
    }
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            heading: "sensitivity (integral)".to_string(),
            aside: Aside::Legend(
                shown
                    .iter()
                    .zip(SERIES)
                    .map(|((name, _), color)| (color, name.to_string()))
                    .collect(),
            ),
            ticks: TickFormat::Number,
            log: false,
        },
        rows,
        note: None,
    };
    render(&chart.scene())
}

/// The values of a loss profile against sparsity, one curve per layer named in `layers` (in that
/// order; names the profile lacks are left out, and repeats). An empty `layers` draws the 5 most
/// sensitive layers by rank. At most 8 curves, each with its colour in the legend; points are
/// marked when there are few levels.
pub fn loss_curves(profile: &LossProfile, layers: &[&str]) -> Result<Chart> {
    let mut chosen: Vec<&LayerLoss> = Vec::new();
    if layers.is_empty() {
        chosen = profile.layers.iter().collect();
        chosen.sort_by_key(|l| l.rank);
        chosen.truncate(DEFAULT_CURVES);
    } else {
        for name in layers {
            if let Some(l) = profile.layer(name)
                && !chosen.iter().any(|c| c.name == l.name)
            {
                chosen.push(l);
            }
        }
    }
    let found = chosen.len();
    chosen.truncate(MAX_CURVES);

    let heading = format!(
        "loss sensitivity by sparsity — {}, {}",
        profile.method.name(),
        profile.metric
    );
    let mut caption = if layers.is_empty() {
        format!(
            "the {} most sensitive of {} layers, each pruned alone",
            chosen.len(),
            profile.layers.len()
        )
    } else {
        format!(
            "{} of {} named layers, each pruned alone",
            chosen.len(),
            layers.len()
        )
    };
    if found > chosen.len() {
        caption.push_str(&format!(" (the first {MAX_CURVES} of {found} shown)"));
    }

    let series: Vec<Series> = chosen
        .iter()
        .map(|l| {
            let points = profile
                .levels
                .iter()
                .zip(&l.values)
                .filter(|(s, v)| s.is_finite() && v.is_finite())
                .map(|(s, v)| (s.clamp(0.0, 1.0), *v))
                .collect();
            (l.name.clone(), points)
        })
        .collect();
    let empty = if profile.layers.is_empty() {
        Some((
            "the profile has no layers".to_string(),
            "no layers to chart",
        ))
    } else if chosen.is_empty() {
        let names = layers.len();
        let what = if names == 1 {
            "the named layer is not in the profile".to_string()
        } else {
            format!("none of the {names} named layers is in the profile")
        };
        Some((what, "no layers to chart"))
    } else if series.iter().all(|(_, p)| p.is_empty()) {
        Some((caption.clone(), "no values at any sparsity level"))
    } else {
        None
    };
    if let Some((caption, message)) = empty {
        return render(&empty_scene(&heading, &caption, message));
    }

    let chart = LineChart {
        heading,
        caption,
        y_name: profile.metric.clone(),
        x_name: "sparsity of the layer".to_string(),
        x_lo: 0.0,
        x_hi: 1.0,
        x_ticks: sparsity_ticks(),
        x_inset: 0.0,
        series,
        from_zero: true,
        mark: profile.levels.len() <= MARK_POINTS_UP_TO,
    };
    render(&chart.scene())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::testing::{check, save};
    use crate::profile::LossMethod;
    use crate::profile::loss::RawLayer;

    fn loss(layers: usize, levels: Vec<f64>) -> LossProfile {
        let raw = (0..layers)
            .map(|i| RawLayer {
                name: format!("/block{i}/conv/Conv_output_0"),
                weight: format!("block{i}.weight"),
                op_type: "Conv".to_string(),
                values: levels
                    .iter()
                    .map(|s| s * s * (1.0 + (i * 7 % 8) as f64) / 10.0)
                    .collect(),
                accuracy: None,
            })
            .collect();
        LossProfile::summarize(LossMethod::OneShot, "kl_divergence", levels, raw)
    }

    #[test]
    fn quantization_layers_chart() {
        use crate::profile::{QuantLayerLoss, QuantModelLoss, QuantizationLoss};
        use crate::quantize::{Calibration, QuantMode};
        let mut p = loss(3, crate::profile::LOSS_LEVELS.to_vec());
        let err = quantization_layers(&p).unwrap_err().to_string();
        assert!(
            err.ends_with("no quantization section; run a loss profile with quantization."),
            "{err}"
        );
        p.quantization = Some(QuantizationLoss {
            mode: QuantMode::Static,
            calibration: Calibration::MinMax,
            per_channel: true,
            metric: "kl_divergence".into(),
            layers: p
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| QuantLayerLoss {
                    name: l.name.clone(),
                    weight: l.weight.clone(),
                    op_type: l.op_type.clone(),
                    value: 1e-5 * (i + 1) as f64,
                    accuracy: Some(0.976 - 0.002 * i as f64),
                    rank: 3 - i,
                })
                .collect(),
            model: QuantModelLoss {
                value: 4e-5,
                accuracy: Some(0.974),
            },
            float_accuracy: Some(0.976),
            data: None,
            calibrations: Vec::new(),
            best_calibration: None,
        });
        let chart = quantization_layers(&p).unwrap();
        check(
            &chart,
            &[
                "int8 sensitivity per layer — static quantization, kl_divergence",
                "/block2/conv/Conv_output_0",
                "97.6% float, 97.4% int8",
                "#1",
            ],
        );
        save(&chart, "quantization-layers");
    }

    #[test]
    fn loss_layers_chart() {
        let p = loss(6, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_layers(&p, false, None).unwrap();
        check(
            &chart,
            &[
                "loss sensitivity per layer — one-shot, kl_divergence",
                "/block0/conv/Conv_output_0",
                "/block5/conv/Conv_output_0",
                "0%–99%",
                "#1",
            ],
        );
        // Graph order.
        assert!(chart.svg.find("/block0/").unwrap() < chart.svg.find("/block5/").unwrap());
        save(&chart, "loss-layers");

        let sorted = loss_layers(&p, true, None).unwrap();
        check(&sorted, &["largest first"]);
        let first = &p.layers.iter().find(|l| l.rank == 1).unwrap().name;
        let last = &p.layers.iter().find(|l| l.rank == 6).unwrap().name;
        assert!(sorted.svg.find(first.as_str()).unwrap() < sorted.svg.find(last.as_str()).unwrap());

        let top = loss_layers(&p, false, Some(2)).unwrap();
        check(&top, &["top 2 of 6", first]);
        assert!(!top.svg.contains(last.as_str()));
        assert!(matches!(
            loss_layers(&p, true, Some(0)),
            Err(crate::Error::Usage(_))
        ));

        let empty = loss(0, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_layers(&empty, true, None).unwrap();
        check(&chart, &["no layers in the profile"]);
    }

    #[test]
    fn loss_curves_chart() {
        let p = loss(8, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_curves(&p, &[]).unwrap();
        check(
            &chart,
            &["loss sensitivity by sparsity", "kl_divergence", "<polyline"],
        );
        // The 5 most sensitive, in the legend.
        for l in &p.layers {
            assert_eq!(
                chart.svg.contains(l.name.as_str()),
                l.rank <= 5,
                "{}",
                l.name
            );
        }
        save(&chart, "loss-curves");

        let chart = loss_curves(
            &p,
            &[
                "/block3/conv/Conv_output_0",
                "nope",
                "/block3/conv/Conv_output_0",
                "/block1/conv/Conv_output_0",
            ],
        )
        .unwrap();
        check(
            &chart,
            &[
                "/block3/conv/Conv_output_0",
                "/block1/conv/Conv_output_0",
                "2 of 4",
            ],
        );
        assert!(!chart.svg.contains("/block0/"));

        let none = loss_curves(&p, &["nope", "nor/this"]).unwrap();
        check(&none, &["none of the 2 named layers is in the profile"]);

        // 100 levels: no marks, still lines.
        let magnitude = loss(3, crate::profile::magnitude_levels());
        let chart = loss_curves(&magnitude, &[]).unwrap();
        check(&chart, &["<polyline", "/block2/"]);
        assert!(!chart.svg.contains("<circle cx=\"") || chart.svg.matches("<circle").count() <= 3);

        let empty = loss(0, crate::profile::LOSS_LEVELS.to_vec());
        check(&loss_curves(&empty, &[]).unwrap(), &["no layers"]);
        let no_levels = loss(2, Vec::new());
        check(
            &loss_curves(&no_levels, &[]).unwrap(),
            &["no values at any sparsity level"],
        );
    }
}
