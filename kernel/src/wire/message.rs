//! One Jupyter message: routing identities, header, parent header, metadata, content and buffers,
//! to and from multipart frames. The parent/child rules live here: a reply goes back to the
//! request's identities, and every reply or output carries the request's header as its parent.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::connection::Signer;

const DELIMITER: &[u8] = b"<IDS|MSG>";

/// The protocol version prunekit implements (XPUB iopub welcome, kernel_info on control).
pub const PROTOCOL_VERSION: &str = "5.5";

#[derive(Debug, Clone)]
pub struct Message {
    pub identities: Vec<Bytes>,
    /// Kept as JSON so that copying it into a parent header loses no field a client added.
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Bytes>,
}

impl Message {
    /// Parses and verifies frames; the error says why the message was dropped.
    pub fn from_frames(frames: Vec<Bytes>, signer: &Signer) -> Result<Message, String> {
        let split = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or("no <IDS|MSG> delimiter")?;
        let rest = &frames[split + 1..];
        if rest.len() < 5 {
            return Err(format!(
                "{} frames after the delimiter, 5 needed",
                rest.len()
            ));
        }
        let parts: Vec<&[u8]> = rest[1..5].iter().map(|f| f.as_ref()).collect();
        if !signer.verify(&rest[0], &parts) {
            return Err("bad signature".into());
        }
        let json = |i: usize, what: &str| -> Result<Value, String> {
            let value: Value = serde_json::from_slice(&rest[i])
                .map_err(|e| format!("{what} is not JSON ({e})"))?;
            if value.is_object() {
                Ok(value)
            } else {
                Err(format!("{what} is not a JSON object"))
            }
        };
        let header = json(1, "the header")?;
        if header.get("msg_type").and_then(Value::as_str).is_none() {
            return Err("the header has no msg_type".into());
        }
        Ok(Message {
            identities: frames[..split].to_vec(),
            header,
            parent_header: json(2, "the parent header")?,
            metadata: json(3, "the metadata")?,
            content: json(4, "the content")?,
            buffers: rest[5..].to_vec(),
        })
    }

    pub fn to_frames(&self, signer: &Signer) -> Vec<Bytes> {
        let encode = |v: &Value| Bytes::from(serde_json::to_vec(v).expect("JSON values serialize"));
        let parts = [
            encode(&self.header),
            encode(&self.parent_header),
            encode(&self.metadata),
            encode(&self.content),
        ];
        let signature = signer.sign(&parts.iter().map(|p| p.as_ref()).collect::<Vec<_>>());
        let mut frames = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature));
        frames.extend(parts);
        frames.extend(self.buffers.iter().cloned());
        frames
    }

    pub fn msg_type(&self) -> &str {
        self.header
            .get("msg_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// A new message of `msg_type` caused by `parent` (its header becomes our parent header).
    pub fn child_of(
        parent: Option<&Message>,
        session: &str,
        msg_type: &str,
        content: impl Serialize,
    ) -> Message {
        Message {
            identities: Vec::new(),
            header: new_header(session, msg_type),
            parent_header: parent.map_or_else(|| Value::Object(Map::new()), |p| p.header.clone()),
            metadata: Value::Object(Map::new()),
            content: serde_json::to_value(content).expect("content types serialize"),
            buffers: Vec::new(),
        }
    }

    /// The reply to this request, routed back to its sender.
    pub fn reply(&self, session: &str, content: impl Serialize) -> Message {
        let msg_type = self.msg_type().replace("_request", "_reply");
        Message {
            identities: self.identities.clone(),
            ..Message::child_of(Some(self), session, &msg_type, content)
        }
    }
}

fn new_header(session: &str, msg_type: &str) -> Value {
    serde_json::json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "session": session,
        "username": "prunekit",
        "date": iso8601_now(),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

/// The current UTC time as ISO 8601 with microseconds, as Jupyter headers carry it.
fn iso8601_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        crate::wire::connection::ConnectionInfo {
            transport: "tcp".into(),
            ip: "127.0.0.1".into(),
            shell_port: 1,
            iopub_port: 2,
            stdin_port: 3,
            control_port: 4,
            hb_port: 5,
            signature_scheme: "hmac-sha256".into(),
            key: "k".into(),
        }
        .signer()
    }

    #[test]
    fn a_reply_round_trips_through_frames_and_keeps_routing() {
        let request = Message {
            identities: vec![Bytes::from_static(b"client-1")],
            ..Message::child_of(None, "s", "kernel_info_request", serde_json::json!({}))
        };
        let frames = request.to_frames(&signer());
        let parsed = Message::from_frames(frames, &signer()).unwrap();
        assert_eq!(parsed.msg_type(), "kernel_info_request");
        let reply = parsed.reply("k", serde_json::json!({"status": "ok"}));
        assert_eq!(reply.msg_type(), "kernel_info_reply");
        assert_eq!(reply.identities, vec![Bytes::from_static(b"client-1")]);
        assert_eq!(reply.parent_header["msg_id"], parsed.header["msg_id"]);
    }

    #[test]
    fn bad_frames_are_refused_with_a_reason() {
        let good =
            Message::child_of(None, "s", "x_request", serde_json::json!({})).to_frames(&signer());
        let mut tampered = good.clone();
        tampered[5] = Bytes::from_static(b"{\"hacked\":1}");
        assert!(
            Message::from_frames(tampered, &signer())
                .unwrap_err()
                .contains("signature")
        );
        assert!(
            Message::from_frames(good[1..].to_vec(), &signer())
                .unwrap_err()
                .contains("delimiter")
        );
        assert!(Message::from_frames(good[..4].to_vec(), &signer()).is_err());
    }

    #[test]
    fn dates_look_like_iso8601() {
        let date = iso8601_now();
        assert_eq!(date.len(), 27, "{date}");
        assert!(date.starts_with("20") && date.ends_with('Z') && &date[10..11] == "T");
    }
}
