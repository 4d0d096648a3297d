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
            ..Default::default()
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
            ..Default::default()
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
            ..Default::default()
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
fn an_llm_compressor_recipe_carries_the_one_shot_plan_and_checks_clean() {
    use crate::export::llm_compressor::OneShot;
    use crate::reconstruct::{Method, Pattern};
    let copied = optimized("export-recipe-llmc", true);
    let path = copied.path("digits.llmc.yaml");
    let request = RecipeExport {
        path: path.clone(),
        format: RecipeFormat::LlmCompressor,
        ..Default::default()
    };
    let written = export_recipe(copied.model(), &request).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# prunekit: model=digits_cnn.onnx\n"),
        "{text}"
    );
    assert!(
        text.contains("sparsity_stage:\n") && text.contains("quantization_stage:\n"),
        "{text}"
    );
    assert!(text.contains("        SparseGPTModifier:\n"), "{text}");
    assert!(text.contains("mask_structure: '0:0'"), "{text}");
    // Every pruned layer is one module target, once.
    for weight in &written.layers_pruned {
        let module = weight.strip_suffix(".weight").unwrap_or(weight);
        assert_eq!(
            text.matches(&format!("'{module}'")).count(),
            1,
            "{module}: {text}"
        );
    }
    // The checker reads back every modifier and finds nothing wrong.
    let checked = crate::recipe::check(&text, &crate::recipe::CheckOptions::default());
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| {
            matches!(
                d.severity,
                crate::recipe::Severity::Error | crate::recipe::Severity::Warning
            )
        })
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    let groups = text.lines().filter(|l| l.ends_with("_modifiers:")).count();
    assert_eq!(written.modifiers, groups, "{text}");
    assert_eq!(written.format, RecipeFormat::LlmCompressor);

    // Wanda in 2:4: one group for every pruned layer, at sparsity 0.5.
    let request = RecipeExport {
        one_shot: OneShot {
            method: Method::Wanda,
            pattern: Pattern::NofM { n: 2, m: 4 },
            ..Default::default()
        },
        ..request
    };
    export_recipe(copied.model(), &request).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("    sparsity_2_4_modifiers:\n        WandaPruningModifier:\n            sparsity: 0.5\n            mask_structure: '2:4'\n"), "{text}");
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
            ..Default::default()
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

/// Plain magnitude pruning, which reads no samples.
fn magnitude() -> PruningRequest {
    PruningRequest {
        method: Some(Method::Magnitude),
        ..PruningRequest::default()
    }
}

fn model_request(copied: &Copied, name: &str) -> ModelExport {
    ModelExport {
        path: copied.path(name),
        optimization: None,
        quantize: None,
        data: Some(fixture("digits_test.npz")),
        calibration_data: None,
        keep_float: None,
        pruning: PruningRequest::default(),
        seed: 0,
        external_data: Default::default(),
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
    assert!(written.quantized.is_none());
    let pruning = written.pruning.as_ref().expect("pruned to the plan");
    assert!(!pruning.layers.is_empty());
    for layer in &pruning.layers {
        assert!((0.0..=1.0).contains(&layer.sparsity));
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
    assert_eq!(held_out_accuracy(&request.path, &set), accuracy.after);
    // It is checked against the original on the data, the only set of samples given.
    let checks = &written.agreement.checks;
    assert_eq!(checks.len(), 1);
    assert_eq!(
        checks[0].source,
        fixture("digits_test.npz").display().to_string()
    );
    assert_eq!(checks[0].accuracy.as_ref(), Some(&accuracy));
    assert!(!written.agreement.quantized && written.agreement.blame.is_none());
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
    assert!(written.pruning.is_none());
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
            pruning: magnitude(),
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
        &ModelExport {
            pruning: magnitude(),
            ..model_request(&copied, "cancelled.onnx")
        },
        &steps,
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    assert!(!copied.path("cancelled.onnx").exists());
    assert_eq!(steps.0.borrow().last().unwrap(), "end Quantizing Cancelled");
}

/// Top-1 accuracy of the model's first output on `data`.
fn held_out_accuracy(model: &Path, data: &Dataset) -> f64 {
    let mut session = crate::runtime::ModelSession::from_file(model, &Default::default()).unwrap();
    let out = session.run(&data.inputs).unwrap();
    let labels = data.labels.as_ref().unwrap();
    crate::runtime::metric::correct(&out[0].1, labels) as f64 / data.samples as f64
}

#[test]
fn a_healthy_int8_model_agrees_and_says_how_closely() {
    let copied = Copied::new("export-agrees", "digits_cnn.onnx");
    let request = ModelExport {
        quantize: Some(QuantizeOptions::new(QuantMode::Static)),
        calibration_data: Some(fixture("digits_train.npz")),
        ..model_request(&copied, "int8.onnx")
    };
    let written = export_model(
        copied.model(),
        &copied.analysis,
        &request,
        &NoProgress,
        &Default::default(),
    )
    .unwrap();
    let agreement = &written.agreement;
    assert!(agreement.agrees(), "{agreement:?}");
    assert_eq!(agreement.verdict(), None);
    // The calibration samples and the data, each compared.
    let sources: Vec<&str> = agreement.checks.iter().map(|c| c.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            fixture("digits_train.npz").display().to_string(),
            fixture("digits_test.npz").display().to_string()
        ]
    );
    for check in &agreement.checks {
        assert!(check.top1.unwrap() >= MIN_TOP1_AGREEMENT, "{check:?}");
        assert_eq!(check.outputs.len(), 1);
        assert_eq!(check.outputs[0].metric, "kl_divergence");
        assert!(
            check.outputs[0].value < MAX_KL_DIVERGENCE / 10.0,
            "{check:?}"
        );
    }
    // Agreeing, nothing is blamed and nothing more is measured.
    assert!(agreement.blame.is_none() && agreement.kept_float.is_empty());
    assert_eq!(
        written.accuracy.as_ref(),
        agreement.checks[1].accuracy.as_ref()
    );
}

#[test]
fn keep_float_leaves_the_named_layers_float_and_auto_only_what_is_needed() {
    let copied = Copied::new("export-keep-float", "digits_cnn.onnx");
    let fc2 = copied
        .analysis
        .layers
        .iter()
        .find(|l| l.weight.as_ref().is_some_and(|w| w.name == "fc2.weight"))
        .unwrap()
        .name
        .clone();
    let int8 = |keep_float: KeepFloat, name: &str| {
        export_model(
            copied.model(),
            &copied.analysis,
            &ModelExport {
                quantize: Some(QuantizeOptions::new(QuantMode::Static)),
                keep_float: Some(keep_float),
                ..model_request(&copied, name)
            },
            &NoProgress,
            &Default::default(),
        )
    };
    // By weight name: the layer is named as the analysis names it, and left float.
    let written = int8(KeepFloat::Layers(vec!["fc2.weight".into()]), "named.onnx").unwrap();
    assert_eq!(written.agreement.kept_float, vec![fc2.clone()]);
    let quantized = written.quantized.unwrap();
    assert!(quantized.skipped.iter().any(|s| s.name == fc2));
    assert!(!quantized.layers.iter().any(|l| l.name == fc2));
    assert!(written.agreement.agrees());

    // Auto on a model that already agrees keeps nothing float, but ranks the layers.
    let written = int8(KeepFloat::Auto, "auto.onnx").unwrap();
    let agreement = &written.agreement;
    assert!(agreement.agrees() && agreement.auto && agreement.kept_float.is_empty());
    let blame = agreement.blame.as_ref().expect("auto ranks the layers");
    assert_eq!(blame.layers.len(), written.quantized.unwrap().layers.len());
    assert!(matches!(blame.source, BlameSource::Measured { .. }));
    assert!(blame.layers.windows(2).all(|w| w[0].value >= w[1].value));

    // An unknown layer is refused with the closest name, and nothing is written.
    let err = int8(KeepFloat::Layers(vec!["fc2.weigth".into()]), "refused.onnx").unwrap_err();
    assert!(err.to_string().contains("did you mean"), "{err}");
    assert!(!copied.path("refused.onnx").exists());
    // Keeping layers float needs a quantization.
    let pruned = optimized("export-keep-float-pruned", false);
    let err = export_model(
        pruned.model(),
        &pruned.analysis,
        &ModelExport {
            keep_float: Some(KeepFloat::Auto),
            ..model_request(&pruned, "no.onnx")
        },
        &NoProgress,
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("layers kept float applies"),
        "{err}"
    );
    assert!(!pruned.path("no.onnx").exists());
}

#[test]
fn top1_is_judged_on_real_samples_and_only_reported_on_generated_ones() {
    let real = check(Some(0.90), 1e-4);
    assert!(!real.agrees());
    let generated = Check {
        source: "generated".into(),
        ..real.clone()
    };
    assert!(generated.agrees(), "{generated:?}");
    assert_eq!(generated.top1, Some(0.90));
    // The output metric still decides on generated samples.
    let broken = Check {
        source: "generated".into(),
        ..check(Some(0.90), 0.5)
    };
    assert!(!broken.agrees());
}

fn check(top1: Option<f64>, kl: f64) -> Check {
    Check {
        source: "data.npz".into(),
        samples: 100,
        outputs: vec![OutputAgreement {
            name: "logits".into(),
            metric: "kl_divergence",
            value: kl,
            per_position: false,
        }],
        top1,
        per_position: false,
        accuracy: None,
    }
}

#[test]
fn the_verdict_names_the_figures_the_blamed_layers_and_the_fix() {
    use crate::quantize::sensitivity::QuantLayerLoss;
    let layer = |name: &str, value: f64| QuantLayerLoss {
        name: name.into(),
        weight: format!("{name}.weight"),
        op_type: "Gemm".into(),
        value,
        accuracy: None,
        rank: 0,
    };
    let mut agreement = Agreement {
        checks: vec![check(Some(0.99), 1e-4)],
        unchecked: None,
        blame: None,
        kept_float: Vec::new(),
        auto: false,
        quantized: true,
        channels_removed: false,
    };
    assert!(agreement.agrees() && agreement.verdict().is_none());
    // Either figure past its threshold disagrees.
    agreement.checks = vec![check(Some(0.94), 1e-4)];
    assert!(!agreement.agrees());
    agreement.checks = vec![check(None, 0.5)];
    assert!(!agreement.agrees());
    agreement.checks = vec![check(Some(0.17), 0.38)];
    agreement.blame = Some(Blame {
        source: BlameSource::Measured { samples: 64 },
        metric: "kl_divergence".into(),
        layers: vec![layer("fc1", 0.37), layer("fc3", 0.05), layer("fc2", 1e-4)],
    });
    let verdict = agreement.verdict().unwrap();
    assert_eq!(
        verdict.names(),
        vec![Setting::KeepFloat, Setting::KeepFloat]
    );
    let text = verdict.words(&crate::error::PlainWording);
    assert!(
        text.starts_with("The written model no longer agrees with the original: the top class matches on 17.0% of samples (at least 95.0% agree); output logits has kl divergence 0.380 (at most 0.020 agrees) on 100 samples of data.npz."),
        "{text}"
    );
    // The worst layer and those within a tenth of it.
    assert!(
        text.contains("blames fc1 (kl divergence 0.370), fc3 (kl divergence 0.050); keep the worst float with layers kept float (fc1) or "),
        "{text}"
    );
    assert!(
        text.ends_with("the most int8-sensitive layers kept float."),
        "{text}"
    );
    // The automatic choice, stopped at its bound, says so.
    agreement.auto = true;
    agreement.kept_float = vec!["fc1".into(); MAX_AUTO_KEEP_FLOAT];
    let text = agreement
        .verdict()
        .unwrap()
        .words(&crate::error::PlainWording);
    assert!(
        text.starts_with(
            "The written model still does not agree with the original after keeping 8 layers float"
        ),
        "{text}"
    );
    // It does not offer again what the automatic choice already did.
    assert!(
        text.contains("the trouble is wider than a few layers")
            && !text.contains("the most int8-sensitive layers kept float"),
        "{text}"
    );
    // A pruned model that disagrees is told to fine-tune.
    agreement.quantized = false;
    assert!(
        agreement
            .verdict()
            .unwrap()
            .words(&crate::error::PlainWording)
            .contains("fine-tune")
    );
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

#[test]
fn a_model_that_cannot_be_checked_is_written_and_says_why() {
    let copied = optimized("export-unchecked", false);
    let request = ModelExport {
        data: Some(copied.path("missing.npz")),
        pruning: magnitude(),
        ..model_request(&copied, "pruned.onnx")
    };
    let written = export_model(
        copied.model(),
        &copied.analysis,
        &request,
        &NoProgress,
        &Default::default(),
    )
    .unwrap();
    assert!(copied.path("pruned.onnx").is_file());
    let agreement = &written.agreement;
    assert!(agreement.checks.is_empty() && agreement.verdict().is_none());
    let err = agreement.unchecked.as_ref().expect("the data is missing");
    assert!(err.to_string().contains("missing.npz"), "{err}");
    // Asked to keep layers float until it agrees, it cannot go on without the check.
    let err = export_model(
        copied.model(),
        &copied.analysis,
        &ModelExport {
            quantize: Some(QuantizeOptions::new(QuantMode::Static)),
            calibration_data: Some(fixture("digits_train.npz")),
            keep_float: Some(KeepFloat::Auto),
            ..request
        },
        &NoProgress,
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.npz"), "{err}");
}

#[test]
fn a_cancelled_reconstruction_writes_nothing() {
    let copied = optimized("export-cancel-sparsegpt", false);
    let cancel = crate::Cancel::default();
    cancel.cancel();
    let steps = Recorder::default();
    let err = export_model(
        copied.model(),
        &copied.analysis,
        &ModelExport {
            calibration_data: Some(fixture("digits_train.npz")),
            ..model_request(&copied, "cancelled.onnx")
        },
        &steps,
        &cancel,
    )
    .unwrap_err();
    assert_eq!(err, Error::Cancelled);
    assert!(!copied.path("cancelled.onnx").exists());
    assert_eq!(steps.0.borrow().last().unwrap(), "end Pruning Cancelled");
}

#[test]
fn close_on_generated_samples_only_does_not_vouch_for_the_written_model() {
    let generated = Check {
        source: "generated".into(),
        ..check(Some(1.0), 1e-4)
    };
    let mut agreement = Agreement {
        checks: vec![generated.clone()],
        unchecked: None,
        blame: None,
        kept_float: Vec::new(),
        auto: false,
        quantized: true,
        channels_removed: false,
    };
    assert!(agreement.agrees() && !agreement.verified() && !agreement.vouched());
    assert!(agreement.verdict().is_none());
    // Real samples beside them vouch for it.
    agreement.checks.push(check(Some(0.99), 1e-4));
    assert!(agreement.verified() && agreement.vouched());
    // A disagreement on generated samples is a disagreement all the same.
    agreement.checks = vec![Check {
        outputs: vec![OutputAgreement {
            name: "logits".into(),
            metric: "kl_divergence",
            value: 0.5,
            per_position: false,
        }],
        ..generated
    }];
    assert!(!agreement.agrees() && !agreement.vouched() && agreement.verdict().is_some());
}

#[test]
fn class_scores_at_every_position_are_known_by_their_linear_head() {
    use crate::model::onnx::{GraphProto, NodeProto, ValueInfoProto};
    let node = |op: &str, inputs: &[&str], output: &str| NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    };
    let value = |name: &str| ValueInfoProto {
        name: Some(name.into()),
        ..Default::default()
    };
    // ddddocr's head: Gemm, reshaped to (steps, batch, classes); PP-OCRv4's: MatMul, Add, Softmax
    // (its probabilities known by their values); a detector's boxes: Transpose of a Concat.
    let graph = GraphProto {
        node: vec![
            node("Gemm", &["h", "w", "b"], "g"),
            node("Reshape", &["g", "shape"], "steps"),
            node("MatMul", &["h", "w2"], "m"),
            node("Add", &["m", "b2"], "logits"),
            node("Softmax", &["logits"], "probabilities"),
            node("Concat", &["h", "h"], "c"),
            node("Transpose", &["c"], "boxes"),
            node("Relu", &["h"], "features"),
        ],
        output: ["steps", "logits", "probabilities", "boxes", "features"]
            .iter()
            .map(|n| value(n))
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        agreement::class_score_outputs(&graph),
        vec!["steps".to_string(), "logits".to_string()]
    );
}

#[test]
fn class_scores_at_every_position_have_their_own_thresholds() {
    // PP-OCRv4's per-channel int8 on rendered text (reads as well as float), then in int8 per
    // tensor (reads nothing): the figures measured, per position.
    let steps = |top1: f64, kl: f64| Check {
        outputs: vec![OutputAgreement {
            name: "softmax".into(),
            metric: "kl_divergence",
            value: kl,
            per_position: true,
        }],
        per_position: true,
        ..check(Some(top1), kl)
    };
    let sound = steps(0.975, 0.30);
    assert!(sound.agrees(), "{sound:?}");
    assert!(
        !check(Some(0.975), 0.30).agrees(),
        "a classifier is held to more"
    );
    let ruined = steps(0.788, 2.28);
    assert!(!ruined.agrees());
    // Either figure alone is enough.
    assert!(!steps(0.975, 2.28).agrees() && !steps(0.84, 0.30).agrees());
    let agreement = Agreement {
        checks: vec![steps(0.84, 0.30)],
        unchecked: None,
        blame: None,
        kept_float: Vec::new(),
        auto: false,
        quantized: true,
        channels_removed: false,
    };
    let verdict = agreement
        .verdict()
        .unwrap()
        .words(&crate::error::PlainWording);
    assert!(
        verdict.contains("the top class matches on 84.0% of positions (at least 90.0% agree)"),
        "{verdict}"
    );
}
