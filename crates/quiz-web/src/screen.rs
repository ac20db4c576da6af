//! The page's screens as HTML, laid out as the terminal lays them out (`quiz::render`): a
//! question with its controls, and the results after an attempt (✔ or ✘ for each question,
//! the answer given, why a wrong pick is wrong; with the answers and their context once the
//! quiz is over). Every control has a label, every mark a word beside it, and messages have a
//! place kept for them, so nothing moves when one appears.

use std::fmt::Write as _;

use quiz::grade::{Choice, QuestionResult, QuizReport, choices, letter, question_key};
use quiz::model::{Question, ResponseKind};
use quiz::render::TRACING_PROMPT;
use quiz::{Attempt, QuestionKind, Quiz, Response};

use crate::highlight::code_block;
use crate::markup::{escape, inline_markdown, markdown};

fn points(n: u32) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

/// The shared text of a multipart question.
fn multipart(quiz: &Quiz, q: &Question, number: usize) -> String {
    match q.multipart.as_ref().and_then(|k| quiz.multipart.get(k)) {
        Some(text) => format!(
            "<div class=\"multipart\"><p class=\"label\">Question {number} has multiple parts; this context is shared by each part:</p>{}</div>",
            markdown(text, true)
        ),
        None => String::new(),
    }
}

/// The prompt, with a tracing question's program numbered below it.
fn prompt(q: &Question, id: &str) -> String {
    match &q.kind {
        QuestionKind::Tracing(t) => format!(
            "<div class=\"prompt\" id=\"{id}\"><p>{}</p>{}</div>",
            escape(TRACING_PROMPT),
            code_block(&t.shown_lines().join("\n"), "rust", true)
        ),
        _ => format!(
            "<div class=\"prompt\" id=\"{id}\">{}</div>",
            markdown(q.prompt(), true)
        ),
    }
}

/// A question as asked, with the form that answers it.
pub fn question(quiz: &Quiz, attempt: &Attempt, index: usize) -> String {
    let q = &quiz.questions[index];
    let number = index + 1;
    let mut out = String::new();
    let answered = quiz.questions.len() - attempt.to_ask.len();
    let _ = write!(
        out,
        "<section class=\"screen asking\" aria-labelledby=\"heading\">\
         <p class=\"status\">{}{answered} of {} answered</p>\
         <progress max=\"{}\" value=\"{answered}\" aria-label=\"questions answered\"></progress>\
         <h2 id=\"heading\" tabindex=\"-1\">Question {number} of {} <span class=\"points\">({}{})</span></h2>",
        if attempt.attempt > 0 {
            format!("Attempt {} · ", attempt.attempt + 1)
        } else {
            String::new()
        },
        quiz.questions.len(),
        quiz.questions.len(),
        quiz.questions.len(),
        points(q.points),
        match &q.kind {
            QuestionKind::MultipleChoice(mc) if mc.select_all => ", select all that apply",
            _ => "",
        }
    );
    out.push_str(&multipart(quiz, q, number));
    out.push_str(&prompt(q, "prompt"));
    out.push_str("<form class=\"answer\" novalidate aria-describedby=\"prompt\">");
    match &q.kind {
        QuestionKind::MultipleChoice(mc) => {
            let kind = if mc.select_all { "checkbox" } else { "radio" };
            let _ = write!(
                out,
                "<fieldset aria-describedby=\"message\"><legend>{}</legend><ul class=\"options\">",
                if mc.select_all {
                    "Tick every right option"
                } else {
                    "Pick one option"
                }
            );
            for (i, choice) in choices(mc, &question_key(quiz, index)).iter().enumerate() {
                let _ = write!(
                    out,
                    "<li><label class=\"option\"><input type=\"{kind}\" name=\"choice\" value=\"{i}\"><span class=\"letter\">{})</span> <span class=\"text\">{}</span></label></li>",
                    letter(i),
                    inline_markdown(&choice.text)
                );
            }
            out.push_str("</ul></fieldset>");
        }
        QuestionKind::ShortAnswer(s) => {
            let control = match s.response {
                ResponseKind::Short => "<input id=\"text\" name=\"text\" type=\"text\" autocomplete=\"off\" spellcheck=\"false\" aria-describedby=\"message\">".to_string(),
                ResponseKind::Long | ResponseKind::Code => format!(
                    "<textarea id=\"text\" name=\"text\" rows=\"4\" spellcheck=\"false\" aria-describedby=\"message\"{}></textarea>",
                    if s.response == ResponseKind::Code { " class=\"mono\"" } else { "" }
                ),
            };
            let _ = write!(out, "<label for=\"text\">Your answer</label>{control}");
        }
        QuestionKind::Numeric(n) => {
            let _ = write!(
                out,
                "<label for=\"number\">Your answer{}</label><input id=\"number\" name=\"number\" type=\"text\" inputmode=\"decimal\" autocomplete=\"off\" aria-describedby=\"message\">",
                n.unit
                    .as_ref()
                    .map(|u| format!(" (in {})", escape(u)))
                    .unwrap_or_default()
            );
        }
        QuestionKind::Tracing(t) => {
            out.push_str(
                "<fieldset aria-describedby=\"message\"><legend>This program</legend><ul class=\"options\">\
                 <li><label class=\"option\"><input type=\"radio\" name=\"compiles\" value=\"yes\"> <span class=\"text\">DOES compile</span></label></li>\
                 <li><label class=\"option\"><input type=\"radio\" name=\"compiles\" value=\"no\"> <span class=\"text\">does NOT compile</span></label></li>\
                 </ul></fieldset>\
                 <label for=\"stdout\">If it compiles, its output</label>\
                 <textarea id=\"stdout\" name=\"stdout\" rows=\"4\" class=\"mono\" spellcheck=\"false\"></textarea>",
            );
            if t.grade_line_number {
                let _ = write!(
                    out,
                    "<label for=\"line\">If it does not compile, the line of the first error (1 to {})</label>\
                     <input id=\"line\" name=\"line\" type=\"number\" min=\"1\" max=\"{}\" inputmode=\"numeric\">",
                    t.shown_lines().len(),
                    t.shown_lines().len()
                );
            }
        }
    }
    // As in mdbook-quiz, the explanation is asked on the first attempt only (and not graded).
    if q.prompt_explanation && attempt.attempt == 0 {
        out.push_str("<label for=\"why\">In a sentence or two, why this answer? (not graded)</label><textarea id=\"why\" name=\"why\" rows=\"2\"></textarea>");
    }
    out.push_str(
        "<p class=\"message\" id=\"message\" role=\"status\" aria-live=\"polite\"></p>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Submit answer</button></div>\
         </form></section>",
    );
    out
}

/// The results of an attempt; `reveal` once the quiz is over (right answers and context).
pub fn results(title: &str, quiz: &Quiz, report: &QuizReport, reveal: bool) -> String {
    let mut out = String::new();
    let right = report.questions.iter().filter(|r| r.correct).count();
    let verdict = if report.passed {
        if report.points == report.max_points {
            "passed in full".to_string()
        } else {
            "passed".to_string()
        }
    } else {
        format!("not passed (the pass mark is {:.0}%)", report.min_percent)
    };
    let _ = write!(
        out,
        "<section class=\"screen {}\" aria-labelledby=\"heading\">\
         <h2 id=\"heading\" tabindex=\"-1\">{}: {}</h2>\
         <p class=\"score {}\">{right} of {} questions right, {} of {} points ({:.0}%)</p>",
        if reveal { "done" } else { "review" },
        escape(title),
        verdict,
        if report.passed { "passed" } else { "failed" },
        report.questions.len(),
        report.points,
        report.max_points,
        report.percent,
    );
    out.push_str(&actions(report, reveal));
    out.push_str("<ol class=\"results\">");
    for (index, result) in report.questions.iter().enumerate() {
        out.push_str(&question_result(quiz, index, result, reveal));
    }
    out.push_str("</ol>");
    out.push_str(&actions(report, reveal));
    out.push_str("</section>");
    out
}

fn actions(report: &QuizReport, reveal: bool) -> String {
    if reveal {
        "<div class=\"actions\"><button type=\"button\" data-action=\"restart\">Start the quiz again</button></div>".into()
    } else {
        let wrong: Vec<String> = report.wrong().iter().map(|i| (i + 1).to_string()).collect();
        format!(
            "<div class=\"actions\"><button type=\"button\" class=\"primary\" data-action=\"retry\">Retry the wrong questions ({})</button>\
             <button type=\"button\" data-action=\"give-up\">Give up and see the answers</button></div>",
            wrong.join(", ")
        )
    }
}

fn question_result(quiz: &Quiz, index: usize, result: &QuestionResult, reveal: bool) -> String {
    let q = &quiz.questions[index];
    let mut out = String::new();
    let _ = write!(
        out,
        "<li class=\"result {}\" id=\"result-{}\"><h3><span class=\"mark\" aria-hidden=\"true\">{}</span> Question {}: {} <span class=\"points\">({}/{})</span></h3>",
        if result.correct { "right" } else { "wrong" },
        result.number,
        if result.correct { "✔" } else { "✘" },
        result.number,
        if result.correct { "right" } else { "not right" },
        result.earned,
        points(result.points),
    );
    out.push_str(&multipart(quiz, q, index + 1));
    out.push_str(&prompt(q, &format!("prompt-{}", result.number)));
    out.push_str("<p class=\"label\">You answered:</p>");
    out.push_str(&answer(quiz, index, result.response.as_ref(), Some(result)));
    if let QuestionKind::MultipleChoice(mc) = &q.kind
        && !result.missed.is_empty()
        && result.wrong_picks.is_empty()
        && !reveal
        && mc.select_all
    {
        out.push_str("<p class=\"why\">A right option is missing.</p>");
    }
    if reveal && !result.correct {
        out.push_str("<p class=\"label\">The correct answer is:</p>");
        out.push_str(&answer(quiz, index, Some(&Response::key(q)), None));
    }
    if reveal && let Some(context) = &q.context {
        let _ = write!(
            out,
            "<div class=\"context\"><p class=\"label\">Context:</p>{}</div>",
            markdown(context, false)
        );
    }
    out.push_str("</li>");
    out
}

/// An answer in full: the options picked with their letters (and, for a wrong pick of a
/// graded attempt, why it is wrong), the text, or what the program does.
fn answer(
    quiz: &Quiz,
    index: usize,
    response: Option<&Response>,
    graded: Option<&QuestionResult>,
) -> String {
    let q = &quiz.questions[index];
    match (response, &q.kind) {
        (None, _) => "<p class=\"given\">(no answer)</p>".into(),
        (Some(Response::Choices(picks)), QuestionKind::MultipleChoice(mc)) => {
            let shown: Vec<Choice> = choices(mc, &question_key(quiz, index));
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
            let mut out = String::from("<ul class=\"given\">");
            if picks.is_empty() {
                out.push_str("<li>(nothing picked)</li>");
            }
            for (position, pick) in labelled {
                let label = if position == usize::MAX {
                    "-)".to_string()
                } else {
                    format!("{})", letter(position))
                };
                let _ = write!(
                    out,
                    "<li><span class=\"letter\">{label}</span> {}",
                    inline_markdown(pick)
                );
                if graded.is_some_and(|r| r.wrong_picks.contains(pick)) {
                    let why = mc
                        .distractors
                        .iter()
                        .find(|d| &d.text == pick)
                        .and_then(|d| d.feedback.as_deref());
                    let _ = write!(
                        out,
                        "<p class=\"why\"><span aria-hidden=\"true\">✘</span> {}</p>",
                        match why {
                            Some(why) => format!("Why not: {}", inline_markdown(why)),
                            None => "Not a right option.".into(),
                        }
                    );
                }
                out.push_str("</li>");
            }
            out.push_str("</ul>");
            out
        }
        (Some(Response::Text(t)), _) => format!("<p class=\"given\">{}</p>", escape(t.trim())),
        (Some(Response::Number(n)), kind) => {
            let unit = match kind {
                QuestionKind::Numeric(num) => {
                    num.unit.as_deref().map(|u| format!(" {}", escape(u)))
                }
                _ => None,
            };
            format!("<p class=\"given\">{n}{}</p>", unit.unwrap_or_default())
        }
        (
            Some(Response::Tracing {
                compiles,
                stdout,
                line,
            }),
            kind,
        ) => {
            if *compiles {
                let output = stdout.as_deref().unwrap_or("");
                let shown = if output.trim().is_empty() {
                    "(nothing)".to_string()
                } else {
                    escape(output.trim_end_matches(['\n', '\r']))
                };
                format!(
                    "<div class=\"given\"><p>This program does compile. The output of this program will be:</p><pre class=\"output\">{shown}</pre></div>"
                )
            } else {
                let graded_line = matches!(kind, QuestionKind::Tracing(t) if t.grade_line_number);
                let at = match (graded_line, line) {
                    (true, Some(line)) => format!(" The first error is on line {line}."),
                    _ => String::new(),
                };
                format!("<p class=\"given\">This program does not compile.{at}</p>")
            }
        }
        (Some(other), _) => format!("<p class=\"given\">{}</p>", escape(&format!("{other:?}"))),
    }
}
