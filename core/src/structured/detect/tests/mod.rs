//! Detection on one small fixture per pattern, each run in ONNX Runtime first; every test also
//! checks that the groups fit the tensors they name (`build::check`).

mod build;
mod unprunable;

use crate::structured::{Edit, Role};
use build::{A, Graph, detect, produced_by, slice};

/// Conv → BatchNormalization → each kind of activation, pooling, Resize and Pad → Conv →
/// GlobalAveragePool → Flatten → Gemm: the first conv's channels reach the second conv's input.
#[test]
fn channels_pass_through_normalization_activations_pooling_resize_and_pad() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 8, 8])
        .conv("c1", "x", 3, 8, 3, 1)
        .batch_norm("bn", "c1", 8)
        .node("Relu", &["bn"], "relu", &[])
        .node("Clip", &["relu"], "clip", &[])
        .node("LeakyRelu", &["clip"], "leaky", &[("alpha", A::F(0.1))])
        .weight("slope", &[8, 1, 1])
        .node("PRelu", &["leaky", "slope"], "prelu", &[])
        .node("HardSigmoid", &["prelu"], "hsig", &[])
        .node("HardSwish", &["hsig"], "hswish", &[])
        .node("Sigmoid", &["hswish"], "sig", &[])
        .node("Mul", &["hswish", "sig"], "silu", &[])
        .node(
            "MaxPool",
            &["silu"],
            "pool",
            &[
                ("kernel_shape", A::Is(vec![2, 2])),
                ("strides", A::Is(vec![2, 2])),
            ],
        )
        .node(
            "AveragePool",
            &["pool"],
            "avg",
            &[("kernel_shape", A::Is(vec![1, 1]))],
        )
        .node("Identity", &["avg"], "id", &[])
        .ints("pads", &[0, 0, 1, 1, 0, 0, 1, 1])
        .node("Pad", &["id", "pads"], "pad", &[])
        .node("Dropout", &["pad"], "drop", &[])
        .node("Cast", &["drop"], "cast", &[("to", A::I(1))])
        .conv("c2", "cast", 8, 4, 3, 1)
        .node("GlobalAveragePool", &["c2"], "gap", &[])
        .node("Flatten", &["gap"], "flat", &[])
        .weight("fc.weight", &[10, 4])
        .weight("fc.bias", &[10])
        .node(
            "Gemm",
            &["flat", "fc.weight", "fc.bias"],
            "fc",
            &[("transB", A::I(1))],
        )
        .output("fc");
    let groups = detect(&g.model());
    assert_eq!(groups.len(), 3, "{groups:#?}");

    let c1 = produced_by(&groups, "c1");
    assert_eq!(
        (c1.name.as_str(), c1.channels, c1.unprunable.as_deref()),
        ("c1", 8, None)
    );
    assert_eq!(slice(c1, "c1.weight").role, Role::Producer);
    assert_eq!(slice(c1, "c1.bias").role, Role::Producer);
    for p in ["bn.scale", "bn.bias", "bn.mean", "bn.var", "slope"] {
        let s = slice(c1, p);
        assert_eq!(
            (s.role, s.axis, s.offset, s.block),
            (Role::PerChannel, 0, 0, 1),
            "{p}"
        );
    }
    let consumer = slice(c1, "c2.weight");
    assert_eq!((consumer.role, consumer.axis), (Role::Consumer, 1));
    assert_eq!(c1.consumers, ["c2"]);
    for v in ["bn", "silu", "pool", "pad", "cast"] {
        assert!(c1.values.iter().any(|c| c.value == v && c.axis == 1), "{v}");
    }

    let c2 = produced_by(&groups, "c2");
    assert_eq!((c2.channels, c2.unprunable.as_deref()), (4, None));
    let fc = slice(c2, "fc.weight");
    assert_eq!((fc.role, fc.axis, fc.block), (Role::Consumer, 1, 1));

    let out = produced_by(&groups, "fc");
    assert_eq!(out.channels, 10);
    assert_eq!(
        out.unprunable.as_deref(),
        Some("the graph output fc carries the channels")
    );
}

/// Resize with scales 1 on the channel axis passes the channels on.
#[test]
fn resize_keeps_the_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4]).conv("c1", "x", 3, 6, 1, 1);
    g.node(
        "Resize",
        &["c1", "", "scales"],
        "up",
        &[("mode", A::S("nearest"))],
    );
    g.conv("c2", "up", 6, 2, 1, 1).output("c2");
    let mut model = g.model();
    model
        .proto
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .push(crate::model::onnx::TensorProto {
            name: Some("scales".into()),
            dims: vec![4],
            data_type: Some(crate::model::onnx::data_type::FLOAT),
            float_data: vec![1.0, 1.0, 2.0, 2.0],
            ..Default::default()
        });
    let groups = detect(&model);
    let c1 = produced_by(&groups, "c1");
    assert_eq!((c1.channels, c1.unprunable.as_deref()), (6, None));
    assert_eq!(c1.consumers, ["c2"]);
    assert!(c1.values.iter().any(|v| v.value == "up"));
}

/// Conv → Flatten → Gemm (transB 0): each channel is a block of H·W rows of the Gemm weight.
#[test]
fn flatten_into_gemm_makes_each_channel_a_block_of_features() {
    let mut g = Graph::default();
    g.input("x", &[1, 2, 3, 3])
        .conv("c1", "x", 2, 4, 3, 1)
        .node("Flatten", &["c1"], "flat", &[])
        .weight("fc.weight", &[36, 5])
        .weight("fc.bias", &[5])
        .node("Gemm", &["flat", "fc.weight", "fc.bias"], "fc", &[])
        .node("Relu", &["fc"], "y", &[])
        .output("y");
    let groups = detect(&g.model());
    let c1 = produced_by(&groups, "c1");
    let fc = slice(c1, "fc.weight");
    assert_eq!(
        (fc.role, fc.axis, fc.offset, fc.block),
        (Role::Consumer, 0, 0, 9)
    );
    let flat = c1.values.iter().find(|v| v.value == "flat").unwrap();
    assert_eq!((flat.axis, flat.block), (1, 9));
    // transB 0: the Gemm's own channels are its weight's columns and its bias's last axis.
    let out = produced_by(&groups, "fc");
    assert_eq!(slice(out, "fc.weight").axis, 1);
    assert_eq!(slice(out, "fc.bias").axis, 0);
    assert!(out.unprunable.is_some());
}

/// MatMul [d, h] → Add bias → Relu → MatMul [h, d]: the hidden units are one group.
#[test]
fn mlp_hidden_units_are_one_group() {
    let mut g = Graph::default();
    g.input("x", &[2, 16])
        .weight("w1", &[16, 32])
        .weight("b1", &[32])
        .weight("w2", &[32, 8])
        .node("MatMul", &["x", "w1"], "h", &[])
        .node("Add", &["h", "b1"], "hb", &[])
        .node("Relu", &["hb"], "a", &[])
        .node("MatMul", &["a", "w2"], "y", &[])
        .output("y");
    let groups = detect(&g.model());
    assert_eq!(groups.len(), 2);
    let h = produced_by(&groups, "h");
    assert_eq!((h.channels, h.unprunable.as_deref()), (32, None));
    assert_eq!(
        (slice(h, "w1").axis, slice(h, "w1").role),
        (1, Role::Producer)
    );
    assert_eq!(
        (slice(h, "b1").axis, slice(h, "b1").role),
        (0, Role::PerChannel)
    );
    assert_eq!(
        (slice(h, "w2").axis, slice(h, "w2").role),
        (0, Role::Consumer)
    );
    assert_eq!(h.consumers, ["y"]);
}

/// A residual Add ties both branches' channels; a per-channel constant Mul is a parameter.
#[test]
fn residual_add_ties_both_branches() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 6, 6])
        .conv("stem", "x", 3, 8, 3, 1)
        .node("Relu", &["stem"], "a", &[])
        .conv("branch", "a", 8, 8, 3, 1)
        .weight("gamma", &[1, 8, 1, 1])
        .node("Mul", &["branch", "gamma"], "scaled", &[])
        .node("Add", &["a", "scaled"], "sum", &[])
        .node("Relu", &["sum"], "r", &[])
        .conv("head", "r", 8, 2, 1, 1)
        .output("head");
    let groups = detect(&g.model());
    let stem = produced_by(&groups, "stem");
    assert_eq!(stem.producers, ["stem", "branch"]);
    assert_eq!(stem.consumers, ["branch", "head"]);
    assert_eq!(stem.channels, 8);
    assert!(stem.unprunable.is_none());
    let gamma = slice(stem, "gamma");
    assert_eq!((gamma.role, gamma.axis), (Role::PerChannel, 1));
    assert_eq!(groups.len(), 2);
}

/// Two branches concatenated and read by one conv: each group's columns at its offset.
#[test]
fn concat_puts_each_branch_at_its_offset() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 5, 5])
        .conv("a", "x", 3, 4, 3, 1)
        .conv("b", "x", 3, 6, 1, 1)
        .node("Concat", &["a", "b"], "cat", &[("axis", A::I(1))])
        .conv("c", "cat", 10, 2, 1, 1)
        .output("c");
    let groups = detect(&g.model());
    let a = produced_by(&groups, "a");
    let b = produced_by(&groups, "b");
    let (ca, cb) = (slice(a, "c.weight"), slice(b, "c.weight"));
    assert_eq!((a.channels, ca.offset, ca.axis), (4, 0, 1));
    assert_eq!((b.channels, cb.offset, cb.axis), (6, 4, 1));
    let cat = b.values.iter().find(|v| v.value == "cat").unwrap();
    assert_eq!(cat.offset, 4);
    assert!(a.unprunable.is_none() && b.unprunable.is_none());
}

/// Split of one conv's channels: each part its own group, the split sizes edited.
#[test]
fn split_parts_are_groups_of_their_own() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 5, 5])
        .conv("a", "x", 3, 8, 1, 1)
        .ints("sizes", &[3, 5]);
    g.multi(
        "Split",
        &["a", "sizes"],
        &["p0", "p1"],
        &[("axis", A::I(1))],
    );
    g.conv("b", "p0", 3, 2, 1, 1)
        .conv("c", "p1", 5, 2, 1, 1)
        .node("Add", &["b", "c"], "y", &[])
        .output("y");
    let groups = detect(&g.model());
    let parts: Vec<_> = groups.iter().filter(|g| g.producers == ["a"]).collect();
    assert_eq!(parts.len(), 2, "{groups:#?}");
    assert_eq!((parts[0].name.as_str(), parts[0].channels), ("a[0..3]", 3));
    assert_eq!((parts[1].name.as_str(), parts[1].channels), ("a[3..8]", 5));
    assert_eq!(slice(parts[1], "a.weight").offset, 3);
    assert_eq!(slice(parts[1], "c.weight").offset, 0);
    assert_eq!(
        parts[1].edits,
        [Edit::ShapeEntry {
            tensor: "sizes".into(),
            index: 1,
            block: 1,
            node: "p0".into()
        }]
    );
    assert!(parts.iter().all(|p| p.unprunable.is_none()));
}

/// A depthwise conv passes its input channels through; a grouped conv keeps them.
#[test]
fn depthwise_conv_ties_input_to_output_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 6, 6])
        .conv("pw", "x", 3, 6, 1, 1)
        .conv("dw", "pw", 6, 6, 3, 6)
        .conv("grouped", "dw", 6, 4, 1, 2)
        .conv("out", "grouped", 4, 2, 1, 1)
        .output("out");
    let groups = detect(&g.model());
    let pw = produced_by(&groups, "pw");
    assert_eq!(pw.producers, ["pw"]);
    assert_eq!(slice(pw, "dw.weight").role, Role::PerChannel);
    assert_eq!(slice(pw, "dw.bias").role, Role::PerChannel);
    assert_eq!(pw.edits, [Edit::ConvGroups { node: "dw".into() }]);
    assert_eq!(
        pw.unprunable.as_deref(),
        Some(
            "Conv grouped is a grouped convolution (group 2) whose channels move a whole group at a time"
        )
    );
    let grouped = produced_by(&groups, "grouped");
    assert!(
        grouped
            .unprunable
            .as_deref()
            .unwrap()
            .contains("Conv grouped")
    );
}

/// Squeeze and excitation: the SE's hidden channels are a group; its last conv gates the main
/// path and joins that group as per-channel rows.
#[test]
fn squeeze_and_excitation_gate_joins_the_main_group() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 6, 6])
        .conv("main", "x", 3, 8, 3, 1)
        .node("Relu", &["main"], "act", &[])
        .node("GlobalAveragePool", &["act"], "squeeze", &[])
        .conv("se1", "squeeze", 8, 2, 1, 1)
        .node("Relu", &["se1"], "se_act", &[])
        .conv("se2", "se_act", 2, 8, 1, 1)
        .node("HardSigmoid", &["se2"], "gate", &[])
        .node("Mul", &["act", "gate"], "excited", &[])
        .conv("next", "excited", 8, 4, 1, 1)
        .output("next");
    let groups = detect(&g.model());
    assert_eq!(groups.len(), 3, "{groups:#?}");
    let main = produced_by(&groups, "main");
    assert_eq!(main.producers, ["main"]);
    assert_eq!(main.consumers, ["se1", "next"]);
    assert_eq!(slice(main, "se2.weight").role, Role::PerChannel);
    assert_eq!(slice(main, "se2.bias").role, Role::PerChannel);
    assert!(main.unprunable.is_none());
    let hidden = produced_by(&groups, "se1");
    assert_eq!(
        (hidden.channels, hidden.consumers.as_slice()),
        (2, &["se2".to_string()][..])
    );
    assert!(hidden.unprunable.is_none());
}

/// The transformer block fixture: attention heads (block = head width, the split and merge
/// shapes edited), MLP hidden units, and the residual stream kept for the graph's input.
#[test]
fn transformer_heads_and_mlp_hidden_units() {
    let (model, _) = crate::fixtures::load_analyzed("transformer_block.onnx");
    let groups = detect(&model);
    let heads = produced_by(&groups, "/attn/q_proj/MatMul_output_0");
    assert_eq!(heads.channels, 4);
    assert!(heads.unprunable.is_none(), "{heads:#?}");
    assert_eq!(
        heads.producers,
        [
            "/attn/q_proj/MatMul_output_0",
            "/attn/k_proj/MatMul_output_0",
            "/attn/v_proj/MatMul_output_0"
        ]
    );
    assert_eq!(heads.consumers, ["/attn/out_proj/MatMul_output_0"]);
    for w in [
        "attn.q_proj.weight",
        "attn.k_proj.weight",
        "attn.v_proj.weight",
    ] {
        let s = slice(heads, w);
        assert_eq!((s.axis, s.block, s.role), (1, 16, Role::Producer), "{w}");
    }
    assert_eq!(slice(heads, "attn.q_proj.bias").block, 16);
    // The output projection is read through a Transpose of the stored [out, in] weight.
    let out = slice(heads, "attn.out_proj.weight");
    assert_eq!((out.axis, out.block, out.role), (1, 16, Role::Consumer));
    let mut edits = heads.edits.clone();
    edits.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        edits,
        [
            Edit::ShapeEntry {
                tensor: "attn.merge_heads_shape".into(),
                index: 2,
                block: 16,
                node: "/attn/context/Reshape_output_0".into()
            },
            Edit::ShapeEntry {
                tensor: "attn.split_heads_shape".into(),
                index: 2,
                block: 1,
                node: "/attn/k/Reshape_output_0".into()
            },
            Edit::ShapeEntry {
                tensor: "attn.split_heads_shape".into(),
                index: 2,
                block: 1,
                node: "/attn/q/Reshape_output_0".into()
            },
            Edit::ShapeEntry {
                tensor: "attn.split_heads_shape".into(),
                index: 2,
                block: 1,
                node: "/attn/v/Reshape_output_0".into()
            },
        ]
    );

    let mlp = produced_by(&groups, "/ffn/fc1/MatMul_output_0");
    assert_eq!((mlp.channels, mlp.unprunable.as_deref()), (256, None));
    assert_eq!(slice(mlp, "ffn.fc2.weight").role, Role::Consumer);
    assert_eq!(slice(mlp, "ffn.fc1.bias").role, Role::PerChannel);

    let stream = produced_by(&groups, "/attn/out_proj/MatMul_output_0");
    assert_eq!(
        stream.producers,
        ["/attn/out_proj/MatMul_output_0", "/ffn/fc2/MatMul_output_0"]
    );
    assert_eq!(
        stream.unprunable.as_deref(),
        Some("the graph input hidden carries the channels")
    );
    assert_eq!(groups.len(), 3);
}

/// The committed digits CNN: two conv groups and the hidden Gemm units are prunable; the
/// classifier's outputs are the graph's.
#[test]
fn digits_cnn_groups() {
    let (model, _) = crate::fixtures::load_analyzed("digits_cnn.onnx");
    let groups = detect(&model);
    let summary: Vec<(usize, bool)> = groups
        .iter()
        .map(|g| (g.channels, g.unprunable.is_some()))
        .collect();
    assert_eq!(groups.len(), 4, "{groups:#?}");
    assert_eq!(summary.iter().filter(|s| !s.1).count(), 3, "{groups:#?}");
    let flat = groups
        .iter()
        .flat_map(|g| &g.slices)
        .find(|s| s.role == Role::Consumer && s.block > 1);
    assert!(
        flat.is_some(),
        "the Flatten into the first Gemm gives a block: {groups:#?}"
    );
}

/// Every committed fixture, the quantized and grouped ones included: the groups fit.
#[test]
fn every_fixture_model_gives_groups_that_fit() {
    for name in crate::fixtures::MODELS {
        let (model, analysis) = crate::fixtures::load_analyzed(name);
        let groups = crate::structured::channel_groups(&model, &analysis).unwrap();
        build::check(&model, &groups);
    }
}
