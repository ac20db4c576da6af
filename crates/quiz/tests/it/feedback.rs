//! Snapshots of the feedback a student reads, for every quiz in the repository and every
//! valid fixture, under three answer sets: the key, all wrong, and a mix.

use std::path::Path;

use quiz::{QuizFile, grade, render};

use crate::{answer_sets, shown};

fn snapshot_feedback(path: &Path) {
    let file = QuizFile::load(path).unwrap();
    let quiz = file.quiz().unwrap_or_else(|e| {
        panic!(
            "{e}\n{}",
            file.render(&shown(path), &file.parsed.diagnostics, false)
        )
    });
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    // insta leaves the suffix empty when a glob matches one file; name it always.
    settings.set_snapshot_suffix(path.file_name().unwrap().to_string_lossy());
    settings.add_filter(
        &regex_escape(&crate::repo_root().canonicalize().unwrap().to_string_lossy()),
        "[repo]",
    );
    settings.set_description(format!("feedback for {}", shown(path)));
    settings.bind(|| {
        for (set, responses) in answer_sets(quiz) {
            let report = grade(quiz, &responses);
            match set {
                "key" => assert!(report.passed, "the key must pass"),
                "wrong" => assert_eq!(report.points, 0, "all-wrong answers must earn nothing"),
                _ => {}
            }
            // Wrong answers are shown without the solution first (as after a first attempt),
            // then with it (as after giving up), so both views are reviewed.
            let mut text =
                render::feedback(&file.name, quiz, &report, false, render::DEFAULT_WIDTH);
            if !report.passed {
                text.push_str("\n---- after giving up ----\n\n");
                text.push_str(&render::feedback(
                    &file.name,
                    quiz,
                    &report,
                    true,
                    render::DEFAULT_WIDTH,
                ));
            }
            insta::assert_snapshot!(format!("feedback-{set}"), text);
        }
    });
}

/// Escapes a literal for insta's regex filters.
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[test]
fn own_quizzes() {
    insta::glob!("../../../../quizzes", "*.toml", snapshot_feedback);
}

#[test]
fn plain_fixtures() {
    insta::glob!("../fixtures/valid", "*.toml", snapshot_feedback);
}

#[test]
fn questions_as_shown() {
    insta::glob!("../fixtures/valid", "*.toml", |path| {
        let file = QuizFile::load(path).unwrap();
        let quiz = file.quiz().unwrap();
        let text: Vec<String> = (0..quiz.questions.len())
            .map(|i| render::question(quiz, i, render::DEFAULT_WIDTH))
            .collect();
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        // insta leaves the suffix empty when a glob matches one file; name it always.
        settings.set_snapshot_suffix(path.file_name().unwrap().to_string_lossy());
        settings.bind(|| insta::assert_snapshot!("question", text.join("\n\n========\n\n")));
    });
}
