//! Every SparseML modifier class as data: the shared field definitions, then one entry per
//! class and set of frameworks with the same signature, then the legacy quantization class. Only
//! data: the types and their constructors are in `types`, the lookups in the parent module.

use super::types::*;
use super::values::*;

use FieldType as T;

const PT: &[Framework] = &[Framework::PyTorch];
const KT: &[Framework] = &[Framework::Keras, Framework::TensorFlow];
const ALL: &[Framework] = &[Framework::PyTorch, Framework::Keras, Framework::TensorFlow];

const D_START: &str = "Epoch at which the modifier takes effect (fractions allowed); -1 means from the start of \
     training. Must be at least -1.";
const D_END_M1: &str = "Epoch at which the modifier stops; -1 means it never ends. Must be -1 or \
                        at least start_epoch.";
const D_END_NONE: &str = "Epoch at which the modifier stops; -1 means never. Not compared with \
                          start_epoch at load, and kept at its initial value afterwards.";
const D_PARAMS: &str = "Parameters to act on: __ALL_PRUNABLE__, __ALL__, or a list of exact names \
                        and re: patterns (Python regexes anchored at the start).";
const D_PARAMS_STRICT: &str =
    "Raise an error when an entry of params matches no parameter of the model.";
const D_PARAM_GROUPS: &str =
    "Indices of the optimizer's param groups to change; null changes all of them (PyTorch only).";
const D_CONSTANT_LOGGING: &str =
    "Log the value at every step instead of only when it changes (PyTorch only).";
const D_LR_UPDATE_FREQUENCY: &str = "Must stay -1: the learning rate is updated every step.";

const START_REQ: Field = req("start_epoch", T::Float, D_START);
const START_OPT: Field = opt("start_epoch", T::Float, "-1.0", D_START);
/// Keras / TF print some integer defaults (`-1`).
const START_OPT_KT: Field = opt("start_epoch", T::Float, "-1", D_START);
const END_OPT_M1: Field = opt("end_epoch", T::Float, "-1.0", D_END_M1);
const END_REQ_M1: Field = req("end_epoch", T::Float, D_END_M1);
const END_OPT_NONE: Field = opt("end_epoch", T::Float, "-1.0", D_END_NONE);
const END_OPT_NONE_KT: Field = opt("end_epoch", T::Float, "-1", D_END_NONE);
const PARAMS_REQ: Field = req("params", T::StrOrList, D_PARAMS).with_values(PARAMS_TOKENS);
const PARAMS_STRICT: Field = opt("params_strict", T::Bool, "True", D_PARAMS_STRICT);
const PARAM_GROUPS: Field = opt("param_groups", T::ListInt, "null", D_PARAM_GROUPS);
const CONSTANT_LOGGING: Field = opt("constant_logging", T::Bool, "False", D_CONSTANT_LOGGING);

// Pruning fields.
const D_PRUNE_START: &str = "Epoch at which pruning starts (init_sparsity is applied); -1 means \
                             from the start of training. Must be at least -1.";
const D_PRUNE_END_M1: &str = "Epoch at which final_sparsity is reached. Must be -1 or at least \
                              start_epoch; -1 (never ends) is accepted but a gradual pruner needs \
                              a real end.";
const D_PRUNE_END_0: &str = "Epoch at which pruning ends. Must be at least start_epoch; -1 is not \
                             special here.";
const D_PRUNE_UPDATE: &str = "Epochs between two sparsity updates (fractions allowed); -1 updates \
                              every step. Must be at least -1.";
const D_PRUNE_PARAMS: &str = "Parameters to prune: __ALL_PRUNABLE__, __ALL__, or a list of exact \
                              names and re: patterns; an empty list means __ALL_PRUNABLE__.";
const D_LEAVE_ENABLED: &str =
    "Keep the masks applied after end_epoch so that pruned weights stay zero.";
const D_INTER_FUNC: &str = "How sparsity moves from init_sparsity to final_sparsity: linear, \
                            cubic (fast at first, then slower) or inverse_cubic.";
const D_MASK_TYPE_PT: &str = "Sparsity structure: unstructured, block4 (1x4 blocks), a quoted \
                              \"N:M\" string such as \"2:4\", tensorrt (= 2:4) or a list [a, b] \
                              of block dimensions. Parsed when the manager is initialized.";
const D_GLOBAL_SPARSITY: &str = "Apply the target sparsity across all params together instead of \
                                 to each parameter separately.";
const D_INIT_SPARSITY_GM: &str = "Sparsity applied at start_epoch: a float in [0, 1] (write 0.0, \
                                  not 0), or __FROM_PARAM__ to start from each parameter's \
                                  current sparsity.";
const D_FINAL_SPARSITY_GM: &str = "Sparsity reached at end_epoch: a float in the open interval \
                                   (0, 1), a list of such floats, or a mapping {sparsity: [param \
                                   names]} (then params must be []).";
const D_INIT_SPARSITY: &str = "Sparsity applied at start_epoch (a float).";
const D_UPDATE_INT: &str = "Epochs between two updates; must be integer-valued. -1 updates every \
                            step.";
const D_MOMENTUM_RESET: &str =
    "Reset the optimizer's momentum buffers of the affected weights when the masks change.";
const D_GRAD_SAMPLER: &str =
    "Keyword arguments for the gradient sampler that collects gradients between updates.";

const PRUNE_START_REQ: Field = req("start_epoch", T::Float, D_PRUNE_START);
const PRUNE_END_M1: Field = req("end_epoch", T::Float, D_PRUNE_END_M1);
const PRUNE_END_0: Field = req("end_epoch", T::Float, D_PRUNE_END_0);
const PRUNE_UPDATE: Field = req("update_frequency", T::Float, D_PRUNE_UPDATE);
const PRUNE_PARAMS: Field = req("params", T::StrOrList, D_PRUNE_PARAMS).with_values(PARAMS_TOKENS);
const LEAVE_ENABLED: Field = opt("leave_enabled", T::Bool, "True", D_LEAVE_ENABLED);
const INTER_FUNC_GM: Field =
    opt("inter_func", T::Str, "cubic", D_INTER_FUNC).with_values(INTER_FUNCS);
/// MFAC / OBS check `inter_func` only when interpolation first runs.
const INTER_FUNC_TRAINING: Field = INTER_FUNC_GM.at(CheckStage::Training);
const MASK_TYPE_PT: Field = opt("mask_type", T::MaskType, "unstructured", D_MASK_TYPE_PT)
    .with_values(MASK_TYPES_PYTORCH)
    .at(CheckStage::Initialize);
/// The GM family's validation: a real float in [0, 1], or `__FROM_PARAM__`.
const INIT_SPARSITY_GM: Field = req("init_sparsity", T::FloatOrFromParam, D_INIT_SPARSITY_GM)
    .with_range(UNIT_CLOSED)
    .with_values(FROM_PARAM_VALUES)
    .strict();
/// The GM family's validation: real floats in (0, 1); PyTorch also the dict form.
const FINAL_SPARSITY_GM: Field = req("final_sparsity", T::FloatOrListOrDict, D_FINAL_SPARSITY_GM)
    .with_range(UNIT_OPEN)
    .strict();
const GRAD_SAMPLER_NULL: Field = opt("grad_sampler_kwargs", T::Dict, "null", D_GRAD_SAMPLER);

/// The required fields shared by the PyTorch GM family, in constructor order.
const GM_REQUIRED: [Field; 6] = [
    INIT_SPARSITY_GM,
    FINAL_SPARSITY_GM,
    PRUNE_START_REQ,
    PRUNE_END_M1,
    PRUNE_UPDATE,
    PRUNE_PARAMS,
];

// LR fields.
const D_LR_CLASS: &str = "Learning rate schedule class: StepLR, MultiStepLR, ExponentialLR or \
                          CosineAnnealingWarmRestarts.";
const D_LR_KWARGS: &str = "Arguments of lr_class: StepLR needs gamma and step_size, MultiStepLR \
                           gamma and milestones, ExponentialLR gamma, CosineAnnealingWarmRestarts \
                           lr_min and cycle_epochs (step_size and milestones in epochs).";
const D_INIT_LR: &str = "Learning rate set at start_epoch; 0 < init_lr <= 1 (a string is cast \
                         to float).";
const D_LR_START: &str = "Epoch at which the schedule starts; -1 means from the start of \
                          training. Must be at least -1.";
const D_SET_LR: &str = "Learning rate to set; 0 < learning_rate <= 1 (a string is cast to float).";

const LR_CLASS_F: Field = req("lr_class", T::Str, D_LR_CLASS).with_values(LR_CLASS_NAMES);
const LR_KWARGS_F: Field = req("lr_kwargs", T::Dict, D_LR_KWARGS);
const INIT_LR_F: Field = req("init_lr", T::Float, D_INIT_LR)
    .with_range(LR_RANGE)
    .casts_str();
const LR_START_F: Field = req("start_epoch", T::Float, D_LR_START);
const LR_UPDATE_F: Field =
    opt("update_frequency", T::Float, "-1.0", D_LR_UPDATE_FREQUENCY).fixed("-1.0");
const SET_LR_F: Field = req("learning_rate", T::Float, D_SET_LR)
    .with_range(LR_RANGE)
    .casts_str();

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/// Every registered class except the legacy quantization class
/// ([`LEGACY_QUANTIZATION`]). Each (name, framework) pair appears once.
pub static MODIFIERS: &[ModifierSpec] = &[
    // ---- Shared by PyTorch, Keras and TensorFlow v1 ------------------------------------------
    ModifierSpec {
        name: "EpochRangeModifier",
        frameworks: ALL,
        doc: "Sets the span of the training schedule (start_epoch to end_epoch) without changing \
              anything else; use it to extend the number of epochs a recipe runs.",
        fields: &[START_REQ, END_REQ_M1],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "TrainableParamsModifier",
        frameworks: ALL,
        doc: "Makes the parameters named in params trainable or frozen from start_epoch until \
              end_epoch.",
        fields: &[
            PARAMS_REQ,
            req(
                "trainable",
                T::Bool,
                "True makes the parameters trainable, False freezes them.",
            ),
            PARAMS_STRICT,
            START_OPT,
            END_OPT_M1,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    // ---- PyTorch: training ------------------------------------------------------------------
    ModifierSpec {
        name: "SetLearningRateModifier",
        frameworks: PT,
        doc: "Sets the optimizer's learning rate to a fixed value at start_epoch.",
        // SparseML annotates learning_rate as Union[float, None], but what a null learning rate
        // does is not known, so the catalogue types it as a float.
        fields: &[
            SET_LR_F,
            PARAM_GROUPS,
            START_OPT,
            opt(
                "end_epoch",
                T::Float,
                "-1.0",
                "Ignored: the learning rate stays set; kept at its initial value.",
            )
            .ignored(),
            CONSTANT_LOGGING,
        ],
        end_comparator: EndComparator::None,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "LearningRateModifier",
        frameworks: PT,
        doc: "Applies a learning rate schedule (lr_class with lr_kwargs) from start_epoch, \
              starting at init_lr.",
        fields: &[
            LR_CLASS_F,
            LR_KWARGS_F,
            INIT_LR_F,
            LR_START_F,
            END_OPT_M1,
            LR_UPDATE_F,
            CONSTANT_LOGGING,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "LearningRateFunctionModifier",
        frameworks: PT,
        doc: "Sets the learning rate from a function of the epoch (linear, cosine or \
              cyclic_linear), going from init_lr to final_lr between start_epoch and end_epoch.",
        fields: &[
            req(
                "lr_func",
                T::Str,
                "Shape of the learning rate curve: linear, cosine or cyclic_linear.",
            )
            .with_values(LR_FUNCS),
            req(
                "init_lr",
                T::Float,
                "Learning rate at start_epoch, in [0, 1] (a string is cast to float).",
            )
            .with_range(UNIT_CLOSED)
            .casts_str(),
            req(
                "final_lr",
                T::Float,
                "Learning rate at end_epoch, in [0, 1] (a string is cast to float).",
            )
            .with_range(UNIT_CLOSED)
            .casts_str(),
            req("start_epoch", T::Float, D_LR_START),
            req(
                "end_epoch",
                T::Float,
                "Epoch at which final_lr is reached; must be greater than start_epoch.",
            ),
            // SparseML means to require > 0 for cyclic_linear, but its check compares the wrong
            // variable and never fires: no range here.
            opt(
                "cycle_epochs",
                T::Float,
                "1.0",
                "Length of one cycle in epochs for cyclic_linear; should be positive (SparseML \
                 never checks it).",
            ),
            PARAM_GROUPS,
            LR_UPDATE_F,
        ],
        end_comparator: EndComparator::One,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.5"),
        legacy: false,
    },
    ModifierSpec {
        name: "SetWeightDecayModifier",
        frameworks: PT,
        doc: "Sets the optimizer's weight decay to a fixed value at start_epoch.",
        fields: &[
            req(
                "weight_decay",
                T::Float,
                "Weight decay to set on the optimizer (SparseML checks no range).",
            ),
            START_OPT,
            PARAM_GROUPS,
            opt(
                "end_epoch",
                T::Float,
                "-1.0",
                "Not used: SparseML forces it to -1.",
            )
            .ignored(),
            CONSTANT_LOGGING,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "SetParamModifier",
        frameworks: PT,
        doc: "Sets the parameters named in params to a fixed value at start_epoch.",
        fields: &[
            PARAMS_REQ,
            req(
                "val",
                T::Any,
                "Value to set the parameters to (a number or a nested list matching the shape).",
            ),
            PARAMS_STRICT,
            opt(
                "start_epoch",
                T::Float,
                "0.0",
                "Epoch at which the value is set (0.0 by default). Must be at least -1.",
            ),
            END_OPT_NONE,
        ],
        end_comparator: EndComparator::None,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "GradualParamModifier",
        frameworks: PT,
        doc: "Moves the parameters named in params from init_val to final_val between \
              start_epoch and end_epoch, following inter_func.",
        fields: &[
            PARAMS_REQ,
            req(
                "init_val",
                T::Any,
                "Value of the parameters at start_epoch.",
            ),
            req("final_val", T::Any, "Value of the parameters at end_epoch."),
            START_REQ,
            req(
                "end_epoch",
                T::Float,
                "Epoch at which final_val is reached; must be at least 0 and greater than \
                 start_epoch.",
            ),
            req(
                "update_frequency",
                T::Float,
                "Epochs between two updates; -1 updates every step. Must be at least -1.",
            ),
            // No load-time check is known for this inter_func; the values are the usual three.
            opt(
                "inter_func",
                T::Str,
                "linear",
                "Interpolation from init_val to final_val: linear, cubic or inverse_cubic.",
            )
            .with_values(INTER_FUNCS),
            PARAMS_STRICT,
        ],
        end_comparator: EndComparator::One,
        min_end: 0.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "SparsificationLoggingModifier",
        frameworks: PT,
        doc: "Logs sparsification information at regular intervals during training.",
        fields: &[
            START_REQ,
            END_OPT_M1,
            opt(
                "update_frequency",
                T::Float,
                "1.0",
                "Epochs between two log entries. Must be at least -1.",
            ),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    // ---- PyTorch: pruning -------------------------------------------------------------------
    ModifierSpec {
        name: "GMPruningModifier",
        frameworks: PT,
        doc: "Gradual magnitude pruning: raises the sparsity of params from init_sparsity to \
              final_sparsity between start_epoch and end_epoch, every update_frequency epochs, \
              following inter_func. The modifier Sparsify writes.",
        fields: &[
            GM_REQUIRED[0],
            GM_REQUIRED[1],
            GM_REQUIRED[2],
            GM_REQUIRED[3],
            GM_REQUIRED[4],
            GM_REQUIRED[5],
            LEAVE_ENABLED,
            INTER_FUNC_GM,
            MASK_TYPE_PT,
            opt("global_sparsity", T::Bool, "False", D_GLOBAL_SPARSITY)
                .deprecated("GlobalMagnitudePruningModifier"),
            opt(
                "phased",
                T::Bool,
                "False",
                "Phased pruning; only False is supported (True raises an error).",
            )
            .fixed("False"),
            opt(
                "score_type",
                T::Str,
                "magnitude",
                "How weights are scored; only magnitude is supported (other values raise an \
                 error).",
            )
            .with_values(&["magnitude"])
            .fixed("magnitude"),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "MagnitudePruningModifier",
        frameworks: PT,
        doc: "Gradual magnitude pruning with the GMPruningModifier schedule; each parameter is \
              pruned to the target sparsity on its own.",
        fields: &[
            GM_REQUIRED[0],
            GM_REQUIRED[1],
            GM_REQUIRED[2],
            GM_REQUIRED[3],
            GM_REQUIRED[4],
            GM_REQUIRED[5],
            LEAVE_ENABLED,
            INTER_FUNC_GM,
            MASK_TYPE_PT,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.3"),
        legacy: false,
    },
    ModifierSpec {
        name: "GlobalMagnitudePruningModifier",
        frameworks: PT,
        doc: "Gradual magnitude pruning where the target sparsity applies across all params \
              together, so layers end up with different sparsities.",
        fields: &[
            GM_REQUIRED[0],
            GM_REQUIRED[1],
            GM_REQUIRED[2],
            GM_REQUIRED[3],
            GM_REQUIRED[4],
            GM_REQUIRED[5],
            LEAVE_ENABLED,
            INTER_FUNC_GM,
            MASK_TYPE_PT,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.3"),
        legacy: false,
    },
    // SparseML annotates Movement's init_sparsity as float, but it runs the GM family's
    // validation, which accepts __FROM_PARAM__, so the GM family's type is used.
    ModifierSpec {
        name: "MovementPruningModifier",
        frameworks: PT,
        doc: "Movement pruning: gradual pruning that scores weights by how they move during \
              training (weight times gradient) instead of by magnitude.",
        fields: &[
            GM_REQUIRED[0],
            GM_REQUIRED[1],
            GM_REQUIRED[2],
            GM_REQUIRED[3],
            GM_REQUIRED[4],
            GM_REQUIRED[5],
            LEAVE_ENABLED,
            INTER_FUNC_GM,
            MASK_TYPE_PT,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.4"),
        legacy: false,
    },
    // SparseML annotates both sparsities as float, but Structured takes the GM fields and runs
    // the GM family's validation, so the GM family's types are used (whether the dict form of
    // final_sparsity works together with param_groups is not known).
    ModifierSpec {
        name: "StructuredPruningModifier",
        frameworks: PT,
        doc: "Structured pruning: removes whole filters or channels (mask_type) on a gradual \
              magnitude schedule; param_groups ties parameters that must be pruned together.",
        fields: &[
            INIT_SPARSITY_GM,
            FINAL_SPARSITY_GM,
            PRUNE_START_REQ,
            PRUNE_END_M1,
            PRUNE_UPDATE,
            opt(
                "param_groups",
                T::ListListStr,
                "null",
                "Lists of parameter names whose filters or channels are pruned together (one \
                 shared mask per group); null prunes each parameter on its own.",
            ),
            opt("params", T::StrOrList, "__ALL_PRUNABLE__", D_PRUNE_PARAMS)
                .with_values(PARAMS_TOKENS),
            LEAVE_ENABLED,
            INTER_FUNC_GM,
            opt(
                "mask_type",
                T::Str,
                "filter",
                "Structure removed: filter (output channels, the default) or channel (input \
                 channels).",
            )
            .with_values(MASK_TYPES_STRUCTURED)
            .at(CheckStage::Initialize),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.9"),
        legacy: false,
    },
    ModifierSpec {
        name: "ConstantPruningModifier",
        frameworks: PT,
        doc: "Holds the existing zeros of params fixed (masks them) so training does not regrow \
              them; used for sparse transfer learning.",
        fields: &[
            req(
                "params",
                T::StrOrList,
                "Parameters whose current sparsity is kept: __ALL_PRUNABLE__, __ALL__, or a list \
                 of exact names and re: patterns.",
            )
            .with_values(PARAMS_TOKENS),
            START_OPT,
            END_OPT_M1,
            opt(
                "update_frequency",
                T::Float,
                "-1.0",
                "Ignored: the masks are applied at every step.",
            )
            .ignored(),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "LayerPruningModifier",
        frameworks: PT,
        doc: "Prunes away whole layers: the modules named in layers are removed from start_epoch \
              until end_epoch.",
        fields: &[
            req(
                "layers",
                T::StrOrList,
                "Layers (module names) to remove: a token such as __ALL__, or a list of names \
                 and re: patterns.",
            )
            .with_values(PARAMS_TOKENS),
            START_OPT,
            END_OPT_M1,
            opt(
                "update_frequency",
                T::Float,
                "-1.0",
                "Epochs between two updates; -1 updates every step. Must be at least -1.",
            ),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.5"),
        legacy: false,
    },
    ModifierSpec {
        name: "LayerThinningModifier",
        frameworks: PT,
        doc: "Physically removes pruned filters or channels from the model (structure_type) and \
              shrinks the parameters that depend on them, as listed in \
              param_group_dependency_map.",
        fields: &[
            req(
                "param_group_dependency_map",
                T::DictStrListStr,
                "Maps comma-separated names of parameters thinned together to the names of the \
                 parameters that depend on them and are shrunk to match.",
            ),
            opt(
                "structure_type",
                T::Str,
                "filter",
                "Dimension that is removed: filter or channel.",
            )
            .with_values(STRUCTURE_TYPES),
            START_OPT,
            opt(
                "update_epochs",
                T::ListFloat,
                "null",
                "Epochs at which the model is thinned; the list must be sorted and have no \
                 duplicates.",
            ),
            opt(
                "strict",
                T::Bool,
                "True",
                "Raise an error when a parameter of the map cannot be thinned.",
            ),
            // SparseML prints this default as -1 (not -1.0).
            opt("end_epoch", T::Float, "-1", D_END_M1),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.9"),
        legacy: false,
    },
    // MFAC does not check its sparsities' range, so no range and no strict type on them.
    ModifierSpec {
        name: "MFACPruningModifier",
        frameworks: PT,
        doc: "M-FAC pruning: second-order gradual pruning that ranks and updates weights with an \
              inverse Fisher approximated from num_grads recent gradients.",
        fields: &[
            req("init_sparsity", T::Float, D_INIT_SPARSITY),
            req(
                "final_sparsity",
                T::FloatOrDict,
                "Sparsity reached at end_epoch: a float, or a mapping {sparsity: [param names]} \
                 (then params must be []).",
            ),
            PRUNE_START_REQ,
            PRUNE_END_0,
            PRUNE_UPDATE,
            PRUNE_PARAMS,
            LEAVE_ENABLED,
            INTER_FUNC_TRAINING,
            opt("global_sparsity", T::Bool, "False", D_GLOBAL_SPARSITY),
            opt(
                "use_gradient_buffering",
                T::Bool,
                "null",
                "Whether to keep a buffer of recent gradients; null lets SparseML decide.",
            ),
            opt(
                "num_grads",
                T::IntOrDict,
                "64",
                "Number of gradients used for the Fisher approximation: an int, or a mapping \
                 sparsity -> int that must contain the key 0.0.",
            ),
            opt(
                "damp",
                T::Float,
                "1.0e-05",
                "Dampening added to the Fisher approximation for stability; write 1.0e-5, since \
                 YAML 1.1 reads 1e-5 as a string.",
            ),
            opt(
                "grads_device",
                T::StrOrInt,
                "cpu",
                "Device holding the gradient buffer: a device string such as cpu or cuda:0, or \
                 a GPU index.",
            ),
            opt(
                "fisher_block_size",
                T::Int,
                "2000",
                "Size of the diagonal blocks of the Fisher approximation (an int; smaller uses \
                 less memory).",
            ),
            opt(
                "num_pages",
                T::Int,
                "1",
                "Number of pages the gradient buffer is split into (an int).",
            ),
            opt(
                "available_devices",
                T::ListStr,
                "null",
                "Devices to spread the Fisher computation over; null uses the default device.",
            ),
            MASK_TYPE_PT,
            GRAD_SAMPLER_NULL,
        ],
        end_comparator: EndComparator::Zero,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.4"),
        legacy: false,
    },
    // OBS: no sparsity-range check is known (it takes the GM fields only), so none here.
    ModifierSpec {
        name: "OBSPruningModifier",
        frameworks: PT,
        doc: "Optimal Brain Surgeon pruning (oBERT): second-order gradual pruning that removes \
              weights and updates the rest using a block-diagonal inverse Fisher estimated from \
              num_grads gradients.",
        fields: &[
            req("init_sparsity", T::Float, D_INIT_SPARSITY),
            req(
                "final_sparsity",
                T::Float,
                "Sparsity reached at end_epoch (a float).",
            ),
            PRUNE_START_REQ,
            PRUNE_END_0,
            PRUNE_UPDATE,
            PRUNE_PARAMS,
            LEAVE_ENABLED,
            INTER_FUNC_TRAINING,
            opt("global_sparsity", T::Bool, "True", D_GLOBAL_SPARSITY),
            opt(
                "mask_type",
                T::Str,
                "unstructured",
                "Sparsity structure: unstructured or block4 (1x4 blocks; fisher_block_size must \
                 then be divisible by 4).",
            )
            .with_values(MASK_TYPES_OBS)
            .at(CheckStage::Initialize),
            opt(
                "num_grads",
                T::Int,
                "1024",
                "Number of gradients used to estimate the inverse Fisher at each pruning step \
                 (an int).",
            ),
            opt(
                "damp",
                T::Float,
                "1.0e-07",
                "Dampening added to the Fisher diagonal for stability; SparseML casts it with \
                 float(), so YAML 1.1's string 1e-7 works here (1.0e-7 works everywhere).",
            )
            .casts_str(),
            opt(
                "fisher_block_size",
                T::Int,
                "1",
                "Size of the blocks of the block-diagonal Fisher (an int); must be divisible by 4 \
                 for mask_type block4.",
            ),
            GRAD_SAMPLER_NULL,
            opt(
                "num_recomputations",
                T::Int,
                "1",
                "Number of times the inverse Fisher is recomputed within one pruning step (an \
                 int).",
            ),
        ],
        end_comparator: EndComparator::Zero,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("1.1"),
        legacy: false,
    },
    ModifierSpec {
        name: "ACDCPruningModifier",
        frameworks: PT,
        doc: "AC/DC pruning: alternates compressed phases, where params are pruned to \
              compression_sparsity, with dense phases, switching every update_frequency epochs.",
        fields: &[
            req(
                "compression_sparsity",
                T::Float,
                "Sparsity applied during the compressed phases (a float).",
            ),
            req(
                "start_epoch",
                T::Float,
                "Epoch at which the first phase starts; must be integer-valued and at least -1.",
            )
            .integral(),
            req(
                "end_epoch",
                T::Float,
                "Epoch at which the last phase ends; must be integer-valued and at least \
                 start_epoch.",
            )
            .integral(),
            req("update_frequency", T::Float, D_UPDATE_INT).integral(),
            PRUNE_PARAMS,
            opt("global_sparsity", T::Bool, "True", D_GLOBAL_SPARSITY),
            LEAVE_ENABLED,
            opt("momentum_buffer_reset", T::Bool, "True", D_MOMENTUM_RESET),
            MASK_TYPE_PT,
        ],
        end_comparator: EndComparator::Zero,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.11"),
        legacy: false,
    },
    ModifierSpec {
        name: "RigLPruningModifier",
        frameworks: PT,
        doc: "RigL dynamic sparse training: keeps params at final_sparsity while periodically \
              dropping small weights and regrowing those with large gradients. Accepts extra \
              keys.",
        fields: &[
            req(
                "final_sparsity",
                T::Float,
                "Sparsity kept during training (a float).",
            ),
            PRUNE_START_REQ,
            PRUNE_END_0,
            PRUNE_UPDATE,
            PRUNE_PARAMS,
            opt(
                "num_grads",
                T::Int,
                "1",
                "Number of gradients accumulated to score weights for regrowth (an int).",
            ),
            LEAVE_ENABLED,
            opt("global_sparsity", T::Bool, "False", D_GLOBAL_SPARSITY),
            opt("momentum_buffer_reset", T::Bool, "True", D_MOMENTUM_RESET),
            MASK_TYPE_PT,
            // Only the default is known; no list of accepted strategies.
            opt(
                "sparsity_strategy",
                T::Str,
                "erdos_renyi_kernel",
                "How sparsity is distributed across layers (erdos_renyi_kernel by default).",
            ),
            opt(
                "init_update_fraction",
                T::Float,
                "0.3",
                "Fraction of the weights dropped and regrown at the first update.",
            ),
            opt("grad_sampler_kwargs", T::Dict, "{}", D_GRAD_SAMPLER),
        ],
        end_comparator: EndComparator::Zero,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: true,
        pytorch_since: None,
        legacy: false,
    },
    ModifierSpec {
        name: "TopKASTPruningModifier",
        frameworks: PT,
        doc: "Top-KAST pruning: the forward pass uses the largest weights at forward_sparsity \
              while a larger set, at backward_sparsity, receives gradient updates.",
        fields: &[
            req(
                "forward_sparsity",
                T::Float,
                "Sparsity of the weights used in the forward pass (a float).",
            ),
            req(
                "backward_sparsity",
                T::Float,
                "Sparsity of the weights that receive gradient updates (a float, normally lower \
                 than forward_sparsity).",
            ),
            PRUNE_START_REQ,
            PRUNE_END_0,
            PRUNE_UPDATE,
            PRUNE_PARAMS,
            opt("global_sparsity", T::Bool, "True", D_GLOBAL_SPARSITY),
            LEAVE_ENABLED,
            MASK_TYPE_PT,
            opt(
                "active_weight_decay",
                T::Float,
                "0.0001",
                "Weight decay applied to the active weights.",
            ),
        ],
        end_comparator: EndComparator::Zero,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    ModifierSpec {
        name: "PowerpropagationModifier",
        frameworks: PT,
        doc: "Powerpropagation: reparameterises params with exponent alpha so that small weights \
              shrink further during training, which makes later magnitude pruning easier.",
        fields: &[
            START_REQ,
            END_REQ_M1,
            PARAMS_REQ,
            opt(
                "alpha",
                T::Float,
                "1.0",
                "Powerpropagation exponent; 1.0 leaves the weights unchanged, larger values push \
                 small weights towards zero.",
            ),
            opt(
                "strict",
                T::Bool,
                "True",
                "Raise an error when an entry of params matches no parameter of the model.",
            ),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    // ---- PyTorch: quantization and distillation ----------------------------------------------
    ModifierSpec {
        name: "QuantizationModifier",
        frameworks: PT,
        doc: "Quantization-aware training from start_epoch with the given scheme (SparseML 1.4+ \
              class). A legacy-only key such as submodules selects the legacy class instead.",
        fields: &[
            opt(
                "start_epoch",
                T::Float,
                "-1.0",
                "Epoch at which quantization-aware training starts; -1 means from the start of \
                 training.",
            ),
            opt(
                "scheme",
                T::Scheme,
                "null",
                "Quantization scheme: default, deepsparse, tensorrt, a mapping (input_activations, \
                 weights, output_activations, target_hardware), or null for default.",
            )
            .with_values(QUANTIZATION_SCHEMES),
            opt(
                "scheme_overrides",
                T::SchemeMap,
                "null",
                "Per-module schemes: a mapping from module names or types to a scheme alias or \
                 mapping.",
            ),
            opt(
                "ignore",
                T::ListStr,
                "null",
                "Module names or types to leave unquantized.",
            ),
            opt(
                "disable_quantization_observer_epoch",
                T::Float,
                "null",
                "Epoch at which the quantization observers stop updating; null never. Must be at \
                 least start_epoch.",
            )
            .not_before("start_epoch"),
            opt(
                "freeze_bn_stats_epoch",
                T::Float,
                "null",
                "Epoch at which BatchNorm statistics are frozen; null never. Must be at least \
                 start_epoch.",
            )
            .not_before("start_epoch"),
            opt(
                "model_fuse_fn_name",
                T::Str,
                "null",
                "Name of the model function that fuses modules before quantization; null uses \
                 SparseML's default.",
            ),
            opt(
                "model_fuse_fn_kwargs",
                T::Dict,
                "null",
                "Keyword arguments for the fusion function.",
            ),
            opt(
                "num_calibration_steps",
                T::Int,
                "null",
                "Number of calibration steps (an int), or null.",
            ),
            opt(
                "strict",
                T::Bool,
                "True",
                "Raise an error when an entry of ignore or scheme_overrides matches no module.",
            ),
            opt(
                "end_epoch",
                T::Float,
                "-1.0",
                "Must stay -1: quantization is never removed once applied.",
            )
            .fixed("-1.0"),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("1.4"),
        legacy: false,
    },
    ModifierSpec {
        name: "DistillationModifier",
        frameworks: PT,
        doc: "Knowledge distillation: adds a loss between the model's outputs and a teacher's \
              outputs, weighted by hardness, with softmax temperature.",
        fields: &[
            START_OPT,
            END_OPT_M1,
            opt(
                "distill_output_keys",
                T::List,
                "null",
                "Keys of the model outputs to distill; null uses the output as it is.",
            ),
            opt(
                "teacher_input_keys",
                T::List,
                "null",
                "Keys of the batch passed to the teacher; null passes the same inputs as the \
                 student.",
            ),
            opt(
                "update_frequency",
                T::Float,
                "-1.0",
                "Epochs between two updates; -1 updates every step. Must be at least -1.",
            ),
            opt(
                "hardness",
                T::Float,
                "0.5",
                "Weight of the distillation loss against the original loss (1.0 uses only the \
                 distillation loss).",
            ),
            opt(
                "temperature",
                T::Float,
                "2.0",
                "Softmax temperature applied to teacher and student outputs.",
            ),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.8"),
        legacy: false,
    },
    ModifierSpec {
        name: "PerLayerDistillationModifier",
        frameworks: PT,
        doc: "Per-layer knowledge distillation: adds losses between the features of student and \
              teacher layers, weighted by gain.",
        fields: &[
            opt(
                "gain",
                T::Float,
                "1.5",
                "Weight of the per-layer distillation loss.",
            ),
            START_OPT,
            END_OPT_M1,
            opt(
                "update_frequency",
                T::Float,
                "-1.0",
                "Epochs between two updates; -1 updates every step. Must be at least -1.",
            ),
            opt(
                "normalize",
                T::Bool,
                "True",
                "Normalize the feature differences before computing the loss.",
            ),
            opt(
                "student_layer_names",
                T::ListStr,
                "null",
                "Names of the student layers whose outputs are distilled.",
            ),
            opt(
                "teacher_layer_names",
                T::ListStr,
                "null",
                "Names of the teacher layers matched with student_layer_names.",
            ),
            opt(
                "project_features",
                T::Bool,
                "True",
                "Project student features to the teacher's feature size when they differ.",
            ),
            opt(
                "epsilon",
                T::Float,
                "1.0e-06",
                "Small constant that avoids division by zero; write 1.0e-6, since YAML 1.1 \
                 reads 1e-6 as a string.",
            ),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    // ---- Keras and TensorFlow v1 (identical constructor signatures) --------------------------
    // The learning-rate checks are the same in Keras/TF as in PyTorch; only param_groups and
    // constant_logging are PyTorch-only, so the learning-rate ranges, the lr_class enumeration
    // and the fixed update_frequency are applied to Keras/TF too.
    ModifierSpec {
        name: "SetLearningRateModifier",
        frameworks: KT,
        doc: "Sets the optimizer's learning rate to a fixed value at start_epoch.",
        fields: &[
            SET_LR_F,
            START_OPT_KT,
            opt(
                "end_epoch",
                T::Float,
                "-1",
                "Ignored: the learning rate stays set; kept at its initial value.",
            )
            .ignored(),
        ],
        end_comparator: EndComparator::None,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    ModifierSpec {
        name: "LearningRateModifier",
        frameworks: KT,
        doc: "Applies a learning rate schedule (lr_class with lr_kwargs) from start_epoch, \
              starting at init_lr.",
        fields: &[
            LR_CLASS_F,
            LR_KWARGS_F,
            INIT_LR_F,
            LR_START_F,
            END_OPT_M1,
            LR_UPDATE_F,
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    ModifierSpec {
        name: "ConstantPruningModifier",
        frameworks: KT,
        doc: "Holds the existing zeros of params fixed (masks them) so training does not regrow \
              them; used for sparse transfer learning.",
        fields: &[
            req(
                "params",
                T::StrOrList,
                "Parameters whose current sparsity is kept: __ALL_PRUNABLE__, __ALL__, or a list \
                 of exact names and re: patterns.",
            )
            .with_values(PARAMS_TOKENS),
            START_OPT_KT,
            END_OPT_NONE_KT,
        ],
        end_comparator: EndComparator::None,
        min_end: -1.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
    // The GM family's validation is shared by PyTorch, Keras and TF: init_sparsity accepts
    // __FROM_PARAM__ and final_sparsity a list of floats, although both are annotated as float.
    ModifierSpec {
        name: "GMPruningModifier",
        frameworks: KT,
        doc: "Gradual magnitude pruning: raises the sparsity of params from init_sparsity to \
              final_sparsity between start_epoch and end_epoch, every update_frequency epochs, \
              following inter_func.",
        fields: &[
            PRUNE_PARAMS,
            INIT_SPARSITY_GM,
            req(
                "final_sparsity",
                T::FloatOrList,
                "Sparsity reached at end_epoch: a float in the open interval (0, 1), or a list \
                 of such floats.",
            )
            .with_range(UNIT_OPEN)
            .strict(),
            PRUNE_START_REQ,
            req(
                "end_epoch",
                T::Float,
                "Epoch at which final_sparsity is reached; must be at least 0 and greater than \
                 start_epoch.",
            ),
            PRUNE_UPDATE,
            INTER_FUNC_GM,
            opt(
                "mask_type",
                T::StrOrListInt,
                "unstructured",
                "Sparsity structure: unstructured, channel, filter, or a list of ints giving the \
                 block shape.",
            )
            .with_values(MASK_TYPES_KERAS_TF),
            opt(
                "leave_enabled",
                T::Bool,
                "True",
                "Must be True in Keras and TensorFlow: the masks stay applied after end_epoch.",
            )
            .fixed("True"),
        ],
        end_comparator: EndComparator::One,
        min_end: 0.0,
        is_pruning: true,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    },
];

/// The legacy PyTorch `QuantizationModifier`: the only one before SparseML 1.4, selected
/// when any key of [`legacy_quantization_only_keys`](super::legacy_quantization_only_keys) is present. Its constructor has defaults but
/// no annotations, so the types below follow the defaults and names. "end must be −1" is known
/// only for the current class, so `end_epoch` is not fixed here; its end comparator is −1 and
/// its `min_end` −1, as for PyTorch quantization. No load-time checks are known for the two
/// epoch fields either, so `min_field` is left unset.
pub static LEGACY_QUANTIZATION: ModifierSpec = ModifierSpec {
    name: "QuantizationModifier",
    frameworks: PT,
    doc: "Quantization-aware training, legacy class (before SparseML 1.4): fuses modules and \
          inserts fake-quantization observers from start_epoch. Selected when a legacy-only key \
          such as submodules is present.",
    fields: &[
        opt(
            "start_epoch",
            T::Float,
            "-1.0",
            "Epoch at which quantization-aware training starts; -1 means from the start of \
             training.",
        ),
        opt(
            "submodules",
            T::ListStr,
            "null",
            "Names of the submodules to quantize; null quantizes the whole model.",
        ),
        opt(
            "model_fuse_fn_name",
            T::Str,
            "null",
            "Name of the model function that fuses modules before quantization; null uses \
             SparseML's default.",
        ),
        opt(
            "disable_quantization_observer_epoch",
            T::Float,
            "null",
            "Epoch at which the quantization observers stop updating; null never.",
        ),
        opt(
            "freeze_bn_stats_epoch",
            T::Float,
            "null",
            "Epoch at which BatchNorm statistics are frozen; null never.",
        ),
        opt(
            "end_epoch",
            T::Float,
            "-1.0",
            "Epoch at which the modifier stops; -1 (the default) keeps quantization to the end.",
        ),
        opt(
            "model_fuse_fn_kwargs",
            T::Dict,
            "null",
            "Keyword arguments for the fusion function.",
        ),
        opt(
            "quantize_embeddings",
            T::Bool,
            "True",
            "Quantize embedding layers.",
        ),
        opt(
            "reduce_range",
            T::Bool,
            "False",
            "Use a reduced (7-bit) range for activations, as PyTorch's reduce_range does.",
        ),
        opt(
            "quantize_linear_activations",
            T::Bool,
            "True",
            "Quantize the activations of Linear layers.",
        ),
        opt(
            "quantize_conv_activations",
            T::Bool,
            "True",
            "Quantize the activations of convolution layers.",
        ),
        opt(
            "quantize_embedding_activations",
            T::Bool,
            "True",
            "Quantize the activations of embedding layers.",
        ),
        opt(
            "activation_bits",
            T::Int,
            "8",
            "Number of bits for activation quantization.",
        ),
        opt(
            "weight_bits",
            T::Int,
            "8",
            "Number of bits for weight quantization.",
        ),
        opt(
            "num_calibration_steps",
            T::Int,
            "null",
            "Number of calibration steps (an int), or null.",
        ),
        opt(
            "exclude_batchnorm",
            T::Bool,
            "True",
            "Leave BatchNorm layers unquantized.",
        ),
        opt(
            "exclude_module_types",
            T::ListStr,
            "null",
            "Module types (class names) to leave unquantized.",
        ),
        opt(
            "custom_quantizable_module_types",
            T::ListStr,
            "null",
            "Module types (class names) added to those quantized, such as SiLU.",
        ),
        opt(
            "activation_qconfig_kwargs",
            T::Dict,
            "null",
            "Extra keyword arguments for the activation observers.",
        ),
        opt(
            "weight_qconfig_kwargs",
            T::Dict,
            "null",
            "Extra keyword arguments for the weight observers.",
        ),
        opt(
            "tensorrt",
            T::Bool,
            "False",
            "Use a TensorRT-compatible quantization configuration.",
        ),
    ],
    end_comparator: EndComparator::MinusOne,
    min_end: -1.0,
    is_pruning: false,
    accepts_unknown_fields: false,
    pytorch_since: Some("0.1"),
    legacy: true,
};
