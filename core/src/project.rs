//! The project file `<model>.prunekit.json`: what prunekit knows about one model between sessions
//! (how its free dims were sized, the settings, the profiles by name). It is written atomically,
//! so a crash leaves the last good file, and it carries a `schema_version`. Every save is one
//! read-modify-write under an advisory lock on a sibling lock file (`update`), so processes and
//! kernels saving to one project at once keep every result; readers never wait for the lock.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::analysis::AnalysisOptions;
use crate::atomic_file;
use crate::benchmark::Benchmark;
use crate::error::{Error, Result};
use crate::optimize::PruningPlan;
use crate::profile::{LossProfile, PerfKind, PerfProfile};

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
    /// The channel loss profile saved last (a structured fit's default); `latest_loss` names
    /// only profiles of layers, which the editor and the unstructured fit read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_channel_loss: Option<String>,
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
            latest_channel_loss: None,
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

    /// The latest channel loss profile, if any.
    pub fn latest_channel_profile(&self) -> Option<(&str, &LossProfile)> {
        let name = self.latest_channel_loss.as_deref()?;
        Some((name, self.loss_profiles.get(name)?))
    }

    /// Saves a loss profile under `name` as the latest of its kind (of layers, or of channels).
    pub fn add_loss_profile(&mut self, name: &str, profile: LossProfile) {
        if profile.structure.is_some() {
            self.latest_channel_loss = Some(name.to_string());
            if self.latest_loss.as_deref() == Some(name) {
                self.latest_loss = None;
            }
        } else {
            self.latest_loss = Some(name.to_string());
            if self.latest_channel_loss.as_deref() == Some(name) {
                self.latest_channel_loss = None;
            }
        }
        self.loss_profiles.insert(name.to_string(), profile);
    }

    /// The latest performance profile, if any.
    pub fn latest_perf_profile(&self) -> Option<(&str, &PerfProfile)> {
        let name = self.latest_perf.as_deref()?;
        Some((name, self.perf_profiles.get(name)?))
    }

    /// The latest performance profile when it was measured: what a fit and the editor use by
    /// default. A FLOPs profile saved last gives `None`, so callers estimate from the analysis
    /// (as the FLOPs profile would) rather than treat counted FLOPs as timings.
    pub fn latest_measured_perf_profile(&self) -> Option<(&str, &PerfProfile)> {
        self.latest_perf_profile()
            .filter(|(_, p)| p.kind == PerfKind::Measured)
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

/// `.<model>.prunekit.json.lock` beside the model: what writers of the project file lock. The
/// project file itself cannot be locked, since every save replaces it by a rename. The lock file
/// exists only while a save holds it, so folders (and version control) are not left with one.
fn lock_path_for(model: &Path) -> PathBuf {
    let project = path_for(model);
    let mut name = std::ffi::OsString::from(".");
    name.push(project.file_name().unwrap_or_default());
    name.push(".lock");
    project.with_file_name(name)
}

/// How long a save waits for another process's save of the same project before giving up. A save
/// holds the lock for a read, a change and a write of a few megabytes at most: well under a
/// second. A holder that dies lets go at once (the system releases its lock), so only a live
/// holder that is stuck (stopped in a shell, say) makes a save wait this long.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// An advisory lock on a project file, held from when it is made until it is dropped. It keeps
/// out other processes and other threads of this one alike (each holds its own open file), so it
/// must not be taken twice on one thread: the second would wait for the first.
struct ProjectLock {
    /// `None` where the file system has no locks: see `ProjectLock::acquire`.
    file: Option<File>,
    path: PathBuf,
}

impl ProjectLock {
    fn acquire(model: &Path, wait: Duration) -> Result<ProjectLock> {
        let path = lock_path_for(model);
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let file = open_lock_file(&path)?;
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(50));
                    }
                    Err(TryLockError::WouldBlock) => {
                        return Err(Error::Io {
                            path: path_for(model),
                            problem: format!(
                                "is being saved by another prunekit process that has held its lock ({}) for over {} s; let that process finish or stop it, then run the command again",
                                path.display(),
                                wait.as_secs()
                            ),
                        });
                    }
                    // Some network file systems have no locks. Saving unlocked there is what
                    // prunekit did before it locked: each write is still whole, but two processes
                    // saving at the same moment can lose one's result (README, "Limits and
                    // safety").
                    Err(TryLockError::Error(err)) if locks_unsupported(&err) => {
                        return Ok(ProjectLock { file: None, path });
                    }
                    Err(TryLockError::Error(err)) => return Err(lock_file_error(&path, &err)),
                }
            }
            if is_file_at(&file, &path) {
                return Ok(ProjectLock {
                    file: Some(file),
                    path,
                });
            }
            // The holder before removed this file as it let go, and a save that came after may
            // already hold a new one at the path: lock that one instead.
        }
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Removed while still held, so no other process holds it: one that opened it before
        // and locks it next finds it gone from the path and starts again (`is_file_at`). Where
        // an open file cannot be told from the one at the path, the lock file stays.
        if cfg!(unix) && self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `file` is still the one at `path`.
fn is_file_at(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Never removed elsewhere (see `Drop`), so it is always the same file.
        let _ = (file, path);
        true
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Ok(file) => Ok(file),
        // A lock file made by another user may not be writable by this one; a lock needs only
        // a file open for reading.
        Err(err) if err.kind() == ErrorKind::PermissionDenied && path.exists() => {
            File::open(path).map_err(|err| lock_file_error(path, &err))
        }
        Err(err) => Err(lock_file_error(path, &err)),
    }
}

fn locks_unsupported(err: &std::io::Error) -> bool {
    // ENOLCK (37) and EOPNOTSUPP (95) are what Linux's flock gives on file systems without locks.
    err.kind() == ErrorKind::Unsupported
        || (cfg!(target_os = "linux") && matches!(err.raw_os_error(), Some(37 | 95)))
}

fn lock_file_error(path: &Path, err: &std::io::Error) -> Error {
    let why = match err.kind() {
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::ReadOnlyFilesystem => "read-only file system".to_string(),
        _ => err.to_string(),
    };
    Error::Io {
        path: path.to_path_buf(),
        problem: format!(
            "could not be created ({why}), so nothing can be saved to the project file beside it; make the model's folder writable, or copy the model to a folder you can write to"
        ),
    }
}

/// What reading the project file found.
pub enum Found {
    None,
    Project(Box<ProjectFile>),
    /// The file was unreadable or from a newer prunekit; it was moved aside (to this path) so that
    /// nothing is lost, and a fresh project starts.
    MovedAside(PathBuf),
}

/// The project file as it is on disk.
enum OnDisk {
    Missing,
    Readable(Box<ProjectFile>),
    /// Not JSON of a project file, or from a newer prunekit.
    Unreadable,
}

fn on_disk(path: &Path) -> Result<OnDisk> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(OnDisk::Missing),
        Err(err) => return Err(Error::io(path, &err)),
    };
    Ok(match serde_json::from_str::<ProjectFile>(&text) {
        Ok(project) if project.schema_version <= SCHEMA_VERSION => {
            OnDisk::Readable(Box::new(project))
        }
        _ => OnDisk::Unreadable,
    })
}

/// The project file, read without waiting for a lock: saves replace the file whole by a rename,
/// so a reader sees one save or the next, never half of one. Only an unreadable file needs the
/// lock, to be moved aside.
pub fn read(model: &Path) -> Result<Found> {
    match on_disk(&path_for(model))? {
        OnDisk::Missing => Ok(Found::None),
        OnDisk::Readable(project) => Ok(Found::Project(project)),
        OnDisk::Unreadable => {
            let _lock = ProjectLock::acquire(model, LOCK_WAIT)?;
            read_locked(model)
        }
    }
}

/// `read` for a caller that holds the lock. The file is read again under it: a save may have
/// replaced an unreadable file in the meantime, and a good file must never be moved aside.
fn read_locked(model: &Path) -> Result<Found> {
    let path = path_for(model);
    Ok(match on_disk(&path)? {
        OnDisk::Missing => Found::None,
        OnDisk::Readable(project) => Found::Project(project),
        OnDisk::Unreadable => {
            // A name no earlier move-aside took, so one unreadable file never replaces another.
            let base = format!("json.unreadable-{}", std::process::id());
            let mut aside = path.with_extension(&base);
            let mut n = 1;
            while aside.exists() {
                n += 1;
                aside = path.with_extension(format!("{base}-{n}"));
            }
            std::fs::rename(&path, &aside).map_err(|err| Error::io(&path, &err))?;
            Found::MovedAside(aside)
        }
    })
}

/// The project file if it exists and reads cleanly; never moves anything and never waits for a
/// lock (for readers such as the language server, which must not change files under the user).
pub fn peek(model: &Path) -> Option<ProjectFile> {
    let text = std::fs::read_to_string(path_for(model)).ok()?;
    serde_json::from_str::<ProjectFile>(&text)
        .ok()
        .filter(|p| p.schema_version <= SCHEMA_VERSION)
}

/// Reads the project (a fresh one when there is none or it was unreadable), applies `change`,
/// and writes it back atomically: one read-modify-write for every command that saves something.
/// It holds the project's lock throughout, so saves from other processes and threads go one
/// after another and none is lost. `change` runs under the lock: it should only set fields (no
/// long work, no other save to the same project).
pub fn update(model: &Path, change: impl FnOnce(&mut ProjectFile)) -> Result<Saved> {
    update_or_create(model, || ProjectFile::new(model), change)
}

/// `update`, with `fresh` making the project when there is none (or it was unreadable).
pub fn update_or_create(
    model: &Path,
    fresh: impl FnOnce() -> ProjectFile,
    change: impl FnOnce(&mut ProjectFile),
) -> Result<Saved> {
    update_with_wait(model, LOCK_WAIT, fresh, change)
}

fn update_with_wait(
    model: &Path,
    wait: Duration,
    fresh: impl FnOnce() -> ProjectFile,
    change: impl FnOnce(&mut ProjectFile),
) -> Result<Saved> {
    let _lock = ProjectLock::acquire(model, wait)?;
    let (mut project, moved_aside) = match read_locked(model)? {
        Found::Project(project) => (*project, None),
        Found::None => (fresh(), None),
        Found::MovedAside(aside) => (fresh(), Some(aside)),
    };
    change(&mut project);
    write_locked(model, &project)?;
    Ok(Saved {
        project,
        moved_aside,
    })
}

/// A save's result: the project as written, and where an unreadable project file was moved
/// before the save started a fresh one (the user must hear of it: the old results are there).
#[derive(Debug)]
pub struct Saved {
    pub project: ProjectFile,
    pub moved_aside: Option<PathBuf>,
}

impl Saved {
    /// The sentence that tells the user a project file was moved aside, if one was.
    pub fn notice(&self) -> Option<String> {
        self.moved_aside.as_deref().map(moved_aside_notice)
    }
}

/// Said wherever an unreadable project file was moved aside.
pub fn moved_aside_notice(aside: &Path) -> String {
    format!(
        "The project file could not be read (damaged, or from a newer prunekit); it was kept as {} and a new one started.",
        aside.display()
    )
}

/// Replaces the project file; the caller holds the lock (anything else would undo other
/// processes' saves, hence no public `write`: use `update`). `atomic_file::write` also removes
/// the temporary files that killed writers of this project left behind.
fn write_locked(model: &Path, project: &ProjectFile) -> Result<()> {
    let text = serde_json::to_string_pretty(project).expect("plain data serializes") + "\n";
    atomic_file::write(&path_for(model), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A fresh empty folder for one test.
    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("prunekit-project-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Saves `count` entries named `{prefix}-{i}`, each its own `update`, the way a kernel saves
    /// one result per command (a dim per entry stands for a profile: only the names matter here).
    fn save_many(model: &Path, prefix: &str, count: usize) {
        for i in 0..count {
            update(model, |p| {
                p.load.dims.insert(format!("{prefix}-{i}"), i as u64);
            })
            .unwrap();
        }
    }

    #[test]
    fn round_trip_and_unreadable_files_are_kept_aside() {
        let dir = scratch("round-trip");
        let model = dir.join("m.onnx");
        assert!(matches!(read(&model).unwrap(), Found::None));
        let saved = update(&model, |p| {
            p.load.dims.insert("batch".into(), 8);
            p.settings.seed = 3;
        })
        .unwrap();
        assert!(saved.notice().is_none());
        let project = saved.project;
        assert_eq!(path_for(&model), dir.join("m.onnx.prunekit.json"));
        match read(&model).unwrap() {
            Found::Project(p) => assert_eq!(*p, project),
            _ => panic!("expected the project back"),
        }
        // Two broken files in a row: the second must not replace the first one kept aside.
        let mut asides = Vec::new();
        for broken in ["{ half a fi", "{ another ha"] {
            std::fs::write(path_for(&model), broken).unwrap();
            match read(&model).unwrap() {
                Found::MovedAside(aside) => {
                    assert_eq!(std::fs::read_to_string(&aside).unwrap(), broken);
                    asides.push(aside);
                }
                _ => panic!("expected the broken file to be moved aside"),
            }
        }
        assert_ne!(asides[0], asides[1]);
        assert_eq!(std::fs::read_to_string(&asides[0]).unwrap(), "{ half a fi");
        // A save that finds a broken file keeps it aside too, and says so.
        std::fs::write(path_for(&model), "{ a third").unwrap();
        let saved = update(&model, |p| p.settings.seed = 4).unwrap();
        let aside = saved.moved_aside.clone().expect("moved aside");
        assert_eq!(std::fs::read_to_string(&aside).unwrap(), "{ a third");
        let notice = saved.notice().unwrap();
        assert!(notice.contains(&aside.display().to_string()), "{notice}");
        assert!(notice.contains("a new one started"), "{notice}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn readers_change_nothing_and_do_not_lock() {
        let dir = scratch("readers");
        let model = dir.join("m.onnx");
        update(&model, |p| p.settings.seed = 1).unwrap();
        if cfg!(unix) {
            assert!(!lock_path_for(&model).exists(), "a save left its lock file");
        }
        // A save holding the lock must not hold up readers of a good file.
        let held = ProjectLock::acquire(&model, LOCK_WAIT).unwrap();
        let start = Instant::now();
        assert!(matches!(read(&model).unwrap(), Found::Project(_)));
        assert!(peek(&model).is_some());
        // Waiting on the lock would take LOCK_WAIT (a minute); a loaded machine takes well under
        // a tenth of that to read.
        assert!(start.elapsed() < LOCK_WAIT / 10);
        drop(held);
        let _ = std::fs::remove_file(lock_path_for(&model));
        assert!(matches!(read(&model).unwrap(), Found::Project(_)));
        assert!(!lock_path_for(&model).exists(), "reading made a lock file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_save_waits_for_the_lock_and_gives_up_with_a_sentence() {
        let dir = scratch("busy");
        let model = dir.join("m.onnx");
        let held = ProjectLock::acquire(&model, LOCK_WAIT).unwrap();
        let err = update_with_wait(
            &model,
            Duration::from_millis(200),
            || ProjectFile::new(&model),
            |p| p.settings.seed = 2,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("another prunekit process") && text.ends_with("again."),
            "{text}"
        );
        assert!(
            !path_for(&model).exists(),
            "nothing is written without the lock"
        );
        // Released, the next save goes through (a dead holder's lock is released the same way).
        drop(held);
        update(&model, |p| p.settings.seed = 2).unwrap();
        assert_eq!(peek(&model).unwrap().settings.seed, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_lock_file_that_cannot_be_made_is_one_sentence() {
        let dir = scratch("no-lock");
        // A folder that does not exist stands for one where the lock file cannot be created
        // (tests may run as root, to whom a read-only folder is still writable).
        let model = dir.join("missing").join("m.onnx");
        let text = update(&model, |_| {}).unwrap_err().to_string();
        assert!(
            text.contains(".m.onnx.prunekit.json.lock could not be created")
                && text.contains("make the model's folder writable"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Not a test by itself: the child process of `concurrent_saves_keep_every_result`, which
    /// runs this test binary again with `PRUNEKIT_TEST_SAVER` set to `MODEL PREFIX COUNT`.
    #[test]
    fn concurrent_saver_child() {
        let Ok(task) = std::env::var("PRUNEKIT_TEST_SAVER") else {
            return;
        };
        let words: Vec<&str> = task.split('\t').collect();
        save_many(Path::new(words[0]), words[1], words[2].parse().unwrap());
    }

    #[test]
    fn concurrent_saves_keep_every_result() {
        const THREADS: usize = 4;
        const PROCESSES: usize = 2;
        const EACH: usize = 15;
        let dir = scratch("concurrent");
        let model = dir.join("m.onnx");
        // A big project file (as real ones are) widens the window a lost update needs.
        update(&model, |p| {
            for i in 0..20_000 {
                p.load.dims.insert(format!("seed-{i}"), i);
            }
        })
        .unwrap();
        let before = peek(&model).unwrap().load.dims.len();

        let children: Vec<_> = (0..PROCESSES)
            .map(|n| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "project::tests::concurrent_saver_child",
                        "--exact",
                        "--test-threads=1",
                        "--quiet",
                    ])
                    .env(
                        "PRUNEKIT_TEST_SAVER",
                        format!("{}\tprocess{n}\t{EACH}", model.display()),
                    )
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let model = &model;
                scope.spawn(move || save_many(model, &format!("thread{t}"), EACH));
            }
        });
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a saving process failed");
        }

        let project = peek(&model).unwrap();
        let mut expected: BTreeSet<String> = project
            .load
            .dims
            .keys()
            .filter(|k| k.starts_with("seed-"))
            .cloned()
            .collect();
        assert_eq!(expected.len(), before);
        for prefix in (0..THREADS)
            .map(|t| format!("thread{t}"))
            .chain((0..PROCESSES).map(|n| format!("process{n}")))
        {
            expected.extend((0..EACH).map(|i| format!("{prefix}-{i}")));
        }
        let kept: BTreeSet<String> = project.load.dims.keys().cloned().collect();
        let lost: Vec<&String> = expected.difference(&kept).collect();
        assert!(
            lost.is_empty(),
            "{} of {} saves lost: {lost:?}",
            lost.len(),
            (THREADS + PROCESSES) * EACH
        );
        // Every temporary file was renamed into place or removed, and no lock file is left.
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") || (cfg!(unix) && n.ends_with(".lock")))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
