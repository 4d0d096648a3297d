//! Value and node names new to a graph, for the nodes and initializers a rewrite adds. ONNX names
//! are unique across a graph and the subgraphs of its If, Loop and Scan nodes, so every scope's
//! names count as taken.

use std::collections::HashSet;

use super::onnx::GraphProto;

/// Hands out value and node names that are new to the graph.
pub struct Names {
    taken: HashSet<String>,
}

impl Names {
    pub fn of(graph: &GraphProto) -> Names {
        let mut names = Names {
            taken: HashSet::new(),
        };
        names.take(graph);
        names
    }

    fn take(&mut self, graph: &GraphProto) {
        let taken = &mut self.taken;
        taken.extend(graph.input.iter().map(|v| v.name().to_string()));
        taken.extend(graph.output.iter().map(|v| v.name().to_string()));
        taken.extend(graph.initializer.iter().map(|t| t.name().to_string()));
        for node in &graph.node {
            taken.extend(node.output.iter().cloned());
            taken.extend(node.name.iter().cloned());
        }
        for subgraph in graph.node.iter().flat_map(super::subgraphs) {
            self.take(subgraph);
        }
    }

    /// `base_suffix`, or `base_suffix_2`, `_3`… when that is taken.
    pub fn fresh(&mut self, base: &str, suffix: &str) -> String {
        let mut name = format!("{base}_{suffix}");
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}_{suffix}_{n}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}
