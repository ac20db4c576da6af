//! The quiz crate's one integration-test binary: snapshot tests of rendered feedback and
//! diagnostics driven by fixture files, the repository's own quizzes, and the optional corpus.

mod corpus;
mod diagnostics;
mod feedback;
mod markdown;
mod sandbox;
mod tidy;

use std::path::{Path, PathBuf};

use quiz::grade::choices;
use quiz::{QuestionKind, Quiz, Response, VerifyOptions};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn repo_root() -> PathBuf {
    crate_dir().join("../..")
}

pub fn fixtures() -> PathBuf {
    crate_dir().join("tests/fixtures")
}

/// Verification options for tests: results cached under the target folder.
pub fn verify_options() -> VerifyOptions {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from);
    VerifyOptions {
        cache_dir: Some(target.join("quiz-tracing-cache")),
        ..VerifyOptions::default()
    }
}

/// Whether tracing programs can be verified here (the sandbox works). Without it, tests that
/// need it say so and skip that part, except under `CI`, where they fail.
pub fn can_verify() -> bool {
    match ::sandbox::Confinement::detect() {
        Ok(_) => true,
        Err(why) => {
            // The sandbox is Linux's: CI elsewhere checks everything else.
            assert!(
                std::env::var_os("CI").is_none() || !cfg!(target_os = "linux"),
                "CI needs the sandbox to verify tracing programs: {why}"
            );
            eprintln!("tracing programs not verified here: {why}");
            false
        }
    }
}

/// A path as shown in snapshots: relative to the repository, with `/` separators.
pub fn shown(path: &Path) -> String {
    let root = repo_root().canonicalize().unwrap();
    let path = path.canonicalize().unwrap();
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A response that is wrong for the question, of the right shape.
pub fn wrong_response(quiz: &Quiz, index: usize) -> Response {
    let q = &quiz.questions[index];
    match &q.kind {
        QuestionKind::ShortAnswer(_) => Response::Text("not the answer".into()),
        QuestionKind::Numeric(n) => Response::Number(n.answer + n.tolerance + 1.0),
        QuestionKind::MultipleChoice(mc) => {
            let key = quiz::grade::question_key(quiz, index);
            let shown = choices(mc, &key);
            match shown.iter().find(|c| !c.correct) {
                // Pick the first distractor shown, so its feedback is exercised.
                Some(d) => Response::Choices(vec![d.text.clone()]),
                // No distractors: leaving out the answer is the only wrong response.
                None => Response::Choices(vec![]),
            }
        }
        QuestionKind::Tracing(t) => {
            if t.does_compile {
                Response::Tracing {
                    compiles: false,
                    stdout: None,
                    line: Some(1),
                }
            } else {
                Response::Tracing {
                    compiles: true,
                    stdout: Some("nothing".into()),
                    line: None,
                }
            }
        }
    }
}

/// The three answer sets every quiz is snapshot under: the key, all wrong, and a mix
/// (odd-numbered questions right, even-numbered wrong).
pub fn answer_sets(quiz: &Quiz) -> [(&'static str, Vec<Option<Response>>); 3] {
    let key = quiz::key_responses(quiz);
    let wrong: Vec<Option<Response>> = (0..quiz.questions.len())
        .map(|i| Some(wrong_response(quiz, i)))
        .collect();
    let mix = (0..quiz.questions.len())
        .map(|i| {
            if i % 2 == 0 {
                key[i].clone()
            } else {
                wrong[i].clone()
            }
        })
        .collect();
    [("key", key), ("wrong", wrong), ("mix", mix)]
}
