//! Byte offsets ↔ LSP positions in the negotiated encoding (UTF-16 by default, UTF-8 or UTF-32
//! when the client offers them). Lines end at `\n`, `\r\n` or `\r`, as LSP says; a column past
//! the end of a line is clamped to the line's end, since clients send such positions.

/// How `Position.character` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
    Utf32,
}

#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
    is_ascii: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex {
            starts,
            is_ascii: text.is_ascii(),
        }
    }

    /// The text of line `line` without its line break.
    fn line<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts[line];
        let end = self.starts.get(line + 1).copied().unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// (line, character) of a byte offset.
    pub fn position(&self, text: &str, offset: usize, encoding: Encoding) -> (u32, u32) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let prefix = &text[start..end];
        let column = match encoding {
            _ if self.is_ascii => prefix.len(),
            Encoding::Utf8 => prefix.len(),
            Encoding::Utf16 => prefix.chars().map(char::len_utf16).sum(),
            Encoding::Utf32 => prefix.chars().count(),
        };
        (line as u32, column as u32)
    }

    /// The byte offset of (line, character), clamped to the text.
    pub fn offset(&self, text: &str, line: u32, character: u32, encoding: Encoding) -> usize {
        let line = line as usize;
        if line >= self.starts.len() {
            return text.len();
        }
        let start = self.starts[line];
        let content = self.line(text, line);
        let character = character as usize;
        if self.is_ascii || encoding == Encoding::Utf8 {
            let mut at = character.min(content.len());
            while !content.is_char_boundary(at) {
                at -= 1;
            }
            return start + at;
        }
        let mut units = 0;
        for (i, c) in content.char_indices() {
            if units >= character {
                return start + i;
            }
            units += if encoding == Encoding::Utf16 {
                c.len_utf16()
            } else {
                1
            };
        }
        start + content.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, offset: usize, encoding: Encoding, expect: (u32, u32)) {
        let index = LineIndex::new(text);
        assert_eq!(
            index.position(text, offset, encoding),
            expect,
            "{text:?} @ {offset}"
        );
        assert_eq!(
            index.offset(text, expect.0, expect.1, encoding),
            offset,
            "{text:?} back from {expect:?}"
        );
    }

    #[test]
    fn ascii_crlf_and_cr() {
        check("a: 1\nb: 2\n", 6, Encoding::Utf16, (1, 1));
        check("a: 1\r\nb: 2\r\n", 7, Encoding::Utf16, (1, 1));
        check("a\rb", 2, Encoding::Utf16, (1, 0));
    }

    #[test]
    fn non_ascii_in_each_encoding() {
        // é is 2 bytes / 1 UTF-16 unit; 😀 is 4 bytes / 2 UTF-16 units / 1 code point.
        let text = "# é😀\nx: 1";
        let x = text.find("x").unwrap();
        check(text, x, Encoding::Utf16, (1, 0));
        let after = text.find('\n').unwrap();
        check(text, after, Encoding::Utf8, (0, 8));
        check(text, after, Encoding::Utf16, (0, 5));
        check(text, after, Encoding::Utf32, (0, 4));
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(text, 0, 99, Encoding::Utf16), 2);
        assert_eq!(index.offset(text, 9, 0, Encoding::Utf16), text.len());
        assert_eq!(index.position(text, 999, Encoding::Utf16), (1, 2));
    }
}
