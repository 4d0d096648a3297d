//! `prunekit.*` settings from `initializationOptions`, `workspace/configuration` and
//! `workspace/didChangeConfiguration`: `model` (the ONNX model of recipes without a modeline)
//! and `framework` (pytorch, keras, tensorflow).

use serde_json::Value;

use prunekit_core::recipe::catalog::Framework;

use crate::world::Settings;

pub fn apply(settings: &mut Settings, section: &Value) {
    if let Some(model) = section.get("model") {
        settings.model = model.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    }
    if let Some(framework) = section
        .get("framework")
        .and_then(Value::as_str)
        .and_then(Framework::from_name)
    {
        settings.framework = framework;
    }
}
