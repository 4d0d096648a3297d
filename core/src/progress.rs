//! Progress reporting and cooperative cancellation for long core operations. They report
//! (done, total, label) at each step and check `Cancel` at the same points, returning
//! `Error::Cancelled` when it is set, so an interrupted command leaves every earlier result intact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

pub trait Progress {
    fn report(&self, done: u64, total: u64, label: &str);
}

/// For callers that do not show progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _done: u64, _total: u64, _label: &str) {}
}

/// A flag shared between the thread doing the work and the one that may cancel it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Error::Cancelled)` once cancelled: `cancel.check()?` at each step.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Waits `pause`, checking the flag every 50 ms: `Err(Error::Cancelled)` as soon as it is set.
    pub fn sleep(&self, pause: std::time::Duration) -> Result<()> {
        const STEP: std::time::Duration = std::time::Duration::from_millis(50);
        let until = std::time::Instant::now() + pause;
        loop {
            self.check()?;
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(STEP));
        }
    }
}
