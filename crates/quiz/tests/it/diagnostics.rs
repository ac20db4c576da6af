//! Snapshots of the diagnostics for broken quiz files, one fixture per validation rule, named
//! by the rule it must trip. Tracing fixtures are verified with `rustc` like `--check` does.

use quiz::{QuizFile, Rule, verify_quiz};

use crate::shown;

#[test]
fn each_broken_fixture_trips_its_rule() {
    insta::glob!("../fixtures/invalid", "*.toml", |path| {
        let file = QuizFile::load(path).unwrap();
        let mut found = file.parsed.diagnostics.clone();
        let rule = file.name.as_str();
        if file.parsed.quiz.is_some() && rule.starts_with("tracing-") && !crate::can_verify() {
            return;
        }
        if let Some(quiz) = &file.parsed.quiz {
            let mut options = crate::verify_options();
            options.run_timeout = std::time::Duration::from_secs(2);
            found.extend(verify_quiz(quiz, &options));
        }
        assert!(
            found.iter().any(|d| d.rule.name() == rule),
            "`{}` should trip `{rule}` but gave:\n{}",
            shown(path),
            file.render(&shown(path), &found, false)
        );
        let rendered = file.render(&shown(path), &found, false);
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        // insta leaves the suffix empty when a glob matches one file; name it always.
        settings.set_snapshot_suffix(path.file_name().unwrap().to_string_lossy());
        settings.add_filter(r"quiz-tracing-[A-Za-z0-9]+", "quiz-tracing-[tmp]");
        settings.bind(|| insta::assert_snapshot!("diagnostics", rendered));
    });
}

#[test]
fn every_rule_has_a_broken_fixture() {
    let dir = crate::fixtures().join("invalid");
    for rule in Rule::ALL {
        assert!(
            dir.join(format!("{}.toml", rule.name())).is_file(),
            "add tests/fixtures/invalid/{}.toml",
            rule.name()
        );
    }
}

#[test]
fn valid_fixtures_have_no_diagnostics_even_after_verification() {
    let verify = crate::can_verify();
    for path in quiz::quiz_files(&crate::fixtures().join("valid")).unwrap() {
        let file = QuizFile::load(&path).unwrap();
        let mut found = file.parsed.diagnostics.clone();
        if verify {
            found.extend(verify_quiz(file.quiz().unwrap(), &crate::verify_options()));
        }
        assert!(
            found.is_empty(),
            "{}",
            file.render(&shown(&path), &found, false)
        );
    }
}

#[test]
fn an_id_repeated_in_another_quiz_is_reported_where_it_is_repeated() {
    let files: Vec<QuizFile> = quiz::quiz_files(&crate::fixtures().join("across"))
        .unwrap()
        .iter()
        .map(|p| QuizFile::load(p).unwrap())
        .collect();
    let all: Vec<&QuizFile> = files.iter().collect();
    let found = quiz::duplicate_ids_across(&all, shown);
    assert_eq!(found.len(), 1, "{found:?}");
    let (index, diagnostic) = &found[0];
    assert_eq!(files[*index].name, "second");
    assert_eq!(diagnostic.rule, Rule::DuplicateId);
    let rendered = files[*index].render(
        &shown(&files[*index].path),
        std::slice::from_ref(diagnostic),
        false,
    );
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("duplicate-id-across-files", rendered));
}

/// A quiz saved with Windows line endings (CRLF) is the same quiz: the same questions, and the
/// same diagnostics at the same lines and columns, rendered the same.
#[test]
fn crlf_line_endings_change_nothing() {
    let mut paths = Vec::new();
    for dir in ["valid", "invalid", "across"] {
        paths.extend(quiz::quiz_files(&crate::fixtures().join(dir)).unwrap());
    }
    paths.extend(quiz::quiz_files(&crate::repo_root().join("quizzes")).unwrap());
    assert!(paths.len() > 10, "{paths:?}");
    let dir = tempfile::tempdir().unwrap();
    for path in paths {
        let lf = QuizFile::load(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.contains(&b'\r'), "{}", shown(&path));
        let copy = dir.path().join(path.file_name().unwrap());
        std::fs::write(&copy, with_crlf(&bytes)).unwrap();
        let crlf = QuizFile::load(&copy).unwrap();
        assert_eq!(crlf.parsed.quiz, lf.parsed.quiz, "{}", shown(&path));
        let rendered =
            |file: &QuizFile| file.render(&shown(&path), &file.parsed.diagnostics, false);
        assert_eq!(rendered(&crlf), rendered(&lf), "{}", shown(&path));
        let said = |file: &QuizFile| -> Vec<_> {
            file.parsed
                .diagnostics
                .iter()
                .map(|d| (d.rule, d.message.clone(), d.label.clone(), d.notes.clone()))
                .collect()
        };
        assert_eq!(said(&crlf), said(&lf), "{}", shown(&path));
    }
}

/// `bytes` with every `\n` written as Windows writes it, `\r\n`.
fn with_crlf(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect()
}
