//! A progress display updated in place: one `display_data` with a display id, then
//! `update_display_data` a few times a second, ending in its final state. It implements the
//! core's `Progress`, so any long core operation can drive it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use prunekit_core::Progress;

use super::bundle::Bundle;
use super::table::escape;
use crate::cell::output::{Output, Sink};

/// At most this often, so a fast loop does not flood the client.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

pub struct ProgressDisplay<'a> {
    sink: &'a dyn Sink,
    display_id: String,
    started: Instant,
    last: Mutex<Option<Instant>>,
}

impl<'a> ProgressDisplay<'a> {
    pub fn start(sink: &'a dyn Sink, label: &str) -> Self {
        let display = ProgressDisplay {
            sink,
            display_id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
            last: Mutex::new(None),
        };
        sink.emit(Output::Display {
            bundle: display.bundle(0, 0, label),
            display_id: Some(display.display_id.clone()),
        });
        display
    }

    fn bundle(&self, done: u64, total: u64, label: &str) -> Bundle {
        let fraction = if total == 0 {
            0.0
        } else {
            (done as f64 / total as f64).clamp(0.0, 1.0)
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let eta = if done > 0 && done < total {
            format!(", about {:.0} s left", elapsed / fraction - elapsed)
        } else {
            String::new()
        };
        let width = 30;
        let filled = (fraction * width as f64).round() as usize;
        let bar = format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled));
        let text = format!(
            "{label} {bar} {done}/{total} ({:.0}%{eta})",
            100.0 * fraction
        );
        let html = format!(
            "<div><progress value=\"{done}\" max=\"{}\" style=\"width:20em\"></progress> {} {done}/{total} ({:.0}%{})</div>",
            total.max(1),
            escape(label),
            100.0 * fraction,
            escape(&eta)
        );
        Bundle::text(text).html(html)
    }

    /// The final state: what was done, and why it stopped if it did not finish.
    pub fn finish(&self, done: u64, total: u64, label: &str) {
        self.sink.emit(Output::Update {
            bundle: self.bundle(done, total, label),
            display_id: self.display_id.clone(),
        });
    }
}

impl Progress for ProgressDisplay<'_> {
    fn report(&self, done: u64, total: u64, label: &str) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < MIN_INTERVAL) && done < total {
            return;
        }
        *last = Some(Instant::now());
        self.sink.emit(Output::Update {
            bundle: self.bundle(done, total, label),
            display_id: self.display_id.clone(),
        });
    }
}
