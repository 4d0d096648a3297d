//! The kernel process: five sockets and one task each. Iopub has a single owner fed by one FIFO
//! channel, so `idle` can never overtake a cell's output. Control runs alone, so interrupt and
//! shutdown never wait behind a cell. Shell requests are handled in order; a cell runs on a
//! blocking thread so the sockets stay live while the core computes. A cell's outputs go out as
//! they are made and are not kept; past the cap (`cell::cap`) they are only counted, so neither
//! the queue nor the front end grows with a cell of a million lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use prunekit_core::Cancel;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};
use zeromq::{RepSocket, RouterSocket, Socket, SocketRecv, SocketSend, XPubSocket, ZmqMessage};

use crate::cell::cap::Capped;
use crate::cell::output::{Output, Sink};
use crate::cell::{complete, inspect, parse, run};
use crate::display::bundle::Bundle;
use crate::session::{HistoryEntry, KernelSession};
use crate::wire::connection::{ConnectionInfo, Signer};
use crate::wire::content::*;
use crate::wire::message::{Message, PROTOCOL_VERSION};

enum Iopub {
    Publish(Message),
    /// Answered once everything queued before it was sent.
    Flush(oneshot::Sender<()>),
}

/// What every task needs to publish and reply.
#[derive(Clone)]
struct Kernel {
    session_id: Arc<str>,
    signer: Signer,
    iopub: mpsc::UnboundedSender<Iopub>,
    cancel: Cancel,
}

impl Kernel {
    fn publish(&self, parent: Option<&Message>, msg_type: &str, content: impl serde::Serialize) {
        let message = Message::child_of(parent, &self.session_id, msg_type, content);
        let _ = self.iopub.send(Iopub::Publish(message));
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(
            Some(parent),
            "status",
            Status {
                execution_state: state,
            },
        );
    }
}

pub fn serve(info: ConnectionInfo) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Several workers: a client may send shell requests before its iopub subscription lands,
        // and one busy worker must not stall the others.
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|err| format!("the kernel could not start its runtime ({err})."))?;
    let result = runtime.block_on(run(info));
    // A cell still running was told to stop; do not wait long for it.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn bind<S: Socket>(
    mut socket: S,
    info: &ConnectionInfo,
    port: u16,
    name: &str,
) -> Result<S, String> {
    socket.bind(&info.endpoint(port)).await.map_err(|err| {
        format!(
            "the {name} socket could not listen on {} ({err}).",
            info.endpoint(port)
        )
    })?;
    Ok(socket)
}

async fn run(info: ConnectionInfo) -> Result<(), String> {
    let hb = bind(RepSocket::new(), &info, info.hb_port, "heartbeat").await?;
    let iopub = bind(XPubSocket::new(), &info, info.iopub_port, "iopub").await?;
    let control = bind(RouterSocket::new(), &info, info.control_port, "control").await?;
    let shell = bind(RouterSocket::new(), &info, info.shell_port, "shell").await?;
    // Nothing is read from stdin (no command asks for input), but clients expect it to exist.
    let _stdin = bind(RouterSocket::new(), &info, info.stdin_port, "stdin").await?;

    let (iopub_tx, iopub_rx) = mpsc::unbounded_channel();
    let kernel = Kernel {
        session_id: Arc::from(uuid::Uuid::new_v4().to_string()),
        signer: info.signer(),
        iopub: iopub_tx,
        cancel: Cancel::default(),
    };
    tokio::spawn(heartbeat(hb));
    tokio::spawn(publish(iopub, iopub_rx, kernel.clone()));
    kernel.publish(
        None,
        "status",
        Status {
            execution_state: "starting",
        },
    );

    let session = Arc::new(Mutex::new(KernelSession::default()));
    let (shutdown_tx, mut shutdown_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(control_loop(control, kernel.clone(), shutdown_tx.clone()));
    let (shell_tx, shell_rx) = shell.split();
    let (queue_tx, queue_rx) = mpsc::unbounded_channel();
    tokio::spawn(read_requests(
        shell_rx,
        kernel.signer.clone(),
        queue_tx,
        "shell",
    ));
    tokio::spawn(shell_loop(
        queue_rx,
        shell_tx,
        kernel.clone(),
        session,
        shutdown_tx,
    ));

    shutdown_rx.recv().await;
    kernel.cancel.cancel();
    let (done_tx, done_rx) = oneshot::channel();
    let _ = kernel.iopub.send(Iopub::Flush(done_tx));
    let _ = tokio::time::timeout(Duration::from_secs(2), done_rx).await;
    Ok(())
}

fn log(what: &str) {
    eprintln!("prunekit-kernel: {what}");
}

/// Echoes every ping, forever: a heartbeat error must never end the kernel.
async fn heartbeat(mut socket: RepSocket) {
    loop {
        match socket.recv().await {
            Ok(ping) => {
                if let Err(err) = socket.send(ping).await {
                    log(&format!("heartbeat reply failed ({err})"));
                }
            }
            Err(err) => {
                log(&format!("heartbeat receive failed ({err})"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Owns the XPUB socket: sends queued messages in order, and welcomes each new subscriber.
async fn publish(
    mut socket: XPubSocket,
    mut queue: mpsc::UnboundedReceiver<Iopub>,
    kernel: Kernel,
) {
    loop {
        tokio::select! {
            item = queue.recv() => {
                let Some(item) = item else { return };
                let mut next = Some(item);
                while let Some(item) = next.take() {
                    match item {
                        Iopub::Publish(mut message) => {
                            next = absorb_streams(&mut message, &mut queue);
                            let topic = Bytes::from(format!("kernel.{}.{}", kernel.session_id, message.msg_type()));
                            message.identities = vec![topic];
                            send(&mut socket, &message, &kernel.signer).await;
                        }
                        Iopub::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            },
            subscription = socket.recv() => {
                let Ok(frames) = subscription else { continue };
                // `\x01<topic>` subscribes; answer it so the client knows iopub is connected.
                if let Some(frame) = frames.get(0).filter(|f| f.first() == Some(&1)) {
                    let topic = String::from_utf8_lossy(&frame[1..]).into_owned();
                    let mut welcome = Message::child_of(None, &kernel.session_id, "iopub_welcome", IopubWelcome { subscription: &topic });
                    welcome.identities = vec![Bytes::from(topic.clone())];
                    send(&mut socket, &welcome, &kernel.signer).await;
                }
            }
        }
    }
}

/// The most text one merged stream message carries.
const MAX_STREAM_TEXT: usize = 1 << 20;

/// When outputs come faster than they can be sent, a stream message takes in the text of the
/// stream messages queued right behind it (same request, same stream), as front ends would join
/// them anyway: one message per burst instead of one per line. Answers the first queued item it
/// could not take in, to be handled next.
fn absorb_streams(
    message: &mut Message,
    queue: &mut mpsc::UnboundedReceiver<Iopub>,
) -> Option<Iopub> {
    if message.msg_type() != "stream" {
        return None;
    }
    loop {
        let Ok(item) = queue.try_recv() else {
            return None;
        };
        let Iopub::Publish(following) = &item else {
            return Some(item);
        };
        let joinable = following.msg_type() == "stream"
            && following.parent_header.get("msg_id") == message.parent_header.get("msg_id")
            && following.content.get("name") == message.content.get("name");
        let (Some(Value::String(text)), Some(Value::String(more))) = (
            message.content.get_mut("text"),
            following.content.get("text"),
        ) else {
            return Some(item);
        };
        if !joinable || text.len() + more.len() > MAX_STREAM_TEXT {
            return Some(item);
        }
        text.push_str(more);
    }
}

async fn send<S: SocketSend>(socket: &mut S, message: &Message, signer: &Signer) {
    let frames = message.to_frames(signer);
    let Ok(zmq) = ZmqMessage::try_from(frames) else {
        return;
    };
    // A client that went away is not an error worth more than a log line.
    if let Err(err) = socket.send(zmq).await {
        log(&format!("could not send {} ({err})", message.msg_type()));
    }
}

/// Reads a ROUTER socket, drops (and logs) what is malformed or badly signed, queues the rest.
async fn read_requests<R: SocketRecv>(
    mut socket: R,
    signer: Signer,
    queue: mpsc::UnboundedSender<Message>,
    channel: &str,
) {
    loop {
        match socket.recv().await {
            Ok(frames) => match Message::from_frames(frames.into_vec(), &signer) {
                Ok(message) => {
                    if queue.send(message).is_err() {
                        return;
                    }
                }
                Err(why) => log(&format!("dropped a {channel} message: {why}")),
            },
            Err(err) => {
                log(&format!("{channel} receive failed ({err})"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn control_loop(
    mut socket: RouterSocket,
    kernel: Kernel,
    shutdown: mpsc::UnboundedSender<()>,
) {
    loop {
        let frames = match socket.recv().await {
            Ok(frames) => frames,
            Err(err) => {
                log(&format!("control receive failed ({err})"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let request = match Message::from_frames(frames.into_vec(), &kernel.signer) {
            Ok(request) => request,
            Err(why) => {
                log(&format!("dropped a control message: {why}"));
                continue;
            }
        };
        kernel.status(&request, "busy");
        let mut is_shutdown = false;
        match request.msg_type() {
            "kernel_info_request" => {
                send(
                    &mut socket,
                    &request.reply(&kernel.session_id, kernel_info()),
                    &kernel.signer,
                )
                .await
            }
            "interrupt_request" => {
                kernel.cancel.cancel();
                send(
                    &mut socket,
                    &request.reply(&kernel.session_id, StatusOnly { status: "ok" }),
                    &kernel.signer,
                )
                .await;
            }
            "shutdown_request" => {
                let restart = request
                    .content
                    .get("restart")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                kernel.cancel.cancel();
                send(
                    &mut socket,
                    &request.reply(
                        &kernel.session_id,
                        ShutdownReply {
                            status: "ok",
                            restart,
                        },
                    ),
                    &kernel.signer,
                )
                .await;
                is_shutdown = true;
            }
            other => log(&format!("no handler for control message {other}")),
        }
        kernel.status(&request, "idle");
        if is_shutdown {
            let _ = shutdown.send(());
        }
    }
}

fn kernel_info() -> KernelInfoReply {
    KernelInfoReply {
        status: "ok",
        protocol_version: PROTOCOL_VERSION,
        implementation: "prunekit",
        implementation_version: env!("CARGO_PKG_VERSION"),
        banner: format!(
            "prunekit {}: analyze, profile and prune ONNX models. Type `help` for the commands.",
            env!("CARGO_PKG_VERSION")
        ),
        help_links: vec![HelpLink {
            text: "prunekit commands",
            url: "https://pypi.org/project/onnxruntime/",
        }],
        language_info: LanguageInfo {
            name: "prunekit",
            version: env!("CARGO_PKG_VERSION"),
            mimetype: "text/x-prunekit",
            file_extension: ".prunekit",
            pygments_lexer: "text",
            codemirror_mode: "shell",
            nbconvert_exporter: "script",
        },
        supported_features: Vec::new(),
    }
}

type ShellSender = zeromq::RouterSendHalf;

async fn shell_loop(
    mut queue: mpsc::UnboundedReceiver<Message>,
    mut socket: ShellSender,
    kernel: Kernel,
    session: Arc<Mutex<KernelSession>>,
    shutdown: mpsc::UnboundedSender<()>,
) {
    while let Some(request) = queue.recv().await {
        kernel.status(&request, "busy");
        let failed_and_stops = match request.msg_type() {
            "execute_request" => execute(&request, &mut socket, &kernel, &session).await,
            _ => {
                handle_shell_query(&request, &mut socket, &kernel, &session, &shutdown).await;
                false
            }
        };
        kernel.status(&request, "idle");
        if failed_and_stops {
            // "Run All" stops at the failing cell: every execute request already queued is
            // answered without running; anything else is still handled.
            while let Ok(queued) = queue.try_recv() {
                kernel.status(&queued, "busy");
                if queued.msg_type() == "execute_request" {
                    let count = lock(&session).execution_count;
                    let reply = aborted(count);
                    send(
                        &mut socket,
                        &queued.reply(&kernel.session_id, reply),
                        &kernel.signer,
                    )
                    .await;
                } else {
                    handle_shell_query(&queued, &mut socket, &kernel, &session, &shutdown).await;
                }
                kernel.status(&queued, "idle");
            }
        }
    }
}

fn aborted(execution_count: u32) -> ExecuteReply {
    ExecuteReply {
        status: "aborted",
        execution_count,
        payload: None,
        user_expressions: None,
        ename: None,
        evalue: None,
        traceback: None,
    }
}

fn lock(session: &Mutex<KernelSession>) -> std::sync::MutexGuard<'_, KernelSession> {
    // A panic in a command must not take the session with it.
    session
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Publishes a running cell's outputs with the request as their parent.
struct IopubSink {
    kernel: Kernel,
    parent: Message,
    execution_count: u32,
    /// The cell's `text/plain` result, for the history.
    result_text: Mutex<Option<String>>,
}

impl Sink for IopubSink {
    fn emit(&self, output: Output) {
        let parent = Some(&self.parent);
        let display = |bundle: Bundle, display_id: Option<String>, execution_count: Option<u32>| {
            DisplayData {
                data: bundle.data,
                metadata: bundle.metadata,
                transient: display_id.map(|display_id| Transient { display_id }),
                execution_count,
            }
        };
        match output {
            Output::Stream { name, text } => {
                self.kernel
                    .publish(parent, "stream", Stream { name, text: &text })
            }
            Output::Display { bundle, display_id } => {
                self.kernel
                    .publish(parent, "display_data", display(bundle, display_id, None))
            }
            Output::Update { bundle, display_id } => self.kernel.publish(
                parent,
                "update_display_data",
                display(bundle, Some(display_id), None),
            ),
            Output::Result(bundle) => {
                let text = bundle
                    .data
                    .get("text/plain")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                *self.result_text.lock().unwrap_or_else(|p| p.into_inner()) = text;
                self.kernel.publish(
                    parent,
                    "execute_result",
                    display(bundle, None, Some(self.execution_count)),
                )
            }
        }
    }
}

/// The request without its content: outputs only need its header as their parent, and a cell's
/// code can be megabytes.
fn header_only(request: &Message) -> Message {
    Message {
        identities: Vec::new(),
        header: request.header.clone(),
        parent_header: Value::Null,
        metadata: Value::Null,
        content: Value::Null,
        buffers: Vec::new(),
    }
}

/// Outputs of a silent execution go nowhere.
struct Discard;

impl Sink for Discard {
    fn emit(&self, _output: Output) {}
}

/// Runs one execute request; answers whether it failed with `stop_on_error` set.
async fn execute(
    request: &Message,
    socket: &mut ShellSender,
    kernel: &Kernel,
    session: &Arc<Mutex<KernelSession>>,
) -> bool {
    let content = &request.content;
    let code = content
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let silent = content
        .get("silent")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let store_history = !silent
        && content
            .get("store_history")
            .and_then(Value::as_bool)
            .unwrap_or(true);
    let stop_on_error = content
        .get("stop_on_error")
        .and_then(Value::as_bool)
        .unwrap_or(true);

    let execution_count = {
        let mut s = lock(session);
        if store_history {
            s.execution_count += 1;
        }
        s.execution_count
    };
    if !silent {
        kernel.publish(
            Some(request),
            "execute_input",
            ExecuteInput {
                code: &code,
                execution_count,
            },
        );
    }
    kernel.cancel.reset();
    let sink = Arc::new(IopubSink {
        kernel: kernel.clone(),
        parent: header_only(request),
        execution_count,
        result_text: Mutex::new(None),
    });
    let (worker_session, worker_sink, cancel) =
        (session.clone(), sink.clone(), kernel.cancel.clone());
    // The code goes to the worker and comes back for the history, so a large cell is not copied.
    let joined = tokio::task::spawn_blocking(move || {
        let mut s = lock(&worker_session);
        let capped = Capped::new(worker_sink.as_ref());
        let sink: &dyn Sink = if silent { &Discard } else { &capped };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run::run(&mut s, &code, sink, &cancel)
        }));
        capped.finish();
        (result, code)
    })
    .await;
    let (outcome, code) = match joined {
        Ok((result, code)) => (Ok(result), code),
        Err(err) => (Err(err), String::new()),
    };
    let error = match outcome {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(err))) => {
            let message = crate::wording::message(&err);
            Some(ErrorContent {
                ename: err.kind_name().to_string(),
                traceback: vec![format!("\u{1b}[0;31m{}\u{1b}[0m: {message}", err.kind_name())],
                evalue: message,
            })
        }
        _ => Some(ErrorContent {
            ename: "InternalError".into(),
            evalue: "prunekit hit a bug running this cell; the kernel carries on. Please report the cell.".into(),
            traceback: vec!["InternalError: prunekit hit a bug running this cell.".into()],
        }),
    };
    if store_history {
        let output = sink
            .result_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        lock(session).history.push(HistoryEntry {
            line: execution_count,
            input: code,
            output,
        });
    }
    let reply = match &error {
        None => ExecuteReply {
            status: "ok",
            execution_count,
            payload: Some(Vec::new()),
            user_expressions: Some(Map::new()),
            ename: None,
            evalue: None,
            traceback: None,
        },
        Some(e) => {
            if !silent {
                kernel.publish(Some(request), "error", e.clone());
            }
            ExecuteReply {
                status: "error",
                execution_count,
                payload: None,
                user_expressions: None,
                ename: Some(e.ename.clone()),
                evalue: Some(e.evalue.clone()),
                traceback: Some(e.traceback.clone()),
            }
        }
    };
    send(
        socket,
        &request.reply(&kernel.session_id, reply),
        &kernel.signer,
    )
    .await;
    error.is_some() && stop_on_error
}

async fn handle_shell_query(
    request: &Message,
    socket: &mut ShellSender,
    kernel: &Kernel,
    session: &Arc<Mutex<KernelSession>>,
    shutdown: &mpsc::UnboundedSender<()>,
) {
    let content = &request.content;
    let code = content
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let cursor_pos = content
        .get("cursor_pos")
        .and_then(Value::as_u64)
        .map_or(code.chars().count(), |c| c as usize);
    let sid = &kernel.session_id;
    let message = match request.msg_type() {
        "kernel_info_request" => request.reply(sid, kernel_info()),
        "complete_request" => {
            // Completing a path lists a folder: file I/O runs off the async threads, which also
            // serve the heartbeat and control sockets.
            let (session, code) = (Arc::clone(session), code.to_string());
            let cursor = cursor_pos.min(code.chars().count());
            let found = tokio::task::spawn_blocking(move || {
                complete::complete(&lock(&session), &code, cursor)
            })
            .await
            // A completion that failed offers nothing; the front end still gets its reply.
            .unwrap_or(complete::Completions {
                matches: Vec::new(),
                start: cursor,
                end: cursor,
            });
            request.reply(
                sid,
                CompleteReply {
                    status: "ok",
                    matches: found.matches.iter().map(|m| m.text.clone()).collect(),
                    cursor_start: found.start,
                    cursor_end: found.end,
                    metadata: CompleteMetadata {
                        _jupyter_types_experimental: found
                            .matches
                            .into_iter()
                            .map(|m| TypedCompletion {
                                text: m.text,
                                kind: m.kind,
                                start: found.start,
                                end: found.end,
                                signature: m.signature,
                            })
                            .collect(),
                    },
                },
            )
        }
        "inspect_request" => {
            let text = inspect::inspect(&lock(session), code, cursor_pos.min(code.chars().count()));
            let mut data = Map::new();
            if let Some(text) = &text {
                data.insert("text/plain".into(), Value::String(text.clone()));
            }
            request.reply(
                sid,
                InspectReply {
                    status: "ok",
                    found: text.is_some(),
                    data,
                    metadata: Map::new(),
                },
            )
        }
        "is_complete_request" => {
            let status = if parse::check(code).is_ok() {
                "complete"
            } else {
                "invalid"
            };
            request.reply(
                sid,
                IsCompleteReply {
                    status,
                    indent: None,
                },
            )
        }
        "history_request" => request.reply(
            sid,
            HistoryReply {
                status: "ok",
                history: history(&lock(session), content),
            },
        ),
        "comm_info_request" => request.reply(
            sid,
            CommInfoReply {
                status: "ok",
                comms: Map::new(),
            },
        ),
        "comm_open" => {
            // prunekit opens no comms: close any a client tries to open.
            let comm_id = content
                .get("comm_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            kernel.publish(
                Some(request),
                "comm_close",
                CommClose {
                    comm_id,
                    data: Map::new(),
                },
            );
            return;
        }
        "comm_msg" | "comm_close" => return,
        "shutdown_request" => {
            let restart = content
                .get("restart")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            send(
                socket,
                &request.reply(
                    sid,
                    ShutdownReply {
                        status: "ok",
                        restart,
                    },
                ),
                &kernel.signer,
            )
            .await;
            let _ = shutdown.send(());
            return;
        }
        other => {
            log(&format!("no handler for shell message {other}"));
            return;
        }
    };
    send(socket, &message, &kernel.signer).await;
}

/// `history_request`: tail, range or search over this process's inputs.
fn history(session: &KernelSession, content: &Value) -> Vec<Value> {
    let with_output = content
        .get("output")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let entry = |e: &HistoryEntry| {
        let input = Value::String(e.input.clone());
        let item = if with_output {
            Value::Array(vec![
                input,
                e.output.clone().map_or(Value::Null, Value::String),
            ])
        } else {
            input
        };
        Value::Array(vec![Value::from(0), Value::from(e.line), item])
    };
    let n = content.get("n").and_then(Value::as_u64).map(|n| n as usize);
    let entries = &session.history;
    match content
        .get("hist_access_type")
        .and_then(Value::as_str)
        .unwrap_or("tail")
    {
        "range" => {
            let start = content.get("start").and_then(Value::as_u64).unwrap_or(0) as u32;
            let stop = content
                .get("stop")
                .and_then(Value::as_u64)
                .map_or(u32::MAX, |s| s as u32);
            entries
                .iter()
                .filter(|e| e.line >= start && e.line < stop)
                .map(entry)
                .collect()
        }
        "search" => {
            let pattern = content
                .get("pattern")
                .and_then(Value::as_str)
                .unwrap_or("*");
            let unique = content
                .get("unique")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut seen = std::collections::HashSet::new();
            let mut found: Vec<&HistoryEntry> = entries
                .iter()
                .rev()
                .filter(|e| glob_match(pattern, &e.input))
                .filter(|e| !unique || seen.insert(e.input.clone()))
                .collect();
            if let Some(n) = n {
                found.truncate(n);
            }
            found.reverse();
            found.into_iter().map(entry).collect()
        }
        _ => {
            let n = n.unwrap_or(entries.len()).min(entries.len());
            entries[entries.len() - n..].iter().map(entry).collect()
        }
    }
}

/// `*` and `?` globbing, as history search uses.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("echo*", "echo hello"));
        assert!(glob_match("*hel?o*", "echo hello"));
        assert!(!glob_match("load*", "echo hello"));
        assert!(glob_match("*", ""));
    }
}
