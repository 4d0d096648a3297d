//! The staged format's classes as data: the pydantic fields of llm-compressor's modifiers (its
//! `src/llmcompressor/modifiers`) and of SparseML 1.7's `sparseml.modifiers`, with their types,
//! defaults and what their validators accept. Only data: the types are in `staged` and `types`.

use super::staged::{StagedClass, Tool};
use super::types::*;

use FieldType as T;
use Tool::{LlmCompressor as L, SparseMl17 as S};

const BOTH: &[Tool] = &[L, S];
const LLMC: &[Tool] = &[L];
const SML: &[Tool] = &[S];

const fn class(
    name: &'static str,
    doc: &'static str,
    fields: &'static [Field],
    is_pruning: bool,
) -> ModifierSpec {
    ModifierSpec {
        name,
        frameworks: &[Framework::PyTorch],
        doc,
        fields,
        end_comparator: EndComparator::None,
        min_end: f64::NEG_INFINITY,
        is_pruning,
        accepts_unknown_fields: false,
        pytorch_since: None,
        legacy: false,
    }
}

/// The stage keys SparseML 1.7's `RecipeStage` reads besides its `*_modifiers` groups
/// (llm-compressor reads none of them).
pub const STAGE_KEYS: &[(&str, &str)] = &[
    (
        "run_type",
        "SparseML 1.7: `oneshot` or `train`, how the stage runs (inferred from the modifiers when absent). llm-compressor ignores it.",
    ),
    (
        "args",
        "SparseML 1.7: the stage's own recipe arguments for `eval()`. llm-compressor ignores it.",
    ),
    (
        "enabled",
        "SparseML 1.7: false skips the stage. llm-compressor ignores it.",
    ),
    (
        "exclude_default",
        "SparseML 1.7: leave the default modifiers out of this stage. llm-compressor ignores it.",
    ),
];

/// Fields of earlier SparseML releases' staged classes that SparseML 1.7 no longer has (and so
/// drops without a word): class, field, and the field that replaced it.
pub const EARLIER_SPARSEML_FIELDS: &[(&str, &str, Option<&str>)] = &[
    ("SparseGPTModifier", "percdamp", Some("dampening_frac")),
    ("SparseGPTModifier", "target_ids", None),
    ("GPTQModifier", "percdamp", Some("dampening_frac")),
    ("GPTQModifier", "target_ids", None),
];

/// compressed-tensors' preset schemes (`PRESET_SCHEMES`), upper case.
pub const PRESET_SCHEMES: &[&str] = &[
    "UNQUANTIZED",
    "W8A16",
    "W4A16",
    "W4A16_ASYM",
    "W8A8",
    "INT8",
    "W4A8",
    "W4AFP8",
    "FP8",
    "FP8_DYNAMIC",
    "FP8_BLOCK",
    "NVFP4A16",
    "NVFP4",
    "MXFP4A16",
    "MXFP4",
    "MXFP8A16",
    "MXFP8",
];

/// The keys of a `QuantizationScheme` (a `config_groups` entry).
pub const QUANT_SCHEME_KEYS: &[&str] = &[
    "targets",
    "weights",
    "input_activations",
    "output_activations",
    "format",
];

/// The keys of compressed-tensors' `QuantizationArgs` (`weights`, `kv_cache_scheme`, ...).
pub const QUANT_ARGS_KEYS: &[&str] = &[
    "num_bits",
    "type",
    "symmetric",
    "group_size",
    "strategy",
    "block_structure",
    "dynamic",
    "actorder",
    "scale_dtype",
    "zp_dtype",
    "observer",
    "observer_kwargs",
];

/// `QuantizationArgs.type`.
pub const QUANT_TYPES: &[&str] = &["int", "float"];

/// `QuantizationArgs.strategy`.
pub const QUANT_STRATEGIES: &[&str] = &[
    "tensor",
    "channel",
    "group",
    "block",
    "token",
    "tensor_group",
    "attn_head",
];

/// `ActivationOrdering` (GPTQ's `actorder`).
pub const ACTIVATION_ORDERINGS: &[&str] = &["group", "weight", "static", "dynamic"];

/// The keys of llm-compressor's `observer` mapping.
pub const OBSERVER_KEYS: &[&str] = &["weights", "input", "output"];

const SCHEDULERS: &[&str] = &[
    "linear",
    "cubic",
    "polynomial_decay",
    "polynomial",
    "multi_step",
];
const SPARSITY_PROFILES: &[&str] = &["owl"];
const TRANSFORM_TYPES: &[&str] = &["hadamard", "random-hadamard", "random-matrix"];
const SMOOTHQUANT_ALGORITHMS: &[&str] = &["smoothquant", "log_equalization"];

// Every modifier's base fields (both tools' `Modifier`).
const INDEX: Field = opt(
    "index",
    T::Int,
    "null",
    "The modifier's position in its stage (set by the loader).",
);
const GROUP: Field = opt(
    "group",
    T::Str,
    "null",
    "The modifier's group; the loader sets it from the `<group>_modifiers` key it is listed under.",
);
const START: Field = opt(
    "start",
    T::Float,
    "null",
    "Epoch (training) at which the modifier starts; unset or -1 for one-shot.",
)
.casts_str();
const END: Field = opt(
    "end",
    T::Float,
    "null",
    "Epoch (training) at which the modifier ends; unset or -1 for one-shot.",
)
.casts_str();
const UPDATE: Field = opt(
    "update",
    T::Float,
    "null",
    "Epochs between updates during training.",
)
.casts_str();

// Layer selection.
const TARGETS_REQ: Field = req(
    "targets",
    T::StrOrList,
    "Modules to act on: a module name, a class name such as `Linear`, or `re:` patterns (Python regexes matched from the start of the name); a string or a list.",
);
const TARGETS_LINEAR: Field = opt(
    "targets",
    T::StrOrList,
    "['Linear']",
    "Modules to act on: class names such as `Linear`, module names, or `re:` patterns (matched from the start of the name); a string or a list.",
);
const IGNORE: Field = opt(
    "ignore",
    T::ListStr,
    "[]",
    "Modules to leave alone even when `targets` selects them: module names, class names or `re:` patterns.",
);

// Sparsity (SparseGPT, Wanda).
const SPARSITY: Field = opt(
    "sparsity",
    T::FloatOrList,
    "0.0",
    "Fraction of each targeted layer's weights to prune, in [0, 1], or one value per target layer. llm-compressor requires it; SparseML 1.7 defaults to 0.0 (prunes nothing).",
)
.with_range(Range::closed(0.0, 1.0))
.casts_str();
const SPARSITY_PROFILE: Field = opt(
    "sparsity_profile",
    T::Str,
    "null",
    "`owl` spreads sparsity across layers by their outliers (Outlier Weighed Layerwise; any case); needs `owl_m` and `owl_lmbda` too.",
)
.with_values(SPARSITY_PROFILES)
.lowercased();
const OWL_M: Field = opt(
    "owl_m",
    T::Int,
    "null",
    "OWL: the outlier threshold (times the mean); with sparsity_profile: owl.",
);
const OWL_LMBDA: Field = opt(
    "owl_lmbda",
    T::Float,
    "null",
    "OWL: how far a layer's sparsity may move from the target; with sparsity_profile: owl.",
)
.casts_str();
const MASK_N_M: Field = opt(
    "mask_structure",
    T::Str,
    "0:0",
    "Sparsity structure as a quoted \"N:M\" string: \"2:4\" keeps 2 of every 4 weights, \"0:0\" is unstructured.",
);
const SEQUENTIAL_UPDATE: Field = opt(
    "sequential_update",
    T::Bool,
    "False",
    "Prune layer after layer from the already-pruned outputs. llm-compressor always does and warns that False is no longer supported.",
);
const BLOCK_SIZE: Field = opt(
    "block_size",
    T::Int,
    "128",
    "Columns solved in one pass of the Hessian update.",
);
const DAMPENING_FRAC: Field = opt(
    "dampening_frac",
    T::Float,
    "0.01",
    "Dampening added to the Hessian's diagonal, as a fraction of its mean (0.01 is 1%).",
)
.casts_str();
const PRESERVE_MASK: Field = opt(
    "preserve_sparsity_mask",
    T::Bool,
    "False",
    "Keep the zeros of an earlier pruning step when pruning further.",
);
const OFFLOAD_HESSIANS: Field = opt(
    "offload_hessians",
    T::Bool,
    "False",
    "Keep the Hessians on the CPU between uses to save GPU memory.",
);

// Quantization (llm-compressor's QuantizationMixin; SparseML 1.7's QuantizationModifier).
const CONFIG_GROUPS: Field = opt(
    "config_groups",
    T::Dict,
    "null",
    "Quantization schemes by group name: each with `targets` and `weights` / `input_activations` / `output_activations` (num_bits, type, symmetric, strategy, group_size, dynamic, ...). SparseML 1.7's QuantizationModifier requires it.",
);
const SCHEME: Field = opt(
    "scheme",
    T::Any,
    "null",
    "A preset scheme for `targets` (W4A16, W8A8, FP8_DYNAMIC, NVFP4, ...) or a mapping {preset: targets}; not with config_groups.",
);
const KV_CACHE_SCHEME: Field = opt(
    "kv_cache_scheme",
    T::Dict,
    "null",
    "Quantization arguments for the key/value cache (num_bits, type, strategy, dynamic, symmetric).",
);
const WEIGHT_OBSERVER: Field = opt(
    "weight_observer",
    T::Str,
    "null",
    "Observer for weights (minmax, mse, static_minmax, memoryless_minmax, memoryless_mse), over the scheme's.",
);
const INPUT_OBSERVER: Field = opt(
    "input_observer",
    T::Str,
    "null",
    "Observer for input activations, over the scheme's.",
);
const OUTPUT_OBSERVER: Field = opt(
    "output_observer",
    T::Str,
    "null",
    "Observer for output activations, over the scheme's.",
);
const OBSERVER: Field = opt(
    "observer",
    T::Dict,
    "null",
    "Observers by kind: {weights: ..., input: ..., output: ...}; wins over the single observer fields.",
);
const BYPASS_DIVISIBILITY: Field = opt(
    "bypass_divisibility_checks",
    T::Bool,
    "False",
    "Skip the check that weight columns divide by group_size.",
);
const DISABLE_OBSERVER_EPOCH: Field = opt(
    "disable_quantization_observer_epoch",
    T::Float,
    "null",
    "Epoch after which quantization observers stop updating (training).",
)
.casts_str();
const NUM_CALIBRATION_STEPS: Field = opt(
    "num_calibration_steps",
    T::Int,
    "null",
    "Calibration batches to run; null runs the whole calibration set.",
);

/// The quantization fields llm-compressor's `QuantizationMixin` adds and SparseML 1.7 lacks.
const MIXIN_ONLY: [(&str, Tool); 7] = [
    ("scheme", L),
    ("kv_cache_scheme", L),
    ("weight_observer", L),
    ("input_observer", L),
    ("output_observer", L),
    ("observer", L),
    ("bypass_divisibility_checks", L),
];

// SmoothQuant.
const SMOOTHING_STRENGTH: Field = opt(
    "smoothing_strength",
    T::Float,
    "0.5",
    "How much of the activations' range moves into the weights (alpha, usually 0.5 to 0.9).",
)
.casts_str();
const MAPPINGS: Field = opt(
    "mappings",
    T::List,
    "null",
    "Pairs [[balance layers], smooth layer] as names or `re:` patterns; null uses the architecture's defaults.",
);
const SQ_IGNORE: Field = opt(
    "ignore",
    T::ListStr,
    "null",
    "Layers to leave out of smoothing.",
);
const CALIBRATION_FUNCTION: Field = opt(
    "calibration_function",
    T::Any,
    "null",
    "A Python callable for the forward pass (not settable from YAML).",
);
const ALGORITHM: Field = opt(
    "algorithm",
    T::Str,
    "smoothquant",
    "smoothquant or log_equalization.",
)
.with_values(SMOOTHQUANT_ALGORITHMS);

// Transforms (QuIP, SpinQuant).
const TRANSFORM_TYPE: Field = opt(
    "transform_type",
    T::Str,
    "hadamard",
    "hadamard, random-hadamard or random-matrix.",
)
.with_values(TRANSFORM_TYPES);
const RANDOMIZE: Field = opt("randomize", T::Bool, "False", "Randomize the transform.");
const LEARNABLE: Field = opt(
    "learnable",
    T::Bool,
    "False",
    "Make the transform trainable.",
);
const PRECISION: Field = opt(
    "precision",
    T::Str,
    "float64",
    "Torch dtype the transforms are computed in.",
);
const TRANSFORM_BLOCK_SIZE: Field = opt(
    "transform_block_size",
    T::Int,
    "null",
    "Block size of block-diagonal transforms; null for the full size.",
);

macro_rules! fields {
    ($($f:expr),* $(,)?) => {
        &[INDEX, GROUP, START, END, UPDATE, $($f),*]
    };
}

pub static STAGED_MODIFIERS: &[StagedClass] = &[
    StagedClass {
        spec: class(
            "SparseGPTModifier",
            "One-shot pruning with SparseGPT: each targeted layer is pruned to `sparsity` from calibration inputs, the kept weights updated to make up for the pruned ones (OBS, through the layer's Hessian).",
            fields![
                SPARSITY,
                SPARSITY_PROFILE,
                OWL_M,
                OWL_LMBDA,
                MASK_N_M,
                SEQUENTIAL_UPDATE,
                TARGETS_LINEAR,
                IGNORE,
                BLOCK_SIZE,
                DAMPENING_FRAC,
                PRESERVE_MASK,
                OFFLOAD_HESSIANS,
            ],
            true,
        ),
        tools: BOTH,
        only: &[("ignore", L), ("offload_hessians", L)],
        required_by: &[("sparsity", L)],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "WandaPruningModifier",
            "One-shot pruning with Wanda: weights scored by |weight| times the norm of their input activations on calibration data, pruned per output row without a weight update.",
            fields![
                SPARSITY,
                SPARSITY_PROFILE,
                OWL_M,
                OWL_LMBDA,
                MASK_N_M,
                SEQUENTIAL_UPDATE,
                TARGETS_LINEAR,
                IGNORE,
            ],
            true,
        ),
        tools: BOTH,
        only: &[("ignore", L)],
        required_by: &[("sparsity", L)],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "MagnitudePruningModifier",
            "Gradual magnitude pruning during training: sparsity moves from init_sparsity to final_sparsity between start and end along update_scheduler.",
            fields![
                TARGETS_REQ,
                req("init_sparsity", T::Float, "Sparsity at `start`, in [0, 1].")
                    .with_range(Range::closed(0.0, 1.0))
                    .casts_str(),
                req("final_sparsity", T::Float, "Sparsity reached at `end`, in [0, 1].")
                    .with_range(Range::closed(0.0, 1.0))
                    .casts_str(),
                opt("update_scheduler", T::Str, "cubic", "How sparsity moves from init to final: linear, cubic, polynomial_decay, polynomial or multi_step.")
                    .with_values(SCHEDULERS),
                opt("scheduler_args", T::Dict, "{}", "Arguments of the scheduler (e.g. `exponent` for polynomial)."),
                opt("mask_structure", T::Str, "unstructured", "unstructured, channel, filter, block_<n> or a quoted \"N:M\" string."),
                opt("leave_enabled", T::Bool, "True", "Keep the masks after `end`. llm-compressor deprecates it and always sets it to False (its default); SparseML 1.7 defaults to True."),
                opt("apply_globally", T::Bool, "False", "Rank weights across all targets together instead of per layer."),
            ],
            true,
        ),
        tools: BOTH,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "ConstantPruningModifier",
            "Keeps the zeros of already-sparse layers at zero during training (masks from the current weights).",
            fields![TARGETS_REQ],
            true,
        ),
        tools: BOTH,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "GPTQModifier",
            "One-shot weight quantization with GPTQ: each targeted layer's weights quantized column block by column block from calibration inputs, the rest updated to make up for the rounding error.",
            fields![
                CONFIG_GROUPS,
                TARGETS_LINEAR,
                IGNORE,
                SCHEME,
                KV_CACHE_SCHEME,
                WEIGHT_OBSERVER,
                INPUT_OBSERVER,
                OUTPUT_OBSERVER,
                OBSERVER,
                BYPASS_DIVISIBILITY,
                BLOCK_SIZE,
                DAMPENING_FRAC,
                opt("actorder", T::Str, "static", "Activation ordering: group, weight, static or dynamic (columns in order of their Hessian diagonal); null for none.")
                    .with_values(ACTIVATION_ORDERINGS),
                OFFLOAD_HESSIANS,
                SEQUENTIAL_UPDATE,
                opt("quantize", T::Any, "True", "SparseML 1.7: True uses (or builds) a quantization modifier; or a mapping with one QuantizationModifier."),
                DISABLE_OBSERVER_EPOCH,
                NUM_CALIBRATION_STEPS,
            ],
            false,
        ),
        tools: BOTH,
        only: &[
            MIXIN_ONLY[0],
            MIXIN_ONLY[1],
            MIXIN_ONLY[2],
            MIXIN_ONLY[3],
            MIXIN_ONLY[4],
            MIXIN_ONLY[5],
            MIXIN_ONLY[6],
            ("actorder", L),
            ("offload_hessians", L),
            ("sequential_update", S),
            ("quantize", S),
            ("disable_quantization_observer_epoch", S),
            ("num_calibration_steps", S),
        ],
        required_by: &[],
        quantizes: true,
    },
    StagedClass {
        spec: class(
            "QuantizationModifier",
            "Quantization by calibration (one-shot) or quantization-aware training: schemes from `scheme` or `config_groups` applied to the targeted modules.",
            fields![
                CONFIG_GROUPS,
                TARGETS_LINEAR,
                IGNORE,
                SCHEME,
                KV_CACHE_SCHEME,
                WEIGHT_OBSERVER,
                INPUT_OBSERVER,
                OUTPUT_OBSERVER,
                OBSERVER,
                BYPASS_DIVISIBILITY,
                DISABLE_OBSERVER_EPOCH,
                NUM_CALIBRATION_STEPS,
            ],
            false,
        ),
        tools: BOTH,
        only: &[
            ("targets", L),
            MIXIN_ONLY[0],
            MIXIN_ONLY[1],
            MIXIN_ONLY[2],
            MIXIN_ONLY[3],
            MIXIN_ONLY[4],
            MIXIN_ONLY[5],
            MIXIN_ONLY[6],
            ("disable_quantization_observer_epoch", S),
            ("num_calibration_steps", S),
        ],
        // SparseML 1.7.0 loads a QuantizationModifier without config_groups (1.8 requires it).
        required_by: &[],
        quantizes: true,
    },
    StagedClass {
        spec: class(
            "SmoothQuantModifier",
            "SmoothQuant: moves the activations' outliers into the following layers' weights (one-shot, before quantization).",
            fields![
                SMOOTHING_STRENGTH,
                MAPPINGS,
                SQ_IGNORE,
                NUM_CALIBRATION_STEPS,
                CALIBRATION_FUNCTION,
                ALGORITHM,
            ],
            false,
        ),
        tools: BOTH,
        only: &[("algorithm", L)],
        required_by: &[("mappings", S)],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "LogarithmicEqualizationModifier",
            "SmoothQuant with logarithmic activation scales. Deprecated in llm-compressor: use SmoothQuantModifier with algorithm: log_equalization.",
            fields![
                SMOOTHING_STRENGTH,
                MAPPINGS,
                SQ_IGNORE,
                NUM_CALIBRATION_STEPS,
                CALIBRATION_FUNCTION,
                ALGORITHM,
            ],
            false,
        ),
        tools: BOTH,
        only: &[("algorithm", L)],
        required_by: &[("mappings", S)],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "AWQModifier",
            "Activation-aware weight scaling (AWQ): searches per-channel scales that protect the weights with large activations; a quantization modifier must follow it in the recipe.",
            fields![
                MAPPINGS,
                opt("offload_device", T::Str, "null", "Device to offload cached activations to."),
                opt("duo_scaling", T::Any, "True", "Scale by activations and weights (True), activations only (False), or try both (\"both\")."),
                opt("n_grid", T::Int, "20", "Grid points searched for the scaling ratio."),
            ],
            false,
        ),
        tools: LLMC,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "AutoRoundModifier",
            "AutoRound: quantization whose rounding and clipping are tuned by signed gradient descent on calibration data.",
            fields![
                CONFIG_GROUPS,
                TARGETS_LINEAR,
                IGNORE,
                SCHEME,
                KV_CACHE_SCHEME,
                WEIGHT_OBSERVER,
                INPUT_OBSERVER,
                OUTPUT_OBSERVER,
                OBSERVER,
                BYPASS_DIVISIBILITY,
                opt("iters", T::Int, "200", "Tuning iterations per block."),
                opt("enable_torch_compile", T::Bool, "True", "Compile the tuning loop with torch.compile."),
                opt("batch_size", T::Int, "8", "Calibration batch size during tuning."),
                opt("lr", T::Float, "null", "Learning rate; null for AutoRound's default.").casts_str(),
                opt("device_ids", T::Str, "null", "Devices to spread layers over, e.g. \"0,1\" or \"auto\"."),
                opt("disable_opt_rtn", T::Bool, "False", "Disable the optimized round-to-nearest start."),
            ],
            false,
        ),
        tools: LLMC,
        only: &[],
        required_by: &[],
        quantizes: true,
    },
    StagedClass {
        spec: class(
            "QuIPModifier",
            "QuIP-style rotations: Hadamard or random transforms applied around the targeted layers before quantization.",
            fields![
                opt("rotations", T::ListStr, "['v']", "Which rotations: v (input side), u (output side)."),
                TRANSFORM_TYPE,
                opt("targets", T::StrOrList, "Linear", "Layers to rotate."),
                RANDOMIZE,
                LEARNABLE,
                PRECISION,
                TRANSFORM_BLOCK_SIZE,
                opt("ignore", T::StrOrList, "lm_head", "Layers to leave alone."),
            ],
            false,
        ),
        tools: LLMC,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "SpinQuantModifier",
            "SpinQuant rotations (R1 to R4) applied to the model before quantization.",
            fields![
                opt("rotations", T::ListStr, "['R1', 'R2']", "Which rotations: R1, R2, R3, R4."),
                TRANSFORM_TYPE,
                RANDOMIZE,
                LEARNABLE,
                PRECISION,
                TRANSFORM_BLOCK_SIZE,
                opt("mappings", T::Dict, "null", "The architecture's layer mapping; null infers it."),
                opt("norm_mappings", T::List, "null", "Norm layers and the layers they feed; null infers them."),
            ],
            false,
        ),
        tools: LLMC,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "REAPPruningModifier",
            "REAP: prunes whole experts of mixture-of-experts layers by their router-weighted activation saliency.",
            fields![
                req("sparsity", T::Float, "Fraction of experts to remove, in the open interval (0, 1).")
                    .with_range(Range::open(0.0, 1.0))
                    .casts_str(),
                IGNORE,
                opt("report_path", T::Str, "null", "Where to write the saliency report."),
            ],
            true,
        ),
        tools: LLMC,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "OutputDistillationModifier",
            "Knowledge distillation on layer outputs: the student's targeted outputs are pulled toward the teacher's during training.",
            fields![
                TARGETS_REQ,
                opt("projection", T::Str, "null", "Projection applied to the student's output before comparing."),
                opt("projection_args", T::Dict, "null", "Arguments of the projection."),
                opt("transforms", T::StrOrList, "identity", "Transforms applied to both outputs (identity, softmax, ...)."),
                opt("transforms_args", T::Any, "null", "Arguments of the transforms."),
                opt("comparison", T::Str, "kl_divergence", "How outputs are compared: kl_divergence, square_head, ..."),
                opt("comparison_args", T::Dict, "null", "Arguments of the comparison."),
                opt("orig_scale", T::Float, "1.0", "Weight of the original loss.").casts_str(),
                opt("distill_scale", T::Float, "1.0", "Weight of the distillation loss.").casts_str(),
                opt("offload_layer_output", T::Bool, "False", "Keep the compared outputs on the CPU."),
            ],
            false,
        ),
        tools: SML,
        only: &[],
        required_by: &[],
        quantizes: false,
    },
    StagedClass {
        spec: class(
            "LegacyQuantizationModifier",
            "SparseML's earlier fake-quantization modifier (torch.quantization), for QAT and one-shot calibration.",
            fields![
                opt("scheme", T::Scheme, "null", "The default quantization scheme."),
                opt("scheme_overrides", T::SchemeMap, "null", "Schemes by module name or type."),
                opt("ignore", T::ListStr, "null", "Module names or types to leave float."),
                DISABLE_OBSERVER_EPOCH,
                opt("freeze_bn_stats_epoch", T::Float, "null", "Epoch after which BatchNorm statistics stop updating.").casts_str(),
                opt("model_fuse_fn_name", T::Str, "null", "Fusing function to run first (conv_bn_relus, no_fuse)."),
                opt("model_fuse_fn_kwargs", T::Dict, "null", "Arguments of the fusing function."),
                NUM_CALIBRATION_STEPS,
                opt("post_oneshot_calibration", T::Bool, "False", "Calibrate again after one-shot."),
                opt("strict", T::Bool, "True", "Raise when a name in ignore or scheme_overrides matches no module."),
            ],
            false,
        ),
        tools: SML,
        only: &[],
        required_by: &[],
        quantizes: true,
    },
];
