//! Groups that cannot be pruned, each with the one sentence that names the node.

use super::build::{A, Graph, detect, produced_by};

fn reason(graph: &Graph, layer: &str) -> Option<String> {
    produced_by(&detect(&graph.model()), layer)
        .unprunable
        .clone()
}

#[test]
fn a_reshape_that_mixes_the_channel_axis_keeps_the_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 2, 2])
        .conv("a", "x", 3, 4, 1, 1)
        .ints("shape", &[1, 2, 8])
        .node("Reshape", &["a", "shape"], "r", &[])
        .output("r");
    assert_eq!(
        reason(&g, "a").as_deref(),
        Some("Reshape r mixes the channel axis with another axis")
    );
}

#[test]
fn a_weight_shared_with_another_node_keeps_the_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4])
        .conv("a", "x", 3, 4, 1, 1)
        .conv("b", "a", 4, 2, 1, 1)
        .node("Neg", &["a.weight"], "negated", &[])
        .output("b")
        .output("negated");
    assert_eq!(
        reason(&g, "a").as_deref(),
        Some("the weight a.weight is shared with Neg negated, outside the group")
    );
}

#[test]
fn an_op_of_unknown_channel_semantics_keeps_the_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4])
        .conv("a", "x", 3, 4, 1, 1)
        .node("LRN", &["a"], "lrn", &[("size", A::I(3))])
        .conv("b", "lrn", 4, 2, 1, 1)
        .output("b");
    assert_eq!(
        reason(&g, "a").as_deref(),
        Some("LRN lrn reads the channels, and how it uses them is not known")
    );
}

#[test]
fn a_shape_read_of_the_channel_count_keeps_the_channels() {
    let build = |index: i64| {
        let mut g = Graph::default();
        g.input("x", &[1, 3, 4, 4])
            .conv("a", "x", 3, 4, 1, 1)
            .conv("b", "a", 4, 2, 1, 1)
            .node("Shape", &["a"], "s", &[])
            .ints("which", &[index])
            .node("Gather", &["s", "which"], "n", &[])
            .output("b")
            .output("n");
        g
    };
    assert_eq!(
        reason(&build(1), "a").as_deref(),
        Some("Shape s reads the channel count of a")
    );
    assert_eq!(reason(&build(2), "a"), None);
}

#[test]
fn conv_transpose_keeps_its_channels_and_those_it_reads() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4])
        .conv("a", "x", 3, 4, 1, 1)
        .weight("t.weight", &[4, 2, 2, 2])
        .node(
            "ConvTranspose",
            &["a", "t.weight"],
            "t",
            &[("strides", A::Is(vec![2, 2]))],
        )
        .conv("b", "t", 2, 2, 1, 1)
        .output("b");
    let sentence = "ConvTranspose t is a transposed convolution, which is not pruned";
    assert_eq!(reason(&g, "a").as_deref(), Some(sentence));
    assert_eq!(reason(&g, "t").as_deref(), Some(sentence));
}

#[test]
fn a_graph_output_keeps_its_channels() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4])
        .conv("a", "x", 3, 4, 1, 1)
        .node("Relu", &["a"], "y", &[])
        .output("y");
    assert_eq!(
        reason(&g, "a").as_deref(),
        Some("the graph output y carries the channels")
    );
}

#[test]
fn a_one_channel_attention_map_stays_and_the_channels_it_scales_are_free() {
    let mut g = Graph::default();
    g.input("x", &[1, 3, 4, 4])
        .conv("a", "x", 3, 4, 3, 1)
        .conv("att", "a", 4, 1, 3, 1)
        .node("Sigmoid", &["att"], "mask", &[])
        .node("Mul", &["a", "mask"], "attended", &[])
        .conv("b", "attended", 4, 2, 1, 1)
        .output("b");
    assert_eq!(reason(&g, "a"), None);
    assert_eq!(
        reason(&g, "att").as_deref(),
        Some("Mul attended spreads one channel over the 4 channels of another input")
    );
}
