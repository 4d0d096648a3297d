//! prunekit's own requests, for editor extensions that show more than LSP has words for:
//!
//! - `prunekit/model` `{uri}` → which model a recipe is about, how it was found, its project file
//!   and where its sensitivities come from (the VS Code status bar and "Open the project file");
//! - `prunekit/sensitivityChart` `{uri}` → the model's layer sensitivity chart as a 2× PNG, from
//!   the latest loss profile in its project file, else from Sparsify's approximation.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

use prunekit_core::recipe::ModelContext;

use crate::model_link;

#[derive(Debug, Deserialize)]
pub struct RecipeParams {
    pub uri: String,
}

/// The answer to `prunekit/model`.
#[derive(Debug, Serialize, PartialEq)]
pub struct ModelInfo {
    /// The model's path (absolute when the recipe's is).
    pub model: Option<String>,
    /// How it was found: "modeline", "setting" or "same stem".
    pub how: Option<&'static str>,
    pub exists: bool,
    /// The model's project file, when it exists.
    pub project: Option<String>,
    /// Prunable layers, when the model loaded.
    pub layers: Option<usize>,
    /// Where sensitivities come from; `None` when they are Sparsify's approximation.
    pub sensitivity_source: Option<String>,
    /// What is wrong, in one sentence, when there is no usable model.
    pub message: Option<String>,
}

pub const NO_MODEL: &str = "This recipe names no model: add a line `# prunekit: model=PATH`, set prunekit.model, or put an .onnx file with the recipe's name beside it.";

/// What `prunekit/model` says of the recipe at `recipe` with this text. `context` is the loaded
/// model (if it loaded) and `problem` what the model link reported otherwise.
pub fn model_info(
    recipe: &Path,
    text: &str,
    setting: Option<&str>,
    context: Option<&ModelContext>,
    problem: Option<&str>,
) -> ModelInfo {
    let Some((path, how)) = model_link::resolve(recipe, text, setting) else {
        return ModelInfo {
            model: None,
            how: None,
            exists: false,
            project: None,
            layers: None,
            sensitivity_source: None,
            message: Some(NO_MODEL.into()),
        };
    };
    let path = normalize(&path);
    let exists = path.is_file();
    let project = prunekit_core::project::path_for(&path);
    let message = if let Some(refusal) = crate::files::not_regular(&path, "an .onnx model") {
        Some(refusal)
    } else if !exists {
        Some(format!(
            "The model {} named by the {how} does not exist; fix the path.",
            path.display()
        ))
    } else if context.is_none() {
        Some(
            problem
                .map(str::to_string)
                .unwrap_or_else(|| format!("The model {} could not be loaded.", path.display())),
        )
    } else {
        None
    };
    ModelInfo {
        model: Some(path.display().to_string()),
        how: Some(how),
        exists,
        project: project.is_file().then(|| project.display().to_string()),
        layers: context.map(|c| c.weights.iter().filter(|w| w.is_prunable).count()),
        sensitivity_source: context.and_then(|c| c.sensitivity_source.clone()),
        message,
    }
}

/// `a/b/../m.onnx` → `a/m.onnx`, without touching the file system (the model may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The answer to `prunekit/sensitivityChart`.
#[derive(Debug, Serialize)]
pub struct SensitivityChart {
    /// Base64 PNG drawn at 2×.
    pub png: String,
    /// The size to show it at (1×, CSS pixels).
    pub width: u32,
    pub height: u32,
    pub title: String,
    pub model: String,
    /// Where the values come from.
    pub source: String,
}

/// The sensitivity chart of the model at `model`: its latest loss profile, else the approximation.
/// An error is one sentence for the user.
pub fn sensitivity_chart(model: &Path) -> Result<SensitivityChart, String> {
    if let Some(refusal) = crate::files::not_regular(model, "an .onnx model") {
        return Err(refusal);
    }
    let name = model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let measured = crate::files::peek_project(model).and_then(|project| {
        let (profile_name, profile) = project.latest_loss_profile()?;
        Some((profile.clone(), profile.source(profile_name)))
    });
    let (profile, source) = match measured {
        Some(found) => found,
        None => {
            let options = prunekit_core::AnalysisOptions {
                skip_zero_count: true,
                ..Default::default()
            };
            let analysis = prunekit_core::load(model)
                .and_then(|m| prunekit_core::analyze(&m, &options))
                .map_err(|err| format!("{name} could not be analyzed: {err}"))?;
            (
                prunekit_core::profile::approx::profile(&analysis),
                "approximation from shapes (run `profile loss` in the prunekit kernel for a measured profile)".to_string(),
            )
        }
    };
    if profile.layers.is_empty() {
        return Err(format!(
            "{name} has no prunable layers, so there is no sensitivity to show."
        ));
    }
    let chart = prunekit_core::chart::loss_layers(&profile, true, None)
        .map_err(|err| format!("The sensitivity chart of {name} could not be drawn: {err}"))?;
    Ok(SensitivityChart {
        png: base64::engine::general_purpose::STANDARD.encode(&chart.png),
        width: chart.width,
        height: chart.height,
        title: format!("Layer sensitivity of {name}"),
        model: model.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name)
    }

    #[test]
    fn no_model_is_one_sentence() {
        let info = model_info(Path::new("/nowhere/a.recipe.yaml"), "", None, None, None);
        assert_eq!(info.model, None);
        assert_eq!(info.message.as_deref(), Some(NO_MODEL));
    }

    #[test]
    fn a_missing_model_is_named_with_how_it_was_found() {
        let text = "# prunekit: model=../gone.onnx\nmodifiers: []\n";
        let info = model_info(Path::new("/r/s/a.recipe.yaml"), text, None, None, None);
        assert_eq!(info.model.as_deref(), Some("/r/gone.onnx"));
        assert_eq!(info.how, Some("modeline"));
        assert!(!info.exists);
        let message = info.message.unwrap();
        assert!(message.contains("/r/gone.onnx") && message.contains("modeline"));
    }

    #[test]
    fn approximate_chart_of_a_fixture() {
        // A copy without a project file beside it (tests elsewhere profile the fixture in place).
        let dir = std::env::temp_dir().join(format!("prunekit-lsp-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("digits_cnn.onnx");
        std::fs::copy(fixture("digits_cnn.onnx"), &model).unwrap();
        let chart = sensitivity_chart(&model).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let png = base64::engine::general_purpose::STANDARD
            .decode(&chart.png)
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(
            chart.source.starts_with("approximation"),
            "{}",
            chart.source
        );
        assert!(chart.width > 0 && chart.height > 0);
    }

    #[test]
    fn a_model_that_does_not_load_gets_a_sentence() {
        let err = sensitivity_chart(Path::new("/nonexistent/m.onnx")).unwrap_err();
        assert!(err.starts_with("m.onnx could not be analyzed"), "{err}");
    }
}
