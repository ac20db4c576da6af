//! The loaded form of a quiz: what the validator hands to grading and rendering.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;

/// The only `format_version` this crate writes and reads.
pub const FORMAT_VERSION: i64 = 1;

/// A whole quiz file, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quiz {
    /// `format_version` when the file declares one (our files do; mdbook-quiz files do not).
    pub format_version: Option<i64>,
    /// Optional human title of the quiz.
    pub title: Option<String>,
    /// When the quiz counts as passed.
    pub pass: PassRule,
    /// Shared markdown shown above every question that names the key in its `multipart`.
    pub multipart: BTreeMap<String, String>,
    pub questions: Vec<Question>,
}

impl Quiz {
    /// The points a perfect run earns.
    pub fn max_points(&self) -> u32 {
        self.questions.iter().map(|q| q.points).sum()
    }
}

/// The quiz-level pass rule. The default, as the lessons say, is every question right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PassRule {
    /// Smallest score, in percent of the points, that passes.
    pub min_percent: f64,
}

impl Default for PassRule {
    fn default() -> Self {
        PassRule { min_percent: 100.0 }
    }
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// `id` from the file, when given; ids are unique in a quiz.
    pub id: Option<String>,
    /// Key into [`Quiz::multipart`].
    pub multipart: Option<String>,
    /// Points this question is worth (default 1).
    pub points: u32,
    /// Markdown explanation shown once the question is answered.
    pub context: Option<String>,
    /// mdbook-quiz's `promptExplanation`: ask the student to explain their answer.
    pub prompt_explanation: bool,
    pub kind: QuestionKind,
    /// Where the question starts in the source (its `[[questions]]` header), for diagnostics.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Where `id` and `multipart` values are written, for diagnostics found after loading.
    #[serde(skip)]
    pub id_span: Option<Range<usize>>,
    #[serde(skip)]
    pub multipart_span: Option<Range<usize>>,
}

impl Question {
    /// The markdown prompt (for tracing questions, a fixed sentence; the program is separate).
    pub fn prompt(&self) -> &str {
        match &self.kind {
            QuestionKind::ShortAnswer(q) => &q.prompt,
            QuestionKind::MultipleChoice(q) => &q.prompt,
            QuestionKind::Numeric(q) => &q.prompt,
            QuestionKind::Tracing(_) => {
                "Determine whether the program will pass the compiler. If it passes, write the \
                 expected output of the program if it were executed."
            }
        }
    }

    /// The `type` name as written in files.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            QuestionKind::ShortAnswer(_) => "ShortAnswer",
            QuestionKind::MultipleChoice(_) => "MultipleChoice",
            QuestionKind::Tracing(_) => "Tracing",
            QuestionKind::Numeric(_) => "Numeric",
        }
    }
}

/// What kind of question, with its prompt and answer key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum QuestionKind {
    ShortAnswer(ShortAnswer),
    MultipleChoice(MultipleChoice),
    Tracing(Tracing),
    /// Our addition: a number, right within a tolerance.
    Numeric(Numeric),
}

/// A typed answer compared trimmed and case-insensitively.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShortAnswer {
    pub prompt: String,
    pub response: ResponseKind,
    pub answer: String,
    pub alternatives: Vec<String>,
}

/// How big an input box mdbook-quiz shows for a short answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseKind {
    Short,
    Long,
    Code,
}

/// Pick one answer, or (when the key is a list) select all that apply, all or nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultipleChoice {
    pub prompt: String,
    /// The right options; more than one, or written as a list, makes it select-all.
    pub answers: Vec<String>,
    /// `answer.answer` was written as a list: the student may pick any number of options.
    pub select_all: bool,
    pub distractors: Vec<Distractor>,
    /// Where the answer goes among the distractors, which keep file order (pins the order).
    pub answer_index: Option<usize>,
    /// Options shown sorted by text (pins the order).
    pub sort_answers: bool,
}

/// A wrong option, with optional feedback explaining why it is wrong (our addition).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distractor {
    pub text: String,
    pub feedback: Option<String>,
}

/// Does this program compile, and what does it print?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracing {
    /// The program as written.
    pub program: String,
    /// Whether `#` lines are hidden from the student, rustdoc-style (our addition: files that
    /// declare `format_version`). mdbook-quiz shows and compiles a program exactly as written.
    pub hidden_lines: bool,
    /// `prompt.edition` (our addition); without it rustc's default edition, 2015, as in
    /// mdbook-quiz.
    pub edition: Option<String>,
    pub does_compile: bool,
    pub stdout: Option<String>,
    /// The line of the first compiler error, counted as the student sees the program.
    pub line_number: Option<usize>,
    /// Whether the error's line is asked and graded (our addition, `answer.gradeLineNumber =
    /// true`). mdbook-quiz neither asks for it nor grades it, so by default neither do we.
    pub grade_line_number: bool,
    #[serde(skip)]
    pub spans: TracingSpans,
}

/// Where each part of a tracing question's key is written, so verification can point at it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracingSpans {
    pub program: Range<usize>,
    pub does_compile: Range<usize>,
    pub stdout: Option<Range<usize>>,
    pub line_number: Option<Range<usize>>,
}

/// A number, right when within `tolerance` of `answer` (our addition).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Numeric {
    pub prompt: String,
    pub answer: f64,
    pub tolerance: f64,
    /// Unit shown beside the input, e.g. `bytes`.
    pub unit: Option<String>,
}

/// One line of a tracing program: whether it is hidden, and its text with any `#` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramLine {
    pub hidden: bool,
    pub text: String,
}

impl Tracing {
    /// The program split into lines, hidden ones marked (none unless [`Tracing::hidden_lines`]).
    /// A `#` followed by a space or the end of the line hides the line, like rustdoc, and so
    /// does a `#` directly before code; `#[` and `#!` are attributes and stay visible.
    pub fn lines(&self) -> Vec<ProgramLine> {
        self.program
            .split('\n')
            .map(|l| {
                let l = l.strip_suffix('\r').unwrap_or(l);
                if self.hidden_lines {
                    program_line(l)
                } else {
                    ProgramLine {
                        hidden: false,
                        text: l.to_owned(),
                    }
                }
            })
            .collect()
    }

    /// For each line of [`Tracing::compiled_program`], its 1-based number as shown, if shown.
    fn numbering(&self) -> Vec<Option<usize>> {
        let lines = self.lines();
        let visible: Vec<(usize, &str)> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.hidden)
            .map(|(i, l)| (i, l.text.as_str()))
            .collect();
        // mdbook-quiz trims the program before numbering it: blank lines at either end go.
        let first = visible.iter().position(|(_, t)| !t.trim().is_empty());
        let last = visible.iter().rposition(|(_, t)| !t.trim().is_empty());
        let mut numbers = vec![None; lines.len()];
        if let (Some(first), Some(last)) = (first, last) {
            for (n, (i, _)) in visible[first..=last].iter().enumerate() {
                numbers[*i] = Some(n + 1);
            }
        }
        numbers
    }

    /// The lines a student sees, numbered from 1 as shown: hidden lines left out and the
    /// whole trimmed, as mdbook-quiz shows a program.
    pub fn shown_lines(&self) -> Vec<String> {
        let lines = self.lines();
        let mut shown: Vec<String> = self
            .numbering()
            .iter()
            .zip(&lines)
            .filter(|(n, _)| n.is_some())
            .map(|(_, l)| l.text.clone())
            .collect();
        if let Some(first) = shown.first_mut() {
            *first = first.trim_start().to_owned();
        }
        if let Some(last) = shown.last_mut() {
            *last = last.trim_end().to_owned();
        }
        shown
    }

    /// The program as the compiler sees it: as written, or with hidden lines restored.
    pub fn compiled_program(&self) -> String {
        if !self.hidden_lines {
            return self.program.clone();
        }
        let mut out = String::new();
        for line in self.lines() {
            out.push_str(&line.text);
            out.push('\n');
        }
        out
    }

    /// Maps a 1-based line of [`Tracing::compiled_program`] to the line number a student
    /// sees, if the line is shown.
    pub fn visible_line(&self, full_line: usize) -> Option<usize> {
        *self.numbering().get(full_line.checked_sub(1)?)?
    }
}

/// Splits off rustdoc-style hiding for one line of a program.
pub fn program_line(line: &str) -> ProgramLine {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    match trimmed.strip_prefix('#') {
        // `##` escapes a literal `#` at the start of a visible line.
        Some(rest) if rest.starts_with('#') => ProgramLine {
            hidden: false,
            text: format!("{indent}{rest}"),
        },
        Some(rest) if !rest.starts_with('[') && !rest.starts_with('!') => {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            ProgramLine {
                hidden: true,
                text: format!("{indent}{rest}"),
            }
        }
        _ => ProgramLine {
            hidden: false,
            text: line.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracing(program: &str, hidden_lines: bool) -> Tracing {
        Tracing {
            program: program.into(),
            hidden_lines,
            edition: None,
            does_compile: true,
            stdout: None,
            line_number: None,
            grade_line_number: false,
            spans: TracingSpans::default(),
        }
    }

    #[test]
    fn hidden_lines_are_restored_and_mapped() {
        let t = tracing(
            "#fn main() {\n# let a = 1;\nlet b = a;\n#[derive(Debug)]\n#}\n",
            true,
        );
        assert_eq!(
            t.compiled_program(),
            "fn main() {\nlet a = 1;\nlet b = a;\n#[derive(Debug)]\n}\n\n"
        );
        assert_eq!(t.shown_lines(), ["let b = a;", "#[derive(Debug)]"]);
        assert_eq!(t.visible_line(3), Some(1));
        assert_eq!(t.visible_line(4), Some(2));
        assert_eq!(t.visible_line(1), None);
        assert_eq!(t.visible_line(9), None);
    }

    #[test]
    fn a_plain_program_is_shown_trimmed_and_compiled_as_written() {
        let program = "\n\n  fn main() {\n# not hidden\n}\n\n";
        let t = tracing(program, false);
        assert_eq!(t.compiled_program(), program);
        assert_eq!(t.shown_lines(), ["fn main() {", "# not hidden", "}"]);
        assert_eq!(t.visible_line(3), Some(1));
        assert_eq!(t.visible_line(1), None);
        assert_eq!(t.visible_line(5), Some(3));
    }
}
