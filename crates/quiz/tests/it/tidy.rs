//! Checks of the repository's own quizzes beyond validity: they declare `format_version`,
//! explain every question and give feedback on every distractor.

use quiz::{QuestionKind, QuizFile};

use crate::repo_root;

#[test]
fn own_quizzes_explain_every_question_and_distractor() {
    let files = quiz::quiz_files(&repo_root().join("quizzes")).unwrap();
    assert!(!files.is_empty(), "the repository has no quizzes");
    for path in files {
        let file = QuizFile::load(&path).unwrap();
        let quiz = file.quiz().unwrap();
        assert_eq!(
            quiz.format_version,
            Some(1),
            "{}: add `format_version = 1` at the top",
            file.name
        );
        assert!(
            quiz.questions.len() >= 12,
            "{}: a chapter quiz has at least 12 questions",
            file.name
        );
        for (i, q) in quiz.questions.iter().enumerate() {
            assert!(
                q.id.is_some(),
                "{} question {}: give it an `id`",
                file.name,
                i + 1
            );
            assert!(
                q.context.is_some(),
                "{} question {}: add a `context` explanation",
                file.name,
                i + 1
            );
            if let QuestionKind::MultipleChoice(mc) = &q.kind {
                for d in &mc.distractors {
                    assert!(
                        d.feedback.is_some(),
                        "{} question {}: distractor {:?} has no feedback",
                        file.name,
                        i + 1,
                        d.text
                    );
                }
            }
        }
    }
}

#[test]
fn chapter_quiz_is_found_by_number_and_by_stem() {
    let dir = repo_root().join("quizzes");
    let by_number = quiz::find_quiz(&dir, "21").unwrap();
    assert_eq!(quiz::find_quiz(&dir, "21-wasm-memory").unwrap(), by_number);
    assert!(matches!(
        quiz::find_quiz(&dir, "99"),
        Err(quiz::QuizError::NotFound { .. })
    ));
}

#[test]
fn no_pending_snapshots_are_left_behind() {
    let dir = crate::crate_dir().join("tests/it/snapshots");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".snap"),
            "stray file `{name}` in tests/it/snapshots: accept or delete it"
        );
    }
}
