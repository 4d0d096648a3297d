//! SparseML recipes: the document model with source spans, every validation rule, and the
//! modifier catalogue. `check(text, options)` is the one entry: text in, a typed recipe and
//! diagnostics out, never a `Result`, no path and no I/O, so the language server can check an
//! unsaved buffer. Knows nothing of LSP positions: spans are byte offsets.
//!
//! Syntax layer: `span` (byte ranges), `yaml` (the span tree from saphyr-parser events, and the
//! front matter of `*.recipe.md`), `yaml11` (plain scalars typed as PyYAML and as YAML 1.2 read
//! them).
//!
//! Semantic layer: `eval` (SparseML's `eval()` expressions and variable resolution), `catalog`
//! (every modifier class: its types apart from its table), `lower` (the typed recipe), `rules`
//! and `quantization` (the validation rules), `context` (what the recipe's model and project file
//! tell the rules), `check` (the entry). Suggestions for unknown names come from
//! `crate::suggest`.

pub mod catalog;
pub mod check;
pub mod context;
pub mod diagnostic;
pub mod eval;
pub mod lower;
pub mod quantization;
pub mod rules;
pub mod schema;
pub mod span;
pub mod staged;
pub mod yaml;
pub mod yaml11;

pub use check::{CheckOptions, Checked, MAX_RECIPE_BYTES, check};
pub use context::{ModelContext, QuantizationSource, Weight};
pub use diagnostic::{Diagnostic, Severity};
