//! A student's responses, the order options are shown in, and grading into a [`QuizReport`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{MultipleChoice, Question, QuestionKind, Quiz};

/// What a student answered to one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// A short answer.
    Text(String),
    /// The option texts picked (one for a single-answer question).
    Choices(Vec<String>),
    /// A number.
    Number(f64),
    /// A tracing question: does it compile, and then its output or the error's line.
    Tracing {
        compiles: bool,
        stdout: Option<String>,
        line: Option<usize>,
    },
}

impl Response {
    /// The response the question's own answer key gives.
    pub fn key(question: &Question) -> Response {
        match &question.kind {
            QuestionKind::ShortAnswer(q) => Response::Text(q.answer.clone()),
            QuestionKind::MultipleChoice(q) => Response::Choices(q.answers.clone()),
            QuestionKind::Numeric(q) => Response::Number(q.answer),
            QuestionKind::Tracing(q) => Response::Tracing {
                compiles: q.does_compile,
                stdout: q.stdout.clone(),
                line: q.line_number,
            },
        }
    }
}

/// Responses that answer every question with the quiz's own key.
pub fn key_responses(quiz: &Quiz) -> Vec<Option<Response>> {
    quiz.questions
        .iter()
        .map(|q| Some(Response::key(q)))
        .collect()
}

/// One option of a multiple-choice question as shown to a student.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub text: String,
    pub correct: bool,
    /// Why this distractor is wrong, when the file says.
    pub feedback: Option<String>,
}

/// A stable name for a question: its id, or its 1-based number.
pub fn question_key(quiz: &Quiz, index: usize) -> String {
    quiz.questions[index]
        .id
        .clone()
        .unwrap_or_else(|| (index + 1).to_string())
}

/// The options of a multiple-choice question in the order a student sees them.
///
/// `answerIndex` pins the answer's place among the distractors in file order, and
/// `sortAnswers` orders everything by text; otherwise the order is shuffled, the same way
/// every time for the same `seed` (a student's name) and question.
pub fn choices(question: &MultipleChoice, question_key: &str, seed: &str) -> Vec<Choice> {
    let answers = question.answers.iter().map(|a| Choice {
        text: a.clone(),
        correct: true,
        feedback: None,
    });
    let distractors = question.distractors.iter().map(|d| Choice {
        text: d.text.clone(),
        correct: false,
        feedback: d.feedback.clone(),
    });
    if let Some(index) = question.answer_index {
        let mut all: Vec<Choice> = distractors.collect();
        let at = index.min(all.len());
        all.splice(at..at, answers);
        return all;
    }
    let mut all: Vec<Choice> = answers.chain(distractors).collect();
    if question.sort_answers {
        all.sort_by(|a, b| a.text.cmp(&b.text));
    } else {
        all.sort_by_cached_key(|c| {
            let mut hash = Sha256::new();
            for part in [seed, question_key, &c.text] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            hash.finalize()
        });
    }
    all
}

/// The letter shown beside the `index`th option: `a`, `b`, ...
pub fn letter(index: usize) -> char {
    char::from(b'a' + u8::try_from(index % 26).unwrap_or(0))
}

/// How one question went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionResult {
    /// 1-based position in the quiz.
    pub number: usize,
    pub id: Option<String>,
    pub points: u32,
    pub earned: u32,
    pub correct: bool,
    pub response: Option<Response>,
    /// Distractors the student picked.
    pub wrong_picks: Vec<String>,
    /// Right options the student left out.
    pub missed: Vec<String>,
}

/// How a whole attempt went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuizReport {
    pub questions: Vec<QuestionResult>,
    pub points: u32,
    pub max_points: u32,
    /// Points earned, in percent of the maximum.
    pub percent: f64,
    /// The pass mark, in percent.
    pub min_percent: f64,
    pub passed: bool,
}

impl QuizReport {
    /// 0-based indexes of the questions answered wrongly (to retry them).
    pub fn wrong(&self) -> Vec<usize> {
        self.questions
            .iter()
            .filter(|q| !q.correct)
            .map(|q| q.number - 1)
            .collect()
    }
}

/// Grades `responses`, one per question in order (`None` = not answered).
pub fn grade(quiz: &Quiz, responses: &[Option<Response>]) -> QuizReport {
    let questions: Vec<QuestionResult> = quiz
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| grade_question(i, q, responses.get(i).cloned().flatten()))
        .collect();
    let points = questions.iter().map(|q| q.earned).sum();
    let max_points = quiz.max_points();
    let percent = if max_points == 0 {
        100.0
    } else {
        f64::from(points) * 100.0 / f64::from(max_points)
    };
    QuizReport {
        questions,
        points,
        max_points,
        percent,
        min_percent: quiz.pass.min_percent,
        // A small epsilon so that e.g. 2 of 3 points meets a pass mark written as 66.67.
        passed: percent + 1e-9 >= quiz.pass.min_percent,
    }
}

fn grade_question(index: usize, question: &Question, response: Option<Response>) -> QuestionResult {
    let mut wrong_picks = Vec::new();
    let mut missed = Vec::new();
    let correct = match (&question.kind, &response) {
        (QuestionKind::ShortAnswer(q), Some(Response::Text(text))) => {
            let given = normalise_text(text);
            std::iter::once(&q.answer)
                .chain(&q.alternatives)
                .any(|a| normalise_text(a) == given)
        }
        (QuestionKind::MultipleChoice(q), Some(Response::Choices(picked))) => {
            let picked: Vec<&str> = picked.iter().map(|p| p.trim()).collect();
            wrong_picks = q
                .distractors
                .iter()
                .filter(|d| picked.contains(&d.text.trim()))
                .map(|d| d.text.clone())
                .collect();
            missed = q
                .answers
                .iter()
                .filter(|a| !picked.contains(&a.trim()))
                .cloned()
                .collect();
            wrong_picks.is_empty() && missed.is_empty()
        }
        (QuestionKind::Numeric(q), Some(Response::Number(n))) => {
            (n - q.answer).abs() <= q.tolerance + 1e-9
        }
        (
            QuestionKind::Tracing(q),
            Some(Response::Tracing {
                compiles,
                stdout,
                line,
            }),
        ) => {
            *compiles == q.does_compile
                && if q.does_compile {
                    stdout.as_deref().map(normalise_output)
                        == q.stdout.as_deref().map(normalise_output)
                } else {
                    !q.grade_line_number || q.line_number.is_none() || *line == q.line_number
                }
        }
        _ => false,
    };
    QuestionResult {
        number: index + 1,
        id: question.id.clone(),
        points: question.points,
        earned: if correct { question.points } else { 0 },
        correct,
        response,
        wrong_picks,
        missed,
    }
}

/// Short answers match trimmed and case-insensitively, as in mdbook-quiz.
fn normalise_text(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Program output is compared as mdbook-quiz compares it: the whole text, trimmed at both
/// ends. (Line endings are made `\n` first, so an answer typed on Windows matches.)
pub fn normalise_output(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse;

    fn quiz(src: &str) -> Quiz {
        let parsed = parse(src);
        parsed
            .quiz
            .unwrap_or_else(|| panic!("{:?}", parsed.diagnostics))
    }

    const MC: &str = "[[questions]]\ntype = \"MultipleChoice\"\nprompt.prompt = \"p\"\nprompt.distractors = [\"x\", \"y\", \"z\"]\nanswer.answer = \"w\"\n";

    #[test]
    fn shuffle_is_stable_per_seed_and_answer_index_pins() {
        let q = quiz(MC);
        let QuestionKind::MultipleChoice(mc) = &q.questions[0].kind else {
            unreachable!()
        };
        let a = choices(mc, "1", "ada");
        assert_eq!(a, choices(mc, "1", "ada"));
        let orders: std::collections::HashSet<Vec<String>> = ["ada", "bo", "cy", "di", "ed", "fu"]
            .iter()
            .map(|s| choices(mc, "1", s).into_iter().map(|c| c.text).collect())
            .collect();
        assert!(orders.len() > 1, "different students see different orders");
        let mut pinned = mc.clone();
        pinned.answer_index = Some(1);
        let texts: Vec<String> = choices(&pinned, "1", "ada")
            .into_iter()
            .map(|c| c.text)
            .collect();
        assert_eq!(texts, ["x", "w", "y", "z"]);
    }

    #[test]
    fn key_scores_full_and_pass_rule_applies() {
        let src = format!(
            "format_version = 1\npass.min_percent = 50\n{MC}{}",
            MC.replace("\"w\"", "\"v\"")
        );
        let q = quiz(&src);
        assert!(grade(&q, &key_responses(&q)).passed);
        let half = grade(&q, &[Some(Response::Choices(vec!["w".into()])), None]);
        assert_eq!((half.points, half.percent, half.passed), (1, 50.0, true));
        let none = grade(&q, &[]);
        assert!(!none.passed);
    }

    const DOES_NOT_COMPILE: &str = r#"
[[questions]]
type = "Tracing"
prompt.program = """
fn main() {
    let x: u8 = "text";
}
"""
answer.doesCompile = false
answer.lineNumber = 2
"#;

    #[test]
    fn the_error_line_is_graded_only_when_the_quiz_asks_for_it() {
        let wrong_line = Some(Response::Tracing {
            compiles: false,
            stdout: None,
            line: Some(1),
        });
        let as_mdbook_quiz = quiz(DOES_NOT_COMPILE);
        assert!(grade(&as_mdbook_quiz, std::slice::from_ref(&wrong_line)).passed);
        let strict = quiz(&DOES_NOT_COMPILE.replace(
            "answer.lineNumber = 2",
            "answer.lineNumber = 2\nanswer.gradeLineNumber = true",
        ));
        assert!(!grade(&strict, std::slice::from_ref(&wrong_line)).passed);
        assert!(grade(&strict, &key_responses(&strict)).passed);
    }

    #[test]
    fn tracing_output_is_compared_trimmed_as_mdbook_quiz_does() {
        assert_eq!(normalise_output("  a  \r\nb\n\n"), "a  \nb");
        // Spaces inside the output count, as in mdbook-quiz.
        assert_ne!(normalise_output("a \nb"), normalise_output("a\nb"));
    }
}
