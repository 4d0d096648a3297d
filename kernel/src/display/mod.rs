//! Turning core results into what people and programs read: the documented JSON shapes and the
//! plain-text summaries.

pub mod json;
pub mod text;
