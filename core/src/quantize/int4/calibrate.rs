//! GPTQ's calibration: each target layer's input statistics (`XᵀX`) collected on the float
//! model, in passes whose statistics fit a memory budget together, each layer quantized as soon
//! as its pass ends so that its statistics can go; each pass runs the model from where the last
//! one stopped (`collect::Frontier`).

use std::collections::HashMap;

use super::gptq;
use super::{Chosen, Int4Settings, rtn, weight_matrix};
use crate::analysis::Skipped;
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::ModelProto;
use crate::progress::{Cancel, Progress};
use crate::quantize::targets::Target;
use crate::reconstruct::Products;
use crate::reconstruct::collect::{Collector, Frontier};
use crate::reconstruct::layout::{self, LayerLayout};
use crate::runtime::Batch;

/// GPTQ on every target: the packed weights, the layers left float, and notes.
pub fn gptq_all(
    proto: &ModelProto,
    analysis: &crate::ModelAnalysis,
    targets: &[Target],
    settings: &Int4Settings,
    batches: &[Batch],
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Chosen> {
    if batches.is_empty() {
        return Err(Error::Usage(
            "GPTQ reads each layer's inputs on calibration samples and none were given; give samples or use round-to-nearest.".into(),
        ));
    }
    let graph = proto.graph.as_ref().expect("the caller checked the graph");
    let index = GraphIndex::new(graph);
    let mut layouts: Vec<(usize, LayerLayout)> = Vec::new();
    let mut skipped = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let layout = analysis
            .layer(&t.name)
            .ok_or_else(|| "it is not in the model's analysis".to_string())
            .and_then(|layer| {
                layout::of(layer, &graph.node[t.node], &index).map_err(|e| e.to_string())
            });
        match layout {
            Ok(l) => layouts.push((i, l)),
            Err(reason) => skipped.push(Skipped {
                name: t.name.clone(),
                reason: format!("GPTQ cannot read its inputs: {reason}"),
            }),
        }
    }
    // GPTQ reads each layer's whole XᵀX: refuse before anything runs where one cannot be held.
    for (t, l) in &layouts {
        Collector::fits(
            &targets[*t].name,
            l,
            Products::Full,
            Sentence::new("quantize it with ")
                .set(Setting::Rounding, "rtn")
                .text(", which reads no samples, or keep it float"),
        )?;
    }
    let passes = layout::passes(layouts.iter().map(|(_, l)| l));
    let total = (passes.len() * batches.len()) as u64;
    let mut done = 0u64;
    let mut packed = HashMap::new();
    let mut notes = Vec::new();
    // The float model never changes: each pass runs only the nodes between the previous pass's
    // layers and its own (what earlier passes computed and later ones read is kept), so no
    // pass holds more of the model than its own stretch of it.
    let mut frontier = Frontier::new(batches.len());
    for pass in passes {
        let mut collectors: Vec<Collector> = pass
            .iter()
            .map(|&l| Collector::new(&targets[layouts[l].0].name, &layouts[l].1))
            .collect();
        frontier.collect(proto, &mut collectors, batches, cancel, &mut |_| {
            done += 1;
            progress.report(done, total, "GPTQ: layer inputs on calibration samples");
        })?;
        for (collector, &l) in collectors.into_iter().zip(&pass) {
            cancel.check()?;
            let t = &targets[layouts[l].0];
            let (w, k, n) = weight_matrix(t, graph)?;
            let stats = &collector.stats[0];
            let p = match gptq::quantize(&w, stats, k, n, settings.block, settings.symmetric) {
                Ok((p, report)) => {
                    if report.dead_columns > 0 {
                        notes.push(format!(
                            "Layer {}: {} of its {k} inputs were 0 on every sample; GPTQ zeroed their weights.",
                            t.name, report.dead_columns
                        ));
                    }
                    p
                }
                Err(why) => {
                    notes.push(format!(
                        "Layer {} was rounded to nearest instead of GPTQ: {why}.",
                        t.name
                    ));
                    rtn::quantize(&w, k, n, settings.block, settings.symmetric)
                }
            };
            packed.insert(t.name.clone(), p.into_tensors());
        }
    }
    Ok(Chosen {
        packed,
        skipped,
        notes,
    })
}
