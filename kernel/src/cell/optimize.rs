//! `optimize`, `override` and `export`: fitting a sparsity per layer from the saved profiles,
//! pinning layers by hand, and writing the recipe, the integration code and the pruned model.
//! Optimizations are saved by name in the model's project file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prunekit_core::optimize::{self, OptimizeOptions, Override, PruningPlan};
use prunekit_core::profile::{self, LossProfile, PerfKind, PerfProfile};
use prunekit_core::project::{self, Found, ProjectFile};
use prunekit_core::quantize::{QuantMode, QuantizationPlan, QuantizeOptions};
use prunekit_core::runtime::{Dataset, ModelSession, SessionOptions};
use prunekit_core::{Cancel, Error, Result, chart, export};
use serde_json::json;

use super::flags::Flags;
use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, Column, escape};
use crate::display::text::keep_tail;
use crate::session::{KernelSession, LoadedModel};

fn project_of(loaded: &LoadedModel) -> Result<ProjectFile> {
    Ok(match project::read(&loaded.path)? {
        Found::Project(p) => *p,
        _ => ProjectFile::new(&loaded.path),
    })
}

/// The performance profile to fit with: the named one, "flops", or the latest measured one.
fn perf_profile(
    project: &ProjectFile,
    loaded: &LoadedModel,
    name: Option<&str>,
) -> Result<(String, PerfProfile)> {
    match name {
        Some("flops") => Ok(("flops".into(), profile::perf::flops_only(&loaded.analysis))),
        Some(name) => project
            .perf_profiles
            .get(name)
            .map(|p| (name.to_string(), p.clone()))
            .ok_or_else(|| missing("performance", name, project.perf_profiles.keys(), "flops")),
        None => Ok(match project.latest_perf_profile() {
            Some((name, p)) if p.kind == PerfKind::Measured => (name.to_string(), p.clone()),
            _ => ("flops".into(), profile::perf::flops_only(&loaded.analysis)),
        }),
    }
}

/// The loss profile to fit with: the named one, "approx", or the latest one.
fn loss_profile(
    project: &ProjectFile,
    loaded: &LoadedModel,
    name: Option<&str>,
) -> Result<(String, LossProfile)> {
    match name {
        Some("approx") => Ok(("approx".into(), profile::approx::profile(&loaded.analysis))),
        Some(name) => project
            .loss_profiles
            .get(name)
            .map(|p| (name.to_string(), p.clone()))
            .ok_or_else(|| missing("loss", name, project.loss_profiles.keys(), "approx")),
        None => Ok(match project.latest_loss_profile() {
            Some((name, p)) => (name.to_string(), p.clone()),
            None => ("approx".into(), profile::approx::profile(&loaded.analysis)),
        }),
    }
}

fn missing<'a>(
    kind: &str,
    name: &str,
    have: impl Iterator<Item = &'a String>,
    virtual_name: &str,
) -> Error {
    let mut names: Vec<&str> = have.map(String::as_str).collect();
    names.push(virtual_name);
    Error::Usage(format!(
        "there is no {kind} profile '{name}'; the choices are {} (run `profiles`).",
        names.join(", ")
    ))
}

/// `off`, or a number in `[lo, hi]`.
fn filter_value(flags: &Flags, flag: &str, lo: f64, hi: f64) -> Result<Option<Option<f64>>> {
    match flags.get(flag) {
        None => Ok(None),
        Some("off") => Ok(Some(None)),
        Some(_) => Ok(Some(flags.number(flag, lo, hi)?)),
    }
}

pub fn optimize(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let flags = Flags::parse(
        "optimize",
        words,
        &[
            "--sparsity",
            "--balance",
            "--min-sparsity",
            "--min-speedup",
            "--min-recovery",
            "--perf",
            "--loss",
            "--epochs",
            "--lr",
            "--name",
            "--quantize",
            "--calibration",
        ],
        &["--per-tensor"],
    )?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let project = project_of(loaded)?;
    let name = flags.get("--name").unwrap_or("default").to_string();
    // Re-running an optimization keeps its overrides; flags not given keep their earlier values.
    let earlier = project.optimizations.get(&name);
    let defaults = OptimizeOptions::default();
    let mut filters = earlier.map_or(defaults.filters.clone(), |p| p.filters.clone());
    if let Some(v) = filter_value(&flags, "--min-sparsity", 0.0, 1.0)? {
        filters.min_sparsity = v;
    }
    if let Some(v) = filter_value(&flags, "--min-speedup", 0.0, 1000.0)? {
        filters.min_speedup = v;
    }
    if let Some(v) = filter_value(&flags, "--min-recovery", -1000.0, 1000.0)? {
        filters.min_recovery = v;
    }
    let settings = &mut session.settings;
    if let Some(epochs) = flags.get("--epochs") {
        settings.epochs = Some(epochs.parse().ok().filter(|&e: &f64| e > 1.0).ok_or_else(
            || {
                Error::Usage(format!(
                    "--epochs {epochs} is not valid; give a number of epochs above 1."
                ))
            },
        )?);
    }
    if let Some(lr) = flags.get("--lr") {
        let parse = |t: &str| t.parse::<f64>().ok().filter(|&l| l > 0.0 && l < 1.0);
        let (init, fin) = match lr.split_once(':') {
            Some((i, f)) => (parse(i), Some(parse(f))),
            None => (parse(lr), None),
        };
        match (init, fin) {
            (Some(i), None) => (settings.init_lr, settings.final_lr) = (Some(i), None),
            (Some(i), Some(Some(f))) if f < i => {
                (settings.init_lr, settings.final_lr) = (Some(i), Some(f))
            }
            _ => {
                return Err(Error::Usage(format!(
                    "--lr {lr} is not valid; give INIT or INIT:FINAL with 0 < FINAL < INIT < 1, such as 0.1:0.001."
                )));
            }
        }
    }
    let options = OptimizeOptions {
        target: flags
            .number("--sparsity", 0.01, optimize::MAX_SPARSITY)?
            .or(earlier.map(|p| p.target))
            .unwrap_or(defaults.target),
        balance: flags
            .number("--balance", 0.0, 1.0)?
            .or(earlier.map(|p| p.balance))
            .unwrap_or(defaults.balance),
        filters,
        overrides: earlier.map(|p| p.overrides.clone()).unwrap_or_default(),
        schedule: schedule_of(&session.settings),
    };
    let perf_name = flags.get("--perf").or(earlier.map(|p| p.perf.as_str()));
    let loss_name = flags.get("--loss").or(earlier.map(|p| p.loss.as_str()));
    let loaded = session.model()?;
    let mut plan = fit(&project, loaded, perf_name, loss_name, &options)?;
    plan.quantization = quantization_of(&flags, &project, earlier, &plan)?;
    let settings = session.settings.clone();
    save(loaded, sink, &name, &plan, Some(settings))?;
    show(sink, &name, &plan)
}

/// `--quantize static|dynamic|off` with `--calibration` and `--per-tensor`; without them, what
/// the optimization asked for before (its epochs refitted to the new schedule). Layers the loss
/// profile's quantization section finds too sensitive stay float.
fn quantization_of(
    flags: &Flags,
    project: &ProjectFile,
    earlier: Option<&PruningPlan>,
    plan: &PruningPlan,
) -> Result<Option<QuantizationPlan>> {
    let before = earlier.and_then(|p| p.quantization.as_ref());
    let mode = match flags.get("--quantize") {
        Some("off") => None,
        Some(text) => Some(super::quantization::mode("--quantize", text)?),
        None => before.map(|q| q.mode),
    };
    if mode == Some(QuantMode::Dynamic) && flags.get("--quantize").is_some() {
        super::quantization::no_calibration_flags(flags, &["--calibration"])?;
    }
    let Some(mode) = mode else {
        for flag in ["--calibration", "--per-tensor"] {
            if flags.has(flag) {
                return Err(Error::Usage(format!(
                    "{flag} applies to quantization only; add --quantize static or --quantize dynamic."
                )));
            }
        }
        return Ok(None);
    };
    let calibration = match (flags.get("--calibration"), before) {
        (None, Some(q)) if mode == QuantMode::Static => q.calibration,
        _ => super::quantization::calibration(flags)?,
    };
    let per_channel = if flags.has("--per-tensor") {
        false
    } else {
        before.is_none_or(|q| q.per_channel)
    };
    let loss = project
        .loss_profiles
        .get(&plan.loss)
        .and_then(|p| p.quantization.as_ref())
        .or_else(|| {
            project
                .latest_loss_profile()
                .and_then(|(_, p)| p.quantization.as_ref())
        })
        .filter(|q| q.mode == mode);
    Ok(Some(optimize::quantization::plan(
        mode,
        calibration,
        per_channel,
        loss,
        &plan.schedule,
    )))
}

fn schedule_of(settings: &project::Settings) -> optimize::Schedule {
    optimize::schedule(
        &settings.optimizer,
        settings
            .epochs
            .unwrap_or(optimize::schedule::DEFAULT_EPOCHS),
        settings.init_lr,
        settings.final_lr,
    )
}

fn fit(
    project: &ProjectFile,
    loaded: &LoadedModel,
    perf_name: Option<&str>,
    loss_name: Option<&str>,
    options: &OptimizeOptions,
) -> Result<PruningPlan> {
    let (perf_name, perf) = perf_profile(project, loaded, perf_name)?;
    let (loss_name, loss) = loss_profile(project, loaded, loss_name)?;
    optimize::optimize(
        &loaded.analysis,
        &perf,
        &perf_name,
        &loss,
        &loss_name,
        options,
    )
}

fn save(
    loaded: &LoadedModel,
    sink: &dyn Sink,
    name: &str,
    plan: &PruningPlan,
    settings: Option<project::Settings>,
) -> Result<()> {
    super::saving::save(&loaded.path, sink, |p| {
        p.optimizations.insert(name.to_string(), plan.clone());
        p.latest_optimization = Some(name.to_string());
        if let Some(settings) = settings {
            p.settings = settings;
        }
    })
}

/// `override LAYER|re:REGEX SPARSITY|off [--name NAME]`: pins layers of an optimization and
/// refits the others to the same target.
pub fn override_layers(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
) -> Result<()> {
    let flags = Flags::parse("override", words, &["--name"], &[])?;
    let [pattern, value] = flags.positional[..] else {
        return Err(Error::Usage(
            "give a layer (or re:REGEX) and a sparsity or off: `override conv1.weight 0.5`.".into(),
        ));
    };
    let sparsity = match value {
        "off" => None,
        text => Some(
            text.parse::<f64>()
                .ok()
                .filter(|s| (0.0..=optimize::MAX_OVERRIDE).contains(s))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "'{text}' is not a sparsity; give a number from 0 to {} or off.",
                        optimize::MAX_OVERRIDE
                    ))
                })?,
        ),
    };
    let loaded = session.model()?;
    let project = project_of(loaded)?;
    let name = match flags
        .get("--name")
        .or(project.latest_optimization.as_deref())
    {
        Some(name) => name.to_string(),
        None => {
            return Err(Error::Usage(
                "there is no optimization yet; run `optimize` first.".into(),
            ));
        }
    };
    let earlier = project.optimizations.get(&name).ok_or_else(|| {
        Error::Usage(format!(
            "there is no optimization '{name}'; run `optimize --name {name}` first."
        ))
    })?;
    // A new value for the same layer or pattern replaces the old one.
    let mut overrides: Vec<Override> = earlier
        .overrides
        .iter()
        .filter(|o| o.pattern != pattern)
        .cloned()
        .collect();
    overrides.push(Override {
        pattern: pattern.to_string(),
        sparsity,
    });
    let options = OptimizeOptions {
        target: earlier.target,
        balance: earlier.balance,
        filters: earlier.filters.clone(),
        overrides,
        schedule: earlier.schedule.clone(),
    };
    let mut plan = fit(
        &project,
        loaded,
        Some(&earlier.perf),
        Some(&earlier.loss),
        &options,
    )?;
    plan.quantization = earlier.quantization.clone();
    save(loaded, sink, &name, &plan, None)?;
    show(sink, &name, &plan)
}

fn pct(s: f64) -> String {
    format!("{:.1}%", s * 100.0)
}

fn show(sink: &dyn Sink, name: &str, plan: &PruningPlan) -> Result<()> {
    for chart in [chart::plan_sparsity(plan)?, chart::plan_schedule(plan)?] {
        sink.emit(Output::Display {
            bundle: Bundle::text("[chart: optimization]").png(
                &chart.png,
                chart.width,
                chart.height,
            ),
            display_id: None,
        });
    }
    let m = &plan.model;
    let mut summary = format!(
        "Optimization '{name}': target {} sparsity, achieved {} (balance {}, perf from {}, loss from {}).\n",
        pct(plan.target),
        pct(plan.achieved),
        plan.balance,
        plan.perf,
        plan.loss
    );
    if let (Some(base), Some(est), Some(speedup)) =
        (m.baseline_ms, m.estimated_ms, m.estimated_speedup)
    {
        summary.push_str(&format!(
            "  Estimated {est:.3} ms per batch against {base:.3} ms: {speedup:.2}x on a sparsity-aware engine.\n"
        ));
    }
    summary.push_str(&format!(
        "  FLOPs {:.2}x fewer, params {:.2}x compressed (whole model); recovery confidence {}.\n",
        m.flops_reduction,
        m.compression,
        m.recovery.map_or("unknown".into(), |r| format!("{r:.2}"))
    ));
    let s = &plan.schedule;
    summary.push_str(&format!(
        "  Schedule: epochs {}..{}, pruning {}..{} every {} epochs, fine-tuning from {}.\n",
        s.start_epoch,
        s.end_epoch,
        s.pruning_start,
        s.pruning_end,
        s.update_frequency,
        s.fine_tune_start
    ));
    if let Some(q) = &plan.quantization {
        summary.push_str(&format!(
            "  Quantization: {} int8 ({} calibration, {} weights), quantization-aware training from epoch {}; {}.\n",
            q.mode.name(),
            q.calibration.name(),
            if q.per_channel { "per-channel" } else { "per-tensor" },
            q.start_epoch,
            if q.ignore.is_empty() {
                "every layer quantized".to_string()
            } else {
                format!("{} left float", q.ignore.len())
            }
        ));
        for i in &q.ignore {
            summary.push_str(&format!("    float: {} ({})\n", i.name, i.reason));
        }
    }
    for o in &plan.overrides {
        summary.push_str(&format!(
            "  override {} {}\n",
            o.pattern,
            o.sparsity.map_or("off".into(), |s| s.to_string())
        ));
    }
    for note in &plan.notes {
        summary.push_str(&format!("  note: {note}\n"));
    }
    let mut rows_text = format!(
        "\n{:<40} {:>9} {:>12}  note\n",
        "layer", "sparsity", "est. ms"
    );
    let rows: Vec<Vec<String>> = plan
        .layers
        .iter()
        .map(|l| {
            let sparsity = l.sparsity.map_or("dense".into(), pct);
            let ms = l.estimated_ms.map_or(String::new(), |v| format!("{v:.4}"));
            let note = match (&l.reason, l.overridden) {
                (Some(r), _) => r.clone(),
                (None, true) => "override".into(),
                _ => String::new(),
            };
            rows_text.push_str(&format!(
                "{:<40} {:>9} {:>12}  {note}\n",
                keep_tail(&l.name, 40),
                sparsity,
                ms
            ));
            vec![l.name.clone(), l.weight.clone(), sparsity, ms, note]
        })
        .collect();
    let columns = [
        Column {
            title: "layer",
            is_numeric: false,
        },
        Column {
            title: "weight",
            is_numeric: false,
        },
        Column {
            title: "sparsity",
            is_numeric: true,
        },
        Column {
            title: "estimated ms",
            is_numeric: true,
        },
        Column {
            title: "note",
            is_numeric: false,
        },
    ];
    let mut value = serde_json::to_value(plan).expect("plans serialize");
    value["name"] = json!(name);
    sink.emit(Output::Result(
        Bundle::text(format!("{summary}{rows_text}"))
            .html(format!(
                "<pre>{}</pre>{}",
                escape(&summary),
                table::html(None, &columns, &rows)
            ))
            .json(&value),
    ));
    Ok(())
}

/// `export recipe PATH | export code PATH [--framework pytorch] [--training] | export model PATH`.
pub fn export(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let flags = Flags::parse(
        "export",
        words,
        &[
            "--optimization",
            "--names",
            "--framework",
            "--data",
            "--recipe",
            "--calibration-data",
            "--quantize",
            "--calibration",
        ],
        &["--training", "--per-tensor"],
    )?;
    let [kind, path] = flags.positional[..] else {
        return Err(Error::Usage(
            "say what to write and where: `export recipe PATH`, `export code PATH` or `export model PATH`.".into(),
        ));
    };
    let loaded = session.model()?;
    let project = project_of(loaded)?;
    if flags.get("--quantize") == Some("dynamic") {
        super::quantization::no_calibration_flags(
            &flags,
            &["--calibration", "--calibration-data"],
        )?;
    }
    let quantize = match flags.get("--quantize") {
        Some(text) if kind == "model" => Some(QuantizeOptions {
            calibration: super::quantization::calibration(&flags)?,
            per_channel: !flags.has("--per-tensor"),
            ..QuantizeOptions::new(super::quantization::mode("--quantize", text)?)
        }),
        Some(_) => {
            return Err(Error::Usage(
                "--quantize applies to `export model`; a recipe takes its quantization from `optimize --quantize`.".into(),
            ));
        }
        None => None,
    };
    let path = PathBuf::from(path);
    // `export model PATH --quantize MODE` with no optimization yet: the dense model, quantized.
    let dense = kind == "model"
        && quantize.is_some()
        && flags.get("--optimization").is_none()
        && project.latest_optimization.is_none();
    let plan = if dense {
        None
    } else {
        let name = match flags
            .get("--optimization")
            .or(project.latest_optimization.as_deref())
        {
            Some(n) => n.to_string(),
            None => {
                return Err(Error::Usage(
                    "there is no optimization yet; run `optimize` first (or `export model PATH --quantize static` for the dense model in int8).".into(),
                ));
            }
        };
        Some(project.optimizations.get(&name).ok_or_else(|| {
            Error::Usage(format!(
                "there is no optimization '{name}'; run `profiles` and `optimize --name {name}`."
            ))
        })?)
    };
    let (text, value) = match kind {
        "recipe" => {
            // Only `export model` goes without a plan.
            let plan = plan.ok_or_else(|| {
                Error::Usage("there is no optimization yet; run `optimize` first.".into())
            })?;
            export_recipe(loaded, plan, &path, flags.get("--names"))?
        }
        "code" => {
            match flags.get("--framework").unwrap_or("pytorch") {
                "pytorch" => {}
                other => {
                    return Err(Error::Usage(format!(
                        "--framework {other} is not offered; prunekit writes pytorch integration code."
                    )));
                }
            }
            // The recipe the code loads: --recipe, else the name `export recipe` suggests.
            let recipe = flags.get("--recipe").map_or_else(
                || {
                    let stem = loaded
                        .path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy();
                    format!("{stem}.recipe.yaml")
                },
                str::to_string,
            );
            let code = if flags.has("--training") {
                export::code::pytorch_training(&recipe)
            } else {
                export::code::pytorch_integration(&recipe)
            };
            write_atomically(&path, code.as_bytes())?;
            (
                format!(
                    "Wrote {} (PyTorch {}; it reads the recipe {recipe}).",
                    path.display(),
                    if flags.has("--training") {
                        "training loop"
                    } else {
                        "integration"
                    }
                ),
                json!({"path": path, "kind": "code", "framework": "pytorch", "training": flags.has("--training"), "recipe": recipe}),
            )
        }
        "model" => export_model(
            loaded,
            plan,
            quantize,
            &path,
            flags.get("--data"),
            flags.get("--calibration-data"),
            session.settings.seed,
            sink,
            cancel,
        )?,
        other => {
            return Err(Error::Usage(format!(
                "'export {other}' is not something prunekit writes; use recipe, code or model."
            )));
        }
    };
    emit_written(sink, &text, &value);
    Ok(())
}

/// The sentence of what was written, with its facts as a two-column table under it.
fn emit_written(sink: &dyn Sink, text: &str, value: &serde_json::Value) {
    let rows: Vec<Vec<String>> = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vec![k.clone(), shown]
        })
        .collect();
    let columns = [
        Column {
            title: "written",
            is_numeric: false,
        },
        Column {
            title: "",
            is_numeric: false,
        },
    ];
    sink.emit(Output::Result(
        Bundle::text(text.to_string())
            .html(format!(
                "<p>{}</p>{}",
                escape(text),
                table::html(None, &columns, &rows)
            ))
            .json(value),
    ));
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    make_parent(path)?;
    prunekit_core::atomic_file::write(path, bytes)
}

/// Exports create the folder they write into, as `jupyter nbconvert --output-dir` does.
fn make_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, &err)),
        None => Ok(()),
    }
}

/// The model's path relative to the recipe's folder, for the modeline.
fn relative_to(model: &Path, recipe: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    // A bare file name's parent is "", which `absolute` refuses: that folder is ".".
    let parent = recipe.parent().filter(|p| !p.as_os_str().is_empty());
    let (model, dir) = (abs(model), abs(parent.unwrap_or(Path::new("."))));
    let m: Vec<_> = model.components().collect();
    let d: Vec<_> = dir.components().collect();
    let common = m.iter().zip(&d).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &m[common..] {
        rel.push(c);
    }
    rel.to_string_lossy().replace('\\', "/")
}

fn export_recipe(
    loaded: &LoadedModel,
    plan: &PruningPlan,
    path: &Path,
    names: Option<&str>,
) -> Result<(String, serde_json::Value)> {
    let mut plan = plan.clone();
    if let Some(map_path) = names {
        let text = prunekit_core::user_file::read_to_string(
            Path::new(map_path),
            64 << 20,
            "a JSON file of ONNX names to framework names",
        )?;
        let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|err| {
            Error::Usage(format!(
                "{map_path}: not a JSON object of ONNX name to framework name ({err}); write {{\"onnx::Conv_12\": \"features.0.weight\", ...}}."
            ))
        })?;
        export::recipe::apply_names(&mut plan, &map)?;
    }
    let generated = export::recipe::generated_names(&plan);
    let text = export::recipe::recipe_text(&plan, &relative_to(&loaded.path, path));
    write_atomically(path, text.as_bytes())?;
    let modifiers = text
        .lines()
        .filter(|l| l.trim_start().starts_with("- !"))
        .count();
    let pruned: Vec<&str> = plan
        .layers
        .iter()
        .filter(|l| l.sparsity.is_some_and(|s| s > 0.0))
        .map(|l| l.weight.as_str())
        .collect();
    let mut message = format!(
        "Wrote {} ({modifiers} modifiers, {} layers pruned).",
        path.display(),
        pruned.len()
    );
    if let Some(q) = &plan.quantization {
        message.push_str(&match q.mode {
            QuantMode::Static => format!(
                " Quantization-aware training from epoch {} (QuantizationModifier){}.",
                q.start_epoch,
                if q.ignore.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} layer{} left float: {}",
                        q.ignore.len(),
                        if q.ignore.len() == 1 { "" } else { "s" },
                        q.ignore
                            .iter()
                            .map(|i| i.weight.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
            QuantMode::Dynamic => " Dynamic quantization needs no training: `export model` applies it after pruning (the recipe says so in a comment).".into(),
        });
    }
    if !generated.is_empty() && names.is_none() {
        message.push_str(&format!(
            " {} weight names look generated by the exporter ({}...); they will not match the framework's parameter names: give --names MAP.json mapping each to its framework name.",
            generated.len(),
            generated.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    Ok((
        message,
        json!({"path": path, "kind": "recipe", "modifiers": modifiers, "layers_pruned": pruned, "generated_names": generated, "quantization": plan.quantization.as_ref().map(|q| q.mode)}),
    ))
}

/// Writes the plan's pruned model (the dense one without a plan), quantized when `quantize` or
/// the plan asks for it, calibrated on `calibration_data` or else `data`.
#[allow(clippy::too_many_arguments)]
fn export_model(
    loaded: &LoadedModel,
    plan: Option<&PruningPlan>,
    quantize: Option<QuantizeOptions>,
    path: &Path,
    data: Option<&str>,
    calibration_data: Option<&str>,
    seed: u64,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<(String, serde_json::Value)> {
    let quantize = quantize.or_else(|| {
        plan.and_then(|p| p.quantization.as_ref())
            .map(|q| QuantizeOptions::from_plan(q, None, seed))
    });
    if calibration_data.is_some() && quantize.is_none() {
        return Err(Error::Usage(
            "--calibration-data applies to a quantized model only; add --quantize static (or `optimize --quantize static`).".into(),
        ));
    }
    let model = prunekit_core::load(&loaded.path)?;
    let (proto, measured) = match plan {
        Some(plan) => export::model::pruned_model(&model, plan)?,
        None => (model.proto.clone(), Vec::new()),
    };
    let (proto, quantized) = match quantize {
        None => (proto, None),
        Some(options) => {
            let options = QuantizeOptions {
                // Calibration reads --calibration-data, else the --data accuracy is measured on.
                data: calibration_data.or(data).map(PathBuf::from),
                seed,
                ..options
            };
            let pruned = prunekit_core::Model { proto, ..model };
            let progress = ProgressDisplay::start(sink, "quantizing");
            let result = prunekit_core::quantize::quantize(
                &pruned,
                &loaded.analysis,
                &options,
                &progress,
                cancel,
            );
            match &result {
                Ok(_) => progress.finish(1, 1, "quantized"),
                Err(Error::Cancelled) => progress.finish(0, 1, "interrupted; nothing was written"),
                Err(_) => progress.finish(0, 1, "failed"),
            }
            let mut quantized = result?;
            (std::mem::take(&mut quantized.proto), Some(quantized))
        }
    };
    make_parent(path)?;
    prunekit_core::save(&proto, path)?;
    let mut message = match plan {
        Some(_) => format!(
            "Wrote {}: {} layers pruned by magnitude to the plan.",
            path.display(),
            measured.iter().filter(|(_, s)| *s > 0.0).count()
        ),
        None => format!("Wrote {}: the dense model.", path.display()),
    };
    if let Some(q) = &quantized {
        message.push(' ');
        message.push_str(&super::quantization::describe(q));
        if calibration_data.is_none() && data.is_some() {
            message.push_str(" It was calibrated on the samples its accuracy is measured on; give --calibration-data other samples for a held-out figure.");
        }
    }
    let mut accuracy = serde_json::Value::Null;
    if let Some(data) = data {
        let set = Dataset::from_npz(Path::new(data), &loaded.analysis.inputs, None)?;
        let before = held_out_accuracy(&loaded.path, &set)?;
        let after = held_out_accuracy(path, &set)?;
        if let (Some(b), Some(a)) = (before, after) {
            message.push_str(&format!(
                " Held-out accuracy on {} samples: {} before, {} after (not fine-tuned).",
                set.samples,
                pct(b),
                pct(a)
            ));
            accuracy = json!({"before": b, "after": a, "samples": set.samples});
        }
    }
    let layers: Vec<serde_json::Value> = measured
        .iter()
        .map(|(w, s)| json!({"weight": w, "sparsity": s}))
        .collect();
    let quantization = quantized.as_ref().map(|q| {
        json!({
            "mode": q.mode,
            "layers": q.layers,
            "float": q.skipped,
            "activations": q.activations,
            "calibration": q.data,
            "notes": q.notes,
        })
    });
    Ok((
        message,
        json!({"path": path, "kind": "model", "layers": layers, "accuracy": accuracy, "quantization": quantization}),
    ))
}

/// Top-1 accuracy of the first output on data with `labels`; `None` without labels.
fn held_out_accuracy(model: &Path, data: &Dataset) -> Result<Option<f64>> {
    let Some(labels) = &data.labels else {
        return Ok(None);
    };
    let mut session = ModelSession::from_file(model, &SessionOptions::default())?;
    let mut correct = 0usize;
    let mut start = 0usize;
    for batch in data.batches(256) {
        let outputs = session.run(&batch.inputs)?;
        let Some((_, logits)) = outputs.first() else {
            return Ok(None);
        };
        let n = batch.size();
        let classes = logits.len() / n.max(1);
        for (i, row) in logits
            .as_slice()
            .unwrap_or(&[])
            .chunks(classes.max(1))
            .enumerate()
        {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k as i64);
            if best == Some(labels[start + i]) {
                correct += 1;
            }
        }
        start += n;
    }
    Ok(Some(correct as f64 / data.samples as f64))
}
