//! Which one-shot pruning method, and SparseGPT's settings.

use serde::{Deserialize, Serialize};

/// How a layer's weights are chosen for pruning (and updated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The smallest |w|; needs no samples.
    Magnitude,
    /// The smallest |w|·‖x_j‖₂ in each output row (Sun et al. 2023); no update.
    Wanda,
    /// Optimal-brain-surgeon pruning with weight reconstruction (Frantar & Alistarh 2023).
    SparseGpt,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::Magnitude, Method::Wanda, Method::SparseGpt];

    pub fn name(self) -> &'static str {
        match self {
            Method::Magnitude => "magnitude",
            Method::Wanda => "wanda",
            Method::SparseGpt => "sparsegpt",
        }
    }

    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == text)
    }

    /// Whether it reads the layer's inputs on calibration samples.
    pub fn needs_samples(self) -> bool {
        self != Method::Magnitude
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparseGptSettings {
    /// Columns pruned and compensated together (masks are chosen per block).
    pub block: usize,
    /// Added to the Hessian's diagonal, as a fraction of its mean diagonal.
    pub damp: f64,
}

impl Default for SparseGptSettings {
    fn default() -> Self {
        SparseGptSettings {
            block: 128,
            damp: 0.01,
        }
    }
}
