//! SparseGPT and Wanda against an independent numpy reference (tests/oneshot_reference.py).
