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
