//! `settings [KEY[=VALUE] ...]`: the kernel's settings, one table of keys, each with how it is
//! parsed and shown. Runtime settings (threads, seed) and the training settings an optimization's
//! schedule is made from (optimizer, epochs, lr). Saved in the current model's project file.

use prunekit_core::project::Settings;
use prunekit_core::{Error, Result};

use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::json;
use crate::display::table::{self, Column};
use crate::session::KernelSession;

struct Key {
    name: &'static str,
    /// What the value is, for errors and help: "a whole number above 0, or auto".
    takes: &'static str,
    set: fn(&mut Settings, &str) -> Option<()>,
    show: fn(&Settings) -> String,
}

/// The optimizers Sparsify's training settings offer (the integration code builds the one named).
pub const OPTIMIZERS: &[&str] = &["sgd", "adam", "rmsprop"];

const KEYS: &[Key] = &[
    Key {
        name: "threads",
        takes: "a whole number above 0, or auto",
        set: |s, v| {
            s.threads = match v {
                "auto" => None,
                n => Some(n.parse().ok().filter(|&n: &usize| n > 0)?),
            };
            Some(())
        },
        show: |s| s.threads.map_or("auto".into(), |n| n.to_string()),
    },
    Key {
        name: "seed",
        takes: "a whole number",
        set: |s, v| {
            s.seed = v.parse().ok()?;
            Some(())
        },
        show: |s| s.seed.to_string(),
    },
    Key {
        name: "optimizer",
        takes: "sgd, adam or rmsprop",
        set: |s, v| {
            let v = v.to_ascii_lowercase();
            OPTIMIZERS.contains(&v.as_str()).then(|| s.optimizer = v)
        },
        show: |s| s.optimizer.clone(),
    },
    Key {
        name: "epochs",
        takes: "a number of epochs above 1 (typically 20 or more)",
        set: |s, v| {
            s.epochs = Some(v.parse().ok().filter(|&e: &f64| e > 1.0 && e.is_finite())?);
            Some(())
        },
        show: |s| s.epochs.map_or("unset (100)".into(), |e| e.to_string()),
    },
    Key {
        name: "lr",
        takes: "INIT or INIT:FINAL, with 0 < INIT < 1 and 0 < FINAL < INIT",
        set: |s, v| {
            let (init, fin) = match v.split_once(':') {
                Some((i, f)) => (i, Some(f)),
                None => (v, None),
            };
            let init: f64 = init.parse().ok().filter(|&l: &f64| l > 0.0 && l < 1.0)?;
            let fin = match fin {
                Some(f) => Some(f.parse().ok().filter(|&l: &f64| l > 0.0 && l < init)?),
                None => None,
            };
            s.init_lr = Some(init);
            s.final_lr = fin;
            Some(())
        },
        show: |s| match (s.init_lr, s.final_lr) {
            (Some(i), Some(f)) => format!("{i}:{f}"),
            (Some(i), None) => i.to_string(),
            _ => "unset".into(),
        },
    },
];

pub fn settings(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let mut shown: Vec<&Key> = Vec::new();
    let mut changed = false;
    for word in words {
        let (name, value) = match word.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (word.as_str(), None),
        };
        let key = KEYS.iter().find(|k| k.name == name).ok_or_else(|| {
            let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            Error::Usage(format!(
                "'{name}' is not a setting; the settings are {}.",
                names.join(", ")
            ))
        })?;
        if let Some(value) = value {
            (key.set)(&mut session.settings, value).ok_or_else(|| {
                Error::Usage(format!("{name}={value} is not valid; give {}.", key.takes))
            })?;
            changed = true;
        }
        shown.push(key);
    }
    if changed && let Some(loaded) = &session.current {
        let settings = session.settings.clone();
        super::saving::save(&loaded.path, sink, |p| p.settings = settings)?;
    }
    if shown.is_empty() {
        shown = KEYS.iter().collect();
    }
    let plain: Vec<String> = shown
        .iter()
        .map(|k| format!("{} = {}", k.name, (k.show)(&session.settings)))
        .collect();
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|k| vec![k.name.to_string(), (k.show)(&session.settings)])
        .collect();
    let columns = [
        Column {
            title: "setting",
            is_numeric: false,
        },
        Column {
            title: "value",
            is_numeric: false,
        },
    ];
    sink.emit(Output::Result(
        Bundle::text(plain.join("\n"))
            .html(table::html(None, &columns, &rows))
            .json(&json::settings(&session.settings)),
    ));
    Ok(())
}

/// Setting names with `=`, for completion.
pub fn completions() -> Vec<String> {
    KEYS.iter().map(|k| format!("{}=", k.name)).collect()
}
