//! A student's responses, the order options are shown in, and grading into a [`QuizReport`].
//!
//! Grading is mdbook-quiz's, read from its question components: a short answer matches the
//! answer or an alternative lower-cased and trimmed; a multiple-choice answer is right when the
//! sorted list of picked option texts equals the sorted list of right ones; a tracing answer
//! when "does it compile" matches and, for a program that compiles, the output matches
//! trimmed. JavaScript's `trim` and `toLowerCase` are reproduced exactly ([`js_trim`]).

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

/// One option of a multiple-choice question as shown to a student. Its identity is its text,
/// as in mdbook-quiz (whose form submits the text of the picked option).
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
/// `sortAnswers` orders everything by text; otherwise the order is shuffled. mdbook-quiz
/// shuffles anew on every load; here the shuffle is a function of the question alone (its
/// key and the options' texts), so the letters a student sees are the letters an answers file
/// means, for every student, machine and run.
pub fn choices(question: &MultipleChoice, question_key: &str) -> Vec<Choice> {
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
            for part in [question_key, &c.text] {
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
            wrong_picks = picked
                .iter()
                .filter(|p| !q.answers.contains(p))
                .cloned()
                .collect();
            missed = q
                .answers
                .iter()
                .filter(|a| !picked.contains(a))
                .cloned()
                .collect();
            let mut given = picked.clone();
            let mut key = q.answers.clone();
            given.sort();
            key.sort();
            given == key
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
                    // A missing output is an empty one (the terminal lets a student say the
                    // program prints nothing; mdbook-quiz's text box would hold "").
                    normalise_output(stdout.as_deref().unwrap_or(""))
                        == normalise_output(q.stdout.as_deref().unwrap_or(""))
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

/// Short answers match as mdbook-quiz matches them: `s.toLowerCase().trim()`.
fn normalise_text(text: &str) -> String {
    js_trim(&text.to_lowercase()).to_string()
}

/// Program output is compared as mdbook-quiz compares it: the whole text, `trim()`med at both
/// ends. Line endings are made `\n` first, as a browser's text box makes them.
pub fn normalise_output(text: &str) -> String {
    js_trim(&text.replace("\r\n", "\n")).to_string()
}

/// JavaScript's `String.prototype.trim`: white space (tab, vertical tab, form feed, space,
/// no-break space, the byte order mark and every `Zs` character) and line terminators (line
/// feed, carriage return, line and paragraph separators). It differs from Rust's `trim` in
/// two characters: U+FEFF is trimmed, U+0085 is not.
pub fn js_trim(text: &str) -> &str {
    text.trim_matches(|c: char| {
        matches!(
            c,
            '\t' | '\u{b}'
                | '\u{c}'
                | ' '
                | '\u{a0}'
                | '\u{feff}'
                | '\n'
                | '\r'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
    })
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
    fn the_order_depends_on_the_question_only_and_answer_index_pins() {
        let q = quiz(MC);
        let QuestionKind::MultipleChoice(mc) = &q.questions[0].kind else {
            unreachable!()
        };
        assert_eq!(choices(mc, "1"), choices(mc, "1"));
        let orders: std::collections::HashSet<Vec<String>> = ["1", "2", "3", "4", "5", "6"]
            .iter()
            .map(|k| choices(mc, k).into_iter().map(|c| c.text).collect())
            .collect();
        assert!(orders.len() > 1, "questions are shuffled");
        let mut pinned = mc.clone();
        pinned.answer_index = Some(1);
        let texts: Vec<String> = choices(&pinned, "1").into_iter().map(|c| c.text).collect();
        assert_eq!(texts, ["x", "w", "y", "z"]);
    }

    #[test]
    fn select_all_is_the_sorted_list_of_picks() {
        let q = quiz(
            &MC.replace("answer.answer = \"w\"", "answer.answer = [\"w\", \"z\"]")
                .replace("[\"x\", \"y\", \"z\"]", "[\"x\", \"y\"]"),
        );
        let picks = |p: &[&str]| {
            grade(
                &q,
                &[Some(Response::Choices(
                    p.iter().map(|s| s.to_string()).collect(),
                ))],
            )
            .passed
        };
        assert!(picks(&["z", "w"]));
        assert!(!picks(&["w"]));
        assert!(!picks(&["w", "z", "x"]));
        // The same option twice is not the list of right options.
        assert!(!picks(&["w", "w", "z"]));
    }

    #[test]
    fn short_answers_are_lower_cased_and_trimmed_as_javascript_does() {
        let q = quiz(
            "[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"p\"\nanswer.answer = \"Main\"\nanswer.alternatives = [\"fn main\"]\n",
        );
        let text = |t: &str| grade(&q, &[Some(Response::Text(t.into()))]).passed;
        assert!(text("  MAIN\u{feff}"));
        assert!(text("\u{3000}fn main\n"));
        assert!(!text("fn  main"));
        // U+0085 is white space to Rust but not to JavaScript's trim.
        assert!(!text("main\u{85}"));
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
