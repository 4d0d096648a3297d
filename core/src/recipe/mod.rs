//! SparseML recipes: the document model with source spans, every validation rule, and the
//! modifier catalogue. `check(text, options)` is the one entry: text in, a typed recipe and
//! diagnostics out, never a `Result`, no path and no I/O, so the language server can check an
//! unsaved buffer. Knows nothing of LSP positions: spans are byte offsets.
//!
//! Syntax layer: `span` (byte ranges), `yaml` (the span tree from saphyr-parser events, and the
//! front matter of `*.recipe.md`), `yaml11` (plain scalars typed as PyYAML and as YAML 1.2 read
//! them).

pub mod catalog;
pub mod check;
pub mod diagnostic;
pub mod eval;
pub mod lower;
pub mod quantization;
pub mod rules;
pub mod schema;
pub mod span;
pub mod yaml;
pub mod yaml11;

pub use check::{CheckOptions, Checked, MAX_RECIPE_BYTES, ModelContext, Weight, check};
pub use diagnostic::{Diagnostic, Severity};
