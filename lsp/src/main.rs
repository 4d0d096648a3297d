//! `prunekit-lsp`: the language server for SparseML recipe files over stdio, and `check` for
//! scripts and CI.

mod check;
mod convert;
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
        tower_lsp_server::Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .serve(service)
            .await;
    });
    ExitCode::SUCCESS
}
