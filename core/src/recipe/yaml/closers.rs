//! Closing brackets on their own line, as transformer recipes write them:
//!
//! ```yaml
//!     params: [
//!       "re:.*weight",
//!     ]
//! ```
//!
//! PyYAML (what SparseML loads recipes with) reads a flow collection whose closing `]` or `}`
//! sits at or left of its key's column; saphyr-parser rejects a `]` there as "invalid
//! indentation". Before parsing, each closing bracket that starts a line inside a flow collection
//! is moved to just after the collection's last content. The text keeps its length and every
//! node keeps its byte offsets: only whitespace, comments and the bracket itself lie between the
//! two places.

use std::borrow::Cow;

/// `text` with every flow-closing bracket that starts a line moved up behind the content before
/// it (see the module documentation); borrowed when there is none.
pub fn move_flow_closers(text: &str) -> Cow<'_, str> {
    let moves = closers_to_move(text.as_bytes());
    if moves.is_empty() {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut next = moves.iter().peekable();
    let mut moved = moves.iter().map(|m| m.bracket).peekable();
    for (i, &b) in bytes.iter().enumerate() {
        while let Some(m) = next.next_if(|m| m.insert_at == i) {
            out.push(bytes[m.bracket]);
        }
        if moved.next_if_eq(&i).is_some() {
            continue;
        }
        out.push(b);
    }
    // Only ASCII brackets moved between ASCII whitespace: the bytes stay valid UTF-8.
    Cow::Owned(String::from_utf8(out).expect("brackets moved between ASCII bytes"))
}

/// A bracket at byte `bracket` to be written at byte `insert_at` instead (`insert_at < bracket`).
struct Move {
    insert_at: usize,
    bracket: usize,
}

/// Where the scan is: in block context, inside flow collections, or inside a quoted scalar.
#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Single,
    Double,
}

/// The closing brackets to move, in text order. A light scan of YAML's lexical structure:
/// quoted scalars, comments, flow collections, and block scalars (skipped by indentation), enough
/// to know which brackets are flow indicators.
fn closers_to_move(bytes: &[u8]) -> Vec<Move> {
    let mut moves = Vec::new();
    let mut depth = 0usize;
    let mut quote = Quote::None;
    // The end of the last content inside the current flow collections (outside comments).
    let mut content_end = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if quote != Quote::None {
            match (quote, b) {
                (Quote::Double, b'\\') => i += 1,
                (Quote::Double, b'"') => quote = Quote::None,
                // `''` inside single quotes is an escaped quote: the next byte reopens it.
                (Quote::Single, b'\'') => quote = Quote::None,
                _ => {}
            }
            i += 1;
            content_end = i;
            continue;
        }
        let at_token_start = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r');
        match b {
            b'#' if at_token_start => {
                i = line_end(bytes, i);
                continue;
            }
            b'\'' | b'"' if at_token_start || depth > 0 && flow_punctuation_before(bytes, i) => {
                quote = if b == b'"' {
                    Quote::Double
                } else {
                    Quote::Single
                };
                if depth > 0 || value_position(bytes, i) {
                    i += 1;
                    content_end = i;
                    continue;
                }
                // A quote inside a plain block scalar (`it's`) is text.
                quote = Quote::None;
            }
            b'|' | b'>' if depth == 0 && value_position(bytes, i) => {
                i = block_scalar_end(bytes, i);
                continue;
            }
            b'[' | b'{' if depth > 0 || value_position(bytes, i) => depth += 1,
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                let line_start = line_start(bytes, i);
                let starts_line = bytes[line_start..i].iter().all(|c| *c == b' ');
                if starts_line && content_end < line_start {
                    moves.push(Move {
                        insert_at: content_end,
                        bracket: i,
                    });
                    i += 1;
                    continue;
                }
            }
            _ => {}
        }
        if depth > 0 && !b.is_ascii_whitespace() {
            content_end = i + 1;
        }
        i += 1;
    }
    // Several brackets moved to one place keep their order (`]` then `}` for `[{...\n}\n]`).
    moves.sort_by_key(|m| (m.insert_at, m.bracket));
    moves
}

fn line_start(bytes: &[u8], i: usize) -> usize {
    bytes[..i]
        .iter()
        .rposition(|c| *c == b'\n')
        .map_or(0, |n| n + 1)
}

fn line_end(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(bytes.len(), |n| i + n)
}

/// Whether the byte before `i` (spaces skipped) is flow punctuation, so a quote at `i` opens a
/// quoted scalar (`["a","b"]`).
fn flow_punctuation_before(bytes: &[u8], i: usize) -> bool {
    bytes[..i]
        .iter()
        .rev()
        .find(|c| !matches!(c, b' ' | b'\t'))
        .is_none_or(|c| matches!(c, b'[' | b'{' | b',' | b':' | b'\n'))
}

/// Whether byte `i` (in block context) starts a node: first on its line, or after `- `, `: `,
/// `? `, a tag or an anchor. Elsewhere `[`, `'` or `|` belong to a plain scalar (`a[0]`).
fn value_position(bytes: &[u8], i: usize) -> bool {
    let start = line_start(bytes, i);
    let mut j = i;
    loop {
        while j > start && bytes[j - 1] == b' ' {
            j -= 1;
        }
        if j == start {
            return true;
        }
        let token_start = bytes[start..j]
            .iter()
            .rposition(|c| *c == b' ')
            .map_or(start, |n| start + n + 1);
        match &bytes[token_start..j] {
            [b'!' | b'&', ..] => j = token_start,
            b"-" | b"?" => return true,
            [.., b':'] => return true,
            _ => return false,
        }
    }
}

/// The end of the block scalar whose indicator (`|` or `>`) is at `i`: the first line after it
/// indented no deeper than the line the indicator is on (blank lines belong to the scalar).
fn block_scalar_end(bytes: &[u8], i: usize) -> usize {
    let start = line_start(bytes, i);
    let parent = bytes[start..].iter().take_while(|c| **c == b' ').count();
    let mut at = line_end(bytes, i);
    while at < bytes.len() {
        let next = at + 1;
        let indent = bytes[next..].iter().take_while(|c| **c == b' ').count();
        let rest = next + indent;
        let blank = rest >= bytes.len() || matches!(bytes[rest], b'\n' | b'\r');
        if !blank && indent <= parent {
            return next;
        }
        at = line_end(bytes, next);
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::move_flow_closers;

    fn moved(text: &str) -> String {
        let out = move_flow_closers(text).into_owned();
        assert_eq!(out.len(), text.len(), "the length changed: {out:?}");
        out
    }

    #[test]
    fn a_closing_bracket_on_its_own_line_moves_behind_the_last_item() {
        let text = "m:\n  - !X\n    params: [\n      \"a\",\n      'b',\n    ]\n    end: 1\n";
        let out = moved(text);
        assert_eq!(
            out,
            "m:\n  - !X\n    params: [\n      \"a\",\n      'b',]\n    \n    end: 1\n"
        );
        // Every other byte keeps its offset.
        let end = text.find("end").unwrap();
        assert_eq!(out.find("end"), Some(end));
    }

    #[test]
    fn comments_quotes_and_nesting_are_respected() {
        let text = "a: [ # open\n  {b: 1}, # c ] not a bracket\n  \"x ]\" ,\n  [1,\n  ],\n]\n";
        assert_eq!(
            moved(text),
            "a: [ # open\n  {b: 1}, # c ] not a bracket\n  \"x ]\" ,\n  [1,]\n  ,]\n\n"
        );
    }

    #[test]
    fn text_without_such_brackets_is_borrowed_unchanged() {
        for text in [
            "a: [1, 2]\nb: {c: 3}\n",
            "a: x[0]\nb: |\n  [\n  ]\nc: 'it''s'\n",
            "k: it's [not] flow\n",
            "a: [1,\n   2]\n",
        ] {
            assert!(
                matches!(move_flow_closers(text), std::borrow::Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }
}
