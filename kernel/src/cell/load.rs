//! `load PATH [--input NAME=D0,D1,..] [--dim SYMBOL=SIZE]`: the arguments of loading a model.

use std::path::PathBuf;

use prunekit_core::{AnalysisOptions, Error, Result};

#[derive(Debug, Clone, Default)]
pub struct LoadArgs {
    pub path: PathBuf,
    pub options: AnalysisOptions,
}

impl LoadArgs {
    /// Parses the words after `load` (or `analyze`); `rest` collects flags the caller handles.
    pub fn parse<'a>(words: &'a [String], rest: &mut Vec<&'a str>) -> Result<LoadArgs> {
        let mut path = None;
        let mut options = AnalysisOptions::default();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "--input" | "--dim" => {
                    let value = words.next().ok_or_else(|| {
                        Error::Usage(format!("{word} needs a value, like {}.", example(word)))
                    })?;
                    parse_flag(word, value, &mut options)?;
                }
                flag if flag.starts_with("--input=") || flag.starts_with("--dim=") => {
                    let (name, value) = flag.split_once('=').expect("checked above");
                    parse_flag(name, value, &mut options)?;
                }
                flag if flag.starts_with("--") => rest.push(flag),
                other if path.is_none() => path = Some(PathBuf::from(other)),
                other => {
                    return Err(Error::Usage(format!(
                        "unexpected argument '{other}': give one model path, then flags."
                    )));
                }
            }
        }
        let path = path.ok_or_else(|| {
            Error::Usage("give the path of an .onnx model, like `load model.onnx`.".into())
        })?;
        Ok(LoadArgs { path, options })
    }
}

fn example(flag: &str) -> &'static str {
    if flag == "--input" {
        "--input input=1,3,224,224"
    } else {
        "--dim batch=8"
    }
}

fn parse_flag(flag: &str, value: &str, options: &mut AnalysisOptions) -> Result<()> {
    let bad = || {
        Error::Usage(format!(
            "{flag} {value} is not valid; write it like {}.",
            example(flag)
        ))
    };
    let (name, sizes) = value.split_once('=').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let sizes: Vec<u64> = sizes
        .split(',')
        .map(|s| s.trim().parse::<u64>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {value}: every size must be a whole number above 0."
            ))
        })?;
    if flag == "--dim" {
        let [size] = sizes[..] else { return Err(bad()) };
        options.dims.retain(|(n, _)| n != name);
        options.dims.push((name.to_string(), size));
    } else {
        options.input_shapes.retain(|(n, _)| n != name);
        options.input_shapes.push((name.to_string(), sizes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str) -> Result<LoadArgs> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        LoadArgs::parse(&words, &mut Vec::new())
    }

    #[test]
    fn flags_in_both_spellings() {
        let args = check("m.onnx --input x=2,3 --dim=batch=4 --dim seq=9").unwrap();
        assert_eq!(args.path, PathBuf::from("m.onnx"));
        assert_eq!(
            args.options.input_shapes,
            vec![("x".to_string(), vec![2, 3])]
        );
        assert_eq!(
            args.options.dims,
            vec![("batch".to_string(), 4), ("seq".to_string(), 9)]
        );
    }

    #[test]
    fn bad_values_get_one_sentence() {
        for line in [
            "m.onnx --dim batch",
            "m.onnx --dim batch=0",
            "m.onnx --input x=2,a",
            "m.onnx --dim",
            "",
            "a b",
        ] {
            let err = check(line).unwrap_err().to_string();
            assert!(err.ends_with('.'), "{line}: {err}");
            assert!(!err.contains('\n'), "{line}: {err}");
        }
    }
}
