//! Tracing programs are quiz authors' code, compiled and run by `--check` on any machine: one
//! test per way out of the sandbox, each of which must stay shut. Where bubblewrap cannot run
//! the tests say so and stop, except under `CI`, where they fail.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quiz::model::{Tracing, TracingSpans};
use quiz::verify::{Outcome, outcome};
use quiz::{Rule, VerifyOptions};

fn options() -> VerifyOptions {
    VerifyOptions {
        run_timeout: Duration::from_secs(5),
        ..VerifyOptions::default()
    }
}

/// The outcome of `program`, or `None` (the test stops) where no sandbox can run here.
fn run(program: &str) -> Option<Outcome> {
    if let Err(why) = ::sandbox::Confinement::detect() {
        // The sandbox is Linux's: CI elsewhere (macOS, Windows) checks everything else.
        assert!(
            std::env::var_os("CI").is_none() || !cfg!(target_os = "linux"),
            "CI needs the sandbox: {why}"
        );
        eprintln!("skipped: no sandbox here: {why}");
        return None;
    }
    let tracing = Tracing {
        program: program.into(),
        hidden_lines: false,
        edition: Some("2021".into()),
        does_compile: true,
        stdout: None,
        line_number: None,
        grade_line_number: false,
        spans: TracingSpans::default(),
    };
    Some(outcome(&tracing, &options()))
}

/// A name no other process on the machine has in its command line.
fn nonce(test: &str) -> String {
    format!("{}{}", std::process::id(), test.len() * 7919)
}

/// Processes of the machine whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(cmdline);
            }
        }
    }
    found
}

fn stdout_of(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Ran { stdout, .. } => stdout,
        other => panic!("the program should have run: {other:?}"),
    }
}

#[test]
fn a_child_that_keeps_the_output_open_does_not_hold_the_check() {
    let started = Instant::now();
    let Some(outcome) = run(r#"
use std::process::Command;
fn main() {
    // The shell's background child inherits stdout and keeps it open for a minute.
    Command::new("sh").args(["-c", "sleep 60 &"]).status().unwrap();
    println!("parent done");
}
"#)
    else {
        return;
    };
    assert_eq!(stdout_of(&outcome).trim(), "parent done");
    // The answer came when the program ended, not when its child would have.
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "waited {:?} for a child",
        started.elapsed()
    );
}

#[test]
fn children_do_not_outlive_the_program_or_its_time_limit() {
    let marker = format!("98765{}", nonce("children"));
    for ending in ["", "loop { std::hint::spin_loop(); }"] {
        let program = format!(
            r#"
use std::process::{{Command, Stdio}};
fn main() {{
    Command::new("setsid").args(["sleep", "{marker}"]).stdout(Stdio::null()).spawn().unwrap();
    Command::new("sleep").arg("{marker}").spawn().unwrap();
    println!("spawned");
    {ending}
}}
"#
        );
        let Some(outcome) = run(&program) else {
            return;
        };
        if ending.is_empty() {
            assert_eq!(stdout_of(&outcome).trim(), "spawned");
        } else {
            assert!(
                matches!(&outcome, Outcome::LimitHit { compiling: false, what } if what.contains("longer")),
                "{outcome:?}"
            );
        }
        // Give the kernel a moment to reap what the sandbox's end killed.
        let deadline = Instant::now() + Duration::from_secs(2);
        while !processes_with(&marker).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(processes_with(&marker), Vec::<String>::new());
    }
}

#[test]
fn the_machine_s_files_and_environment_are_not_readable() {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "hunter2").unwrap();
    let repo_file = crate::repo_root()
        .join("Cargo.toml")
        .canonicalize()
        .unwrap();
    // The toolchain may live in the home folder; nothing else of it is there.
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()));
    let (cargo_home, history) = (home.join(".cargo"), home.join(".bash_history"));
    let program = format!(
        r#"
fn main() {{
    for path in ["/etc/passwd", "/etc/shadow", "/home", {cargo_home:?}, {history:?}, {secret:?}, {repo_file:?}] {{
        let read = std::fs::read(path).is_ok() || std::fs::read_dir(path).is_ok();
        println!("{{path}} readable: {{read}}");
    }}
    for (key, value) in std::env::vars() {{
        println!("env {{key}}={{value}}");
    }}
}}
"#
    );
    let Some(outcome) = run(&program) else {
        return;
    };
    let stdout = stdout_of(&outcome);
    assert!(!stdout.contains("readable: true"), "{stdout}");
    // cargo gives this test process variables of its own; none reaches the program.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    assert!(!stdout.contains("CARGO_MANIFEST_DIR"), "{stdout}");
    assert!(!stdout.contains("CARGO_PKG"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

#[test]
fn writes_outside_the_program_s_folder_do_not_reach_the_machine() {
    let marker = nonce("writes");
    let outside = tempfile::tempdir().unwrap();
    let targets: Vec<PathBuf> = vec![
        outside.path().join(format!("escape-{marker}")),
        std::env::temp_dir().join(format!("quiz-escape-{marker}")),
        crate::repo_root().join(format!("target/quiz-escape-{marker}")),
    ];
    let program = format!(
        r#"
fn main() {{
    for path in {targets:?} {{
        let written = std::fs::write(path, "escaped").is_ok();
        println!("{{written}}");
    }}
}}
"#
    );
    let Some(outcome) = run(&program) else {
        return;
    };
    stdout_of(&outcome);
    for path in &targets {
        assert!(!path.exists(), "{} was written", path.display());
    }
}

#[test]
fn include_str_and_env_cannot_embed_the_machine_s_files_or_variables() {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "hunter2").unwrap();
    for program in [
        r#"const S: &str = include_str!("/etc/passwd"); fn main() { println!("{}", S.len()); }"#
            .to_string(),
        format!(
            r#"const S: &str = include_str!({:?}); fn main() {{ println!("{{S}}"); }}"#,
            secret.display().to_string()
        ),
        r#"fn main() { println!("{}", env!("CARGO_MANIFEST_DIR")); }"#.to_string(),
    ] {
        let Some(outcome) = run(&program) else {
            return;
        };
        assert!(
            matches!(outcome, Outcome::CompileError { .. }),
            "{program}\n{outcome:?}"
        );
    }
}

#[test]
fn a_memory_hog_is_stopped() {
    let Some(outcome) = run(r#"
fn main() {
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(vec![1u8; 64 << 20]);
    }
    println!("held {} MiB", held.iter().map(|v| v.len() >> 20).sum::<usize>());
}
"#)
    else {
        return;
    };
    assert!(
        matches!(&outcome, Outcome::LimitHit { compiling: false, what } if what.contains("memory")),
        "{outcome:?}"
    );
}

#[test]
fn there_is_no_network() {
    let Some(outcome) = run(r#"
fn main() {
    let tcp = std::net::TcpStream::connect(("1.1.1.1", 80)).is_ok();
    let dns = std::net::ToSocketAddrs::to_socket_addrs(&("crates.io", 443)).is_ok();
    println!("tcp {tcp} dns {dns}");
}
"#)
    else {
        return;
    };
    assert_eq!(stdout_of(&outcome).trim(), "tcp false dns false");
}

#[test]
fn a_flood_of_output_is_cut_off() {
    let Some(outcome) = run(r#"
fn main() {
    let line = "x".repeat(1000);
    loop { println!("{line}"); }
}
"#)
    else {
        return;
    };
    assert!(
        matches!(&outcome, Outcome::LimitHit { compiling: false, what } if what.contains("printed")),
        "{outcome:?}"
    );
}

/// A check that could not compile anything is never a pass.
#[test]
fn without_a_toolchain_nothing_is_called_verified() {
    let source = "[[questions]]\ntype = \"Tracing\"\nprompt.program = \"fn main() {}\"\nanswer.doesCompile = true\nanswer.stdout = \"\"\n";
    let quiz = quiz::parse(source).quiz.unwrap();
    let options = VerifyOptions {
        rustc: Path::new("/nonexistent/rustc").into(),
        ..VerifyOptions::default()
    };
    let found = quiz::verify_quiz(&quiz, &options);
    assert!(
        found
            .iter()
            .any(|d| d.rule == Rule::TracingUnverified && d.is_error()),
        "{found:?}"
    );
}

/// Files live in memory (`/tmp`) or on the machine's disk (the program's folder): neither can
/// be filled past a small cap.
#[test]
fn files_written_are_capped() {
    let Some(outcome) = run(r#"
use std::io::Write;
fn main() {
    let chunk = vec![7u8; 1 << 20];
    for place in ["/tmp", "."] {
        let mut written = 0usize;
        'files: for i in 0..1000 {
            let Ok(mut file) = std::fs::File::create(format!("{place}/fill-{i}")) else { break };
            for _ in 0..2 {
                if file.write_all(&chunk).is_err() { break 'files; }
                written += chunk.len();
            }
        }
        println!("{place} {}", written >> 20);
    }
}
"#)
    else {
        return;
    };
    let stdout = stdout_of(&outcome);
    let mib = |place: &str| -> usize {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(place)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"))
    };
    assert!(mib("/tmp") <= 64, "{stdout}");
    assert_eq!(mib("."), 0, "{stdout}");
}
