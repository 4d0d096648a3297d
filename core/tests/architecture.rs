//! The invariants `docs/architecture.md` states, checked against the source tree so that a change
//! that breaks one fails `cargo test` rather than waiting for a review to notice.
//!
//! The checks read the workspace's `.rs` files as text. They are deliberately simple (no Rust
//! parser): `use` paths and `crate::`/`super::` paths give the module graph; test code (files named
//! `tests.rs`/`testing.rs` and `#[cfg(test)] mod tests` blocks) is left out, since tests may reach
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Files that are essentially data (a table of modifiers and their fields) and may be long.
const DATA_TABLES: &[&str] = &["core/src/recipe/catalog/table.rs"];
const MAX_FILE_LINES: usize = 1_500;
const MAX_CELL_MODULE_LINES: usize = 450;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ lies in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, as (path relative to the workspace, text).
fn sources(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = workspace();
    let mut paths = Vec::new();
    walk(&root.join(dir), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("source file is readable");
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, text)
        })
        .collect()
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("/tests.rs")
        || path.ends_with("/testing.rs")
        || path.ends_with("/fixtures.rs")
        || path.contains("/tests/")
}

/// The text before a file's `#[cfg(test)]` unit-test module, with `//` comments removed.
fn production_code(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|line| match line.find("//") {
            // Keep `//` inside string literals such as URLs ("https://...").
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module path of a core source file: `core/src/profile/perf/mod.rs` -> `profile::perf`.
fn module_of(path: &str) -> Option<String> {
    let rel = path.strip_prefix("core/src/")?.strip_suffix(".rs")?;
    let mut parts: Vec<&str> = rel.split('/').collect();
    if parts.last() == Some(&"mod") {
        parts.pop();
    }
    if parts == ["lib"] {
        return None;
    }
    Some(parts.join("::"))
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.len().saturating_sub(1)];
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            expand_use(&p)
                .into_iter()
                .map(move |e| format!("{prefix}{e}"))
        })
        .collect()
}

/// The edges of core's module graph: module -> modules it names (parents and children excluded,
/// since a module and its own submodules are one unit).
fn core_module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, String)> = sources("core/src")
        .into_iter()
        .filter(|(p, _)| !is_test_file(p))
        .collect();
    let modules: BTreeSet<String> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    let resolve = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains(m))
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &files {
        let Some(me) = module_of(path) else { continue };
        let code = production_code(text);
        // A `mod.rs` file's `super` is its parent; another file's `super` is its folder's module.
        let here: Vec<&str> = if path.ends_with("/mod.rs") {
            me.split("::").collect()
        } else {
            me.split("::").collect::<Vec<_>>()[..me.split("::").count() - 1].to_vec()
        };
        let mut named = Vec::new();
        let mut rest = code.as_str();
        while let Some(i) = rest.find("use ") {
            let after = &rest[i + 4..];
            let boundary =
                i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            let end = after.find(';').unwrap_or(after.len());
            if boundary {
                named.extend(expand_use(&after[..end]));
            }
            rest = &after[end.min(after.len())..];
        }
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("crate::") || word.starts_with("super::") {
                named.push(word.to_string());
            }
        }
        for path in named {
            let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let target = match segments.first() {
                Some(&"crate") => {
                    segments.remove(0);
                    resolve(&segments)
                }
                Some(&"super") => {
                    let mut base = here.clone();
                    while segments.first() == Some(&"super") {
                        segments.remove(0);
                        base.pop();
                    }
                    base.extend(segments);
                    resolve(&base)
                }
                Some(&"self") => {
                    let mut base = here.clone();
                    base.extend(&segments[1..]);
                    resolve(&base)
                }
                _ => None,
            };
            let Some(target) = target else { continue };
            let related = target == me
                || me.starts_with(&format!("{target}::"))
                || target.starts_with(&format!("{me}::"));
            if !related {
                graph.entry(me.clone()).or_default().insert(target);
            }
        }
    }
    graph
}

/// The strongly connected components with more than one member (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    let nodes: BTreeSet<&str> = graph
        .iter()
        .flat_map(|(k, vs)| std::iter::once(k.as_str()).chain(vs.iter().map(String::as_str)))
        .collect();
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn core_modules_form_no_import_cycle() {
    let graph = core_module_graph();
    assert!(graph.len() > 20, "the module graph looks empty: {graph:?}");
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import cycles among core's modules: {found:?}"
    );
    // The same at the top level (`profile`, `quantize`, ...): the layers of docs/architecture.md.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, tos) in &graph {
        let head = |m: &str| m.split("::").next().unwrap().to_string();
        for to in tos {
            if head(from) != head(to) {
                top.entry(head(from)).or_default().insert(head(to));
            }
        }
    }
    let found = cycles(&top);
    assert!(
        found.is_empty(),
        "import cycles among core's top-level modules: {found:?}"
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
    assert_eq!(
        expand_use("crate::a::{b, c::{d, e}}"),
        vec!["crate::a::b", "crate::a::c::d", "crate::a::c::e"]
    );
}

#[test]
fn no_source_file_is_too_long_to_live_in() {
    let mut long = Vec::new();
    for dir in ["core/src", "kernel/src", "lsp/src"] {
        for (path, text) in sources(dir) {
            let lines = text.lines().count();
            if lines > MAX_FILE_LINES && !DATA_TABLES.contains(&path.as_str()) {
                long.push(format!("{path}: {lines} lines"));
            }
            if path.starts_with("kernel/src/cell/") && lines > MAX_CELL_MODULE_LINES {
                long.push(format!("{path}: {lines} lines (a kernel cell module)"));
            }
        }
    }
    assert!(long.is_empty(), "files over the limits: {long:#?}");
}

#[test]
fn core_does_no_terminal_jupyter_or_lsp_io() {
    let manifest = fs::read_to_string(workspace().join("core/Cargo.toml")).unwrap();
    let dependencies = manifest.split("[dev-dependencies]").next().unwrap();
    for front_end_crate in ["zeromq", "tokio", "tower-lsp", "lsp-types", "jupyter"] {
        assert!(
            !dependencies.contains(front_end_crate),
            "core/Cargo.toml depends on {front_end_crate}, a front end's crate"
        );
    }
    let mut found = Vec::new();
    for (path, text) in sources("core/src") {
        if is_test_file(&path) {
            continue;
        }
        for (n, line) in production_code(&text).lines().enumerate() {
            for io in [
                "println!",
                "eprintln!",
                "print!(",
                "eprint!(",
                "io::stdout",
                "io::stderr",
                "io::stdin",
            ] {
                if line.contains(io) {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "core writes to the terminal: {found:#?}");
}

#[test]
fn only_the_language_server_knows_lsp_types() {
    for manifest in ["core/Cargo.toml", "kernel/Cargo.toml"] {
        let text = fs::read_to_string(workspace().join(manifest)).unwrap();
        assert!(
            !text.contains("tower-lsp") && !text.contains("lsp-types"),
            "{manifest} depends on an LSP crate"
        );
    }
    for dir in ["core/src", "kernel/src"] {
        for (path, text) in sources(dir) {
            assert!(
                !text.contains("tower_lsp") && !text.contains("lsp_types"),
                "{path} names LSP types"
            );
        }
    }
}

/// A string literal holding a long flag (`--batch`) in core's production code.
fn flag_in_string(line: &str) -> bool {
    let mut in_string = false;
    let chars: Vec<char> = line.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '"' && (i == 0 || chars[i - 1] != '\\') {
            in_string = !in_string;
        } else if in_string
            && c == '-'
            && chars.get(i + 1) == Some(&'-')
            && chars.get(i + 2).is_some_and(|c| c.is_ascii_lowercase())
            && (i == 0 || !chars[i - 1].is_alphanumeric())
        {
            return true;
        }
    }
    false
}

#[test]
fn core_never_spells_a_front_ends_flags() {
    assert!(flag_in_string(r#"    "give --batch 4""#));
    assert!(!flag_in_string(r#"    x -- y; "a-b""#));
    let mut found = Vec::new();
    for (path, text) in sources("core/src") {
        if is_test_file(&path) {
            continue;
        }
        for (n, line) in production_code(&text).lines().enumerate() {
            if flag_in_string(line) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "core messages name front-end flags; name an `error::Setting` in a `Sentence` instead: {found:#?}"
    );
}

#[test]
fn comments_cite_only_documents_in_this_repository() {
    let outside = [
        "§",
        "sparsify.md",
        "recipes.md",
        "compression.md",
        "DESIGN.md",
        "STYLE.md",
        "editor.md",
        "jupyter.md",
        "shared/reference",
    ];
    let mut found = Vec::new();
    for dir in ["core", "kernel", "lsp"] {
        for (path, text) in sources(dir) {
            if path == "core/tests/architecture.rs" {
                continue; // the list above
            }
            for (n, line) in text.lines().enumerate() {
                if outside.iter().any(|o| line.contains(o)) {
                    found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "citations of documents outside the repository: {found:#?}"
    );
}

/// A loop over a graph's nodes that files their input or output names into a map: a private
/// producer/consumer index.
fn builds_a_graph_map(window: &[&str]) -> bool {
    let Some(first) = window.first() else {
        return false;
    };
    let over_nodes = first.contains(".node.iter()")
        || first.split("in &").nth(1).is_some_and(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or("")
                .ends_with(".node")
        });
    let text = window.join("\n");
    over_nodes
        && (text.contains("node.output") || text.contains("node.input"))
        && (text.contains(".insert(") || text.contains(".entry("))
}

#[test]
fn no_module_keeps_its_own_graph_map() {
    assert!(builds_a_graph_map(&[
        "for (i, node) in graph.node.iter().enumerate() {",
        "    for out in &node.output {",
        "        producers.insert(out.as_str(), i);",
    ]));
    assert!(builds_a_graph_map(&[
        "for node in &graph.node {",
        "    for name in &node.input {",
        "        *readers.entry(name.as_str()).or_insert(0) += 1;",
    ]));
    assert!(!builds_a_graph_map(&[
        "for node in &graph.node {",
        "    count += 1;"
    ]));
    let mut found = Vec::new();
    for (path, text) in sources("core/src") {
        // `analysis::graph::GraphIndex` is the one index; analysis builds it.
        if is_test_file(&path) || path.starts_with("core/src/analysis/") {
            continue;
        }
        let code = production_code(&text);
        let lines: Vec<&str> = code.lines().collect();
        for n in 0..lines.len() {
            if builds_a_graph_map(&lines[n..(n + 8).min(lines.len())]) {
                found.push(format!("{path}:{}: {}", n + 1, lines[n].trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules outside analysis build their own producer/consumer maps; use analysis::graph::GraphIndex: {found:#?}"
    );
}
