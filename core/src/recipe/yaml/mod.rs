//! The syntax layer: recipe YAML as a tree of nodes with byte spans, built from saphyr-parser's
//! events, plus the front matter of `*.recipe.md` files (the YAML block SparseML reads from a
//! Markdown recipe).
//!
//! The tree keeps what a semantic layer and an editor need and a loader throws away: aliases stay
//! `*name` nodes at their use site, tags (`!GMPruningModifier`) and anchors keep their own spans,
//! scalars keep their style (the YAML 1.1 re-reading in `yaml11.rs` applies to plain scalars only)
//! and duplicate keys are all kept. Broken text still gives a tree: everything parsed before the
//! first syntax error, with the open collections closed.
//!
//! This file owns the tree's types and the walk from an offset to its node; `parse` builds the
//! tree from saphyr's events, `front_matter` finds the YAML block of a Markdown recipe.

use super::span::Span;

mod closers;
mod front_matter;
mod parse;
#[cfg(test)]
mod tests;

pub use front_matter::{
    FrontMatterError, FrontMatterErrorKind, front_matter, front_matter_diagnostics, parse_markdown,
};
pub use parse::parse;

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
