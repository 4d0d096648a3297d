//! Byte ranges into a recipe's text, and the one place where saphyr's character indices become
//! byte offsets.
//!
//! Every span in the recipe module is a half-open range of **byte** offsets into the whole
//! document text (for a `*.recipe.md` file, the whole Markdown file). The LSP converts bytes to
//! its negotiated position encoding; nothing here knows about lines or UTF-16.

use std::cell::Cell;

/// A half-open byte range `start..end` into the document text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at `offset` (a position, such as the value of `key:` with nothing after it).
    pub const fn empty(offset: usize) -> Span {
        Span {
            start: offset,
            end: offset,
        }
    }

    pub const fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(self) -> bool {
        self.end <= self.start
    }

    /// Whether `offset` lies inside the span: `start <= offset < end`.
    pub const fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }

    /// Whether `offset` lies inside the span or on its end: `start <= offset <= end`. A cursor
    /// right after a word touches it, which is what completion and hover want.
    pub const fn touches(self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }

    /// The smallest span that covers both.
    pub fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span moved `by` bytes to the right (front matter: block offsets to file offsets).
    pub const fn shift(self, by: usize) -> Span {
        Span {
            start: self.start + by,
            end: self.end + by,
        }
    }

    /// The text the span covers, or `""` when it does not fit `text` or splits a character.
    pub fn text(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// Converts character indices (what saphyr's `Marker::index` counts) to byte offsets.
///
/// One per parse. ASCII text (nearly every recipe) needs nothing: a character index is its byte
/// offset. Otherwise a cursor walks the text from the last answer: saphyr's events come in text
/// order, so the walks add up to about one pass over the text, with no table to allocate.
/// Indices past the end clamp to the text's length.
pub(crate) struct CharOffsets<'t> {
    bytes: &'t [u8],
    ascii: bool,
    /// The last answer: (character index, byte offset).
    cursor: Cell<(usize, usize)>,
}

impl<'t> CharOffsets<'t> {
    pub(crate) fn new(text: &'t str) -> CharOffsets<'t> {
        CharOffsets {
            bytes: text.as_bytes(),
            ascii: text.is_ascii(),
            cursor: Cell::new((0, 0)),
        }
    }

    /// The byte offset of character `index`, clamped to the end of the text.
    pub(crate) fn byte(&self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.bytes.len());
        }
        let (mut chars, mut byte) = self.cursor.get();
        while chars < index && byte < self.bytes.len() {
            byte += utf8_len(self.bytes[byte]);
            chars += 1;
        }
        while chars > index {
            // Back over one character: its continuation bytes, then its first byte.
            byte -= 1;
            while byte > 0 && self.bytes[byte] & 0xC0 == 0x80 {
                byte -= 1;
            }
            chars -= 1;
        }
        let byte = byte.min(self.bytes.len());
        self.cursor.set((chars, byte));
        byte
    }
}

/// The length of the UTF-8 sequence that starts with `first`.
fn utf8_len(first: u8) -> usize {
    match first {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, char_indices: &[usize], expect: &[usize]) {
        let offsets = CharOffsets::new(text);
        let got: Vec<usize> = char_indices.iter().map(|&i| offsets.byte(i)).collect();
        assert_eq!(got, expect, "byte offsets of {char_indices:?} in {text:?}");
    }

    #[test]
    fn ascii_indices_are_byte_offsets() {
        check("a: 1\r\nb: 2", &[0, 3, 6, 9, 10, 99], &[0, 3, 6, 9, 10, 10]);
    }

    #[test]
    fn multi_byte_characters_shift_later_offsets() {
        // 'é' is 2 bytes, '😀' is 4 (a surrogate pair in UTF-16), the BOM is 3.
        check("\u{feff}é😀x", &[0, 1, 2, 3, 4, 5], &[0, 3, 5, 9, 10, 10]);
        // Out of order, as a few of saphyr's spans are, and past the end and back.
        check(
            "\u{feff}é😀x",
            &[3, 1, 4, 0, 9, 2, 2],
            &[9, 3, 10, 0, 10, 5, 5],
        );
    }

    #[test]
    fn span_helpers() {
        let a = Span::new(2, 5);
        assert_eq!(a.len(), 3);
        assert!(!a.is_empty());
        assert!(a.contains(2) && a.contains(4) && !a.contains(5));
        assert!(a.touches(5) && !a.touches(6) && !a.touches(1));
        assert_eq!(a.join(Span::new(7, 9)), Span::new(2, 9));
        assert_eq!(Span::new(7, 9).join(a), Span::new(2, 9));
        assert_eq!(a.shift(10), Span::new(12, 15));
        assert!(Span::empty(4).is_empty());
        assert_eq!(Span::empty(4).len(), 0);
        assert_eq!(Span::new(1, 3).text("héllo"), "é");
        assert_eq!(Span::new(1, 2).text("héllo"), "", "splits 'é'");
        assert_eq!(Span::new(4, 90).text("héllo"), "");
        assert_eq!(Span::default(), Span::empty(0));
    }
}
