//! The server's state: open documents (text, version, line index), settings, the negotiated
//! position encoding, and a cache of analyzed models. Notifications mutate it synchronously under
//! a `std::sync::Mutex` (never held across `.await`); queries take an `Analysis` snapshot, an
//! `Arc` that no later edit can change, and compute without the lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

pub use prunekit_core::recipe::catalog::Framework;
use prunekit_core::recipe::span::Span;
use prunekit_core::recipe::{self, CheckOptions, Checked, Diagnostic, ModelContext};
use tower_lsp_server::ls_types::Uri;

use crate::line_index::{Encoding, LineIndex};
use crate::model_link;

/// Settings from `initializationOptions` and `workspace/configuration` (`prunekit.*`).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub model: Option<String>,
    pub framework: Framework,
}

/// One document's text at one version, with everything computed from it.
pub struct Analysis {
    pub version: i32,
    pub text: Arc<String>,
    pub index: LineIndex,
    pub checked: Checked,
    pub model: Option<Arc<ModelContext>>,
    /// Checked plus the model-link findings, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

pub struct Document {
    pub path: PathBuf,
    pub text: Arc<String>,
    pub version: i32,
    pub analysis: Option<Arc<Analysis>>,
    /// The newest analysis whose text parsed without a syntax error: hover and navigation fall
    /// back to it for the part of the document after a syntax error the user is still typing.
    pub last_good: Option<Arc<Analysis>>,
}

impl Analysis {
    /// Spans of this analysis's text ↔ LSP positions in the negotiated encoding.
    pub fn converter(&self, encoding: Encoding) -> crate::convert::Converter<'_> {
        crate::convert::Converter {
            text: &self.text,
            index: &self.index,
            encoding,
        }
    }

    pub fn has_syntax_error(&self) -> bool {
        self.checked.document.error.is_some()
    }
}

/// Maps an offset of `new` to the same place in `old`, when it lies in the common prefix or the
/// common suffix of the two texts (outside the region that was edited).
pub fn map_offset(old: &str, new: &str, offset: usize) -> Option<usize> {
    let prefix = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    if offset <= prefix {
        return Some(offset);
    }
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let mapped = offset.checked_add(old.len())?.checked_sub(new.len())?;
    (offset >= new.len() - suffix && old.is_char_boundary(mapped)).then_some(mapped)
}

#[derive(Default)]
pub struct World {
    pub documents: HashMap<Uri, Document>,
    pub settings: Settings,
    pub encoding: Encoding,
    pub supports_snippets: bool,
    pub supports_markdown: bool,
    models: HashMap<PathBuf, (Stamp, Arc<ModelContext>)>,
}

pub type Shared = Arc<Mutex<World>>;

/// When a model and its project file last changed: a cached model context is good while both hold.
type Stamp = (SystemTime, Option<SystemTime>);

fn stamp(model: &Path) -> Option<Stamp> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((
        modified(model)?,
        modified(&prunekit_core::project::path_for(model)),
    ))
}

pub fn lock(world: &Shared) -> std::sync::MutexGuard<'_, World> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The model of a recipe and what the link itself found (a missing file, a model that fails to
/// load), as diagnostics at the modeline.
pub struct ModelLink {
    pub path: Option<PathBuf>,
    pub model: Option<ModelContext>,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn model_context(recipe_path: &Path, text: &str, setting: Option<&str>) -> ModelLink {
    let Some((path, how)) = model_link::resolve(recipe_path, text, setting) else {
        return ModelLink {
            path: None,
            model: None,
            diagnostics: Vec::new(),
        };
    };
    let span = model_link::modeline(text)
        .map(|(_, r)| Span {
            start: r.start,
            end: r.end,
        })
        .unwrap_or(Span { start: 0, end: 0 });
    if let Some(refusal) = crate::files::not_regular(&path, "an .onnx model") {
        return ModelLink {
            path: Some(path),
            model: None,
            diagnostics: vec![Diagnostic::warning("model", span, refusal)],
        };
    }
    // The model file is mapped only while it is analyzed, and its weights are not read.
    let options = prunekit_core::AnalysisOptions {
        skip_zero_count: true,
        ..Default::default()
    };
    let loaded = prunekit_core::load(&path).and_then(|m| prunekit_core::analyze(&m, &options));
    match loaded {
        Ok(analysis) => {
            let mut context = ModelContext::from_analysis(&analysis);
            if let Some(project) = crate::files::peek_project(&path) {
                context.apply_profiles(&project);
            }
            ModelLink {
                path: Some(path),
                model: Some(context),
                diagnostics: Vec::new(),
            }
        }
        Err(err) => ModelLink {
            path: Some(path),
            model: None,
            diagnostics: vec![Diagnostic::warning(
                "model",
                span,
                format!(
                    "The model named by the {how} could not be used ({err}); `params` are not checked against it."
                ),
            )],
        },
    }
}

pub fn options<'m>(
    path: &Path,
    framework: Framework,
    model: Option<&'m ModelContext>,
) -> CheckOptions<'m> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    CheckOptions {
        framework,
        is_markdown: name.ends_with(".md"),
        is_yml: name.ends_with(".yml"),
        model,
    }
}

impl World {
    /// Forgets analyzed models, so the next analysis reloads them (a watched file changed).
    pub fn forget_models(&mut self) {
        self.models.clear();
        for doc in self.documents.values_mut() {
            doc.analysis = None;
        }
    }
}

/// The document's analysis at its current version, computed now if it is stale. The lock is held
/// only to read the inputs, to look a model up in the cache and to store the result. Nothing
/// under it touches the file system: resolving the model path (`is_file`) and its stamp
/// (`metadata`) happen between the lock's uses, and parsing, checking and loading a model after
/// them, so edits keep flowing in while a model is read or a big recipe is checked. Callers run
/// it on a blocking thread (`spawn_blocking`), never on the async runtime.
pub fn analysis(world: &Shared, uri: &Uri) -> Option<Arc<Analysis>> {
    let (path, text, version, settings) = {
        let w = lock(world);
        let doc = w.documents.get(uri)?;
        if let Some(a) = &doc.analysis
            && a.version == doc.version
        {
            return Some(a.clone());
        }
        (
            doc.path.clone(),
            doc.text.clone(),
            doc.version,
            w.settings.clone(),
        )
    };
    // File-system work, with the lock released.
    let current = model_link::resolve(&path, &text, settings.model.as_deref())
        .and_then(|(p, _)| Some((stamp(&p)?, p)));
    let cached = current.and_then(|(now, p)| {
        let w = lock(world);
        let (seen, model) = w.models.get(&p)?;
        (*seen == now).then(|| model.clone())
    });
    let (model, link_diagnostics) = match cached {
        Some(model) => (Some(model), Vec::new()),
        None => {
            let link = model_context(&path, &text, settings.model.as_deref());
            let model = link.model.map(Arc::new);
            if let (Some(p), Some(m)) = (&link.path, &model)
                && let Some(now) = stamp(p)
            {
                lock(world).models.insert(p.clone(), (now, m.clone()));
            }
            (model, link.diagnostics)
        }
    };
    let analysis = Arc::new(analyze(
        &path,
        text,
        version,
        settings.framework,
        model,
        link_diagnostics,
    ));
    let mut w = lock(world);
    if let Some(doc) = w.documents.get_mut(uri)
        && doc.version == version
    {
        doc.analysis = Some(analysis.clone());
        if !analysis.has_syntax_error() {
            doc.last_good = Some(analysis.clone());
        }
    }
    Some(analysis)
}

/// The analysis of `text` (the recipe at `path`) with its model already linked: a pure function,
/// no file system, no lock. `link_diagnostics` are what the model link found.
pub fn analyze(
    path: &Path,
    text: Arc<String>,
    version: i32,
    framework: Framework,
    model: Option<Arc<ModelContext>>,
    mut link_diagnostics: Vec<Diagnostic>,
) -> Analysis {
    let checked = recipe::check(&text, &options(path, framework, model.as_deref()));
    let mut diagnostics = checked.diagnostics.clone();
    diagnostics.append(&mut link_diagnostics);
    diagnostics.sort_by_key(|d| (d.span.start, d.severity));
    Analysis {
        version,
        index: LineIndex::new(&text),
        text,
        checked,
        model,
        diagnostics,
    }
}

pub fn last_good(world: &Shared, uri: &Uri) -> Option<Arc<Analysis>> {
    lock(world)
        .documents
        .get(uri)
        .and_then(|d| d.last_good.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world holding one recipe whose modeline names the digits fixture model.
    fn world_with_recipe() -> (Shared, Uri) {
        let model = crate::handlers::fixture::digits_path();
        let text = format!("# prunekit: model={}\nmodifiers: []\n", model.display());
        let uri: Uri = "file:///fixture/cache.recipe.yaml".parse().unwrap();
        let world = Shared::default();
        lock(&world).documents.insert(
            uri.clone(),
            Document {
                path: PathBuf::from("/fixture/cache.recipe.yaml"),
                text: Arc::new(text),
                version: 1,
                analysis: None,
                last_good: None,
            },
        );
        (world, uri)
    }

    #[test]
    fn a_model_is_loaded_once_and_reloaded_after_it_is_forgotten() {
        let (world, uri) = world_with_recipe();
        let first = analysis(&world, &uri).unwrap();
        let model = first.model.clone().expect("the modeline's model loads");
        assert_eq!(model.name, "digits_cnn.onnx");
        // The same version: the stored analysis.
        assert!(Arc::ptr_eq(&first, &analysis(&world, &uri).unwrap()));
        // A new version is analyzed again, with the cached model.
        lock(&world).documents.get_mut(&uri).unwrap().version = 2;
        let second = analysis(&world, &uri).unwrap();
        assert_eq!(second.version, 2);
        assert!(Arc::ptr_eq(&model, second.model.as_ref().unwrap()));
        // A watched file changed: the model is read again.
        lock(&world).forget_models();
        let third = analysis(&world, &uri).unwrap();
        assert!(!Arc::ptr_eq(&model, third.model.as_ref().unwrap()));
        assert_eq!(*model, **third.model.as_ref().unwrap());
    }

    #[test]
    fn a_missing_model_is_a_diagnostic_at_the_modeline() {
        let world = Shared::default();
        let uri: Uri = "file:///fixture/gone.recipe.yaml".parse().unwrap();
        lock(&world).documents.insert(
            uri.clone(),
            Document {
                path: PathBuf::from("/fixture/gone.recipe.yaml"),
                text: Arc::new("# prunekit: model=gone.onnx\nmodifiers: []\n".into()),
                version: 1,
                analysis: None,
                last_good: None,
            },
        );
        let a = analysis(&world, &uri).unwrap();
        assert!(a.model.is_none());
        assert!(a.diagnostics.iter().any(|d| d.code == "model"));
    }

    #[test]
    fn offsets_outside_the_edit_map_back() {
        let old = "a: 1\nb: [x, y]\nc: 3\n";
        let new = "a: 1\nb: [x, zz\nc: 3\n";
        assert_eq!(map_offset(old, new, 2), Some(2));
        let c_new = new.find("c:").unwrap();
        assert_eq!(map_offset(old, new, c_new), Some(old.find("c:").unwrap()));
        // Inside the replaced text there is no old place to point at.
        assert_eq!(map_offset(old, new, new.find("zz").unwrap() + 1), None);
    }
}
