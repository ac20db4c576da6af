//! `cargo xtask quiz`: take a chapter quiz in the terminal, grade an answers file, or check
//! quiz files (any files, also outside this repository).
//!
//! Exit codes: 0 the quiz was passed (or `--check` found no errors), 1 the answers did not
//! pass, 2 the harness or its input failed (an invalid quiz or answers file, no terminal, ...).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Input, MultiSelect, Select};
use quiz::grade::{choices, letter, question_key};
use quiz::{QuestionKind, Quiz, QuizFile, QuizReport, Response, render};
use serde::Serialize;

const ANSWERS_HELP: &str = "\
Answers file (for --answers FILE): TOML keyed by question id or 1-based number.
  1 = \"b\"                                  # multiple choice, by the letter shown
  page-size = \"64 KiB (65,536 bytes)\"      # ... or by the option's text
  6 = [\"b\", \"d\"]                           # select all that apply
  3 = 655360                               # numeric
  20 = \"ArrayBuffer\"                       # short answer
  21 = { compiles = true, stdout = \"64\\nNone\" }
  22 = { compiles = false, line = 4 }      # tracing
Letters follow the order shown to --student (default: $USER). Left-out questions are wrong.

Exit codes: 0 passed (or --check clean), 1 the answers failed, 2 invalid input or harness error.";

/// Arguments of `cargo xtask quiz`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = ANSWERS_HELP)]
pub struct QuizArgs {
    /// The quiz: a chapter number (`21`), a quiz file stem (`21-wasm-memory`) or a path to any
    /// quiz file
    #[arg(required_unless_present = "check", conflicts_with = "check")]
    pub chapter: Option<String>,

    /// Answer non-interactively from a TOML answers file (see below), or `key` to answer with
    /// the quiz's own answer key
    #[arg(long, value_name = "FILE|key")]
    pub answers: Option<String>,

    /// Output format of `--answers` and `--check`
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// With `--answers`: also show right answers and explanations for wrong questions
    #[arg(long)]
    pub reveal: bool,

    /// Validate quiz files or folders of them (default: every quiz in `quizzes/`), compiling
    /// and running tracing programs to check their answer keys
    #[arg(long, num_args = 0.., value_name = "PATH")]
    pub check: Option<Vec<PathBuf>>,

    /// With `--check`: do not compile tracing programs
    #[arg(long)]
    pub no_verify: bool,

    /// Student name that seeds the order of options (default: `$USER`)
    #[arg(long)]
    pub student: Option<String>,

    /// Do not record the result in the progress file
    #[arg(long)]
    pub no_record: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

/// Runs `cargo xtask quiz` for the repository at `root`.
pub fn run(root: &Path, args: QuizArgs) -> anyhow::Result<ExitCode> {
    if let Some(paths) = &args.check {
        return check(root, paths, &args);
    }
    let chapter = args
        .chapter
        .as_deref()
        .context("name a quiz, e.g. `cargo xtask quiz 21`")?;
    let quizzes_dir = root.join("quizzes");
    let path = match quiz::find_quiz(&quizzes_dir, chapter) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let file = QuizFile::load(&path).with_context(|| format!("loading `{}`", path.display()))?;
    let Some(quiz) = file.parsed.quiz.as_ref() else {
        eprint!(
            "{}",
            file.render(
                &shown(root, &path),
                &file.parsed.diagnostics,
                color_stderr()
            )
        );
        eprintln!(
            "error: `{}` is not a valid quiz; fix the problems above",
            shown(root, &path)
        );
        return Ok(ExitCode::from(2));
    };
    // Only quizzes of this course count as progress; an author's outside quiz does not.
    let in_repo = path
        .canonicalize()
        .ok()
        .zip(quizzes_dir.canonicalize().ok())
        .is_some_and(|(p, d)| p.starts_with(d));
    let student = args.student.clone().unwrap_or_else(default_student);
    match args.answers.as_deref() {
        Some(answers) => answer_from_file(root, &file, quiz, answers, &student, &args, in_repo),
        None => interactive(root, &file, quiz, &student, in_repo && !args.no_record),
    }
}

fn default_student() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "student".into())
}

fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// A path as shown to the user: relative to the repository when inside it.
fn shown(root: &Path, path: &Path) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    absolute
        .strip_prefix(&root)
        .unwrap_or(&absolute)
        .display()
        .to_string()
}

fn record(root: &Path, name: &str, report: &QuizReport) -> anyhow::Result<()> {
    let warning = crate::progress::update(root, |p| {
        let q = p.quizzes.entry(name.to_string()).or_default();
        q.best_score = q.best_score.max(report.percent);
        q.passed |= report.passed;
    })?;
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonReport<'a> {
    quiz: &'a str,
    path: String,
    #[serde(flatten)]
    report: &'a QuizReport,
}

fn answer_from_file(
    root: &Path,
    file: &QuizFile,
    quiz: &Quiz,
    answers: &str,
    student: &str,
    args: &QuizArgs,
    in_repo: bool,
) -> anyhow::Result<ExitCode> {
    let from_key = answers == "key";
    let responses = if from_key {
        quiz::key_responses(quiz)
    } else {
        let text = match std::fs::read_to_string(answers) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: could not read answers file `{answers}`: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        match quiz::parse_answers(quiz, student, &text) {
            Ok(responses) => responses,
            Err(e) => {
                for problem in &e.problems {
                    eprintln!("error: `{answers}`: {problem}");
                }
                eprintln!("see `cargo xtask quiz --help` for the answers file format");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let report = quiz::grade(quiz, &responses);
    // The key proves nothing about a student, so it is never recorded.
    if in_repo && !from_key && !args.no_record {
        record(root, &file.name, &report)?;
    }
    match args.format {
        Format::Json => {
            let json = JsonReport {
                quiz: &file.name,
                path: shown(root, &file.path),
                report: &report,
            };
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Human => print!(
            "{}",
            render::feedback(&file.name, quiz, &report, student, args.reveal)
        ),
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: String,
    line: usize,
    column: usize,
    #[serde(flatten)]
    diagnostic: &'a quiz::Diagnostic,
}

pub fn check(root: &Path, paths: &[PathBuf], args: &QuizArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut files = Vec::new();
    let inputs = if paths.is_empty() {
        vec![root.join("quizzes")]
    } else {
        paths.to_vec()
    };
    for input in &inputs {
        if input.is_dir() {
            files.extend(quiz::quiz_files(input)?);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            eprintln!(
                "error: `{}` is neither a quiz file nor a folder",
                input.display()
            );
            return Ok(ExitCode::from(2));
        }
    }
    if files.is_empty() {
        eprintln!(
            "error: no `.toml` quiz files found in {}",
            inputs
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let loaded: Vec<QuizFile> = files
        .iter()
        .map(|p| QuizFile::load(p).with_context(|| format!("loading `{}`", p.display())))
        .collect::<Result<_, _>>()?;
    let mut diagnostics: Vec<Vec<quiz::Diagnostic>> = loaded
        .iter()
        .map(|f| f.parsed.diagnostics.clone())
        .collect();
    if !args.no_verify {
        let valid: Vec<(usize, &Quiz)> = loaded
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i, f.parsed.quiz.as_ref()?)))
            .collect();
        let quizzes: Vec<&Quiz> = valid.iter().map(|(_, q)| *q).collect();
        let options = quiz::VerifyOptions {
            cache_dir: Some(target_dir(root).join("quiz-tracing-cache")),
            ..Default::default()
        };
        for ((i, _), found) in valid.iter().zip(quiz::verify_quizzes(&quizzes, &options)) {
            diagnostics[*i].extend(found);
        }
    }
    let all: Vec<&quiz::Diagnostic> = diagnostics.iter().flatten().collect();
    let errors = all.iter().filter(|d| d.is_error()).count();
    let warnings = all.len() - errors;
    match args.format {
        Format::Json => {
            let mut out = Vec::new();
            for (file, found) in loaded.iter().zip(&diagnostics) {
                for d in found {
                    let (line, column) = d.line_col(&file.source);
                    out.push(JsonDiagnostic {
                        file: shown(root, &file.path),
                        line,
                        column,
                        diagnostic: d,
                    });
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Human => {
            for (file, found) in loaded.iter().zip(&diagnostics) {
                if !found.is_empty() {
                    eprint!(
                        "{}",
                        file.render(&shown(root, &file.path), found, color_stderr())
                    );
                }
            }
            let questions: usize = loaded
                .iter()
                .filter_map(|f| f.parsed.quiz.as_ref())
                .map(|q| q.questions.len())
                .sum();
            eprintln!(
                "checked {} quiz file{} ({questions} question{}{}) in {:.2?}: {errors} error{}, {warnings} warning{}",
                loaded.len(),
                plural(loaded.len()),
                plural(questions),
                if args.no_verify {
                    ", tracing programs not compiled"
                } else {
                    ""
                },
                started.elapsed(),
                plural(errors),
                plural(warnings),
            );
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

// ---- the interactive flow, as in mdbook-quiz: answer all, see the score, retry the wrong
// ones or give up and see the answers ----

fn interactive(
    root: &Path,
    file: &QuizFile,
    quiz: &Quiz,
    student: &str,
    record_progress: bool,
) -> anyhow::Result<ExitCode> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!(
            "error: the interactive quiz needs a terminal; use `--answers FILE` (see `--help`) to answer from a file"
        );
        return Ok(ExitCode::from(2));
    }
    let theme = ColorfulTheme::default();
    let title = quiz.title.clone().unwrap_or_else(|| file.name.clone());
    println!(
        "{title}: {} questions; use the arrow keys and Enter to answer, space to tick options.\n",
        quiz.questions.len()
    );
    let mut responses: Vec<Option<Response>> = vec![None; quiz.questions.len()];
    let mut to_ask: Vec<usize> = (0..quiz.questions.len()).collect();
    loop {
        for &i in &to_ask {
            println!("{}\n", render::question(quiz, i, student));
            responses[i] = Some(ask(&theme, quiz, i, student)?);
            if quiz.questions[i].prompt_explanation {
                let _: String = Input::with_theme(&theme)
                    .with_prompt("explain your answer in a sentence (not graded)")
                    .allow_empty(true)
                    .interact_text()?;
            }
            println!();
        }
        let report = quiz::grade(quiz, &responses);
        if record_progress {
            record(root, &file.name, &report)?;
        }
        println!(
            "You scored {} of {} points ({:.0}%).",
            report.points, report.max_points, report.percent
        );
        if report.passed {
            println!("Quiz passed!\n");
            print!(
                "{}",
                render::feedback(&file.name, quiz, &report, student, false)
            );
            return Ok(ExitCode::SUCCESS);
        }
        let wrong = report.wrong();
        let list: Vec<String> = wrong.iter().map(|i| (i + 1).to_string()).collect();
        println!(
            "Not passed yet (the pass mark is {:.0}%). Wrong: question {}.\n",
            report.min_percent,
            list.join(", ")
        );
        let next = Select::with_theme(&theme)
            .with_prompt("what next?")
            .items([
                "retry the wrong questions",
                "give up and see the answers",
                "quit",
            ])
            .default(0)
            .interact()?;
        match next {
            0 => {
                for &i in &wrong {
                    responses[i] = None;
                }
                to_ask = wrong;
            }
            1 => {
                print!(
                    "\n{}",
                    render::feedback(&file.name, quiz, &report, student, true)
                );
                return Ok(ExitCode::from(1));
            }
            _ => return Ok(ExitCode::from(1)),
        }
    }
}

fn ask(
    theme: &ColorfulTheme,
    quiz: &Quiz,
    index: usize,
    student: &str,
) -> anyhow::Result<Response> {
    let question = &quiz.questions[index];
    Ok(match &question.kind {
        QuestionKind::MultipleChoice(mc) => {
            let shown = choices(mc, &question_key(quiz, index), student);
            let items: Vec<String> = shown
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{}) {}", letter(i), one_line(&render::markdown(&c.text))))
                .collect();
            let picked: Vec<usize> = if mc.select_all {
                MultiSelect::with_theme(theme)
                    .with_prompt("select all that apply (space to tick, Enter to confirm)")
                    .items(&items)
                    .interact()?
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
                .with_prompt("does this program compile?")
                .items(["yes, it compiles", "no, it does not compile"])
                .default(0)
                .interact()?
                == 0;
            if compiles {
                println!("what does it print? one line at a time; an empty line ends the output");
                let mut lines = Vec::new();
                loop {
                    let line: String = Input::with_theme(theme)
                        .with_prompt(">")
                        .allow_empty(true)
                        .interact_text()?;
                    if line.is_empty() {
                        break;
                    }
                    lines.push(line);
                }
                Response::Tracing {
                    compiles,
                    stdout: Some(lines.join("\n")),
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
                let program = t.visible_program();
                let items: Vec<String> = program
                    .lines()
                    .enumerate()
                    .map(|(i, l)| format!("{:>3} | {l}", i + 1))
                    .collect();
                if items.is_empty() {
                    bail!("the program has no visible lines to pick from");
                }
                let line = Select::with_theme(theme)
                    .with_prompt("which line has the first error?")
                    .items(&items)
                    .interact()?;
                Response::Tracing {
                    compiles,
                    stdout: None,
                    line: Some(line + 1),
                }
            }
        }
    })
}

/// The first non-empty line of a rendered option, marked when more follows.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("").to_string();
    if lines.next().is_some() {
        format!("{first} (...)")
    } else {
        first
    }
}
