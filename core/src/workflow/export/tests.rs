use super::*;
use crate::NoProgress;
use crate::fixtures::fixture;
use crate::quantize::QuantMode;
use crate::workflow::fit::{self, OptimizeRequest, QuantizationRequest, QuantizeChoice};
use crate::workflow::testing::Copied;

#[test]
fn the_modeline_path_is_relative_to_the_recipe() {
    let dir = std::env::temp_dir().join("prunekit-modeline");
    let model = dir.join("models").join("m.onnx");
    // The same folder, a sub folder, a parent folder and a sibling.
    assert_eq!(
        recipe_model_path(&model, &dir.join("models").join("r.yaml")),
        "m.onnx"
    );
    assert_eq!(
        recipe_model_path(&model, &dir.join("models").join("recipes").join("r.yaml")),
        "../m.onnx"
    );
    assert_eq!(
        recipe_model_path(&model, &dir.join("r.yaml")),
        "models/m.onnx"
    );
    assert_eq!(
        recipe_model_path(&model, &dir.join("recipes").join("r.yaml")),
        "../models/m.onnx"
    );
    // A bare file name is in the working directory.
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        recipe_model_path(&here.join("m.onnx"), Path::new("r.yaml")),
        "m.onnx"
    );
}

#[test]
fn paths_with_no_common_root_stay_absolute() {
    let model = Path::new("/models/m.onnx");
    assert_eq!(relative_path(model, Path::new("elsewhere")), model);
    #[cfg(windows)]
    assert_eq!(
        recipe_model_path(
            Path::new(r"C:\models\m.onnx"),
            Path::new(r"D:\recipes\r.yaml")
        ),
        "C:/models/m.onnx"
    );
}

/// The copied digits model with an optimization "a" (static int8 when `quantized`) saved.
fn optimized(test: &str, quantized: bool) -> Copied {
    let copied = Copied::new(test, "digits_cnn.onnx");
    let request = OptimizeRequest {
        target: Some(0.5),
        quantization: QuantizationRequest {
            choice: if quantized {
                QuantizeChoice::Mode(QuantMode::Static)
            } else {
                QuantizeChoice::Off
            },
            ..Default::default()
        },
        ..OptimizeRequest::named("a")
    };
    fit::optimize(copied.model(), &copied.analysis, &request).unwrap();
    copied
}

#[test]
fn a_recipe_is_written_with_its_modeline_and_facts() {
    let copied = optimized("export-recipe", true);
    let path = copied.path("recipes/digits.recipe.yaml");
    let written = export_recipe(
        copied.model(),
        &RecipeExport {
            path: path.clone(),
            optimization: None,
            names: None,
        },
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# prunekit: model=../digits_cnn.onnx\n"),
        "{text}"
    );
    assert_eq!(
        written.modifiers,
        text.lines()
            .filter(|l| l.trim_start().starts_with("- !"))
            .count()
    );
    assert!(written.modifiers > 0);
    assert!(!written.layers_pruned.is_empty());
    assert!(written.generated_names.is_empty());
    assert_eq!(
        written.quantization.map(|q| q.mode),
        Some(QuantMode::Static)
    );

    // A name map renames the weights; a bad one is one sentence.
    let map = copied.path("names.json");
    let pruned = &written.layers_pruned[0];
    std::fs::write(&map, format!(r#"{{"{pruned}": "features.3.weight"}}"#)).unwrap();
    let renamed = export_recipe(
        copied.model(),
        &RecipeExport {
            path: path.clone(),
            optimization: Some("a".into()),
            names: Some(map.clone()),
        },
    )
    .unwrap();
    assert!(renamed.names_given);
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("features.3.weight")
    );
    std::fs::write(&map, "[1, 2]").unwrap();
    let err = export_recipe(
        copied.model(),
        &RecipeExport {
            path,
            optimization: None,
            names: Some(map),
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("not a JSON object of ONNX name to framework name"),
        "{err}"
    );
}

#[test]
fn exports_need_an_optimization() {
    let copied = Copied::new("export-none", "digits_cnn.onnx");
    let err = export_recipe(
        copied.model(),
        &RecipeExport {
            path: copied.path("r.yaml"),
            optimization: None,
            names: None,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("there is no optimization yet; run an optimization first"),
        "{err}"
    );
    let err = export_code(
        copied.model(),
        &CodeExport {
            path: copied.path("train.py"),
            optimization: Some("b".into()),
            recipe: None,
            training: false,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("there is no optimization 'b'"),
        "{err}"
    );
    assert!(!copied.path("r.yaml").exists() && !copied.path("train.py").exists());
}

#[test]
fn code_reads_the_recipe_export_suggests() {
    let copied = optimized("export-code", false);
    let written = export_code(
        copied.model(),
        &CodeExport {
            path: copied.path("code/train.py"),
            optimization: None,
            recipe: None,
            training: true,
        },
    )
    .unwrap();
    assert_eq!(written.recipe, "digits_cnn.recipe.yaml");
    let code = std::fs::read_to_string(copied.path("code/train.py")).unwrap();
    assert!(code.contains("digits_cnn.recipe.yaml"));
}

fn model_request(copied: &Copied, name: &str) -> ModelExport {
    ModelExport {
        path: copied.path(name),
        optimization: None,
        quantize: None,
        data: Some(fixture("digits_test.npz")),
        calibration_data: None,
        seed: 0,
    }
}

#[test]
fn the_pruned_model_is_written_with_its_accuracy() {
    let copied = optimized("export-model", false);
    let request = model_request(&copied, "out/pruned.onnx");
    let written = export_model(
        copied.model(),
        &copied.analysis,
        &request,
        &NoProgress,
        &Default::default(),
    )
    .unwrap();
    assert!(written.pruned && written.quantized.is_none());
    assert!(!written.layers.is_empty());
    for (_, sparsity) in &written.layers {
        assert!((0.0..=1.0).contains(sparsity));
    }
    let accuracy = written.accuracy.expect("the test data has labels");
    let set =
        Dataset::from_npz(&fixture("digits_test.npz"), &copied.analysis.inputs, None).unwrap();
    assert_eq!(accuracy.samples, set.samples);
    // The trained fixture classifies most digits; half its weights gone, it still does better
    // than chance.
    assert!(accuracy.before > 0.8, "{accuracy:?}");
    assert!(accuracy.after > 0.2, "{accuracy:?}");
    // The accuracy is the top-1 count of the model written.
    let after = held_out_accuracy(&request.path, &set).unwrap().unwrap();
    assert_eq!(after, accuracy.after);
    let reloaded = crate::load(&request.path).unwrap();
    assert!(reloaded.proto.graph.is_some());
}

#[test]
fn the_dense_model_in_int8_and_a_quantizing_optimization() {
    let copied = Copied::new("export-int8", "digits_cnn.onnx");
    let steps = Recorder::default();
    let request = ModelExport {
        quantize: Some(QuantizeOptions::new(QuantMode::Static)),
        ..model_request(&copied, "int8.onnx")
    };
    let written = export_model(
        copied.model(),
        &copied.analysis,
        &request,
        &steps,
        &Default::default(),
    )
    .unwrap();
    assert!(!written.pruned && written.layers.is_empty());
    let quantized = written.quantized.expect("quantized");
    assert!(!quantized.layers.is_empty());
    assert!(written.calibrated_on_measured);
    assert!(written.accuracy.is_some());
    assert_eq!(
        *steps.0.borrow(),
        vec![
            "begin Quantizing".to_string(),
            "end Quantizing Done".to_string()
        ]
    );

    // Calibration data without a quantization is refused, and nothing is written.
    let copied = optimized("export-plan-int8", false);
    let err = export_model(
        copied.model(),
        &copied.analysis,
        &ModelExport {
            calibration_data: Some(fixture("digits_train.npz")),
            ..model_request(&copied, "refused.onnx")
        },
        &NoProgress,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("calibration data applies"),
        "{err}"
    );
    assert!(!copied.path("refused.onnx").exists());
}

#[test]
fn a_cancelled_quantization_writes_nothing() {
    let copied = optimized("export-cancel", true);
    let cancel = crate::Cancel::default();
    cancel.cancel();
    let steps = Recorder::default();
    let err = export_model(
        copied.model(),
        &copied.analysis,
        &model_request(&copied, "cancelled.onnx"),
        &steps,
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    assert!(!copied.path("cancelled.onnx").exists());
    assert_eq!(steps.0.borrow().last().unwrap(), "end Quantizing Cancelled");
}

/// Steps as lines, in order.
#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<String>>);

impl crate::Progress for Recorder {
    fn report(&self, _done: u64, _total: u64, _label: &str) {}
}

impl Steps for Recorder {
    fn begin(&self, step: Step) {
        self.0.borrow_mut().push(format!("begin {step:?}"));
    }
    fn end(&self, step: Step, outcome: super::super::Outcome) {
        self.0
            .borrow_mut()
            .push(format!("end {step:?} {outcome:?}"));
    }
}
