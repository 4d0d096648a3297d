//! Message contents prunekit sends, as serde types (no JSON built by hand, so a misspelt key does
//! not compile). Requests are read from `serde_json::Value` with defaults, since clients differ.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Serialize)]
pub struct Status<'a> {
    pub execution_state: &'a str,
}

#[derive(Serialize)]
pub struct KernelInfoReply {
    pub status: &'static str,
    pub protocol_version: &'static str,
    pub implementation: &'static str,
    pub implementation_version: &'static str,
    pub banner: String,
    pub help_links: Vec<HelpLink>,
    pub language_info: LanguageInfo,
    pub supported_features: Vec<String>,
}

#[derive(Serialize)]
pub struct HelpLink {
    pub text: &'static str,
    pub url: &'static str,
}

#[derive(Serialize)]
pub struct LanguageInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub mimetype: &'static str,
    pub file_extension: &'static str,
    pub pygments_lexer: &'static str,
    pub codemirror_mode: &'static str,
    pub nbconvert_exporter: &'static str,
}

#[derive(Serialize)]
pub struct ExecuteInput<'a> {
    pub code: &'a str,
    pub execution_count: u32,
}

/// `execute_reply`: ok, error (with ename/evalue/traceback) or aborted.
#[derive(Serialize)]
pub struct ExecuteReply {
    pub status: &'static str,
    pub execution_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<Value>>,
    /// Always an object, never null: clients validate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_expressions: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evalue: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traceback: Option<Vec<String>>,
}

#[derive(Serialize, Clone)]
pub struct ErrorContent {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

#[derive(Serialize)]
pub struct Stream<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// `display_data`, `update_display_data` and (with a count) `execute_result`.
#[derive(Serialize)]
pub struct DisplayData {
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transient: Option<Transient>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_count: Option<u32>,
}

#[derive(Serialize)]
pub struct Transient {
    pub display_id: String,
}

#[derive(Serialize)]
pub struct CompleteReply {
    pub status: &'static str,
    pub matches: Vec<String>,
    pub cursor_start: usize,
    pub cursor_end: usize,
    pub metadata: CompleteMetadata,
}

#[derive(Serialize)]
pub struct CompleteMetadata {
    /// JupyterLab shows these types next to completions.
    pub _jupyter_types_experimental: Vec<TypedCompletion>,
}

#[derive(Serialize)]
pub struct TypedCompletion {
    pub text: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Serialize)]
pub struct InspectReply {
    pub status: &'static str,
    pub found: bool,
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

#[derive(Serialize)]
pub struct IsCompleteReply {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indent: Option<String>,
}

#[derive(Serialize)]
pub struct HistoryReply {
    pub status: &'static str,
    pub history: Vec<Value>,
}

#[derive(Serialize)]
pub struct CommInfoReply {
    pub status: &'static str,
    pub comms: Map<String, Value>,
}

#[derive(Serialize)]
pub struct CommClose<'a> {
    pub comm_id: &'a str,
    pub data: Map<String, Value>,
}

#[derive(Serialize)]
pub struct ShutdownReply {
    pub status: &'static str,
    pub restart: bool,
}

#[derive(Serialize)]
pub struct StatusOnly {
    pub status: &'static str,
}

#[derive(Serialize)]
pub struct IopubWelcome<'a> {
    pub subscription: &'a str,
}
