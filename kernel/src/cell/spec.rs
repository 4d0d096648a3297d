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
        name: "settings",
        synopsis: "settings [KEY[=VALUE] ...]",
        summary: "Show or change settings: threads (ONNX Runtime threads per operator, or auto) and seed (for generated inputs). Settings are saved in the current model's project file.",
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
