//! Completion: command names at the start of a line, a command's flags, file paths after `load`,
//! sort keys, settings keys, and layer names after `--match`. Cursor positions are Unicode code
//! points, as the protocol says (not bytes, not UTF-16 units).

use std::path::Path;

use super::spec;
use crate::session::KernelSession;

#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    /// The kind JupyterLab shows next to it: keyword, param, path, instance.
    pub kind: &'static str,
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Completions {
    pub matches: Vec<Completion>,
    /// Code-point offsets of the text the matches replace.
    pub start: usize,
    pub end: usize,
}

/// The byte offset of code point `n` (clamped to the end).
pub fn byte_offset(code: &str, n: usize) -> usize {
    code.char_indices().nth(n).map_or(code.len(), |(b, _)| b)
}

/// The word being typed: from the last space (or an unclosed quote) to the cursor.
fn current_word(line: &str) -> &str {
    let quote_start = {
        let mut open = None;
        for (i, c) in line.char_indices() {
            match (open, c) {
                (None, '"' | '\'') => open = Some((i, c)),
                (Some((_, q)), c) if c == q => open = None,
                _ => {}
            }
        }
        open.map(|(i, _)| i + 1)
    };
    let start = quote_start.unwrap_or_else(|| line.rfind(char::is_whitespace).map_or(0, |i| i + 1));
    &line[start..]
}

pub fn complete(session: &KernelSession, code: &str, cursor_pos: usize) -> Completions {
    let cursor = byte_offset(code, cursor_pos);
    let line_start = code[..cursor].rfind('\n').map_or(0, |i| i + 1);
    let line = &code[line_start..cursor];
    let word = current_word(line);
    // The words before the one being typed, without the quote that opens it.
    let head = &line[..line.len() - word.len()];
    let head = head.strip_suffix(['"', '\'']).unwrap_or(head);
    let before: Vec<String> = super::parse::words(head).unwrap_or_default();
    let matches = candidates(session, &before, word)
        .into_iter()
        .filter(|c| c.text.starts_with(word) || (c.kind == "path" && word.is_empty()))
        .collect();
    Completions {
        matches,
        start: cursor_pos - word.chars().count(),
        end: cursor_pos,
    }
}

fn keyword(text: &str, kind: &'static str, signature: Option<&str>) -> Completion {
    Completion {
        text: text.to_string(),
        kind,
        signature: signature.map(str::to_string),
    }
}

fn candidates(session: &KernelSession, before: &[String], word: &str) -> Vec<Completion> {
    let Some(verb) = before.first() else {
        return spec::COMMANDS
            .iter()
            .map(|c| keyword(c.name, "keyword", Some(c.synopsis)))
            .collect();
    };
    let Some(command) = spec::find(verb) else {
        return Vec::new();
    };
    if word.starts_with('-') {
        return command
            .flags
            .iter()
            .map(|(flag, what)| keyword(flag, "param", Some(what)))
            .collect();
    }
    let previous = before.last().map(String::as_str).unwrap_or_default();
    match (verb.as_str(), previous) {
        ("load", "load") => paths(word, ".onnx"),
        ("profile", "profile") => [
            ("perf", "time every layer"),
            ("loss", "how much pruning each layer hurts"),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("profile", "--method") => ["approx", "magnitude", "one-shot"]
            .iter()
            .map(|k| keyword(k, "keyword", None))
            .collect(),
        ("profile" | "export", "--data" | "--calibration-data") => paths(word, ".npz"),
        ("export", "--method") | ("profile", "--prune") => [
            ("sparsegpt", "reconstructs each layer from samples"),
            ("wanda", "|w|·‖x‖ from samples, no update"),
            ("magnitude", "the smallest weights, no samples"),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("profile" | "optimize", "--structure") => [keyword(
            "channel",
            "keyword",
            Some("whole channels: a smaller dense model"),
        )]
        .into(),
        ("export", "--rounding") => [
            ("rtn", "round to nearest: no data needed"),
            (
                "gptq",
                "GPTQ: rounding errors compensated on calibration samples",
            ),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("export", "--block") => [
            ("32", "a scale per 32 weights (default; closest to float)"),
            ("64", "a scale per 64 weights"),
            ("128", "a scale per 128 weights (smallest)"),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("export", "--pattern") => [
            ("unstructured", "zeros anywhere"),
            ("2:4", "2 zeros in every 4 weights of a row"),
            ("4:8", "4 zeros in every 8 weights of a row"),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("optimize" | "export" | "benchmark", "--quantize") => [
            ("static", "Conv, Gemm and MatMul; calibrated activations"),
            (
                "dynamic",
                "MatMul and Gemm; activations quantized at run time",
            ),
            (
                "int4",
                "MatMul and Gemm weights in 4-bit blocks (MatMulNBits); activations float",
            ),
            ("off", "no quantization"),
        ]
        .iter()
        .filter(|(k, _)| verb != "export" || *k != "off")
        .filter(|(k, _)| verb != "optimize" || *k != "int4")
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("export", "--format") => [
            (
                "sparseml",
                "SparseML's tagged recipe: pruning while training",
            ),
            (
                "llm-compressor",
                "llm-compressor's staged recipe: the one-shot plan",
            ),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("export", "--external-data") => [
            ("auto", "a data file beside the model only past 2 GB"),
            ("always", "tensors over 1 KB in MODEL.onnx.data"),
            ("never", "one file; refused past 2 GB"),
        ]
        .iter()
        .map(|(k, what)| keyword(k, "keyword", Some(what)))
        .collect(),
        ("profile" | "optimize" | "export", "--calibration") => [
            "minmax",
            "percentile",
            "percentile:99.99",
            "percentile:99.9",
            "entropy",
        ]
        .iter()
        .map(|k| keyword(k, "keyword", None))
        .collect(),
        ("profile", "--show") => match &session.current {
            Some(loaded) => loaded
                .analysis
                .layers
                .iter()
                .filter(|l| l.is_prunable)
                .map(|l| keyword(&l.name, "instance", Some(&l.op_type)))
                .collect(),
            None => Vec::new(),
        },
        ("layers", "--sort") => ["name", "params", "flops", "macs"]
            .iter()
            .map(|k| keyword(k, "keyword", None))
            .collect(),
        ("layers", "--match") => match &session.current {
            Some(loaded) => loaded
                .analysis
                .layers
                .iter()
                .map(|l| keyword(&l.name, "instance", Some(&l.op_type)))
                .collect(),
            None => Vec::new(),
        },
        ("help", "help") => spec::COMMANDS
            .iter()
            .map(|c| keyword(c.name, "keyword", Some(c.synopsis)))
            .collect(),
        ("settings", _) => super::settings::completions()
            .iter()
            .map(|k| keyword(k, "param", None))
            .collect(),
        _ => Vec::new(),
    }
}

/// Folders and files ending in `extension` under the directory part of `word` (relative to the
/// kernel's folder).
fn paths(word: &str, extension: &str) -> Vec<Completion> {
    let (dir, _) = word.rsplit_once('/').map_or(("", word), |(d, f)| (d, f));
    let listing = if dir.is_empty() && !word.starts_with('/') {
        Path::new(".")
    } else {
        Path::new(dir)
    };
    let listing = if word.starts_with('/') && dir.is_empty() {
        Path::new("/")
    } else {
        listing
    };
    let Ok(entries) = std::fs::read_dir(listing) else {
        return Vec::new();
    };
    let mut found: Vec<Completion> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if name.starts_with('.') || !(is_dir || name.ends_with(extension)) {
                return None;
            }
            let prefix = if word.contains('/') {
                format!("{dir}/")
            } else {
                String::new()
            };
            let text = format!("{prefix}{name}{}", if is_dir { "/" } else { "" });
            Some(keyword(&text, "path", None))
        })
        .collect();
    found.sort_by(|a, b| a.text.cmp(&b.text));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(c: &Completions) -> Vec<&str> {
        c.matches.iter().map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn commands_flags_and_keys() {
        let s = KernelSession::default();
        assert_eq!(texts(&complete(&s, "lo", 2)), vec!["load"]);
        let c = complete(&s, "layers --s", 10);
        assert_eq!(texts(&c), vec!["--sort"]);
        assert_eq!((c.start, c.end), (7, 10));
        assert_eq!(texts(&complete(&s, "layers --sort f", 15)), vec!["flops"]);
        assert_eq!(texts(&complete(&s, "echo x\nhe", 9)), vec!["help"]);
        assert_eq!(
            texts(&complete(&s, "optimize --quantize ", 20)),
            vec!["static", "dynamic", "off"]
        );
        assert_eq!(
            texts(&complete(&s, "export model x.onnx --quantize d", 32)),
            vec!["dynamic"]
        );
        assert_eq!(
            texts(&complete(&s, "export model x.onnx --external-data a", 37)),
            vec!["auto", "always"]
        );
        assert_eq!(
            texts(&complete(
                &s,
                "profile loss --quantization --calibration p",
                44
            )),
            vec!["percentile", "percentile:99.99", "percentile:99.9"]
        );
        assert_eq!(
            texts(&complete(
                &s,
                "optimize --quantize static --calibration e",
                42
            )),
            vec!["entropy"]
        );
        let line = "export model out.onnx --method s";
        assert_eq!(texts(&complete(&s, line, line.len())), vec!["sparsegpt"]);
        let line = "profile loss --method one-shot --prune w";
        assert_eq!(texts(&complete(&s, line, line.len())), vec!["wanda"]);
        let line = "export model out.onnx --quantize int4 --rounding g";
        assert_eq!(texts(&complete(&s, line, line.len())), vec!["gptq"]);
        let line = "export model out.onnx --quantize i";
        assert_eq!(texts(&complete(&s, line, line.len())), vec!["int4"]);
        let line = "export model out.onnx --pattern 2";
        assert_eq!(texts(&complete(&s, line, line.len())), vec!["2:4"]);
    }

    #[test]
    fn cursor_positions_count_code_points() {
        let s = KernelSession::default();
        let code = "load \"modèle😀/x";
        let n = code.chars().count();
        let c = complete(&s, code, n);
        assert_eq!(c.end, n);
        assert_eq!(c.start, n - "modèle😀/x".chars().count());
        assert_eq!(byte_offset(code, n), code.len());
        // An open quote does not hide the command: the path is still completed.
        let dir = std::env::temp_dir().join(format!("prunekit-complete-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("modèle.onnx"), b"").unwrap();
        let code = format!("load \"{}/mod", dir.display());
        let c = complete(&s, &code, code.chars().count());
        assert_eq!(texts(&c), vec![format!("{}/modèle.onnx", dir.display())]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(byte_offset("é😀a", 2), "é😀".len());
    }
}
