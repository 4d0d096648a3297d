//! The message framing between the client and tower-lsp-server. tower-lsp-server stops reading
//! at the first message it cannot decode (a body of `42`, invalid UTF-8, a bad
//! `Content-Length`), so one bad message would end the server. Here a thread reads the real
//! stdin, checks each message, answers a bad one itself with a JSON-RPC error (id null) and goes
//! on at the next message boundary; only messages that tower-lsp-server decodes reach it. Its
//! output passes through here too, whole messages at a time, so that an error answer never lands
//! inside one of its messages.

use std::io::{self, Read};

use serde::de::IgnoredAny;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest message accepted. A client sends a whole document in one message, and a 100 MB
/// document should still open; a bigger message is refused and skipped without being kept.
pub const MAX_MESSAGE_BYTES: usize = 128 << 20;
/// A longer header block is garbage: real ones are one or two short lines.
const MAX_HEADER_BYTES: usize = 8 << 10;
/// Where reading starts again after a bad header or a refused message (compared ignoring case).
const RESYNC_AT: &[u8] = b"content-length:";
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;

/// What the reader found next.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// The body of a message that tower-lsp-server decodes.
    Message(Vec<u8>),
    /// A message that was refused, with the error to answer it with.
    Refused(Refusal),
}

/// A JSON-RPC error for a message that was refused; its message is one sentence.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
}

impl Refusal {
    fn parse_error(message: impl Into<String>) -> Frame {
        Frame::Refused(Refusal {
            code: PARSE_ERROR,
            message: message.into(),
        })
    }

    fn invalid_request(message: impl Into<String>) -> Frame {
        Frame::Refused(Refusal {
            code: INVALID_REQUEST,
            message: message.into(),
        })
    }

    /// The framed error response, with a null id: the message's own id is not known.
    pub fn response(&self) -> Vec<u8> {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": self.code, "message": self.message},
        });
        frame(body.to_string().as_bytes())
    }
}

/// `body` with its `Content-Length` header.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Splits the client's byte stream into messages.
pub struct Reader<R> {
    input: R,
    /// Read but not yet used: `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// Where each read lands before it joins `buf`.
    chunk: Box<[u8]>,
    eof: bool,
    /// After a refusal, the bytes up to the next `Content-Length:` are skipped first.
    resync: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(input: R) -> Self {
        Reader {
            input,
            buf: Vec::new(),
            start: 0,
            chunk: vec![0; 64 << 10].into_boxed_slice(),
            eof: false,
            resync: false,
        }
    }

    /// The next message or refusal; `None` at the end of the input (a message that the end cut
    /// short is dropped: there is nobody left to answer).
    pub fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        if std::mem::take(&mut self.resync) && !self.skip_to_header()? {
            return Ok(None);
        }
        // Blank bytes between messages are skipped: some clients end a body with a newline.
        loop {
            let blanks = self
                .available()
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.consume(blanks);
            if !self.available().is_empty() {
                break;
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
        let header = loop {
            if let Some(end) = header_end(self.available()) {
                break Some(end);
            }
            if self.available().len() > MAX_HEADER_BYTES {
                break None;
            }
            if !self.fill()? {
                return Ok(None);
            }
        };
        let length = match header {
            Some((content, total)) => {
                let length = content_length(&self.available()[..content]);
                if length.is_ok() {
                    self.consume(total);
                }
                length
            }
            None => Err("is longer than 8 KiB".to_string()),
        };
        let length = match length {
            Ok(length) => length,
            Err(problem) => {
                // Skip at least this header's first byte, so that its own `Content-Length:` is
                // not where reading starts again.
                self.consume(1);
                self.resync = true;
                return Ok(Some(Refusal::parse_error(format!(
                    "The message header {problem}, so the server skipped to the next Content-Length header; send `Content-Length: N`, a blank line, then N bytes of JSON."
                ))));
            }
        };
        if length > MAX_MESSAGE_BYTES as u64 {
            self.resync = true;
            return Ok(Some(Refusal::invalid_request(format!(
                "The message of {length} bytes is larger than the {} MiB the server accepts, so it was skipped; send smaller documents.",
                MAX_MESSAGE_BYTES >> 20
            ))));
        }
        let length = length as usize;
        while self.available().len() < length {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(check(self.take(length))))
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.start = 0;
            self.buf.clear();
            // A big message's buffer is not kept for the small ones that follow.
            if self.buf.capacity() > 1 << 20 {
                self.buf = Vec::new();
            }
        }
    }

    /// The next `len` bytes, which are all in the buffer, without copying them when they are
    /// most of it (a big message).
    fn take(&mut self, len: usize) -> Vec<u8> {
        self.buf.drain(..self.start);
        self.start = 0;
        let rest = self.buf.split_off(len);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Reads more input; false at its end.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let n = loop {
            match self.input.read(&mut self.chunk) {
                Ok(n) => break n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&self.chunk[..n]);
        Ok(true)
    }

    /// Skips to the next `Content-Length:`, keeping no more than a header's length of what it
    /// skips; false when the input ends first.
    fn skip_to_header(&mut self) -> io::Result<bool> {
        loop {
            let available = self.available();
            let found = (0..available.len().saturating_sub(RESYNC_AT.len() - 1)).find(|&i| {
                available[i].eq_ignore_ascii_case(&RESYNC_AT[0])
                    && available[i..i + RESYNC_AT.len()].eq_ignore_ascii_case(RESYNC_AT)
            });
            if let Some(at) = found {
                self.consume(at);
                return Ok(true);
            }
            // The header may begin in the last bytes: keep them for the next read.
            let skip = available.len().saturating_sub(RESYNC_AT.len() - 1);
            self.consume(skip);
            if !self.fill()? {
                let rest = self.available().len();
                self.consume(rest);
                return Ok(false);
            }
        }
    }
}

/// The end of the header block at the start of `bytes`: (where its empty line starts, just
/// after that line). Lines end with CRLF, or with LF alone from lax clients.
fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut line_start = 0;
    for (i, &b) in bytes.iter().enumerate().take(MAX_HEADER_BYTES + 2) {
        if b == b'\n' {
            if matches!(&bytes[line_start..i], b"" | b"\r") {
                return Some((line_start, i + 1));
            }
            line_start = i + 1;
        }
    }
    None
}

/// The `Content-Length` of a header block, or what is wrong with the block.
fn content_length(block: &[u8]) -> Result<u64, String> {
    let text = std::str::from_utf8(block).map_err(|_| "is not text".to_string())?;
    let mut length = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err("has a line that is not `Name: value`".to_string());
        };
        let is_token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !is_token {
            return Err("has a line that is not `Name: value`".to_string());
        }
        if name.eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("has an invalid Content-Length `{value}`"));
            }
            // Past u64 is as much too large as anything above the limit.
            length = Some(value.bytes().fold(0u64, |n, d| {
                n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
            }));
        }
    }
    length.ok_or_else(|| "has no Content-Length".to_string())
}

/// A body as a message tower-lsp-server decodes, or why it is refused.
fn check(body: Vec<u8>) -> Frame {
    let Ok(text) = std::str::from_utf8(&body) else {
        return Refusal::parse_error("The message body is not UTF-8; send JSON encoded as UTF-8.");
    };
    let first = text
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    let kind = match first {
        None => {
            return Refusal::parse_error(
                "The message body is empty; send one JSON-RPC object per message.",
            );
        }
        Some(b'{') => None,
        Some(b'[') => Some("an array (a batch, which LSP does not use)"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'n') => Some("null"),
        Some(_) => Some("a number"),
    };
    if let Some(kind) = kind {
        return match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => Refusal::invalid_request(format!(
                "The message is {kind}, not a JSON-RPC object; send one object per message."
            )),
            Err(err) => not_json(&err),
        };
    }
    // The very types tower-lsp-server decodes a message into: what they take, it takes.
    let request = match serde_json::from_str::<Request>(text) {
        Ok(_) => return Frame::Message(body),
        Err(err) => err,
    };
    if serde_json::from_str::<Response>(text).is_ok() {
        return Frame::Message(body);
    }
    if request.is_data() {
        Refusal::invalid_request(format!(
            "The message is not a JSON-RPC 2.0 request, notification or response ({request}); send an object with \"jsonrpc\": \"2.0\" and a string \"method\"."
        ))
    } else {
        not_json(&request)
    }
}

fn not_json(err: &serde_json::Error) -> Frame {
    Refusal::parse_error(format!(
        "The message body is not valid JSON ({err}); send one JSON-RPC object per message."
    ))
}

/// Whether `body` is `exit`, after which tower-lsp-server reads nothing more.
fn is_exit(body: &[u8]) -> bool {
    // An exit notification is a few dozen bytes: a big message is not parsed again to find out.
    body.len() < 1024 && serde_json::from_slice::<Request>(body).is_ok_and(|r| r.method() == "exit")
}

/// Reads the client's messages from `input` until it ends or sends `exit`: each good one goes to
/// `messages`, the error answer of each refused one to `answers`.
pub fn read_input(
    input: impl Read,
    messages: mpsc::Sender<Vec<u8>>,
    answers: mpsc::Sender<Vec<u8>>,
) {
    let mut reader = Reader::new(input);
    loop {
        let sent = match reader.next_frame() {
            Ok(Some(Frame::Message(body))) => {
                let exit = is_exit(&body);
                if messages.blocking_send(body).is_err() || exit {
                    return;
                }
                true
            }
            Ok(Some(Frame::Refused(refusal))) => {
                eprintln!("prunekit-lsp: {}", refusal.message);
                answers.blocking_send(refusal.response()).is_ok()
            }
            Ok(None) => return,
            Err(err) => {
                eprintln!("prunekit-lsp: stdin could not be read ({err}); stopping.");
                return;
            }
        };
        if !sent {
            return; // the server has stopped
        }
    }
}

/// Writes each message body from `messages` with its header to the server's input; closing
/// that input when `messages` ends is what stops the server at the end of stdin.
pub async fn forward(mut messages: mpsc::Receiver<Vec<u8>>, mut server: impl AsyncWrite + Unpin) {
    while let Some(body) = messages.recv().await {
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = async {
            server.write_all(header.as_bytes()).await?;
            server.write_all(&body).await
        };
        if written.await.is_err() {
            break;
        }
    }
    let _ = server.shutdown().await;
}

/// Copies the server's output to `out` a whole message at a time, and each refusal's answer
/// between two of them; returns when the server's output ends.
pub async fn write_output(
    mut server: impl AsyncRead + Unpin,
    mut answers: mpsc::Receiver<Vec<u8>>,
    mut out: impl AsyncWrite + Unpin,
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut answers_open = true;
    loop {
        let mut wrote = false;
        while let Some(end) = message_end(&pending) {
            out.write_all(&pending[..end]).await?;
            pending.drain(..end);
            wrote = true;
        }
        if wrote {
            out.flush().await?;
        }
        tokio::select! {
            read = server.read_buf(&mut pending) => {
                if read? == 0 {
                    break;
                }
            }
            answer = answers.recv(), if answers_open => match answer {
                Some(answer) => {
                    out.write_all(&answer).await?;
                    out.flush().await?;
                }
                None => answers_open = false,
            },
        }
    }
    // The server has stopped: what it wrote last, whole or not, then the answers still queued.
    out.write_all(&pending).await?;
    while let Ok(answer) = answers.try_recv() {
        out.write_all(&answer).await?;
    }
    out.flush().await
}

/// The end of the first whole message in `bytes` as tower-lsp-server writes it
/// (`Content-Length: N`, a blank line, N bytes); `None` while it is incomplete. A header without
/// a length (which it never writes) lets everything through rather than holding it back.
fn message_end(bytes: &[u8]) -> Option<usize> {
    let (content, total) = header_end(bytes)?;
    match content_length(&bytes[..content]) {
        Ok(length) => {
            let end = total.checked_add(usize::try_from(length).ok()?)?;
            (bytes.len() >= end).then_some(end)
        }
        Err(_) => Some(bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INITIALIZE: &str =
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;

    fn frames(input: &[u8]) -> Vec<Frame> {
        let mut reader = Reader::new(input);
        let mut out = Vec::new();
        while let Some(frame) = reader.next_frame().unwrap() {
            out.push(frame);
        }
        out
    }

    fn codes(frames: &[Frame]) -> Vec<i64> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Message(_) => 0,
                Frame::Refused(r) => r.code,
            })
            .collect()
    }

    /// Each bad message is answered once, and the valid one after it still arrives.
    #[test]
    fn bad_messages_are_refused_and_reading_goes_on() {
        let good = frame(INITIALIZE.as_bytes());
        let deep = format!(
            r#"{{"jsonrpc":"2.0","method":"x","params":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let cases: Vec<(Vec<u8>, i64)> = vec![
            (frame(b"42"), INVALID_REQUEST),
            (frame(b"[]"), INVALID_REQUEST),
            (frame(b"null"), INVALID_REQUEST),
            (frame(b"\"text\""), INVALID_REQUEST),
            (frame(b"{}"), INVALID_REQUEST),
            (frame(br#"{"jsonrpc":"1.0","method":"x"}"#), INVALID_REQUEST),
            (
                frame(br#"{"jsonrpc":"2.0","method":"x","id":1.5}"#),
                INVALID_REQUEST,
            ),
            (frame(b"{not json"), PARSE_ERROR),
            (frame(b"not json"), PARSE_ERROR),
            (frame(b"  "), PARSE_ERROR),
            (frame(b"{\"a\": \"\xff\"}"), PARSE_ERROR),
            (
                frame(br#"{"jsonrpc":"2.0","method":"x","params":"\ud800"}"#),
                PARSE_ERROR,
            ),
            (frame(deep.as_bytes()), PARSE_ERROR),
            (b"Content-Length: abc\r\n\r\n{}".to_vec(), PARSE_ERROR),
            (b"Content-Length: -5\r\n\r\n".to_vec(), PARSE_ERROR),
            (
                b"Content-Type: application/json\r\n\r\n{}".to_vec(),
                PARSE_ERROR,
            ),
            (b"garbage without a header\r\n\r\n".to_vec(), PARSE_ERROR),
            (vec![b'x'; 3 * MAX_HEADER_BYTES], PARSE_ERROR),
            (
                b"Content-Length: 99999999999999999999999\r\n\r\n{}".to_vec(),
                INVALID_REQUEST,
            ),
        ];
        for (bad, code) in cases {
            let mut input = bad.clone();
            input.extend_from_slice(&good);
            let found = frames(&input);
            assert_eq!(
                codes(&found),
                [code, 0],
                "for {:?}",
                String::from_utf8_lossy(&bad[..bad.len().min(80)])
            );
            assert_eq!(found[1], Frame::Message(INITIALIZE.as_bytes().to_vec()));
            let Frame::Refused(refusal) = &found[0] else {
                unreachable!()
            };
            assert!(
                refusal.message.ends_with('.') && refusal.message.matches(". ").count() == 0,
                "one sentence: {}",
                refusal.message
            );
        }
    }

    #[test]
    fn a_short_content_length_costs_at_most_two_answers() {
        let mut input = b"Content-Length: 5\r\n\r\n".to_vec();
        input.extend_from_slice(INITIALIZE.as_bytes());
        input.extend_from_slice(&frame(INITIALIZE.as_bytes()));
        let found = frames(&input);
        assert_eq!(codes(&found), [PARSE_ERROR, PARSE_ERROR, 0]);
    }

    #[test]
    fn lax_framing_is_accepted() {
        let mut input =
            b"\r\ncontent-length: 2\nContent-Type: application/vscode-jsonrpc\n\n{}".to_vec();
        input.extend_from_slice(&frame(INITIALIZE.as_bytes()));
        assert_eq!(codes(&frames(&input)), [INVALID_REQUEST, 0]);
        let response = br#"{"jsonrpc":"2.0","id":7,"result":null}"#;
        assert_eq!(codes(&frames(&frame(response))), [0]);
    }

    /// A message over the limit is skipped as it streams past, not kept.
    #[test]
    fn an_oversized_message_is_skipped() {
        let body = vec![b' '; MAX_MESSAGE_BYTES + 1];
        let mut input = frame(&body);
        input.extend_from_slice(&frame(INITIALIZE.as_bytes()));
        let mut reader = Reader::new(&input[..]);
        let first = reader.next_frame().unwrap().unwrap();
        assert!(matches!(
            first,
            Frame::Refused(Refusal {
                code: INVALID_REQUEST,
                ..
            })
        ));
        let second = reader.next_frame().unwrap().unwrap();
        assert_eq!(second, Frame::Message(INITIALIZE.as_bytes().to_vec()));
        assert!(reader.buf.capacity() < 1 << 20, "{}", reader.buf.capacity());
        assert_eq!(reader.next_frame().unwrap(), None);
    }

    #[test]
    fn end_of_input_inside_a_message() {
        assert!(frames(b"").is_empty());
        assert!(frames(b"Content-Length: 10\r\n\r\n{}").is_empty());
        assert!(frames(b"Content-Len").is_empty());
    }

    #[test]
    fn refusals_are_json_rpc_errors() {
        let Frame::Refused(refusal) = check(b"42".to_vec()) else {
            unreachable!()
        };
        let answer = refusal.response();
        let text = String::from_utf8(answer).unwrap();
        let (header, body) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(header, format!("Content-Length: {}", body.len()));
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(value["id"], serde_json::Value::Null);
        assert_eq!(value["error"]["code"], INVALID_REQUEST);
    }

    #[test]
    fn output_is_split_into_whole_messages() {
        let a = frame(b"{\"a\":1}");
        let b = frame(b"{\"b\":22}");
        let mut both = a.clone();
        both.extend_from_slice(&b);
        assert_eq!(message_end(&both), Some(a.len()));
        assert_eq!(message_end(&both[..a.len() - 1]), None);
        assert_eq!(message_end(b"Content-Length: 3\r\n"), None);
    }

    /// An answer queued while the server is half-way through writing a message comes after it.
    #[tokio::test]
    async fn answers_never_land_inside_a_message() {
        let (mut server_side, from_server) = tokio::io::duplex(64);
        let (answers_tx, answers_rx) = mpsc::channel(4);
        let (out, mut client) = tokio::io::duplex(1 << 16);
        let writer = tokio::spawn(write_output(from_server, answers_rx, out));
        let message = frame(format!("{{\"x\":\"{}\"}}", "y".repeat(1000)).as_bytes());
        server_side.write_all(&message[..500]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        answers_tx.send(frame(b"{\"answer\":1}")).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        server_side.write_all(&message[500..]).await.unwrap();
        drop(server_side);
        writer.await.unwrap().unwrap();
        let mut written = Vec::new();
        client.read_to_end(&mut written).await.unwrap();
        let mut expected = frame(b"{\"answer\":1}");
        expected.extend_from_slice(&message);
        assert_eq!(written, expected);
    }
}
