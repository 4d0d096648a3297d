//! The machine's measured matrix-product rate, against which a pruning run's FLOPs are judged.
