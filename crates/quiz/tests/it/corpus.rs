//! Quiz files as mdbook-quiz's authors write them, graded with answers mdbook-quiz would
//! accept (another case, surrounding white space, an alternative, picks in another order, no
//! error line): every one scores 100%. The repository's own corpus (its quizzes, the valid
//! fixtures and `tests/fixtures/accepted/`) always runs; the Rust Book's quiz files join it when
//! the shared corpus sits beside the repository, and the test says when it does not.

use std::fmt::Write as _;
use std::path::PathBuf;

use quiz::{QuestionKind, Quiz, QuizFile, Response, grade, key_responses, render};

use crate::{fixtures, repo_root};

fn shared_corpus() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/quiz-corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "the shared quiz corpus is not beside the repository: only the repository's own corpus was graded"
        );
        None
    }
}

fn own_corpus() -> Vec<PathBuf> {
    let mut files = quiz::quiz_files(&repo_root().join("quizzes")).unwrap();
    files.extend(quiz::quiz_files(&fixtures().join("valid")).unwrap());
    files.extend(quiz::quiz_files(&fixtures().join("accepted")).unwrap());
    files
}

/// The key, changed the ways mdbook-quiz's comparisons forgive.
fn accepted_responses(quiz: &Quiz) -> Vec<Option<Response>> {
    quiz.questions
        .iter()
        .map(|q| {
            Some(match &q.kind {
                QuestionKind::ShortAnswer(s) => {
                    let answer = s.alternatives.last().unwrap_or(&s.answer);
                    Response::Text(format!("  {}\t", answer.to_uppercase()))
                }
                QuestionKind::MultipleChoice(mc) => {
                    Response::Choices(mc.answers.iter().rev().cloned().collect())
                }
                QuestionKind::Tracing(t) => Response::Tracing {
                    compiles: t.does_compile,
                    stdout: t.stdout.as_ref().map(|s| format!("\n  {s}  \n\n")),
                    // mdbook-quiz never asks for the line; only a quiz that opts in grades it.
                    line: t.line_number.filter(|_| t.grade_line_number),
                },
                QuestionKind::Numeric(_) => Response::key(q),
            })
        })
        .collect()
}

/// The same responses written as an answers file, options named by their text.
fn answers_file(quiz: &Quiz, responses: &[Option<Response>]) -> String {
    let mut out = String::new();
    for (i, response) in responses.iter().enumerate() {
        let value = match response {
            Some(Response::Text(t)) => toml::Value::String(t.clone()),
            Some(Response::Choices(picks)) => {
                let QuestionKind::MultipleChoice(mc) = &quiz.questions[i].kind else {
                    unreachable!()
                };
                if mc.select_all {
                    toml::Value::Array(picks.iter().cloned().map(toml::Value::String).collect())
                } else {
                    toml::Value::String(picks[0].clone())
                }
            }
            Some(Response::Number(n)) => toml::Value::Float(*n),
            Some(Response::Tracing {
                compiles,
                stdout,
                line,
            }) => {
                let mut t = toml::Table::new();
                t.insert("compiles".into(), toml::Value::Boolean(*compiles));
                if let Some(s) = stdout {
                    t.insert("stdout".into(), toml::Value::String(s.clone()));
                }
                if let Some(line) = line {
                    t.insert("line".into(), toml::Value::Integer(*line as i64));
                }
                toml::Value::Table(t)
            }
            None => continue,
        };
        let _ = writeln!(out, "{} = {value}", i + 1);
    }
    out
}

#[test]
fn every_corpus_file_loads_renders_and_scores_100_percent_with_answers_mdbook_quiz_accepts() {
    let mut files = own_corpus();
    if let Some(dir) = shared_corpus() {
        let shared = quiz::quiz_files(&dir).unwrap();
        assert!(shared.len() >= 12, "the corpus should hold twelve quizzes");
        files.extend(shared);
    }
    for path in &files {
        let file = QuizFile::load(path).unwrap();
        let errors: Vec<_> = file
            .parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            file.render(&file.name, &file.parsed.diagnostics, false)
        );
        let quiz = file.quiz().unwrap();
        for i in 0..quiz.questions.len() {
            assert!(!render::question(quiz, i, render::DEFAULT_WIDTH).is_empty());
        }
        for (how, responses) in [
            ("the key", key_responses(quiz)),
            ("answers mdbook-quiz accepts", accepted_responses(quiz)),
        ] {
            let report = grade(quiz, &responses);
            assert_eq!(
                report.percent,
                100.0,
                "{}: {how} do not score 100%: {:?}",
                path.display(),
                report.wrong()
            );
            let text = answers_file(quiz, &responses);
            let parsed = quiz::parse_answers(quiz, &text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            assert!(
                grade(quiz, &parsed).passed,
                "{}: {how}, as an answers file, do not pass",
                path.display()
            );
        }
        let report = grade(quiz, &key_responses(quiz));
        let text = render::feedback(&file.name, quiz, &report, true, render::DEFAULT_WIDTH);
        assert!(text.contains("passed"), "{text}");
    }
}

#[test]
fn corpus_tracing_keys_match_what_the_programs_do() {
    if !crate::can_verify() {
        return;
    }
    let mut paths = own_corpus();
    paths.extend(
        shared_corpus()
            .map(|dir| quiz::quiz_files(&dir).unwrap())
            .unwrap_or_default(),
    );
    let files: Vec<QuizFile> = paths.iter().map(|p| QuizFile::load(p).unwrap()).collect();
    let quizzes: Vec<_> = files.iter().map(|f| f.quiz().unwrap()).collect();
    let found = quiz::verify_quizzes(&quizzes, &crate::verify_options());
    for (file, diagnostics) in files.iter().zip(found) {
        let errors: Vec<_> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
        assert!(
            errors.is_empty(),
            "{}",
            file.render(&file.name, &errors, false)
        );
    }
}
