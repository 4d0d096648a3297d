//! Document symbols (stages, variables, and one symbol per modifier such as
//! `GMPruning 1–31 (0.05→0.87)`) and folding ranges (one per modifier and stage).

use prunekit_core::recipe::lower::{Layout, Modifier, Value};
use prunekit_core::recipe::span::Span;
use tower_lsp_server::ls_types::{DocumentSymbol, FoldingRange, SymbolKind};

use crate::convert::Converter;
use crate::line_index::Encoding;
use crate::world::Analysis;

fn title(m: &Modifier) -> String {
    // A tag being typed (`- !`) has no class yet; clients reject symbols without a name.
    if m.class.is_empty() {
        return "! (no class yet)".into();
    }
    let short = m.class.trim_end_matches("Modifier");
    let num = |name: &str| m.number(name).map(|v| format!("{v}"));
    let mut out = short.to_string();
    if let (Some(s), Some(e)) = (num("start_epoch"), num("end_epoch")) {
        out.push_str(&format!(" {s}–{e}"));
    }
    if let (Some(i), Some(f)) = (num("init_sparsity"), num("final_sparsity")) {
        out.push_str(&format!(" ({i}→{f})"));
    }
    // Staged classes: the one-shot sparsity and structure, or the quantization scheme.
    if let Some(s) = num("sparsity") {
        out.push_str(&format!(" {s}"));
    }
    for name in ["mask_structure", "scheme"] {
        if let Some(Value::Str(v)) = m.field(name).and_then(|f| f.value.effective()) {
            out.push_str(&format!(" {v}"));
        }
    }
    out
}

/// A stage's staged modifiers under one symbol per `<group>_modifiers` group, in recipe order.
fn grouped(
    convert: &Converter,
    modifiers: &[&Modifier],
    modifier_symbol: &dyn Fn(&Modifier) -> DocumentSymbol,
) -> Vec<DocumentSymbol> {
    let mut groups: Vec<(&str, Vec<&Modifier>)> = Vec::new();
    for m in modifiers {
        match groups.iter_mut().find(|(g, _)| *g == m.group) {
            Some((_, members)) => members.push(m),
            None => groups.push((&m.group, vec![m])),
        }
    }
    groups
        .into_iter()
        .map(|(group, members)| {
            let span = Span {
                start: members.iter().map(|m| m.span.start).min().unwrap_or(0),
                end: members.iter().map(|m| m.span.end).max().unwrap_or(0),
            };
            symbol(
                convert,
                format!("{group}_modifiers"),
                Some("group".into()),
                SymbolKind::MODULE,
                span,
                members[0].tag_span,
                members.iter().map(|m| modifier_symbol(m)).collect(),
            )
        })
        .collect()
}

#[allow(deprecated)] // DocumentSymbol.deprecated must still be set
fn symbol(
    convert: &Converter,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        // LSP requires a non-empty name (VS Code shows an error for each one that is empty).
        name: if name.trim().is_empty() {
            "(unnamed)".into()
        } else {
            name
        },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: convert.range(span),
        selection_range: convert.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}

pub fn symbols(analysis: &Analysis, encoding: Encoding) -> Vec<DocumentSymbol> {
    let convert = analysis.converter(encoding);
    let recipe = &analysis.checked.recipe;
    let modifier_symbol = |m: &Modifier| {
        let fields = m
            .fields
            .iter()
            .map(|f| {
                let span = Span {
                    start: f.key_span.start,
                    end: f.value_span.end.max(f.key_span.end),
                };
                symbol(
                    &convert,
                    f.name.clone(),
                    None,
                    SymbolKind::FIELD,
                    span,
                    f.key_span,
                    Vec::new(),
                )
            })
            .collect();
        symbol(
            &convert,
            title(m),
            Some(m.class.clone()),
            SymbolKind::CLASS,
            m.span,
            m.tag_span,
            fields,
        )
    };
    let mut out: Vec<DocumentSymbol> = recipe
        .variables
        .iter()
        .filter(|v| v.stage.is_none())
        .map(|v| {
            let span = Span {
                start: v.key_span.start,
                end: v.value_span.end.max(v.key_span.end),
            };
            symbol(
                &convert,
                v.name.clone(),
                Some(super::hover::show(&v.value)),
                SymbolKind::VARIABLE,
                span,
                v.key_span,
                Vec::new(),
            )
        })
        .collect();
    out.extend(
        recipe
            .modifiers
            .iter()
            .filter(|m| m.stage.is_none())
            .map(modifier_symbol),
    );
    for (stage, key_span) in &recipe.stages {
        let members: Vec<&Modifier> = recipe
            .modifiers
            .iter()
            .filter(|m| m.stage.as_deref() == Some(stage))
            .collect();
        let children: Vec<DocumentSymbol> = if recipe.layout == Layout::Staged {
            grouped(&convert, &members, &modifier_symbol)
        } else {
            members.iter().map(|m| modifier_symbol(m)).collect()
        };
        let end = recipe
            .modifiers
            .iter()
            .filter(|m| m.stage.as_deref() == Some(stage))
            .map(|m| m.span.end)
            .max()
            .unwrap_or(key_span.end);
        out.push(symbol(
            &convert,
            stage.clone(),
            Some("stage".into()),
            SymbolKind::NAMESPACE,
            Span {
                start: key_span.start,
                end,
            },
            *key_span,
            children,
        ));
    }
    out
}

pub fn folding(analysis: &Analysis, encoding: Encoding) -> Vec<FoldingRange> {
    let convert = analysis.converter(encoding);
    analysis
        .checked
        .recipe
        .modifiers
        .iter()
        .map(|m| {
            (
                convert.position(m.span.start).line,
                convert.position(m.span.end).line,
            )
        })
        .filter(|(s, e)| e > s)
        .map(|(start_line, end_line)| FoldingRange {
            start_line,
            end_line,
            ..Default::default()
        })
        .collect()
}
