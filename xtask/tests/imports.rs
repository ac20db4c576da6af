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
    assert_eq!(
        lines[random + 1].trim(),
        "const ret = Math.random(); return ret"
    );
    assert!(!stdout.contains("needs a browser"), "{stdout}");
}

#[test]
fn browser_only_imports_are_named_and_fail_the_command() {
    let out = imports("crates/grader/tests/fixtures/needs-browser/canvas-and-animation-frame");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let needs: Vec<&str> = stdout
        .lines()
        .zip(stdout.lines().skip(1))
        .filter(|(mark, _)| mark.starts_with("  needs a browser  "))
        .map(|(_, what)| what.trim())
        .collect();
    for call in [
        "document.getElementById(…)",
        "arg0.fillRect(…)",
        "crypto.getRandomValues(…)",
        "requestAnimationFrame(…)",
    ] {
        assert!(needs.contains(&call), "{call} not listed:\n{stdout}");
    }
    // What it can run is still listed as served.
    assert!(stdout.contains("console.log(getStringFromWasm0(arg0, arg1))"));
}
