//! The cell language: one command per line, `#` starts a comment. `spec` lists the commands (the
//! one source for help, completion and inspect), `parse` turns lines into commands, `run` executes
//! them against the session, `cap` bounds what one cell sends, `saving` writes the project file,
//! `complete` and `inspect` answer the editor.
//!
//! Each command has its module (`load`, `layers`, `profile`, `optimize`, `export`, `benchmark`,
//! `settings`): it parses the flags, calls one core function (the use cases are in
//! `prunekit_core::workflow`) and renders the result; `plan_view` and `profile_view` render
//! optimizations and profiles, and `steps` shows a core workflow's steps as progress displays.

pub mod benchmark;
pub mod cap;
pub mod compare;
pub mod complete;
pub mod export;
pub mod flags;
pub mod inspect;
pub mod layers;
pub mod load;
pub mod optimize;
pub mod output;
pub mod parse;
pub mod plan_view;
pub mod profile;
pub mod profile_view;
pub mod pruning;
pub mod quantization;
pub mod recipe_export;
pub mod run;
pub mod saving;
pub mod settings;
pub mod spec;
pub mod steps;
pub mod structure;
