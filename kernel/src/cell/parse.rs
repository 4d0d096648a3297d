//! Lines → commands. Words split on whitespace; double or single quotes keep spaces in a path;
//! `#` at the start of a word starts a comment.

use prunekit_core::{Error, Result};

use super::spec;

/// One command line: its verb and its words, with the line number for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub number: usize,
    pub verb: String,
    pub words: Vec<String>,
}

/// Splits one line into words; the error names what is unbalanced.
pub fn words(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("a {q} quote is not closed"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Parses a cell into its command lines, checking every verb before anything runs.
pub fn cell(code: &str) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    for (i, text) in code.lines().enumerate() {
        let number = i + 1;
        let mut words =
            words(text).map_err(|why| Error::Usage(format!("line {number}: {why}; close it.")))?;
        if words.is_empty() {
            continue;
        }
        let verb = words.remove(0);
        if spec::find(&verb).is_none() {
            let names: Vec<&str> = spec::COMMANDS.iter().map(|c| c.name).collect();
            return Err(Error::Usage(format!(
                "line {number}: unknown command '{verb}'; the commands are {} (run `help`).",
                names.join(", ")
            )));
        }
        lines.push(Line {
            number,
            verb,
            words,
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_comments() {
        assert_eq!(
            words("load 'my model.onnx' --dim batch=2 # go").unwrap(),
            vec!["load", "my model.onnx", "--dim", "batch=2"]
        );
        assert_eq!(words("echo a#b").unwrap(), vec!["echo", "a#b"]);
        assert_eq!(words("  # only a comment").unwrap(), Vec::<String>::new());
        assert!(words("load \"open").is_err());
    }

    #[test]
    fn cells_check_every_verb_first() {
        let lines = cell("# intro\nload m.onnx\n\nlayers --top 3").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].number, 4);
        let err = cell("load m.onnx\nfrobnicate").unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("frobnicate"),
            "{err}"
        );
    }
}
