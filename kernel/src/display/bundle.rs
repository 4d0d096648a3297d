//! A mime bundle: `text/plain` always, plus HTML tables, PNG charts (2× pixels, 1× size in the
//! metadata) and the structured result as JSON under `RESULT_MIME`.

use base64::Engine;
use serde::Serialize;
use serde_json::{Map, Value};

/// The mime type of the structured result. Not `application/json`: JupyterLab ranks its JSON
/// viewer above HTML, so a bundle with both shows a JSON tree instead of the table. Front ends
/// ignore a vendor type they have no renderer for; scripts and tests read it from the notebook.
pub const RESULT_MIME: &str = "application/vnd.prunekit.result+json";

#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl Bundle {
    pub fn text(text: impl Into<String>) -> Bundle {
        let mut bundle = Bundle::default();
        bundle
            .data
            .insert("text/plain".into(), Value::String(text.into()));
        bundle
    }

    pub fn html(mut self, html: impl Into<String>) -> Bundle {
        self.data
            .insert("text/html".into(), Value::String(html.into()));
        self
    }

    pub fn json(mut self, value: &impl Serialize) -> Bundle {
        self.data.insert(
            RESULT_MIME.into(),
            serde_json::to_value(value).expect("output types serialize"),
        );
        self
    }

    /// A PNG drawn at twice its display size, so it is sharp on HiDPI screens.
    pub fn png(mut self, png: &[u8], width: u32, height: u32) -> Bundle {
        let encoded = base64::engine::general_purpose::STANDARD.encode(png);
        self.data.insert("image/png".into(), Value::String(encoded));
        self.metadata.insert(
            "image/png".into(),
            serde_json::json!({ "width": width, "height": height }),
        );
        self
    }
}
