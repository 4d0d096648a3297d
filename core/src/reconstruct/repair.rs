//! Repairing a pruned layer's outputs on the calibration inputs: bias and scale corrections.
