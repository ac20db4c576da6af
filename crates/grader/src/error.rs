//! The grader's own failures, as opposed to the student's (which are verdicts in a report).

use std::path::{Path, PathBuf};

/// The grader's own failures: never the student's.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("`{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Cargo(String),
    #[error("{0}")]
    Toolchain(String),
    #[error("could not set up wasmtime: {0}")]
    Engine(String),
    #[error("scenario {scenario:?} does not fit the exercise: {source}")]
    Scenario {
        scenario: String,
        source: crate::run::ScenarioError,
    },
}

impl HarnessError {
    pub fn io(path: &Path, source: std::io::Error) -> HarnessError {
        HarnessError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
