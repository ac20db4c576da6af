//! `cargo xtask`: the course's command line, for students, instructors and CI.
//!
//! Exit codes, for every subcommand: 0 everything passed, 1 the student's work failed,
//! 2 the harness or its input (an exercise or quiz file) failed.

mod batch;
mod bench;
mod course;
mod instructor;
mod memmap;
mod mutation;
mod progress;
mod quiz;
mod saves;
mod size;
mod student;
mod terminal;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use course::Exercise;
use grader::{Grader, GraderOptions};

/// Everything passed.
pub const EXIT_PASS: u8 = 0;
/// The student's work failed a check.
pub const EXIT_FAIL: u8 = 1;
/// The harness or its input failed.
pub const EXIT_HARNESS: u8 = 2;
/// Cancelled (Ctrl-C): what a shell reports for a program its SIGINT ended, so a script sees
/// no difference from before the builds were cleaned up.
const EXIT_INTERRUPTED: i32 = 130;

#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    about = "Grade the Rust → WebAssembly course's exercises and quizzes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build, run and grade exercises: all of them, a chapter (`21`) or one (`01-copy-in-copy-out`)
    Grade {
        /// An exercise or chapter; all exercises when omitted
        exercise: Option<String>,
        /// Print the reports as JSON instead of text
        #[arg(long)]
        json: bool,
        /// Seed `Math.random` with this number in every scenario, to replay a run whose report
        /// names its seed (batches always use each scenario's own seed)
        #[arg(long, conflicts_with = "submissions")]
        seed: Option<u64>,
        #[command(flatten)]
        batch: batch::BatchArgs,
    },
    /// CI: combine the journals of several `--partition` shards and write every result file
    Merge {
        /// An exercise or chapter; all exercises when omitted
        #[arg(long)]
        exercise: Option<String>,
        /// Where the combined journal and results go
        #[arg(long, default_value = "target/grades")]
        out: PathBuf,
        /// The shards' `journal.jsonl` files
        #[arg(required = true)]
        journals: Vec<PathBuf>,
    },
    /// Show every exercise and quiz with your progress
    List,
    /// List the JavaScript a module imports and how the grader serves each: an exercise's
    /// `src/`, or any crate folder
    Imports { exercise: String },
    /// Show the next hint for an exercise, one more each time
    Hint { exercise: String },
    /// Re-grade on every save, moving on to the next exercise when one passes
    Watch {
        /// An exercise or chapter; all exercises when omitted
        exercise: Option<String>,
    },
    /// Restore an exercise's `src/` to its starter (asks first)
    Reset {
        exercise: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Instructors: prove every reference solution passes, every starter fails, and every broken
    /// variant is caught by the verdict it names
    Check {
        /// An exercise or chapter; all when omitted
        exercise: Option<String>,
        #[command(flatten)]
        mutants: mutation::MutantArgs,
    },
    /// Instructors: scaffold a new exercise from the template, e.g. `new 22 07-strings`
    New {
        /// A chapter folder (`21-wasm-memory`) or its number (`21`)
        chapter: String,
        /// The exercise folder name, e.g. `07-strings`
        name: String,
    },
    /// Measure the grading pipeline, step by step
    Bench(bench::BenchArgs),
    /// Draw an exercise's linear memory as your code leaves it: stack, static data, heap blocks
    /// and leaks, page by page
    Memmap(memmap::MemmapArgs),
    /// Take a chapter quiz, or check quiz files
    Quiz(quiz::QuizArgs),
    /// Where a module's bytes go: its size raw and gzipped, by origin, and its largest
    /// functions and data segments by retained size
    Size(size::SizeArgs),
}

fn main() -> ExitCode {
    // Started by cargo to record the rustc command of a student's crate (see
    // `grader::build::record_if_asked`): that, and nothing else.
    if let Some(code) = grader::build::record_if_asked() {
        std::process::exit(code);
    }
    std::panic::set_hook(Box::new(report_panic));
    // A build runs as a process tree of its own, which on Unix the terminal's Ctrl-C does not
    // reach: cancelling xtask (Ctrl-C in `watch`, a closed terminal, a cancelled CI job) ends
    // the builds it started rather than leaving them to hold the target folder's lock.
    let _ = ctrlc::set_handler(|| {
        grader::sandbox::ProcessTree::kill_running();
        std::process::exit(EXIT_INTERRUPTED);
    });
    // A panic is the harness's failure, exit code 2 as promised, never Rust's 101.
    std::panic::catch_unwind(run).unwrap_or(ExitCode::from(EXIT_HARNESS))
}

/// What a panic prints instead of Rust's `thread 'main' panicked at`: that it is the tools'
/// bug, not the student's, and what to do. Stdout closed by its reader (`cargo xtask list |
/// head`) is no error at all, and prints nothing.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    use std::io::Write;
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
        return;
    }
    let location = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()));
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", internal_error(message, location.as_deref()));
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        let _ = writeln!(stderr, "{}", std::backtrace::Backtrace::force_capture());
    }
}

fn internal_error(message: &str, location: Option<&str>) -> String {
    let at = location.map(|l| format!(" (at {l})")).unwrap_or_default();
    format!(
        "error: internal error in `cargo xtask`: {message}{at}\n\
         this is a bug in the course's tools, not in your work: please report it with the command you ran (`RUST_BACKTRACE=1` adds a backtrace)"
    )
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    let root = match course::locate() {
        Ok(root) => root,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_HARNESS);
        }
    };
    let result = match cli.command {
        Command::Grade {
            exercise, batch, ..
        } if batch.submissions.is_some() => batch::run(&root, exercise.as_deref(), &batch),
        Command::Grade {
            exercise,
            json,
            seed,
            ..
        } => student::grade(&root, exercise.as_deref(), json, seed),
        Command::Merge {
            exercise,
            out,
            journals,
        } => batch::merge(&root, exercise.as_deref(), &out, &journals),
        Command::List => student::list(&root),
        Command::Imports { exercise } => student::imports(&root, &exercise),
        Command::Hint { exercise } => student::hint(&root, &exercise),
        Command::Watch { exercise } => student::watch(&root, exercise.as_deref()),
        Command::Reset { exercise, yes } => student::reset(&root, &exercise, yes),
        Command::Check { exercise, mutants } if mutants.mutants => {
            mutation::run(&root, exercise.as_deref(), &mutants)
        }
        Command::Check { exercise, .. } => instructor::check(&root, exercise.as_deref()),
        Command::New { chapter, name } => instructor::new(&root, &chapter, &name),
        Command::Bench(args) => bench::run(&root, args),
        Command::Memmap(args) => memmap::run(&root, args),
        Command::Quiz(args) => quiz::run(&root, args),
        Command::Size(args) => size::run(&root, args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_HARNESS)
        }
    }
}

pub fn new_grader(root: &Path) -> anyhow::Result<Grader> {
    new_grader_seeded(root, None)
}

/// A grader whose `Math.random` starts from `seed` in every scenario, when given.
pub fn new_grader_seeded(root: &Path, seed: Option<u64>) -> anyhow::Result<Grader> {
    let mut options = GraderOptions::new(course::work_dir(root), course::guest_crate(root));
    options.seed = seed;
    Grader::new(options).context("starting the grader")
}

/// Loads every exercise; a malformed one is reported and makes the run a harness failure, but
/// the others are still graded.
pub fn exercises(root: &Path) -> anyhow::Result<(Vec<Exercise>, Vec<String>)> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for e in course::discover(root)? {
        match e {
            Ok(e) => ok.push(e),
            Err(message) => errors.push(message),
        }
    }
    Ok((ok, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internal_error_says_whose_fault_it_is_and_what_to_do() {
        assert_eq!(
            internal_error("index out of bounds", Some("xtask/src/student.rs:12")),
            "error: internal error in `cargo xtask`: index out of bounds (at xtask/src/student.rs:12)\n\
             this is a bug in the course's tools, not in your work: please report it with the command you ran (`RUST_BACKTRACE=1` adds a backtrace)"
        );
    }
}
