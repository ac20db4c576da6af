//! `cargo xtask imports`: what a student sees of their module's JavaScript imports.

use std::path::Path;
use std::process::{Command, Output};

fn imports(crate_dir: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root)
        .args(["imports", crate_dir])
        .env("CI", "true")
        .output()
        .unwrap()
}

#[test]
fn served_imports_show_the_javascript_the_grader_runs() {
    let dir = "crates/grader/tests/shims/random";
    let out = imports(dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Named as typed, not by where this checkout lives.
    assert_eq!(
        stdout.lines().next(),
        Some(format!("imports of {dir} (src/)").as_str())
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let random = lines
        .iter()
        .position(|l| l.starts_with("  served  ") && l.contains("__wbg_random_"))
        .unwrap_or_else(|| panic!("no Math.random import:\n{stdout}"));
    // The glue's own function, as wasm-bindgen wrote it, under its name.
    let body: Vec<&str> = lines[random + 1..]
        .iter()
        .take_while(|l| l.starts_with("          "))
        .map(|l| l.trim())
        .collect();
    assert!(body.contains(&"const ret = Math.random();"), "{stdout}");
    assert!(!stdout.contains("  browser "), "{stdout}");
}

#[test]
fn browser_globals_are_named_without_failing_the_command() {
    let out = imports("crates/grader/tests/fixtures/needs-browser/canvas-and-animation-frame");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Browser code is a verdict only when a step reaches it: describing it is no failure.
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let named: Vec<&str> = stdout
        .lines()
        .zip(stdout.lines().skip(1))
        .filter(|(mark, _)| mark.starts_with("  browser "))
        .map(|(_, what)| what.trim())
        .collect();
    for global in ["`document`", "`crypto`", "`requestAnimationFrame`"] {
        assert!(
            named
                .iter()
                .any(|n| n.starts_with(&format!("reads {global}"))),
            "{global} not named:\n{stdout}"
        );
    }
    // A method of a value the glue was given is no browser global.
    assert!(
        stdout.contains("  served  ./submission_bg.js.__wbg_fillRect_"),
        "{stdout}"
    );
    assert!(stdout.contains("console.log(getStringFromWasm0(arg0, arg1))"));
}
