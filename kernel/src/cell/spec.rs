//! Every command of the cell language with its synopsis, description and flags: help, completion
//! and inspect all read this one table.

pub struct CommandSpec {
    pub name: &'static str,
    pub synopsis: &'static str,
    pub summary: &'static str,
    pub flags: &'static [(&'static str, &'static str)],
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "load",
        synopsis: "load PATH [--input NAME=D0,D1,..] [--dim SYMBOL=SIZE]",
        summary: "Analyze an ONNX model and make it the current one: shapes, params, prunable layers, existing sparsity, MACs and FLOPs. Free dims are 1 unless sized; the sizes are kept in the model's project file (PATH.prunekit.json) and reused by the next `load` of the same model.",
        flags: &[
            (
                "--input",
                "the whole shape of one input: --input input_ids=8,128",
            ),
            (
                "--dim",
                "the size of a named free dim in every input: --dim batch=8",
            ),
        ],
    },
    CommandSpec {
        name: "layers",
        synopsis: "layers [--sort name|params|flops|macs] [--top N] [--match REGEX]",
        summary: "The current model's layers as a chart of params and FLOPs and a table.",
        flags: &[
            (
                "--sort",
                "order by name (A to Z), or by params, flops or macs (largest first); graph order without it",
            ),
            ("--top", "only the first N layers after sorting"),
            (
                "--match",
                "only layers whose name, op type or weight matches the regular expression",
            ),
        ],
    },
    CommandSpec {
        name: "profile",
        synopsis: "profile perf [--batch N] [--threads N] [--iterations N] [--warmup N] [--flops] [--level S] [--log] [--name NAME]\nprofile loss [--method approx|magnitude|one-shot] [--prune magnitude|wanda|sparsegpt] [--data FILE.npz] [--samples N] [--batch N] [--levels LIST] [--quantization [--dynamic|--int4] [--calibration minmax|percentile[:P]|entropy] [--per-tensor]] [--sorted] [--show LAYERS] [--name NAME]\nprofile loss --structure channel [--data FILE.npz] [--samples N] [--batch N] [--levels FRACTIONS] [--name NAME]",
        summary: "Profile the current model and save the profile by name in its project file. `perf` times every layer in ONNX Runtime (fused work attributed to its layer) and estimates what pruning each layer would save on a sparsity-aware engine (DeepSparse-like; the estimate's error measured against DeepSparse is in docs/benchmarks.md); --flops counts FLOPs instead, running nothing. `loss` measures how much pruning each layer alone hurts: approx (from shapes), magnitude (the weights removed; the default) or one-shot (each layer pruned and the model run on --data FILE.npz, arrays named after the inputs plus optional `labels`, or on seeded random inputs). --quantization adds the int8 sensitivity of each layer: the layer quantized alone (static QDQ, calibrated on the same samples) and run in ONNX Runtime, then every layer at once. --structure channel measures instead how much removing whole channels hurts: each channel dependency group (the channels a convolution computes and every layer that must lose them with it) loses each fraction of its channels alone, the least important first, and the smaller model runs on the samples; groups that cannot lose channels are listed with the reason.",
        flags: &[
            (
                "--batch",
                "samples per run (perf: the batch timed; default: the loaded batch)",
            ),
            (
                "--threads",
                "ONNX Runtime threads per operator (default: the threads setting)",
            ),
            (
                "--iterations",
                "timed runs (default 20; 20 or more run in rounds a second apart, the fastest kept)",
            ),
            ("--warmup", "untimed runs first (default 5)"),
            ("--flops", "a FLOPs-only profile: nothing is run"),
            (
                "--level",
                "the sparsity the charts and table show estimates at (default 0.9)",
            ),
            ("--log", "a log scale for the per-layer chart"),
            ("--method", "approx, magnitude (default) or one-shot"),
            (
                "--data",
                "one-shot: an .npz with one array per model input, optional `labels`",
            ),
            (
                "--samples",
                "one-shot: the first N samples of --data, or N generated ones",
            ),
            (
                "--levels",
                "one-shot: sparsities, default 0,0.2,0.4,0.6,0.7,0.8,0.85,0.9,0.95,0.99",
            ),
            (
                "--quantization",
                "also measure how much int8 quantization of each layer alone hurts (on --data, or generated samples)",
            ),
            (
                "--dynamic",
                "quantization: dynamic (MatMul and Gemm, no calibration) instead of static",
            ),
            (
                "--int4",
                "quantization: int4 weight-only (MatMul and Gemm in 4-bit blocks of 32, round to nearest, MatMulNBits) instead of static int8",
            ),
            (
                "--calibration",
                "quantization: minmax (default), percentile, percentile:P (such as percentile:99.99) or entropy; every layer at once is also measured with each of minmax, percentile and entropy",
            ),
            (
                "--prune",
                "one-shot: how each layer is pruned at each level: magnitude (default), wanda or sparsegpt (these read --data), as `export model --method` will prune it",
            ),
            (
                "--per-tensor",
                "quantization: one weight scale per tensor instead of per output channel",
            ),
            (
                "--structure",
                "channel: each channel group loses fractions of its channels (default 0.1,0.25,0.5,0.75,0.9) instead of each layer losing weights",
            ),
            (
                "--sorted",
                "the sensitivity chart largest first instead of graph order",
            ),
            (
                "--show",
                "comma-separated layers for the sensitivity-against-sparsity chart",
            ),
            (
                "--name",
                "the name to save under (default: baseline, flops, or the loss method)",
            ),
        ],
    },
    CommandSpec {
        name: "profiles",
        synopsis: "profiles [--compare NAME,NAME]",
        summary: "List the current model's saved profiles, marking the latest of each kind (the one the editor shows). --compare draws saved loss profiles side by side, one bar per profile for each layer's sensitivity (for example the same one-shot profile pruned by magnitude and by sparsegpt).",
        flags: &[(
            "--compare",
            "loss profiles to draw side by side, by name, separated by commas",
        )],
    },
    CommandSpec {
        name: "optimize",
        synopsis: "optimize [--sparsity S] [--balance B] [--min-sparsity S|off] [--min-speedup X|off] [--min-recovery R|off] [--perf NAME|flops] [--loss NAME|approx] [--epochs E] [--lr INIT[:FINAL]] [--quantize static|dynamic|off] [--calibration minmax|percentile[:P]|entropy] [--per-tensor] [--name NAME]\noptimize --structure channel --speedup X|--flops-reduction F [--perf NAME|flops] [--loss NAME] [--quantize static|dynamic|off] [--name NAME]",
        summary: "Fit a sparsity per prunable layer so the model reaches the target average, cheapest layers first: the cost of pruning each layer blends its loss profile with the time it saves (--balance 0 = performance, 1 = loss). The first prunable layer and grouped convolutions stay dense unless overridden; sparsity a filter removes goes to the other layers. Gives estimates (time, FLOPs, params, recovery) and the training schedule, and saves the optimization by name (default: default). Without --perf and --loss it uses the latest profiles, else FLOPs and the approximation. --quantize adds int8 quantization to the plan: `export model` applies it after pruning, `export recipe` writes a QuantizationModifier for the last epochs, and layers the loss profile's quantization section finds too sensitive (over 1 point of accuracy alone) stay float. --structure channel fits instead how many whole channels each channel group loses so the model gets --speedup X times faster (on the perf profile's measured layer times; FLOPs without one) or has --flops-reduction F times fewer FLOPs, at the least loss the channel loss profile measured; `export model` then writes a smaller dense model, faster on any runtime.",
        flags: &[
            (
                "--sparsity",
                "the average sparsity to reach over the prunable weights (default 0.85)",
            ),
            (
                "--balance",
                "0 optimizes for performance, 1 for loss (default 1)",
            ),
            (
                "--min-sparsity",
                "leave layers below this dense and give their share to the others (default 0.4; off)",
            ),
            (
                "--min-speedup",
                "leave layers whose estimated time ratio is below this dense (off by default)",
            ),
            (
                "--min-recovery",
                "leave layers whose recovery confidence is below this dense (off by default)",
            ),
            ("--perf", "a performance profile name, or flops"),
            ("--loss", "a loss profile name, or approx"),
            (
                "--epochs",
                "training epochs for the schedule (saved as a setting)",
            ),
            (
                "--lr",
                "initial[:final] learning rate for the schedule (saved as a setting)",
            ),
            (
                "--quantize",
                "static (Conv, Gemm, MatMul; calibrated), dynamic (MatMul, Gemm) or off; kept when redone without it",
            ),
            (
                "--calibration",
                "quantization: minmax, percentile, percentile:P or entropy (default: kept when redone, else the best the loss profile measured, else minmax)",
            ),
            (
                "--per-tensor",
                "quantization: one weight scale per tensor instead of per output channel",
            ),
            (
                "--structure",
                "channel: remove whole channels (a smaller dense model) instead of single weights",
            ),
            (
                "--speedup",
                "structure: how many times faster the model should get, such as 1.5",
            ),
            (
                "--flops-reduction",
                "structure: how many times fewer FLOPs the model should have, such as 2",
            ),
            (
                "--name",
                "the optimization to make or redo (default: default); its overrides are kept",
            ),
        ],
    },
    CommandSpec {
        name: "override",
        synopsis: "override LAYER|re:REGEX SPARSITY|off [--name NAME]",
        summary: "Pin the sparsity of a layer (by layer or weight name, or re: a pattern) in the latest optimization, or leave it dense with off; the other layers are fitted again to the same target. Overrides are kept in the optimization and marked.",
        flags: &[("--name", "the optimization to change (default: the latest)")],
    },
    CommandSpec {
        name: "export",
        synopsis: "export recipe PATH [--names MAP.json] [--format sparseml|llm-compressor] | export code PATH [--framework pytorch] [--training] [--recipe FILE] | export model PATH [--data FILE.npz] [--method magnitude|wanda|sparsegpt] [--pattern unstructured|2:4|4:8] [--samples N] [--quantize static|dynamic|int4] [--block 32|64|128] [--rounding rtn|gptq] [--symmetric] [--calibration-data FILE.npz] [--calibration minmax|percentile[:P]|entropy] [--per-tensor] [--keep-float LAYERS|auto] [--external-data auto|always|never] [--optimization NAME]",
        summary: "Write the latest (or --optimization) optimization: a SparseML recipe with the modeline the editor reads (--format llm-compressor: llm-compressor's staged recipe of the one-shot plan, with --method, --pattern and the int4 flags as export model takes them), PyTorch integration code (--training: a full training loop), or the ONNX model pruned to the plan (by SparseGPT reconstruction from the samples when --data or --calibration-data is given, else by magnitude; --method picks, --pattern 2:4 gives the N:M pattern sparse tensor cores run) and, when the optimization (or --quantize) asks for it, quantized to int8, or with --quantize int4 its MatMul and Gemm weights to 4-bit blocks that ONNX Runtime's MatMulNBits runs, activations float (--data with labels reports the accuracy before and after; calibration reads --calibration-data, else --data, else generated samples). With --quantize and no optimization yet, the dense model is quantized. The written model is run beside the original and their agreement reported; when it no longer agrees, the first line says so, names the layers the int8 sensitivity blames, and --keep-float repairs it. Files are replaced only once the new one is complete. A model over protobuf's 2 GB limit keeps its tensors over 1 KB in a data file beside it (MODEL.onnx.data, ONNX's external data); --external-data always does so for any model, never refuses one over 2 GB.",
        flags: &[
            ("--optimization", "which optimization (default: the latest)"),
            (
                "--names",
                "recipe: a JSON object mapping ONNX weight names to the framework's parameter names",
            ),
            ("--framework", "code: pytorch"),
            (
                "--training",
                "code: a complete training loop instead of the integration snippet",
            ),
            (
                "--recipe",
                "code: the recipe file the code loads (default: MODEL_STEM.recipe.yaml)",
            ),
            (
                "--data",
                "model: an .npz with labels, to report the accuracy before and after",
            ),
            (
                "--method",
                "model: how the plan's layers are pruned: magnitude, wanda or sparsegpt (default: sparsegpt with samples, else magnitude)",
            ),
            (
                "--pattern",
                "model: where the zeros go: unstructured (default), 2:4 or 4:8 (N zeros in every M weights of a row)",
            ),
            (
                "--samples",
                "model: the samples wanda and sparsegpt read (default 128; the first N of the data)",
            ),
            (
                "--quantize",
                "model: static or dynamic int8, or int4 weight-only, instead of what the optimization asks for",
            ),
            (
                "--block",
                "model, int4: weights per scale along each input row: 32 (default, closest to float), 64 or 128 (smallest file)",
            ),
            (
                "--rounding",
                "model, int4: rtn (default: round to nearest, no data) or gptq (each rounding error compensated on the calibration samples)",
            ),
            (
                "--symmetric",
                "model, int4: no zero points (each block symmetric around 0)",
            ),
            (
                "--calibration-data",
                "model: the .npz calibration reads (default: --data, else generated samples)",
            ),
            (
                "--calibration",
                "model: minmax (default), percentile, percentile:P or entropy",
            ),
            (
                "--per-tensor",
                "model: one weight scale per tensor instead of per output channel",
            ),
            (
                "--keep-float",
                "model: layers to leave float (LAYER,LAYER), or auto: the most int8-sensitive, one more at a time until the model agrees",
            ),
            (
                "--external-data",
                "model: where tensors over 1 KB go: auto (default: a data file beside the model only past 2 GB), always, or never (one file)",
            ),
            (
                "--format",
                "recipe: sparseml (default: pruning while training) or llm-compressor (the one-shot plan, staged)",
            ),
        ],
    },
    CommandSpec {
        name: "benchmark",
        synopsis: "benchmark [--batch LIST] [--threads LIST] [--iterations N | --seconds S] [--warmup N] [--optimization NAME] [--quantize static|dynamic|int4|off] [--name NAME]",
        summary: "Time the model in ONNX Runtime for each batch size and thread count: ms per batch (mean, p50, p90, p99), ms per item and items per second, with charts. With --optimization, the optimization's pruned model is timed beside the dense one and the measured speedup shown next to the estimate (ONNX Runtime's CPU kernels are dense, so expect about 1x there). With --quantize (or an optimization that quantizes) the int8 model is timed too, and the pruned int8 one with --optimization: the measured speedups of each over dense. Saved in the project file.",
        flags: &[
            (
                "--batch",
                "batch sizes, such as 1,8,32 (default: the loaded batch)",
            ),
            (
                "--threads",
                "ONNX Runtime threads per operator, such as 1,2 or auto (default: the threads setting)",
            ),
            (
                "--iterations",
                "timed runs per configuration (default: Sparsify's rule, 30 at batch 1 and fewer for larger batches)",
            ),
            (
                "--seconds",
                "instead of a count, a time budget: timed runs until S seconds have passed (at least 3, at most 10000) per configuration",
            ),
            ("--warmup", "untimed runs first (default 5)"),
            (
                "--optimization",
                "also time this optimization's pruned model",
            ),
            (
                "--quantize",
                "also time the quantized model: static or dynamic int8, or int4 (weight-only, round to nearest in blocks of 32) (default: what the optimization asks for; off to skip)",
            ),
            (
                "--name",
                "the name to save under (default: the optimization, or dense)",
            ),
        ],
    },
    CommandSpec {
        name: "settings",
        synopsis: "settings [KEY[=VALUE] ...]",
        summary: "Show or change settings: threads (ONNX Runtime threads per operator, or auto), seed (for generated inputs), and the training settings an optimization's schedule is made from: optimizer (sgd, adam, rmsprop), epochs, lr (INIT or INIT:FINAL, such as 0.1:0.001). Settings are saved in the current model's project file.",
        flags: &[],
    },
    CommandSpec {
        name: "help",
        synopsis: "help [COMMAND]",
        summary: "List the commands, or explain one.",
        flags: &[],
    },
    CommandSpec {
        name: "echo",
        synopsis: "echo TEXT",
        summary: "Print TEXT.",
        flags: &[],
    },
    CommandSpec {
        name: "sleep",
        synopsis: "sleep SECONDS",
        summary: "Wait, showing progress; interruptible. For trying a client's progress display and interrupt button.",
        flags: &[],
    },
];

pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// A command's help as plain text.
pub fn help_text(spec: &CommandSpec) -> String {
    let mut text = format!("{}\n\n{}\n", spec.synopsis, spec.summary);
    if !spec.flags.is_empty() {
        text.push('\n');
        for (flag, what) in spec.flags {
            text.push_str(&format!("  {flag:<10} {what}\n"));
        }
    }
    text
}
