use super::*;
use crate::NoProgress;
use crate::benchmark::Iterations;
use crate::project::Found;
use crate::workflow::Outcome;
use crate::workflow::fit::{self, OptimizeRequest};
use crate::workflow::testing::Copied;

fn quick() -> BenchmarkOptions {
    BenchmarkOptions {
        batches: vec![1],
        threads: vec![Some(1)],
        iterations: Iterations::Runs(2),
        warmup: 0,
        seed: 0,
    }
}

/// The scratch folders of this process's benchmarks still on disk.
fn scratch_left() -> Vec<String> {
    let prefix = format!("prunekit-benchmark-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<String>>);

impl Progress for Recorder {
    fn report(&self, _done: u64, _total: u64, _label: &str) {}
}

impl Steps for Recorder {
    fn begin(&self, step: Step) {
        self.0.borrow_mut().push(format!("begin {step:?}"));
    }
    fn end(&self, step: Step, outcome: Outcome) {
        self.0
            .borrow_mut()
            .push(format!("end {step:?} {outcome:?}"));
    }
}

/// One test, so no other benchmark of this process makes or removes scratch folders meanwhile.
#[test]
fn the_variants_are_built_timed_and_removed() {
    let copied = Copied::new("benchmark", "digits_cnn.onnx");
    fit::optimize(
        copied.model(),
        &copied.analysis,
        &OptimizeRequest {
            target: Some(0.5),
            ..OptimizeRequest::named("a")
        },
    )
    .unwrap();
    let Found::Project(project) = crate::project::read(copied.model()).unwrap() else {
        panic!("no project file");
    };
    let plan = &project.optimizations["a"];

    // The variants are models in their own folder, which goes with them.
    let quantization = quantize_options(QuantizeChoice::Mode(QuantMode::Static), Some(plan), 0)
        .map(|q| QuantizeOptions {
            samples: Some(calibration_samples(&copied.analysis)),
            ..q
        });
    let variants = prepare_variants(
        copied.model(),
        &copied.analysis,
        Some(plan),
        quantization.as_ref(),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    let names: Vec<&str> = variants.models.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["quantized", "pruned", "pruned+quantized"]);
    let folder = variants.folder().to_path_buf();
    for (_, path) in &variants.models {
        assert!(path.starts_with(&folder));
        crate::load(path).unwrap();
    }
    drop(variants);
    assert!(!folder.exists());

    // A whole benchmark: dense against the pruned and int8 models, saved by the optimization's
    // name, and no scratch folder left.
    let steps = Recorder::default();
    let request = BenchmarkRequest {
        options: quick(),
        optimization: Some("a".into()),
        quantize: QuantizeChoice::Mode(QuantMode::Dynamic),
        threads: Some(1),
        name: None,
    };
    let result = run(
        copied.model(),
        &copied.analysis,
        &request,
        &steps,
        &Cancel::default(),
    )
    .unwrap();
    assert_eq!(result.name, "a");
    assert_eq!(result.quantized, Some(QuantMode::Dynamic));
    assert_eq!(result.estimated, plan.model.estimated_speedup);
    let timed: Vec<&str> = result
        .benchmark
        .runs
        .iter()
        .map(|r| r.model.as_str())
        .collect();
    assert_eq!(timed, ["dense", "quantized", "pruned", "pruned+quantized"]);
    assert_eq!(result.benchmark.notes[0], DENSE_KERNELS);
    assert!(result.benchmark.notes[1].starts_with("The dynamic int8 models were calibrated"));
    assert_eq!(
        *steps.0.borrow(),
        [
            "begin PreparingModels",
            "end PreparingModels Done",
            "begin Benchmarking",
            "end Benchmarking Done"
        ]
    );
    let Found::Project(project) = crate::project::read(copied.model()).unwrap() else {
        panic!("no project file");
    };
    assert_eq!(project.benchmarks["a"], result.benchmark);
    assert_eq!(scratch_left(), Vec::<String>::new());

    // The dense model alone needs nothing prepared; its default name says so.
    let dense = run(
        copied.model(),
        &copied.analysis,
        &BenchmarkRequest {
            optimization: None,
            quantize: QuantizeChoice::Keep,
            ..request.clone()
        },
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    assert_eq!(dense.name, "dense");
    assert_eq!(dense.benchmark.runs.len(), 1);
    assert!(dense.benchmark.notes.is_empty());

    // Cancelled while preparing: an error, and still nothing left behind.
    let cancel = Cancel::default();
    cancel.cancel();
    let steps = Recorder::default();
    let err = run(
        copied.model(),
        &copied.analysis,
        &BenchmarkRequest {
            quantize: QuantizeChoice::Mode(QuantMode::Static),
            ..request.clone()
        },
        &steps,
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    assert_eq!(
        steps.0.borrow().last().unwrap(),
        "end PreparingModels Cancelled"
    );
    assert_eq!(scratch_left(), Vec::<String>::new());

    // An optimization that is not there names the ones that are.
    let err = run(
        copied.model(),
        &copied.analysis,
        &BenchmarkRequest {
            optimization: Some("b".into()),
            ..request
        },
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no optimization 'b'; the choices are a (run an optimization)."
    );
}

#[test]
fn the_int8_models_follow_the_request_then_the_optimization() {
    let analysis = crate::fixtures::load_analyzed("digits_cnn.onnx").1;
    let project = crate::project::ProjectFile::new(Path::new("digits_cnn.onnx"));
    let mut plan =
        fit::fit_optimization(&project, &analysis, &OptimizeRequest::named("a")).unwrap();
    assert!(quantize_options(QuantizeChoice::Keep, Some(&plan), 3).is_none());
    assert!(quantize_options(QuantizeChoice::Keep, None, 3).is_none());
    let asked = quantize_options(QuantizeChoice::Mode(QuantMode::Static), None, 3).unwrap();
    assert_eq!((asked.mode, asked.seed), (QuantMode::Static, 3));
    plan.quantization = Some(crate::optimize::quantization::plan(
        QuantMode::Static,
        (
            crate::quantize::Calibration::Percentile { percentile: 99.9 },
            crate::quantize::CalibrationSource::Named,
        ),
        false,
        None,
        &plan.schedule,
    ));
    let kept = quantize_options(QuantizeChoice::Keep, Some(&plan), 3).unwrap();
    assert!(!kept.per_channel);
    let same = quantize_options(QuantizeChoice::Mode(QuantMode::Static), Some(&plan), 3).unwrap();
    assert!(!same.per_channel);
    let other = quantize_options(QuantizeChoice::Mode(QuantMode::Dynamic), Some(&plan), 3).unwrap();
    assert!(other.per_channel);
    assert!(quantize_options(QuantizeChoice::Off, Some(&plan), 3).is_none());
}
