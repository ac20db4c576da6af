//! One chapter quiz on a page, as plain Rust: the attempt (the quiz crate's [`Attempt`], the
//! terminal's too), what the form sent turned into a [`Response`] (or the reason it cannot
//! be one), the screen to show, what the browser keeps, and the answers file to export.
//! Nothing here touches the DOM; `bindings` hands it to JavaScript.

use std::path::Path;

use quiz::grade::{choices, question_key};
use quiz::{Attempt, QuestionKind, Quiz, QuizFile, Response, Stage};

use crate::screen;

/// A form's fields, as the browser's `FormData` lists them: `(name, value)` pairs.
pub type Fields = [(String, String)];

/// Why a form cannot be taken as an answer: the message, and the field to put focus on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub field: String,
}

fn invalid(field: &str, message: &str) -> Invalid {
    Invalid {
        message: message.into(),
        field: field.into(),
    }
}

/// A quiz in progress on a page.
#[derive(Debug)]
pub struct Page {
    name: String,
    quiz: Quiz,
    hash: String,
    attempt: Attempt,
}

impl Page {
    /// Loads quiz `source` (the file `name`.toml) with what the browser kept of an earlier
    /// visit. A quiz that does not validate is an error holding the diagnostics as the
    /// terminal renders them; kept answers that belong to another version are dropped.
    pub fn new(name: &str, source: &str, saved: Option<&str>) -> Result<Page, String> {
        let path = format!("{name}.toml");
        let file = QuizFile::from_source(Path::new(&path), source.to_string());
        let Some(quiz) = file.parsed.quiz.clone() else {
            return Err(file.render(&path, &file.parsed.diagnostics, false));
        };
        let hash = quiz::attempt::quiz_hash(source);
        let attempt = saved
            .and_then(|s| serde_json::from_str::<Attempt>(s).ok())
            .filter(|a| a.fits(&quiz, &hash))
            .unwrap_or_else(|| Attempt::fresh(&quiz, hash.clone()));
        Ok(Page {
            name: name.into(),
            quiz,
            hash,
            attempt,
        })
    }

    /// The title shown: the quiz's own, or its file's name.
    pub fn title(&self) -> &str {
        self.quiz.title.as_deref().unwrap_or(&self.name)
    }

    /// Where the student stands, for the page's `data-stage`: `asking N` (1-based), `review`
    /// or `done`.
    pub fn stage_name(&self) -> String {
        match self.attempt.stage(&self.quiz) {
            Stage::Asking(i) => format!("asking {}", i + 1),
            Stage::Review(_) => "review".into(),
            Stage::Done(_) => "done".into(),
        }
    }

    /// The screen to show now, as HTML.
    pub fn screen(&self) -> String {
        match self.attempt.stage(&self.quiz) {
            Stage::Asking(index) => screen::question(&self.quiz, &self.attempt, index),
            Stage::Review(report) => screen::results(self.title(), &self.quiz, &report, false),
            Stage::Done(report) => screen::results(self.title(), &self.quiz, &report, true),
        }
    }

    /// Takes the form of the question being asked as its answer.
    pub fn submit(&mut self, fields: &Fields) -> Result<(), Invalid> {
        let Stage::Asking(index) = self.attempt.stage(&self.quiz) else {
            return Err(invalid("", "there is no question to answer now"));
        };
        let response = response(&self.quiz, index, fields)?;
        self.attempt.answer(response);
        Ok(())
    }

    /// Another attempt at the questions answered wrongly.
    pub fn retry(&mut self) {
        if matches!(self.attempt.stage(&self.quiz), Stage::Review(_)) {
            self.attempt.retry(&self.quiz);
        }
    }

    /// Ends the quiz unpassed and shows the answers.
    pub fn give_up(&mut self) {
        if matches!(self.attempt.stage(&self.quiz), Stage::Review(_)) {
            self.attempt.give_up();
        }
    }

    /// Forgets every answer and starts again.
    pub fn restart(&mut self) {
        self.attempt = Attempt::fresh(&self.quiz, self.hash.clone());
    }

    /// What the browser keeps between visits (JSON).
    pub fn saved(&self) -> String {
        serde_json::to_string(&self.attempt).unwrap_or_default()
    }

    /// The answers so far as an answers file, for `cargo xtask quiz NAME --answers FILE`.
    pub fn export(&self) -> String {
        format!(
            "# Answers to the quiz `{name}`, exported from its web page.\n# Grade them with: cargo xtask quiz {name} --answers {name}.answers.toml\n{}",
            quiz::write_answers(&self.quiz, &self.attempt.responses),
            name = self.name
        )
    }

    /// The quiz's name (its file stem).
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The answer a question's form gives, checked as the terminal checks it.
fn response(quiz: &Quiz, index: usize, fields: &Fields) -> Result<Response, Invalid> {
    let question = &quiz.questions[index];
    match &question.kind {
        QuestionKind::MultipleChoice(mc) => {
            let shown = choices(mc, &question_key(quiz, index));
            let picked: Vec<String> = fields
                .iter()
                .filter(|(n, _)| n == "choice")
                .filter_map(|(_, v)| v.parse::<usize>().ok())
                .filter_map(|i| shown.get(i))
                .map(|c| c.text.clone())
                .collect();
            match (picked.len(), mc.select_all) {
                // mdbook-quiz asks for at least one tick.
                (0, true) => Err(invalid("choice", "tick at least one option")),
                (0, false) => Err(invalid("choice", "pick an option")),
                (n, false) if n > 1 => Err(invalid(
                    "choice",
                    "this question has one answer; pick one option",
                )),
                _ => Ok(Response::Choices(picked)),
            }
        }
        QuestionKind::ShortAnswer(_) => match field(fields, "text") {
            Some(t) if !t.trim().is_empty() => Ok(Response::Text(t.to_string())),
            _ => Err(invalid("text", "write an answer")),
        },
        QuestionKind::Numeric(_) => field(fields, "number")
            .and_then(quiz::answers::parse_number)
            .map(Response::Number)
            .ok_or_else(|| invalid("number", "write a number, e.g. 655360")),
        QuestionKind::Tracing(t) => {
            let compiles = match field(fields, "compiles") {
                Some("yes") => true,
                Some("no") => false,
                _ => {
                    return Err(invalid("compiles", "say whether the program compiles"));
                }
            };
            if compiles {
                // Browsers send a text box's line breaks as CRLF; the output is compared as
                // the terminal's, with `\n`.
                let stdout = field(fields, "stdout").unwrap_or("").replace("\r\n", "\n");
                return Ok(Response::Tracing {
                    compiles,
                    stdout: Some(stdout),
                    line: None,
                });
            }
            // As in mdbook-quiz, the error's line is only asked when the quiz grades it.
            let line = if t.grade_line_number {
                let lines = t.shown_lines().len();
                match field(fields, "line").and_then(|l| l.trim().parse::<usize>().ok()) {
                    Some(n) if (1..=lines).contains(&n) => Some(n),
                    _ => {
                        return Err(invalid(
                            "line",
                            &format!("give the line of the first error, from 1 to {lines}"),
                        ));
                    }
                }
            } else {
                None
            };
            Ok(Response::Tracing {
                compiles,
                stdout: None,
                line,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIZ: &str = r#"
[[questions]]
id = "pick"
type = "MultipleChoice"
prompt.prompt = "p"
prompt.distractors = [{ text = "x", feedback = "not x" }, "y"]
prompt.answerIndex = 0
answer.answer = "w"

[[questions]]
type = "Numeric"
prompt.prompt = "n"
answer.answer = 655360

[[questions]]
type = "Tracing"
prompt.program = "fn main() {\n    let x: u8 = 300;\n}"
answer.doesCompile = false
answer.lineNumber = 2
answer.gradeLineNumber = true
"#;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn forms_become_responses_or_say_what_is_missing() {
        let mut page = Page::new("q", QUIZ, None).unwrap();
        assert_eq!(page.stage_name(), "asking 1");
        assert_eq!(
            page.submit(&form(&[])).unwrap_err().message,
            "pick an option"
        );
        page.submit(&form(&[("choice", "1")])).unwrap();
        let err = page.submit(&form(&[("number", "lots")])).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.message.as_str()),
            ("number", "write a number, e.g. 655360")
        );
        page.submit(&form(&[("number", "655,360")])).unwrap();
        let err = page
            .submit(&form(&[("compiles", "no"), ("line", "9")]))
            .unwrap_err();
        assert_eq!(err.message, "give the line of the first error, from 1 to 3");
        page.submit(&form(&[("compiles", "no"), ("line", "2")]))
            .unwrap();
        assert_eq!(page.stage_name(), "review");
        let review = page.screen();
        assert!(
            review.contains("not x"),
            "the wrong pick's feedback is shown: {review}"
        );
        // The export grades as the page graded.
        let quiz = quiz::parse(QUIZ).quiz.unwrap();
        let exported = quiz::parse_answers(&quiz, &page.export()).unwrap();
        let report = quiz::grade(&quiz, &exported);
        assert_eq!((report.points, report.max_points), (2, 3));
    }

    #[test]
    fn saved_progress_resumes_for_the_same_quiz_only() {
        let mut page = Page::new("q", QUIZ, None).unwrap();
        page.submit(&form(&[("choice", "0")])).unwrap();
        let kept = page.saved();
        assert_eq!(
            Page::new("q", QUIZ, Some(&kept)).unwrap().stage_name(),
            "asking 2"
        );
        let edited = QUIZ.replace("655360", "65536");
        assert_eq!(
            Page::new("q", &edited, Some(&kept)).unwrap().stage_name(),
            "asking 1"
        );
        assert_eq!(
            Page::new("q", QUIZ, Some("{ not json"))
                .unwrap()
                .stage_name(),
            "asking 1"
        );
    }

    #[test]
    fn an_invalid_quiz_is_its_diagnostics() {
        let err = Page::new("bad", "[[questions]]\ntype = \"Essay\"\n", None).unwrap_err();
        assert!(err.contains("bad.toml:2:"), "{err}");
    }
}
