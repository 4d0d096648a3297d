//! Code actions: the quick fixes the rules attach to their diagnostics (did-you-mean, missing
//! fields, YAML 1.1 rewrites, quoting), offered for diagnostics that touch the requested range.

use std::collections::HashMap;

use tower_lsp_server::ls_types::*;

use crate::line_index::Encoding;
use crate::world::Analysis;

pub fn actions(
    analysis: &Analysis,
    encoding: Encoding,
    uri: &Uri,
    range: Range,
) -> CodeActionResponse {
    let convert = analysis.converter(encoding);
    let (start, end) = (convert.offset(range.start), convert.offset(range.end));
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        if d.span.end < start || d.span.start > end {
            continue;
        }
        for fix in &d.fixes {
            let edits = fix
                .edits
                .iter()
                .map(|e| TextEdit {
                    range: convert.range(e.span),
                    new_text: e.text.clone(),
                })
                .collect();
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert.diagnostic(uri, d)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(d.fixes.len() == 1),
                ..Default::default()
            }));
        }
    }
    out
}
