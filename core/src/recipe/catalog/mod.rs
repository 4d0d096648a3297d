//! Every SparseML modifier class as static data: the field catalogue that the recipe validator,
//! completion, hover and snippets read.
//!
//! The source is SparseML itself: the classes each framework registers, their constructor
//! signatures (the exact keys a recipe may use, with their annotations and defaults) and the
//! validation each class runs. Where SparseML's behaviour is not known, the table says so in a
//! comment instead of inventing a rule.
//!
//! Representation of framework differences: one [`ModifierSpec`] per (class, set of frameworks
//! with the same signature and rules). `EpochRangeModifier` and `TrainableParamsModifier` are
//! identical in PyTorch, Keras and TensorFlow v1 and have one entry for all three; the other four
//! Keras/TF classes have one entry shared by Keras and TF v1 (their constructor signatures are
//! the same), next to the PyTorch entry of the same name. [`modifier`] picks the entry whose
//! `frameworks` contains the requested one. The legacy PyTorch `QuantizationModifier` is
//! the separate [`LEGACY_QUANTIZATION`], chosen by [`resolve_modifier`] from the keys present.
//!
//! What the table encodes per field, beyond name / type / required / default:
//! - [`Field::range`]: value ranges SparseML enforces (sparsities, learning rates). Schedule bounds
//!   (`start_epoch >= -1`, `update_frequency >= -1`, `end_epoch >= min_end`, the end comparator)
//!   are not ranges: they are [`MIN_START`], [`MIN_FREQUENCY`], [`ModifierSpec::min_end`] and
//!   [`ModifierSpec::end_comparator`].
//! - [`Field::enum_values`]: accepted string values (for fields that also take numbers, lists or
//!   `"N:M"` strings, the strings completion should offer; see [`FieldType`]).
//! - [`Field::type_check`]: whether SparseML checks the Python type (Python does not enforce the
//!   annotations; only some classes' validation checks them).
//! - [`Field::checked_at`]: when SparseML enforces the field's range / enumeration / fixed value.
//! - [`Field::fixed`](field@Field::fixed), [`Field::integer_valued`], [`Field::min_field`], [`Field::ignored`](field@Field::ignored),
//!   [`Field::deprecated`](field@Field::deprecated): the remaining per-field rules of the classes' validation.
//!
//! The parts: `types` (what a class, a field and their rules are), `table` (every class as data),
//! `values` (the accepted strings of enumerated fields), `top_level` (the keys a recipe's top
//! level may hold). This file owns the lookups by name and framework.

mod staged;
mod staged_table;
mod table;
#[cfg(test)]
mod tests;
mod top_level;
mod types;
mod values;

pub use staged::*;
pub use table::{LEGACY_QUANTIZATION, MODIFIERS};
pub use top_level::*;
pub use types::*;
pub use values::*;

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

/// Whether `key` exists only on the legacy quantization class.
pub fn is_legacy_quantization_key(key: &str) -> bool {
    LEGACY_QUANTIZATION.field(key).is_some()
        && modifier("QuantizationModifier", Framework::PyTorch)
            .is_some_and(|current| current.field(key).is_none())
}

/// The keys present only on the legacy quantization class: `submodules`,
/// `quantize_embeddings`, `activation_bits`, ...
pub fn legacy_quantization_only_keys() -> impl Iterator<Item = &'static str> {
    LEGACY_QUANTIZATION
        .field_names()
        .filter(|k| is_legacy_quantization_key(k))
}

/// [`modifier`] with SparseML's `QuantizationModifier` swap: in PyTorch, the legacy class when
/// any of `keys` is legacy-only.
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
