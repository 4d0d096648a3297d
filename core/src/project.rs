//! The project file `<model>.prunekit.json`: what prunekit knows about one model between sessions
//! (how its free dims were sized, the settings, the profiles by name). It is written atomically,
//! so a crash leaves the last good file, and it carries a `schema_version`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::analysis::AnalysisOptions;
use crate::atomic_file;
use crate::benchmark::Benchmark;
use crate::error::{Error, Result};
use crate::optimize::PruningPlan;
use crate::profile::{LossProfile, PerfProfile};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectFile {
    pub schema_version: u32,
    /// The model file's name, relative to the project file.
    pub model: String,
    #[serde(default)]
    pub load: LoadState,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub perf_profiles: BTreeMap<String, PerfProfile>,
    #[serde(default)]
    pub loss_profiles: BTreeMap<String, LossProfile>,
    /// The profile saved last of each kind: what the editor shows and `optimize` uses by default.
    #[serde(default)]
    pub latest_perf: Option<String>,
    #[serde(default)]
    pub latest_loss: Option<String>,
    /// Optimizations (per-layer sparsity plans) by name, and the one made or changed last.
    #[serde(default)]
    pub optimizations: BTreeMap<String, PruningPlan>,
    #[serde(default)]
    pub latest_optimization: Option<String>,
    /// Benchmarks by name (the optimization compared, or "dense").
    #[serde(default)]
    pub benchmarks: BTreeMap<String, Benchmark>,
}

/// How the model's free dims were sized at the last `load`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadState {
    #[serde(default)]
    pub input_shapes: BTreeMap<String, Vec<u64>>,
    #[serde(default)]
    pub dims: BTreeMap<String, u64>,
}

impl LoadState {
    pub fn from_options(options: &AnalysisOptions) -> Self {
        LoadState {
            input_shapes: options.input_shapes.iter().cloned().collect(),
            dims: options.dims.iter().cloned().collect(),
        }
    }

    pub fn to_options(&self) -> AnalysisOptions {
        AnalysisOptions {
            input_shapes: self
                .input_shapes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            dims: self.dims.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// ONNX Runtime threads per operator; `None` uses every core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// The seed of generated inputs.
    #[serde(default)]
    pub seed: u64,
    /// Training settings an optimization's schedule is made from (Sparsify's project training
    /// settings): the optimizer the integration code builds, the epochs, the learning rates.
    #[serde(default = "default_optimizer")]
    pub optimizer: String,
    #[serde(default)]
    pub epochs: Option<f64>,
    #[serde(default)]
    pub init_lr: Option<f64>,
    #[serde(default)]
    pub final_lr: Option<f64>,
}

fn default_optimizer() -> String {
    "sgd".into()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threads: None,
            seed: 0,
            optimizer: default_optimizer(),
            epochs: None,
            init_lr: None,
            final_lr: None,
        }
    }
}

impl ProjectFile {
    pub fn new(model: &Path) -> Self {
        ProjectFile {
            schema_version: SCHEMA_VERSION,
            model: model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            load: LoadState::default(),
            settings: Settings::default(),
            perf_profiles: BTreeMap::new(),
            loss_profiles: BTreeMap::new(),
            latest_perf: None,
            latest_loss: None,
            optimizations: BTreeMap::new(),
            latest_optimization: None,
            benchmarks: BTreeMap::new(),
        }
    }

    /// The latest loss profile, if any.
    pub fn latest_loss_profile(&self) -> Option<(&str, &LossProfile)> {
        let name = self.latest_loss.as_deref()?;
        Some((name, self.loss_profiles.get(name)?))
    }

    /// The latest performance profile, if any.
    pub fn latest_perf_profile(&self) -> Option<(&str, &PerfProfile)> {
        let name = self.latest_perf.as_deref()?;
        Some((name, self.perf_profiles.get(name)?))
    }
}

/// `<model>.prunekit.json` beside the model.
pub fn path_for(model: &Path) -> PathBuf {
    let mut name = model
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".prunekit.json");
    model.with_file_name(name)
}

/// What reading the project file found.
pub enum Found {
    None,
    Project(Box<ProjectFile>),
    /// The file was unreadable or from a newer prunekit; it was moved aside (to this path) so that
    /// nothing is lost, and a fresh project starts.
    MovedAside(PathBuf),
}

pub fn read(model: &Path) -> Result<Found> {
    let path = path_for(model);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Found::None),
        Err(err) => return Err(Error::io(&path, &err)),
    };
    match serde_json::from_str::<ProjectFile>(&text) {
        Ok(project) if project.schema_version <= SCHEMA_VERSION => {
            Ok(Found::Project(Box::new(project)))
        }
        _ => {
            let aside = path.with_extension(format!("json.unreadable-{}", std::process::id()));
            std::fs::rename(&path, &aside).map_err(|err| Error::io(&path, &err))?;
            Ok(Found::MovedAside(aside))
        }
    }
}

/// The project file if it exists and reads cleanly; never moves anything (for readers such as
/// the language server, which must not change files under the user).
pub fn peek(model: &Path) -> Option<ProjectFile> {
    let text = std::fs::read_to_string(path_for(model)).ok()?;
    serde_json::from_str::<ProjectFile>(&text)
        .ok()
        .filter(|p| p.schema_version <= SCHEMA_VERSION)
}

/// Reads the project (a fresh one when there is none or it was unreadable), applies `change`,
/// and writes it back atomically: one read-modify-write for every command that saves something.
pub fn update(model: &Path, change: impl FnOnce(&mut ProjectFile)) -> Result<ProjectFile> {
    let mut project = match read(model)? {
        Found::Project(project) => *project,
        Found::None | Found::MovedAside(_) => ProjectFile::new(model),
    };
    change(&mut project);
    write(model, &project)?;
    Ok(project)
}

pub fn write(model: &Path, project: &ProjectFile) -> Result<()> {
    let text = serde_json::to_string_pretty(project).expect("plain data serializes") + "\n";
    atomic_file::write(&path_for(model), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unreadable_files_are_kept_aside() {
        let dir = std::env::temp_dir().join(format!("prunekit-project-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("m.onnx");
        assert!(matches!(read(&model).unwrap(), Found::None));
        let mut project = ProjectFile::new(&model);
        project.load.dims.insert("batch".into(), 8);
        project.settings.seed = 3;
        write(&model, &project).unwrap();
        assert_eq!(path_for(&model), dir.join("m.onnx.prunekit.json"));
        match read(&model).unwrap() {
            Found::Project(p) => assert_eq!(*p, project),
            _ => panic!("expected the project back"),
        }
        std::fs::write(path_for(&model), "{ half a fi").unwrap();
        match read(&model).unwrap() {
            Found::MovedAside(aside) => {
                assert_eq!(std::fs::read_to_string(aside).unwrap(), "{ half a fi")
            }
            _ => panic!("expected the broken file to be moved aside"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
