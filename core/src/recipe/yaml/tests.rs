//! Tests of the span tree: node kinds, styles, tags and anchors with their spans, partial trees
//! of broken text, `find_node_at`, and parsing arbitrary text without panicking.

use super::*;
use std::fmt::Write;

/// One line per node: kind, tag, anchor, then the source text its span covers.
fn dump(text: &str, document: &YamlDocument) -> String {
    fn src(text: &str, span: Span) -> String {
        let s = span.text(text);
        let s = if s.chars().count() > 40 {
            let head: String = s.chars().take(18).collect();
            let tail: String = s
                .chars()
                .rev()
                .take(18)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{head}…{tail}")
        } else {
            s.to_string()
        };
        format!("{s:?}")
    }
    fn node(out: &mut String, text: &str, n: &Node, depth: usize, role: &str) {
        let _ = write!(out, "{}{role}", "  ".repeat(depth));
        match &n.kind {
            NodeKind::Scalar { value, style } => {
                let _ = write!(out, "scalar {style:?} {value:?}");
            }
            NodeKind::Mapping { flow, .. } => {
                out.push_str(if *flow { "flow-mapping" } else { "mapping" })
            }
            NodeKind::Sequence { flow, .. } => {
                out.push_str(if *flow { "flow-sequence" } else { "sequence" })
            }
            NodeKind::Alias { name } => {
                let _ = write!(out, "alias {name}");
            }
        }
        if let Some(tag) = &n.tag {
            let _ = write!(
                out,
                " tag={}|{}@{}",
                tag.handle,
                tag.suffix,
                src(text, tag.span)
            );
        }
        if let Some(anchor) = &n.anchor {
            let _ = write!(out, " anchor={}@{}", anchor.name, src(text, anchor.span));
        }
        let _ = writeln!(out, " {}", src(text, n.span));
        match &n.kind {
            NodeKind::Mapping { entries, .. } => {
                for (k, v) in entries {
                    node(out, text, k, depth + 1, "? ");
                    node(out, text, v, depth + 1, ": ");
                }
            }
            NodeKind::Sequence { items, .. } => {
                for item in items {
                    node(out, text, item, depth + 1, "- ");
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    if let Some(root) = &document.root {
        node(&mut out, text, root, 0, "");
    }
    if let Some(error) = &document.error {
        let _ = writeln!(
            out,
            "error {:?} at {}",
            error.message,
            src(text, error.span)
        );
    }
    if document.is_partial {
        out.push_str("partial\n");
    }
    out
}

fn check(text: &str, expect: &str) {
    let got = dump(text, &parse(text));
    let expect: String = expect
        .trim()
        .lines()
        .map(|l| {
            l.strip_prefix("        ")
                .unwrap_or(l)
                .trim_end()
                .to_string()
                + "\n"
        })
        .collect();
    assert_eq!(got, expect, "\n--- got ---\n{got}--- for ---\n{text}");
}

const RECIPE: &str = "\
version: 1.1.0
num_epochs: &num_epochs 10
init_lr: 1.0e-3

modifiers:
    - !EpochRangeModifier
        start_epoch: 0.0
        end_epoch: *num_epochs

    - !GMPruningModifier  # prune the convolutions
        params: ['re:.*conv', \"fc.weight\"]
        init_sparsity: 0.05
        final_sparsity: 0.85
        start_epoch: 1.0
        end_epoch: eval(num_epochs - 2)
        update_frequency: 0.5
        mask_type: unstructured
";

#[test]
fn sparseml_recipe() {
    check(
        RECIPE,
        r#"
        mapping "version: 1.1.0\nnum…type: unstructured"
          ? scalar Plain "version" "version"
          : scalar Plain "1.1.0" "1.1.0"
          ? scalar Plain "num_epochs" "num_epochs"
          : scalar Plain "10" anchor=num_epochs@"&num_epochs" "10"
          ? scalar Plain "init_lr" "init_lr"
          : scalar Plain "1.0e-3" "1.0e-3"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !EpochRangeModif…type: unstructured"
            - mapping tag=!|EpochRangeModifier@"!EpochRangeModifier" "start_epoch: 0.0\n …epoch: *num_epochs"
              ? scalar Plain "start_epoch" "start_epoch"
              : scalar Plain "0.0" "0.0"
              ? scalar Plain "end_epoch" "end_epoch"
              : alias num_epochs "*num_epochs"
            - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: ['re:.*con…type: unstructured"
              ? scalar Plain "params" "params"
              : flow-sequence "['re:.*conv', \"fc.weight\"]"
                - scalar SingleQuoted "re:.*conv" "'re:.*conv'"
                - scalar DoubleQuoted "fc.weight" "\"fc.weight\""
              ? scalar Plain "init_sparsity" "init_sparsity"
              : scalar Plain "0.05" "0.05"
              ? scalar Plain "final_sparsity" "final_sparsity"
              : scalar Plain "0.85" "0.85"
              ? scalar Plain "start_epoch" "start_epoch"
              : scalar Plain "1.0" "1.0"
              ? scalar Plain "end_epoch" "end_epoch"
              : scalar Plain "eval(num_epochs - 2)" "eval(num_epochs - 2)"
              ? scalar Plain "update_frequency" "update_frequency"
              : scalar Plain "0.5" "0.5"
              ? scalar Plain "mask_type" "mask_type"
              : scalar Plain "unstructured" "unstructured"
        "#,
    );
}

#[test]
fn staged_recipe_with_indentless_sequences() {
    check(
        "\
num_epochs: 10
pruning_stage:
  pruning_modifiers:
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    end_epoch: eval(num_epochs)
quant_stage:
  quant_modifiers: []
",
        r#"
        mapping "num_epochs: 10\npru…uant_modifiers: []"
          ? scalar Plain "num_epochs" "num_epochs"
          : scalar Plain "10" "10"
          ? scalar Plain "pruning_stage" "pruning_stage"
          : mapping "pruning_modifiers:…: eval(num_epochs)"
            ? scalar Plain "pruning_modifiers" "pruning_modifiers"
            : sequence "- !GMPruningModifi…: eval(num_epochs)"
              - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: __ALL_PRUN…: eval(num_epochs)"
                ? scalar Plain "params" "params"
                : scalar Plain "__ALL_PRUNABLE__" "__ALL_PRUNABLE__"
                ? scalar Plain "end_epoch" "end_epoch"
                : scalar Plain "eval(num_epochs)" "eval(num_epochs)"
          ? scalar Plain "quant_stage" "quant_stage"
          : mapping "quant_modifiers: []"
            ? scalar Plain "quant_modifiers" "quant_modifiers"
            : flow-sequence "[]"
        "#,
    );
}

#[test]
fn scalar_styles_and_their_spans() {
    check(
        "\
a: 'it''s' # comment
b: \"x\\\"y\"   
c: |
  line one

  line two

d: >-  # folded | not a header
  folded
  text
e: |
f: plain
  continued
g:
h: ''
",
        r#"
        mapping "a: 'it''s' # comme…continued\ng:\nh: ''"
          ? scalar Plain "a" "a"
          : scalar SingleQuoted "it's" "'it''s'"
          ? scalar Plain "b" "b"
          : scalar DoubleQuoted "x\"y" "\"x\\\"y\""
          ? scalar Plain "c" "c"
          : scalar Literal "line one\n\nline two\n" "|\n  line one\n\n  line two"
          ? scalar Plain "d" "d"
          : scalar Folded "folded text" ">-  # folded | not…er\n  folded\n  text"
          ? scalar Plain "e" "e"
          : scalar Literal "" "|"
          ? scalar Plain "f" "f"
          : scalar Plain "plain continued" "plain\n  continued"
          ? scalar Plain "g" "g"
          : scalar Plain "" ""
          ? scalar Plain "h" "h"
          : scalar SingleQuoted "" "''"
        "#,
    );
}

#[test]
fn block_scalar_at_the_end_and_content_that_looks_like_a_header() {
    check(
        "a: |\n  | x\nb: >\n",
        r#"
        mapping "a: |\n  | x\nb: >"
          ? scalar Plain "a" "a"
          : scalar Literal "| x\n" "|\n  | x"
          ? scalar Plain "b" "b"
          : scalar Folded "" ">"
        "#,
    );
}

#[test]
fn tags_and_anchors_in_every_position() {
    check(
        "\
- !EpochRangeModifier
- &a !!str  x
- !!str &b 'q'
- !GMPruningModifier {params: [conv1.weight], init_sparsity: 0.05}
- &m
  k: v
- !<tag:example.com,2000:z> w
- *a
",
        r#"
        sequence "- !EpochRangeModif…com,2000:z> w\n- *a"
          - scalar Plain "" tag=!|EpochRangeModifier@"!EpochRangeModifier" ""
          - scalar Plain "x" tag=!!|str@"!!str" anchor=a@"&a" "x"
          - scalar SingleQuoted "q" tag=!!|str@"!!str" anchor=b@"&b" "'q'"
          - flow-mapping tag=!|GMPruningModifier@"!GMPruningModifier" "{params: [conv1.we…it_sparsity: 0.05}"
            ? scalar Plain "params" "params"
            : flow-sequence "[conv1.weight]"
              - scalar Plain "conv1.weight" "conv1.weight"
            ? scalar Plain "init_sparsity" "init_sparsity"
            : scalar Plain "0.05" "0.05"
          - mapping anchor=m@"&m" "k: v"
            ? scalar Plain "k" "k"
            : scalar Plain "v" "v"
          - scalar Plain "w" tag=|tag:example.com,2000:z@"!<tag:example.com,2000:z>" "w"
          - alias a "*a"
        "#,
    );
}

#[test]
fn tag_followed_by_a_comment_and_a_mapping_on_the_next_lines() {
    let text = "modifiers:\n  - !GMPruningModifier   # prune conv1.weight\n\n      # a comment line\n      end_epoch: 1\n";
    let document = parse(text);
    let modifier = &document
        .root
        .as_ref()
        .unwrap()
        .get("modifiers")
        .unwrap()
        .items()[0];
    let tag = modifier.tag.as_ref().unwrap();
    assert_eq!(
        (tag.handle.as_str(), tag.suffix.as_str()),
        ("!", "GMPruningModifier")
    );
    assert_eq!(tag.span.text(text), "!GMPruningModifier");
    assert_eq!(modifier.span.text(text), "end_epoch: 1");
    assert_eq!(
        modifier.full_span().text(text),
        "!GMPruningModifier   # prune conv1.weight\n\n      # a comment line\n      end_epoch: 1"
    );
}

#[test]
fn properties_on_the_next_line_belong_to_the_key() {
    check(
        "- !GMPruningModifier\n  &k !!str key: v\n",
        r#"
        sequence "- !GMPruningModifier\n  &k !!str key: v"
          - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "&k !!str key: v"
            ? scalar Plain "key" tag=!!|str@"!!str" anchor=k@"&k" "key"
            : scalar Plain "v" "v"
        "#,
    );
}

#[test]
fn named_tag_handle_from_a_directive() {
    check(
        "%TAG !e! tag:example.com,2000:\n--- !e!recipe\n- !e!x y\n",
        r#"
        sequence tag=!e!|recipe@"!e!recipe" "- !e!x y"
          - scalar Plain "y" tag=!e!|x@"!e!x" "y"
        "#,
    );
}

#[test]
fn flow_collections() {
    check(
        "{a, b: , c: [x: 1, ? y : 2, [z]], d: {}}",
        r#"
        flow-mapping "{a, b: , c: [x: 1, ? y : 2, [z]], d: {}}"
          ? scalar Plain "a" "a"
          : scalar Plain "" ""
          ? scalar Plain "b" "b"
          : scalar Plain "" ""
          ? scalar Plain "c" "c"
          : flow-sequence "[x: 1, ? y : 2, [z]]"
            - flow-mapping "x: 1"
              ? scalar Plain "x" "x"
              : scalar Plain "1" "1"
            - flow-mapping "? y : 2"
              ? scalar Plain "y" "y"
              : scalar Plain "2" "2"
            - flow-sequence "[z]"
              - scalar Plain "z" "z"
          ? scalar Plain "d" "d"
          : flow-mapping "{}"
        "#,
    );
}

#[test]
fn empty_values_and_items() {
    let text = "a:\nb: # comment\nc:\n  - \n  - x\n";
    check(
        text,
        r#"
        mapping "a:\nb: # comment\nc:\n  - \n  - x"
          ? scalar Plain "a" "a"
          : scalar Plain "" ""
          ? scalar Plain "b" "b"
          : scalar Plain "" ""
          ? scalar Plain "c" "c"
          : sequence "- \n  - x"
            - scalar Plain "" ""
            - scalar Plain "x" "x"
        "#,
    );
    let root = parse(text).root.unwrap();
    assert_eq!(
        root.get("a").unwrap().span,
        Span::empty(2),
        "right after the `:`"
    );
    assert_eq!(root.get("b").unwrap().span, Span::empty(5));
}

#[test]
fn multi_byte_characters_and_crlf() {
    let text =
        "\u{feff}note: \"é😀\" # é\r\nparams: [é, 'x😀y']\r\nlit: |\r\n  ü\r\n  v\r\nend: *é\r\n";
    // `*é` refers to no anchor: saphyr stops there.
    check(
        text,
        r#"
        mapping "note: \"é😀\" # é\r\npa…: |\r\n  ü\r\n  v\r\nend"
          ? scalar Plain "note" "note"
          : scalar DoubleQuoted "é😀" "\"é😀\""
          ? scalar Plain "params" "params"
          : flow-sequence "[é, 'x😀y']"
            - scalar Plain "é" "é"
            - scalar SingleQuoted "x😀y" "'x😀y'"
          ? scalar Plain "lit" "lit"
          : scalar Literal "ü\nv\n" "|\r\n  ü\r\n  v"
          ? scalar Plain "end" "end"
          : scalar Plain "" ""
        error "while parsing node, found unknown anchor" at "*"
        partial
        "#,
    );
}

#[test]
fn anchors_before_multi_byte_text() {
    let text = "é: &ä 1\nb: *ä\n";
    let root = parse(text).root.unwrap();
    let (key, value) = &root.entries()[0];
    assert_eq!(key.span.text(text), "é");
    assert_eq!(value.anchor.as_ref().unwrap().span.text(text), "&ä");
    assert_eq!(value.anchor.as_ref().unwrap().name, "ä");
    let alias = root.get("b").unwrap();
    assert_eq!(alias.span.text(text), "*ä");
    assert_eq!(
        alias.kind,
        NodeKind::Alias {
            name: "ä".to_string()
        }
    );
}

#[test]
fn duplicate_keys_are_kept_and_the_last_wins() {
    let text = "a: 1\na: 2\n";
    let root = parse(text).root.unwrap();
    assert_eq!(root.entries().len(), 2);
    assert_eq!(root.get("a").unwrap().as_str(), Some("2"));
    assert_eq!(root.entry("a").unwrap().0.span, Span::new(5, 6));
    assert_eq!(root.get("zz"), None);
    assert_eq!(root.as_str(), None);
    assert!(root.items().is_empty());
}

#[test]
fn only_the_first_document() {
    check(
        "---\na: 1\n---\nb: [\n",
        r#"
        mapping "a: 1"
          ? scalar Plain "a" "a"
          : scalar Plain "1" "1"
        "#,
    );
    check("", "");
    check("# only a comment\n", "");
    check("--- # empty\n", "scalar Plain \"\" \"\"\n");
}

#[test]
fn unclosed_flow_list_keeps_the_partial_tree() {
    check(
        "\
modifiers:
    - !GMPruningModifier
        params: [conv1.weight,
        end_epoch: 10
    - !EpochRangeModifier
        end_epoch: 5
",
        r#"
        mapping "modifiers:\n    - !…ams: [conv1.weight"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !GMPruningModifi…ams: [conv1.weight"
            - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: [conv1.weight"
              ? scalar Plain "params" "params"
              : flow-sequence "[conv1.weight"
                - scalar Plain "conv1.weight" "conv1.weight"
        error "invalid indentation in flow construct" at "e"
        partial
        "#,
    );
}

#[test]
fn bad_indentation() {
    check(
        "a: 1\n  b: 2\n",
        r#"
        mapping "a: 1\n  b"
          ? scalar Plain "a" "a"
          : scalar Plain "1 b" "1\n  b"
        error "mapping values are not allowed in this context" at ":"
        partial
        "#,
    );
    check(
        "modifiers:\n  - !EpochRangeModifier\n    end_epoch: 1\n   start_epoch: 0\n",
        r#"
        mapping "modifiers:\n  - !Ep…r\n    end_epoch: 1"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !EpochRangeModifier\n    end_epoch: 1"
            - mapping tag=!|EpochRangeModifier@"!EpochRangeModifier" "end_epoch: 1"
              ? scalar Plain "end_epoch" "end_epoch"
              : scalar Plain "1" "1"
        error "while parsing a block collection, did not find expected '-' indicator" at "s"
        partial
        "#,
    );
}

#[test]
fn tab_indentation() {
    check(
        "modifiers:\n\t- !EpochRangeModifier\n",
        r#"
        mapping "modifiers"
          ? scalar Plain "modifiers" "modifiers"
          : scalar Plain "" ""
        error "tabs disallowed within this context (block indentation)" at "-"
        partial
        "#,
    );
}

#[test]
fn key_without_value_at_the_error() {
    check(
        "a:\n  b: [1\n",
        r#"
        mapping "a:\n  b: [1"
          ? scalar Plain "a" "a"
          : mapping "b: [1"
            ? scalar Plain "b" "b"
            : flow-sequence "[1"
              - scalar Plain "1" "1"
        error "while parsing a flow sequence, expected ',' or ']'" at ""
        partial
        "#,
    );
}

#[test]
fn error_after_a_complete_root_is_not_partial() {
    let document = parse("\"a\"\nb: 1\n");
    assert!(document.error.is_some());
    assert!(!document.is_partial);
    assert_eq!(document.root.unwrap().as_str(), Some("a"));
}

#[test]
fn error_before_any_node() {
    let document = parse("]");
    assert_eq!(document.root, None);
    assert!(document.is_partial);
    assert_eq!(document.error.unwrap().span, Span::new(0, 1));
}

#[test]
fn deep_nesting_is_cut_off() {
    let text = "- ".repeat(100_000) + "x";
    let document = parse(&text);
    assert!(document.error.unwrap().message.contains("nested"));
    let text = "[".repeat(300);
    let document = parse(&text);
    assert!(document.error.is_some());
}

#[test]
fn find_node_at_paths() {
    let text = "a: {b: 1}\nlist: [x, yy]\n!T m: n\n";
    let root = parse(text).root.unwrap();
    let at = |needle: &str, delta: usize| {
        let offset = text.find(needle).unwrap() + delta;
        find_node_at(&root, offset)
            .iter()
            .map(|n| n.span.text(text).to_string())
            .collect::<Vec<_>>()
    };
    let full = root.span.text(text).to_string();
    assert_eq!(at("1}", 0), [&full, "a", "{b: 1}", "b", "1"]);
    assert_eq!(
        at("1}", 1),
        [&full, "a", "{b: 1}", "b", "1"],
        "right after the value"
    );
    assert_eq!(at("b:", 0), [&full, "a", "{b: 1}", "b"]);
    assert_eq!(at("a:", 0), [&full, "a"]);
    assert_eq!(at("a:", 2), [full.as_str()], "between key and value");
    assert_eq!(at("yy", 1), [&full, "list", "[x, yy]", "yy"]);
    assert_eq!(at("[x", 0), [&full, "list", "[x, yy]"]);
    assert_eq!(at("!T", 1), [&full, "m"], "on the key's tag");
    assert!(
        find_node_at(&root, text.len()).is_empty(),
        "after the last line"
    );
}

#[test]
fn find_node_at_in_a_tagged_modifier() {
    let root = parse(RECIPE).root.unwrap();
    let offset = RECIPE.find("GMPruningModifier").unwrap();
    let path = find_node_at(&root, offset);
    let modifier = path.last().unwrap();
    assert_eq!(modifier.tag.as_ref().unwrap().suffix, "GMPruningModifier");
    let offset = RECIPE.find("fc.weight").unwrap();
    let path = find_node_at(&root, offset);
    assert_eq!(
        path.len(),
        7,
        "root, modifiers, list, modifier, params, flow list, item"
    );
    assert_eq!(path[4].as_str(), Some("params"));
    assert_eq!(path[6].as_str(), Some("fc.weight"));
}

#[test]
fn every_prefix_of_a_recipe_parses_without_panic() {
    let text = format!(
        "{RECIPE}  - !SetLearningRateModifier {{learning_rate: 1.0e-4, start_epoch: 2.0}}\n"
    );
    let text = text.replace("0.05", "0.05 # ü");
    for (end, _) in text.char_indices() {
        let prefix = &text[..end];
        let document = parse(prefix);
        check_spans(prefix, &document);
        let crlf = prefix.replace('\n', "\r\n");
        check_spans(&crlf, &parse(&crlf));
    }
}

#[test]
fn random_bytes_parse_without_panic() {
    // A small xorshift generator: deterministic, no dependency.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: Vec<char> = "ab:-?!&*|>'\"#[]{},.% \t\r\n\n\n  é😀\u{feff}\\0"
        .chars()
        .collect();
    for _ in 0..3000 {
        let len = (next() % 60) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        check_spans(&text, &parse(&text));
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let lossy = String::from_utf8_lossy(&bytes);
        check_spans(&lossy, &parse(&lossy));
    }
}

/// Every span lies in the text on character boundaries, and `find_node_at` works everywhere.
fn check_spans(text: &str, document: &YamlDocument) {
    fn walk(text: &str, node: &Node) {
        for span in [
            Some(node.span),
            node.tag.as_ref().map(|t| t.span),
            node.anchor.as_ref().map(|a| a.span),
        ]
        .into_iter()
        .flatten()
        {
            assert!(
                span.start <= span.end && text.get(span.start..span.end).is_some(),
                "{span:?} in {text:?}"
            );
        }
        let src = node.span.text(text);
        match &node.kind {
            NodeKind::Scalar {
                value,
                style: ScalarStyle::Plain,
            } if !src.contains(['\n', '\r']) => {
                assert_eq!(src, value, "plain scalar span in {text:?}");
            }
            NodeKind::Scalar {
                style: ScalarStyle::SingleQuoted,
                ..
            } => {
                assert!(
                    src.starts_with('\'') && (src.len() >= 2 && src.ends_with('\'')),
                    "{src:?} in {text:?}"
                );
            }
            NodeKind::Scalar {
                style: ScalarStyle::DoubleQuoted,
                ..
            } => {
                assert!(
                    src.starts_with('"') && (src.len() >= 2 && src.ends_with('"')),
                    "{src:?} in {text:?}"
                );
            }
            NodeKind::Scalar {
                style: ScalarStyle::Literal | ScalarStyle::Folded,
                ..
            } => {
                assert!(src.starts_with(['|', '>']), "{src:?} in {text:?}");
            }
            NodeKind::Alias { name } => assert_eq!(src, format!("*{name}")),
            _ => {}
        }
        let children = node
            .entries()
            .iter()
            .flat_map(|(k, v)| [k, v])
            .chain(node.items());
        for child in children {
            let (outer, inner) = (node.span, child.full_span());
            assert!(
                outer.start <= inner.start && inner.end <= outer.end,
                "{inner:?} outside {outer:?} in {text:?}"
            );
            walk(text, child);
        }
    }
    if let Some(root) = &document.root {
        walk(text, root);
        for offset in 0..=text.len() {
            let _ = find_node_at(root, offset);
        }
    }
    if let Some(error) = &document.error {
        assert!(
            text.get(error.span.start..error.span.end).is_some(),
            "{:?} in {text:?}",
            error.span
        );
    }
}

#[test]
fn parse_time_of_a_5000_line_recipe() {
    let mut text =
        String::from("version: 1.1.0\nnum_epochs: &num_epochs 100\ninit_lr: 1.0e-3\nmodifiers:\n");
    let mut n_modifiers = 0;
    while text.lines().count() < 5000 {
        let _ = write!(
            text,
            "    - !GMPruningModifier  # layer {n_modifiers}\n        params: ['sections.{n_modifiers}.conv.weight', 're:.*fc{n_modifiers}']\n        init_sparsity: 0.05\n        final_sparsity: 0.{}\n        start_epoch: 1.0\n        end_epoch: *num_epochs\n        update_frequency: 0.5\n        mask_type: \"unstructured\"\n\n",
            n_modifiers % 9 + 1
        );
        n_modifiers += 1;
    }
    let document = parse(&text);
    assert!(document.error.is_none());
    let n_runs = 20;
    let started = std::time::Instant::now();
    for _ in 0..n_runs {
        std::hint::black_box(parse(std::hint::black_box(&text)));
    }
    let ascii = started.elapsed() / n_runs;
    let text = text.replace("layer", "couche é");
    let started = std::time::Instant::now();
    for _ in 0..n_runs {
        std::hint::black_box(parse(std::hint::black_box(&text)));
    }
    let non_ascii = started.elapsed() / n_runs;
    println!(
        "parse: {} lines, {} bytes, {n_modifiers} modifiers: {ascii:?} (ASCII), {non_ascii:?} (with non-ASCII comments)",
        text.lines().count(),
        text.len()
    );
}
