//! Shared by the integration tests: where the fixtures are, and a seeded generator.

#![allow(dead_code)]

use std::path::PathBuf;

#[allow(unused_imports)]
pub use prunekit_core::runtime::SplitMix64 as Rng;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Every committed fixture model.
pub fn fixture_models() -> Vec<PathBuf> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    assert!(
        models.len() >= 6,
        "expected the committed fixture models in tests/fixtures"
    );
    models
}
