use super::*;
use crate::fixtures::load_analyzed;
use crate::profile::PerfKind;
use crate::project::Found;
use crate::workflow::testing::Copied;

fn digits() -> ModelAnalysis {
    load_analyzed("digits_cnn.onnx").1
}

/// A project with a measured performance profile "timed", a FLOPs one "counted", and a loss
/// profile "mine" (the approximation, saved).
fn project_with_profiles(analysis: &ModelAnalysis) -> ProjectFile {
    let mut project = ProjectFile::new(Path::new("digits_cnn.onnx"));
    let flops = profile::perf::flops_only(analysis);
    let measured = PerfProfile {
        kind: PerfKind::Measured,
        ..flops.clone()
    };
    project.perf_profiles.insert("timed".into(), measured);
    project.perf_profiles.insert("counted".into(), flops);
    project
        .loss_profiles
        .insert("mine".into(), profile::approx::profile(analysis));
    project
}

#[test]
fn the_latest_measured_profiles_by_default() {
    let analysis = digits();
    let mut project = project_with_profiles(&analysis);
    // Nothing saved last: the estimates from the analysis.
    assert_eq!(perf_profile(&project, &analysis, None).unwrap().0, "flops");
    assert_eq!(loss_profile(&project, &analysis, None).unwrap().0, "approx");
    project.latest_perf = Some("timed".into());
    project.latest_loss = Some("mine".into());
    let (name, perf) = perf_profile(&project, &analysis, None).unwrap();
    assert_eq!((name.as_str(), perf.kind), ("timed", PerfKind::Measured));
    assert_eq!(loss_profile(&project, &analysis, None).unwrap().0, "mine");
    // A FLOPs profile saved last is no timing: the fit counts FLOPs itself.
    project.latest_perf = Some("counted".into());
    assert_eq!(perf_profile(&project, &analysis, None).unwrap().0, "flops");
    assert!(project.latest_measured_perf_profile().is_none());
}

#[test]
fn profiles_by_name_and_the_unsaved_ones() {
    let analysis = digits();
    let mut project = project_with_profiles(&analysis);
    project.latest_perf = Some("timed".into());
    let (name, perf) = perf_profile(&project, &analysis, Some("counted")).unwrap();
    assert_eq!((name.as_str(), perf.kind), ("counted", PerfKind::Flops));
    let (name, perf) = perf_profile(&project, &analysis, Some("flops")).unwrap();
    assert_eq!((name.as_str(), perf.kind), ("flops", PerfKind::Flops));
    assert_eq!(
        loss_profile(&project, &analysis, Some("approx")).unwrap().0,
        "approx"
    );
    assert_eq!(
        loss_profile(&project, &analysis, Some("mine")).unwrap().0,
        "mine"
    );
}

#[test]
fn a_missing_profile_names_the_choices() {
    let analysis = digits();
    let project = project_with_profiles(&analysis);
    let err = perf_profile(&project, &analysis, Some("nope")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no performance profile 'nope'; the choices are counted, timed, flops (run a listing of the profiles)."
    );
    let err = loss_profile(&project, &analysis, Some("nope")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no loss profile 'nope'; the choices are mine, approx (run a listing of the profiles)."
    );
}

#[test]
fn a_re_run_keeps_what_it_is_not_told() {
    let analysis = digits();
    let mut project = project_with_profiles(&analysis);
    let first = OptimizeRequest {
        target: Some(0.7),
        balance: Some(0.5),
        min_sparsity: Some(None),
        min_speedup: Some(Some(1.1)),
        loss: Some("mine".into()),
        ..OptimizeRequest::named("a")
    };
    let mut plan = fit_optimization(&project, &analysis, &first).unwrap();
    assert_eq!((plan.target, plan.balance), (0.7, 0.5));
    assert_eq!(plan.filters.min_sparsity, None);
    assert_eq!(plan.loss, "mine");
    assert_eq!(plan.perf, "flops");
    plan.overrides.push(Override {
        pattern: "conv1.weight".into(),
        sparsity: Some(0.3),
    });
    project.optimizations.insert("a".into(), plan);

    // Only the balance changes; the target, filters, profiles and overrides stay.
    let again = OptimizeRequest {
        balance: Some(1.0),
        ..OptimizeRequest::named("a")
    };
    let plan = fit_optimization(&project, &analysis, &again).unwrap();
    assert_eq!((plan.target, plan.balance), (0.7, 1.0));
    assert_eq!(plan.filters.min_sparsity, None);
    assert_eq!(plan.filters.min_speedup, Some(1.1));
    assert_eq!(plan.loss, "mine");
    assert_eq!(plan.overrides.len(), 1);
    // Another name starts from the defaults.
    let other = fit_optimization(&project, &analysis, &OptimizeRequest::named("b")).unwrap();
    let defaults = OptimizeOptions::default();
    assert_eq!(
        (other.target, other.balance),
        (defaults.target, defaults.balance)
    );
    assert_eq!(other.filters, defaults.filters);
    assert!(other.overrides.is_empty());
    assert_eq!(other.loss, "approx");
}

#[test]
fn an_override_replaces_the_same_pattern_and_keeps_the_rest() {
    let analysis = digits();
    let mut project = project_with_profiles(&analysis);
    let request = |pattern: &str, sparsity| OverrideRequest {
        name: None,
        pattern: pattern.into(),
        sparsity,
    };
    let err = fit_override(&project, &analysis, &request("conv1.weight", None)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no optimization yet; run an optimization first."
    );
    let mut plan = fit_optimization(
        &project,
        &analysis,
        &OptimizeRequest {
            target: Some(0.6),
            quantization: QuantizationRequest {
                choice: QuantizeChoice::Mode(QuantMode::Static),
                ..Default::default()
            },
            ..OptimizeRequest::named("a")
        },
    )
    .unwrap();
    plan.overrides.push(Override {
        pattern: "fc1.weight".into(),
        sparsity: Some(0.5),
    });
    project.optimizations.insert("a".into(), plan);
    project.latest_optimization = Some("a".into());

    let (name, plan) =
        fit_override(&project, &analysis, &request("fc1.weight", Some(0.2))).unwrap();
    assert_eq!(name, "a");
    assert_eq!(
        plan.overrides,
        vec![Override {
            pattern: "fc1.weight".into(),
            sparsity: Some(0.2)
        }]
    );
    assert_eq!(plan.target, 0.6);
    assert_eq!(
        plan.quantization.as_ref().map(|q| q.mode),
        Some(QuantMode::Static)
    );
    let fc1 = plan
        .layers
        .iter()
        .find(|l| l.weight == "fc1.weight")
        .unwrap();
    assert_eq!(fc1.sparsity, Some(0.2));
    assert!(fc1.overridden);
    let (_, plan) = fit_override(&project, &analysis, &request("conv2.weight", None)).unwrap();
    assert_eq!(plan.overrides.len(), 2);

    let err = fit_override(
        &project,
        &analysis,
        &OverrideRequest {
            name: Some("b".into()),
            ..request("fc1.weight", None)
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no optimization 'b'; run an optimization named 'b' first."
    );
}

#[test]
fn the_quantization_plan_follows_the_request_then_the_earlier_run() {
    let analysis = digits();
    let project = ProjectFile::new(Path::new("digits_cnn.onnx"));
    let plan = fit_optimization(&project, &analysis, &OptimizeRequest::named("a")).unwrap();
    let choose = |request: QuantizationRequest, earlier: Option<&PruningPlan>| {
        quantization_plan(&request, &project, earlier, &plan.loss, &plan.schedule)
    };
    // Nothing asked, nothing before: no quantization.
    assert_eq!(choose(QuantizationRequest::default(), None).unwrap(), None);
    // A first static run: min-max, per channel.
    let fresh = choose(
        QuantizationRequest {
            choice: QuantizeChoice::Mode(QuantMode::Static),
            ..Default::default()
        },
        None,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (fresh.mode, fresh.calibration, fresh.per_channel),
        (QuantMode::Static, Calibration::MinMax, true)
    );
    assert!(fresh.ignore.is_empty());
    // A re-run that says nothing keeps the mode, calibration and weight scales.
    let percentile = Calibration::Percentile { percentile: 99.9 };
    let mut earlier = plan.clone();
    earlier.quantization = choose(
        QuantizationRequest {
            choice: QuantizeChoice::Mode(QuantMode::Static),
            calibration: Some(percentile),
            per_tensor: true,
        },
        None,
    )
    .unwrap();
    let kept = choose(QuantizationRequest::default(), Some(&earlier))
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.mode, kept.calibration, kept.per_channel),
        (QuantMode::Static, percentile, false)
    );
    // Dynamic has no calibration to keep; off drops it.
    let dynamic = choose(
        QuantizationRequest {
            choice: QuantizeChoice::Mode(QuantMode::Dynamic),
            ..Default::default()
        },
        Some(&earlier),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (dynamic.mode, dynamic.calibration, dynamic.per_channel),
        (QuantMode::Dynamic, Calibration::MinMax, false)
    );
    let off = QuantizationRequest {
        choice: QuantizeChoice::Off,
        ..Default::default()
    };
    assert_eq!(choose(off.clone(), Some(&earlier)).unwrap(), None);
    // Quantization settings without a quantization are refused.
    let err = choose(
        QuantizationRequest {
            per_tensor: true,
            ..off
        },
        Some(&earlier),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the per-tensor option applies to quantization only; add static quantization or dynamic quantization."
    );
    let err = choose(
        QuantizationRequest {
            calibration: Some(Calibration::MinMax),
            ..Default::default()
        },
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("a calibration method applies"),
        "{err}"
    );
}

#[test]
fn optimize_and_override_save_to_the_project_file() {
    let copied = Copied::new("fit-save", "digits_cnn.onnx");
    let request = OptimizeRequest {
        target: Some(0.5),
        settings: Settings {
            epochs: Some(20.0),
            ..Settings::default()
        },
        ..OptimizeRequest::named("small")
    };
    let fitted = optimize(copied.model(), &copied.analysis, &request).unwrap();
    assert_eq!(fitted.name, "small");
    assert!(fitted.moved_aside.is_empty());
    assert_eq!(fitted.plan.schedule, schedule_of(&request.settings));
    assert_ne!(fitted.plan.schedule, schedule_of(&Settings::default()));
    let Found::Project(project) = crate::project::read(copied.model()).unwrap() else {
        panic!("no project file");
    };
    assert_eq!(project.latest_optimization.as_deref(), Some("small"));
    assert_eq!(project.optimizations["small"], fitted.plan);
    assert_eq!(project.settings.epochs, Some(20.0));

    let pinned = override_layers(
        copied.model(),
        &copied.analysis,
        &OverrideRequest {
            name: None,
            pattern: "conv1.weight".into(),
            sparsity: Some(0.25),
        },
    )
    .unwrap();
    assert_eq!(pinned.name, "small");
    let Found::Project(project) = crate::project::read(copied.model()).unwrap() else {
        panic!("no project file");
    };
    assert_eq!(project.optimizations["small"].overrides.len(), 1);
    // An override leaves the settings alone.
    assert_eq!(project.settings.epochs, Some(20.0));
}

#[test]
fn an_unreadable_project_file_is_reported() {
    let copied = Copied::new("fit-aside", "digits_cnn.onnx");
    std::fs::write(crate::project::path_for(copied.model()), "{ broken").unwrap();
    let fitted = optimize(
        copied.model(),
        &copied.analysis,
        &OptimizeRequest::named("a"),
    )
    .unwrap();
    assert_eq!(fitted.moved_aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(&fitted.moved_aside[0]).unwrap(),
        "{ broken"
    );
}
