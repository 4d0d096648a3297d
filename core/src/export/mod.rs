//! Exporting an optimization: its recipe (SparseML's layout, `recipe`; llm-compressor's staged
//! layout, `llm_compressor`), PyTorch code that trains
//! with it (`code`) and a one-shot pruned copy of the model (`model`). Pure text and bytes: the
//! caller writes the files.

pub mod code;
pub mod llm_compressor;
pub mod model;
pub mod recipe;

#[cfg(test)]
mod tests;

pub use code::{pytorch_integration, pytorch_training};
pub use model::pruned_model;
pub use recipe::{apply_names, generated_names, recipe_text};
