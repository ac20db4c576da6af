//! The interactive quiz, run as mdbook-quiz runs one: every question answered, then the review
//! (✔ or ✘ for each, the answer given, why a wrong pick is wrong), then retry the wrong ones
//! or give up and see the answers with their context. Answers are saved after every question
//! (`.quiz-sessions/<quiz>.json`, tied to the quiz's text by a hash, like mdbook-quiz's
//! local storage), so quitting loses nothing and the next run resumes where this one stopped.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use dialoguer::console::style;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, MultiSelect, Select};
use quiz::grade::{choices, letter, question_key};
use quiz::{Attempt, QuestionKind, Quiz, QuizFile, Response, render};

use super::{record, width};

/// The folder of saved answers, at the repository root.
const SESSIONS: &str = ".quiz-sessions";

/// Answers of an attempt in progress, as saved between questions (the quiz crate's
/// [`Attempt`], which the web page keeps in the browser too).
type Saved = Attempt;

fn session_file(root: &Path, name: &str) -> PathBuf {
    root.join(SESSIONS).join(format!("{name}.json"))
}

/// Writes the answers so far, atomically.
fn save(file: &Path, saved: &Saved) -> anyhow::Result<()> {
    let dir = file.parent().context("a session file has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let tmp = file.with_extension("json.tmp");
    let mut out =
        std::fs::File::create(&tmp).with_context(|| format!("writing `{}`", tmp.display()))?;
    out.write_all(serde_json::to_string_pretty(saved)?.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&tmp, file).with_context(|| format!("writing `{}`", file.display()))?;
    Ok(())
}

/// The answers saved by an earlier run, if they belong to this version of the quiz.
fn load(file: &Path, quiz: &Quiz, quiz_hash: &str) -> Option<Saved> {
    let text = std::fs::read_to_string(file).ok()?;
    let saved: Saved = serde_json::from_str(&text).ok()?;
    saved.fits(quiz, quiz_hash).then_some(saved)
}

/// The theme of every prompt: an answer is followed by a neutral mark, never a ✔ that would
/// say it was right before it is graded.
fn theme() -> ColorfulTheme {
    ColorfulTheme {
        success_prefix: style("·".to_string()).for_stderr().dim(),
        ..ColorfulTheme::default()
    }
}

pub fn interactive(
    root: &Path,
    file: &QuizFile,
    quiz: &Quiz,
    keep: bool,
    restart: bool,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!(
            "error: the interactive quiz needs a terminal; use `--answers FILE` (see `--help`) to answer from a file"
        );
        return Ok(ExitCode::from(2));
    }
    let theme = theme();
    let width = width();
    let hash = quiz::attempt::quiz_hash(&file.source);
    let session = session_file(root, &file.name);
    let title = quiz.title.clone().unwrap_or_else(|| file.name.clone());
    let mut saved = match (restart, load(&session, quiz, &hash)) {
        (false, Some(saved)) => {
            let answered = quiz.questions.len() - saved.to_ask.len();
            println!(
                "{title}: resuming attempt {}, {answered} of {} questions answered (`--restart` starts over).\n",
                saved.attempt + 1,
                quiz.questions.len(),
            );
            saved
        }
        _ => {
            println!(
                "{title}: {} questions; arrow keys and Enter answer, space ticks an option. Answers are saved as you go.\n",
                quiz.questions.len()
            );
            Saved::fresh(quiz, hash)
        }
    };
    loop {
        while let Some(&i) = saved.to_ask.first() {
            println!("{}\n", render::question(quiz, i, width));
            let response = ask(&theme, quiz, i)?;
            // As in mdbook-quiz, the explanation is asked on the first attempt only.
            if quiz.questions[i].prompt_explanation && saved.attempt == 0 {
                let _: String = Input::with_theme(&theme)
                    .with_prompt("in a sentence or two, why this answer? (not graded)")
                    .allow_empty(true)
                    .interact_text()?;
            }
            saved.answer(response);
            if keep {
                save(&session, &saved)?;
            }
            println!();
        }
        let report = quiz::grade(quiz, &saved.responses);
        if keep {
            record(root, &file.name, &report)?;
        }
        if report.passed {
            print!(
                "{}",
                render::feedback(&file.name, quiz, &report, true, width)
            );
            println!("\nQuiz passed!");
            let _ = std::fs::remove_file(&session);
            return Ok(ExitCode::SUCCESS);
        }
        print!(
            "{}",
            render::feedback(&file.name, quiz, &report, false, width)
        );
        println!();
        let next = Select::with_theme(&theme)
            .with_prompt("what next?")
            .items([
                "retry the wrong questions",
                "give up and see the answers",
                "quit (your answers are kept for next time)",
            ])
            .default(0)
            .interact()?;
        match next {
            0 => {
                saved.retry(quiz);
                if keep {
                    save(&session, &saved)?;
                }
                println!();
            }
            1 => {
                print!(
                    "\n{}",
                    render::feedback(&file.name, quiz, &report, true, width)
                );
                let _ = std::fs::remove_file(&session);
                return Ok(ExitCode::from(1));
            }
            _ => return Ok(ExitCode::from(1)),
        }
    }
}

/// The first line of a rendered option, for the picker (the whole text is printed above it).
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() {
        format!("{first} (more above)")
    } else {
        first
    }
}

fn ask(theme: &ColorfulTheme, quiz: &Quiz, index: usize) -> anyhow::Result<Response> {
    let question = &quiz.questions[index];
    Ok(match &question.kind {
        QuestionKind::MultipleChoice(mc) => {
            let shown = choices(mc, &question_key(quiz, index));
            let items: Vec<String> = shown
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    format!(
                        "{}) {}",
                        letter(i),
                        one_line(&render::markdown(&c.text, usize::MAX / 2))
                    )
                })
                .collect();
            let picked: Vec<usize> = if mc.select_all {
                loop {
                    let picked = MultiSelect::with_theme(theme)
                        .with_prompt("select all that apply (space ticks, Enter confirms)")
                        .items(&items)
                        .interact()?;
                    // mdbook-quiz asks for at least one tick.
                    if !picked.is_empty() {
                        break picked;
                    }
                    println!("tick at least one option");
                }
            } else {
                vec![
                    Select::with_theme(theme)
                        .with_prompt("your answer")
                        .items(&items)
                        .default(0)
                        .interact()?,
                ]
            };
            Response::Choices(picked.into_iter().map(|i| shown[i].text.clone()).collect())
        }
        QuestionKind::ShortAnswer(_) => Response::Text(
            Input::<String>::with_theme(theme)
                .with_prompt("your answer")
                .interact_text()?,
        ),
        QuestionKind::Numeric(n) => {
            let prompt = match &n.unit {
                Some(unit) => format!("your answer (in {unit})"),
                None => "your answer".to_string(),
            };
            let text: String = Input::with_theme(theme)
                .with_prompt(prompt)
                .validate_with(|s: &String| match quiz::answers::parse_number(s) {
                    Some(_) => Ok(()),
                    None => Err("write a number, e.g. 655360"),
                })
                .interact_text()?;
            Response::Number(quiz::answers::parse_number(&text).unwrap_or(f64::NAN))
        }
        QuestionKind::Tracing(t) => {
            let compiles = Select::with_theme(theme)
                .with_prompt("this program")
                .items(["DOES compile", "does NOT compile"])
                .default(0)
                .interact()?
                == 0;
            if compiles {
                Response::Tracing {
                    compiles,
                    stdout: Some(read_output(theme)?),
                    line: None,
                }
            } else if !t.grade_line_number {
                // As in mdbook-quiz, the error's line is not asked unless the quiz grades it.
                Response::Tracing {
                    compiles,
                    stdout: None,
                    line: None,
                }
            } else {
                let items: Vec<String> = t
                    .shown_lines()
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("{:>3} | {l}", i + 1))
                    .collect();
                let line = if items.is_empty() {
                    None
                } else {
                    Some(
                        Select::with_theme(theme)
                            .with_prompt("which line has the first error?")
                            .items(&items)
                            .interact()?
                            + 1,
                    )
                };
                Response::Tracing {
                    compiles,
                    stdout: None,
                    line,
                }
            }
        }
    })
}

/// The program's output, typed line by line. Empty lines are part of it; a line holding only
/// `.` ends it (and `..` types a line holding `.`).
fn read_output(theme: &ColorfulTheme) -> anyhow::Result<String> {
    println!(
        "type what it prints, line by line; empty lines count. A line holding only `.` ends the output (`..` for a line holding `.`)."
    );
    let mut lines = Vec::new();
    loop {
        let line: String = Input::with_theme(theme)
            .with_prompt("|")
            .allow_empty(true)
            .interact_text()?;
        match line.as_str() {
            "." => break,
            ".." => lines.push(".".to_string()),
            _ => lines.push(line),
        }
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIZ: &str = "[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"p\"\nanswer.answer = \"mut\"\n\n[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"q\"\nanswer.answer = \"move\"\n";

    /// What one run saved, the next run resumes; answers to another version of the quiz are
    /// not resumed.
    #[test]
    fn answers_are_resumed_for_the_same_quiz_only() {
        let quiz = quiz::parse(QUIZ).quiz.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = session_file(dir.path(), "chapter");
        let mut saved = Saved::fresh(&quiz, "first".into());
        saved.responses[0] = Some(Response::Text("mut".into()));
        saved.to_ask.remove(0);
        save(&file, &saved).unwrap();
        let resumed = load(&file, &quiz, "first").unwrap();
        assert_eq!(resumed.to_ask, [1]);
        assert_eq!(resumed.responses, saved.responses);
        assert!(load(&file, &quiz, "edited").is_none());
        std::fs::write(&file, "{ not json").unwrap();
        assert!(load(&file, &quiz, "first").is_none());
    }
}
