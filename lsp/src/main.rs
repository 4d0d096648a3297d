//! `prunekit-lsp`: the language server for SparseML recipe files over stdio, and `check` for
//! scripts and CI.

mod check;
mod convert;
mod files;
mod framing;
mod handlers;
mod line_index;
mod model_link;
mod server;
mod world;

use std::process::ExitCode;

const USAGE: &str = "\
usage: prunekit-lsp [--stdio]            serve the Language Server Protocol on stdin/stdout
       prunekit-lsp check FILE [--model M.onnx] [--framework pytorch|keras|tensorflow] [--format text|json]
                                        print a recipe's diagnostics; exit 1 when there are errors
       prunekit-lsp schema [pytorch|keras|tensorflow]
                                        print the JSON Schema of recipes (vscode-extension/schemas/)
       prunekit-lsp --version

Recipes: *.recipe.yaml, *.recipe.yml, recipe.yaml, *.recipe.md (YAML front matter). The model of a
recipe is named by a `# prunekit: model=PATH` line, else the prunekit.model setting (or --model),
else an .onnx file of the same stem.";

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "prunekit-lsp: internal error{place}; please report it with the recipe that caused it."
        );
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("--stdio") => serve(),
        Some("--version" | "-V") => {
            println!("prunekit-lsp {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("schema") => {
            let framework = match args.get(1).map(String::as_str) {
                None => Some(prunekit_core::recipe::catalog::Framework::PyTorch),
                Some(name) => prunekit_core::recipe::catalog::Framework::from_name(name),
            };
            match framework {
                Some(framework) => {
                    print!(
                        "{}",
                        prunekit_core::recipe::schema::json_schema_text(framework)
                    );
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!(
                        "prunekit-lsp: unknown framework '{}'; use pytorch, keras or tensorflow.",
                        args[1]
                    );
                    ExitCode::from(2)
                }
            }
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("check") => match check::run(&args[1..]) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(message) => {
                eprintln!("prunekit-lsp: {message}");
                ExitCode::from(2)
            }
        },
        Some(other) => {
            eprintln!("prunekit-lsp: unknown command '{other}'; run `prunekit-lsp --help`.");
            ExitCode::from(2)
        }
    }
}

fn serve() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("prunekit-lsp: could not start ({err}).");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let (service, socket) = tower_lsp_server::LspService::build(server::Server::new)
            .custom_method("prunekit/model", server::Server::model_info)
            .custom_method(
                "prunekit/sensitivityChart",
                server::Server::sensitivity_chart,
            )
            .finish();
        // tower-lsp-server reads and writes pipes of ours; `framing` sits between them and
        // stdin/stdout, so that a malformed message gets an error answer instead of ending it.
        let (to_server, server_input) = tokio::io::duplex(PIPE_BYTES);
        let (server_output, from_server) = tokio::io::duplex(PIPE_BYTES);
        // One message in flight: a client that sends faster than the server reads waits, rather
        // than the server keeping its messages.
        let (messages, messages_rx) = tokio::sync::mpsc::channel(1);
        let (answers, answers_rx) = tokio::sync::mpsc::channel(16);
        // A thread of its own with blocking reads: the runtime never waits for stdin, so the
        // server ends at `exit` even when the client keeps stdin open.
        let (input_ended, ended) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            framing::read_input(std::io::stdin().lock(), messages, answers);
            let _ = input_ended.send(());
        });
        let forward = tokio::spawn(framing::forward(messages_rx, to_server));
        let writer = tokio::spawn(framing::write_output(
            from_server,
            answers_rx,
            tokio::io::stdout(),
        ));
        let serve =
            tower_lsp_server::Server::new(server_input, server_output, socket).serve(service);
        // tower-lsp-server returns only when every handler has finished, and a handler waiting
        // for the answer to one of the server's requests (registerCapability, configuration)
        // never finishes once the client has gone: after the end of stdin or `exit`, it gets a
        // moment to finish, then the server ends anyway.
        tokio::select! {
            () = serve => {}
            () = async {
                let _ = ended.await;
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            } => {}
        }
        forward.abort();
        if let Ok(Err(err)) = writer.await {
            eprintln!("prunekit-lsp: stdout could not be written ({err}).");
        }
    });
    ExitCode::SUCCESS
}

/// The buffer of each pipe between `framing` and tower-lsp-server.
const PIPE_BYTES: usize = 64 << 10;
