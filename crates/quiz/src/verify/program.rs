//! One tracing program, compiled and run as mdbook-quiz's validator does (`rustc main.rs -A
//! warnings` in a fresh folder, then `./main`, which must exit 0), but both steps inside the
//! sandbox: the program's folder is all it can write, and nothing of the machine's files,
//! environment or network is there to read.

use std::time::Duration;

use sandbox::{Confinement, Finished, Limits, OutputLimits, View};
use serde::{Deserialize, Serialize};

use super::VerifyOptions;

/// What really happened to a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// rustc rejected it; `line` is the primary span's line in the program as written.
    CompileError {
        line: Option<usize>,
        message: String,
    },
    /// It compiled and ran to its end; `success` is false when it exited non-zero (a panic).
    Ran {
        stdout: String,
        success: bool,
        stderr: String,
    },
    /// Compiling or running hit one of the sandbox's limits; `what` says which.
    LimitHit { compiling: bool, what: String },
    /// Nothing was compiled: no sandbox, no compiler, no temporary folder.
    NotRun { reason: String },
}

/// The flags of the compile, as mdbook-quiz passes them (`--edition` only when the quiz sets
/// one; rustc's own default is 2015, as in mdbook-quiz). Part of the cache key.
pub(super) fn rustc_args(edition: Option<&str>) -> Vec<String> {
    let mut args = vec!["main.rs".to_string(), "-A".into(), "warnings".into()];
    if let Some(edition) = edition {
        args.extend(["--edition".into(), edition.into()]);
    }
    // Only how errors are reported: the same programs pass and fail.
    args.push("--error-format=json".into());
    args
}

/// What a compile of a quiz program may use: rustc and the linker need far more than the
/// program does.
const COMPILE_LIMITS: Limits = Limits {
    memory: 2 << 30,
    cpu_seconds: 60,
    processes: 64,
    file_bytes: 64 << 20,
    open_files: 256,
};

/// What a quiz program may use when run.
const RUN_LIMITS: Limits = Limits {
    memory: 256 << 20,
    cpu_seconds: 10,
    processes: 16,
    file_bytes: 4 << 20,
    open_files: 64,
};

/// Output kept of a compile or a run; a program that prints more is stopped.
const OUTPUT_BYTES: usize = 1 << 20;

/// The size of the sandbox's `/tmp`, which lives in memory.
const TMP_BYTES: u64 = 64 << 20;

/// Compiles and runs `program` in `confinement`.
pub(super) fn outcome(
    confinement: &Confinement,
    program: &str,
    edition: Option<&str>,
    options: &VerifyOptions,
) -> Outcome {
    let dir = match tempfile::Builder::new().prefix("quiz-tracing-").tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            return Outcome::NotRun {
                reason: format!("no temporary folder: {e}"),
            };
        }
    };
    if let Err(e) = std::fs::write(dir.path().join("main.rs"), program) {
        return Outcome::NotRun {
            reason: format!("could not write the program: {e}"),
        };
    }
    let view = View {
        read_only: vec![],
        writable: vec![dir.path().to_path_buf()],
        cwd: dir.path().to_path_buf(),
        env: vec![],
    };
    let mut compiler = confinement.clone();
    compiler.limits = COMPILE_LIMITS;
    compiler.tmp_bytes = Some(TMP_BYTES);
    let compile = compiler.command(&compiler.rustc(), &rustc_args(edition), &view);
    let compiled = match run(compile, options.compile_timeout) {
        Ok(finished) => finished,
        Err(e) => {
            return Outcome::NotRun {
                reason: format!("the sandbox could not start rustc: {e}"),
            };
        }
    };
    if let Some(limit) = limit_hit(&compiled, options.compile_timeout, &COMPILE_LIMITS) {
        return Outcome::LimitHit {
            compiling: true,
            what: limit,
        };
    }
    if !compiled.success() {
        let stderr = String::from_utf8_lossy(&compiled.stderr);
        // Only rustc's own verdict counts as "does not compile": an exit code of 1 with an
        // error. A crash or a kill (a limit) says nothing about the program.
        return match (compiled.status.and_then(|s| s.code()), first_error(&stderr)) {
            (Some(1), Some(error)) => error,
            _ => Outcome::LimitHit {
                compiling: true,
                what: format!(
                    "rustc stopped without an error ({}){}",
                    describe_status(&compiled),
                    tail(&stderr)
                ),
            },
        };
    }
    let mut runner = confinement.clone();
    runner.limits = RUN_LIMITS;
    runner.tmp_bytes = Some(TMP_BYTES);
    // The program runs where mdbook-quiz runs it, in its folder, but may not write there: the
    // folder is on the machine's disk, and only the capped `/tmp` is the program's to fill.
    let view = View {
        read_only: vec![dir.path().to_path_buf()],
        writable: vec![],
        ..view
    };
    let binary = dir.path().join("main");
    let ran = match run(runner.command(&binary, &[], &view), options.run_timeout) {
        Ok(finished) => finished,
        Err(e) => {
            return Outcome::NotRun {
                reason: format!("the sandbox could not start the program: {e}"),
            };
        }
    };
    if let Some(limit) = limit_hit(&ran, options.run_timeout, &RUN_LIMITS) {
        return Outcome::LimitHit {
            compiling: false,
            what: limit,
        };
    }
    Outcome::Ran {
        stdout: String::from_utf8_lossy(&ran.stdout).into_owned(),
        success: ran.success(),
        stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
    }
}

fn run(command: std::process::Command, time: Duration) -> std::io::Result<Finished> {
    sandbox::run(
        command,
        OutputLimits {
            time,
            output_bytes: OUTPUT_BYTES,
        },
    )
}

/// Which limit ended the command, if one did.
fn limit_hit(finished: &Finished, time: Duration, limits: &Limits) -> Option<String> {
    if finished.timed_out {
        return Some(format!("took longer than {} s", time.as_secs_f64()));
    }
    if finished.output_exceeded {
        return Some(format!("printed more than {} KiB", OUTPUT_BYTES >> 10));
    }
    let out_of_memory = String::from_utf8_lossy(&finished.stderr).contains("memory allocation of");
    // bubblewrap reports a program killed by a signal as exit code 128 + the signal.
    let signal = finished
        .status
        .and_then(|s| signal_of(s).or(s.code().filter(|c| *c > 128).map(|c| c - 128)));
    match signal {
        Some(SIGXCPU) => Some(format!(
            "used more than {} s of processor time",
            limits.cpu_seconds
        )),
        Some(SIGXFSZ) => Some(format!(
            "wrote a file larger than {} MiB",
            limits.file_bytes >> 20
        )),
        Some(SIGABRT) if out_of_memory => Some(format!(
            "ran out of its {} MiB of memory",
            limits.memory >> 20
        )),
        _ => None,
    }
}

const SIGABRT: i32 = 6;
const SIGXCPU: i32 = 24;
const SIGXFSZ: i32 = 25;

/// The signal that ended a process (the sandbox, and so this, runs only on Linux).
fn signal_of(status: std::process::ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.signal()
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        None
    }
}

fn describe_status(finished: &Finished) -> String {
    match finished.status {
        Some(s) => match (s.code(), signal_of(s)) {
            (Some(code), _) => format!("exit code {code}"),
            (_, Some(signal)) => format!("killed by signal {signal}"),
            _ => "no status".into(),
        },
        None => "killed".into(),
    }
}

/// The last lines of a compiler's output that are not JSON, for a crash's message.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with('{') && !l.trim().is_empty())
        .collect();
    match lines.len() {
        0 => String::new(),
        n => format!(": {}", lines[n.saturating_sub(3)..].join(" / ")),
    }
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

/// The first error rustc reports, with its primary span's line; `None` without any error.
pub(super) fn first_error(stderr: &str) -> Option<Outcome> {
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
            return Some(Outcome::CompileError {
                line: Some(span.line_start),
                message: text,
            });
        }
        fallback.get_or_insert(text);
    }
    fallback.map(|message| Outcome::CompileError {
        line: None,
        message,
    })
}
