//! What the catalogue is made of: frameworks, field types and their checks, ranges, fields,
//! schedule comparators and modifier classes, with the constructors the table is written with.

use std::fmt;

/// The SparseML framework whose registered classes a recipe is loaded with.
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

    /// The prefix SparseML's tag rewrite adds: `!Name` becomes `!pytorch.Name`.
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

/// The value shapes a field accepts (from the Python annotations of the constructor, widened where a
/// validation rule accepts more). `null` is accepted wherever the default is `null`.
/// A `Float` field accepts ints too unless [`Field::type_check`] is [`TypeCheck::Strict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// A number (int or float).
    Float,
    /// An integer.
    Int,
    Bool,
    Str,
    /// `params` / `layers`: a bare token (`__ALL__`, `__ALL_PRUNABLE__`) or a list of names and
    /// `re:` patterns.
    StrOrList,
    /// A float or a list of floats (Keras / TF `final_sparsity`).
    FloatOrList,
    /// A float, a list of floats or a mapping `{sparsity: [names]}` (PyTorch GM-family
    /// `final_sparsity`).
    FloatOrListOrDict,
    /// A float or a mapping `{sparsity: [names]}` (MFAC `final_sparsity`).
    FloatOrDict,
    /// A float or the string `__FROM_PARAM__` (GM-family `init_sparsity`).
    FloatOrFromParam,
    /// An int or a mapping sparsity → int (MFAC `num_grads`).
    IntOrDict,
    /// A string or an int (MFAC `grads_device`).
    StrOrInt,
    /// PyTorch `mask_type`: one of the strings of [`Field::enum_values`], an `"N:M"`
    /// string (two integers, quoted in YAML) or a list of two ints.
    MaskType,
    /// Keras / TF `mask_type`: one of [`Field::enum_values`] or a list of ints (block).
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
    /// A quantization scheme: an alias of [`QUANTIZATION_SCHEMES`](super::QUANTIZATION_SCHEMES), a scheme mapping
    /// (keys [`SCHEME_KEYS`](super::SCHEME_KEYS)), or null. Inside the mapping the strings `"null"` and `"None"`
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

/// How strictly SparseML checks a field's type (Python does not enforce the annotations unless
/// the class's validation does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeCheck {
    /// Only the annotation: a value of another type is accepted at load and may fail later or be
    /// used as is.
    Annotation,
    /// The Python type is checked at load: an int where a float is required fails (GM-family
    /// sparsities).
    Strict,
    /// `float(value)` is applied, so a string such as YAML 1.1's `1e-3` is accepted (learning
    /// rates).
    CastFromStr,
}

/// When SparseML enforces a field's range, enumeration or fixed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckStage {
    /// During construction in `from_yaml` (where a class's validation runs by default).
    Load,
    /// At `manager.initialize(module)` (PyTorch `mask_type` parsing).
    Initialize,
    /// Only when the value is first used during training (MFAC / OBS `inter_func`).
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

/// `init_sparsity` of the GM family: `[0, 1]`. Also the learning rates of
/// `LearningRateFunctionModifier`.
pub const UNIT_CLOSED: Range = Range::closed(0.0, 1.0);
/// `final_sparsity` of the GM family: the open interval `(0, 1)`.
pub const UNIT_OPEN: Range = Range::open(0.0, 1.0);
/// `learning_rate` / `init_lr`: `0 < lr <= 1`.
pub const LR_RANGE: Range = Range::left_open(0.0, 1.0);

/// `start_epoch` may not be below this anywhere (SparseML's `min_start`).
pub const MIN_START: f64 = -1.0;
/// `update_frequency` may not be below this anywhere (SparseML's `min_frequency`).
pub const MIN_FREQUENCY: f64 = -1.0;

/// One keyword argument of a modifier class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// A constructor argument without default: its absence is a `TypeError`.
    pub required: bool,
    /// The default as SparseML prints it (`-1.0`, `cubic`, `True`), `null` for Python's `None`;
    /// `None` for required fields. Exception: the tiny float defaults are given in the form
    /// YAML 1.1 reads as a float (`1.0e-07`), not Python's `1e-07`, which PyYAML reads back as a
    /// string.
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
    /// The value must be integral even though the type is `Float` (ACDC epochs). Fields
    /// whose type is `Int` / `IntOrDict` / `ListInt` are integral by type.
    pub integer_valued: bool,
    /// When both are numbers, the value must be at least the value of this other field
    /// (quantization epochs >= `start_epoch`).
    pub min_field: Option<&'static str>,
    /// Accepted but ignored or overwritten by SparseML.
    pub ignored: bool,
    /// Deprecated, with what to use instead.
    pub deprecated: Option<&'static str>,
    /// The class lower-cases the string before comparing it with `enum_values` (SparseGPT's
    /// `sparsity_profile: OWL` is `owl`).
    pub lowercased: bool,
}

impl Field {
    /// Whether the value must be integral.
    pub fn must_be_integral(&self) -> bool {
        self.integer_valued
            || matches!(
                self.ty,
                FieldType::Int | FieldType::IntOrDict | FieldType::ListInt
            )
    }

    pub(super) const fn with_range(mut self, range: Range) -> Field {
        self.range = Some(range);
        self
    }

    pub(super) const fn with_values(mut self, values: &'static [&'static str]) -> Field {
        self.enum_values = values;
        self
    }

    pub(super) const fn strict(mut self) -> Field {
        self.type_check = TypeCheck::Strict;
        self
    }

    pub(super) const fn casts_str(mut self) -> Field {
        self.type_check = TypeCheck::CastFromStr;
        self
    }

    pub(super) const fn at(mut self, stage: CheckStage) -> Field {
        self.checked_at = stage;
        self
    }

    pub(super) const fn fixed(mut self, value: &'static str) -> Field {
        self.fixed = Some(value);
        self
    }

    pub(super) const fn integral(mut self) -> Field {
        self.integer_valued = true;
        self
    }

    pub(super) const fn not_before(mut self, field: &'static str) -> Field {
        self.min_field = Some(field);
        self
    }

    pub(super) const fn ignored(mut self) -> Field {
        self.ignored = true;
        self
    }

    pub(super) const fn deprecated(mut self, instead: &'static str) -> Field {
        self.deprecated = Some(instead);
        self
    }

    pub(super) const fn lowercased(mut self) -> Field {
        self.lowercased = true;
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
        lowercased: false,
    }
}

/// A required field.
pub(super) const fn req(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    field(name, ty, None, doc)
}

/// An optional field with its default.
pub(super) const fn opt(
    name: &'static str,
    ty: FieldType,
    default: &'static str,
    doc: &'static str,
) -> Field {
    field(name, ty, Some(default), doc)
}

/// SparseML's `end_comparator` of a class: how `end_epoch` must relate to `start_epoch`.
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
    /// `end_epoch` may not be below this.
    pub min_end: f64,
    /// Masks the weights named in `params` (pruning modifiers, `ConstantPruningModifier`
    /// included; `LayerPruningModifier`, which removes modules named in `layers`, excluded).
    pub is_pruning: bool,
    /// Accepts arbitrary extra keys (`**kwargs`): only `RigLPruningModifier`.
    pub accepts_unknown_fields: bool,
    /// The PyTorch SparseML version that introduced the class, where it is known.
    pub pytorch_since: Option<&'static str>,
    /// The legacy (pre-1.4) PyTorch `QuantizationModifier`.
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
    /// `inter_func` (where prunekit warns on `update_frequency <= 0` or larger than the
    /// range).
    pub fn is_gradual(&self) -> bool {
        self.is_pruning && self.field("inter_func").is_some()
    }

    /// Whether SparseML accepts this schedule: `start >= -1`, `end >= min_end` and the end
    /// comparator.
    pub fn schedule_ok(&self, start: f64, end: f64) -> bool {
        start >= MIN_START && end >= self.min_end && self.end_comparator.allows(start, end)
    }
}
