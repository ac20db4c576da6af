//! `cargo xtask quiz`: take a chapter quiz in the terminal (`session`), grade an answers
//! file, check quiz files (`check`; any files, also outside this repository), or write the
//! quizzes as a static web site (`web`).
//!
//! Exit codes: 0 the quiz was passed (or `--check` found no errors), 1 the answers did not
//! pass, 2 the harness or its input failed (an invalid quiz or answers file, no terminal, ...).

mod check;
mod session;
pub mod web;

pub use check::check;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use quiz::{Quiz, QuizFile, QuizReport, render};
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
Letters are those the quiz shows (the same for everyone); an option's text works too.
Left-out questions are wrong. For a program that prints nothing, write stdout = \"\".

Exit codes: 0 passed (or --check clean), 1 the answers failed, 2 invalid input or harness error.";

/// Arguments of `cargo xtask quiz`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = ANSWERS_HELP)]
pub struct QuizArgs {
    /// The quiz: a chapter number (`21`), a quiz file stem (`21-wasm-memory`) or a path to any
    /// quiz file (with `--web`: any number of them, all quizzes when none is named)
    #[arg(required_unless_present_any = ["check", "web"], conflicts_with = "check")]
    pub chapter: Vec<String>,

    /// Write the quizzes as a static site into OUT_DIR: an index and one page per quiz, which
    /// run in any browser, offline and from `file://`
    #[arg(long, value_name = "OUT_DIR", conflicts_with_all = ["check", "answers", "restart"])]
    pub web: Option<PathBuf>,

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

    /// Start the quiz from the first question, forgetting answers saved by an earlier run
    #[arg(long)]
    pub restart: bool,

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
        return check::check(root, paths, &args);
    }
    if let Some(out) = &args.web {
        return web::write_site(root, out, &args.chapter);
    }
    let chapter = match args.chapter.as_slice() {
        [one] => one.as_str(),
        [] => anyhow::bail!("name a quiz, e.g. `cargo xtask quiz 21`"),
        _ => {
            eprintln!("error: name one quiz to take (several are for `--web`)");
            return Ok(ExitCode::from(2));
        }
    };
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
    match args.answers.as_deref() {
        Some(answers) => answer_from_file(root, &file, quiz, answers, &args, in_repo),
        None => session::interactive(root, &file, quiz, in_repo && !args.no_record, args.restart),
    }
}

/// The width text is wrapped to: the terminal's, within reason, or the default off a terminal.
fn width() -> usize {
    let term = dialoguer::console::Term::stdout();
    if term.is_term() {
        usize::from(term.size().1).clamp(40, 100)
    } else {
        render::DEFAULT_WIDTH
    }
}

fn color_stderr() -> bool {
    crate::terminal::colours(&std::io::stderr())
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
        match quiz::parse_answers(quiz, &text) {
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
            render::feedback(&file.name, quiz, &report, args.reveal, width())
        ),
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
