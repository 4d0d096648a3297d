//! Turning core results into what people and programs read: mime bundles, HTML tables, the
//! documented JSON shapes, plain-text summaries, and progress displays.

pub mod bundle;
pub mod json;
pub mod progress;
pub mod table;
pub mod text;
