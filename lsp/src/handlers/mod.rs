//! One file per LSP feature; each is a function from an analysis snapshot (and the request) to an
//! optional result. An unknown position is answered with `None`, not an error.

pub mod code_action;
pub mod completion;
pub mod context;
#[cfg(test)]
pub mod fixture;
pub mod hover;
pub mod inlay;
pub mod lens;
pub mod model_info;
pub mod navigation;
pub mod settings;
pub mod staged;
pub mod symbols;
