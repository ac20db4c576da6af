//! `cargo xtask quiz` from the command line: `--check` reports every bad file with its place and
//! still checks the others, never passes when it could not verify, and an answers file means
//! the same whoever runs it.

use std::path::Path;
use std::process::{Command, Output};

fn xtask(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(cwd).args(args).env("CI", "true");
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const GOOD: &str = "[[questions]]\nid = \"good\"\ntype = \"ShortAnswer\"\nprompt.prompt = \"Which keyword makes a binding mutable?\"\nanswer.answer = \"mut\"\n";

#[test]
fn check_reports_each_bad_file_with_its_place_and_still_checks_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
    write("a-good.toml", GOOD.as_bytes());
    write(
        "b-latin1.toml",
        b"[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"Caf\xe9?\"\nanswer.answer = \"oui\"\n",
    );
    write("c-broken.toml", b"[[questions]\ntype = \"ShortAnswer\"\n");
    write(
        "d-hidden.toml",
        b"format_version = 1\n[[questions]]\ntype = \"Tracing\"\nprompt.program = \"\"\"\n# fn main() {\n# }\n\"\"\"\nanswer.doesCompile = true\nanswer.stdout = \"\"\n",
    );
    write("e-same-id.toml", GOOD.replace("Which", "What").as_bytes());
    let out = xtask(dir.path(), &["quiz", "--check", ".", "--no-verify"])
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for expected in [
        "b-latin1.toml:3:21",
        "not UTF-8",
        "c-broken.toml:1:",
        "invalid TOML",
        "d-hidden.toml:4:18",
        "every line of the program is hidden",
        "e-same-id.toml:2:6",
        "a-good.toml:2:6",
        "checked 5 quiz files",
    ] {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
}

#[test]
fn check_without_a_compiler_does_not_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tracing.toml"),
        "[[questions]]\ntype = \"Tracing\"\nprompt.program = \"fn main() {}\"\nanswer.doesCompile = true\nanswer.stdout = \"\"\n",
    )
    .unwrap();
    let out = xtask(dir.path(), &["quiz", "--check", "tracing.toml"])
        .env("RUSTC", "/nonexistent/rustc")
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("could not be verified"), "{text}");
}

#[test]
fn an_answers_file_means_the_same_whoever_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pick.toml"),
        "[[questions]]\ntype = \"MultipleChoice\"\nprompt.prompt = \"How big is a wasm page?\"\nprompt.distractors = [\"4 KiB\", \"1 MiB\", \"16 bytes\"]\nanswer.answer = \"64 KiB\"\n",
    )
    .unwrap();
    let mut outputs = Vec::new();
    for letter in ["a", "b", "c", "d"] {
        std::fs::write(
            dir.path().join("answers.toml"),
            format!("1 = \"{letter}\"\n"),
        )
        .unwrap();
        for user in ["ada", "grace"] {
            let out = xtask(
                dir.path(),
                &[
                    "quiz",
                    "pick.toml",
                    "--answers",
                    "answers.toml",
                    "--no-record",
                ],
            )
            .env("USER", user)
            .env("USERNAME", user)
            .output()
            .unwrap();
            outputs.push((letter, user, out.status.code(), out.stdout));
        }
    }
    // The same letter gets the same verdict and feedback for everyone, and exactly one passes.
    for pair in outputs.chunks(2) {
        assert_eq!(pair[0].2, pair[1].2, "{} differs per user", pair[0].0);
        assert_eq!(pair[0].3, pair[1].3, "{} differs per user", pair[0].0);
    }
    assert_eq!(outputs.iter().filter(|o| o.2 == Some(0)).count(), 2);
}

#[test]
fn web_refuses_an_invalid_quiz_with_its_place_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[[questions]]\ntype = \"ShortAnswer\"\nprompt.prompt = \"Which keyword?\"\nanswer.answer = 7\n",
    )
    .unwrap();
    let out = xtask(dir.path(), &["quiz", "--web", "site", "bad.toml"])
        .output()
        .unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("bad.toml:4:17"), "{text}");
    assert!(text.contains("no site written"), "{text}");
    assert!(!dir.path().join("site").exists());
}
