//! A cell's output cap. A front end keeps every output of a cell in the notebook file and in the
//! browser's memory, so a cell of a million `echo` lines would freeze it and bloat the kernel's
//! send queue. Past `MAX_OUTPUTS` outputs or `MAX_BYTES` bytes, outputs are counted and dropped
//! instead of sent, and one note after the cell's last output says how much was left out.

use std::collections::HashSet;
use std::sync::Mutex;

use super::output::{Output, Sink};
use prunekit_core::format::{bytes as format_bytes, grouped};

pub const MAX_OUTPUTS: u64 = 10_000;
pub const MAX_BYTES: u64 = 16_000_000;

/// Passes outputs on to `sink` until the cap, then only counts them.
pub struct Capped<'a> {
    sink: &'a dyn Sink,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sent: u64,
    sent_bytes: u64,
    left_out: u64,
    left_out_bytes: u64,
    /// Displays that were sent: updates to them still go out (they replace, so they add nothing
    /// to what the front end keeps), while updates to a display left out would point nowhere.
    shown: HashSet<String>,
}

impl<'a> Capped<'a> {
    pub fn new(sink: &'a dyn Sink) -> Self {
        Capped {
            sink,
            state: Mutex::new(State::default()),
        }
    }

    /// Sends the note saying what was left out, if anything was; call it once the cell is done.
    pub fn finish(&self) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.left_out > 0 {
            self.sink.emit(Output::Stream {
                name: "stderr",
                text: note(state.left_out, state.left_out_bytes),
            });
        }
    }
}

impl Sink for Capped<'_> {
    fn emit(&self, output: Output) {
        // Held while sending too, so outputs from several threads keep the order they were judged in.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Output::Update { display_id, .. } = &output {
            if state.shown.contains(display_id) {
                self.sink.emit(output);
            }
            return;
        }
        let size = output.size();
        // Once one output is left out, so is every later one: a cell's output never has holes.
        let fits = state.left_out == 0
            && state.sent < MAX_OUTPUTS
            && state.sent_bytes.saturating_add(size) <= MAX_BYTES;
        if !fits {
            state.left_out += 1;
            state.left_out_bytes = state.left_out_bytes.saturating_add(size);
            return;
        }
        state.sent += 1;
        state.sent_bytes += size;
        if let Output::Display {
            display_id: Some(id),
            ..
        } = &output
        {
            state.shown.insert(id.clone());
        }
        self.sink.emit(output);
    }
}

fn note(left_out: u64, bytes: u64) -> String {
    let (outputs, were) = if left_out == 1 {
        ("output", "was")
    } else {
        ("outputs", "were")
    };
    format!(
        "… {} more {outputs} ({}) {were} left out; this cell's output is capped at {} outputs or {}.\n",
        grouped(left_out),
        format_bytes(bytes),
        grouped(MAX_OUTPUTS),
        format_bytes(MAX_BYTES)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::output::Collected;
    use crate::display::bundle::Bundle;

    fn line(text: &str) -> Output {
        Output::Stream {
            name: "stdout",
            text: text.into(),
        }
    }

    #[test]
    fn counts_past_the_cap_and_says_so_once() {
        let collected = Collected::default();
        let capped = Capped::new(&collected);
        for _ in 0..MAX_OUTPUTS + 1_500 {
            capped.emit(line("0123456789\n"));
        }
        capped.finish();
        let outputs = collected.0.into_inner().unwrap();
        assert_eq!(outputs.len() as u64, MAX_OUTPUTS + 1);
        match outputs.last().unwrap() {
            Output::Stream { name, text } => {
                assert_eq!(*name, "stderr");
                assert_eq!(
                    text,
                    "… 1,500 more outputs (16.5 kB) were left out; this cell's output is capped at 10,000 outputs or 16.0 MB.\n"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bytes_cap_drops_everything_after_the_first_output_left_out() {
        let collected = Collected::default();
        let capped = Capped::new(&collected);
        let big = "x".repeat((MAX_BYTES / 2) as usize);
        capped.emit(line(&big));
        capped.emit(Output::Result(Bundle::text(big.clone()).html(big.clone())));
        capped.emit(line("small\n"));
        capped.finish();
        let outputs = collected.0.into_inner().unwrap();
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        match &outputs[1] {
            Output::Stream { text, .. } => {
                assert!(
                    text.starts_with("… 2 more outputs (16.0 MB) were left out"),
                    "{text}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_left_out_means_no_note_and_updates_follow_their_display() {
        let collected = Collected::default();
        let capped = Capped::new(&collected);
        let progress = crate::display::progress::ProgressDisplay::start(&capped, "working");
        prunekit_core::Progress::report(&progress, 1, 1, "done");
        capped.emit(Output::Update {
            bundle: Bundle::text("stray"),
            display_id: "not-shown".into(),
        });
        capped.finish();
        let outputs = collected.0.into_inner().unwrap();
        assert_eq!(outputs.len(), 2, "{outputs:?}");
        assert!(matches!(outputs[1], Output::Update { .. }));
    }
}
