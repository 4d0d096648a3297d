//! Magnitude pruning of one weight tensor: the `round(s·N)` values of smallest |w| become zero
//! (ties broken by position, so the count is exact and repeatable). Weights already zero are the
//! smallest, so they count towards the level. The functions live with the other one-shot
//! methods in `reconstruct::magnitude`.

pub use crate::reconstruct::magnitude::{
    magnitude_order, prune_smallest_in_place, pruned, pruned_count,
};
