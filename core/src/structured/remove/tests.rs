//! Removal on the hand-built fixtures, through ONNX Runtime: the shapes shrink as the groups
//! say, the model runs with its original output shapes, keeping everything changes nothing, and
//! removing channels that carry nothing leaves the outputs as they were.

use super::*;
use crate::model::onnx::data_type as dt;
use crate::structured::fixtures::{self, max_difference, run, samples, silence};
use crate::{AnalysisOptions, analyze};

fn keep(group: &str, channels: &[usize]) -> Keep {
    Keep {
        group: group.into(),
        channels: channels.to_vec(),
    }
}

fn all_but(group: &ChannelGroup, removed: &[usize]) -> Keep {
    keep(
        &group.name,
        &(0..group.channels)
            .filter(|c| !removed.contains(c))
            .collect::<Vec<_>>(),
    )
}

/// Channels to remove in each prunable group of each fixture: a few, spread out.
fn removed_of(group: &ChannelGroup) -> Vec<usize> {
    (0..group.channels).filter(|c| c % 3 == 1).collect()
}

fn dims(model: &Model, name: &str) -> Vec<i64> {
    let index = GraphIndex::new(model.graph());
    index.weight(name).unwrap().tensor.dims.clone()
}

#[test]
fn removing_silent_channels_leaves_every_fixture_s_outputs_as_they_were() {
    for (name, mut model, groups) in fixtures::all() {
        let prunable: Vec<&ChannelGroup> =
            groups.iter().filter(|g| g.unprunable.is_none()).collect();
        for g in &prunable {
            silence(&mut model, g, &removed_of(g));
        }
        let data = samples(&model, 32, 7);
        let before = run(&model.proto, &data);
        let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
        let keeps: Vec<Keep> = prunable
            .iter()
            .map(|g| all_but(g, &removed_of(g)))
            .collect();
        let mut pruned = model.clone();
        let (removal, _) = remove_channels(&mut pruned, &analysis, &groups, &keeps).unwrap();
        let after = run(&pruned.proto, &data);
        let (diff, scale) = max_difference(&before, &after);
        assert!(
            diff <= 1e-5 * scale.max(1.0),
            "{name}: outputs moved by {diff}"
        );
        assert!(
            removal.macs_after < removal.macs_before,
            "{name}: {removal:?}"
        );
        assert!(removal.params_after < removal.params_before, "{name}");
        for (g, r) in prunable.iter().zip(&removal.groups) {
            assert_eq!(r.channels_after, g.channels - removed_of(g).len(), "{name}");
            assert!(r.params_removed > 0 && r.macs_removed > 0, "{name}: {r:?}");
        }

        // The same channels removed from the model as trained do change its outputs: the
        // comparison above can tell.
        let (model, groups) = fixtures::all()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, m, g)| (m, g))
            .unwrap();
        let before = run(&model.proto, &data);
        let mut pruned = model.clone();
        remove_channels(&mut pruned, &analysis, &groups, &keeps).unwrap();
        let (diff, scale) = max_difference(&before, &run(&pruned.proto, &data));
        assert!(
            diff > 1e-3 * scale,
            "{name}: removing live channels changed nothing"
        );
    }
}

#[test]
fn keeping_every_channel_changes_nothing() {
    for (name, model, groups) in fixtures::all() {
        let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
        let keeps: Vec<Keep> = groups.iter().map(|g| all_but(g, &[])).collect();
        let mut same = model.clone();
        let (removal, _) = remove_channels(&mut same, &analysis, &groups, &keeps).unwrap();
        assert_eq!(same.proto, model.proto, "{name}");
        assert_eq!(removal.macs_after, removal.macs_before);
        assert!(removal.groups.iter().all(|g| g.params_removed == 0));
    }
}

#[test]
fn every_place_a_channel_is_counted_shrinks() {
    // chain: the weight in a Constant node behind Identity, the BN's four vectors, the reader's
    // columns, and the carriers' value-info.
    let (mut model, groups) = fixtures::chain();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    remove_channels(&mut model, &analysis, &groups, &[keep("conv1", &[0, 2, 5])]).unwrap();
    assert_eq!(dims(&model, "conv1.weight_const"), [3, 3, 3, 3]);
    assert_eq!(dims(&model, "bn1.var"), [3]);
    assert_eq!(dims(&model, "conv2.weight"), [6, 3, 3, 3]);
    assert_eq!(dims(&model, "conv2.bias"), [6]);
    let info = &model.graph().value_info;
    assert!(
        info.iter()
            .all(|v| fixtures::info(v.name(), &[3, 8, 8]) == *v)
    );
    assert_eq!(model.graph().node[0].op_type(), "Constant");

    // depthwise: the group attribute follows the channels.
    let (mut model, groups) = fixtures::depthwise();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    remove_channels(&mut model, &analysis, &groups, &[keep("c1", &[1, 7])]).unwrap();
    let dw = &model.graph().node[node_named(model.graph(), "dw").unwrap()];
    assert_eq!(crate::model::attr::int(dw, "group"), Some(2));
    assert_eq!(dims(&model, "dw.weight"), [2, 1, 3, 3]);
    assert_eq!(dims(&model, "pw.weight"), [4, 2, 1, 1]);

    // reshape into Gemm: blocks of 4 features per channel, the shape constant, transB = 0 on
    // both sides, the MatMul's weight in a Constant node.
    let (mut model, groups) = fixtures::reshape_gemm();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let before = dims(&model, "gemm.B");
    assert_eq!(before, [16, 10]);
    let (removal, _) = remove_channels(
        &mut model,
        &analysis,
        &groups,
        &[keep("conv", &[3]), keep("gemm", &[0, 1, 2, 3, 4, 5])],
    )
    .unwrap();
    assert_eq!(dims(&model, "gemm.B"), [4, 6]);
    assert_eq!(dims(&model, "gemm.C"), [6]);
    assert_eq!(dims(&model, "mm.weight"), [6, 3]);
    let index = GraphIndex::new(model.graph());
    let shape = index.constant("flat_shape").unwrap();
    assert_eq!(to_i64(shape, 8).unwrap(), [0, 4]);
    assert_eq!(removal.groups[0].channels_after, 1);
    // conv alone: 3 of 4 rows of its weight (36) and bias (4), 48 of gemm.B's 160.
    assert_eq!(removal.groups[0].params_removed, 27 + 3 + 120);
    let data = samples(&model, 8, 1);
    assert_eq!(run(&model.proto, &data)[0].shape(), [8, 3]);
}

#[test]
fn a_shape_constant_another_node_also_reads_is_copied_for_the_node_that_changes() {
    // reshape_gemm with a second Reshape of the input through the same `[0, 16]` constant, to a
    // second graph output: the flatten loses 12 of its 16 features, the other reader none.
    let (mut model, groups) = fixtures::reshape_gemm();
    let graph = model.proto.graph.as_mut().unwrap();
    graph.node.push(NodeProto {
        op_type: Some("Reshape".into()),
        name: Some("spare".into()),
        input: vec!["x".into(), "flat_shape".into()],
        output: vec!["xs".into()],
        ..Default::default()
    });
    graph.output.push(fixtures::info("xs", &[16]));
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    remove_channels(&mut model, &analysis, &groups, &[keep("conv", &[3])]).unwrap();
    let index = GraphIndex::new(model.graph());
    assert_eq!(
        to_i64(index.constant("flat_shape").unwrap(), 8).unwrap(),
        [0, 16]
    );
    let copy = index.constant("flat_shape.flatten").unwrap();
    assert_eq!(to_i64(copy, 8).unwrap(), [0, 4]);
    let reader = |node: &str| {
        let i = node_named(model.graph(), node).unwrap();
        model.graph().node[i].input[1].clone()
    };
    assert_eq!(reader("flatten"), "flat_shape.flatten");
    assert_eq!(reader("spare"), "flat_shape");
    // ONNX Runtime runs both Reshapes (the spare one fails on a shape of [0, 4]).
    let data = samples(&model, 8, 1);
    assert_eq!(run(&model.proto, &data)[0].shape(), [8, 3]);
}

#[test]
fn a_constant_of_any_element_type_is_cut_as_bytes() {
    let removed: BTreeMap<usize, BTreeSet<usize>> =
        [(0, BTreeSet::from([1])), (1, BTreeSet::from([0, 2]))].into();
    // [3, 3] of 0..9: rows 0 and 2, column 1.
    let f64s = TensorProto {
        data_type: Some(dt::DOUBLE),
        dims: vec![3, 3],
        double_data: (0..9).map(f64::from).collect(),
        ..Default::default()
    };
    let out = cut(&f64s, &removed).unwrap();
    assert_eq!(out.dims, [2, 1]);
    assert_eq!(crate::model::tensor::to_f32(&out).unwrap(), [1.0, 7.0]);
    let f16s = TensorProto {
        data_type: Some(dt::FLOAT16),
        dims: vec![3, 3],
        int32_data: (0..9).map(|i| 0x3c00 + i).collect(),
        ..Default::default()
    };
    let out = cut(&f16s, &removed).unwrap();
    assert_eq!(out.raw_data.as_deref().unwrap(), [0x01, 0x3c, 0x07, 0x3c]);
    let mut bad = f64s.clone();
    bad.dims = vec![3, 4];
    assert!(cut(&bad, &removed).is_none());
}

#[test]
fn groups_that_do_not_fit_the_model_are_refused_and_the_model_left_alone() {
    let (model, mut groups) = fixtures::chain();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let ask = [keep("conv1", &[0])];
    let mut m = model.clone();
    groups[0].slices[0].tensor = "conv9.weight".into();
    let err = remove_channels(&mut m, &analysis, &groups, &ask).unwrap_err();
    assert!(
        err.to_string()
            .contains("'conv9.weight', which is not a constant"),
        "{err}"
    );
    groups[0].slices[0].tensor = "conv1.weight_const".into();
    groups[0].channels = 9;
    let err = remove_channels(&mut m, &analysis, &groups, &[keep("conv1", &[8])]).unwrap_err();
    assert!(err.to_string().contains("indices 0..9 of axis 0"), "{err}");
    // A group that forgets the reader's columns leaves a graph that does not analyze.
    let (_, mut groups) = fixtures::chain();
    groups[0].slices.retain(|s| s.role != Role::Consumer);
    let err = remove_channels(&mut m, &analysis, &groups, &ask).unwrap_err();
    assert!(err.to_string().contains("does not analyze"), "{err}");
    assert_eq!(m.proto, model.proto);
}

/// Writes each fixture, its pruned copy and the digits CNN pruned, for the Python test
/// (`tests/test_structured_removal.py`), when `PRUNEKIT_STRUCTURED_OUT` names a folder.
#[test]
fn write_pruned_fixtures_for_the_onnx_checker() {
    let Some(dir) = std::env::var_os("PRUNEKIT_STRUCTURED_OUT") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut cases = fixtures::all();
    let (digits, _) = crate::fixtures::load_analyzed("digits_cnn.onnx");
    cases.push(("digits_cnn", digits, fixtures::digits_groups()));
    for (name, model, groups) in cases {
        let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
        let keeps: Vec<Keep> = groups
            .iter()
            .filter(|g| g.unprunable.is_none())
            .map(|g| all_but(g, &removed_of(g)))
            .collect();
        let mut pruned = model.clone();
        remove_channels(&mut pruned, &analysis, &groups, &keeps).unwrap();
        crate::model::save(&model.proto, &dir.join(format!("{name}.onnx"))).unwrap();
        crate::model::save(&pruned.proto, &dir.join(format!("{name}.pruned.onnx"))).unwrap();
    }
}
