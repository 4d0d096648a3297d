//! What a running command emits. The server turns each into an iopub message; tests collect them.

use crate::display::bundle::Bundle;

#[derive(Debug, Clone)]
pub enum Output {
    Stream {
        name: &'static str,
        text: String,
    },
    /// `display_data`; with an id, later `Update`s replace it in place.
    Display {
        bundle: Bundle,
        display_id: Option<String>,
    },
    Update {
        bundle: Bundle,
        display_id: String,
    },
    /// `execute_result`: the cell's result.
    Result(Bundle),
}

impl Output {
    /// Roughly the bytes a front end keeps for it: the text of a stream, the data of a bundle.
    pub fn size(&self) -> u64 {
        match self {
            Output::Stream { text, .. } => text.len() as u64,
            Output::Display { bundle, .. }
            | Output::Update { bundle, .. }
            | Output::Result(bundle) => bundle.data.values().map(value_size).sum(),
        }
    }
}

/// Text counts as its length (the common case, and cheap); other JSON as its serialized length.
fn value_size(value: &serde_json::Value) -> u64 {
    match value {
        serde_json::Value::String(text) => text.len() as u64,
        other => {
            let mut counter = Counter(0);
            let _ = serde_json::to_writer(&mut counter, other);
            counter.0
        }
    }
}

/// An `io::Write` that only counts, so measuring a value allocates nothing.
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub trait Sink: Sync {
    fn emit(&self, output: Output);
}

/// Collects outputs in memory, for tests.
#[cfg(test)]
#[derive(Default)]
pub struct Collected(pub std::sync::Mutex<Vec<Output>>);

#[cfg(test)]
impl Sink for Collected {
    fn emit(&self, output: Output) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(output);
    }
}
