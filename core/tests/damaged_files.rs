//! Damaged models: every fixture cut at 50 random points and hit by 200 random byte flips must give
//! an error or a valid analysis (and channel groups), never a panic or a hang.

mod common;

use std::time::{Duration, Instant};

use prunekit_core::AnalysisOptions;

/// Far above what any of these small files needs (about a millisecond); a hang blows through it.
const LIMIT: Duration = Duration::from_secs(5);

fn check(bytes: &[u8], dir: &std::path::Path, what: &str) {
    let path = dir.join("damaged.onnx");
    std::fs::write(&path, bytes).unwrap();
    let started = Instant::now();
    let outcome = std::panic::catch_unwind(|| match prunekit_core::load(&path) {
        Ok(model) => prunekit_core::analyze(&model, &AnalysisOptions::default())
            .and_then(|analysis| prunekit_core::structured::channel_groups(&model, &analysis))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    });
    let elapsed = started.elapsed();
    match outcome {
        Ok(Err(message)) => assert!(
            !message.contains('\n') && !message.is_empty(),
            "{what}: {message:?}"
        ),
        Ok(Ok(())) => {}
        Err(_) => panic!("{what}: prunekit panicked"),
    }
    assert!(elapsed < LIMIT, "{what}: took {elapsed:?}");
}

#[test]
fn truncated_and_flipped_models_never_panic() {
    let dir = std::env::temp_dir().join(format!("prunekit-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // External data would be looked up beside the damaged copy; copy it there too.
    let data = common::fixtures_dir().join("external_data.onnx.data");
    std::fs::copy(&data, dir.join("external_data.onnx.data")).unwrap();
    let mut rng = common::Rng(0x5eed);
    let mut n_cases = 0;
    for model in common::fixture_models() {
        let original = std::fs::read(&model).unwrap();
        let name = model.file_name().unwrap().to_string_lossy().into_owned();
        for _ in 0..50 {
            let cut = rng.below(original.len());
            check(&original[..cut], &dir, &format!("{name} cut at {cut}"));
            n_cases += 1;
        }
        for _ in 0..200 {
            let mut bytes = original.clone();
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
            check(&bytes, &dir, &format!("{name} with byte {at} flipped"));
            n_cases += 1;
        }
    }
    println!("{n_cases} damaged models: no panic, no hang");
    let _ = std::fs::remove_dir_all(&dir);
}
