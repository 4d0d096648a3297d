//! Loading and saving real ONNX files: the round trip loses nothing, external data resolves, and
//! every kind of bad file gets one sentence that names it.

mod common;

use std::path::Path;

use prost::Message;
use prunekit_core::Error;
use prunekit_core::model::tensor;

#[test]
fn saving_a_loaded_model_writes_the_same_bytes() {
    for path in common::fixture_models() {
        if path.ends_with("external_data.onnx") {
            continue; // saved self-contained on purpose; checked below
        }
        let original = std::fs::read(&path).unwrap();
        let model = prunekit_core::load(&path).unwrap();
        assert_eq!(
            model.proto.encode_to_vec(),
            original,
            "{} does not round-trip",
            path.display()
        );

        let dir = tempdir();
        let out = dir.join("copy.onnx");
        prunekit_core::save(&model.proto, &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), original);
    }
}

#[test]
fn external_data_is_read_from_its_file_and_saved_inline() {
    let model = prunekit_core::load(&common::fixtures_dir().join("external_data.onnx")).unwrap();
    let graph = model.graph();
    assert!(!graph.initializer.is_empty());
    for t in &graph.initializer {
        let n = tensor::numel(&t.dims).unwrap() as usize;
        assert_eq!(
            t.raw_data.as_ref().map(|r| r.len()),
            Some(4 * n),
            "{}",
            t.name()
        );
        assert!(t.external_data.is_empty());
    }
    let dir = tempdir();
    let out = dir.join("inline.onnx");
    prunekit_core::save(&model.proto, &out).unwrap();
    let again = prunekit_core::load(&out).unwrap();
    assert_eq!(again.proto, model.proto);
}

fn tempdir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("prunekit-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load_error(path: &Path) -> String {
    let err = prunekit_core::load(path).expect_err("a bad file must be refused");
    let text = err.to_string();
    assert!(!text.contains('\n'), "one sentence, got {text:?}");
    assert!(
        text.contains(&path.display().to_string()),
        "the message names the path: {text}"
    );
    text
}

#[test]
fn bad_files_get_one_sentence_naming_the_path() {
    let dir = tempdir();
    let cnn = std::fs::read(common::fixtures_dir().join("digits_cnn.onnx")).unwrap();

    assert!(load_error(&dir.join("missing.onnx")).contains("does not exist"));
    assert!(load_error(&dir).contains("directory"));

    let text = dir.join("notes.onnx");
    std::fs::write(&text, "{\"not\": \"a model\"}\n").unwrap();
    assert!(load_error(&text).contains("text file"));

    let empty = dir.join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    assert!(load_error(&empty).contains("empty"));

    let truncated = dir.join("truncated.onnx");
    std::fs::write(&truncated, &cnn[..cnn.len() / 2]).unwrap();
    assert!(load_error(&truncated).contains("truncated"));

    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, [0xffu8, 0xff, 0xff, 0x00, 0x13, 0x37]).unwrap();
    assert!(load_error(&garbage).contains("not an ONNX model"));

    let mut proto = prunekit_core::load(&common::fixtures_dir().join("digits_cnn.onnx"))
        .unwrap()
        .proto;
    let no_graph = dir.join("no_graph.onnx");
    let mut p = proto.clone();
    p.graph = None;
    std::fs::write(&no_graph, p.encode_to_vec()).unwrap();
    assert!(load_error(&no_graph).contains("no graph"));

    let no_opset = dir.join("no_opset.onnx");
    let mut p = proto.clone();
    p.opset_import.clear();
    std::fs::write(&no_opset, p.encode_to_vec()).unwrap();
    assert!(load_error(&no_opset).contains("opset_import"));

    let old = dir.join("old.onnx");
    proto.opset_import[0].version = Some(9);
    std::fs::write(&old, proto.encode_to_vec()).unwrap();
    assert!(load_error(&old).contains("opset 9"));

    let lonely = dir.join("external_data.onnx");
    std::fs::copy(common::fixtures_dir().join("external_data.onnx"), &lonely).unwrap();
    let err = load_error(&lonely);
    assert!(
        err.contains("external data file") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn errors_are_typed() {
    let err = prunekit_core::load(Path::new("/nonexistent/model.onnx")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert_eq!(err.kind_name(), "IoError");
}
