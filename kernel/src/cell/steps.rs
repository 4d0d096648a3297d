//! A core workflow's steps as progress displays: one per step, started when the step begins and
//! left in its final state when it ends, worded by the command.

use std::cell::RefCell;

use prunekit_core::Progress;
use prunekit_core::workflow::{Outcome, Step, Steps};

use super::output::Sink;
use crate::display::progress::ProgressDisplay;

/// The words of a step's display: as it starts (`None`), and as it ended.
pub type StepWords = fn(Step, Option<Outcome>) -> &'static str;

pub struct StepDisplay<'a> {
    sink: &'a dyn Sink,
    words: StepWords,
    current: RefCell<Option<ProgressDisplay<'a>>>,
}

impl<'a> StepDisplay<'a> {
    pub fn new(sink: &'a dyn Sink, words: StepWords) -> Self {
        StepDisplay {
            sink,
            words,
            current: RefCell::new(None),
        }
    }
}

impl Progress for StepDisplay<'_> {
    fn report(&self, done: u64, total: u64, label: &str) {
        if let Some(display) = self.current.borrow().as_ref() {
            display.report(done, total, label);
        }
    }
}

impl Steps for StepDisplay<'_> {
    fn begin(&self, step: Step) {
        let display = ProgressDisplay::start(self.sink, (self.words)(step, None));
        *self.current.borrow_mut() = Some(display);
    }

    fn end(&self, step: Step, outcome: Outcome) {
        if let Some(display) = self.current.borrow_mut().take() {
            let done = u64::from(outcome == Outcome::Done);
            display.finish(done, 1, (self.words)(step, Some(outcome)));
        }
    }
}
