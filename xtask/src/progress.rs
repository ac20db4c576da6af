//! The student's progress file: which exercises and quizzes are done, and how many hints were
//! shown. Small, human-readable TOML, written atomically; a missing or corrupt file is never
//! fatal (it is set aside and progress starts again).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file name, at the repository root.
pub const FILE_NAME: &str = ".progress.toml";

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    #[serde(default)]
    pub exercises: BTreeMap<String, ExerciseProgress>,
    #[serde(default)]
    pub quizzes: BTreeMap<String, QuizProgress>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseProgress {
    /// Every check passed at least once.
    #[serde(default)]
    pub done: bool,
    /// Best score so far, in percent.
    #[serde(default)]
    pub best_score: f64,
    /// How many hints `cargo xtask hint` has shown.
    #[serde(default)]
    pub hints_shown: usize,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizProgress {
    #[serde(default)]
    pub passed: bool,
    /// Best score so far, in percent.
    #[serde(default)]
    pub best_score: f64,
}

/// Where progress is kept for the repository at `root`.
pub fn path(root: &Path) -> PathBuf {
    root.join(FILE_NAME)
}

/// Loads progress. A missing file is empty progress; a corrupt one is renamed to
/// `.progress.toml.corrupt` and a warning is returned beside empty progress.
pub fn load(root: &Path) -> (Progress, Option<String>) {
    let file = path(root);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Progress::default(), None),
        Err(e) => {
            return (
                Progress::default(),
                Some(format!(
                    "could not read `{}` ({e}); starting from empty progress",
                    file.display()
                )),
            );
        }
    };
    match toml::from_str(&text) {
        Ok(progress) => (progress, None),
        Err(e) => {
            let aside = file.with_extension("toml.corrupt");
            let _ = std::fs::rename(&file, &aside);
            (
                Progress::default(),
                Some(format!(
                    "`{}` was not valid progress ({}); it was moved to `{}` and progress starts again",
                    file.display(),
                    e.message(),
                    aside.display()
                )),
            )
        }
    }
}

/// Writes progress atomically: a temporary file in the same folder, synced, then renamed over
/// the old one, so a killed run leaves either the old or the new file, never half of one.
pub fn save(root: &Path, progress: &Progress) -> anyhow::Result<()> {
    let file = path(root);
    let text = format!(
        "# wasm-course progress: written by `cargo xtask`, safe to delete\n{}",
        toml::to_string(progress).context("serialising progress")?
    );
    let tmp = file.with_extension(format!("toml.tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)
    };
    write().with_context(|| format!("writing `{}`", file.display()))
}

/// Loads, applies `change` and saves, returning the load warning if any.
pub fn update(root: &Path, change: impl FnOnce(&mut Progress)) -> anyhow::Result<Option<String>> {
    let (mut progress, warning) = load(root);
    change(&mut progress);
    save(root, &progress)?;
    Ok(warning)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("progress-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn round_trips_and_missing_is_empty() {
        let root = temp_root("round");
        assert_eq!(load(&root), (Progress::default(), None));
        update(&root, |p| {
            p.exercises.entry("21/01".into()).or_default().hints_shown = 2;
            p.quizzes.entry("21".into()).or_default().passed = true;
        })
        .unwrap();
        let (p, warning) = load(&root);
        assert_eq!(warning, None);
        assert_eq!(p.exercises["21/01"].hints_shown, 2);
        assert!(p.quizzes["21"].passed);
    }

    #[test]
    fn corrupt_file_is_set_aside_not_fatal() {
        let root = temp_root("corrupt");
        std::fs::write(path(&root), "exercises = [this is not toml").unwrap();
        let (p, warning) = load(&root);
        assert_eq!(p, Progress::default());
        assert!(warning.unwrap().contains("moved to"));
        assert!(root.join(".progress.toml.corrupt").exists());
        assert!(!path(&root).exists());
    }
}
