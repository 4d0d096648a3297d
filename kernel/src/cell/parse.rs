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

/// Checks a whole cell, every verb and every quote, before anything runs; nothing is kept, so a
/// cell of a million lines costs no more memory than its text.
pub fn check(code: &str) -> Result<()> {
    lines(code).try_for_each(|line| line.map(drop))
}

/// The cell's command lines, parsed one at a time as the caller asks for them.
pub fn lines(code: &str) -> impl Iterator<Item = Result<Line>> + '_ {
    code.lines()
        .enumerate()
        .filter_map(|(i, text)| line(i + 1, text).transpose())
}

/// One line: `None` when it holds only blanks or a comment.
fn line(number: usize, text: &str) -> Result<Option<Line>> {
    let mut words =
        words(text).map_err(|why| Error::Usage(format!("line {number}: {why}; close it.")))?;
    if words.is_empty() {
        return Ok(None);
    }
    let verb = words.remove(0);
    if spec::find(&verb).is_none() {
        let names: Vec<&str> = spec::COMMANDS.iter().map(|c| c.name).collect();
        return Err(Error::Usage(format!(
            "line {number}: unknown command '{verb}'; the commands are {} (run `help`).",
            names.join(", ")
        )));
    }
    Ok(Some(Line {
        number,
        verb,
        words,
    }))
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
        let code = "# intro\nload m.onnx\n\nlayers --top 3";
        check(code).unwrap();
        let lines: Vec<Line> = lines(code).collect::<Result<_>>().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].number, 4);
        let err = check("load m.onnx\nfrobnicate").unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("frobnicate"),
            "{err}"
        );
    }
}
