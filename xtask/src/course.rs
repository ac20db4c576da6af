//! The course on disk: chapters and exercises under `exercises/`, each exercise a folder with an
//! `exercise.toml`, the student's crate (`Cargo.toml`, `src/`), a reference solution and broken
//! variants. This is the only module that knows that layout.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use grader::spec::{Exports, Scenario, Spec};

/// `exercise.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseFile {
    pub title: String,
    /// The lesson it belongs to, e.g. "21 Wasm Memory Model".
    pub lesson: String,
    /// Markdown shown by `cargo xtask list` and on failure.
    pub statement: String,
    /// Progressive hints, shown one at a time by `cargo xtask hint`.
    #[serde(default)]
    pub hints: Vec<String>,
    #[serde(default)]
    pub exports: Exports,
    #[serde(default)]
    pub scenario: Vec<Scenario>,
    /// Deliberately broken variants and the verdict that must catch each.
    #[serde(default)]
    pub broken: Vec<Broken>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broken {
    /// A `lib.rs` replacement, relative to the exercise folder.
    pub file: PathBuf,
    /// The verdict (e.g. `leak`) the grader must reach for it.
    pub verdict: String,
}

/// One exercise found on disk.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// `21-wasm-memory/01-copy-in-copy-out`
    pub id: String,
    pub dir: PathBuf,
    pub file: ExerciseFile,
}

impl Exercise {
    pub fn spec(&self) -> Spec {
        Spec {
            exports: self.file.exports.clone(),
            scenarios: self.file.scenario.clone(),
        }
    }

    pub fn chapter(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }

    /// A staging slot name for this exercise and a variant (`student`, `solution`, ...).
    pub fn slot(&self, variant: &str) -> String {
        format!("{}-{variant}", self.id.replace('/', "-"))
    }
}

/// The repository root (xtask's parent folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the repository")
        .to_path_buf()
}

pub fn exercises_dir(root: &Path) -> PathBuf {
    root.join("exercises")
}

/// Where the grader keeps staged crates, its target directory and module cache.
pub fn work_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("grader")
}

pub fn guest_crate(root: &Path) -> PathBuf {
    root.join("crates/course-guest")
}

/// Every exercise, sorted by id. Each entry is the exercise or the error loading it, so one
/// malformed file does not hide the others.
pub fn discover(root: &Path) -> anyhow::Result<Vec<Result<Exercise, String>>> {
    let mut out = Vec::new();
    let dir = exercises_dir(root);
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading `{}`", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "template"))
        .collect();
    chapters.sort();
    for chapter in chapters {
        let mut exercises: Vec<PathBuf> = std::fs::read_dir(&chapter)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("exercise.toml").is_file())
            .collect();
        exercises.sort();
        for dir in exercises {
            let id = format!(
                "{}/{}",
                chapter.file_name().unwrap().to_string_lossy(),
                dir.file_name().unwrap().to_string_lossy()
            );
            out.push(load(&dir).map(|file| Exercise {
                id,
                dir: dir.clone(),
                file,
            }));
        }
    }
    Ok(out)
}

/// Loads an `exercise.toml`; the error names the file, line and column.
pub fn load(dir: &Path) -> Result<ExerciseFile, String> {
    let path = dir.join("exercise.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| locate(&path, &text, &e))
}

/// Formats a TOML error as `file:line:col: message` with the source line underlined.
pub fn locate(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return format!("{}: {}", path.display(), e.message());
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    let source = text[line_start..].lines().next().unwrap_or("");
    let width = text[span.start.min(text.len())..span.end.min(text.len())]
        .chars()
        .count()
        .max(1);
    let width = width.min(source.chars().count().saturating_sub(col - 1).max(1));
    format!(
        "{}:{line}:{col}: {}\n{line:>5} | {source}\n      | {}{}",
        path.display(),
        e.message(),
        " ".repeat(col - 1),
        "^".repeat(width)
    )
}

/// Exercises matching a filter: empty for all, a chapter (`21`, `21-wasm-memory`), or an
/// exercise (`21-wasm-memory/01-copy-in-copy-out` or `01-copy-in-copy-out`).
pub fn select<'a>(all: &'a [Exercise], filter: Option<&str>) -> anyhow::Result<Vec<&'a Exercise>> {
    let Some(filter) = filter.map(|f| f.trim_end_matches('/')) else {
        return Ok(all.iter().collect());
    };
    let chosen: Vec<&Exercise> = all
        .iter()
        .filter(|e| {
            let (chapter, name) = e.id.split_once('/').unwrap_or((&e.id, ""));
            e.id == filter
                || chapter == filter
                || chapter.split('-').next() == Some(filter)
                || name == filter
                || (filter.contains('/') && e.id.starts_with(filter))
        })
        .collect();
    if chosen.is_empty() {
        bail!("no exercise or chapter matches `{filter}`; `cargo xtask list` shows them all");
    }
    Ok(chosen)
}
