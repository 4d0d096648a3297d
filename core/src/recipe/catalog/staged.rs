//! The staged recipe format's modifier classes: `<name>_stage: {<group>_modifiers: {ClassName:
//! {args}}}`, loaded by SparseML 1.7's `sparseml.core` recipes (its transformers one-shot and
//! fine-tune flows) and by llm-compressor. Both build each class by name with keyword arguments
//! from a registry of pydantic models, so a class's fields are its pydantic fields.
//!
//! The two tools differ, and the catalogue keeps both: one [`StagedClass`] per class name, whose
//! [`ModifierSpec`] holds every field either tool accepts, with [`StagedClass::tools`] saying
//! which tools register the class and [`StagedClass::only`] which fields one tool alone accepts.
//! llm-compressor's modifiers forbid extra fields (pydantic `extra="forbid"`), so a field it
//! lacks fails there; SparseML 1.7's modifiers ignore extra fields, so a field it lacks is
//! dropped silently. The data is in `staged_table`.

use std::fmt;

use super::types::ModifierSpec;

pub use super::staged_table::{
    ACTIVATION_ORDERINGS, EARLIER_SPARSEML_FIELDS, OBSERVER_KEYS, PRESET_SCHEMES, QUANT_ARGS_KEYS,
    QUANT_SCHEME_KEYS, QUANT_STRATEGIES, QUANT_TYPES, STAGE_KEYS, STAGED_MODIFIERS,
};

/// A tool that loads staged recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    LlmCompressor,
    SparseMl17,
}

impl Tool {
    pub const ALL: [Tool; 2] = [Tool::LlmCompressor, Tool::SparseMl17];

    /// The other tool.
    pub fn other(self) -> Tool {
        match self {
            Tool::LlmCompressor => Tool::SparseMl17,
            Tool::SparseMl17 => Tool::LlmCompressor,
        }
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tool::LlmCompressor => "llm-compressor",
            Tool::SparseMl17 => "SparseML 1.7",
        })
    }
}

/// One class of the staged format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StagedClass {
    /// Every field either tool accepts; `required` where every tool that has the class
    /// requires it.
    pub spec: ModifierSpec,
    /// The tools that register the class.
    pub tools: &'static [Tool],
    /// Fields only one tool accepts, with that tool.
    pub only: &'static [(&'static str, Tool)],
    /// Fields one tool requires and the other does not, with the tool that requires them.
    pub required_by: &'static [(&'static str, Tool)],
    /// A quantization modifier (llm-compressor's `QuantizationMixin`): what an `AWQModifier`
    /// needs after it.
    pub quantizes: bool,
}

impl StagedClass {
    pub fn name(&self) -> &'static str {
        self.spec.name
    }

    pub fn has(&self, tool: Tool) -> bool {
        self.tools.contains(&tool)
    }

    /// The tools that accept `field` on this class.
    pub fn field_tools(&self, field: &str) -> Vec<Tool> {
        if self.spec.field(field).is_none() {
            return Vec::new();
        }
        match self.only.iter().find(|(name, _)| *name == field) {
            Some((_, tool)) => vec![*tool],
            None => self.tools.to_vec(),
        }
    }
}

/// The staged class named `name` (exact, as written in the recipe).
pub fn staged_modifier(name: &str) -> Option<&'static StagedClass> {
    STAGED_MODIFIERS.iter().find(|m| m.spec.name == name)
}

/// A field `class` had in an earlier SparseML release, with the field that replaced it.
pub fn earlier_sparseml_field(class: &str, field: &str) -> Option<Option<&'static str>> {
    EARLIER_SPARSEML_FIELDS
        .iter()
        .find(|(c, f, _)| *c == class && *f == field)
        .map(|(_, _, replacement)| *replacement)
}

/// Names of every staged class (for completion and did-you-mean).
pub fn staged_modifier_names() -> impl Iterator<Item = &'static str> {
    STAGED_MODIFIERS.iter().map(|m| m.spec.name)
}

/// Whether `key` names a stage as both loaders read it: it ends in `_stage`.
pub fn is_stage_key(key: &str) -> bool {
    key.ends_with("_stage")
}

/// Whether `key` inside a stage names a modifier group as both loaders read it: it ends in
/// `_modifiers`.
pub fn is_staged_group_key(key: &str) -> bool {
    key.ends_with("_modifiers")
}

/// Whether `name` is one of compressed-tensors' preset schemes (case-insensitive, as
/// `is_preset_scheme` compares).
pub fn is_preset_scheme(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    PRESET_SCHEMES.contains(&upper.as_str())
}
