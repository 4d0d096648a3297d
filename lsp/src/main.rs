//! `prunekit-lsp`: the language server for SparseML recipe files. The server and `check` arrive
//! with the language-server issue; for now it prints its usage.

use std::process::ExitCode;

const USAGE: &str = "\
usage: prunekit-lsp                 serve the Language Server Protocol on stdin/stdout
       prunekit-lsp check FILE      print a recipe's diagnostics

Neither is built yet: the language server arrives with its issue.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("prunekit-lsp: '{other}' is not available yet; run `prunekit-lsp --help`.");
            ExitCode::from(2)
        }
    }
}
