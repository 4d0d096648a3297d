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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::output::{Collected, Output};

    fn words(_step: Step, outcome: Option<Outcome>) -> &'static str {
        match outcome {
            None => "working",
            Some(Outcome::Done) => "done",
            Some(_) => "stopped",
        }
    }

    fn text(output: &Output) -> String {
        match output {
            Output::Display { bundle, .. } | Output::Update { bundle, .. } => {
                bundle.data["text/plain"].as_str().unwrap().to_string()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_step_is_one_display_left_in_its_final_state() {
        let sink = Collected::default();
        let steps = StepDisplay::new(&sink, words);
        // Progress outside a step goes nowhere.
        steps.report(1, 2, "early");
        steps.begin(Step::Quantizing);
        steps.end(Step::Quantizing, Outcome::Done);
        steps.begin(Step::Benchmarking);
        steps.end(Step::Benchmarking, Outcome::Cancelled);
        let outputs = sink.0.into_inner().unwrap();
        let texts: Vec<String> = outputs.iter().map(text).collect();
        assert_eq!(texts.len(), 4, "{texts:?}");
        assert!(texts[0].starts_with("working [") && texts[0].contains("0/0"));
        assert!(texts[1].starts_with("done [") && texts[1].contains("1/1"));
        assert!(texts[3].starts_with("stopped [") && texts[3].contains("0/1"));
        assert!(matches!(outputs[0], Output::Display { .. }));
        assert!(matches!(outputs[1], Output::Update { .. }));
    }
}
