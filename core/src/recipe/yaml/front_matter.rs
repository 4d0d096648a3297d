//! The front matter of `*.recipe.md` files: the YAML block SparseML extracts from a Markdown
//! recipe (by its regular expression, whose quirks are kept), the problems with it, and its parse
//! with spans relative to the whole file.

use super::{YamlDocument, parse};
use crate::recipe::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontMatterErrorKind {
    /// No `---` block: SparseML fails with "Could not extract YAML front matter from recipe card".
    NoBlock,
    /// A second block after the first, holding modifiers: SparseML reads only the first
    /// (neuralmagic/sparseml#2045).
    SecondBlock,
    /// The block ends at a `---` or `+++` in the middle of a line (`name: a---b`, `# ------`).
    DelimiterInLine,
}

/// A front-matter problem (the `front-matter` rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrontMatterError {
    pub kind: FrontMatterErrorKind,
    pub message: String,
    pub span: Span,
}

impl FrontMatterError {
    /// `NoBlock` is an error (SparseML refuses the file); the others are warnings.
    pub fn is_error(&self) -> bool {
        self.kind == FrontMatterErrorKind::NoBlock
    }
}

/// The YAML block SparseML extracts from a Markdown recipe: the byte offset where it starts in
/// `text` and its text. The rule is SparseML's regular expression `^\s*(?:---|\+\+\+)(.*?)(?:---|\+\+\+)`
/// (dot matches newlines, `^` at every line start), first match: the block starts right after the
/// opening delimiter (the rest of that line included) and ends at the next `---` or `+++`
/// anywhere, even inside a line. The only error is [`FrontMatterErrorKind::NoBlock`].
pub fn front_matter(text: &str) -> Result<(usize, &str), FrontMatterError> {
    match find_front_matter_block(text, 0) {
        Some(block) => Ok((block.start, &text[block.start..block.close])),
        None => {
            let first_line = text.find(['\n', '\r']).unwrap_or(text.len());
            Err(FrontMatterError {
                kind: FrontMatterErrorKind::NoBlock,
                message: "no YAML front matter: SparseML reads a recipe card's recipe from a block between `---` lines \
                          and fails with \"Could not extract YAML front matter from recipe card\""
                    .to_string(),
                span: Span::new(0, first_line),
            })
        }
    }
}

/// Every front-matter problem of a Markdown recipe: no block (an error), or a block that ends
/// inside a line, or a second block with modifiers that SparseML will never read (warnings).
pub fn front_matter_diagnostics(text: &str) -> Vec<FrontMatterError> {
    let block = match front_matter(text) {
        Ok(_) => find_front_matter_block(text, 0),
        Err(error) => return vec![error],
    };
    let Some(block) = block else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let bytes = text.as_bytes();
    let line_start = bytes[..block.close]
        .iter()
        .rposition(|&b| b == b'\n' || b == b'\r')
        .map_or(0, |i| i + 1);
    if !text[line_start..block.close].trim().is_empty() {
        problems.push(FrontMatterError {
            kind: FrontMatterErrorKind::DelimiterInLine,
            message: format!(
                "the front matter ends at this `{}` inside a line: SparseML reads the recipe only up to here",
                &text[block.close..block.close + 3]
            ),
            span: Span::new(block.close, block.close + 3),
        });
    }
    let after = bytes[block.close..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| block.close + i + 1);
    if let Some(second) = after.and_then(|from| find_front_matter_block(text, from))
        && text[second.start..second.close]
            .lines()
            .any(is_modifiers_key_line)
    {
        problems.push(FrontMatterError {
            kind: FrontMatterErrorKind::SecondBlock,
            message: "SparseML reads only the first front-matter block: the modifiers in this second block are \
                      ignored (\"Unable to find any modifiers\"); merge it into the first block"
                .to_string(),
            span: Span::new(second.open, second.open + 3),
        });
    }
    problems
}

/// Parses the front matter of a Markdown recipe with every span relative to the whole file. When
/// there is no block, the document is empty: [`front_matter_diagnostics`] reports why.
pub fn parse_markdown(text: &str) -> YamlDocument {
    let Ok((start, block)) = front_matter(text) else {
        return YamlDocument::default();
    };
    let mut document = parse(block);
    if let Some(root) = &mut document.root {
        root.shift(start);
    }
    if let Some(error) = &mut document.error {
        error.span = error.span.shift(start);
    }
    document
}

struct FrontMatterBlock {
    /// The opening delimiter.
    open: usize,
    /// Just after the opening delimiter: the block's text starts here.
    start: usize,
    /// The closing delimiter: the block's text ends here.
    close: usize,
}

/// The first match of SparseML's front-matter pattern at or after the line start `from`.
fn find_front_matter_block(text: &str, from: usize) -> Option<FrontMatterBlock> {
    let bytes = text.as_bytes();
    let mut line = from;
    loop {
        // `^\s*`: from a line start, Python's `\s` may run over blank lines.
        let open = text[line..]
            .char_indices()
            .find(|&(_, c)| !(c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)))
            .map(|(i, _)| line + i)?;
        if is_delimiter(bytes, open) {
            // The shortest text up to the next delimiter. With none after this one, no later
            // line can open a block either.
            let close = (open + 3..bytes.len()).find(|&i| is_delimiter(bytes, i))?;
            return Some(FrontMatterBlock {
                open,
                start: open + 3,
                close,
            });
        }
        // Python reads the file with universal newlines: `\r` ends a line too.
        line = open
            + bytes[open..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')?
            + 1;
    }
}

fn is_delimiter(bytes: &[u8], at: usize) -> bool {
    matches!(bytes.get(at..at + 3), Some(b"---" | b"+++"))
}

/// A YAML line whose key names a modifier group (`modifiers:`, `pruning_modifiers:`, ...).
fn is_modifiers_key_line(line: &str) -> bool {
    line.trim_start().split_once(':').is_some_and(|(key, _)| {
        key.contains("modifiers") && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_front_matter(
        text: &str,
        expect: Result<&str, FrontMatterErrorKind>,
        problems: &[FrontMatterErrorKind],
    ) {
        match (front_matter(text), expect) {
            (Ok((start, block)), Ok(expected)) => {
                assert_eq!(block, expected, "in {text:?}");
                assert_eq!(&text[start..start + block.len()], block);
            }
            (Err(error), Err(kind)) => assert_eq!(error.kind, kind),
            (got, expected) => panic!("{got:?} != {expected:?} for {text:?}"),
        }
        let kinds: Vec<_> = front_matter_diagnostics(text)
            .iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(kinds, problems, "in {text:?}");
    }

    #[test]
    fn front_matter_follows_sparseml_pattern() {
        use FrontMatterErrorKind::*;
        check_front_matter("---\na: 1\n---\n# Title", Ok("\na: 1\n"), &[]);
        check_front_matter("# Title\n\nText.\n---\na: 1\n---\n", Ok("\na: 1\n"), &[]);
        check_front_matter("  \n\n  ---\na: 1\n+++\n", Ok("\na: 1\n"), &[]);
        check_front_matter("+++\na: 1\n---", Ok("\na: 1\n"), &[]);
        check_front_matter(
            "---\nname: a---b\n---\n",
            Ok("\nname: a"),
            &[DelimiterInLine],
        );
        check_front_matter(
            "---\na: 1\n# ------\nb: 2\n---\n",
            Ok("\na: 1\n# "),
            &[DelimiterInLine],
        );
        check_front_matter("# Title\n\nNo block here.\n", Err(NoBlock), &[NoBlock]);
        check_front_matter("---\na: 1\n", Err(NoBlock), &[NoBlock]);
        check_front_matter("", Err(NoBlock), &[NoBlock]);
        check_front_matter("text ---\na: 1\n---\n", Err(NoBlock), &[NoBlock]);
        check_front_matter(
            "---\ntitle: card\n---\n\n---\nversion: 1.1.0\nmodifiers:\n  - !EpochRangeModifier\n---\n",
            Ok("\ntitle: card\n"),
            &[SecondBlock],
        );
        check_front_matter(
            "---\na: 1\n---\nText\n\n---\n\nMore text about modifiers\n\n---\n",
            Ok("\na: 1\n"),
            &[],
        );
    }

    #[test]
    fn front_matter_problem_spans() {
        let text = "# Card\n---\nname: a---b\n---\n";
        let problems = front_matter_diagnostics(text);
        assert_eq!(problems[0].span.text(text), "---");
        assert_eq!(problems[0].span.start, text.find("---b").unwrap());
        assert!(!problems[0].is_error());
        let problems = front_matter_diagnostics("# Card\nno block\n");
        assert_eq!(problems[0].span, Span::new(0, 6));
        assert!(problems[0].is_error());
    }

    #[test]
    fn markdown_spans_refer_to_the_whole_file() {
        let text = "# Récipe ✂\n\n---\nversion: 1.1.0\nmodifiers:\n  - !GMPruningModifier\n    params: [é.weight]\n---\n\nBody.\n";
        let document = parse_markdown(text);
        assert!(document.error.is_none());
        let root = document.root.unwrap();
        let modifier = &root.get("modifiers").unwrap().items()[0];
        assert_eq!(
            modifier.tag.as_ref().unwrap().span.text(text),
            "!GMPruningModifier"
        );
        assert_eq!(
            modifier.get("params").unwrap().span.text(text),
            "[é.weight]"
        );
        assert_eq!(root.entries()[0].0.span.text(text), "version");

        let broken = "Intro\n---\na: [1,\n---\n";
        let document = parse_markdown(broken);
        let error = document.error.unwrap();
        assert!(
            error.span.start >= broken.find("a:").unwrap()
                && error.span.end <= broken.rfind("---").unwrap()
        );
        assert_eq!(
            document.root.unwrap().get("a").unwrap().span.text(broken),
            "[1"
        );

        assert_eq!(parse_markdown("no block"), YamlDocument::default());
    }
}
