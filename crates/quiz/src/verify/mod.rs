//! Verifies tracing questions' answer keys against reality: each program is compiled and run
//! as mdbook-quiz's validator does it, but inside the sandbox ([`program`]), in parallel, with
//! outcomes cached by a hash of the compiler version, the flags and the program. Without a
//! working sandbox nothing is compiled and every tracing question is reported as not verified.

mod program;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Rule};
use crate::grade::normalise_output;
use crate::model::{QuestionKind, Quiz, Tracing};

pub use program::Outcome;

/// How to verify tracing programs.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The compiler whose toolchain is bound into the sandbox.
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
            compile_timeout: Duration::from_secs(30),
            run_timeout: Duration::from_secs(10),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
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
    let setup = sandbox::Confinement::detect_for(&options.rustc)
        .map(sandbox::Confinement::without_accounts)
        .and_then(|c| Ok((rustc_version(&c.rustc())?, c)));
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
                    let outcome = match &setup {
                        Ok((version, confinement)) => {
                            outcome_cached(confinement, tracing, version, options)
                        }
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

/// What happens to one tracing program (compiled and run in the sandbox, not cached): for
/// tests and tools that want the outcome rather than diagnostics.
pub fn outcome(tracing: &Tracing, options: &VerifyOptions) -> Outcome {
    match sandbox::Confinement::detect_for(&options.rustc) {
        Ok(c) => program::outcome(
            &c.without_accounts(),
            &tracing.compiled_program(),
            tracing.edition.as_deref(),
            options,
        ),
        Err(reason) => Outcome::NotRun { reason },
    }
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

/// Names how programs are run, for the cache key: an outcome found another way does not count.
const RUN_KIND: &str = "bwrap sandbox, ./main must exit 0";

fn outcome_cached(
    confinement: &sandbox::Confinement,
    tracing: &Tracing,
    version: &str,
    options: &VerifyOptions,
) -> Outcome {
    let program = tracing.compiled_program();
    let mut hash = Sha256::new();
    let args = program::rustc_args(tracing.edition.as_deref()).join(" ");
    for part in [version, &args, RUN_KIND, &program] {
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
    let outcome = program::outcome(confinement, &program, tracing.edition.as_deref(), options);
    // Limits and start failures depend on the machine and its load, so they are not cached.
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

/// Turns an outcome into diagnostics against the answer key. A program that was not compiled
/// or hit a limit is an error: a key that could not be checked is never called verified.
fn compare(tracing: &Tracing, outcome: &Outcome) -> Vec<Diagnostic> {
    let spans = &tracing.spans;
    let mut out = Vec::new();
    match outcome {
        Outcome::NotRun { reason } => out.push(
            Diagnostic::error(Rule::TracingUnverified, spans.program.clone(), "this tracing question could not be verified")
                .with_label("program not compiled")
                .with_note(reason.clone())
                .with_help("programs are only compiled in the sandbox (bubblewrap, with user namespaces or root) with a Rust toolchain; pass `--no-verify` to check everything else"),
        ),
        Outcome::LimitHit { compiling, what } => out.push(
            Diagnostic::error(
                Rule::TracingUnverified,
                spans.program.clone(),
                format!("the program {what} while {}", if *compiling { "compiling" } else { "running" }),
            )
            .with_label("stopped at the sandbox's limit")
            .with_help("quiz programs should compile and run in well under a second, print little and use little memory"),
        ),
        Outcome::CompileError { line, message } if tracing.does_compile => out.push(
            Diagnostic::error(
                Rule::TracingDoesCompile,
                spans.does_compile.clone(),
                "the key says the program compiles, but rustc rejects it",
            )
            .with_label("`true` here")
            .with_note(format!("rustc: {message}{}", describe_line(tracing, *line)))
            .with_help("fix the program, or set `answer.doesCompile = false`"),
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
        Outcome::Ran { stdout, success, stderr } => {
            if !success {
                let said = last_words(stderr);
                out.push(
                    Diagnostic::error(
                        Rule::TracingExitStatus,
                        spans.does_compile.clone(),
                        "the program compiles but fails when run",
                    )
                    .with_label("the key says it compiles")
                    .with_note(format!("it exited with an error; its last words: {said:?}"))
                    .with_help("a tracing program must run to the end (exit 0), as mdbook-quiz requires; remove the panic"),
                );
            }
            let expected = tracing.stdout.as_deref().map(normalise_output).unwrap_or_default();
            let actual = normalise_output(stdout);
            if expected != actual {
                out.push(
                    Diagnostic::error(
                        Rule::TracingStdout,
                        spans.stdout.clone().unwrap_or_else(|| spans.does_compile.clone()),
                        "`answer.stdout` is not what the program prints",
                    )
                    .with_label("expected output in the key")
                    .with_note(format!("the key says {expected:?}"))
                    .with_note(format!("the program prints {actual:?}"))
                    .with_help(format!("set `answer.stdout = {actual:?}`, or fix the program")),
                );
            }
        }
        Outcome::CompileError { line, message } => {
            let shown = line.and_then(|l| tracing.visible_line(l));
            if let (Some(key), Some(span)) = (tracing.line_number, &spans.line_number)
                && shown != Some(key)
            {
                let help = match shown {
                    Some(v) => format!("set `answer.lineNumber = {v}` if that is the line students should pick"),
                    None => "the error is on a hidden line; make that line visible or reword the question".to_string(),
                };
                // Only a graded line can fail a right answer; otherwise it is a note for authors.
                let d = if tracing.grade_line_number {
                    Diagnostic::error(Rule::TracingLineNumber, span.clone(), "`answer.lineNumber` differs from the line rustc reports")
                } else {
                    Diagnostic::warning(Rule::TracingLineNumber, span.clone(), "`answer.lineNumber` differs from the line rustc reports")
                };
                out.push(
                    d.with_label(format!("the key says line {key}"))
                        .with_note(format!("rustc: {message}{}", describe_line(tracing, *line)))
                        .with_help(help),
                );
            }
        }
    }
    out
}

/// What a failed program said on stderr, without rustc's hint lines and with a panic's thread
/// (whose id changes from run to run) left out.
fn last_words(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note:"))
        .map(|l| match l.find(" panicked at ") {
            Some(at) if l.starts_with("thread ") => l[at + 1..].to_string(),
            _ => l.to_string(),
        })
        .collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    tail.join(" / ")
}

fn describe_line(tracing: &Tracing, line: Option<usize>) -> String {
    match line {
        None => String::new(),
        Some(full) => match tracing.visible_line(full) {
            Some(v) => format!(" (on line {v} as shown)"),
            None => format!(" (on hidden line {full} of the full program)"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::program::first_error;
    use super::*;

    #[test]
    fn first_error_takes_the_primary_span() {
        let stderr = r#"{"$message_type":"diagnostic","message":"use of moved value: `e`","code":{"code":"E0382","explanation":null},"level":"error","spans":[{"line_start":3,"is_primary":false},{"line_start":4,"is_primary":true}]}
{"$message_type":"diagnostic","message":"aborting due to 1 previous error","code":null,"level":"error","spans":[]}"#;
        assert_eq!(
            first_error(stderr),
            Some(Outcome::CompileError {
                line: Some(4),
                message: "error[E0382]: use of moved value: `e`".into()
            })
        );
        assert_eq!(first_error("thread 'rustc' panicked"), None);
    }
}
