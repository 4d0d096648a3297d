//! Which model a recipe is about, first match wins: a modeline `# prunekit: model=PATH`
//! (relative to the recipe), else the `prunekit.model` setting, else an `.onnx` file of the same
//! stem beside the recipe (`resnet.recipe.yaml` → `resnet.onnx`).

use std::path::{Path, PathBuf};

const MODELINE: &str = "# prunekit: model=";

/// The modeline's path and the byte span of the path in the text, if there is one.
pub fn modeline(text: &str) -> Option<(String, std::ops::Range<usize>)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.trim_start().strip_prefix(MODELINE) {
            let path = rest.trim();
            let start = offset
                + line.find(MODELINE)?
                + MODELINE.len()
                + (rest.len() - rest.trim_start().len());
            return Some((path.to_string(), start..start + path.len()));
        }
        offset += line.len();
    }
    None
}

/// The model for the recipe at `recipe` with this `text`, and how it was found.
pub fn resolve(
    recipe: &Path,
    text: &str,
    setting: Option<&str>,
) -> Option<(PathBuf, &'static str)> {
    let dir = recipe.parent().unwrap_or(Path::new("."));
    if let Some((path, _)) = modeline(text) {
        return Some((dir.join(path), "modeline"));
    }
    if let Some(path) = setting.filter(|s| !s.is_empty()) {
        let path = Path::new(path);
        return Some((
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                dir.join(path)
            },
            "setting",
        ));
    }
    let name = recipe.file_name()?.to_str()?;
    let stem = [
        ".recipe.yaml",
        ".recipe.yml",
        ".recipe.md",
        ".yaml",
        ".yml",
        ".md",
    ]
    .iter()
    .find_map(|suffix| name.strip_suffix(suffix))?;
    let candidate = dir.join(format!("{stem}.onnx"));
    candidate.is_file().then_some((candidate, "same stem"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modeline_wins_and_its_span_is_the_path() {
        let text = "version: 1.1.0\n# prunekit: model=../m.onnx\nmodifiers: []\n";
        let (path, span) = modeline(text).unwrap();
        assert_eq!(path, "../m.onnx");
        assert_eq!(&text[span], "../m.onnx");
        let (resolved, how) = resolve(Path::new("/r/a.recipe.yaml"), text, Some("x.onnx")).unwrap();
        assert_eq!((resolved, how), (PathBuf::from("/r/../m.onnx"), "modeline"));
    }

    #[test]
    fn setting_then_same_stem() {
        let (p, how) = resolve(Path::new("/r/a.recipe.yaml"), "", Some("models/x.onnx")).unwrap();
        assert_eq!((p, how), (PathBuf::from("/r/models/x.onnx"), "setting"));
        assert!(resolve(Path::new("/nonexistent/a.recipe.yaml"), "", None).is_none());
    }
}
