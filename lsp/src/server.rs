//! The `LanguageServer` implementation: each method is a line or two into `handlers/`.
//! Notifications that change documents apply their edits synchronously, before any `.await`, so
//! tower-lsp-server's concurrent dispatch cannot reorder them; diagnostics are computed for the
//! newest version and results for a version that is already stale are dropped, instead of a
//! debounce that would make every user wait.

use std::path::Path;
use std::sync::Arc;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::convert::Converter;
use crate::handlers;
use crate::line_index::{Encoding, LineIndex};
use crate::world::{self, Analysis, Document, Shared};

pub struct Server {
    pub client: Client,
    pub world: Shared,
}

impl Server {
    pub fn new(client: Client) -> Self {
        Server {
            client,
            world: Shared::default(),
        }
    }

    /// Checks the document's newest text and publishes its diagnostics, unless it changed again.
    async fn publish(&self, uri: Uri) {
        let world = self.world.clone();
        let target = uri.clone();
        let Ok(Some(analysis)) =
            tokio::task::spawn_blocking(move || world::analysis(&world, &target)).await
        else {
            return;
        };
        let (encoding, is_current) = {
            let w = world::lock(&self.world);
            (
                w.encoding,
                w.documents
                    .get(&uri)
                    .is_some_and(|d| d.version == analysis.version),
            )
        };
        if !is_current {
            return;
        }
        let convert = analysis.converter(encoding);
        let diagnostics = analysis
            .diagnostics
            .iter()
            .map(|d| convert.diagnostic(&uri, d))
            .collect();
        self.client
            .publish_diagnostics(uri, diagnostics, Some(analysis.version))
            .await;
    }

    async fn publish_all(&self) {
        let uris: Vec<Uri> = world::lock(&self.world).documents.keys().cloned().collect();
        for uri in uris {
            self.publish(uri).await;
        }
    }

    /// A query's snapshot: the analysis at the document's current version and the encoding.
    async fn snapshot(&self, uri: &Uri) -> Option<(Arc<Analysis>, Encoding)> {
        let world = self.world.clone();
        let target = uri.clone();
        let analysis = tokio::task::spawn_blocking(move || world::analysis(&world, &target))
            .await
            .ok()??;
        let encoding = world::lock(&self.world).encoding;
        Some((analysis, encoding))
    }

    /// The last analysis that parsed, and `position` mapped into its text, when the current one
    /// has a syntax error and the position lies outside the edited region.
    fn last_good_at(
        &self,
        uri: &Uri,
        current: &Analysis,
        encoding: Encoding,
        position: Position,
    ) -> Option<(Arc<Analysis>, Position)> {
        if !current.has_syntax_error() {
            return None;
        }
        let good = world::last_good(&self.world, uri)?;
        let offset = current.converter(encoding).offset(position);
        let mapped = world::map_offset(&good.text, &current.text, offset)?;
        let position = good.converter(encoding).position(mapped);
        Some((good, position))
    }

    async fn refresh_settings(&self) {
        let items = vec![ConfigurationItem {
            scope_uri: None,
            section: Some("prunekit".into()),
        }];
        if let Ok(values) = self.client.configuration(items).await
            && let Some(value) = values.into_iter().next()
        {
            let mut w = world::lock(&self.world);
            handlers::settings::apply(&mut w.settings, &value);
            w.forget_models();
        }
    }
}

/// prunekit's own requests (`handlers::model_info`), registered in `main.rs`.
impl Server {
    pub async fn model_info(
        &self,
        params: handlers::model_info::RecipeParams,
    ) -> Result<handlers::model_info::ModelInfo> {
        let uri = parse_uri(&params.uri)?;
        let world = self.world.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let (path, text, setting) = recipe_source(&world, &uri)?;
            let analysis = world::analysis(&world, &uri);
            let (context, problem) = match &analysis {
                Some(a) => (
                    a.model.clone(),
                    a.diagnostics
                        .iter()
                        .find(|d| d.code == "model")
                        .map(|d| d.message.clone()),
                ),
                None => {
                    let link = world::model_context(&path, &text, setting.as_deref());
                    let problem = link.diagnostics.first().map(|d| d.message.clone());
                    (link.model.map(Arc::new), problem)
                }
            };
            Ok(handlers::model_info::model_info(
                &path,
                &text,
                setting.as_deref(),
                context.as_deref(),
                problem.as_deref(),
            ))
        })
        .await;
        answer.unwrap_or_else(|_| Err(request_error("The model lookup failed unexpectedly.")))
    }

    pub async fn sensitivity_chart(
        &self,
        params: handlers::model_info::RecipeParams,
    ) -> Result<handlers::model_info::SensitivityChart> {
        let uri = parse_uri(&params.uri)?;
        let world = self.world.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let (path, text, setting) = recipe_source(&world, &uri)?;
            let info =
                handlers::model_info::model_info(&path, &text, setting.as_deref(), None, None);
            match (info.model, info.exists) {
                (Some(model), true) => handlers::model_info::sensitivity_chart(Path::new(&model))
                    .map_err(|m| request_error(&m)),
                _ => Err(request_error(info.message.as_deref().unwrap_or_default())),
            }
        })
        .await;
        answer.unwrap_or_else(|_| Err(request_error("The chart failed unexpectedly.")))
    }
}

fn parse_uri(text: &str) -> Result<Uri> {
    text.parse()
        .map_err(|_| request_error(&format!("`{text}` is not a document URI.")))
}

fn request_error(message: &str) -> tower_lsp_server::jsonrpc::Error {
    tower_lsp_server::jsonrpc::Error {
        code: tower_lsp_server::jsonrpc::ErrorCode::InvalidParams,
        message: message.to_string().into(),
        data: None,
    }
}

/// The recipe's path, its text (the open document's, else the file's) and the model setting.
fn recipe_source(
    world: &Shared,
    uri: &Uri,
) -> Result<(std::path::PathBuf, Arc<String>, Option<String>)> {
    let w = world::lock(world);
    let setting = w.settings.model.clone();
    if let Some(doc) = w.documents.get(uri) {
        return Ok((doc.path.clone(), doc.text.clone(), setting));
    }
    drop(w);
    let path = uri
        .to_file_path()
        .map(|p| p.into_owned())
        .ok_or_else(|| request_error("Only recipes saved as files have a model."))?;
    let text = crate::files::read_recipe(&path).map_err(|m| request_error(&m))?;
    Ok((path, Arc::new(text), setting))
}

fn negotiated_encoding(params: &InitializeParams) -> Encoding {
    let offered = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.clone())
        .unwrap_or_default();
    // UTF-8 is what our spans count, so it needs no conversion; otherwise the LSP default.
    if offered.contains(&PositionEncodingKind::UTF8) {
        Encoding::Utf8
    } else if offered.contains(&PositionEncodingKind::UTF32) {
        Encoding::Utf32
    } else {
        Encoding::Utf16
    }
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let encoding = negotiated_encoding(&params);
        {
            let mut w = world::lock(&self.world);
            w.encoding = encoding;
            let text = params.capabilities.text_document.as_ref();
            w.supports_snippets = text
                .and_then(|t| t.completion.as_ref())
                .and_then(|c| c.completion_item.as_ref())
                .and_then(|i| i.snippet_support)
                .unwrap_or(false);
            w.supports_markdown = text
                .and_then(|t| t.hover.as_ref())
                .and_then(|h| h.content_format.as_ref())
                .is_some_and(|f| f.contains(&MarkupKind::Markdown));
            if let Some(options) = &params.initialization_options {
                let section = options.get("prunekit").unwrap_or(options);
                handlers::settings::apply(&mut w.settings, section);
            }
        }
        Ok(InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(match encoding {
                    Encoding::Utf8 => PositionEncodingKind::UTF8,
                    Encoding::Utf16 => PositionEncodingKind::UTF16,
                    Encoding::Utf32 => PositionEncodingKind::UTF32,
                }),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(
                    TextDocumentSyncKind::INCREMENTAL,
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(
                        ["!", ":", " ", "[", ",", "-", "("]
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                    ),
                    ..Default::default()
                }),
                definition_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Left(true)),
                inlay_hint_provider: Some(OneOf::Left(true)),
                code_lens_provider: Some(CodeLensOptions {
                    resolve_provider: Some(false),
                }),
                document_symbol_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
                ..Default::default()
            },
            server_info: Some(ServerInfo {
                name: "prunekit-lsp".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            ..Default::default()
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let watchers = ["**/*.onnx", "**/*.prunekit.json", "**/*.onnx.data"]
            .iter()
            .map(|glob| FileSystemWatcher {
                glob_pattern: GlobPattern::String(glob.to_string()),
                kind: None,
            })
            .collect();
        let registration = Registration {
            id: "prunekit-watch-models".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(DidChangeWatchedFilesRegistrationOptions {
                watchers,
            })
            .ok(),
        };
        // Clients without dynamic registration say no; models are then re-read when they change on open.
        let _ = self.client.register_capability(vec![registration]).await;
        self.refresh_settings().await;
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let path = doc
            .uri
            .to_file_path()
            .map(|p| p.into_owned())
            .unwrap_or_default();
        world::lock(&self.world).documents.insert(
            doc.uri.clone(),
            Document {
                path,
                text: Arc::new(doc.text),
                version: doc.version,
                analysis: None,
                last_good: None,
            },
        );
        self.publish(doc.uri).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        {
            let mut w = world::lock(&self.world);
            let encoding = w.encoding;
            let Some(doc) = w.documents.get_mut(&uri) else {
                return;
            };
            // Versions only go forward; an older change arriving late is ignored.
            if params.text_document.version <= doc.version && doc.version != 0 {
                return;
            }
            let mut text = doc.text.as_str().to_string();
            for change in params.content_changes {
                match change.range {
                    Some(range) => {
                        let index = LineIndex::new(&text);
                        let convert = Converter {
                            text: &text,
                            index: &index,
                            encoding,
                        };
                        let (start, end) = (convert.offset(range.start), convert.offset(range.end));
                        let (start, end) = (start.min(end), start.max(end));
                        text.replace_range(start..end, &change.text);
                    }
                    None => text = change.text,
                }
            }
            doc.text = Arc::new(text);
            doc.version = params.text_document.version;
            doc.analysis = None;
        }
        self.publish(uri).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        world::lock(&self.world)
            .documents
            .remove(&params.text_document.uri);
        self.client
            .publish_diagnostics(params.text_document.uri, Vec::new(), None)
            .await;
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        {
            let mut w = world::lock(&self.world);
            let section = params
                .settings
                .get("prunekit")
                .unwrap_or(&params.settings)
                .clone();
            handlers::settings::apply(&mut w.settings, &section);
            w.forget_models();
        }
        self.refresh_settings().await;
        self.publish_all().await;
    }

    async fn did_change_watched_files(&self, _: DidChangeWatchedFilesParams) {
        world::lock(&self.world).forget_models();
        self.publish_all().await;
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let at = params.text_document_position_params;
        let Some((analysis, encoding)) = self.snapshot(&at.text_document.uri).await else {
            return Ok(None);
        };
        let markdown = world::lock(&self.world).supports_markdown;
        if let Some(found) = handlers::hover::hover(&analysis, encoding, at.position, markdown) {
            return Ok(Some(found));
        }
        // Past a syntax error the partial tree knows nothing: ask the last text that parsed.
        let uri = &at.text_document.uri;
        Ok(self
            .last_good_at(uri, &analysis, encoding, at.position)
            .and_then(|(good, position)| {
                let mut found = handlers::hover::hover(&good, encoding, position, markdown)?;
                found.range = None; // a range in the old text would point at the wrong place
                Some(found)
            }))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let at = params.text_document_position;
        let Some((analysis, encoding)) = self.snapshot(&at.text_document.uri).await else {
            return Ok(None);
        };
        let snippets = world::lock(&self.world).supports_snippets;
        Ok(handlers::completion::complete(
            &analysis,
            encoding,
            at.position,
            snippets,
        ))
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        let Some((analysis, encoding)) = self.snapshot(&at.text_document.uri).await else {
            return Ok(None);
        };
        Ok(handlers::navigation::definition(
            &analysis,
            encoding,
            &at.text_document.uri,
            at.position,
        ))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let at = params.text_document_position;
        let Some((analysis, encoding)) = self.snapshot(&at.text_document.uri).await else {
            return Ok(None);
        };
        Ok(handlers::navigation::references(
            &analysis,
            encoding,
            &at.text_document.uri,
            at.position,
        ))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let at = params.text_document_position;
        let Some((analysis, encoding)) = self.snapshot(&at.text_document.uri).await else {
            return Ok(None);
        };
        Ok(handlers::navigation::rename(
            &analysis,
            encoding,
            &at.text_document.uri,
            at.position,
            &params.new_name,
        ))
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        let Some((analysis, encoding)) = self.snapshot(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(handlers::lens::lenses(&analysis, encoding)))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let Some((analysis, encoding)) = self.snapshot(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(handlers::inlay::hints(
            &analysis,
            encoding,
            params.range,
        )))
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        let Some((analysis, encoding)) = self.snapshot(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(DocumentSymbolResponse::Nested(
            handlers::symbols::symbols(&analysis, encoding),
        )))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let uri = params.text_document.uri.clone();
        let Some((analysis, encoding)) = self.snapshot(&uri).await else {
            return Ok(None);
        };
        Ok(Some(handlers::code_action::actions(
            &analysis,
            encoding,
            &uri,
            params.range,
        )))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        let Some((analysis, encoding)) = self.snapshot(&params.text_document.uri).await else {
            return Ok(None);
        };
        Ok(Some(handlers::symbols::folding(&analysis, encoding)))
    }
}
