//! Verifies tracing questions' answer keys against reality: each program (hidden lines
//! restored) is compiled with `rustc` and run, both under a time limit, in parallel, with
//! results cached by a hash of the compiler version, edition and program.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wait_timeout::ChildExt;

use crate::diagnostic::{Diagnostic, Rule};
use crate::grade::normalise_output;
use crate::model::{QuestionKind, Quiz, Tracing};

/// How to verify tracing programs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The compiler to run.
    pub rustc: PathBuf,
    /// Where outcomes are cached between runs (e.g. under `target/`); `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    pub compile_timeout: Duration,
    pub run_timeout: Duration,
    /// How many programs to compile at once.
    pub jobs: usize,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            rustc: std::env::var_os("RUSTC").map_or_else(|| PathBuf::from("rustc"), PathBuf::from),
            cache_dir: None,
            compile_timeout: Duration::from_secs(20),
            run_timeout: Duration::from_secs(10),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// What really happened to a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// rustc rejected it; `line` is the primary span's line in the full program.
    CompileError {
        line: Option<usize>,
        message: String,
    },
    /// It compiled and ran; `success` is false when it panicked or exited non-zero.
    Ran { stdout: String, success: bool },
    /// Compiling or running took longer than the limit.
    TimedOut { compiling: bool, seconds: u64 },
    /// rustc or the program could not be started at all.
    NotRun { reason: String },
}

/// Verifies every tracing question of every quiz, all programs in parallel. Returns one list
/// of diagnostics per quiz, in the same order.
pub fn verify_quizzes(quizzes: &[&Quiz], options: &VerifyOptions) -> Vec<Vec<Diagnostic>> {
    let jobs: Vec<(usize, &Tracing)> = quizzes
        .iter()
        .enumerate()
        .flat_map(|(qi, quiz)| {
            quiz.questions.iter().filter_map(move |q| match &q.kind {
                QuestionKind::Tracing(t) => Some((qi, t)),
                _ => None,
            })
        })
        .collect();
    let mut out = vec![Vec::new(); quizzes.len()];
    if jobs.is_empty() {
        return out;
    }
    let version = rustc_version(&options.rustc);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.clamp(1, jobs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, tracing)) = jobs.get(i) else {
                        break;
                    };
                    let outcome = match &version {
                        Ok(version) => outcome_cached(tracing, version, options),
                        Err(reason) => Outcome::NotRun {
                            reason: reason.clone(),
                        },
                    };
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((i, outcome));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    for (i, outcome) in results {
        let (qi, tracing) = jobs[i];
        out[qi].extend(compare(tracing, &outcome));
    }
    out
}

/// Verifies one quiz's tracing questions.
pub fn verify_quiz(quiz: &Quiz, options: &VerifyOptions) -> Vec<Diagnostic> {
    verify_quizzes(&[quiz], options).pop().unwrap_or_default()
}

fn rustc_version(rustc: &Path) -> Result<String, String> {
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("`{}` could not be started: {e}", rustc.display()))?;
    if !output.status.success() {
        return Err(format!("`{} -vV` failed", rustc.display()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// What the compile's flags say about lints, for the cache key.
const RUSTC_FLAGS: &str = "-A warnings";

fn outcome_cached(tracing: &Tracing, version: &str, options: &VerifyOptions) -> Outcome {
    let mut hash = Sha256::new();
    // The flags are part of the key: an outcome cached under other flags does not count.
    for part in [
        version,
        RUSTC_FLAGS,
        &tracing.edition,
        &tracing.full_program(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let cached = options
        .cache_dir
        .as_ref()
        .map(|dir| dir.join(format!("{key}.json")));
    if let Some(file) = &cached
        && let Ok(text) = std::fs::read_to_string(file)
        && let Ok(outcome) = serde_json::from_str::<Outcome>(&text)
    {
        return outcome;
    }
    let outcome = outcome_uncached(tracing, options);
    // Time-outs and start failures depend on the machine's load, so they are not cached.
    if let (Some(file), Outcome::CompileError { .. } | Outcome::Ran { .. }) = (&cached, &outcome)
        && let Some(dir) = file.parent()
        && std::fs::create_dir_all(dir).is_ok()
        && let Ok(text) = serde_json::to_string(&outcome)
    {
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, file);
        }
    }
    outcome
}

fn outcome_uncached(tracing: &Tracing, options: &VerifyOptions) -> Outcome {
    let dir = match tempfile::Builder::new().prefix("quiz-tracing-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return Outcome::NotRun {
                reason: format!("no temporary folder: {e}"),
            };
        }
    };
    let source = dir.path().join("main.rs");
    let binary = dir.path().join(if cfg!(windows) {
        "program.exe"
    } else {
        "program"
    });
    if let Err(e) = std::fs::write(&source, tracing.full_program()) {
        return Outcome::NotRun {
            reason: format!("could not write the program: {e}"),
        };
    }
    let mut compile = Command::new(&options.rustc);
    compile
        .args([
            "--edition",
            &tracing.edition,
            "--error-format=json",
            // As mdbook-quiz verifies: warnings are allowed, but a deny-by-default lint (an
            // overflowing literal, an index out of range) still rejects the program, as plain
            // rustc does.
            "-A",
            "warnings",
            "--crate-name",
            "program",
        ])
        .args(["-C", "debuginfo=0", "-o"])
        .arg(&binary)
        .arg(&source)
        .current_dir(dir.path());
    let compiled = match run_limited(&mut compile, options.compile_timeout) {
        Ok(Some(run)) => run,
        Ok(None) => {
            return Outcome::TimedOut {
                compiling: true,
                seconds: options.compile_timeout.as_secs(),
            };
        }
        Err(e) => {
            return Outcome::NotRun {
                reason: format!("`{}` could not be started: {e}", options.rustc.display()),
            };
        }
    };
    if !compiled.success {
        return first_error(&compiled.stderr);
    }
    let mut run = Command::new(&binary);
    run.current_dir(dir.path()).env("RUST_BACKTRACE", "0");
    match run_limited(&mut run, options.run_timeout) {
        Ok(Some(ran)) => Outcome::Ran {
            stdout: ran.stdout,
            success: ran.success,
        },
        Ok(None) => Outcome::TimedOut {
            compiling: false,
            seconds: options.run_timeout.as_secs(),
        },
        Err(e) => Outcome::NotRun {
            reason: format!("the compiled program could not be started: {e}"),
        },
    }
}

struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs a command with no input, collecting its output, and kills it after `limit`
/// (`Ok(None)`). Output is read on threads so a chatty child cannot block on a full pipe.
fn run_limited(command: &mut Command, limit: Duration) -> std::io::Result<Option<Finished>> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.by_ref().take(1 << 20).read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = match child.wait_timeout(limit)? {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
    };
    Ok(Some(Finished {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

#[derive(Deserialize)]
struct RustcMessage {
    level: String,
    message: String,
    code: Option<RustcCode>,
    #[serde(default)]
    spans: Vec<RustcSpan>,
}

#[derive(Deserialize)]
struct RustcCode {
    code: String,
}

#[derive(Deserialize)]
struct RustcSpan {
    line_start: usize,
    is_primary: bool,
}

/// The first error rustc reports, with its primary span's line.
fn first_error(stderr: &str) -> Outcome {
    let messages = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<RustcMessage>(l).ok());
    let mut fallback = None;
    for m in messages.filter(|m| m.level == "error") {
        let text = match &m.code {
            Some(code) => format!("error[{}]: {}", code.code, m.message),
            None => format!("error: {}", m.message),
        };
        if let Some(span) = m.spans.iter().find(|s| s.is_primary) {
            return Outcome::CompileError {
                line: Some(span.line_start),
                message: text,
            };
        }
        fallback.get_or_insert(text);
    }
    Outcome::CompileError {
        line: None,
        message: fallback.unwrap_or_else(|| "rustc failed without an error message".into()),
    }
}

/// Turns an outcome into diagnostics against the answer key.
fn compare(tracing: &Tracing, outcome: &Outcome) -> Vec<Diagnostic> {
    let spans = &tracing.spans;
    let mut out = Vec::new();
    match outcome {
        Outcome::NotRun { reason } => out.push(
            Diagnostic::warning(Rule::TracingUnverified, spans.program.clone(), "this tracing question was not verified")
                .with_label("program not compiled")
                .with_note(reason.clone())
                .with_help("install a Rust toolchain (or set `RUSTC`) to check the answer key"),
        ),
        Outcome::TimedOut { compiling, seconds } => out.push(
            Diagnostic::error(
                Rule::TracingUnverified,
                spans.program.clone(),
                format!("the program took longer than {seconds} s to {}", if *compiling { "compile" } else { "run" }),
            )
            .with_label("killed after the time limit")
            .with_help("make the program finish quickly; quiz programs should run in well under a second"),
        ),
        Outcome::CompileError { line, message } if tracing.does_compile => out.push(
            Diagnostic::error(
                Rule::TracingDoesCompile,
                spans.does_compile.clone(),
                "the key says the program compiles, but rustc rejects it",
            )
            .with_label("`true` here")
            .with_note(format!("rustc: {message}{}", describe_line(tracing, *line)))
            .with_help("fix the program, or set `answer.doesCompile = false` and give `answer.lineNumber`"),
        ),
        Outcome::Ran { stdout, .. } if !tracing.does_compile => out.push(
            Diagnostic::error(
                Rule::TracingDoesCompile,
                spans.does_compile.clone(),
                "the key says the program does not compile, but rustc accepts it",
            )
            .with_label("`false` here")
            .with_note(format!("when run it prints {:?}", normalise_output(stdout)))
            .with_help("set `answer.doesCompile = true` with `answer.stdout`, or change the program so it fails to compile"),
        ),
        Outcome::Ran { stdout, success } => {
            let expected = tracing.stdout.as_deref().map(normalise_output).unwrap_or_default();
            let actual = normalise_output(stdout);
            if expected != actual {
                let mut d = Diagnostic::error(
                    Rule::TracingStdout,
                    spans.stdout.clone().unwrap_or_else(|| spans.does_compile.clone()),
                    "`answer.stdout` is not what the program prints",
                )
                .with_label("expected output in the key")
                .with_note(format!("the key says {expected:?}"))
                .with_note(format!("the program prints {actual:?}"));
                if !success {
                    d = d.with_note("the program also exited with an error (did it panic?)");
                }
                out.push(d.with_help(format!("set `answer.stdout = {actual:?}`, or fix the program")));
            }
        }
        Outcome::CompileError { line, message } => {
            let visible = line.and_then(|l| tracing.visible_line(l));
            if let (Some(key), Some(span)) = (tracing.line_number, &spans.line_number)
                && visible != Some(key)
            {
                let help = match visible {
                    Some(v) => format!("set `answer.lineNumber = {v}` if that is the line students should pick"),
                    None => "the error is on a hidden line; make that line visible or reword the question".to_string(),
                };
                out.push(
                    Diagnostic::warning(
                        Rule::TracingLineNumber,
                        span.clone(),
                        "`answer.lineNumber` differs from the line rustc reports",
                    )
                    .with_label(format!("the key says line {key}"))
                    .with_note(format!("rustc: {message}{}", describe_line(tracing, *line)))
                    .with_help(help),
                );
            }
        }
    }
    out
}

fn describe_line(tracing: &Tracing, line: Option<usize>) -> String {
    match line {
        None => String::new(),
        Some(full) => match tracing.visible_line(full) {
            Some(v) => format!(" (on line {v})"),
            None => format!(" (on hidden line {full} of the full program)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_takes_the_primary_span() {
        let stderr = r#"{"$message_type":"diagnostic","message":"use of moved value: `e`","code":{"code":"E0382","explanation":null},"level":"error","spans":[{"line_start":3,"is_primary":false},{"line_start":4,"is_primary":true}]}
{"$message_type":"diagnostic","message":"aborting due to 1 previous error","code":null,"level":"error","spans":[]}"#;
        assert_eq!(
            first_error(stderr),
            Outcome::CompileError {
                line: Some(4),
                message: "error[E0382]: use of moved value: `e`".into()
            }
        );
    }

    #[test]
    fn a_runaway_child_is_killed() {
        if cfg!(unix) {
            let result =
                run_limited(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap();
            assert!(result.is_none(), "the child was reported as finished");
        }
    }
}
