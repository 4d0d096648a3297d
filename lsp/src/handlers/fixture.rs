//! Cursor fixtures for the handlers' unit tests, in rust-analyzer's style: a test writes the
//! recipe with `$0` where the cursor is (or two `$0` around a selection), and gets the analysis
//! of the text without the markers, built in-process as the server builds it (`world::analyze`),
//! with the cursor as an LSP position (0-based line, UTF-16 character). Handlers are then called
//! directly: no JSON-RPC, no process.
//!
//! A fixture's model is the committed `tests/fixtures/digits_cnn.onnx`, attached directly rather
//! than through a modeline, either as loaded or with a project file built in memory (a magnitude
//! loss profile and one optimization fitted on it), so that nothing on disk is written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use prunekit_core::optimize::{self, OptimizeOptions};
use prunekit_core::profile;
use prunekit_core::project::ProjectFile;
use prunekit_core::recipe::ModelContext;
use tower_lsp_server::ls_types::{Position, Range, Uri};

use crate::world::{self, Analysis, Framework};

/// Marks the cursor in a fixture's text.
pub const CURSOR: &str = "$0";

/// The model a fixture's recipe is about.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Model {
    None,
    /// `digits_cnn.onnx` as the server loads it without a project file: approximated
    /// sensitivities, no optimizations.
    Digits,
    /// `digits_cnn.onnx` with a project file: the magnitude loss profile 'magnitude' and the
    /// optimization 'balanced' (target 0.85, FLOPs as the performance profile).
    DigitsWithProject,
}

pub struct Fixture {
    pub analysis: Analysis,
    pub uri: Uri,
    /// The cursor: the first marker.
    pub offset: usize,
    pub position: Position,
    /// Between the two markers, or empty at the cursor when there is one.
    pub range: Range,
}

/// A recipe named `model.recipe.yaml` without a model.
pub fn fixture(marked: &str) -> Fixture {
    fixture_named("model.recipe.yaml", marked, Model::None)
}

/// A recipe named `model.recipe.yaml` about `model`.
pub fn fixture_with(marked: &str, model: Model) -> Fixture {
    fixture_named("model.recipe.yaml", marked, model)
}

/// A recipe with this file name (which decides YAML or Markdown), about `model`.
pub fn fixture_named(name: &str, marked: &str, model: Model) -> Fixture {
    let (text, offsets) = strip_markers(marked);
    let (start, end) = match offsets.as_slice() {
        [at] => (*at, *at),
        [start, end] => (*start, *end),
        _ => panic!("a fixture has one `$0` (a cursor) or two (a selection): {marked:?}"),
    };
    let path = Path::new("/fixture").join(name);
    let uri: Uri = format!("file:///fixture/{name}").parse().unwrap();
    let analysis = world::analyze(
        &path,
        Arc::new(text.clone()),
        1,
        Framework::PyTorch,
        context(model),
        Vec::new(),
    );
    Fixture {
        analysis,
        uri,
        offset: start,
        position: position_of(&text, start),
        range: Range {
            start: position_of(&text, start),
            end: position_of(&text, end),
        },
    }
}

/// The text without its markers, and the byte offset of each marker in it.
fn strip_markers(marked: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(marked.len());
    let mut offsets = Vec::new();
    let mut rest = marked;
    while let Some(at) = rest.find(CURSOR) {
        text.push_str(&rest[..at]);
        offsets.push(text.len());
        rest = &rest[at + CURSOR.len()..];
    }
    text.push_str(rest);
    (text, offsets)
}

/// The LSP position of a byte offset: counted here on its own, not with the server's
/// `LineIndex`, so that a fixture checks the conversion rather than repeats it. Fixtures end
/// their lines with `\n`.
fn position_of(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: before.matches('\n').count() as u32,
        character: before[line_start..]
            .chars()
            .map(char::len_utf16)
            .sum::<usize>() as u32,
    }
}

pub fn digits_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits_cnn.onnx")
}

/// The model context of `model`, loaded once per test process.
fn context(model: Model) -> Option<Arc<ModelContext>> {
    static DIGITS: OnceLock<Arc<ModelContext>> = OnceLock::new();
    static WITH_PROJECT: OnceLock<Arc<ModelContext>> = OnceLock::new();
    match model {
        Model::None => None,
        Model::Digits => Some(DIGITS.get_or_init(|| Arc::new(load(false))).clone()),
        Model::DigitsWithProject => Some(WITH_PROJECT.get_or_init(|| Arc::new(load(true))).clone()),
    }
}

/// The digits model's context as `world::model_context` makes it (weights not counted), with
/// the in-memory project file applied when `with_project`.
fn load(with_project: bool) -> ModelContext {
    let path = digits_path();
    let model = prunekit_core::load(&path).unwrap();
    let options = prunekit_core::AnalysisOptions {
        skip_zero_count: true,
        ..Default::default()
    };
    let analysis = prunekit_core::analyze(&model, &options).unwrap();
    let mut context = ModelContext::from_analysis(&analysis);
    if with_project {
        let loss = profile::magnitude::profile(
            &model,
            &analysis,
            &prunekit_core::NoProgress,
            &prunekit_core::Cancel::default(),
        )
        .unwrap();
        let plan = optimize::optimize(
            &analysis,
            &profile::perf::flops_only(&analysis),
            "flops",
            &loss,
            "magnitude",
            &OptimizeOptions::default(),
        )
        .unwrap();
        let mut project = ProjectFile::new(&path);
        project.loss_profiles.insert("magnitude".into(), loss);
        project.latest_loss = Some("magnitude".into());
        project.optimizations.insert("balanced".into(), plan);
        project.latest_optimization = Some("balanced".into());
        context.apply_profiles(&project);
    }
    context
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_removed_and_the_cursor_counts_utf16_units() {
        // é is one UTF-16 unit in two bytes; 😀 two units in four.
        let f = fixture("a: 1\n# é😀 $0x\n");
        assert_eq!(f.analysis.text.as_str(), "a: 1\n# é😀 x\n");
        assert_eq!(&f.analysis.text[f.offset..], "x\n");
        assert_eq!(
            f.position,
            Position {
                line: 1,
                character: 6
            }
        );
        assert_eq!(f.range.start, f.range.end);
    }

    #[test]
    fn two_markers_make_a_selection() {
        let f = fixture("a: $0one$0\n");
        assert_eq!(f.analysis.text.as_str(), "a: one\n");
        assert_eq!((f.range.start.character, f.range.end.character), (3, 6));
    }

    #[test]
    fn the_model_is_attached() {
        assert!(fixture("a: 1$0\n").analysis.model.is_none());
        let digits = fixture_with("a: 1$0\n", Model::Digits);
        let model = digits.analysis.model.as_ref().unwrap();
        assert!(model.sensitivity_source.is_none() && model.plans.is_empty());
        let profiled = fixture_with("a: 1$0\n", Model::DigitsWithProject);
        let model = profiled.analysis.model.as_ref().unwrap();
        assert!(model.sensitivity_source.is_some());
        assert_eq!(model.plans.len(), 1);
    }
}
