//! What a student sees of `cargo xtask` from the command line: the course found where it is
//! run, one exercise at a time, and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn xtask(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(cwd).args(args).env("CI", "true");
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// A course of two exercises copied out of this one: the first solved, the second not.
fn copied_course(name: &str) -> PathBuf {
    let copy = course_of(
        name,
        &[
            "exercises/21-wasm-memory/01-copy-in-copy-out",
            "exercises/21-wasm-memory/02-zero-copy-buffer",
        ],
    );
    let first = copy.join("exercises/21-wasm-memory/01-copy-in-copy-out");
    std::fs::copy(first.join("solution/lib.rs"), first.join("src/lib.rs")).unwrap();
    copy
}

/// A course of `exercises` copied out of this one. Grading stages an exercise by its name in
/// the shared target folder, so tests that run at the same time copy different exercises.
fn course_of(name: &str, exercises: &[&str]) -> PathBuf {
    let copy = std::env::temp_dir().join(format!("student-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for dir in exercises.iter().chain(&["crates/course-guest", "quizzes"]) {
        copy_tree(&root().join(dir), &copy.join(dir));
    }
    std::fs::create_dir_all(copy.join("xtask")).unwrap();
    for file in ["Cargo.toml", "xtask/Cargo.toml"] {
        std::fs::copy(root().join(file), copy.join(file)).unwrap();
    }
    copy
}

/// With a shared `CARGO_TARGET_DIR` (or a copied or moved course), the course graded is the
/// one the command runs in, not the one xtask was built in. Grading several exercises shows
/// one line each and the first unfinished in full.
#[test]
fn a_copied_course_grades_its_own_files_one_exercise_in_full() {
    let copy = copied_course("grade");
    let second = copy.join("exercises/21-wasm-memory/02-zero-copy-buffer");
    std::fs::write(
        second.join("src/lib.rs"),
        "compile_error!(\"graded in the copy\");\n",
    )
    .unwrap();
    // Cargo and editors write a `Cargo.lock`; only a changed `Cargo.toml` is worth a note.
    let first = copy.join("exercises/21-wasm-memory/01-copy-in-copy-out");
    std::fs::write(first.join("Cargo.lock"), "version = 4\n").unwrap();
    let manifest = std::fs::read_to_string(second.join("Cargo.toml")).unwrap();
    std::fs::write(
        second.join("Cargo.toml"),
        format!("{manifest}rand = \"0.8\"\n"),
    )
    .unwrap();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let out = xtask(&second.join("src"), &["grade", "21"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "✔ 21-wasm-memory/01-copy-in-copy-out  4/4 (100%)",
            "✘ 21-wasm-memory/02-zero-copy-buffer  0/3 (0%)     compile-error",
            "",
        ],
        "{stdout}"
    );
    assert_eq!(lines[3], "grading 21-wasm-memory/02-zero-copy-buffer");
    assert!(stdout.contains("graded in the copy"), "{stdout}");
    assert_eq!(
        lines[4],
        "  note: your `Cargo.toml` was ignored: the grader builds only `src/`, with its own `Cargo.toml` and settings"
    );
    assert!(!stdout.contains("grading 21-wasm-memory/01"), "{stdout}");
    assert_eq!(
        lines.last(),
        Some(
            &"1 of 2 exercises pass; work on `02-zero-copy-buffer` above: `cargo xtask watch` re-grades it on every save"
        )
    );
    assert!(copy.join(".progress.toml").is_file());
    let out = xtask(&copy, &["grade", "01-copy-in-copy-out", "--json"])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let reports: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reports[0]["notes"], serde_json::json!([]), "{stdout}");
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn outside_the_course_the_error_says_where_to_run() {
    let out = xtask(&std::env::temp_dir(), &["list"])
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("is not inside the course: run `cargo xtask` from the course folder"),
        "{stderr}"
    );
}

/// Output cut short by its reader (`cargo xtask list | head -1`) panics inside `println!`;
/// that ends the command quietly with the harness's exit code, not Rust's 101 and a panic.
#[test]
fn a_closed_stdout_is_a_quiet_exit_2_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = xtask(root(), &["list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn list_shows_each_chapter_with_its_quiz() {
    let copy = copied_course("list");
    std::fs::write(
        copy.join(".progress.toml"),
        "[exercises.\"21-wasm-memory/02-zero-copy-buffer\"]\nbest_score = 33.3\n\
         [quizzes.21-wasm-memory]\npassed = true\nbest_score = 100.0\n",
    )
    .unwrap();
    let out = xtask(&copy, &["list"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "21-wasm-memory: 21 Wasm Memory Model  (0/2 exercises done)",
            "     ·  21-wasm-memory/01-copy-in-copy-out  Copy in, copy out",
            "   33%  21-wasm-memory/02-zero-copy-buffer  A zero-copy buffer",
            "     ✔  quiz 21-wasm-memory  `cargo xtask quiz 21`",
        ]
    );
    let _ = std::fs::remove_dir_all(&copy);
}

/// Every `\n` of every text file under `dir` written as Windows writes it, `\r\n`.
fn to_crlf(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            to_crlf(&path);
        } else if let Ok(text) = std::fs::read_to_string(&path) {
            assert!(!text.contains('\r'), "{}", path.display());
            std::fs::write(&path, text.replace('\n', "\r\n")).unwrap();
        }
    }
}

/// An exercise saved with Windows line endings (its `exercise.toml` and the student's files)
/// is graded exactly as the original: the same reports, with the same lines in the leak and
/// compile-error locations, and the same authoring diagnostics.
#[test]
fn crlf_line_endings_change_no_report_and_no_diagnostic() {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let first = "exercises/21-wasm-memory/05-fix-the-leak";
    let second = "exercises/21-wasm-memory/06-stale-pointer";
    let graded = |course: &Path, exercise: &str| {
        let out = xtask(course, &["grade", exercise])
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    let mut seen = Vec::new();
    for name in ["lf", "crlf"] {
        let copy = course_of(&format!("line-endings-{name}"), &[first, second]);
        // A leak (the starter's; its line is in the report) and a compile error (rendered
        // with its source).
        std::fs::copy(
            copy.join(first).join("starter/lib.rs"),
            copy.join(first).join("src/lib.rs"),
        )
        .unwrap();
        std::fs::write(
            copy.join(second).join("src/lib.rs"),
            "use wasm_bindgen::prelude::*;\n\n#[wasm_bindgen]\npub fn f() -> u32 {\n    let x: u32 = \"one\";\n    x\n}\n",
        )
        .unwrap();
        if name == "crlf" {
            to_crlf(&copy.join(first));
            to_crlf(&copy.join(second));
        }
        let leak = graded(&copy, "05-fix-the-leak");
        let compile = graded(&copy, "06-stale-pointer");
        // An authoring error: an unknown key, with its line and the line underlined.
        let toml = copy.join(first).join("exercise.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        let eol = if name == "crlf" { "\r\n" } else { "\n" };
        std::fs::write(
            &toml,
            text.replacen(eol, &format!("{eol}titel = \"typo\"{eol}"), 1),
        )
        .unwrap();
        let (code, stdout, stderr) = graded(&copy, "05-fix-the-leak");
        let authoring = (
            code,
            stdout,
            stderr.replace(&copy.display().to_string(), "[course]"),
        );
        seen.push((leak, compile, authoring));
        let _ = std::fs::remove_dir_all(&copy);
    }
    let (lf, crlf) = (&seen[0], &seen[1]);
    assert_eq!(lf.0.0, Some(1), "{}", lf.0.1);
    assert!(
        lf.0.1.contains("src/lib.rs:"),
        "a leak names its line: {}",
        lf.0.1
    );
    assert_eq!(crlf.0, lf.0, "the leak's report");
    assert_eq!(lf.1.0, Some(1), "{}", lf.1.1);
    assert!(lf.1.1.contains("src/lib.rs:5:"), "{}", lf.1.1);
    assert_eq!(crlf.1, lf.1, "the compile error's report");
    assert_eq!(lf.2.0, Some(2), "{}", lf.2.2);
    assert!(lf.2.2.contains("unknown key `titel`"), "{}", lf.2.2);
    assert_eq!(crlf.2, lf.2, "the authoring error");
}

/// A re-grade runs rustc without cargo once cargo has built the crate (the command cargo ran
/// is recorded): it sees every edit and every compile error as cargo would, and goes back to
/// cargo when anything else the command reads (here the guest crate) has changed.
#[test]
fn a_regrade_without_cargo_sees_every_edit_and_goes_back_to_cargo_when_needed() {
    let exercise = "exercises/21-wasm-memory/03-f64-view";
    let copy = course_of("direct", &[exercise]);
    let dir = copy.join(exercise);
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let record = target
        .join("grader/staging/21-wasm-memory-03-f64-view-student")
        .join(".rustc-command-stamped.json");
    let grade = || {
        let out = xtask(&copy, &["grade", "03-f64-view"])
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        (out.status.code(), format!("{stdout}{stderr}"))
    };
    let modified = || std::fs::metadata(&record).unwrap().modified().unwrap();
    // The starter, through cargo, which records its rustc command.
    let (code, out) = grade();
    assert_eq!(code, Some(1), "{out}");
    assert!(record.is_file(), "no command was recorded: {out}");
    let recorded = modified();
    // The solution, through rustc alone: the record is not written again.
    std::fs::copy(dir.join("solution/lib.rs"), dir.join("src/lib.rs")).unwrap();
    let (code, out) = grade();
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(modified(), recorded, "cargo ran again");
    // A compile error, found by rustc alone, reads as cargo's would.
    let solution = std::fs::read_to_string(dir.join("solution/lib.rs")).unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("{solution}\nfn broken() -> u32 {{ missing_name }}\n"),
    )
    .unwrap();
    let (code, out) = grade();
    assert_eq!(code, Some(1), "{out}");
    let line = solution.lines().count() + 2;
    assert!(
        out.contains("compile-error") && out.contains(&format!("src/lib.rs:{line}:")),
        "{out}"
    );
    assert!(out.contains("missing_name"), "{out}");
    assert_eq!(modified(), recorded, "cargo ran again");
    // The guest crate changed: cargo builds (and records) again, and the grade is right.
    let guest = copy.join("crates/course-guest/src/lib.rs");
    let text = std::fs::read_to_string(&guest).unwrap();
    std::fs::write(&guest, format!("{text}\n// changed\n")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), &solution).unwrap();
    let (code, out) = grade();
    assert_eq!(code, Some(0), "{out}");
    assert_ne!(
        modified(),
        recorded,
        "the changed guest crate was not noticed"
    );
    let _ = std::fs::remove_dir_all(&copy);
}

/// `watch` grades each save that changed a file, and keeps the screen for a save that changed
/// nothing (an editor writing an unchanged buffer).
#[test]
fn watch_grades_each_change_and_ignores_a_save_that_changed_nothing() {
    use std::io::BufRead;
    let exercise = "exercises/21-wasm-memory/04-memory-growth";
    let copy = course_of("watch", &[exercise]);
    let lib = copy.join(exercise).join("src/lib.rs");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let mut child = xtask(&copy, &["watch", "04-memory-growth"])
        .env("CARGO_TARGET_DIR", &target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, screens) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut screen = String::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            screen.push_str(&line);
            screen.push('\n');
            if line.contains("for changes (Ctrl-C to stop)") {
                let _ = tx.send(std::mem::take(&mut screen));
            }
        }
    });
    let next = || {
        screens
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("a screen")
    };
    let first = next();
    assert!(
        first.contains("grading 21-wasm-memory/04-memory-growth"),
        "{first}"
    );
    let starter = std::fs::read_to_string(&lib).unwrap();
    // The same bytes written again: nothing to grade.
    std::fs::write(&lib, &starter).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::fs::write(
        &lib,
        format!("{starter}\ncompile_error!(\"seen by watch\");\n"),
    )
    .unwrap();
    let second = next();
    assert!(second.contains("seen by watch"), "{second}");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&copy);
}
