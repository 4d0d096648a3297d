//! The cell language. For now: the `load` command's arguments, shared by the `analyze` CLI.

pub mod load;
