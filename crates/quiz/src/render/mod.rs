//! Plain-text screens for a terminal: a question as asked, and the feedback after an attempt,
//! laid out as mdbook-quiz lays them out (the prompt, "you answered", "the correct answer is"
//! once the quiz is over, then the context). Output has no colour, so it can be snapshot-tested;
//! every text is wrapped to the width given and nothing is cut short.

pub mod markdown;

use std::fmt::Write as _;

use crate::grade::{QuestionResult, QuizReport, Response, choices, letter, question_key};
use crate::model::{Question, QuestionKind, Quiz, Tracing};
use markdown::Style;

/// The width snapshots and non-terminal output use.
pub const DEFAULT_WIDTH: usize = 80;

/// What mdbook-quiz says above every tracing program.
pub const TRACING_PROMPT: &str = "Determine whether the program will pass the compiler. If it \
    passes, write the expected output of the program if it were executed.";

/// Renders markdown (options, context) for a terminal `width` columns wide.
pub fn markdown(text: &str, width: usize) -> String {
    markdown::render(
        text,
        Style {
            width,
            line_numbers: false,
        },
    )
}

/// Renders a prompt: as in mdbook-quiz, its code blocks are numbered.
pub fn prompt_markdown(text: &str, width: usize) -> String {
    markdown::render(
        text,
        Style {
            width,
            line_numbers: true,
        },
    )
}

/// Indents every non-empty line by `by` spaces.
pub fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Indents all lines after the first so a multi-line text hangs under its label.
fn hanging(text: &str, by: usize) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").to_string();
    let mut out = first;
    for l in lines {
        out.push('\n');
        if !l.is_empty() {
            out.push_str(&" ".repeat(by));
            out.push_str(l);
        }
    }
    out
}

fn points(n: u32) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

/// The shared text of a multipart question, introduced as mdbook-quiz introduces it.
fn multipart(quiz: &Quiz, q: &Question, number: usize, width: usize) -> Option<String> {
    let part = q.multipart.as_ref().and_then(|k| quiz.multipart.get(k))?;
    Some(format!(
        "  Question {number} has multiple parts; this context is shared by each part:\n{}",
        indent(&markdown(part, width.saturating_sub(4)), 4)
    ))
}

/// The prompt of a question, with the program of a tracing question numbered below it.
fn prompt_block(q: &Question, width: usize) -> String {
    match &q.kind {
        QuestionKind::Tracing(t) => format!(
            "{}\n\n{}",
            indent(&markdown(TRACING_PROMPT, width - 2), 2),
            indent(&program(t), 2)
        ),
        _ => indent(&prompt_markdown(q.prompt(), width - 2), 2),
    }
}

/// A tracing program as shown: hidden lines left out, trimmed, numbered, highlights underlined.
pub fn program(t: &Tracing) -> String {
    let shown = t.shown_lines().join("\n");
    if shown.trim().is_empty() {
        return "(the program is empty)".into();
    }
    markdown::code_lines(&shown, true).join("\n")
}

/// A question as a student sees it: shared multipart text, prompt, and the options lettered
/// (or the program, for tracing questions).
pub fn question(quiz: &Quiz, index: usize, width: usize) -> String {
    let width = width.max(40);
    let q = &quiz.questions[index];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Question {} of {} ({}){}",
        index + 1,
        quiz.questions.len(),
        points(q.points),
        match &q.kind {
            QuestionKind::MultipleChoice(mc) if mc.select_all => ", select all that apply",
            _ => "",
        }
    );
    if let Some(part) = multipart(quiz, q, index + 1, width) {
        let _ = writeln!(out, "\n{part}");
    }
    let _ = writeln!(out, "\n{}", prompt_block(q, width));
    match &q.kind {
        QuestionKind::MultipleChoice(mc) => {
            out.push('\n');
            for (i, choice) in choices(mc, &question_key(quiz, index)).iter().enumerate() {
                let text = markdown(&choice.text, width - 5);
                let _ = writeln!(out, "  {}) {}", letter(i), hanging(&text, 5));
            }
        }
        QuestionKind::Numeric(n) => {
            if let Some(unit) = &n.unit {
                let _ = writeln!(out, "\n  (answer in {unit})");
            }
        }
        QuestionKind::ShortAnswer(_) | QuestionKind::Tracing(_) => {}
    }
    out.trim_end().to_string()
}

/// Feedback after an attempt, question by question: ✔ or ✘, the prompt, the answer given
/// (each wrong pick with the reason the quiz gives for it, when it gives one). With `reveal`
/// (the quiz is over: passed, or the student gave up) wrong questions also show the right
/// answer and every question its context, as mdbook-quiz shows them once a quiz is done.
pub fn feedback(
    name: &str,
    quiz: &Quiz,
    report: &QuizReport,
    reveal: bool,
    width: usize,
) -> String {
    let width = width.max(40);
    let mut out = String::new();
    let title = quiz.title.as_deref().unwrap_or(name);
    let right = report.questions.iter().filter(|r| r.correct).count();
    let _ = writeln!(
        out,
        "Quiz {title}: {right} of {} questions right, {} of {} points ({:.0}%), {}",
        report.questions.len(),
        report.points,
        report.max_points,
        report.percent,
        if report.passed {
            "passed".to_string()
        } else {
            format!("not passed (the pass mark is {:.0}%)", report.min_percent)
        }
    );
    for (index, result) in report.questions.iter().enumerate() {
        out.push('\n');
        out.push_str(&question_feedback(quiz, index, result, reveal, width));
    }
    if !report.passed && !reveal {
        let wrong: Vec<String> = report.wrong().iter().map(|i| (i + 1).to_string()).collect();
        let _ = writeln!(
            out,
            "\nto pass, answer again: question {}",
            wrong.join(", ")
        );
    }
    out
}

/// One question's part of [`feedback`].
pub fn question_feedback(
    quiz: &Quiz,
    index: usize,
    result: &QuestionResult,
    reveal: bool,
    width: usize,
) -> String {
    let width = width.max(40);
    let q = &quiz.questions[index];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} Question {} ({}/{}){}",
        if result.correct { "✔" } else { "✘" },
        result.number,
        result.earned,
        points(result.points),
        if result.correct { "" } else { ": not right" }
    );
    if let Some(part) = multipart(quiz, q, index + 1, width) {
        let _ = writeln!(out, "{part}");
    }
    let _ = writeln!(out, "{}", prompt_block(q, width));
    let _ = writeln!(out, "  You answered:");
    let _ = writeln!(
        out,
        "{}",
        indent(
            &answer(
                quiz,
                index,
                result.response.as_ref(),
                Some(result),
                width - 4
            ),
            4
        )
    );
    if let QuestionKind::MultipleChoice(mc) = &q.kind
        && !result.missed.is_empty()
        && result.wrong_picks.is_empty()
        && !reveal
        && mc.select_all
    {
        let _ = writeln!(out, "    (a right option is missing)");
    }
    if reveal && !result.correct {
        let _ = writeln!(out, "  The correct answer is:");
        let _ = writeln!(
            out,
            "{}",
            indent(
                &answer(quiz, index, Some(&Response::key(q)), None, width - 4),
                4
            )
        );
    }
    if reveal && let Some(context) = &q.context {
        let _ = writeln!(out, "  Context:");
        let _ = writeln!(out, "{}", indent(&markdown(context, width - 4), 4));
    }
    out
}

/// An answer, in full: the options picked (with their letters and, for a wrong pick of a
/// graded attempt, why it is wrong), the text, or what the program does.
fn answer(
    quiz: &Quiz,
    index: usize,
    response: Option<&Response>,
    graded: Option<&QuestionResult>,
    width: usize,
) -> String {
    let q = &quiz.questions[index];
    let mut out = String::new();
    match (response, &q.kind) {
        (None, _) => out.push_str("(no answer)"),
        (Some(Response::Choices(picks)), QuestionKind::MultipleChoice(mc)) => {
            if picks.is_empty() {
                out.push_str("(nothing picked)");
            }
            let shown = choices(mc, &question_key(quiz, index));
            let mut labelled: Vec<(usize, &String)> = picks
                .iter()
                .map(|p| {
                    (
                        shown
                            .iter()
                            .position(|c| &c.text == p)
                            .unwrap_or(usize::MAX),
                        p,
                    )
                })
                .collect();
            labelled.sort();
            for (position, pick) in labelled {
                let label = if position == usize::MAX {
                    "-)".to_string()
                } else {
                    format!("{})", letter(position))
                };
                let text = markdown(pick, width - 3);
                let _ = writeln!(out, "{label} {}", hanging(&text, 3));
                let wrong = graded.is_some_and(|r| r.wrong_picks.contains(pick));
                if wrong {
                    let why = mc
                        .distractors
                        .iter()
                        .find(|d| &d.text == pick)
                        .and_then(|d| d.feedback.as_deref());
                    match why {
                        Some(why) => {
                            // Continuation lines align under the reason's first word.
                            let lead = "   ✘ why not: ";
                            let at = lead.chars().count();
                            let why = markdown(why, width.saturating_sub(at));
                            let _ = writeln!(out, "{lead}{}", hanging(&why, at));
                        }
                        None => {
                            let _ = writeln!(out, "   ✘ not a right option");
                        }
                    }
                }
            }
        }
        (Some(Response::Text(t)), _) => out.push_str(t.trim()),
        (Some(Response::Number(n)), QuestionKind::Numeric(num)) => {
            let _ = write!(out, "{n}");
            if let Some(unit) = &num.unit {
                let _ = write!(out, " {unit}");
            }
        }
        (Some(Response::Number(n)), _) => {
            let _ = write!(out, "{n}");
        }
        (
            Some(Response::Tracing {
                compiles,
                stdout,
                line,
            }),
            _,
        ) => {
            if *compiles {
                out.push_str("This program does compile. The output of this program will be:\n");
                let output = stdout.as_deref().unwrap_or("");
                if output.trim().is_empty() {
                    out.push_str("    (nothing)");
                } else {
                    out.push_str(&indent(output.trim_end_matches(['\n', '\r']), 4));
                }
            } else {
                out.push_str("This program does not compile.");
                let graded_line =
                    matches!(&q.kind, QuestionKind::Tracing(t) if t.grade_line_number);
                if let (true, Some(line)) = (graded_line, line) {
                    let _ = write!(out, " The first error is on line {line}.");
                }
            }
        }
        (Some(other), _) => {
            let _ = write!(out, "{other:?}");
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_code_keeps_its_brackets_and_marks_are_underlined() {
        let md = "Is `[1, 2]` a slice?\n\n```\nlet x = `[v[0]]`;\n```";
        assert_eq!(
            prompt_markdown(md, 80),
            "Is `[1, 2]` a slice?\n\n1 | let x = v[0];\n  |         ^^^^"
        );
    }
}
