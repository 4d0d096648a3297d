//! The syntax layer: recipe YAML as a tree of nodes with byte spans, built from saphyr-parser's
//! events (`editor.md` §2.3), plus the front matter of `*.recipe.md` files (`recipes.md` §2.2).
//!
//! The tree keeps what a semantic layer and an editor need and a loader throws away: aliases stay
//! `*name` nodes at their use site, tags (`!GMPruningModifier`) and anchors keep their own spans,
//! scalars keep their style (the YAML 1.1 re-reading in `yaml11.rs` applies to plain scalars only)
//! and duplicate keys are all kept. Broken text still gives a tree: everything parsed before the
//! first syntax error, with the open collections closed.
//!
//! # Spans
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

use super::span::{CharOffsets, Span};

/// A tag as written: `!GMPruningModifier` has handle `!` and suffix `GMPruningModifier`, `!!str`
/// has handle `!!` and suffix `str`, `!e!x` has handle `!e!`, and a verbatim `!<tag:x>` has an
/// empty handle and suffix `tag:x`. Handles are not expanded through `%TAG` directives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub handle: String,
    pub suffix: String,
    /// The tag's text, `!` included.
    pub span: Span,
}

/// An anchor `&name`; the span covers the `&` and the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The value after YAML's own processing (quotes, escapes, folding), not yet typed: typing a
    /// plain scalar is `yaml11::resolve_plain`'s job.
    Scalar {
        value: String,
        style: ScalarStyle,
    },
    /// Entries in source order; duplicate keys are kept (PyYAML keeps the last one).
    Mapping {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Sequence {
        items: Vec<Node>,
        flow: bool,
    },
    /// `*name`, kept unexpanded with its own span (go-to-definition, diagnostics at the use site).
    Alias {
        name: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// The node's own text, without its tag and anchor (see the module documentation).
    pub span: Span,
    /// Boxed, like the anchor: few nodes have one, and a smaller node makes the whole tree
    /// (and so the parse) markedly faster.
    pub tag: Option<Box<Tag>>,
    pub anchor: Option<Box<Anchor>>,
}

/// The first syntax error, at the scanner's marker: a one-character span (empty at the end of the
/// text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YamlDocument {
    /// The first document's root node; `None` when the text holds no document (empty, or only
    /// comments) or the error came before any node.
    pub root: Option<Node>,
    pub error: Option<SyntaxError>,
    /// Whether the error cut the root short: `root` is then what was parsed before it, with every
    /// open collection closed and a key left without value given an empty one. An error after a
    /// complete root (trailing junk) leaves `is_partial` false.
    pub is_partial: bool,
}

/// Collections nested deeper than this end the parse with a syntax error, so that nothing that
/// walks the tree recursively (this module, the rules, `Drop`) can overflow the stack. saphyr
/// itself allows 255 levels of flow nesting but any depth of block nesting (`- - - - x`).
pub const MAX_DEPTH: usize = 256;

impl Node {
    /// The span with the tag and the anchor included.
    pub fn full_span(&self) -> Span {
        let mut span = self.span;
        if let Some(tag) = &self.tag {
            span = span.join(tag.span);
        }
        if let Some(anchor) = &self.anchor {
            span = span.join(anchor.span);
        }
        span
    }

    /// A scalar's value (any style); `None` for collections and aliases.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value of `key` in a mapping. With duplicate keys the last one wins, as in PyYAML.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, value)| value)
    }

    /// The entry (key node, value node) of `key` in a mapping; the last one of duplicates.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.entries()
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
    }

    /// A mapping's entries; empty for anything else.
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            NodeKind::Mapping { entries, .. } => entries,
            _ => &[],
        }
    }

    /// A sequence's items; empty for anything else.
    pub fn items(&self) -> &[Node] {
        match &self.kind {
            NodeKind::Sequence { items, .. } => items,
            _ => &[],
        }
    }

    fn shift(&mut self, by: usize) {
        self.span = self.span.shift(by);
        if let Some(tag) = &mut self.tag {
            tag.span = tag.span.shift(by);
        }
        if let Some(anchor) = &mut self.anchor {
            anchor.span = anchor.span.shift(by);
        }
        match &mut self.kind {
            NodeKind::Mapping { entries, .. } => {
                for (key, value) in entries {
                    key.shift(by);
                    value.shift(by);
                }
            }
            NodeKind::Sequence { items, .. } => items.iter_mut().for_each(|item| item.shift(by)),
            NodeKind::Scalar { .. } | NodeKind::Alias { .. } => {}
        }
    }
}

/// Parses the first YAML document of `text`. Never fails and never panics: a syntax error is
/// returned with the partial tree (see [`YamlDocument`]). Later documents of a stream are ignored.
pub fn parse(text: &str) -> YamlDocument {
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

/// The path of nodes from `root` to the innermost node whose span (tag and anchor included)
/// touches `offset` (`start <= offset <= end`, so a cursor right after a word counts). Empty when
/// `root` itself does not touch it.
///
/// After a mapping in the path always comes the **key** of the entry the offset is in, then its
/// value if the offset lies in the value: `a: {b: 1}` at the `1` gives `[root, a, {b: 1}, b, 1]`,
/// at `b` gives `[root, a, {b: 1}, b]`. An offset between a key and its value (on `: `) stops at
/// the mapping. In a sequence, the path goes on with the item.
pub fn find_node_at(root: &Node, offset: usize) -> Vec<&Node> {
    let mut path = Vec::new();
    if !root.full_span().touches(offset) {
        return path;
    }
    let mut node = root;
    loop {
        path.push(node);
        let next = match &node.kind {
            NodeKind::Mapping { entries, .. } => entries.iter().find_map(|(key, value)| {
                if key.full_span().touches(offset) {
                    Some(key)
                } else if value.full_span().touches(offset) {
                    path.push(key);
                    Some(value)
                } else {
                    None
                }
            }),
            NodeKind::Sequence { items, .. } => {
                items.iter().find(|item| item.full_span().touches(offset))
            }
            NodeKind::Scalar { .. } | NodeKind::Alias { .. } => None,
        };
        match next {
            Some(child) => node = child,
            None => return path,
        }
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

// ---------------------------------------------------------------------------------------------
// Front matter (`*.recipe.md`)
// ---------------------------------------------------------------------------------------------

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

/// A front-matter problem (the `front-matter` rule, `recipes.md` §12.1).
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
    use std::fmt::Write;

    /// One line per node: kind, tag, anchor, then the source text its span covers.
    fn dump(text: &str, document: &YamlDocument) -> String {
        fn src(text: &str, span: Span) -> String {
            let s = span.text(text);
            let s = if s.chars().count() > 40 {
                let head: String = s.chars().take(18).collect();
                let tail: String = s
                    .chars()
                    .rev()
                    .take(18)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("{head}…{tail}")
            } else {
                s.to_string()
            };
            format!("{s:?}")
        }
        fn node(out: &mut String, text: &str, n: &Node, depth: usize, role: &str) {
            let _ = write!(out, "{}{role}", "  ".repeat(depth));
            match &n.kind {
                NodeKind::Scalar { value, style } => {
                    let _ = write!(out, "scalar {style:?} {value:?}");
                }
                NodeKind::Mapping { flow, .. } => {
                    out.push_str(if *flow { "flow-mapping" } else { "mapping" })
                }
                NodeKind::Sequence { flow, .. } => {
                    out.push_str(if *flow { "flow-sequence" } else { "sequence" })
                }
                NodeKind::Alias { name } => {
                    let _ = write!(out, "alias {name}");
                }
            }
            if let Some(tag) = &n.tag {
                let _ = write!(
                    out,
                    " tag={}|{}@{}",
                    tag.handle,
                    tag.suffix,
                    src(text, tag.span)
                );
            }
            if let Some(anchor) = &n.anchor {
                let _ = write!(out, " anchor={}@{}", anchor.name, src(text, anchor.span));
            }
            let _ = writeln!(out, " {}", src(text, n.span));
            match &n.kind {
                NodeKind::Mapping { entries, .. } => {
                    for (k, v) in entries {
                        node(out, text, k, depth + 1, "? ");
                        node(out, text, v, depth + 1, ": ");
                    }
                }
                NodeKind::Sequence { items, .. } => {
                    for item in items {
                        node(out, text, item, depth + 1, "- ");
                    }
                }
                _ => {}
            }
        }
        let mut out = String::new();
        if let Some(root) = &document.root {
            node(&mut out, text, root, 0, "");
        }
        if let Some(error) = &document.error {
            let _ = writeln!(
                out,
                "error {:?} at {}",
                error.message,
                src(text, error.span)
            );
        }
        if document.is_partial {
            out.push_str("partial\n");
        }
        out
    }

    fn check(text: &str, expect: &str) {
        let got = dump(text, &parse(text));
        let expect: String = expect
            .trim()
            .lines()
            .map(|l| {
                l.strip_prefix("        ")
                    .unwrap_or(l)
                    .trim_end()
                    .to_string()
                    + "\n"
            })
            .collect();
        assert_eq!(got, expect, "\n--- got ---\n{got}--- for ---\n{text}");
    }

    const RECIPE: &str = "\
version: 1.1.0
num_epochs: &num_epochs 10
init_lr: 1.0e-3

modifiers:
    - !EpochRangeModifier
        start_epoch: 0.0
        end_epoch: *num_epochs

    - !GMPruningModifier  # prune the convolutions
        params: ['re:.*conv', \"fc.weight\"]
        init_sparsity: 0.05
        final_sparsity: 0.85
        start_epoch: 1.0
        end_epoch: eval(num_epochs - 2)
        update_frequency: 0.5
        mask_type: unstructured
";

    #[test]
    fn sparseml_recipe() {
        check(
            RECIPE,
            r#"
        mapping "version: 1.1.0\nnum…type: unstructured"
          ? scalar Plain "version" "version"
          : scalar Plain "1.1.0" "1.1.0"
          ? scalar Plain "num_epochs" "num_epochs"
          : scalar Plain "10" anchor=num_epochs@"&num_epochs" "10"
          ? scalar Plain "init_lr" "init_lr"
          : scalar Plain "1.0e-3" "1.0e-3"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !EpochRangeModif…type: unstructured"
            - mapping tag=!|EpochRangeModifier@"!EpochRangeModifier" "start_epoch: 0.0\n …epoch: *num_epochs"
              ? scalar Plain "start_epoch" "start_epoch"
              : scalar Plain "0.0" "0.0"
              ? scalar Plain "end_epoch" "end_epoch"
              : alias num_epochs "*num_epochs"
            - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: ['re:.*con…type: unstructured"
              ? scalar Plain "params" "params"
              : flow-sequence "['re:.*conv', \"fc.weight\"]"
                - scalar SingleQuoted "re:.*conv" "'re:.*conv'"
                - scalar DoubleQuoted "fc.weight" "\"fc.weight\""
              ? scalar Plain "init_sparsity" "init_sparsity"
              : scalar Plain "0.05" "0.05"
              ? scalar Plain "final_sparsity" "final_sparsity"
              : scalar Plain "0.85" "0.85"
              ? scalar Plain "start_epoch" "start_epoch"
              : scalar Plain "1.0" "1.0"
              ? scalar Plain "end_epoch" "end_epoch"
              : scalar Plain "eval(num_epochs - 2)" "eval(num_epochs - 2)"
              ? scalar Plain "update_frequency" "update_frequency"
              : scalar Plain "0.5" "0.5"
              ? scalar Plain "mask_type" "mask_type"
              : scalar Plain "unstructured" "unstructured"
        "#,
        );
    }

    #[test]
    fn staged_recipe_with_indentless_sequences() {
        check(
            "\
num_epochs: 10
pruning_stage:
  pruning_modifiers:
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
    end_epoch: eval(num_epochs)
quant_stage:
  quant_modifiers: []
",
            r#"
        mapping "num_epochs: 10\npru…uant_modifiers: []"
          ? scalar Plain "num_epochs" "num_epochs"
          : scalar Plain "10" "10"
          ? scalar Plain "pruning_stage" "pruning_stage"
          : mapping "pruning_modifiers:…: eval(num_epochs)"
            ? scalar Plain "pruning_modifiers" "pruning_modifiers"
            : sequence "- !GMPruningModifi…: eval(num_epochs)"
              - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: __ALL_PRUN…: eval(num_epochs)"
                ? scalar Plain "params" "params"
                : scalar Plain "__ALL_PRUNABLE__" "__ALL_PRUNABLE__"
                ? scalar Plain "end_epoch" "end_epoch"
                : scalar Plain "eval(num_epochs)" "eval(num_epochs)"
          ? scalar Plain "quant_stage" "quant_stage"
          : mapping "quant_modifiers: []"
            ? scalar Plain "quant_modifiers" "quant_modifiers"
            : flow-sequence "[]"
        "#,
        );
    }

    #[test]
    fn scalar_styles_and_their_spans() {
        check(
            "\
a: 'it''s' # comment
b: \"x\\\"y\"   
c: |
  line one

  line two

d: >-  # folded | not a header
  folded
  text
e: |
f: plain
  continued
g:
h: ''
",
            r#"
        mapping "a: 'it''s' # comme…continued\ng:\nh: ''"
          ? scalar Plain "a" "a"
          : scalar SingleQuoted "it's" "'it''s'"
          ? scalar Plain "b" "b"
          : scalar DoubleQuoted "x\"y" "\"x\\\"y\""
          ? scalar Plain "c" "c"
          : scalar Literal "line one\n\nline two\n" "|\n  line one\n\n  line two"
          ? scalar Plain "d" "d"
          : scalar Folded "folded text" ">-  # folded | not…er\n  folded\n  text"
          ? scalar Plain "e" "e"
          : scalar Literal "" "|"
          ? scalar Plain "f" "f"
          : scalar Plain "plain continued" "plain\n  continued"
          ? scalar Plain "g" "g"
          : scalar Plain "" ""
          ? scalar Plain "h" "h"
          : scalar SingleQuoted "" "''"
        "#,
        );
    }

    #[test]
    fn block_scalar_at_the_end_and_content_that_looks_like_a_header() {
        check(
            "a: |\n  | x\nb: >\n",
            r#"
        mapping "a: |\n  | x\nb: >"
          ? scalar Plain "a" "a"
          : scalar Literal "| x\n" "|\n  | x"
          ? scalar Plain "b" "b"
          : scalar Folded "" ">"
        "#,
        );
    }

    #[test]
    fn tags_and_anchors_in_every_position() {
        check(
            "\
- !EpochRangeModifier
- &a !!str  x
- !!str &b 'q'
- !GMPruningModifier {params: [conv1.weight], init_sparsity: 0.05}
- &m
  k: v
- !<tag:example.com,2000:z> w
- *a
",
            r#"
        sequence "- !EpochRangeModif…com,2000:z> w\n- *a"
          - scalar Plain "" tag=!|EpochRangeModifier@"!EpochRangeModifier" ""
          - scalar Plain "x" tag=!!|str@"!!str" anchor=a@"&a" "x"
          - scalar SingleQuoted "q" tag=!!|str@"!!str" anchor=b@"&b" "'q'"
          - flow-mapping tag=!|GMPruningModifier@"!GMPruningModifier" "{params: [conv1.we…it_sparsity: 0.05}"
            ? scalar Plain "params" "params"
            : flow-sequence "[conv1.weight]"
              - scalar Plain "conv1.weight" "conv1.weight"
            ? scalar Plain "init_sparsity" "init_sparsity"
            : scalar Plain "0.05" "0.05"
          - mapping anchor=m@"&m" "k: v"
            ? scalar Plain "k" "k"
            : scalar Plain "v" "v"
          - scalar Plain "w" tag=|tag:example.com,2000:z@"!<tag:example.com,2000:z>" "w"
          - alias a "*a"
        "#,
        );
    }

    #[test]
    fn tag_followed_by_a_comment_and_a_mapping_on_the_next_lines() {
        let text = "modifiers:\n  - !GMPruningModifier   # prune conv1.weight\n\n      # a comment line\n      end_epoch: 1\n";
        let document = parse(text);
        let modifier = &document
            .root
            .as_ref()
            .unwrap()
            .get("modifiers")
            .unwrap()
            .items()[0];
        let tag = modifier.tag.as_ref().unwrap();
        assert_eq!(
            (tag.handle.as_str(), tag.suffix.as_str()),
            ("!", "GMPruningModifier")
        );
        assert_eq!(tag.span.text(text), "!GMPruningModifier");
        assert_eq!(modifier.span.text(text), "end_epoch: 1");
        assert_eq!(
            modifier.full_span().text(text),
            "!GMPruningModifier   # prune conv1.weight\n\n      # a comment line\n      end_epoch: 1"
        );
    }

    #[test]
    fn properties_on_the_next_line_belong_to_the_key() {
        check(
            "- !GMPruningModifier\n  &k !!str key: v\n",
            r#"
        sequence "- !GMPruningModifier\n  &k !!str key: v"
          - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "&k !!str key: v"
            ? scalar Plain "key" tag=!!|str@"!!str" anchor=k@"&k" "key"
            : scalar Plain "v" "v"
        "#,
        );
    }

    #[test]
    fn named_tag_handle_from_a_directive() {
        check(
            "%TAG !e! tag:example.com,2000:\n--- !e!recipe\n- !e!x y\n",
            r#"
        sequence tag=!e!|recipe@"!e!recipe" "- !e!x y"
          - scalar Plain "y" tag=!e!|x@"!e!x" "y"
        "#,
        );
    }

    #[test]
    fn flow_collections() {
        check(
            "{a, b: , c: [x: 1, ? y : 2, [z]], d: {}}",
            r#"
        flow-mapping "{a, b: , c: [x: 1, ? y : 2, [z]], d: {}}"
          ? scalar Plain "a" "a"
          : scalar Plain "" ""
          ? scalar Plain "b" "b"
          : scalar Plain "" ""
          ? scalar Plain "c" "c"
          : flow-sequence "[x: 1, ? y : 2, [z]]"
            - flow-mapping "x: 1"
              ? scalar Plain "x" "x"
              : scalar Plain "1" "1"
            - flow-mapping "? y : 2"
              ? scalar Plain "y" "y"
              : scalar Plain "2" "2"
            - flow-sequence "[z]"
              - scalar Plain "z" "z"
          ? scalar Plain "d" "d"
          : flow-mapping "{}"
        "#,
        );
    }

    #[test]
    fn empty_values_and_items() {
        let text = "a:\nb: # comment\nc:\n  - \n  - x\n";
        check(
            text,
            r#"
        mapping "a:\nb: # comment\nc:\n  - \n  - x"
          ? scalar Plain "a" "a"
          : scalar Plain "" ""
          ? scalar Plain "b" "b"
          : scalar Plain "" ""
          ? scalar Plain "c" "c"
          : sequence "- \n  - x"
            - scalar Plain "" ""
            - scalar Plain "x" "x"
        "#,
        );
        let root = parse(text).root.unwrap();
        assert_eq!(
            root.get("a").unwrap().span,
            Span::empty(2),
            "right after the `:`"
        );
        assert_eq!(root.get("b").unwrap().span, Span::empty(5));
    }

    #[test]
    fn multi_byte_characters_and_crlf() {
        let text = "\u{feff}note: \"é😀\" # é\r\nparams: [é, 'x😀y']\r\nlit: |\r\n  ü\r\n  v\r\nend: *é\r\n";
        // `*é` refers to no anchor: saphyr stops there.
        check(
            text,
            r#"
        mapping "note: \"é😀\" # é\r\npa…: |\r\n  ü\r\n  v\r\nend"
          ? scalar Plain "note" "note"
          : scalar DoubleQuoted "é😀" "\"é😀\""
          ? scalar Plain "params" "params"
          : flow-sequence "[é, 'x😀y']"
            - scalar Plain "é" "é"
            - scalar SingleQuoted "x😀y" "'x😀y'"
          ? scalar Plain "lit" "lit"
          : scalar Literal "ü\nv\n" "|\r\n  ü\r\n  v"
          ? scalar Plain "end" "end"
          : scalar Plain "" ""
        error "while parsing node, found unknown anchor" at "*"
        partial
        "#,
        );
    }

    #[test]
    fn anchors_before_multi_byte_text() {
        let text = "é: &ä 1\nb: *ä\n";
        let root = parse(text).root.unwrap();
        let (key, value) = &root.entries()[0];
        assert_eq!(key.span.text(text), "é");
        assert_eq!(value.anchor.as_ref().unwrap().span.text(text), "&ä");
        assert_eq!(value.anchor.as_ref().unwrap().name, "ä");
        let alias = root.get("b").unwrap();
        assert_eq!(alias.span.text(text), "*ä");
        assert_eq!(
            alias.kind,
            NodeKind::Alias {
                name: "ä".to_string()
            }
        );
    }

    #[test]
    fn duplicate_keys_are_kept_and_the_last_wins() {
        let text = "a: 1\na: 2\n";
        let root = parse(text).root.unwrap();
        assert_eq!(root.entries().len(), 2);
        assert_eq!(root.get("a").unwrap().as_str(), Some("2"));
        assert_eq!(root.entry("a").unwrap().0.span, Span::new(5, 6));
        assert_eq!(root.get("zz"), None);
        assert_eq!(root.as_str(), None);
        assert!(root.items().is_empty());
    }

    #[test]
    fn only_the_first_document() {
        check(
            "---\na: 1\n---\nb: [\n",
            r#"
        mapping "a: 1"
          ? scalar Plain "a" "a"
          : scalar Plain "1" "1"
        "#,
        );
        check("", "");
        check("# only a comment\n", "");
        check("--- # empty\n", "scalar Plain \"\" \"\"\n");
    }

    #[test]
    fn unclosed_flow_list_keeps_the_partial_tree() {
        check(
            "\
modifiers:
    - !GMPruningModifier
        params: [conv1.weight,
        end_epoch: 10
    - !EpochRangeModifier
        end_epoch: 5
",
            r#"
        mapping "modifiers:\n    - !…ams: [conv1.weight"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !GMPruningModifi…ams: [conv1.weight"
            - mapping tag=!|GMPruningModifier@"!GMPruningModifier" "params: [conv1.weight"
              ? scalar Plain "params" "params"
              : flow-sequence "[conv1.weight"
                - scalar Plain "conv1.weight" "conv1.weight"
        error "invalid indentation in flow construct" at "e"
        partial
        "#,
        );
    }

    #[test]
    fn bad_indentation() {
        check(
            "a: 1\n  b: 2\n",
            r#"
        mapping "a: 1\n  b"
          ? scalar Plain "a" "a"
          : scalar Plain "1 b" "1\n  b"
        error "mapping values are not allowed in this context" at ":"
        partial
        "#,
        );
        check(
            "modifiers:\n  - !EpochRangeModifier\n    end_epoch: 1\n   start_epoch: 0\n",
            r#"
        mapping "modifiers:\n  - !Ep…r\n    end_epoch: 1"
          ? scalar Plain "modifiers" "modifiers"
          : sequence "- !EpochRangeModifier\n    end_epoch: 1"
            - mapping tag=!|EpochRangeModifier@"!EpochRangeModifier" "end_epoch: 1"
              ? scalar Plain "end_epoch" "end_epoch"
              : scalar Plain "1" "1"
        error "while parsing a block collection, did not find expected '-' indicator" at "s"
        partial
        "#,
        );
    }

    #[test]
    fn tab_indentation() {
        check(
            "modifiers:\n\t- !EpochRangeModifier\n",
            r#"
        mapping "modifiers"
          ? scalar Plain "modifiers" "modifiers"
          : scalar Plain "" ""
        error "tabs disallowed within this context (block indentation)" at "-"
        partial
        "#,
        );
    }

    #[test]
    fn key_without_value_at_the_error() {
        check(
            "a:\n  b: [1\n",
            r#"
        mapping "a:\n  b: [1"
          ? scalar Plain "a" "a"
          : mapping "b: [1"
            ? scalar Plain "b" "b"
            : flow-sequence "[1"
              - scalar Plain "1" "1"
        error "while parsing a flow sequence, expected ',' or ']'" at ""
        partial
        "#,
        );
    }

    #[test]
    fn error_after_a_complete_root_is_not_partial() {
        let document = parse("\"a\"\nb: 1\n");
        assert!(document.error.is_some());
        assert!(!document.is_partial);
        assert_eq!(document.root.unwrap().as_str(), Some("a"));
    }

    #[test]
    fn error_before_any_node() {
        let document = parse("]");
        assert_eq!(document.root, None);
        assert!(document.is_partial);
        assert_eq!(document.error.unwrap().span, Span::new(0, 1));
    }

    #[test]
    fn deep_nesting_is_cut_off() {
        let text = "- ".repeat(100_000) + "x";
        let document = parse(&text);
        assert!(document.error.unwrap().message.contains("nested"));
        let text = "[".repeat(300);
        let document = parse(&text);
        assert!(document.error.is_some());
    }

    #[test]
    fn find_node_at_paths() {
        let text = "a: {b: 1}\nlist: [x, yy]\n!T m: n\n";
        let root = parse(text).root.unwrap();
        let at = |needle: &str, delta: usize| {
            let offset = text.find(needle).unwrap() + delta;
            find_node_at(&root, offset)
                .iter()
                .map(|n| n.span.text(text).to_string())
                .collect::<Vec<_>>()
        };
        let full = root.span.text(text).to_string();
        assert_eq!(at("1}", 0), [&full, "a", "{b: 1}", "b", "1"]);
        assert_eq!(
            at("1}", 1),
            [&full, "a", "{b: 1}", "b", "1"],
            "right after the value"
        );
        assert_eq!(at("b:", 0), [&full, "a", "{b: 1}", "b"]);
        assert_eq!(at("a:", 0), [&full, "a"]);
        assert_eq!(at("a:", 2), [full.as_str()], "between key and value");
        assert_eq!(at("yy", 1), [&full, "list", "[x, yy]", "yy"]);
        assert_eq!(at("[x", 0), [&full, "list", "[x, yy]"]);
        assert_eq!(at("!T", 1), [&full, "m"], "on the key's tag");
        assert!(
            find_node_at(&root, text.len()).is_empty(),
            "after the last line"
        );
    }

    #[test]
    fn find_node_at_in_a_tagged_modifier() {
        let root = parse(RECIPE).root.unwrap();
        let offset = RECIPE.find("GMPruningModifier").unwrap();
        let path = find_node_at(&root, offset);
        let modifier = path.last().unwrap();
        assert_eq!(modifier.tag.as_ref().unwrap().suffix, "GMPruningModifier");
        let offset = RECIPE.find("fc.weight").unwrap();
        let path = find_node_at(&root, offset);
        assert_eq!(
            path.len(),
            7,
            "root, modifiers, list, modifier, params, flow list, item"
        );
        assert_eq!(path[4].as_str(), Some("params"));
        assert_eq!(path[6].as_str(), Some("fc.weight"));
    }

    #[test]
    fn every_prefix_of_a_recipe_parses_without_panic() {
        let text = format!(
            "{RECIPE}  - !SetLearningRateModifier {{learning_rate: 1.0e-4, start_epoch: 2.0}}\n"
        );
        let text = text.replace("0.05", "0.05 # ü");
        for (end, _) in text.char_indices() {
            let prefix = &text[..end];
            let document = parse(prefix);
            check_spans(prefix, &document);
            let crlf = prefix.replace('\n', "\r\n");
            check_spans(&crlf, &parse(&crlf));
        }
    }

    #[test]
    fn random_bytes_parse_without_panic() {
        // A small xorshift generator: deterministic, no dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: Vec<char> = "ab:-?!&*|>'\"#[]{},.% \t\r\n\n\n  é😀\u{feff}\\0"
            .chars()
            .collect();
        for _ in 0..3000 {
            let len = (next() % 60) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            check_spans(&text, &parse(&text));
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let lossy = String::from_utf8_lossy(&bytes);
            check_spans(&lossy, &parse(&lossy));
        }
    }

    /// Every span lies in the text on character boundaries, and `find_node_at` works everywhere.
    fn check_spans(text: &str, document: &YamlDocument) {
        fn walk(text: &str, node: &Node) {
            for span in [
                Some(node.span),
                node.tag.as_ref().map(|t| t.span),
                node.anchor.as_ref().map(|a| a.span),
            ]
            .into_iter()
            .flatten()
            {
                assert!(
                    span.start <= span.end && text.get(span.start..span.end).is_some(),
                    "{span:?} in {text:?}"
                );
            }
            let src = node.span.text(text);
            match &node.kind {
                NodeKind::Scalar {
                    value,
                    style: ScalarStyle::Plain,
                } if !src.contains(['\n', '\r']) => {
                    assert_eq!(src, value, "plain scalar span in {text:?}");
                }
                NodeKind::Scalar {
                    style: ScalarStyle::SingleQuoted,
                    ..
                } => {
                    assert!(
                        src.starts_with('\'') && (src.len() >= 2 && src.ends_with('\'')),
                        "{src:?} in {text:?}"
                    );
                }
                NodeKind::Scalar {
                    style: ScalarStyle::DoubleQuoted,
                    ..
                } => {
                    assert!(
                        src.starts_with('"') && (src.len() >= 2 && src.ends_with('"')),
                        "{src:?} in {text:?}"
                    );
                }
                NodeKind::Scalar {
                    style: ScalarStyle::Literal | ScalarStyle::Folded,
                    ..
                } => {
                    assert!(src.starts_with(['|', '>']), "{src:?} in {text:?}");
                }
                NodeKind::Alias { name } => assert_eq!(src, format!("*{name}")),
                _ => {}
            }
            let children = node
                .entries()
                .iter()
                .flat_map(|(k, v)| [k, v])
                .chain(node.items());
            for child in children {
                let (outer, inner) = (node.span, child.full_span());
                assert!(
                    outer.start <= inner.start && inner.end <= outer.end,
                    "{inner:?} outside {outer:?} in {text:?}"
                );
                walk(text, child);
            }
        }
        if let Some(root) = &document.root {
            walk(text, root);
            for offset in 0..=text.len() {
                let _ = find_node_at(root, offset);
            }
        }
        if let Some(error) = &document.error {
            assert!(
                text.get(error.span.start..error.span.end).is_some(),
                "{:?} in {text:?}",
                error.span
            );
        }
    }

    #[test]
    fn parse_time_of_a_5000_line_recipe() {
        let mut text = String::from(
            "version: 1.1.0\nnum_epochs: &num_epochs 100\ninit_lr: 1.0e-3\nmodifiers:\n",
        );
        let mut n_modifiers = 0;
        while text.lines().count() < 5000 {
            let _ = write!(
                text,
                "    - !GMPruningModifier  # layer {n_modifiers}\n        params: ['sections.{n_modifiers}.conv.weight', 're:.*fc{n_modifiers}']\n        init_sparsity: 0.05\n        final_sparsity: 0.{}\n        start_epoch: 1.0\n        end_epoch: *num_epochs\n        update_frequency: 0.5\n        mask_type: \"unstructured\"\n\n",
                n_modifiers % 9 + 1
            );
            n_modifiers += 1;
        }
        let document = parse(&text);
        assert!(document.error.is_none());
        let n_runs = 20;
        let started = std::time::Instant::now();
        for _ in 0..n_runs {
            std::hint::black_box(parse(std::hint::black_box(&text)));
        }
        let ascii = started.elapsed() / n_runs;
        let text = text.replace("layer", "couche é");
        let started = std::time::Instant::now();
        for _ in 0..n_runs {
            std::hint::black_box(parse(std::hint::black_box(&text)));
        }
        let non_ascii = started.elapsed() / n_runs;
        println!(
            "parse: {} lines, {} bytes, {n_modifiers} modifiers: {ascii:?} (ASCII), {non_ascii:?} (with non-ASCII comments)",
            text.lines().count(),
            text.len()
        );
    }

    // --- front matter ---------------------------------------------------------------------------

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
