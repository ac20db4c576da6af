//! Chapter quizzes: loads, validates, grades and renders quiz files written in a superset of
//! [mdbook-quiz](https://github.com/cognitive-engineering-lab/mdbook-quiz)'s TOML format.
//!
//! Data flows one way: source text → [`parse`] (all problems as [`Diagnostic`]s, with spans)
//! → [`Quiz`] → responses ([`Response`], from [`parse_answers`] or a prompt) → [`grade`] →
//! [`QuizReport`] → [`render::feedback`]. Tracing questions can be checked with [`verify_quiz`]
//! (the `verify` feature, on by default: it starts processes, so a wasm build leaves it out).
//! The crate never prints or exits; it knows nothing of WebAssembly.
//!
//! # Format
//!
//! Every file mdbook-quiz accepts loads unchanged and is graded as mdbook-quiz grades it:
//! `[[questions]]` with `type` (`ShortAnswer`, `MultipleChoice`, `Tracing`), `id`, `multipart`,
//! `prompt.*`, `answer.*`, `context` and `promptExplanation`, plus a top-level `[multipart]`
//! table. What mdbook-quiz accepts but is doubtful (an unknown key, which it ignores, empty text,
//! an option listed twice) is a warning. Our additions, all optional:
//!
//! ```toml
//! format_version = 1            # our files say so at the top (and may hide `#` lines)
//! title = "Wasm memory"         # shown in feedback instead of the file name
//! pass.min_percent = 80         # default 100: every question right
//!
//! [[questions]]
//! type = "MultipleChoice"
//! points = 2                    # default 1
//! prompt.prompt = "How big is one page of wasm memory?"
//! prompt.distractors = [
//!   { text = "4 KiB", feedback = "that is a common OS page, not a wasm page" },
//!   "1 MiB",                    # plain strings still work
//! ]
//! answer.answer = "64 KiB"
//!
//! [[questions]]
//! type = "Numeric"              # a number with a tolerance
//! prompt.prompt = "How many bytes are 10 pages?"
//! prompt.unit = "bytes"
//! answer.answer = 655360
//! answer.tolerance = 0          # default 0
//! ```
//!
//! A tracing question may set `prompt.edition` (without it rustc's default, 2015, as in
//! mdbook-quiz) and `answer.gradeLineNumber = true` to ask for and grade the line of the
//! compiler error. Without it, as in mdbook-quiz, only whether the program compiles and its
//! output (compared trimmed) are graded. In a file with `format_version`, program lines that
//! start with `#` are hidden from the student (rustdoc's rule); mdbook-quiz shows and compiles
//! a program exactly as written, and so do we for its files.
//!
//! # Answers file
//!
//! See [`answers`] for the TOML a student (or CI) writes to answer a quiz non-interactively.

pub mod answers;
pub mod attempt;
pub mod diagnostic;
pub mod grade;
pub mod load;
pub mod model;
pub mod render;
#[cfg(feature = "verify")]
pub mod verify;

use std::path::{Path, PathBuf};

pub use answers::{AnswersError, parse_answers, write_answers};
pub use attempt::{Attempt, Stage};
pub use diagnostic::{Diagnostic, Rule, Severity};
pub use grade::{QuestionResult, QuizReport, Response, grade, key_responses};
pub use load::{Parsed, parse};
pub use model::{Question, QuestionKind, Quiz};
#[cfg(feature = "verify")]
pub use verify::{VerifyOptions, verify_quiz, verify_quizzes};

/// Errors of the library's file-level operations.
#[derive(Debug, thiserror::Error)]
pub enum QuizError {
    #[error("could not read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not a valid quiz ({summary}); run `cargo xtask quiz --check` on it to see why", path.display())]
    Invalid { path: PathBuf, summary: String },
    #[error("no quiz named `{chapter}` in `{}`; the quizzes there are: {available}", dir.display())]
    NotFound {
        chapter: String,
        dir: PathBuf,
        available: String,
    },
    #[error("`{chapter}` matches several quizzes ({matches}); give the full name")]
    Ambiguous { chapter: String, matches: String },
}

/// A quiz file as read from disk: its text and what validation made of it.
#[derive(Debug, Clone)]
pub struct QuizFile {
    pub path: PathBuf,
    /// The chapter id: the file stem, e.g. `21-wasm-memory`.
    pub name: String,
    pub source: String,
    pub parsed: Parsed,
}

impl QuizFile {
    /// Reads and validates a quiz file. Only I/O fails here; problems are in `parsed`. A file
    /// that is not UTF-8 is one such problem, pointed at its first bad byte (TOML is UTF-8).
    pub fn load(path: &Path) -> Result<QuizFile, QuizError> {
        let bytes = std::fs::read(path).map_err(|source| QuizError::Read {
            path: path.into(),
            source,
        })?;
        match String::from_utf8(bytes) {
            Ok(source) => Ok(QuizFile::from_source(path, source)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let source = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let mut file = QuizFile::from_source(path, String::new());
                let end = source[at..]
                    .chars()
                    .next()
                    .map_or(at, |c| at + c.len_utf8());
                file.parsed = Parsed {
                    quiz: None,
                    diagnostics: vec![
                        Diagnostic::error(Rule::NotUtf8, at..end, "the file is not UTF-8 text")
                            .with_label("this byte is not UTF-8")
                            .with_help("save the file as UTF-8, as TOML requires"),
                    ],
                };
                file.source = source;
                Ok(file)
            }
        }
    }

    /// Validates quiz text that came from `path`. Windows line endings (CRLF) are read as `\n`,
    /// as TOML allows: a file saved on Windows is the same quiz, its tracing programs and
    /// diagnostics included, with the same lines and columns.
    pub fn from_source(path: &Path, source: String) -> QuizFile {
        let source = if source.contains("\r\n") {
            source.replace("\r\n", "\n")
        } else {
            source
        };
        let parsed = parse(&source);
        let name = path
            .file_stem()
            .map_or_else(|| "quiz".into(), |s| s.to_string_lossy().into_owned());
        QuizFile {
            path: path.into(),
            name,
            source,
            parsed,
        }
    }

    /// The quiz, or [`QuizError::Invalid`] when validation found errors.
    pub fn quiz(&self) -> Result<&Quiz, QuizError> {
        self.parsed.quiz.as_ref().ok_or_else(|| QuizError::Invalid {
            path: self.path.clone(),
            summary: diagnostic::summary(&self.parsed.diagnostics),
        })
    }

    /// Renders `diagnostics` (this file's own, or more from [`verify_quiz`]) against this
    /// file's source, naming it `shown_as`.
    pub fn render(&self, shown_as: &str, diagnostics: &[Diagnostic], color: bool) -> String {
        diagnostic::render(shown_as, &self.source, diagnostics, color)
    }
}

/// Question ids used by more than one file: mdbook-quiz requires an id to be unique across
/// every quiz of a book. Each repeat is an error in the later file (in the order given),
/// naming where the id was first used.
pub fn duplicate_ids_across(
    files: &[&QuizFile],
    shown: impl Fn(&Path) -> String,
) -> Vec<(usize, Diagnostic)> {
    let mut first: std::collections::HashMap<&str, (usize, &Question)> = Default::default();
    let mut out = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        let Some(quiz) = &file.parsed.quiz else {
            continue;
        };
        for question in &quiz.questions {
            let Some(id) = question.id.as_deref() else {
                continue;
            };
            match first.get(id) {
                Some((other, earlier)) if *other != fi => {
                    let earlier_file = files[*other];
                    let at = earlier.id_span.clone().unwrap_or(earlier.span.clone());
                    let (line, col) = diagnostic::line_col(&earlier_file.source, at.start);
                    let span = question.id_span.clone().unwrap_or(question.span.clone());
                    out.push((
                        fi,
                        Diagnostic::error(Rule::DuplicateId, span, format!("duplicate question id `{id}`"))
                            .with_label("also used in another quiz")
                            .with_note(format!("first used at {}:{line}:{col}", shown(&earlier_file.path)))
                            .with_help("ids must be unique across every quiz of a course, as in mdbook-quiz; rename one"),
                    ));
                }
                Some(_) => {}
                None => {
                    first.insert(id, (fi, question));
                }
            }
        }
    }
    out
}

/// Finds a chapter's quiz in `dir`: a path to a file, the full file stem
/// (`21-wasm-memory`), or the chapter number the stem starts with (`21`).
pub fn find_quiz(dir: &Path, chapter: &str) -> Result<PathBuf, QuizError> {
    let as_path = Path::new(chapter);
    if as_path.extension().is_some_and(|e| e == "toml") && as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let files = quiz_files(dir)?;
    let stem = |p: &PathBuf| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if let Some(exact) = files.iter().find(|p| stem(p) == chapter) {
        return Ok(exact.clone());
    }
    let number = |s: &str| {
        s.split(['-', '_'])
            .next()
            .and_then(|n| n.parse::<u32>().ok())
    };
    let matches: Vec<&PathBuf> = match number(chapter) {
        Some(n) if chapter.chars().all(|c| c.is_ascii_digit()) => files
            .iter()
            .filter(|p| number(&stem(p)) == Some(n))
            .collect(),
        _ => files
            .iter()
            .filter(|p| stem(p).starts_with(chapter))
            .collect(),
    };
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(QuizError::NotFound {
            chapter: chapter.into(),
            dir: dir.into(),
            available: files
                .iter()
                .map(|p| format!("`{}`", stem(p)))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        many => Err(QuizError::Ambiguous {
            chapter: chapter.into(),
            matches: many
                .iter()
                .map(|p| format!("`{}`", stem(p)))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Every `*.toml` file in `dir`, sorted.
pub fn quiz_files(dir: &Path) -> Result<Vec<PathBuf>, QuizError> {
    let entries = std::fs::read_dir(dir).map_err(|source| QuizError::Read {
        path: dir.into(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
