//! The real mdbook-quiz corpus, when it sits beside the repository: every file loads, renders
//! and grades its own key as 100%. Nothing of it goes into snapshots. Without the corpus the
//! same checks run over the repository's own quizzes and plain-format fixtures.

use std::path::PathBuf;

use quiz::{QuizFile, grade, key_responses, render};

use crate::{fixtures, repo_root};

fn check_loads_renders_and_key_scores_full(files: &[PathBuf]) {
    assert!(!files.is_empty(), "no quiz files to check");
    for path in files {
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
        let report = grade(quiz, &key_responses(quiz));
        assert_eq!(
            report.percent,
            100.0,
            "{}: the key does not score 100%",
            path.display()
        );
        assert!(report.passed);
        let text = render::feedback(&file.name, quiz, &report, true, render::DEFAULT_WIDTH);
        assert!(text.contains("passed"), "{text}");
    }
}

#[test]
fn corpus_or_own_quizzes_load_render_and_grade_their_key() {
    let corpus = repo_root().join("../shared/quiz-corpus");
    let mut files = quiz::quiz_files(&repo_root().join("quizzes")).unwrap();
    files.extend(quiz::quiz_files(&fixtures().join("valid")).unwrap());
    if corpus.is_dir() {
        let corpus_files = quiz::quiz_files(&corpus).unwrap();
        assert!(
            corpus_files.len() >= 12,
            "the corpus should hold twelve quizzes"
        );
        files.extend(corpus_files);
    }
    check_loads_renders_and_key_scores_full(&files);
}

#[test]
fn corpus_tracing_keys_match_rustc() {
    let corpus = repo_root().join("../shared/quiz-corpus");
    let dir = if corpus.is_dir() {
        corpus
    } else {
        fixtures().join("valid")
    };
    let files: Vec<QuizFile> = quiz::quiz_files(&dir)
        .unwrap()
        .iter()
        .map(|p| QuizFile::load(p).unwrap())
        .collect();
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
