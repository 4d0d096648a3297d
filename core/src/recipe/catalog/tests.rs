//! The catalogue checked against SparseML's registered classes: every class per framework,
//! required fields, defaults, schedule comparators, flags, the legacy quantization swap, the
//! did-you-mean over class and field names, and the enumerations.

use super::*;
use crate::suggest::did_you_mean;
use std::collections::HashSet;

/// The classes SparseML registers for PyTorch.
const PYTORCH_CLASSES: &[&str] = &[
    "LayerThinningModifier",
    "PerLayerDistillationModifier",
    "DistillationModifier",
    "SetWeightDecayModifier",
    "EpochRangeModifier",
    "SetLearningRateModifier",
    "LearningRateFunctionModifier",
    "LearningRateModifier",
    "TrainableParamsModifier",
    "SetParamModifier",
    "GradualParamModifier",
    "SparsificationLoggingModifier",
    "PowerpropagationModifier",
    "TopKASTPruningModifier",
    "ACDCPruningModifier",
    "GMPruningModifier",
    "MagnitudePruningModifier",
    "GlobalMagnitudePruningModifier",
    "OBSPruningModifier",
    "MFACPruningModifier",
    "StructuredPruningModifier",
    "ConstantPruningModifier",
    "MovementPruningModifier",
    "LayerPruningModifier",
    "RigLPruningModifier",
    "QuantizationModifier",
];

/// The classes SparseML registers for Keras and TF v1.
const KERAS_TF_CLASSES: &[&str] = &[
    "EpochRangeModifier",
    "ConstantPruningModifier",
    "GMPruningModifier",
    "SetLearningRateModifier",
    "LearningRateModifier",
    "TrainableParamsModifier",
];

fn all_specs() -> impl Iterator<Item = &'static ModifierSpec> {
    MODIFIERS
        .iter()
        .chain(std::iter::once(&LEGACY_QUANTIZATION))
}

fn names(spec: &ModifierSpec) -> HashSet<&'static str> {
    spec.field_names().collect()
}

fn required(spec: &ModifierSpec) -> HashSet<&'static str> {
    spec.required_fields().map(|f| f.name).collect()
}

fn set(items: &[&'static str]) -> HashSet<&'static str> {
    items.iter().copied().collect()
}

#[test]
fn catalog_every_class_present_per_framework() {
    for name in PYTORCH_CLASSES {
        assert!(
            modifier(name, Framework::PyTorch).is_some(),
            "PyTorch {name}"
        );
    }
    for fw in [Framework::Keras, Framework::TensorFlow] {
        for name in KERAS_TF_CLASSES {
            assert!(modifier(name, fw).is_some(), "{fw} {name}");
        }
        assert_eq!(modifiers(fw).count(), KERAS_TF_CLASSES.len(), "{fw}");
        // PyTorch-only classes are not registered in Keras / TF.
        assert!(modifier("MFACPruningModifier", fw).is_none());
        assert!(modifier("QuantizationModifier", fw).is_none());
    }
    assert_eq!(modifiers(Framework::PyTorch).count(), PYTORCH_CLASSES.len());
    assert_eq!(PYTORCH_CLASSES.len(), 26);
    // Unregistered classes are not in the table.
    for (name, fw, _) in UNREGISTERED {
        assert!(modifier(name, *fw).is_none());
    }
}

#[test]
fn catalog_no_duplicate_entries_or_fields() {
    let mut seen = HashSet::new();
    for spec in MODIFIERS {
        for fw in spec.frameworks {
            assert!(
                seen.insert((spec.name, *fw)),
                "{} twice for {fw}",
                spec.name
            );
        }
    }
    for spec in all_specs() {
        let mut fields = HashSet::new();
        for f in spec.fields {
            assert!(fields.insert(f.name), "{}.{} twice", spec.name, f.name);
        }
    }
}

#[test]
fn catalog_docs_are_sentences() {
    for spec in all_specs() {
        assert!(spec.doc.ends_with('.'), "{}", spec.name);
        for f in spec.fields {
            assert!(!f.doc.trim().is_empty(), "{}.{}", spec.name, f.name);
            assert!(
                f.doc.ends_with('.'),
                "{}.{}: {:?}",
                spec.name,
                f.name,
                f.doc
            );
        }
    }
    for key in TOP_LEVEL_KEYS {
        assert!(key.doc.ends_with('.'), "{}", key.key);
    }
    for class in LR_CLASSES {
        assert!(class.doc.ends_with('.'), "{}", class.name);
    }
}

#[test]
fn catalog_defaults_are_consistent() {
    for spec in all_specs() {
        for f in spec.fields {
            let what = format!("{}.{}", spec.name, f.name);
            // Required exactly when the constructor argument has no default.
            assert_eq!(f.required, f.default.is_none(), "{what}");
            if let (Some(fixed), Some(default)) = (f.fixed, f.default) {
                assert_eq!(fixed, default, "{what}");
            }
            // A string default of an enumerated field is one of its values.
            if let Some(default) = f.default
                && !f.enum_values.is_empty()
                && default != "null"
            {
                assert!(f.enum_values.contains(&default), "{what}");
            }
            if let (Some(range), Some(default)) = (f.range, f.default)
                && let Ok(v) = default.parse::<f64>()
            {
                assert!(range.contains(v), "{what}");
            }
            // Every default that is a float literal reads as a float under YAML 1.1: no
            // exponent without a dot and a sign.
            if let Some(default) = f.default
                && default.contains(['e', 'E'])
                && default.parse::<f64>().is_ok()
            {
                assert!(
                    default.contains('.') && default.contains(['-', '+']),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn catalog_required_fields_match_spec() {
    for fw in Framework::ALL {
        let epoch = modifier("EpochRangeModifier", fw).unwrap();
        assert_eq!(required(epoch), set(&["start_epoch", "end_epoch"]));
        assert_eq!(names(epoch), set(&["start_epoch", "end_epoch"]));

        let lr = modifier("LearningRateModifier", fw).unwrap();
        assert_eq!(
            required(lr),
            set(&["lr_class", "lr_kwargs", "init_lr", "start_epoch"])
        );
        assert_eq!(lr.field("update_frequency").unwrap().fixed, Some("-1.0"));
        assert_eq!(lr.field("lr_class").unwrap().enum_values, LR_CLASS_NAMES);

        let trainable = modifier("TrainableParamsModifier", fw).unwrap();
        assert_eq!(required(trainable), set(&["params", "trainable"]));

        let set_lr = modifier("SetLearningRateModifier", fw).unwrap();
        assert_eq!(required(set_lr), set(&["learning_rate"]));
        assert_eq!(set_lr.field("learning_rate").unwrap().range, Some(LR_RANGE));
    }
    let pt_lr = modifier("LearningRateModifier", Framework::PyTorch).unwrap();
    assert!(pt_lr.field("constant_logging").is_some());
    let keras_lr = modifier("LearningRateModifier", Framework::Keras).unwrap();
    assert!(keras_lr.field("constant_logging").is_none());

    let gm = modifier("GMPruningModifier", Framework::PyTorch).unwrap();
    assert_eq!(
        required(gm),
        set(&[
            "init_sparsity",
            "final_sparsity",
            "start_epoch",
            "end_epoch",
            "update_frequency",
            "params"
        ])
    );
    assert_eq!(gm.field("inter_func").unwrap().default, Some("cubic"));
    assert_eq!(gm.field("mask_type").unwrap().default, Some("unstructured"));
    assert_eq!(gm.field("init_sparsity").unwrap().range, Some(UNIT_CLOSED));
    assert_eq!(gm.field("final_sparsity").unwrap().range, Some(UNIT_OPEN));
    assert_eq!(
        gm.field("final_sparsity").unwrap().ty,
        FieldType::FloatOrListOrDict
    );
    assert_eq!(gm.field("phased").unwrap().fixed, Some("False"));

    let structured = modifier("StructuredPruningModifier", Framework::PyTorch).unwrap();
    assert!(!structured.field("params").unwrap().required);
    assert_eq!(
        structured.field("params").unwrap().default,
        Some("__ALL_PRUNABLE__")
    );
    assert_eq!(
        structured.field("mask_type").unwrap().enum_values,
        MASK_TYPES_STRUCTURED
    );

    let lrf = modifier("LearningRateFunctionModifier", Framework::PyTorch).unwrap();
    assert_eq!(
        required(lrf),
        set(&["lr_func", "init_lr", "final_lr", "start_epoch", "end_epoch"])
    );
    assert_eq!(lrf.field("init_lr").unwrap().range, Some(UNIT_CLOSED));

    let set_param = modifier("SetParamModifier", Framework::PyTorch).unwrap();
    assert_eq!(set_param.field("start_epoch").unwrap().default, Some("0.0"));

    let acdc = modifier("ACDCPruningModifier", Framework::PyTorch).unwrap();
    for f in ["start_epoch", "end_epoch", "update_frequency"] {
        assert!(acdc.field(f).unwrap().must_be_integral(), "{f}");
    }
    assert!(!gm.field("start_epoch").unwrap().must_be_integral());

    let distill = modifier("DistillationModifier", Framework::PyTorch).unwrap();
    assert_eq!(required(distill), HashSet::new());

    let keras_gm = modifier("GMPruningModifier", Framework::Keras).unwrap();
    assert_eq!(keras_gm.field("leave_enabled").unwrap().fixed, Some("True"));
    assert_eq!(
        keras_gm.field("final_sparsity").unwrap().ty,
        FieldType::FloatOrList
    );
    assert!(keras_gm.field("global_sparsity").is_none());
}

#[test]
fn catalog_end_comparators_match_sparseml() {
    use EndComparator as E;
    let pt = Framework::PyTorch;
    let cases: &[(&str, Framework, EndComparator, f64)] = &[
        ("EpochRangeModifier", pt, E::MinusOne, -1.0),
        ("GMPruningModifier", pt, E::MinusOne, -1.0),
        ("StructuredPruningModifier", pt, E::MinusOne, -1.0),
        ("ConstantPruningModifier", pt, E::MinusOne, -1.0),
        ("LearningRateModifier", pt, E::MinusOne, -1.0),
        ("QuantizationModifier", pt, E::MinusOne, -1.0),
        ("MFACPruningModifier", pt, E::Zero, -1.0),
        ("OBSPruningModifier", pt, E::Zero, -1.0),
        ("ACDCPruningModifier", pt, E::Zero, -1.0),
        ("RigLPruningModifier", pt, E::Zero, -1.0),
        ("TopKASTPruningModifier", pt, E::Zero, -1.0),
        ("LearningRateFunctionModifier", pt, E::One, -1.0),
        ("GradualParamModifier", pt, E::One, 0.0),
        ("SetLearningRateModifier", pt, E::None, -1.0),
        ("SetParamModifier", pt, E::None, -1.0),
    ];
    for &(name, fw, ec, min_end) in cases {
        let spec = modifier(name, fw).unwrap();
        assert_eq!(spec.end_comparator, ec, "{name}");
        assert_eq!(spec.min_end, min_end, "{name}");
    }
    for fw in [Framework::Keras, Framework::TensorFlow] {
        for (name, ec, min_end) in [
            ("EpochRangeModifier", E::MinusOne, -1.0),
            ("LearningRateModifier", E::MinusOne, -1.0),
            ("TrainableParamsModifier", E::MinusOne, -1.0),
            ("SetLearningRateModifier", E::None, -1.0),
            ("ConstantPruningModifier", E::None, -1.0),
            ("GMPruningModifier", E::One, 0.0),
        ] {
            let spec = modifier(name, fw).unwrap();
            assert_eq!(spec.end_comparator, ec, "{fw} {name}");
            assert_eq!(spec.min_end, min_end, "{fw} {name}");
        }
    }
    // The comparators themselves.
    assert!(E::MinusOne.allows(5.0, -1.0));
    assert!(!E::Zero.allows(0.0, -1.0));
    assert!(E::Zero.allows(3.0, 3.0));
    assert!(!E::One.allows(3.0, 3.0));
    let keras_gm = modifier("GMPruningModifier", Framework::Keras).unwrap();
    assert!(!keras_gm.schedule_ok(-1.0, -0.5));
    assert!(keras_gm.schedule_ok(0.0, 10.0));
    let pt_gm = modifier("GMPruningModifier", pt).unwrap();
    assert!(pt_gm.schedule_ok(0.0, -1.0));
    assert!(!pt_gm.schedule_ok(-2.0, 10.0));
}

#[test]
fn catalog_flags() {
    let rigl = modifier("RigLPruningModifier", Framework::PyTorch).unwrap();
    assert!(rigl.accepts_unknown_fields);
    assert_eq!(
        MODIFIERS
            .iter()
            .filter(|m| m.accepts_unknown_fields)
            .count(),
        1
    );
    assert!(
        modifier("GMPruningModifier", Framework::TensorFlow)
            .unwrap()
            .is_gradual()
    );
    assert!(
        modifier("OBSPruningModifier", Framework::PyTorch)
            .unwrap()
            .is_gradual()
    );
    assert!(
        !modifier("ConstantPruningModifier", Framework::PyTorch)
            .unwrap()
            .is_gradual()
    );
    assert!(
        modifier("ConstantPruningModifier", Framework::Keras)
            .unwrap()
            .is_pruning
    );
    assert!(
        !modifier("LayerPruningModifier", Framework::PyTorch)
            .unwrap()
            .is_pruning
    );
    let obs = modifier("OBSPruningModifier", Framework::PyTorch).unwrap();
    assert_eq!(
        obs.field("inter_func").unwrap().checked_at,
        CheckStage::Training
    );
    assert_eq!(obs.field("damp").unwrap().default, Some("1.0e-07"));
    let gm = modifier("GMPruningModifier", Framework::PyTorch).unwrap();
    assert_eq!(gm.field("inter_func").unwrap().checked_at, CheckStage::Load);
    assert_eq!(
        gm.field("mask_type").unwrap().checked_at,
        CheckStage::Initialize
    );
    assert_eq!(
        gm.field("init_sparsity").unwrap().type_check,
        TypeCheck::Strict
    );
    assert!(gm.field("global_sparsity").unwrap().deprecated.is_some());
}

#[test]
fn catalog_legacy_quantization_swap() {
    let current = modifier("QuantizationModifier", Framework::PyTorch).unwrap();
    assert!(!current.legacy);
    assert_eq!(current.field("end_epoch").unwrap().fixed, Some("-1.0"));
    assert_eq!(
        current.field("freeze_bn_stats_epoch").unwrap().min_field,
        Some("start_epoch")
    );
    let only: HashSet<_> = legacy_quantization_only_keys().collect();
    for key in [
        "submodules",
        "activation_bits",
        "weight_bits",
        "tensorrt",
        "reduce_range",
        "custom_quantizable_module_types",
    ] {
        assert!(only.contains(key), "{key}");
    }
    for key in [
        "start_epoch",
        "end_epoch",
        "num_calibration_steps",
        "scheme",
    ] {
        assert!(!only.contains(key), "{key}");
    }
    assert_eq!(only.len(), 14);
    assert_eq!(LEGACY_QUANTIZATION.fields.len(), 21);

    let pt = Framework::PyTorch;
    let legacy = resolve_modifier("QuantizationModifier", pt, ["start_epoch", "submodules"]);
    assert!(legacy.unwrap().legacy);
    // Mixing legacy and current keys: the legacy class, on which `scheme` is unknown.
    let mixed = resolve_modifier("QuantizationModifier", pt, ["scheme", "submodules"]).unwrap();
    assert!(mixed.legacy && mixed.field("scheme").is_none());
    let plain = resolve_modifier("QuantizationModifier", pt, ["scheme"]).unwrap();
    assert!(!plain.legacy);
    let gm = resolve_modifier("GMPruningModifier", pt, ["submodules"]).unwrap();
    assert_eq!(gm.name, "GMPruningModifier");
}

#[test]
fn catalog_did_you_mean() {
    let pt = Framework::PyTorch;
    assert_eq!(
        did_you_mean("GMPrunningModifier", modifier_names(pt)),
        Some("GMPruningModifier")
    );
    assert_eq!(
        did_you_mean("gmpruningmodifier", modifier_names(pt)),
        Some("GMPruningModifier")
    );
    let gm = modifier("GMPruningModifier", pt).unwrap();
    assert_eq!(
        did_you_mean("final_sparsty", gm.field_names()),
        Some("final_sparsity")
    );
    assert_eq!(
        did_you_mean("inter_fnuc", gm.field_names()),
        Some("inter_func")
    );
    assert_eq!(did_you_mean("totally_unrelated", gm.field_names()), None);
    assert_eq!(did_you_mean("xyz", gm.field_names()), None);
    assert_eq!(
        did_you_mean("EpochRangeModifer", modifier_names(Framework::Keras)),
        Some("EpochRangeModifier")
    );
}

#[test]
fn catalog_enumerations_and_helpers() {
    assert_eq!(INTER_FUNCS, &["linear", "cubic", "inverse_cubic"]);
    assert_eq!(inter_func_value("cubic", 0.5), Some(0.875));
    assert_eq!(inter_func_value("linear", 0.25), Some(0.25));
    assert_eq!(inter_func_value("inverse_cubic", 1.0), Some(1.0));
    assert_eq!(inter_func_value("quadratic", 0.5), None);
    assert_eq!(
        lr_class("MultiStepLR").unwrap().required_kwargs,
        &["gamma", "milestones"]
    );
    assert_eq!(
        LR_CLASSES.iter().map(|c| c.name).collect::<Vec<_>>(),
        LR_CLASS_NAMES
    );
    assert!(is_group_key("pruning_modifiers") && !is_group_key("Modifiers"));
    assert_eq!(UNIT_OPEN.to_string(), "(0, 1)");
    assert_eq!(LR_RANGE.to_string(), "(0, 1]");
    assert!(!UNIT_OPEN.contains(1.0) && UNIT_CLOSED.contains(0.0) && !LR_RANGE.contains(0.0));
    assert_eq!(frameworks_of("GMPruningModifier").count(), 3);
    assert_eq!(
        frameworks_of("OBSPruningModifier").collect::<Vec<_>>(),
        vec![Framework::PyTorch]
    );
    assert_eq!(Framework::from_name("TF"), Some(Framework::TensorFlow));
}
