//! Every SparseML modifier class as static data: the field catalogue that the recipe validator,
//! completion, hover and snippets read.
//!
//! The source is `recipes.md` (§3.4 top-level keys, §4 tags and classes, §7 validation, Appendix A
//! constructor signatures). Where the spec is silent, the table says so in a comment instead of
//! inventing a rule.
//!
//! Representation of framework differences: one [`ModifierSpec`] per (class, set of frameworks
//! with the same signature and rules). `EpochRangeModifier` and `TrainableParamsModifier` are
//! identical in PyTorch, Keras and TensorFlow v1 and have one entry for all three; the other four
//! Keras/TF classes have one entry shared by Keras and TF v1 (their Appendix A signatures are the
//! same), next to the PyTorch entry of the same name. [`modifier`] picks the entry whose
//! `frameworks` contains the requested one. The legacy PyTorch `QuantizationModifier` (§7.10) is
//! the separate [`LEGACY_QUANTIZATION`], chosen by [`resolve_modifier`] from the keys present.
//!
//! What the table encodes per field, beyond name / type / required / default:
//! - [`Field::range`]: value ranges SparseML enforces (sparsities, learning rates). Schedule bounds
//!   (`start_epoch >= -1`, `update_frequency >= -1`, `end_epoch >= min_end`, the end comparator)
//!   are not ranges: they are [`MIN_START`], [`MIN_FREQUENCY`], [`ModifierSpec::min_end`] and
//!   [`ModifierSpec::end_comparator`].
//! - [`Field::enum_values`]: accepted string values (for fields that also take numbers, lists or
//!   `"N:M"` strings, the strings completion should offer; see [`FieldType`]).
//! - [`Field::type_check`]: whether SparseML checks the Python type (Appendix A: annotations are
//!   not enforced unless a §7 rule checks them).
//! - [`Field::checked_at`]: when SparseML enforces the field's range / enumeration / fixed value.
//! - [`Field::fixed`], [`Field::integer_valued`], [`Field::min_field`], [`Field::ignored`],
//!   [`Field::deprecated`]: the remaining per-field rules of §7.

use std::fmt;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// The SparseML framework whose registered classes a recipe is loaded with (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framework {
    PyTorch,
    Keras,
    TensorFlow,
}

impl Default for Framework {
    /// SparseML recipes are written for PyTorch unless a setting says otherwise.
    fn default() -> Self {
        Framework::PyTorch
    }
}

impl Framework {
    pub const ALL: [Framework; 3] = [Framework::PyTorch, Framework::Keras, Framework::TensorFlow];

    /// Lower-case name, as used in settings and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Framework::PyTorch => "pytorch",
            Framework::Keras => "keras",
            Framework::TensorFlow => "tensorflow",
        }
    }

    /// The prefix SparseML's tag rewrite adds (§4.2): `!Name` becomes `!pytorch.Name`.
    pub fn tag_prefix(self) -> &'static str {
        match self {
            Framework::PyTorch => "pytorch.",
            Framework::Keras => "keras.",
            Framework::TensorFlow => "tensorflow.",
        }
    }

    /// Parses `pytorch` / `torch`, `keras`, `tensorflow` / `tensorflow_v1` / `tf`
    /// (case-insensitive).
    pub fn from_name(name: &str) -> Option<Framework> {
        match name.to_ascii_lowercase().as_str() {
            "pytorch" | "torch" => Some(Framework::PyTorch),
            "keras" => Some(Framework::Keras),
            "tensorflow" | "tensorflow_v1" | "tf" => Some(Framework::TensorFlow),
            _ => None,
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framework::PyTorch => "PyTorch",
            Framework::Keras => "Keras",
            Framework::TensorFlow => "TensorFlow v1",
        })
    }
}

/// The value shapes a field accepts (from the Python annotations of Appendix A, widened where a §7
/// validation rule accepts more). `null` is accepted wherever the default is `null`.
/// A `Float` field accepts ints too unless [`Field::type_check`] is [`TypeCheck::Strict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A number (int or float).
    Float,
    /// An integer (§7.9).
    Int,
    Bool,
    Str,
    /// `params` / `layers`: a bare token (`__ALL__`, `__ALL_PRUNABLE__`) or a list of names and
    /// `re:` patterns (§8.1).
    StrOrList,
    /// A float or a list of floats (Keras / TF `final_sparsity`, §7.2).
    FloatOrList,
    /// A float, a list of floats or a mapping `{sparsity: [names]}` (PyTorch GM-family
    /// `final_sparsity`, §7.2).
    FloatOrListOrDict,
    /// A float or a mapping `{sparsity: [names]}` (MFAC `final_sparsity`, §7.5).
    FloatOrDict,
    /// A float or the string `__FROM_PARAM__` (GM-family `init_sparsity`, §7.2).
    FloatOrFromParam,
    /// An int or a mapping sparsity → int (MFAC `num_grads`, §7.5).
    IntOrDict,
    /// A string or an int (MFAC `grads_device`).
    StrOrInt,
    /// PyTorch `mask_type` (§7.11): one of the strings of [`Field::enum_values`], an `"N:M"`
    /// string (two integers, quoted in YAML) or a list of two ints.
    MaskType,
    /// Keras / TF `mask_type` (§7.11): one of [`Field::enum_values`] or a list of ints (block).
    StrOrListInt,
    ListInt,
    ListFloat,
    ListStr,
    /// A list of anything (`distill_output_keys`, `teacher_input_keys`).
    List,
    /// A list of lists of names (`StructuredPruningModifier.param_groups`).
    ListListStr,
    Dict,
    /// A mapping from str to a list of str (`LayerThinningModifier.param_group_dependency_map`).
    DictStrListStr,
    /// A quantization scheme (§7.10): an alias of [`QUANTIZATION_SCHEMES`], a scheme mapping
    /// (keys [`SCHEME_KEYS`]), or null. Inside the mapping the strings `"null"` and `"None"`
    /// count as null; as the whole scheme they are unknown aliases.
    Scheme,
    /// A mapping from module names or types to a [`FieldType::Scheme`] each
    /// (`QuantizationModifier.scheme_overrides`).
    SchemeMap,
    /// Anything (`SetParamModifier.val`, `GradualParamModifier.init_val` / `final_val`).
    Any,
}

impl FieldType {
    /// A short description for hover: "float", "list of str", ...
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Int => "int",
            FieldType::Bool => "bool",
            FieldType::Str => "str",
            FieldType::StrOrList => "str token or list of str",
            FieldType::FloatOrList => "float or list of float",
            FieldType::FloatOrListOrDict => "float, list of float, or {float: [str]}",
            FieldType::FloatOrDict => "float or {float: [str]}",
            FieldType::FloatOrFromParam => "float or __FROM_PARAM__",
            FieldType::IntOrDict => "int or {float: int}",
            FieldType::StrOrInt => "str or int",
            FieldType::MaskType => "str, \"N:M\" or [int, int]",
            FieldType::StrOrListInt => "str or list of int",
            FieldType::ListInt => "list of int",
            FieldType::ListFloat => "list of float",
            FieldType::ListStr => "list of str",
            FieldType::List => "list",
            FieldType::ListListStr => "list of list of str",
            FieldType::Dict => "mapping",
            FieldType::DictStrListStr => "{str: [str]}",
            FieldType::Scheme => "scheme alias or mapping",
            FieldType::SchemeMap => "{module or type: scheme}",
            FieldType::Any => "any",
        }
    }
}

/// How strictly SparseML checks a field's type (Appendix A: "Python does not enforce" the
/// annotations unless a §7 rule does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeCheck {
    /// Only the annotation: a value of another type is accepted at load and may fail later or be
    /// used as is.
    Annotation,
    /// The Python type is checked at load: an int where a float is required fails (GM-family
    /// sparsities, §7.2).
    Strict,
    /// `float(value)` is applied, so a string such as YAML 1.1's `1e-3` is accepted (learning
    /// rates, §7.3).
    CastFromStr,
}

/// When SparseML enforces a field's range, enumeration or fixed value (§2.4, §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckStage {
    /// During construction in `from_yaml` (the default for every §7 check, §2.4).
    Load,
    /// At `manager.initialize(module)` (PyTorch `mask_type` parsing, §2.4).
    Initialize,
    /// Only when the value is first used during training (MFAC / OBS `inter_func`, §12).
    Training,
}

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

/// An interval of accepted numeric values; a missing bound is unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: Option<Bound>,
    pub max: Option<Bound>,
}

impl Range {
    /// `[min, max]`.
    pub const fn closed(min: f64, max: f64) -> Range {
        Range {
            min: Some(Bound {
                value: min,
                inclusive: true,
            }),
            max: Some(Bound {
                value: max,
                inclusive: true,
            }),
        }
    }

    /// `(min, max)`.
    pub const fn open(min: f64, max: f64) -> Range {
        Range {
            min: Some(Bound {
                value: min,
                inclusive: false,
            }),
            max: Some(Bound {
                value: max,
                inclusive: false,
            }),
        }
    }

    /// `(min, max]`.
    pub const fn left_open(min: f64, max: f64) -> Range {
        Range {
            min: Some(Bound {
                value: min,
                inclusive: false,
            }),
            max: Some(Bound {
                value: max,
                inclusive: true,
            }),
        }
    }

    pub fn contains(&self, v: f64) -> bool {
        let above = match self.min {
            None => true,
            Some(b) if b.inclusive => v >= b.value,
            Some(b) => v > b.value,
        };
        let below = match self.max {
            None => true,
            Some(b) if b.inclusive => v <= b.value,
            Some(b) => v < b.value,
        };
        above && below && !v.is_nan()
    }
}

impl fmt::Display for Range {
    /// Interval notation: `[0, 1]`, `(0, 1)`, `(0, 1]`, `[-1, inf)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.min {
            Some(b) => write!(f, "{}{}", if b.inclusive { '[' } else { '(' }, b.value)?,
            None => f.write_str("(-inf")?,
        }
        match self.max {
            Some(b) => write!(f, ", {}{}", b.value, if b.inclusive { ']' } else { ')' }),
            None => f.write_str(", inf)"),
        }
    }
}

/// `init_sparsity` of the GM family (§7.2): `[0, 1]`. Also the learning rates of
/// `LearningRateFunctionModifier` (§7.3).
pub const UNIT_CLOSED: Range = Range::closed(0.0, 1.0);
/// `final_sparsity` of the GM family (§7.2): the open interval `(0, 1)`.
pub const UNIT_OPEN: Range = Range::open(0.0, 1.0);
/// `learning_rate` / `init_lr` (§7.3): `0 < lr <= 1`.
pub const LR_RANGE: Range = Range::left_open(0.0, 1.0);

/// `start_epoch` may not be below this anywhere (§7.1, `min_start`).
pub const MIN_START: f64 = -1.0;
/// `update_frequency` may not be below this anywhere (§7.1, `min_frequency`).
pub const MIN_FREQUENCY: f64 = -1.0;

/// One keyword argument of a modifier class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// A constructor argument without default: its absence is a `TypeError` (§4.1).
    pub required: bool,
    /// The default as SparseML prints it (`-1.0`, `cubic`, `True`), `null` for Python's `None`;
    /// `None` for required fields. Exception: the tiny float defaults are given in the form
    /// YAML 1.1 reads as a float (`1.0e-07`), not Python's `1e-07`, which PyYAML reads back as a
    /// string (§6, §11).
    pub default: Option<&'static str>,
    /// One or two sentences for hover: what the field does, valid values.
    pub doc: &'static str,
    /// The range SparseML enforces on the value (on each element of a list / each key of the
    /// dict form for sparsities).
    pub range: Option<Range>,
    /// Accepted strings (closed set for `Str` fields; for wider types the strings to offer).
    pub enum_values: &'static [&'static str],
    pub type_check: TypeCheck,
    /// When SparseML enforces `range`, `enum_values` and `fixed`.
    pub checked_at: CheckStage,
    /// The only value SparseML accepts, as YAML would print it (`True`, `-1.0`, `magnitude`).
    pub fixed: Option<&'static str>,
    /// The value must be integral even though the type is `Float` (ACDC epochs, §7.9). Fields
    /// whose type is `Int` / `IntOrDict` / `ListInt` are integral by type.
    pub integer_valued: bool,
    /// When both are numbers, the value must be at least the value of this other field
    /// (quantization epochs >= `start_epoch`, §7.10).
    pub min_field: Option<&'static str>,
    /// Accepted but ignored or overwritten by SparseML.
    pub ignored: bool,
    /// Deprecated, with what to use instead.
    pub deprecated: Option<&'static str>,
}

impl Field {
    /// Whether the value must be integral (§7.9).
    pub fn must_be_integral(&self) -> bool {
        self.integer_valued
            || matches!(
                self.ty,
                FieldType::Int | FieldType::IntOrDict | FieldType::ListInt
            )
    }

    const fn with_range(mut self, range: Range) -> Field {
        self.range = Some(range);
        self
    }

    const fn with_values(mut self, values: &'static [&'static str]) -> Field {
        self.enum_values = values;
        self
    }

    const fn strict(mut self) -> Field {
        self.type_check = TypeCheck::Strict;
        self
    }

    const fn casts_str(mut self) -> Field {
        self.type_check = TypeCheck::CastFromStr;
        self
    }

    const fn at(mut self, stage: CheckStage) -> Field {
        self.checked_at = stage;
        self
    }

    const fn fixed(mut self, value: &'static str) -> Field {
        self.fixed = Some(value);
        self
    }

    const fn integral(mut self) -> Field {
        self.integer_valued = true;
        self
    }

    const fn not_before(mut self, field: &'static str) -> Field {
        self.min_field = Some(field);
        self
    }

    const fn ignored(mut self) -> Field {
        self.ignored = true;
        self
    }

    const fn deprecated(mut self, instead: &'static str) -> Field {
        self.deprecated = Some(instead);
        self
    }
}

const fn field(
    name: &'static str,
    ty: FieldType,
    default: Option<&'static str>,
    doc: &'static str,
) -> Field {
    Field {
        name,
        ty,
        required: default.is_none(),
        default,
        doc,
        range: None,
        enum_values: &[],
        type_check: TypeCheck::Annotation,
        checked_at: CheckStage::Load,
        fixed: None,
        integer_valued: false,
        min_field: None,
        ignored: false,
        deprecated: None,
    }
}

/// A required field.
const fn req(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    field(name, ty, None, doc)
}

/// An optional field with its default.
const fn opt(name: &'static str, ty: FieldType, default: &'static str, doc: &'static str) -> Field {
    field(name, ty, Some(default), doc)
}

/// The `end_comparator` of §7.1: how `end_epoch` must relate to `start_epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndComparator {
    /// No constraint at load; the end is frozen at its initial value afterwards.
    None,
    /// `end == -1` or `end >= start`.
    MinusOne,
    /// `end >= start` (−1 is not special).
    Zero,
    /// `end > start`.
    One,
}

impl EndComparator {
    /// Whether SparseML accepts this (start, end) pair under this comparator (`min_end` aside).
    pub fn allows(self, start: f64, end: f64) -> bool {
        match self {
            EndComparator::None => true,
            EndComparator::MinusOne => end == -1.0 || end >= start,
            EndComparator::Zero => end >= start,
            EndComparator::One => end > start,
        }
    }

    /// The rule in words, for diagnostics and hover.
    pub fn describe(self) -> &'static str {
        match self {
            EndComparator::None => "end_epoch is not compared with start_epoch",
            EndComparator::MinusOne => {
                "end_epoch must be -1 or greater than or equal to start_epoch"
            }
            EndComparator::Zero => {
                "end_epoch must be greater than or equal to start_epoch (-1 is not special)"
            }
            EndComparator::One => "end_epoch must be greater than start_epoch",
        }
    }
}

/// One registered modifier class in one or more frameworks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModifierSpec {
    /// The class name, as written after `!` (`GMPruningModifier`).
    pub name: &'static str,
    pub frameworks: &'static [Framework],
    /// What the modifier does, for hover.
    pub doc: &'static str,
    /// Constructor arguments in constructor order (required ones mostly first).
    pub fields: &'static [Field],
    pub end_comparator: EndComparator,
    /// `end_epoch` may not be below this (§7.1).
    pub min_end: f64,
    /// Masks the weights named in `params` (pruning modifiers, `ConstantPruningModifier`
    /// included; `LayerPruningModifier`, which removes modules named in `layers`, excluded).
    pub is_pruning: bool,
    /// Accepts arbitrary extra keys (`**kwargs`): only `RigLPruningModifier`.
    pub accepts_unknown_fields: bool,
    /// The PyTorch SparseML version that introduced the class (§4.3), where the spec gives it.
    pub pytorch_since: Option<&'static str>,
    /// The legacy (pre-1.4) PyTorch `QuantizationModifier` (§7.10).
    pub legacy: bool,
}

impl ModifierSpec {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_names(&self) -> impl Iterator<Item = &'static str> + use<> {
        self.fields.iter().map(|f| f.name)
    }

    pub fn required_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.required)
    }

    pub fn supports(&self, framework: Framework) -> bool {
        self.frameworks.contains(&framework)
    }

    /// A gradual pruner: moves sparsity from `init_sparsity` to `final_sparsity` along
    /// `inter_func` (where §7.1 suggests warning on `update_frequency <= 0` or larger than the
    /// range).
    pub fn is_gradual(&self) -> bool {
        self.is_pruning && self.field("inter_func").is_some()
    }

    /// Whether SparseML accepts this schedule: `start >= -1`, `end >= min_end` and the end
    /// comparator (§7.1).
    pub fn schedule_ok(&self, start: f64, end: f64) -> bool {
        start >= MIN_START && end >= self.min_end && self.end_comparator.allows(start, end)
    }
}

// ---------------------------------------------------------------------------------------------
// Enumerations (§7.8, §7.10, §7.11, §8.1)
// ---------------------------------------------------------------------------------------------

/// `inter_func` values (§7.8).
pub const INTER_FUNCS: &[&str] = &["linear", "cubic", "inverse_cubic"];

/// `inter_func` applied to `x = (epoch - start) / (end - start)` in [0, 1]: the fraction of the
/// way from the initial to the final value (§7.8). `None` for an unknown name.
pub fn inter_func_value(name: &str, x: f64) -> Option<f64> {
    let x = x.clamp(0.0, 1.0);
    match name {
        "linear" => Some(x),
        "cubic" => Some(1.0 - (1.0 - x).powi(3)),
        "inverse_cubic" => Some(1.0 - (1.0 - x).powf(1.0 / 3.0)),
        _ => None,
    }
}

/// An `lr_class` of `LearningRateModifier` and the `lr_kwargs` it needs (§7.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrClass {
    pub name: &'static str,
    pub required_kwargs: &'static [&'static str],
    pub doc: &'static str,
}

/// `lr_class` names (§7.8).
pub const LR_CLASS_NAMES: &[&str] = &[
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingWarmRestarts",
];

/// `lr_class` values with their required `lr_kwargs` (§7.8). The spec lists only the required
/// kwargs; optional ones are not catalogued.
pub const LR_CLASSES: &[LrClass] = &[
    LrClass {
        name: "StepLR",
        required_kwargs: &["gamma", "step_size"],
        doc: "Multiplies the learning rate by gamma every step_size epochs.",
    },
    LrClass {
        name: "MultiStepLR",
        required_kwargs: &["gamma", "milestones"],
        doc: "Multiplies the learning rate by gamma at each epoch of milestones; milestones must \
              lie strictly between start_epoch and end_epoch.",
    },
    LrClass {
        name: "ExponentialLR",
        required_kwargs: &["gamma"],
        doc: "Multiplies the learning rate by gamma every epoch (rewritten to StepLR with \
              step_size 1.0).",
    },
    LrClass {
        name: "CosineAnnealingWarmRestarts",
        required_kwargs: &["lr_min", "cycle_epochs"],
        doc: "Cosine annealing down to lr_min, restarting every cycle_epochs epochs (mapped to \
              eta_min and T_0).",
    },
];

pub fn lr_class(name: &str) -> Option<&'static LrClass> {
    LR_CLASSES.iter().find(|c| c.name == name)
}

/// `lr_func` values of `LearningRateFunctionModifier` (§7.8).
pub const LR_FUNCS: &[&str] = &["linear", "cosine", "cyclic_linear"];

/// The fixed strings of PyTorch's `mask_type` (§7.11); `"N:M"` strings and `[a, b]` lists are
/// accepted too ([`FieldType::MaskType`]).
pub const MASK_TYPES_PYTORCH: &[&str] = &["unstructured", "block4", "tensorrt"];
/// Suggested `"N:M"` value for completion (the only one named in the spec, §7.11).
pub const MASK_TYPE_N_M_EXAMPLE: &str = "2:4";
/// `StructuredPruningModifier.mask_type` (§7.11).
pub const MASK_TYPES_STRUCTURED: &[&str] = &["filter", "channel"];
/// `OBSPruningModifier.mask_type` (§7.11).
pub const MASK_TYPES_OBS: &[&str] = &["unstructured", "block4"];
/// Keras / TF `mask_type` strings (§7.11); a block list of ints is accepted too.
pub const MASK_TYPES_KERAS_TF: &[&str] = &["unstructured", "channel", "filter"];
/// `LayerThinningModifier.structure_type` (§7.4).
pub const STRUCTURE_TYPES: &[&str] = &["filter", "channel"];

/// Bare-string tokens of `params` (§8.1; upper case inside lists).
pub const PARAMS_TOKENS: &[&str] = &["__ALL__", "__ALL_PRUNABLE__"];
/// `init_sparsity: __FROM_PARAM__` starts from the parameter's current sparsity (§7.2).
pub const FROM_PARAM: &str = "__FROM_PARAM__";
const FROM_PARAM_VALUES: &[&str] = &[FROM_PARAM];

/// String aliases of the current `QuantizationModifier.scheme` (§7.10).
pub const QUANTIZATION_SCHEMES: &[&str] = &["default", "deepsparse", "tensorrt"];
/// Keys of a scheme mapping (§7.10).
pub const SCHEME_KEYS: &[&str] = &[
    "input_activations",
    "weights",
    "output_activations",
    "target_hardware",
];
/// Keys of one quantization-args mapping inside a scheme (§7.10).
pub const SCHEME_ARGS_KEYS: &[&str] = &["num_bits", "symmetric", "strategy", "kwargs"];
/// `strategy` values inside quantization args (§7.10).
pub const QUANTIZATION_STRATEGIES: &[&str] = &["tensor", "channel"];
/// The `num_bits` PyTorch's fake quantization can hold: its observers store int8 / uint8 values
/// (§7.10; SparseML reads 0 as 8).
pub const QUANTIZATION_BITS: Range = Range::closed(1.0, 8.0);
/// Strings pydantic (v1, which SparseML's scheme classes use) reads as booleans, lower case.
pub const PYDANTIC_BOOL_STRINGS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "1", "0",
];

/// Keys every class drops silently since SparseML 0.12 (§4.1, §7.7).
pub const SILENTLY_DROPPED_FIELDS: &[&str] = &["log_types"];

/// Classes that exist in SparseML's code but cannot be used in a recipe (§4.1, §4.3).
pub const UNREGISTERED: &[(&str, Framework, &str)] = &[
    (
        "ASRegModifier",
        Framework::PyTorch,
        "exists in the PyTorch code but is not registered, so it cannot appear in a recipe",
    ),
    (
        "GroupLearningRateModifier",
        Framework::TensorFlow,
        "is internal to TensorFlow v1 (not a recipe class)",
    ),
];

// ---------------------------------------------------------------------------------------------
// Top-level keys (§3.2–3.4)
// ---------------------------------------------------------------------------------------------

/// What a top-level key of a recipe is (§3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopLevelKind {
    /// A key containing `modifiers` with a list value.
    ModifierGroup,
    /// A mapping value that has a key containing `modifiers` (SparseML >= 0.11).
    Stage,
    Metadata,
    Version,
    Variable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopLevelKey {
    /// The literal key, or a `<placeholder>` for a class of keys.
    pub key: &'static str,
    pub kind: TopLevelKind,
    pub doc: &'static str,
}

/// The top-level keys a validator recognises (§3.4), in table order.
pub const TOP_LEVEL_KEYS: &[TopLevelKey] = &[
    TopLevelKey {
        key: "modifiers",
        kind: TopLevelKind::ModifierGroup,
        doc: "A modifier group: any top-level key whose name contains `modifiers` and whose value \
              is a list of `!Class` modifiers. All groups are concatenated.",
    },
    TopLevelKey {
        key: "<stage>",
        kind: TopLevelKind::Stage,
        doc: "A stage (SparseML >= 0.11): a mapping with its own `*modifiers*` groups, variables \
              and `__metadata__`. Do not mix stages with top-level groups.",
    },
    TopLevelKey {
        key: "__metadata__",
        kind: TopLevelKind::Metadata,
        doc: "Free-form metadata; in a staged recipe either every stage has metadata or none.",
    },
    TopLevelKey {
        key: "version",
        kind: TopLevelKind::Version,
        doc: "Conventional recipe version (`1.1.0` as SparseML writes it); never checked.",
    },
    TopLevelKey {
        key: "<variable>",
        kind: TopLevelKind::Variable,
        doc: "A variable: a number, bool, string, list, mapping, null or `eval(...)` string, \
              usable in modifiers through `eval(name)`.",
    },
];

/// Group names to offer in completion (the examples of §3.2); any key containing `modifiers`
/// works.
pub const MODIFIER_GROUP_KEYS: &[&str] = &[
    "modifiers",
    "training_modifiers",
    "pruning_modifiers",
    "quantization_modifiers",
];

/// The `version` value SparseML's serializer writes (§1, §11).
pub const CONVENTIONAL_VERSION: &str = "1.1.0";

/// Whether a top-level (or stage-level) key names a modifier group: Python's
/// `"modifiers" in key`, case-sensitive (§3.2).
pub fn is_group_key(key: &str) -> bool {
    key.contains("modifiers")
}

// ---------------------------------------------------------------------------------------------
// Shared field definitions
// ---------------------------------------------------------------------------------------------

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
/// Keras / TF print some integer defaults (`-1`, Appendix A).
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
/// MFAC / OBS check `inter_func` only when interpolation first runs (§7.5, §12).
const INTER_FUNC_TRAINING: Field = INTER_FUNC_GM.at(CheckStage::Training);
const MASK_TYPE_PT: Field = opt("mask_type", T::MaskType, "unstructured", D_MASK_TYPE_PT)
    .with_values(MASK_TYPES_PYTORCH)
    .at(CheckStage::Initialize);
/// §7.2 validation: a real float in [0, 1], or `__FROM_PARAM__`.
const INIT_SPARSITY_GM: Field = req("init_sparsity", T::FloatOrFromParam, D_INIT_SPARSITY_GM)
    .with_range(UNIT_CLOSED)
    .with_values(FROM_PARAM_VALUES)
    .strict();
/// §7.2 validation: real floats in (0, 1); PyTorch also the dict form.
const FINAL_SPARSITY_GM: Field = req("final_sparsity", T::FloatOrListOrDict, D_FINAL_SPARSITY_GM)
    .with_range(UNIT_OPEN)
    .strict();
const GRAD_SAMPLER_NULL: Field = opt("grad_sampler_kwargs", T::Dict, "null", D_GRAD_SAMPLER);

/// The required fields shared by the PyTorch GM family (§7.4), in constructor order.
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

/// Every registered class (Appendix A) except the legacy quantization class
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
        // Appendix A annotates learning_rate as Union[float, None]; the spec does not say what a
        // null learning rate does, so the catalogue types it as a float.
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
            // "meant to be > 0 for cyclic_linear, but the check compares the wrong variable and
            // never fires" (§7.3): no range here.
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
            // The spec lists no load-time check for this inter_func; the values are §7.8's.
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
    // Appendix A annotates Movement's init_sparsity as float; §7.4 says it shares the §7.2
    // validation, which accepts __FROM_PARAM__, so the §7.2 type is used.
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
    // Appendix A annotates both sparsities as float; §7.4 gives Structured "GM fields" and the
    // §7.2 validation, so the §7.2 types are used (the spec does not say whether the dict form of
    // final_sparsity works together with param_groups).
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
            // Appendix A prints this default as -1 (not -1.0).
            opt("end_epoch", T::Float, "-1", D_END_M1),
        ],
        end_comparator: EndComparator::MinusOne,
        min_end: -1.0,
        is_pruning: false,
        accepts_unknown_fields: false,
        pytorch_since: Some("0.9"),
        legacy: false,
    },
    // MFAC: "no sparsity-range check" (§7.5), so no range and no strict type on the sparsities.
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
    // OBS: the spec gives no sparsity-range check (it lists "GM fields" only), so none here.
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
                "Dampening added to the Fisher diagonal for stability; write 1.0e-7, since YAML \
                 1.1 reads 1e-7 as a string.",
            ),
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
            // The spec names only the default; no list of accepted strategies.
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
    // ---- Keras and TensorFlow v1 (identical signatures, Appendix A) --------------------------
    // §7.3 gives the LR checks under "PyTorch; Keras/TF noted" and marks only param_groups and
    // constant_logging as PyTorch-only, so the learning-rate ranges, the lr_class enumeration and
    // the fixed update_frequency are applied to Keras/TF too.
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
    // §7.2 is "shared by PyTorch, Keras and TF": init_sparsity accepts __FROM_PARAM__ and
    // final_sparsity a list of floats, although Appendix A annotates both as float.
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

/// The legacy PyTorch `QuantizationModifier` (§7.10): the only one before SparseML 1.4, selected
/// when any key of [`legacy_quantization_only_keys`] is present. The spec gives defaults but no
/// annotations for it, so the types below follow the defaults and names. The spec states "end
/// must be −1" only for the current class, so `end_epoch` is not fixed here; ec/min_end are the
/// §7.1 row "Quantization (PyTorch)". It does not state load-time checks for the two epoch
/// fields either, so `min_field` is left unset.
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

// ---------------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------------

/// The class registered under `name` (exact, case-sensitive, as the tag) in `framework`. For
/// `QuantizationModifier` this is the current class; use [`resolve_modifier`] to apply the
/// legacy swap.
pub fn modifier(name: &str, framework: Framework) -> Option<&'static ModifierSpec> {
    MODIFIERS
        .iter()
        .find(|m| m.name == name && m.supports(framework))
}

/// The classes registered in `framework`, in table order (the legacy quantization class is not
/// listed: it shares its name with the current one).
pub fn modifiers(framework: Framework) -> impl Iterator<Item = &'static ModifierSpec> {
    MODIFIERS.iter().filter(move |m| m.supports(framework))
}

/// Names of the classes registered in `framework` (for completion and did-you-mean).
pub fn modifier_names(framework: Framework) -> impl Iterator<Item = &'static str> {
    modifiers(framework).map(|m| m.name)
}

/// Whether `key` exists only on the legacy quantization class (§7.10).
pub fn is_legacy_quantization_key(key: &str) -> bool {
    LEGACY_QUANTIZATION.field(key).is_some()
        && modifier("QuantizationModifier", Framework::PyTorch)
            .is_some_and(|current| current.field(key).is_none())
}

/// The keys present only on the legacy quantization class (§7.10): `submodules`,
/// `quantize_embeddings`, `activation_bits`, ...
pub fn legacy_quantization_only_keys() -> impl Iterator<Item = &'static str> {
    LEGACY_QUANTIZATION
        .field_names()
        .filter(|k| is_legacy_quantization_key(k))
}

/// [`modifier`] with the `QuantizationModifier` swap of §4.1 / §7.10: in PyTorch, the legacy
/// class when any of `keys` is legacy-only.
pub fn resolve_modifier<'k>(
    name: &str,
    framework: Framework,
    keys: impl IntoIterator<Item = &'k str>,
) -> Option<&'static ModifierSpec> {
    let spec = modifier(name, framework)?;
    if name == "QuantizationModifier"
        && framework == Framework::PyTorch
        && keys.into_iter().any(is_legacy_quantization_key)
    {
        return Some(&LEGACY_QUANTIZATION);
    }
    Some(spec)
}

/// A class under whichever framework registers it (PyTorch first): for docs and completion,
/// where a recipe's framework does not change what a field means.
pub fn modifier_in_any(name: &str) -> Option<&'static ModifierSpec> {
    Framework::ALL.iter().find_map(|fw| modifier(name, *fw))
}

/// [`modifier_in_any`] with the legacy `QuantizationModifier` swap for a modifier with `keys`.
pub fn resolve_in_any<'k>(
    name: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> Option<&'static ModifierSpec> {
    let spec = modifier_in_any(name)?;
    if spec.supports(Framework::PyTorch) {
        return resolve_modifier(name, Framework::PyTorch, keys);
    }
    Some(spec)
}

/// The frameworks that register `name` (for "only available in PyTorch" diagnostics).
pub fn frameworks_of(name: &str) -> impl Iterator<Item = Framework> + use<'_> {
    Framework::ALL
        .into_iter()
        .filter(move |fw| modifier(name, *fw).is_some())
}

/// Up to `n` candidates nearest to `name` by edit distance (case-insensitive), nearest first;
/// ties keep the candidates' order. Unlike [`did_you_mean`] there is no limit: for messages
/// that list the names that exist.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<&'a str> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let mut scored: Vec<(usize, &'a str)> = candidates
        .into_iter()
        .map(|c| {
            let lower: Vec<char> = c.to_lowercase().chars().collect();
            (edit_distance(&name, &lower), c)
        })
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(n).map(|(_, c)| c).collect()
}

/// The closest candidate to `name` by edit distance (optimal string alignment, case-insensitive),
/// or `None` when nothing is close enough: at most one edit per three characters of `name` (at
/// least one). A case-only difference counts as distance 0; ties go to the first candidate.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let limit = name.len().max(3) / 3;
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate.to_lowercase().chars().collect();
        // Cheap reject: the length difference is a lower bound on the distance.
        if name.len().abs_diff(lower.len()) > limit {
            continue;
        }
        let d = edit_distance(&name, &lower);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
/// adjacent characters, each costing one.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    // Three rows: i-2, i-1, i.
    let mut rows = vec![0usize; 3 * w];
    for (j, cell) in rows[..w].iter_mut().enumerate() {
        *cell = j;
    }
    // rows are addressed modulo 3 so that row i-2 is available for transpositions.
    for i in 1..=a.len() {
        let cur = (i % 3) * w;
        let prev = ((i - 1) % 3) * w;
        let prev2 = ((i + 1) % 3) * w;
        rows[cur] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev + j] + 1)
                .min(rows[cur + j - 1] + 1)
                .min(rows[prev + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[prev2 + j - 2] + 1);
            }
            rows[cur + j] = d;
        }
    }
    rows[(a.len() % 3) * w + b.len()]
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Appendix A, PyTorch table (+ §4.3).
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

    /// Appendix A, Keras and TF v1 tables (§4.3).
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
                // Required exactly when there is no default (Appendix A).
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
                // exponent without a dot and a sign (§6).
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
    fn catalog_end_comparators_match_section_7_1() {
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
        assert_eq!(only.len(), 13);
        assert_eq!(LEGACY_QUANTIZATION.fields.len(), 20);

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
        assert_eq!(edit_distance(&['a', 'b'], &['b', 'a']), 1);
        assert_eq!(edit_distance(&[], &['a', 'b']), 2);
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
}
