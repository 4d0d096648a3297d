//! Core spans and diagnostics → LSP types, and LSP positions → byte offsets: the only file that
//! knows both sides.

use prunekit_core::recipe::span::Span;
use prunekit_core::recipe::{Diagnostic, Severity};
use tower_lsp_server::ls_types as lsp;

use crate::line_index::{Encoding, LineIndex};

pub struct Converter<'a> {
    pub text: &'a str,
    pub index: &'a LineIndex,
    pub encoding: Encoding,
}

impl Converter<'_> {
    pub fn position(&self, offset: usize) -> lsp::Position {
        let (line, character) = self.index.position(self.text, offset, self.encoding);
        lsp::Position { line, character }
    }

    pub fn range(&self, span: Span) -> lsp::Range {
        lsp::Range {
            start: self.position(span.start),
            end: self.position(span.end),
        }
    }

    pub fn offset(&self, position: lsp::Position) -> usize {
        self.index
            .offset(self.text, position.line, position.character, self.encoding)
    }

    pub fn diagnostic(&self, uri: &lsp::Uri, d: &Diagnostic) -> lsp::Diagnostic {
        lsp::Diagnostic {
            range: self.range(d.span),
            severity: Some(match d.severity {
                Severity::Error => lsp::DiagnosticSeverity::ERROR,
                Severity::Warning => lsp::DiagnosticSeverity::WARNING,
                Severity::Information => lsp::DiagnosticSeverity::INFORMATION,
                Severity::Hint => lsp::DiagnosticSeverity::HINT,
            }),
            code: Some(lsp::NumberOrString::String(d.code.to_string())),
            source: Some("prunekit".into()),
            message: d.message.clone(),
            related_information: (!d.related.is_empty()).then(|| {
                d.related
                    .iter()
                    .map(|r| lsp::DiagnosticRelatedInformation {
                        location: lsp::Location {
                            uri: uri.clone(),
                            range: self.range(r.span),
                        },
                        message: r.message.clone(),
                    })
                    .collect()
            }),
            ..Default::default()
        }
    }
}
