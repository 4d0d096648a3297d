//! The tree built from saphyr-parser's events, with every span normalised to what an editor
//! calls the node.
//!
//! All spans are byte offsets into the whole text. saphyr counts characters; `CharOffsets`
//! converts. Some saphyr event spans do not cover what an editor calls the node, so each is
//! normalised here:
//!
//! - a node with properties (`!Tag`, `&anchor`) has an event span that starts at its first
//!   property; the properties are read from the text there (so the tag of `- !GMPruningModifier`
//!   followed by an indented mapping on the next lines gets the span of `!GMPruningModifier`, even
//!   with a comment after it), and the node's own span starts after them;
//! - a quoted scalar's event span runs on over trailing blanks and a trailing comment: it is cut
//!   after the closing quote;
//! - a block scalar's (`|`, `>`) event span starts at its first content line: it is moved back to
//!   the header indicator, and its trailing line breaks are left out;
//! - an empty value (`key:` with nothing after it) is an empty span right after the `:`;
//! - a block mapping covers its first key to its last value, a block sequence its first `-` to its
//!   last item (both without the collection's own tag or anchor), a flow collection its brackets.

use saphyr_parser::{Event, Parser, ScalarStyle as SaphyrScalarStyle, ScanError};

use super::{Anchor, MAX_DEPTH, Node, NodeKind, ScalarStyle, SyntaxError, Tag, YamlDocument};
use crate::recipe::span::{CharOffsets, Span};

/// Parses the first YAML document of `text`. Never fails and never panics: a syntax error is
/// returned with the partial tree (see [`YamlDocument`]). Later documents of a stream are ignored.
pub fn parse(text: &str) -> YamlDocument {
    // Same length and offsets as `text` for every node (see `closers`).
    let text = &*super::closers::move_flow_closers(text);
    let mut builder = Builder {
        text,
        offsets: CharOffsets::new(text),
        stack: Vec::new(),
        root: None,
    };
    let mut error = None;
    for result in Parser::new_from_str(text) {
        let step = match result {
            Ok((event, span)) => {
                let start = builder.offsets.byte(span.start.index());
                let end = builder.offsets.byte(span.end.index()).max(start);
                builder.event(event, start, end)
            }
            Err(scan_error) => Err(builder.scan_error(&scan_error)),
        };
        match step {
            Ok(Step::Continue) => {}
            Ok(Step::Stop) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let is_partial = error.is_some() && builder.root.is_none();
    while let Some(frame) = builder.stack.pop() {
        builder.attach(frame.finish(None));
    }
    YamlDocument {
        root: builder.root,
        error,
        is_partial,
    }
}

enum Step {
    Continue,
    /// The first document has ended.
    Stop,
}

/// A collection whose end event has not come yet.
struct Frame {
    kind: FrameKind,
    tag: Option<Tag>,
    anchor: Option<Anchor>,
    /// Where the collection's own text starts: its `[` or `{`, the first `-` of a block sequence,
    /// the first key (or `?`) of a block mapping.
    open: usize,
    /// A flow collection with brackets (a single-pair mapping inside `[a: 1]` has none).
    bracketed: bool,
    flow: bool,
}

enum FrameKind {
    Mapping {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
    Sequence {
        items: Vec<Node>,
    },
}

impl Frame {
    /// The finished node. `close` is the end of the closing bracket's event; `None` when the
    /// collection is closed because of a syntax error.
    fn finish(self, close: Option<usize>) -> Node {
        let (kind, last_end) = match self.kind {
            FrameKind::Mapping { mut entries, key } => {
                if let Some(key) = key {
                    // Only after a syntax error: a key whose value never came.
                    let at = key.full_span().end;
                    entries.push((key, empty_scalar(at)));
                }
                let last_end = entries.last().map(|(_, value)| value.full_span().end);
                (
                    NodeKind::Mapping {
                        entries,
                        flow: self.flow,
                    },
                    last_end,
                )
            }
            FrameKind::Sequence { items } => {
                let last_end = items.last().map(|item| item.full_span().end);
                (
                    NodeKind::Sequence {
                        items,
                        flow: self.flow,
                    },
                    last_end,
                )
            }
        };
        let end = match close {
            Some(close) if self.bracketed => close,
            _ => last_end
                .unwrap_or(self.open)
                .max(self.open + usize::from(self.bracketed)),
        };
        Node {
            kind,
            span: Span::new(self.open, end.max(self.open)),
            tag: self.tag.map(Box::new),
            anchor: self.anchor.map(Box::new),
        }
    }
}

fn empty_scalar(at: usize) -> Node {
    Node {
        kind: NodeKind::Scalar {
            value: String::new(),
            style: ScalarStyle::Plain,
        },
        span: Span::empty(at),
        tag: None,
        anchor: None,
    }
}

/// A node's properties as read from the text.
struct Properties {
    tag: Option<Tag>,
    anchor: Option<Anchor>,
    /// The end of the last property.
    end: usize,
    /// The first byte after the properties and the blanks, line breaks and comments that follow
    /// them: where the node's content starts, if it has any.
    content: usize,
}

struct Builder<'t> {
    text: &'t str,
    offsets: CharOffsets<'t>,
    stack: Vec<Frame>,
    root: Option<Node>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, start: usize, end: usize) -> Result<Step, SyntaxError> {
        match event {
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) => {}
            Event::DocumentEnd | Event::StreamEnd => return Ok(Step::Stop),
            Event::Alias(_) => {
                let text = Span::new(start, end).text(self.text);
                let name = text.strip_prefix('*').unwrap_or(text).to_string();
                let node = Node {
                    kind: NodeKind::Alias { name },
                    span: Span::new(start, end),
                    tag: None,
                    anchor: None,
                };
                self.attach(node);
            }
            Event::Scalar(value, style, anchor_id, tag) => {
                let props = (anchor_id > 0 || tag.is_some())
                    .then(|| self.properties(start, tag.as_deref(), anchor_id > 0));
                let style = match style {
                    SaphyrScalarStyle::Plain => ScalarStyle::Plain,
                    SaphyrScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    SaphyrScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    SaphyrScalarStyle::Literal => ScalarStyle::Literal,
                    SaphyrScalarStyle::Folded => ScalarStyle::Folded,
                };
                let span = self.scalar_span(style, value.is_empty(), props.as_ref(), start, end);
                let (tag, anchor) = props.map_or((None, None), |p| (p.tag, p.anchor));
                let node = Node {
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    span,
                    tag: tag.map(Box::new),
                    anchor: anchor.map(Box::new),
                };
                self.attach(node);
            }
            Event::SequenceStart(anchor_id, tag) => {
                return self.open(true, anchor_id, tag.as_deref(), start, end);
            }
            Event::MappingStart(anchor_id, tag) => {
                return self.open(false, anchor_id, tag.as_deref(), start, end);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let node = frame.finish(Some(end));
                    self.attach(node);
                }
            }
        }
        Ok(Step::Continue)
    }

    fn open(
        &mut self,
        is_sequence: bool,
        anchor_id: usize,
        tag: Option<&saphyr_parser::Tag>,
        start: usize,
        end: usize,
    ) -> Result<Step, SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError {
                message: format!("collections nested more than {MAX_DEPTH} levels deep"),
                span: self.one_char(start),
            });
        }
        let props =
            (anchor_id > 0 || tag.is_some()).then(|| self.properties(start, tag, anchor_id > 0));
        let (tag, anchor) = props.map_or((None, None), |p| (p.tag, p.anchor));
        // The event ends after the `[` or `{` of a flow collection; for a block
        // collection it ends where its first entry starts.
        let bracket = if is_sequence { b'[' } else { b'{' };
        let bracketed = end > 0 && self.text.as_bytes().get(end - 1) == Some(&bracket);
        let flow = bracketed || self.stack.last().is_some_and(|frame| frame.flow);
        let open = if bracketed {
            end - 1
        } else if !flow {
            if is_sequence {
                self.block_sequence_open(end)
            } else {
                end
            }
        } else {
            // A single-pair mapping in a flow sequence (`[a: 1]`, `[? a : 1]`): no properties,
            // and the event starts at its key or `?`.
            start
        };
        let kind = if is_sequence {
            FrameKind::Sequence { items: Vec::new() }
        } else {
            FrameKind::Mapping {
                entries: Vec::new(),
                key: None,
            }
        };
        self.stack.push(Frame {
            kind,
            tag,
            anchor,
            open,
            bracketed,
            flow,
        });
        Ok(Step::Continue)
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame {
                kind: FrameKind::Sequence { items },
                ..
            }) => items.push(node),
            Some(Frame {
                kind: FrameKind::Mapping { entries, key },
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn scan_error(&self, error: &ScanError) -> SyntaxError {
        SyntaxError {
            message: error.info().to_string(),
            span: self.one_char(self.offsets.byte(error.marker().index())),
        }
    }

    /// The character at `at`, or an empty span at the end of the text.
    fn one_char(&self, at: usize) -> Span {
        let at = at.min(self.text.len());
        let len = self
            .text
            .get(at..)
            .and_then(|rest| rest.chars().next())
            .map_or(0, char::len_utf8);
        Span::new(at, at + len)
    }

    fn scalar_span(
        &self,
        style: ScalarStyle,
        is_empty: bool,
        props: Option<&Properties>,
        start: usize,
        end: usize,
    ) -> Span {
        let bytes = self.text.as_bytes();
        let content = props.map_or(start, |p| p.content);
        if let Some(props) = props
            && content >= end
        {
            // A tag or an anchor with nothing after it: `- !EpochRangeModifier`.
            return Span::empty(props.end);
        }
        match style {
            ScalarStyle::Plain if is_empty => {
                // saphyr places the empty value of `key:` on the `:`.
                let at = if bytes.get(content) == Some(&b':') {
                    content + 1
                } else {
                    content
                };
                Span::empty(at)
            }
            ScalarStyle::Plain => Span::new(content, end),
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Span::new(
                content,
                quoted_end(bytes, content, end, style == ScalarStyle::SingleQuoted),
            ),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                let header = if props.is_some() {
                    content
                } else {
                    block_scalar_header(bytes, content)
                };
                let mut end = end.max(header + 1).min(bytes.len());
                while end > header + 1 && matches!(bytes[end - 1], b' ' | b'\t' | b'\r' | b'\n') {
                    end -= 1;
                }
                Span::new(header, end.max(header))
            }
        }
    }

    /// Reads the tag and anchor (in either order) that start at `start`, where saphyr's event
    /// span for a node with properties begins. Only the properties saphyr reports are read: in
    /// `- !T` followed by `&k key: v` on the next line, `&k` belongs to the key.
    fn properties(
        &self,
        start: usize,
        saphyr_tag: Option<&saphyr_parser::Tag>,
        has_anchor: bool,
    ) -> Properties {
        let text = self.text;
        let bytes = text.as_bytes();
        let (mut tag, mut anchor) = (None, None);
        let (mut pos, mut end) = (start, start);
        for _ in 0..2 {
            match bytes.get(pos) {
                Some(b'!') if saphyr_tag.is_some() && tag.is_none() => {
                    let tag_end = if bytes.get(pos + 1) == Some(&b'<') {
                        bytes[pos..]
                            .iter()
                            .position(|&b| b == b'>')
                            .map_or_else(|| token_end(bytes, pos), |i| pos + i + 1)
                    } else {
                        token_end(bytes, pos)
                    };
                    tag = Some(tag_from_source(text, Span::new(pos, tag_end)));
                    end = tag_end;
                }
                Some(b'&') if has_anchor && anchor.is_none() => {
                    let anchor_end = token_end(bytes, pos);
                    let name = Span::new(pos + 1, anchor_end).text(text).to_string();
                    anchor = Some(Anchor {
                        name,
                        span: Span::new(pos, anchor_end),
                    });
                    end = anchor_end;
                }
                _ => break,
            }
            pos = skip_separators(bytes, end);
        }
        if tag.is_none()
            && let Some(t) = saphyr_tag
        {
            // Not seen in practice: saphyr reported a tag where the text has none. Keep it,
            // with an empty span where the node starts.
            let handle = if t.handle == "tag:yaml.org,2002:" {
                "!!".to_string()
            } else {
                t.handle.clone()
            };
            tag = Some(Tag {
                handle,
                suffix: t.suffix.clone(),
                span: Span::empty(start),
            });
        }
        Properties {
            tag,
            anchor,
            end,
            content: pos,
        }
    }

    /// The first `-` of a block sequence. saphyr's event ends at the `-` of an indented sequence
    /// but after `- ` for one at its parent key's indentation.
    fn block_sequence_open(&self, end: usize) -> usize {
        let bytes = self.text.as_bytes();
        let mut pos = end.min(bytes.len());
        while pos > 0 && matches!(bytes[pos - 1], b' ' | b'\t') {
            pos -= 1;
        }
        if pos > 0 && bytes[pos - 1] == b'-' {
            pos - 1
        } else {
            end
        }
    }
}

/// The end of a tag or anchor token: the next blank, line break or flow indicator.
fn token_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| {
            matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}'
            )
        })
        .map_or(bytes.len(), |i| start + i)
}

/// Skips blanks, line breaks and comments.
fn skip_separators(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => pos += 1,
            b'#' => {
                pos = bytes[pos..]
                    .iter()
                    .position(|&b| b == b'\n' || b == b'\r')
                    .map_or(bytes.len(), |i| pos + i);
            }
            _ => break,
        }
    }
    pos
}

fn tag_from_source(text: &str, span: Span) -> Tag {
    let raw = span.text(text);
    let (handle, suffix) = if let Some(verbatim) = raw.strip_prefix("!<") {
        ("", verbatim.strip_suffix('>').unwrap_or(verbatim))
    } else if let Some(i) = raw.get(1..).and_then(|rest| rest.find('!')) {
        raw.split_at(i + 2)
    } else {
        raw.split_at(raw.len().min(1))
    };
    Tag {
        handle: handle.to_string(),
        suffix: suffix.to_string(),
        span,
    }
}

/// The end of the quoted scalar that opens at `open`, just after its closing quote; `limit` when
/// it is not found before it.
fn quoted_end(bytes: &[u8], open: usize, limit: usize, single: bool) -> usize {
    let limit = limit.min(bytes.len());
    let mut i = open + 1;
    while i < limit {
        match bytes[i] {
            b'\'' if single => {
                if i + 1 < limit && bytes[i + 1] == b'\'' {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            b'"' if !single => return i + 1,
            b'\\' if !single => i += 2,
            _ => i += 1,
        }
    }
    limit
}

/// The `|` or `>` of the block scalar whose content saphyr reports at `content`: on the last
/// non-blank line before it, or (an empty block scalar at the end of the text) at `content` itself.
fn block_scalar_header(bytes: &[u8], content: usize) -> usize {
    let content = content.min(bytes.len());
    let mut last = content;
    while last > 0 && matches!(bytes[last - 1], b' ' | b'\t' | b'\r' | b'\n') {
        last -= 1;
    }
    if last > 0 {
        let line_start = bytes[..last]
            .iter()
            .rposition(|&b| b == b'\n' || b == b'\r')
            .map_or(0, |i| i + 1);
        if let Some(header) = find_block_scalar_header(bytes, line_start, last) {
            return header;
        }
    }
    let line_end = bytes[content..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |i| content + i);
    find_block_scalar_header(bytes, content, line_end).unwrap_or(content)
}

/// The first `|` or `>` in `from..to` that stands after a blank (or at a line start) and is
/// followed only by indentation and chomping indicators, then nothing or a comment.
fn find_block_scalar_header(bytes: &[u8], from: usize, to: usize) -> Option<usize> {
    (from..to).find(|&i| {
        let after_blank_or_bom = i == 0
            || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r')
            || bytes[..i].ends_with("\u{feff}".as_bytes());
        if !matches!(bytes[i], b'|' | b'>') || !after_blank_or_bom {
            return false;
        }
        let mut j = i + 1;
        while j < to && matches!(bytes[j], b'0'..=b'9' | b'+' | b'-') {
            j += 1;
        }
        let rest = &bytes[j..to];
        let after_blanks = rest.trim_ascii_start();
        after_blanks.is_empty() || (after_blanks[0] == b'#' && after_blanks.len() < rest.len())
    })
}
