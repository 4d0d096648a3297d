//! The Jupyter wire protocol: the connection file, HMAC signing, and multipart frames ↔ messages.
//! Knows nothing of cells or of prunekit's core.

pub mod connection;
pub mod content;
pub mod message;
