//! An attempt at a quiz as mdbook-quiz runs one, as data: every question answered in turn, then
//! the review, then a retry of the wrong ones or giving up. The terminal saves it between
//! questions and the web page keeps it in the browser, so both resume the same way.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::grade::{QuizReport, Response, grade};
use crate::model::Quiz;

/// Where a student stands in a quiz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// [`quiz_hash`] of the quiz's text: answers to another version of the quiz are dropped.
    pub quiz_hash: String,
    /// 0 for the first attempt, then one more per retry.
    pub attempt: usize,
    /// One per question; options are named by their text, which no order changes.
    pub responses: Vec<Option<Response>>,
    /// Questions of this attempt still to answer, in order.
    pub to_ask: Vec<usize>,
    /// The student gave up: the answers are shown and nothing more is asked.
    #[serde(default)]
    pub gave_up: bool,
}

/// What a student sees next.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// The `index`th question is asked.
    Asking(usize),
    /// Every question is answered: the review, with retry or give up when not passed.
    Review(QuizReport),
    /// The quiz is over (passed, or given up): the answers and their context are shown.
    Done(QuizReport),
}

/// SHA-256 of a quiz's text, in hex.
pub fn quiz_hash(source: &str) -> String {
    Sha256::digest(source.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Attempt {
    /// A first attempt with nothing answered.
    pub fn fresh(quiz: &Quiz, quiz_hash: String) -> Attempt {
        Attempt {
            quiz_hash,
            attempt: 0,
            responses: vec![None; quiz.questions.len()],
            to_ask: (0..quiz.questions.len()).collect(),
            gave_up: false,
        }
    }

    /// Whether saved answers belong to this version of the quiz.
    pub fn fits(&self, quiz: &Quiz, quiz_hash: &str) -> bool {
        self.quiz_hash == quiz_hash
            && self.responses.len() == quiz.questions.len()
            && self.to_ask.iter().all(|i| *i < quiz.questions.len())
    }

    /// Where the student stands.
    pub fn stage(&self, quiz: &Quiz) -> Stage {
        if let Some(&index) = self.to_ask.first() {
            return Stage::Asking(index);
        }
        let report = grade(quiz, &self.responses);
        if report.passed || self.gave_up {
            Stage::Done(report)
        } else {
            Stage::Review(report)
        }
    }

    /// Records the answer to the question being asked and moves on to the next.
    pub fn answer(&mut self, response: Response) {
        if let Some(index) = self.to_ask.first().copied() {
            self.responses[index] = Some(response);
            self.to_ask.remove(0);
        }
    }

    /// Starts another attempt at the questions answered wrongly.
    pub fn retry(&mut self, quiz: &Quiz) {
        let wrong = grade(quiz, &self.responses).wrong();
        for &i in &wrong {
            self.responses[i] = None;
        }
        self.to_ask = wrong;
        self.attempt += 1;
    }

    /// Ends the quiz without passing it: the answers are shown.
    pub fn give_up(&mut self) {
        self.to_ask.clear();
        self.gave_up = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse;

    const QUIZ: &str = "[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"p\"\nanswer.answer = \"mut\"\n\n[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"q\"\nanswer.answer = \"move\"\n";

    #[test]
    fn answer_review_retry_the_wrong_then_done() {
        let quiz = parse(QUIZ).quiz.unwrap();
        let mut a = Attempt::fresh(&quiz, quiz_hash(QUIZ));
        assert_eq!(a.stage(&quiz), Stage::Asking(0));
        a.answer(Response::Text("mut".into()));
        a.answer(Response::Text("copy".into()));
        let Stage::Review(report) = a.stage(&quiz) else {
            panic!("{a:?}")
        };
        assert_eq!(report.wrong(), [1]);
        a.retry(&quiz);
        assert_eq!((a.attempt, a.to_ask.clone()), (1, vec![1]));
        assert_eq!(a.stage(&quiz), Stage::Asking(1));
        a.answer(Response::Text(" Move ".into()));
        assert!(matches!(a.stage(&quiz), Stage::Done(r) if r.passed));
    }

    #[test]
    fn giving_up_ends_the_quiz_unpassed_and_other_versions_do_not_fit() {
        let quiz = parse(QUIZ).quiz.unwrap();
        let mut a = Attempt::fresh(&quiz, quiz_hash(QUIZ));
        a.answer(Response::Text("x".into()));
        a.give_up();
        assert!(matches!(a.stage(&quiz), Stage::Done(r) if !r.passed));
        assert!(a.fits(&quiz, &quiz_hash(QUIZ)));
        assert!(!a.fits(&quiz, &quiz_hash("edited")));
    }
}
