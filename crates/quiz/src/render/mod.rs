//! Plain-text rendering for a terminal: markdown prompts, questions with their options, and
//! the feedback after grading. Output is plain text (no colour) so it can be snapshot-tested.

use std::fmt::Write as _;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::grade::{QuizReport, Response, choices, letter, question_key};
use crate::model::{Question, QuestionKind, Quiz};

/// Renders markdown as plain terminal text: code blocks indented by four spaces (hidden `#`
/// lines of Rust blocks left out), inline code kept in backticks, lists with `-` or numbers.
/// mdbook-quiz's highlighting marks (`` `[x]` `` and `` `[]` ``) are removed.
pub fn markdown(text: &str) -> String {
    let mut out = String::new();
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut code: Option<(bool, String)> = None;
    let mut link_target: Vec<String> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut in_cell = false;
    let push_text = |out: &mut String, cell: &mut String, in_cell: bool, s: &str| {
        if in_cell {
            cell.push_str(s)
        } else {
            out.push_str(s)
        }
    };
    for event in Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                let lang = info.split([',', ' ']).next().unwrap_or("");
                let rust = matches!(lang, "" | "rust" | "ide" | "aquascope");
                code = Some((rust, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((rust, body)) = code.take() {
                    blank_line(&mut out);
                    for line in body.lines() {
                        let line = if rust {
                            let parsed = crate::model::program_line(line);
                            if parsed.hidden {
                                continue;
                            }
                            parsed.text
                        } else {
                            line.to_string()
                        };
                        let line = strip_marks(&line);
                        let _ = writeln!(out, "    {}", line.trim_end());
                    }
                    out.push('\n');
                }
            }
            Event::Text(t) => match &mut code {
                Some((_, body)) => body.push_str(&t),
                None => push_text(&mut out, &mut cell, in_cell, &t),
            },
            Event::Code(c) => {
                let c = strip_marks(&format!("`{c}`"));
                if !c.is_empty() {
                    push_text(&mut out, &mut cell, in_cell, &c);
                }
            }
            Event::InlineHtml(html) | Event::Html(html) => {
                let replacement = match html.trim() {
                    "<sup>" => "^",
                    "<br>" | "<br/>" | "<br />" => "\n",
                    _ => "",
                };
                push_text(&mut out, &mut cell, in_cell, replacement);
            }
            Event::SoftBreak => push_text(&mut out, &mut cell, in_cell, " "),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Paragraph) if lists.is_empty() => blank_line(&mut out),
            Event::End(TagEnd::Paragraph) => out.push('\n'),
            Event::Start(Tag::Heading { .. }) => {
                blank_line(&mut out);
                out.push_str("## ");
            }
            Event::End(TagEnd::Heading(_)) => out.push('\n'),
            Event::Start(Tag::List(start)) => {
                if lists.is_empty() {
                    blank_line(&mut out);
                } else if !out.ends_with('\n') {
                    out.push('\n');
                }
                lists.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                let depth = lists.len().saturating_sub(1);
                out.push_str(&"  ".repeat(depth));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        let _ = write!(out, "{n}. ");
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::End(TagEnd::Item) if !out.ends_with('\n') => out.push('\n'),
            Event::Start(Tag::Link { dest_url, .. }) => link_target.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = link_target.pop() {
                    let _ = write!(out, " <{url}>");
                }
            }
            Event::Start(Tag::Table(_)) => blank_line(&mut out),
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                cell.clear();
            }
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                row.push(cell.trim().to_string());
            }
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => {
                let _ = writeln!(out, "    {}", row.join(" | "));
                row.clear();
            }
            Event::Start(Tag::BlockQuote(_)) => {
                blank_line(&mut out);
                out.push_str("> ");
            }
            Event::Rule => {
                blank_line(&mut out);
                out.push_str("----\n");
            }
            _ => {}
        }
    }
    out.trim_matches('\n').to_string()
}

fn blank_line(out: &mut String) {
    if out.is_empty() {
        return;
    }
    while !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Removes mdbook-quiz's highlight marks: `` `[x]` `` becomes `x` and `` `[]` `` disappears.
fn strip_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("`[") {
        match rest[start..].find("]`") {
            Some(len) => {
                out.push_str(&rest[..start]);
                out.push_str(&rest[start + 2..start + len]);
                rest = &rest[start + len + 2..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
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

/// A question as a student sees it: shared multipart text, prompt, and the options lettered
/// in this student's order (or the program, for tracing questions).
pub fn question(quiz: &Quiz, index: usize, seed: &str) -> String {
    let q = &quiz.questions[index];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Question {} of {} ({}){}",
        index + 1,
        quiz.questions.len(),
        points(q.points),
        kind_hint(q)
    );
    if let Some(part) = q.multipart.as_ref().and_then(|k| quiz.multipart.get(k)) {
        let _ = writeln!(out, "\n{}\n", indent(&markdown(part), 2));
    }
    let _ = writeln!(out, "\n{}", indent(&markdown(q.prompt()), 2));
    match &q.kind {
        QuestionKind::MultipleChoice(mc) => {
            out.push('\n');
            for (i, choice) in choices(mc, &question_key(quiz, index), seed)
                .iter()
                .enumerate()
            {
                let _ = writeln!(
                    out,
                    "  {}) {}",
                    letter(i),
                    hanging(&markdown(&choice.text), 5)
                );
            }
        }
        QuestionKind::Tracing(t) => {
            out.push('\n');
            for (i, line) in t.visible_program().lines().enumerate() {
                let _ = writeln!(out, "  {:>3} | {line}", i + 1);
            }
        }
        QuestionKind::Numeric(n) => {
            if let Some(unit) = &n.unit {
                let _ = writeln!(out, "\n  (answer in {unit})");
            }
        }
        QuestionKind::ShortAnswer(_) => {}
    }
    out.trim_end().to_string()
}

fn kind_hint(q: &Question) -> &'static str {
    match &q.kind {
        QuestionKind::MultipleChoice(mc) if mc.select_all => ", select all that apply",
        _ => "",
    }
}

fn points(n: u32) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

/// Indents all lines after the first so a multi-line option hangs under its letter.
fn hanging(text: &str, by: usize) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").to_string();
    let rest: Vec<String> = lines
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{}{l}", " ".repeat(by))
            }
        })
        .collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first}\n{}", rest.join("\n"))
    }
}

/// Feedback after grading. Each question shows the student's answer and, for a wrong pick,
/// why it is wrong. With `reveal`, wrong questions also show the right answer and the
/// explanation (mdbook-quiz's "see the answers"); right ones always show the explanation.
pub fn feedback(name: &str, quiz: &Quiz, report: &QuizReport, seed: &str, reveal: bool) -> String {
    let mut out = String::new();
    let title = quiz.title.as_deref().unwrap_or(name);
    let _ = writeln!(
        out,
        "Quiz {title}: {} of {} points ({:.0}%), {}",
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
        let q = &quiz.questions[index];
        out.push('\n');
        let _ = writeln!(
            out,
            "{} Question {} ({}/{}): {}",
            if result.correct { "[right]" } else { "[wrong]" },
            result.number,
            result.earned,
            points(result.points),
            first_line(&markdown(q.prompt()))
        );
        let order: Vec<String> = match &q.kind {
            QuestionKind::MultipleChoice(mc) => choices(mc, &question_key(quiz, index), seed)
                .into_iter()
                .map(|c| c.text)
                .collect(),
            _ => Vec::new(),
        };
        let _ = writeln!(
            out,
            "  your answer: {}",
            describe_response(result.response.as_ref(), &order)
        );
        if let QuestionKind::MultipleChoice(mc) = &q.kind {
            for pick in &result.wrong_picks {
                let why = mc
                    .distractors
                    .iter()
                    .find(|d| &d.text == pick)
                    .and_then(|d| d.feedback.as_deref());
                let label = option_label(pick, &order);
                match why {
                    Some(why) => {
                        let _ = writeln!(
                            out,
                            "  why not {label}: {}",
                            hanging(&markdown(why), 4).trim_start()
                        );
                    }
                    None => {
                        let _ = writeln!(out, "  {label} is not right");
                    }
                }
            }
            if !result.missed.is_empty() && result.wrong_picks.is_empty() && !reveal {
                let _ = writeln!(out, "  not all the right options were picked");
            }
        }
        if !result.correct && reveal {
            let _ = writeln!(
                out,
                "  right answer: {}",
                describe_response(Some(&Response::key(q)), &order)
            );
        }
        if (result.correct || reveal)
            && let Some(context) = &q.context
        {
            let _ = writeln!(out, "  explanation:\n{}", indent(&markdown(context), 4));
        }
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

fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut short: String = line.chars().take(90).collect();
    if short.len() < line.len() {
        short.push_str("...");
    }
    short
}

fn option_label(text: &str, order: &[String]) -> String {
    let summary = first_line(&markdown(text));
    match order.iter().position(|o| o == text) {
        Some(i) => format!("{}) {summary}", letter(i)),
        None => summary,
    }
}

fn describe_response(response: Option<&Response>, order: &[String]) -> String {
    match response {
        None => "(no answer)".to_string(),
        Some(Response::Text(t)) => format!("{:?}", t.trim()),
        Some(Response::Number(n)) => format!("{n}"),
        Some(Response::Choices(picks)) if picks.is_empty() => "(nothing picked)".to_string(),
        Some(Response::Choices(picks)) => {
            let mut labels: Vec<(usize, String)> = picks
                .iter()
                .map(|p| {
                    (
                        order.iter().position(|o| o == p).unwrap_or(usize::MAX),
                        option_label(p, order),
                    )
                })
                .collect();
            labels.sort();
            labels
                .into_iter()
                .map(|(_, l)| l)
                .collect::<Vec<_>>()
                .join("; ")
        }
        Some(Response::Tracing {
            compiles: true,
            stdout,
            ..
        }) => {
            format!(
                "compiles, prints {:?}",
                stdout.as_deref().unwrap_or("").trim_end()
            )
        }
        Some(Response::Tracing {
            compiles: false,
            line,
            ..
        }) => match line {
            Some(line) => format!("does not compile, error on line {line}"),
            None => "does not compile".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_code_and_drops_hidden_lines_and_marks() {
        let md = "Look at **this**:\n\n```aquascope,interpreter\n#fn main() {\nlet x = `[1]`;`[]`\n#}\n```\n\n- one\n- `two`\n\n2<sup>8</sup>";
        assert_eq!(
            markdown(md),
            "Look at this:\n\n    let x = 1;\n\n- one\n- `two`\n\n2^8"
        );
    }

    #[test]
    fn tables_become_rows() {
        assert_eq!(
            markdown("| a | b |\n|---|---|\n| 1 | 2 |\n"),
            "    a | b\n    1 | 2"
        );
    }
}
