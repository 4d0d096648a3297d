//! Channel elements and the union-find that ties them.
//!
//! An element is one channel as some node first made it (a convolution's output channel, a
//! graph input's channel); every position of every tensor that moves with it is tied to it.
//! Two elements tied together (the operands of a residual `Add`, the channel a `Concat` puts at
//! an offset and the consumer's input column there) become one component; a component is one
//! channel of a group. A component that must not be removed carries the first reason found.

/// The node that made an element, when a node did.
pub(super) const NO_NODE: u32 = u32::MAX;

#[derive(Default)]
pub(in crate::structured) struct Elements {
    parent: Vec<u32>,
    /// The node (index in the graph) that made each element, or `NO_NODE`.
    born: Vec<u32>,
    /// Per root, the index in `reasons` of the first reason its component cannot be removed.
    pin: Vec<Option<u32>>,
    reasons: Vec<String>,
}

impl Elements {
    /// `n` new elements made by `node`.
    pub fn fresh(&mut self, n: usize, node: u32) -> Vec<u32> {
        let start = self.parent.len() as u32;
        for k in 0..n as u32 {
            self.parent.push(start + k);
            self.born.push(node);
            self.pin.push(None);
        }
        (start..start + n as u32).collect()
    }

    pub fn born(&self, element: u32) -> u32 {
        self.born[element as usize]
    }

    pub fn find(&mut self, element: u32) -> u32 {
        let mut root = element;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        let mut current = element;
        while self.parent[current as usize] != root {
            let next = self.parent[current as usize];
            self.parent[current as usize] = root;
            current = next;
        }
        root
    }

    /// Ties two elements: they are removed together or not at all.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        // The smaller root stays root, so components are named by their oldest element.
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[gone as usize] = keep;
        self.pin[keep as usize] = match (self.pin[keep as usize], self.pin[gone as usize]) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }

    /// Records a reason; `pin` marks elements with it.
    pub fn reason(&mut self, text: String) -> u32 {
        self.reasons.push(text);
        (self.reasons.len() - 1) as u32
    }

    /// Marks an element's component as unprunable, keeping the earliest reason.
    pub fn pin(&mut self, element: u32, reason: u32) {
        let root = self.find(element) as usize;
        self.pin[root] = Some(self.pin[root].map_or(reason, |r| r.min(reason)));
    }

    /// Why the element's component cannot be removed, if it cannot.
    pub fn why(&mut self, element: u32) -> Option<&str> {
        let root = self.find(element) as usize;
        self.pin[root].map(|r| self.reasons[r as usize].as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_the_first_recorded_reason_and_the_oldest_root() {
        let mut e = Elements::default();
        let a = e.fresh(3, 0);
        let first = e.reason("first".into());
        let second = e.reason("second".into());
        e.pin(a[2], second);
        e.pin(a[1], first);
        e.union(a[2], a[1]);
        assert_eq!(e.find(a[2]), a[1]);
        assert_eq!(e.why(a[2]), Some("first"));
        e.union(a[0], a[1]);
        assert_eq!(e.find(a[2]), a[0]);
        assert_eq!(e.why(a[0]), Some("first"));
    }
}
