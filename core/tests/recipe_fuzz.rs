//! 100,000 random mutations of valid recipes (characters and lines inserted, deleted, replaced)
//! through the parser, lowering and every rule: no panic, and the whole run stays well under a
//! minute. Each mutation builds on the last, so the text drifts far from valid YAML.

mod common;

use std::time::Instant;

use prunekit_core::recipe::{self, CheckOptions, ModelContext};

const SEEDS: &[&str] = &[
    "version: 1.1.0
# prunekit: model=digits_cnn.onnx
num_epochs: &num_epochs 10.0
init_lr: 0.01
pruning_start: 1.0
pruning_end: eval(num_epochs - 3)

modifiers:
    - !EpochRangeModifier
        start_epoch: 0.0
        end_epoch: *num_epochs

    - !GMPruningModifier
        init_sparsity: 0.05
        final_sparsity: 0.85
        start_epoch: eval(pruning_start)
        end_epoch: eval(pruning_end)
        update_frequency: 0.5
        params: ['conv1.weight', 're:fc.*', conv2.weight]
        inter_func: cubic
        mask_type: \"2:4\"

    - !SetLearningRateModifier
        learning_rate: 1.0e-3
        start_epoch: 0.0
",
    "training_stage:
  lr: 0.1
  training_modifiers:
    - !LearningRateFunctionModifier
      lr_func: cosine
      init_lr: eval(lr)
      final_lr: 1e-7
      start_epoch: 0.0
      end_epoch: 5.0
pruning_stage:
  pruning_modifiers:
    - !ConstantPruningModifier {params: __ALL_PRUNABLE__, start_epoch: 0.0}
    - !QuantizationModifier
      start_epoch: 2.0
      scheme: {input_activations: {num_bits: 8}}
",
    "---
title: a recipe card
---
# Notes, then a card
---
modifiers:
  - !MagnitudePruningModifier
    params: [fc1.weight]
    init_sparsity: 0.0
    final_sparsity: [0.5, 0.9]
    start_epoch: -1
    end_epoch: 10
    update_frequency: 1.0
---
",
];

const ALPHABET: &[u8] = b" \n\t-:!&*[]{},#'\"()0123456789.eE_abcxyzmodifiersparams^$|\\";

#[test]
fn random_mutations_never_panic() {
    let model = prunekit_core::load(&common::fixtures_dir().join("digits_cnn.onnx")).unwrap();
    let context =
        ModelContext::from_analysis(&prunekit_core::analyze(&model, &Default::default()).unwrap());
    let mut rng = common::Rng(0xfeed);
    let started = Instant::now();
    let n_mutations = 100_000;
    let per_seed = n_mutations / SEEDS.len();
    let mut n_diagnostics = 0usize;
    for (i, seed) in SEEDS.iter().enumerate() {
        let options = CheckOptions {
            is_markdown: i == 2,
            model: Some(&context),
            ..Default::default()
        };
        let mut text: Vec<u8> = seed.as_bytes().to_vec();
        for n in 0..per_seed {
            // Every 500 mutations start again from the seed, so texts stay recipe-like too.
            if n % 500 == 0 {
                text = seed.as_bytes().to_vec();
            }
            mutate(&mut text, &mut rng);
            let candidate = String::from_utf8_lossy(&text).into_owned();
            let checked = recipe::check(&candidate, &options);
            for d in &checked.diagnostics {
                assert!(
                    d.span.start <= d.span.end && d.span.end <= candidate.len(),
                    "{d:?} outside the text"
                );
                assert!(
                    candidate.is_char_boundary(d.span.start)
                        && candidate.is_char_boundary(d.span.end),
                    "{d:?}"
                );
            }
            n_diagnostics += checked.diagnostics.len();
        }
    }
    let elapsed = started.elapsed();
    println!("{n_mutations} mutated recipes checked in {elapsed:?} ({n_diagnostics} diagnostics)");
    assert!(elapsed.as_secs() < 60, "took {elapsed:?}");
}

fn mutate(text: &mut Vec<u8>, rng: &mut common::Rng) {
    let len = text.len().max(1);
    match rng.below(6) {
        0 => {
            let at = rng.below(len + 1).min(text.len());
            text.insert(at, ALPHABET[rng.below(ALPHABET.len())]);
        }
        1 if !text.is_empty() => {
            text.remove(rng.below(text.len()));
        }
        2 if !text.is_empty() => {
            let at = rng.below(text.len());
            text[at] = ALPHABET[rng.below(ALPHABET.len())];
        }
        3 => {
            // Duplicate a line somewhere else.
            let lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let line = lines[rng.below(lines.len())].clone();
            let at = rng.below(lines.len() + 1);
            let mut out = lines;
            out.insert(at, line);
            *text = out.join(&b'\n');
        }
        4 => {
            // Delete a line.
            let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            if lines.len() > 1 {
                lines.remove(rng.below(lines.len()));
            }
            *text = lines.join(&b'\n');
        }
        _ => {
            // A multi-byte character: spans must stay on character boundaries.
            let at = rng.below(len + 1).min(text.len());
            for (k, b) in "é😀".bytes().enumerate() {
                text.insert(at + k, b);
            }
        }
    }
}
