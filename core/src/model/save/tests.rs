use bytes::Bytes;

use super::*;
use crate::fixtures::fixture;
use crate::model::onnx::{AttributeProto, NodeProto, attribute_type as at, data_type as dt};
use crate::model::tensor::le_bytes;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prunekit-save-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn f32_raw(name: &str, dims: &[i64], seed: f32) -> TensorProto {
    let n: i64 = dims.iter().product();
    let raw: Vec<u8> = (0..n)
        .flat_map(|i| (seed + i as f32 * 0.5).to_le_bytes())
        .collect();
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(dt::FLOAT),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

fn tensor_attr(name: &str, tensor: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(at::TENSOR),
        t: Some(tensor),
        ..Default::default()
    }
}

/// A model with a tensor of each kind the writer must find: large raw and typed initializers, a
/// small one, a `Constant` node's value, and an initializer inside an `If` branch.
fn model_with_every_home() -> ModelProto {
    let branch = GraphProto {
        name: Some("then".into()),
        initializer: vec![f32_raw("branch_w", &[16, 32], 3.0)],
        ..Default::default()
    };
    let graph = GraphProto {
        name: Some("g".into()),
        initializer: vec![
            f32_raw("big", &[64, 64], 1.0),
            TensorProto {
                name: Some("typed".into()),
                dims: vec![300],
                data_type: Some(dt::FLOAT),
                float_data: (0..300).map(|i| i as f32).collect(),
                ..Default::default()
            },
            f32_raw("small", &[4], 2.0),
        ],
        node: vec![
            NodeProto {
                op_type: Some("Constant".into()),
                output: vec!["c".into()],
                attribute: vec![tensor_attr("value", f32_raw("const", &[20, 20], 4.0))],
                ..Default::default()
            },
            NodeProto {
                op_type: Some("If".into()),
                attribute: vec![AttributeProto {
                    name: Some("then_branch".into()),
                    r#type: Some(at::GRAPH),
                    g: Some(branch),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![crate::model::onnx::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// Every tensor of `graph`, subgraphs included, in the order the writer visits them.
fn tensors(graph: &GraphProto) -> Vec<&TensorProto> {
    let mut out: Vec<&TensorProto> = graph.initializer.iter().collect();
    for attr in graph.node.iter().flat_map(|n| &n.attribute) {
        out.extend(attr.t.iter().chain(&attr.tensors));
        for sub in attr.g.iter().chain(&attr.graphs) {
            out.extend(tensors(sub));
        }
    }
    out
}

fn entry<'a>(tensor: &'a TensorProto, key: &str) -> &'a str {
    tensor
        .external_data
        .iter()
        .find(|e| e.key() == key)
        .map(|e| e.value())
        .unwrap_or_else(|| panic!("{} has no {key}", tensor.name()))
}

#[test]
fn always_moves_every_large_tensor_to_one_aligned_data_file() {
    let dir = scratch("always");
    let path = dir.join("m.onnx");
    let original = model_with_every_home();
    save_with(&original, &path, ExternalData::Always).unwrap();

    let data = std::fs::read(dir.join("m.onnx.data")).unwrap();
    let written = ModelProto::decode(std::fs::read(&path).unwrap().as_slice()).unwrap();
    let before = tensors(original.graph.as_ref().unwrap());
    let after = tensors(written.graph.as_ref().unwrap());
    let mut external = Vec::new();
    for (b, a) in before.iter().zip(&after) {
        let payload = le_bytes(b).unwrap();
        if payload.len() <= EXTERNAL_MIN_BYTES {
            assert_eq!(a.data_location, None, "{} is small, it stays", a.name());
            continue;
        }
        assert_eq!(
            a.data_location,
            Some(DATA_LOCATION_EXTERNAL),
            "{}",
            a.name()
        );
        assert_eq!(a.raw_data, None);
        assert!(a.float_data.is_empty());
        assert_eq!(entry(a, "location"), "m.onnx.data");
        let offset: usize = entry(a, "offset").parse().unwrap();
        let length: usize = entry(a, "length").parse().unwrap();
        assert_eq!(
            offset % ALIGNMENT as usize,
            0,
            "{} is not aligned",
            a.name()
        );
        assert_eq!(&data[offset..offset + length], &payload[..], "{}", a.name());
        external.push(a.name().to_string());
    }
    assert_eq!(external, ["big", "typed", "const", "branch_w"]);

    // Loaded back, every tensor holds its values again, inline.
    let loaded = crate::load(&path).unwrap();
    let back = tensors(loaded.graph());
    for (b, a) in before.iter().zip(&back) {
        assert_eq!(le_bytes(b), le_bytes(a), "{}", a.name());
        assert_eq!((a.data_location, a.external_data.len()), (None, 0));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_model_written_over_its_own_files_runs_and_leaves_no_stale_data_file() {
    let dir = scratch("over");
    let path = dir.join("digits.onnx");
    std::fs::copy(fixture("digits_cnn.onnx"), &path).unwrap();
    let original = crate::load(&path).unwrap();
    let input = ndarray::ArrayD::<f32>::from_shape_fn(vec![1, 1, 8, 8], |i| (i[2] + i[3]) as f32);
    let run = |path: &Path| {
        let options = crate::runtime::SessionOptions { threads: Some(1) };
        let mut session = crate::runtime::ModelSession::from_file(path, &options).unwrap();
        let name = session.input_names()[0].clone();
        let inputs = [(name, crate::runtime::InputArray::F32(input.clone()))];
        session.run(&inputs).unwrap()
    };
    let expected = run(&path);

    save_with(&original.proto, &path, ExternalData::Always).unwrap();
    assert!(data_path(&path).is_file());
    assert_eq!(run(&path), expected, "ONNX Runtime reads the external data");

    // Loaded from the pair (the data file memory-mapped), then written over it, twice.
    let loaded = crate::load(&path).unwrap();
    save_with(&loaded.proto, &path, ExternalData::Always).unwrap();
    assert_eq!(run(&path), expected);
    let loaded = crate::load(&path).unwrap();
    save_with(&loaded.proto, &path, ExternalData::Never).unwrap();
    assert!(!data_path(&path).exists(), "the stale data file is removed");
    assert_eq!(run(&path), expected);
    assert_eq!(crate::load(&path).unwrap().proto, original.proto);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["digits.onnx"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn never_refuses_a_model_over_two_gigabytes_in_one_sentence() {
    let dir = scratch("never");
    let path = dir.join("huge.onnx");
    let mut proto = model_with_every_home();
    // Zeroed pages are not touched until written: this costs no memory.
    let huge = Bytes::from(vec![0u8; MAX_PROTOBUF_BYTES + 1]);
    proto.graph.as_mut().unwrap().initializer[0] = TensorProto {
        name: Some("huge".into()),
        dims: vec![huge.len() as i64],
        data_type: Some(dt::UINT8),
        raw_data: Some(huge),
        ..Default::default()
    };
    let err = save_with(&proto, &path, ExternalData::Never).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("2 GB") && text.contains("external data"),
        "{text}"
    );
    assert!(!path.exists() && !data_path(&path).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_data_file_is_named_after_the_model() {
    assert_eq!(
        data_path(Path::new("out/model.onnx")),
        Path::new("out/model.onnx.data")
    );
    for name in ExternalData::NAMES {
        assert_eq!(ExternalData::from_name(name).unwrap().name(), name);
    }
}

/// Writes the model at `PRUNEKIT_LARGE_MODEL` (the 2.16 GB one of tests/large_model.py) with
/// external data and reads it back: the figures for docs, run by hand under `/usr/bin/time -v`.
#[test]
#[ignore = "needs the generated model over 2 GB; run by hand"]
fn a_model_over_two_gigabytes_is_written_with_external_data() {
    let Ok(source) = std::env::var("PRUNEKIT_LARGE_MODEL") else {
        return;
    };
    let started = std::time::Instant::now();
    let model = crate::load(Path::new(&source)).unwrap();
    let loaded = started.elapsed();
    let dir = scratch("large");
    let path = dir.join("copy.onnx");
    let started = std::time::Instant::now();
    save(&model.proto, &path).unwrap();
    let written = started.elapsed();
    assert!(
        data_path(&path).is_file(),
        "over 2 GB, auto writes external data"
    );
    let back = crate::load(&path).unwrap();
    for (a, b) in tensors(model.graph()).iter().zip(tensors(back.graph())) {
        assert_eq!(a.raw_data, b.raw_data, "{}", a.name());
    }
    eprintln!("loaded in {loaded:?}, written in {written:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A loaded model's large initializers point into the file they were read from, at the offset
/// of their bytes there; a rewritten payload (on the heap) cannot be pointed at.
#[test]
fn loaded_weights_are_referenced_where_they_lie_on_disk() {
    let path = fixture("digits_cnn.onnx");
    let model = crate::load(&path).unwrap();
    let (folder, referencing) = referencing_mapped_files(&model.proto).unwrap();
    assert_eq!(folder, std::path::absolute(path.parent().unwrap()).unwrap());
    let file = std::fs::read(&path).unwrap();
    let original = model.graph();
    let mut referenced = 0;
    for (before, after) in original
        .initializer
        .iter()
        .zip(&referencing.graph.unwrap().initializer)
    {
        let raw = before.raw_data.as_deref().unwrap_or_default();
        if raw.len() <= EXTERNAL_MIN_BYTES {
            assert_eq!(after, before);
            continue;
        }
        referenced += 1;
        let entry = |key: &str| {
            after
                .external_data
                .iter()
                .find(|e| e.key() == key)
                .unwrap()
                .value()
                .to_string()
        };
        assert_eq!(entry("location"), "digits_cnn.onnx");
        let offset: usize = entry("offset").parse().unwrap();
        assert_eq!(entry("length"), raw.len().to_string());
        assert_eq!(&file[offset..offset + raw.len()], raw);
        assert!(after.raw_data.is_none());
    }
    assert!(referenced >= 2, "{referenced} referenced");
    let mut rewritten = model.proto.clone();
    let graph = rewritten.graph.as_mut().unwrap();
    let big = graph
        .initializer
        .iter_mut()
        .find(|t| {
            t.raw_data
                .as_ref()
                .is_some_and(|r| r.len() > EXTERNAL_MIN_BYTES)
        })
        .unwrap();
    big.raw_data = Some(Bytes::from(big.raw_data.as_ref().unwrap().to_vec()));
    assert!(referencing_mapped_files(&rewritten).is_none());
}
