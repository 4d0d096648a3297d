//! The keys a recipe's top level may hold, and which keys name a modifier group.

/// What a top-level key of a recipe is.
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

/// The top-level keys a validator recognises, in table order.
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

/// Group names to offer in completion (the usual ones); any key containing `modifiers`
/// works.
pub const MODIFIER_GROUP_KEYS: &[&str] = &[
    "modifiers",
    "training_modifiers",
    "pruning_modifiers",
    "quantization_modifiers",
];

/// The `version` value SparseML's serializer writes.
pub const CONVENTIONAL_VERSION: &str = "1.1.0";

/// Whether a top-level (or stage-level) key names a modifier group: Python's
/// `"modifiers" in key`, case-sensitive.
pub fn is_group_key(key: &str) -> bool {
    key.contains("modifiers")
}
