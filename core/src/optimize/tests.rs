//! End-to-end tests of `optimize` on the fixture models with the approx and FLOPs profiles.

use std::path::PathBuf;

use super::*;
use crate::profile::{PerfKind, approx, level_key, perf::flops_only};
use crate::{AnalysisOptions, analyze, load};

fn analysis(name: &str) -> ModelAnalysis {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(format!("{name}.onnx"));
    analyze(&load(&path).unwrap(), &AnalysisOptions::default()).unwrap()
}

fn run(a: &ModelAnalysis, options: &OptimizeOptions) -> Result<PruningPlan> {
    optimize(
        a,
        &flops_only(a),
        "flops",
        &approx::profile(a),
        "approx",
        options,
    )
}

fn with_target(target: f64) -> OptimizeOptions {
    OptimizeOptions {
        target,
        ..OptimizeOptions::default()
    }
}

const FIXTURES: [&str; 4] = ["digits_cnn", "mlp", "transformer_block", "grouped_convs"];

fn summary(plan: &PruningPlan) -> String {
    let layers: Vec<String> = plan
        .layers
        .iter()
        .map(|l| format!("{} {} {:?} {:?}", l.name, l.params, l.sparsity, l.reason))
        .collect();
    format!(
        "achieved {} notes {:?}\n{}",
        plan.achieved,
        plan.notes,
        layers.join("\n")
    )
}

fn by_name<'a>(plan: &'a PruningPlan, name: &str) -> &'a LayerPlan {
    plan.layers.iter().find(|l| l.name == name).unwrap()
}

#[test]
fn fixtures_meet_the_target() {
    let (mut feasible, mut infeasible) = (0, Vec::<String>::new());
    for name in FIXTURES {
        let a = analysis(name);
        let prunable: Vec<_> = a.layers.iter().filter(|l| l.is_prunable).collect();
        for target in [0.5, 0.7, 0.85] {
            for balance in [1.0, 0.5] {
                let options = OptimizeOptions {
                    balance,
                    ..with_target(target)
                };
                let plan = run(&a, &options).unwrap();
                let context = format!(
                    "{name} target {target} balance {balance}: {}",
                    summary(&plan)
                );
                // The most the layers Sparsify's rules leave free can carry.
                let total: f64 = plan.layers.iter().map(|l| l.params as f64).sum();
                let free: f64 = plan
                    .layers
                    .iter()
                    .filter(|l| {
                        !l.reason
                            .as_deref()
                            .is_some_and(|r| r.starts_with("first") || r.starts_with("grouped"))
                    })
                    .map(|l| l.params as f64)
                    .sum();
                let reachable = MAX_SPARSITY * free / total;
                if target <= reachable {
                    assert!((plan.achieved - target).abs() <= 0.01, "{context}");
                    feasible += 1;
                } else {
                    assert!(
                        plan.notes.iter().any(|n| n.contains("out of reach")),
                        "{context}"
                    );
                    assert!((plan.achieved - reachable).abs() <= 0.01, "{context}");
                    infeasible.push(format!("{name} {target}"));
                }
                assert_eq!(plan.layers.len(), prunable.len());
                let first = &plan.layers[0];
                assert_eq!(first.sparsity, None, "{context}");
                assert!(
                    first
                        .reason
                        .as_deref()
                        .unwrap()
                        .starts_with("first prunable")
                );
                for (layer, plan_layer) in prunable.iter().zip(&plan.layers) {
                    let grouped = layer.op_type == "Conv"
                        && layer.attributes.iter().any(|(n, v)| {
                            n == "group"
                                && matches!(v, crate::model::attr::AttrValue::Int(g) if *g > 1)
                        });
                    if grouped && layer.name != prunable[0].name {
                        assert_eq!(plan_layer.sparsity, None, "{context}");
                        assert!(plan_layer.reason.as_deref().unwrap().starts_with("grouped"));
                    }
                    if let Some(s) = plan_layer.sparsity {
                        assert!((0.4..=MAX_SPARSITY).contains(&s), "{context}");
                    }
                }
                // Estimates: whole-model FLOPs and params fall, no times under the FLOPs profile.
                let m = &plan.model;
                assert!(m.flops_reduction > 1.0 && m.compression > 1.0, "{context}");
                assert!(m.prunable_compression >= m.compression);
                assert_eq!(
                    (m.baseline_ms, m.estimated_ms, m.estimated_speedup),
                    (None, None, None)
                );
                assert!(m.recovery.is_some());
                let pruned: f64 = plan
                    .layers
                    .iter()
                    .map(|l| l.params as f64 * l.sparsity.unwrap_or(0.0))
                    .sum();
                assert!((m.params_baseline as f64 - m.params - pruned).abs() < 1e-6);
            }
        }
    }
    // The MLP's first layer holds 48 % of its weights, so with it dense even 0.5 is out of reach
    // (0.493 at most); the grouped_convs model's grouped conv holds 60 %. Those are reported, at
    // the most that can be reached; digits_cnn and transformer_block meet every target.
    infeasible.dedup();
    assert_eq!(
        infeasible,
        vec![
            "mlp 0.5",
            "mlp 0.7",
            "mlp 0.85",
            "grouped_convs 0.5",
            "grouped_convs 0.7",
            "grouped_convs 0.85"
        ]
    );
    assert_eq!(feasible, 2 * 6);
}

#[test]
fn grouped_convs_fixture_has_grouped_layers() {
    let a = analysis("grouped_convs");
    let plan = run(&a, &with_target(0.7)).unwrap();
    assert!(
        plan.layers.iter().any(|l| l
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("grouped"))),
        "{}",
        summary(&plan)
    ); // Overriding the grouped conv makes the target reachable: the others make up the rest.
    for (target, sparsity) in [(0.5, 0.4), (0.7, 0.7), (0.85, 0.9)] {
        let options = OptimizeOptions {
            overrides: vec![Override {
                pattern: "re:gconv".into(),
                sparsity: Some(sparsity),
            }],
            ..with_target(target)
        };
        let plan = run(&a, &options).unwrap();
        assert!((plan.achieved - target).abs() <= 0.01, "{}", summary(&plan));
        let g = plan.layers.iter().find(|l| l.overridden).unwrap();
        assert_eq!(g.sparsity, Some(sparsity));
    }
}

#[test]
fn overrides_are_kept_and_the_rest_is_refit() {
    let a = analysis("digits_cnn");
    let base = run(&a, &with_target(0.7)).unwrap();
    let names: Vec<String> = base.layers.iter().map(|l| l.name.clone()).collect();
    let weight = base.layers[2].weight.clone();
    let options = OptimizeOptions {
        overrides: vec![
            // Exact layer name: the first layer, normally skipped.
            Override {
                pattern: names[0].clone(),
                sparsity: Some(0.3),
            },
            // A regex over weight names, then an exact weight name that wins over it.
            Override {
                pattern: "re:.*".into(),
                sparsity: Some(0.9),
            },
            Override {
                pattern: weight.clone(),
                sparsity: None,
            },
            Override {
                pattern: names[0].clone(),
                sparsity: Some(0.3),
            },
        ],
        ..with_target(0.7)
    };
    let plan = run(&a, &options).unwrap();
    assert!(
        plan.layers.iter().all(|l| l.overridden),
        "{}",
        summary(&plan)
    );
    assert_eq!(plan.layers[0].sparsity, Some(0.3));
    assert_eq!(plan.layers[1].sparsity, Some(0.9));
    assert_eq!(plan.layers[2].sparsity, None);
    assert_eq!(plan.layers[2].reason.as_deref(), Some("override: off"));
    assert_eq!(plan.overrides, options.overrides);

    // One override off: the others are refit to meet the target without it.
    let off = OptimizeOptions {
        overrides: vec![Override {
            pattern: format!("re:^{}$", regex::escape(&names[3])),
            sparsity: None,
        }],
        ..with_target(0.7)
    };
    let plan = run(&a, &off).unwrap();
    let last = by_name(&plan, &names[3]);
    assert!(last.overridden && last.sparsity.is_none());
    assert!(!plan.layers[1].overridden);
    assert!((plan.achieved - 0.7).abs() <= 0.01, "{}", summary(&plan));

    // One override fixed below its fitted value: the rest go higher to make up for it (filters
    // off, so no layer drops out on the way).
    let unfiltered = OptimizeOptions {
        filters: Filters::default(),
        ..with_target(0.7)
    };
    let base = run(&a, &unfiltered).unwrap();
    let fitted = by_name(&base, &names[2]).sparsity.unwrap();
    let lower = ((fitted - 0.1) * 100.0).round() / 100.0;
    let low = OptimizeOptions {
        overrides: vec![Override {
            pattern: names[2].clone(),
            sparsity: Some(lower),
        }],
        ..unfiltered.clone()
    };
    let plan = run(&a, &low).unwrap();
    assert_eq!(by_name(&plan, &names[2]).sparsity, Some(lower));
    assert!(by_name(&plan, &names[2]).overridden);
    assert!((plan.achieved - 0.7).abs() <= 0.01, "{}", summary(&plan));
    for name in [&names[1], &names[3]] {
        let (before, after) = (by_name(&base, name).sparsity, by_name(&plan, name).sparsity);
        assert!(
            after.unwrap_or(0.0) >= before.unwrap_or(0.0),
            "{}\n{}",
            summary(&base),
            summary(&plan)
        );
    }
}

#[test]
fn bad_options_are_usage_errors() {
    let a = analysis("mlp");
    let usage = |options: OptimizeOptions| match run(&a, &options) {
        Err(Error::Usage(message)) => message,
        other => panic!("expected a usage error, got {other:?}"),
    };
    assert!(usage(with_target(0.0)).starts_with("target 0 is outside"));
    assert!(usage(with_target(0.96)).starts_with("target 0.96 is outside"));
    assert!(usage(with_target(f64::NAN)).contains("outside"));
    let balance = OptimizeOptions {
        balance: 1.5,
        ..OptimizeOptions::default()
    };
    assert!(usage(balance).starts_with("balance 1.5"));
    let no_match = OptimizeOptions {
        overrides: vec![Override {
            pattern: "nope".into(),
            sparsity: Some(0.5),
        }],
        ..OptimizeOptions::default()
    };
    assert!(usage(no_match).starts_with("override nope matches no prunable layer; "));
    let no_match_re = OptimizeOptions {
        overrides: vec![Override {
            pattern: "re:^zzz".into(),
            sparsity: None,
        }],
        ..OptimizeOptions::default()
    };
    assert!(usage(no_match_re).starts_with("override re:^zzz matches no prunable layer; "));
    let bad_re = OptimizeOptions {
        overrides: vec![Override {
            pattern: "re:(".into(),
            sparsity: None,
        }],
        ..OptimizeOptions::default()
    };
    assert!(usage(bad_re).contains("not a valid regular expression"));
    let too_sparse = OptimizeOptions {
        overrides: vec![Override {
            pattern: "re:.".into(),
            sparsity: Some(0.995),
        }],
        ..OptimizeOptions::default()
    };
    assert!(usage(too_sparse).contains("outside [0, 0.99]"));
    // 0.99 itself is allowed for an override.
    let max = OptimizeOptions {
        overrides: vec![Override {
            pattern: "re:.".into(),
            sparsity: Some(0.99),
        }],
        ..OptimizeOptions::default()
    };
    assert!(run(&a, &max).is_ok());
}

#[test]
fn infeasible_targets_are_reported() {
    let a = analysis("digits_cnn");
    let plan = run(&a, &with_target(0.95)).unwrap();
    assert!(plan.achieved < 0.95 - 0.01, "{}", summary(&plan));
    assert!(
        plan.notes.iter().any(|n| n.contains("out of reach")),
        "{}",
        summary(&plan)
    );
    // Leaving the biggest layer dense puts 0.85 out of reach too.
    let biggest = plan
        .layers
        .iter()
        .max_by_key(|l| l.params)
        .unwrap()
        .name
        .clone();
    let options = OptimizeOptions {
        overrides: vec![Override {
            pattern: biggest,
            sparsity: None,
        }],
        ..with_target(0.85)
    };
    let plan = run(&a, &options).unwrap();
    assert!(
        plan.notes.iter().any(|n| n.contains("out of reach")),
        "{}",
        summary(&plan)
    );
    assert!(plan.achieved < 0.84);
}

/// A threshold of 0 is applied, not taken as "off" (Sparsify's Python truthiness turned it off): it is kept
/// in the plan and compared (`fit::tests` shows min_recovery 0 dropping a layer). Nothing is
/// below a sparsity or a speedup of 0, so those two leave the fit as it was.
#[test]
fn filters_with_a_zero_threshold_are_active() {
    let a = analysis("digits_cnn");
    let zero = OptimizeOptions {
        filters: Filters {
            min_sparsity: Some(0.0),
            min_speedup: Some(0.0),
            min_recovery: None,
        },
        ..with_target(0.85)
    };
    let off = OptimizeOptions {
        filters: Filters::default(),
        ..with_target(0.85)
    };
    let plan = run(&a, &zero).unwrap();
    assert_eq!(
        plan.filters, zero.filters,
        "Some(0) is kept, not turned off"
    );
    assert_eq!(plan.layers, run(&a, &off).unwrap().layers);
    for l in &plan.layers {
        if l.sparsity.is_some() {
            assert!(l.speedup.unwrap() >= 1.0);
        }
    }

    // min_sparsity and min_speedup act at their thresholds (a value equal to one is kept).
    let base = run(
        &a,
        &OptimizeOptions {
            filters: Filters::default(),
            ..with_target(0.7)
        },
    )
    .unwrap();
    let smallest = base
        .layers
        .iter()
        .filter_map(|l| l.sparsity)
        .fold(f64::INFINITY, f64::min);
    let at = OptimizeOptions {
        filters: Filters {
            min_sparsity: Some(smallest),
            ..Filters::default()
        },
        ..with_target(0.7)
    };
    assert_eq!(run(&a, &at).unwrap().layers, base.layers);
    let speedup = OptimizeOptions {
        filters: Filters {
            min_sparsity: None,
            min_speedup: Some(1e9),
            min_recovery: None,
        },
        ..with_target(0.7)
    };
    let plan = run(&a, &speedup).unwrap();
    assert!(
        plan.layers.iter().all(|l| l.sparsity.is_none()),
        "{}",
        summary(&plan)
    );
    assert!(
        plan.layers[1..]
            .iter()
            .all(|l| l.reason.as_deref().unwrap().starts_with("min_speedup"))
    );
    assert!(plan.notes.iter().any(|n| n.contains("out of reach")));
    let below_one = OptimizeOptions {
        filters: Filters {
            min_speedup: Some(0.75),
            ..Filters::default()
        },
        ..with_target(0.7)
    };
    let plan = run(&a, &below_one).unwrap();
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("min_speedup 0.75 is below 1"))
    );
}

/// A measured profile: time estimates per layer and for the model; a layer missing from it falls
/// back to FLOPs with a note, and a layer missing from the loss profile to approx.
#[test]
fn measured_profile_estimates_and_fallbacks() {
    let a = analysis("digits_cnn");
    let mut perf = flops_only(&a);
    perf.kind = PerfKind::Measured;
    // 1 ms per MFLOP, and each layer's estimate falls with sparsity as its FLOPs do.
    let mut total0 = 0.0;
    for layer in &mut perf.layers {
        if let Some(f) = layer.flops {
            layer.ms = Some(f as f64 / 1e6);
        }
        if layer.prunable {
            layer.estimated_ms = layer
                .estimated_flops
                .iter()
                .map(|(k, v)| (k.clone(), v / 1e6))
                .collect();
        }
        total0 += layer.ms.unwrap_or(0.0);
    }
    perf.model.ms_per_batch = Some(total0);
    perf.model.estimated_ms.insert(level_key(0.0), total0);
    let missing = a
        .layers
        .iter()
        .filter(|l| l.is_prunable)
        .nth(2)
        .unwrap()
        .name
        .clone();
    perf.layers
        .iter_mut()
        .find(|l| l.name == missing)
        .unwrap()
        .estimated_ms
        .clear();
    let mut loss = approx::profile(&a);
    loss.layers.retain(|l| l.name != missing);

    let plan = optimize(
        &a,
        &perf,
        "measured",
        &loss,
        "approx-less-one",
        &with_target(0.7),
    )
    .unwrap();
    assert!((plan.achieved - 0.7).abs() <= 0.01, "{}", summary(&plan));
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("no timings in perf profile 'measured'"))
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("no entry in loss profile 'approx-less-one'"))
    );
    let gap = by_name(&plan, &missing);
    assert_eq!((gap.baseline_ms, gap.estimated_ms), (None, None));
    let mut saved = 0.0;
    for l in &plan.layers {
        if l.name == missing {
            continue;
        }
        let (base, est) = (l.baseline_ms.unwrap(), l.estimated_ms.unwrap());
        let s = l.sparsity.unwrap_or(0.0);
        assert!(
            (est - base * (1.0 - s)).abs() < 1e-9 * base.max(1.0),
            "{}",
            l.name
        );
        saved += base - est;
    }
    let m = &plan.model;
    assert_eq!(m.baseline_ms, Some(total0));
    assert!((m.estimated_ms.unwrap() - (total0 - saved)).abs() < 1e-9);
    assert!((m.estimated_speedup.unwrap() - total0 / (total0 - saved)).abs() < 1e-9);
}

/// With a perf profile and balance < 1, the layers that save more time per weight get more.
#[test]
fn balance_moves_sparsity_toward_time_savings() {
    let a = analysis("digits_cnn");
    let loss_only = run(&a, &with_target(0.7)).unwrap();
    let perf_only = run(
        &a,
        &OptimizeOptions {
            balance: 0.0,
            ..with_target(0.7)
        },
    )
    .unwrap();
    assert!(
        (perf_only.achieved - 0.7).abs() <= 0.01,
        "{}",
        summary(&perf_only)
    );
    // Under FLOPs, the saving per weight is FLOPs / params: the layer with the most is favoured.
    let per_weight = |l: &LayerPlan| l.flops_baseline.unwrap_or(0) as f64 / l.params as f64;
    let best = perf_only.layers[1..]
        .iter()
        .max_by(|x, y| per_weight(x).total_cmp(&per_weight(y)))
        .unwrap();
    let before = by_name(&loss_only, &best.name).sparsity.unwrap_or(0.0);
    assert!(
        best.sparsity.unwrap() >= before,
        "{}\n{}",
        summary(&loss_only),
        summary(&perf_only)
    );
    assert!(perf_only.model.flops_reduction >= loss_only.model.flops_reduction);
}
