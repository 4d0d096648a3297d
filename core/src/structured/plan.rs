//! What a list of `Keep`s removes, checked against the groups: per group the channels removed,
//! and per constant tensor and axis the indices removed (the union over the groups that slice
//! it, as `group` defines removal). Removal writes it; repair reads it to map the pruned
//! model's rows and columns back to the original's.

use std::collections::{BTreeMap, BTreeSet};

use super::group::{ChannelGroup, Keep};
use crate::error::{Error, Result};

/// The checked removal: the pruned groups and the indices each tensor loses.
#[derive(Debug, Clone, Default)]
pub struct Plan<'g> {
    /// Each group a `Keep` prunes, with the channels it removes (sorted; empty when the `Keep`
    /// keeps them all).
    pub groups: Vec<(&'g ChannelGroup, Vec<usize>)>,
    /// Per constant tensor, per axis, the indices removed.
    pub tensors: BTreeMap<String, BTreeMap<usize, BTreeSet<usize>>>,
}

impl Plan<'_> {
    /// The indices kept along `axis` of `tensor`, of `len`, in order.
    pub fn kept(&self, tensor: &str, axis: usize, len: usize) -> Vec<usize> {
        let removed = self.tensors.get(tensor).and_then(|axes| axes.get(&axis));
        (0..len)
            .filter(|i| removed.is_none_or(|r| !r.contains(i)))
            .collect()
    }

    /// The channels `group` removes; empty when it is not pruned.
    pub fn removed(&self, group: &str) -> &[usize] {
        self.groups
            .iter()
            .find(|(g, _)| g.name == group)
            .map_or(&[], |(_, r)| r.as_slice())
    }

    /// Whether anything is removed at all.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }
}

/// Checks `keep` against `groups` and lists what it removes: every `Keep` names a known,
/// prunable group once, and keeps at least one of its channels, given in increasing order.
pub fn plan<'g>(groups: &'g [ChannelGroup], keep: &[Keep]) -> Result<Plan<'g>> {
    let mut plan = Plan::default();
    let mut seen = BTreeSet::new();
    for k in keep {
        let name = k.group.as_str();
        let group = groups.iter().find(|g| g.name == name).ok_or_else(|| {
            let hint = crate::suggest::did_you_mean(name, groups.iter().map(|g| g.name.as_str()))
                .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
            Error::Usage(format!(
                "there is no channel group named {name}{hint}; name the groups as their list gives them."
            ))
        })?;
        if !seen.insert(name) {
            return Err(Error::Usage(format!(
                "group {name} is given twice; give one list of channels to keep per group."
            )));
        }
        let n = group.channels;
        if k.channels.is_empty() {
            return Err(Error::Usage(format!(
                "group {name} would keep none of its {n} channels; keep at least one."
            )));
        }
        if let Some(&c) = k.channels.iter().find(|&&c| c >= n) {
            return Err(Error::Usage(format!(
                "group {name} has {n} channels and {c} is not one of them; give indices from 0 to {}.",
                n - 1
            )));
        }
        if let Some(w) = k.channels.windows(2).find(|w| w[1] <= w[0]) {
            return Err(Error::Usage(format!(
                "group {name}'s channels to keep are not in increasing order without repeats ({} after {}); sort them and give each once.",
                w[1], w[0]
            )));
        }
        let removed: Vec<usize> = (0..n)
            .filter(|c| k.channels.binary_search(c).is_err())
            .collect();
        if !removed.is_empty()
            && let Some(why) = &group.unprunable
        {
            return Err(Error::Usage(format!(
                "group {name} cannot be pruned: {}; keep all its channels.",
                why.trim_end_matches('.')
            )));
        }
        if !removed.is_empty() {
            for slice in &group.slices {
                let indices = plan
                    .tensors
                    .entry(slice.tensor.clone())
                    .or_default()
                    .entry(slice.axis)
                    .or_default();
                for &c in &removed {
                    let start = slice.offset + c * slice.block;
                    indices.extend(start..start + slice.block);
                }
            }
        }
        plan.groups.push((group, removed));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structured::group::{Role, Slice};

    fn group(name: &str, channels: usize, offset: usize) -> ChannelGroup {
        ChannelGroup {
            name: name.into(),
            channels,
            slices: vec![Slice {
                tensor: "w".into(),
                axis: 1,
                offset,
                block: 2,
                role: Role::Consumer,
                node: "c".into(),
            }],
            edits: vec![],
            producers: vec![],
            consumers: vec!["c".into()],
            values: vec![],
            unprunable: None,
        }
    }

    fn keep(group: &str, channels: &[usize]) -> Keep {
        Keep {
            group: group.into(),
            channels: channels.to_vec(),
        }
    }

    fn message(groups: &[ChannelGroup], keep: &[Keep]) -> String {
        plan(groups, keep).unwrap_err().to_string()
    }

    #[test]
    fn two_groups_in_one_tensor_remove_the_union_of_their_blocks() {
        let groups = [group("a", 2, 0), group("b", 3, 4)];
        let p = plan(&groups, &[keep("a", &[1]), keep("b", &[0, 2])]).unwrap();
        assert_eq!(p.removed("a"), [0]);
        assert_eq!(p.removed("b"), [1]);
        // a's channel 0 is 0..2, b's channel 1 is 4 + 2..4 + 4.
        assert_eq!(p.kept("w", 1, 10), [2, 3, 4, 5, 8, 9]);
        assert_eq!(p.kept("w", 0, 3), [0, 1, 2]);
        assert!(plan(&groups, &[keep("a", &[0, 1])]).unwrap().is_empty());
    }

    #[test]
    fn a_bad_keep_gets_one_sentence_naming_the_group() {
        let mut groups = vec![group("layer1", 4, 0)];
        assert!(message(&groups, &[keep("layer2", &[0])]).contains("did you mean layer1"));
        assert!(message(&groups, &[keep("layer1", &[])]).contains("keep none of its 4"));
        assert!(message(&groups, &[keep("layer1", &[0, 4])]).contains("4 is not one of them"));
        assert!(message(&groups, &[keep("layer1", &[2, 1])]).contains("1 after 2"));
        assert!(message(&groups, &[keep("layer1", &[1, 1])]).contains("1 after 1"));
        assert!(message(&groups, &[keep("layer1", &[1]), keep("layer1", &[1])]).contains("twice"));
        groups[0].unprunable = Some("graph output y carries its channels".into());
        let m = message(&groups, &[keep("layer1", &[1])]);
        assert!(
            m.starts_with("group layer1 cannot be pruned: graph output y"),
            "{m}"
        );
        // Keeping every channel of an unprunable group is no removal, and allowed.
        assert!(plan(&groups, &[keep("layer1", &[0, 1, 2, 3])]).is_ok());
    }
}
