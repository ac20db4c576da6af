//! What a student sees of `cargo xtask` from the command line: the course found where it is
//! run, one exercise at a time, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

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
