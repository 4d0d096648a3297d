//! `prunekit-kernel install`: writes the kernelspec (with the absolute path of this binary, so a
//! notebook server started without the user's PATH still finds it), `interrupt_mode: message`, the
//! logos, and where ONNX Runtime was found (as `ORT_DYLIB_PATH` in the kernel's environment).

use std::path::{Path, PathBuf};

use serde::Serialize;

const LOGO_32: &[u8] = include_bytes!("../assets/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../assets/logo-64x64.png");

#[derive(Serialize)]
struct KernelSpec {
    argv: Vec<String>,
    display_name: &'static str,
    language: &'static str,
    interrupt_mode: &'static str,
    env: std::collections::BTreeMap<String, String>,
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// Where to install: the parsed `--user | --sys-prefix | --prefix P`.
fn kernels_dir(args: &[String]) -> Result<PathBuf, String> {
    match args {
        [] => Err("say where to install: --user, --sys-prefix (the active Python environment) or --prefix PATH.".into()),
        [flag] if flag == "--user" => {
            let data = match std::env::var_os("JUPYTER_DATA_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => {
                    let home = std::env::var_os("HOME").ok_or("HOME is not set; use --prefix PATH instead of --user.")?;
                    PathBuf::from(home).join(".local/share/jupyter")
                }
            };
            Ok(data.join("kernels"))
        }
        [flag] if flag == "--sys-prefix" => {
            let prefix = std::env::var_os("VIRTUAL_ENV").map(PathBuf::from).or_else(python_prefix).ok_or(
                "no Python environment is active (VIRTUAL_ENV is unset and python3 was not found); use --prefix PATH.",
            )?;
            Ok(prefix.join("share/jupyter/kernels"))
        }
        [flag, prefix] if flag == "--prefix" => Ok(PathBuf::from(prefix).join("share/jupyter/kernels")),
        _ => Err(format!("install takes one of --user, --sys-prefix or --prefix PATH, not '{}'.", args.join(" "))),
    }
}

fn python_prefix() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// Installs the kernelspec and says where it went.
pub fn install(args: &[String]) -> Result<String, String> {
    let dir = kernels_dir(args)?.join("prunekit");
    let binary = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|err| format!("the path of prunekit-kernel could not be found ({err})."))?;
    let mut env = std::collections::BTreeMap::new();
    let runtime_note = match prunekit_core::runtime::runtime() {
        Ok(runtime) => {
            env.insert(
                "ORT_DYLIB_PATH".to_string(),
                runtime.library.display().to_string(),
            );
            format!("ONNX Runtime: {}", runtime.library.display())
        }
        Err(err) => {
            format!("ONNX Runtime not found yet ({err}) The kernel looks again at each use.")
        }
    };
    let spec = KernelSpec {
        argv: vec![
            binary.display().to_string(),
            "--connection-file".into(),
            "{connection_file}".into(),
        ],
        display_name: "prunekit",
        language: "prunekit",
        interrupt_mode: "message",
        env,
        metadata: serde_json::Map::new(),
    };
    write(&dir, &spec).map_err(|err| {
        format!(
            "the kernelspec could not be written to {} ({err}).",
            dir.display()
        )
    })?;
    Ok(format!(
        "Installed the prunekit kernelspec in {}\n{runtime_note}",
        dir.display()
    ))
}

fn write(dir: &Path, spec: &KernelSpec) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(spec).expect("plain data serializes");
    std::fs::write(dir.join("kernel.json"), json + "\n")?;
    std::fs::write(dir.join("logo-32x32.png"), LOGO_32)?;
    std::fs::write(dir.join("logo-64x64.png"), LOGO_64)
}
