//! `prunekit-kernel`: the Jupyter kernel (`--connection-file F`), its installer, and, for scripts,
//! `analyze`, which prints what a notebook's `load` cell shows, and `run`, which runs cell commands.

mod cell;
mod cli;
mod display;
mod install;
mod server;
mod session;
mod wire;
mod wording;

use std::io::Write;
use std::process::ExitCode;

use cell::load::LoadArgs;
use prunekit_core::{Error, Result};

const USAGE: &str = "\
usage: prunekit-kernel --connection-file FILE
       prunekit-kernel install --user | --sys-prefix | --prefix PATH
       prunekit-kernel analyze MODEL.onnx [--input NAME=D0,D1,..] [--dim SYMBOL=SIZE] [--format text|json]
       prunekit-kernel run [--format text|json] COMMAND... | -
       prunekit-kernel info
       prunekit-kernel --help

  --connection-file  run the Jupyter kernel (Jupyter starts it this way, from the kernelspec).
  install   write the `prunekit` kernelspec so Jupyter, JupyterLab and VS Code offer the kernel.

  analyze   load an ONNX model and print its per-layer analysis: shapes, params, prunable layers,
            existing sparsity, MACs and FLOPs. Free dims are 1 unless set with --dim or --input.
            --format json prints the documented JSON of the kernel's `load` command.
  run       run notebook commands from a shell, one per argument, in one session:
              prunekit-kernel run 'load model.onnx' 'profile loss --method magnitude'
            `-` instead reads one cell (one command per line) from stdin:
              prunekit-kernel run - < cell.txt
            Results go to stdout as they come (--format json: one JSON result per line),
            progress to stderr.
  info      say which ONNX Runtime prunekit found and loaded, and the machine's core count.
";

fn main() -> ExitCode {
    // A bug must still read as one sentence, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("prunekit: internal error{place}; please report it with the command you ran.");
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("prunekit: {}", wording::message(&err));
            ExitCode::from(if err.is_usage() { 2 } else { 1 })
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some("--connection-file") => {
            let [_, path] = args else {
                return Err(Error::Usage(
                    "--connection-file takes one path: prunekit-kernel --connection-file FILE."
                        .into(),
                ));
            };
            let info = wire::connection::ConnectionInfo::read(std::path::Path::new(path))
                .map_err(Error::Usage)?;
            server::serve(info).map_err(Error::Runtime)
        }
        Some("install") => {
            println!("{}", install::install(&args[1..]).map_err(Error::Usage)?);
            Ok(())
        }
        Some("analyze") => analyze(&args[1..]),
        Some("run") => cli::run(&args[1..]),
        Some("info") if args.len() == 1 => info(),
        Some(other) => Err(Error::Usage(format!(
            "unknown command '{other}'; run `prunekit-kernel --help` for the commands."
        ))),
    }
}

fn info() -> Result<()> {
    let runtime = prunekit_core::runtime::runtime()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("prunekit {}", env!("CARGO_PKG_VERSION"));
    let version = runtime
        .version()
        .map(|v| format!(" {v}"))
        .unwrap_or_default();
    println!("ONNX Runtime{version}: {}", runtime.library.display());
    println!("  {}", runtime.build_info());
    println!("CPU cores: {cores}");
    Ok(())
}

fn analyze(words: &[String]) -> Result<()> {
    let mut rest = Vec::new();
    let mut format = "text";
    let mut filtered: Vec<String> = Vec::new();
    let mut words_iter = words.iter();
    while let Some(word) = words_iter.next() {
        match word.as_str() {
            "--format" => {
                format = match words_iter.next().map(String::as_str) {
                    Some("json") => "json",
                    Some("text") => "text",
                    _ => return Err(Error::Usage("--format takes `text` or `json`.".into())),
                }
            }
            _ => filtered.push(word.clone()),
        }
    }
    let args = LoadArgs::parse(&filtered, &mut rest)?;
    if let Some(flag) = rest.first() {
        return Err(Error::Usage(format!(
            "unknown flag {flag}; analyze takes --input, --dim and --format."
        )));
    }
    let model = prunekit_core::load(&args.path)?;
    let analysis = prunekit_core::analyze(&model, &args.options)?;
    let text = match format {
        "json" => {
            serde_json::to_string_pretty(&display::json::analysis(&analysis))
                .expect("plain data serializes")
                + "\n"
        }
        _ => display::text::analysis(&analysis),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}
