//! `cargo xtask`: the course's command line, for students, instructors and CI.
//!
//! Exit codes, for every subcommand: 0 everything passed, 1 the student's work failed,
//! 2 the harness or its input (an exercise or quiz file) failed.

mod bench;
mod course;
mod progress;
mod quiz;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use course::Exercise;
use grader::{Grader, GraderOptions, Render, Report, Submission};

/// Everything passed.
pub const EXIT_PASS: u8 = 0;
/// The student's work failed a check.
pub const EXIT_FAIL: u8 = 1;
/// The harness or its input failed.
pub const EXIT_HARNESS: u8 = 2;

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
    },
    /// Show every exercise and quiz with your progress
    List,
    /// Show the next hint for an exercise, one more each time
    Hint { exercise: String },
    /// Instructors: prove every reference solution passes, every starter fails, and every broken
    /// variant is caught by the verdict it names
    Check {
        /// An exercise or chapter; all when omitted
        exercise: Option<String>,
    },
    /// Measure the grading pipeline, step by step
    Bench(bench::BenchArgs),
    /// Take a chapter quiz, or check quiz files
    Quiz(quiz::QuizArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = course::root();
    let result = match cli.command {
        Command::Grade { exercise, json } => grade(&root, exercise.as_deref(), json),
        Command::List => list(&root),
        Command::Hint { exercise } => hint(&root, &exercise),
        Command::Check { exercise } => check(&root, exercise.as_deref()),
        Command::Bench(args) => bench::run(&root, args),
        Command::Quiz(args) => quiz::run(&root, args),
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
    Grader::new(GraderOptions::new(
        course::work_dir(root),
        course::guest_crate(root),
    ))
    .context("starting the grader")
}

/// Loads every exercise; a malformed one is reported and makes the run a harness failure, but
/// the others are still graded.
fn exercises(root: &Path) -> anyhow::Result<(Vec<Exercise>, Vec<String>)> {
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

fn grade(root: &Path, filter: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    let chosen = course::select(&all, filter)?;
    let grader = new_grader(root)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut code = if errors.is_empty() {
        EXIT_PASS
    } else {
        EXIT_HARNESS
    };
    let mut reports = Vec::new();
    for exercise in chosen {
        let report = match grader.grade(
            &exercise.id,
            &exercise.slot("student"),
            &Submission::Crate(exercise.dir.clone()),
            &exercise.spec(),
        ) {
            Ok(report) => report,
            Err(e) => {
                eprintln!("error: grading `{}`: {e}", exercise.id);
                code = EXIT_HARNESS;
                continue;
            }
        };
        record_progress(root, exercise, &report);
        if !report.passed() && code == EXIT_PASS {
            code = EXIT_FAIL;
        }
        if json {
            reports.push(report);
        } else {
            print!(
                "{}",
                report.render(Render {
                    color,
                    show_hidden: false
                })
            );
            if !report.passed() {
                print_next_hint(root, exercise);
            }
            println!();
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(ExitCode::from(code))
}

fn record_progress(root: &Path, exercise: &Exercise, report: &Report) {
    let result = progress::update(root, |p| {
        let entry = p.exercises.entry(exercise.id.clone()).or_default();
        entry.done |= report.passed();
        entry.best_score = entry.best_score.max(report.percent());
    });
    match result {
        Ok(Some(warning)) => eprintln!("warning: {warning}"),
        Ok(None) => {}
        Err(e) => eprintln!("warning: progress not saved: {e:#}"),
    }
}

fn print_next_hint(root: &Path, exercise: &Exercise) {
    let (progress, _) = progress::load(root);
    let shown = progress
        .exercises
        .get(&exercise.id)
        .map_or(0, |e| e.hints_shown);
    if shown < exercise.file.hints.len() {
        println!(
            "stuck? `cargo xtask hint {}` shows hint {} of {}",
            exercise.id,
            shown + 1,
            exercise.file.hints.len()
        );
    }
}

fn list(root: &Path) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    let (progress, warning) = progress::load(root);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let mut chapter = "";
    for e in &all {
        if e.chapter() != chapter {
            chapter = e.chapter();
            let done = all
                .iter()
                .filter(|x| {
                    x.chapter() == chapter && progress.exercises.get(&x.id).is_some_and(|p| p.done)
                })
                .count();
            let total = all.iter().filter(|x| x.chapter() == chapter).count();
            println!(
                "{chapter}: {}  ({done}/{total} exercises done)",
                e.file.lesson
            );
        }
        let p = progress.exercises.get(&e.id);
        let mark = match p {
            Some(p) if p.done => "✔".to_owned(),
            Some(p) => format!("{:>3.0}%", p.best_score),
            None => "·".to_owned(),
        };
        println!("  {mark:>4}  {}  {}", e.id, e.file.title);
    }
    for (id, q) in &progress.quizzes {
        println!(
            "quiz {id}: {}",
            if q.passed { "passed" } else { "not passed yet" }
        );
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(ExitCode::from(if errors.is_empty() {
        EXIT_PASS
    } else {
        EXIT_HARNESS
    }))
}

fn hint(root: &Path, filter: &str) -> anyhow::Result<ExitCode> {
    let (all, _) = exercises(root)?;
    let chosen = course::select(&all, Some(filter))?;
    let [exercise] = chosen[..] else {
        anyhow::bail!("`{filter}` matches {} exercises; name one", chosen.len());
    };
    let hints = &exercise.file.hints;
    if hints.is_empty() {
        println!("`{}` has no hints", exercise.id);
        return Ok(ExitCode::from(EXIT_PASS));
    }
    let (progress, _) = progress::load(root);
    let shown = progress
        .exercises
        .get(&exercise.id)
        .map_or(0, |e| e.hints_shown);
    let next = shown.min(hints.len() - 1);
    println!(
        "{}: {}\n\n{}\n",
        exercise.id,
        exercise.file.title,
        exercise.file.statement.trim()
    );
    for (i, h) in hints.iter().enumerate().take(next + 1) {
        println!("hint {} of {}: {h}", i + 1, hints.len());
    }
    progress::update(root, |p| {
        p.exercises
            .entry(exercise.id.clone())
            .or_default()
            .hints_shown = next + 1
    })?;
    Ok(ExitCode::from(EXIT_PASS))
}

/// Grades one variant (`solution/lib.rs`, `broken/x.rs`, or the starter `src/`) of an exercise.
fn grade_variant(
    grader: &Grader,
    root: &Path,
    exercise: &Exercise,
    variant: &str,
    lib_rs: Option<&Path>,
) -> anyhow::Result<Report> {
    let dir = match lib_rs {
        None => exercise.dir.clone(),
        Some(file) => {
            let dir = course::work_dir(root)
                .join("variants")
                .join(exercise.slot(variant));
            let src = dir.join("src");
            std::fs::create_dir_all(&src)?;
            let content =
                std::fs::read(file).with_context(|| format!("reading `{}`", file.display()))?;
            if std::fs::read(src.join("lib.rs")).ok().as_deref() != Some(&content[..]) {
                std::fs::write(src.join("lib.rs"), content)?;
            }
            dir
        }
    };
    Ok(grader.grade(
        &exercise.id,
        &exercise.slot(variant),
        &Submission::Crate(dir),
        &exercise.spec(),
    )?)
}

fn check(root: &Path, filter: Option<&str>) -> anyhow::Result<ExitCode> {
    let (all, mut problems) = exercises(root)?;
    let chosen = course::select(&all, filter)?;
    let grader = new_grader(root)?;
    for exercise in chosen {
        let id = &exercise.id;
        if exercise.file.scenario.is_empty() {
            problems.push(format!("{id}: has no scenario"));
            continue;
        }
        let solution = exercise.dir.join("solution/lib.rs");
        match grade_variant(&grader, root, exercise, "solution", Some(&solution)) {
            Ok(r) if r.passed() => println!("✔ {id}: solution scores 100%"),
            Ok(r) => problems.push(format!(
                "{id}: the reference solution fails\n{}",
                r.render(Render {
                    color: false,
                    show_hidden: true
                })
            )),
            Err(e) => problems.push(format!("{id}: solution: {e:#}")),
        }
        match grade_variant(&grader, root, exercise, "starter", None) {
            Ok(r) if !r.passed() => println!("✔ {id}: starter fails ({})", r.verdict().name()),
            Ok(_) => problems.push(format!(
                "{id}: the starter in `src/` already passes every check"
            )),
            Err(e) => problems.push(format!("{id}: starter: {e:#}")),
        }
        if exercise.file.broken.is_empty() {
            problems.push(format!("{id}: has no broken variant"));
        }
        for broken in &exercise.file.broken {
            let name = broken
                .file
                .file_stem()
                .map_or("broken".into(), |s| s.to_string_lossy().into_owned());
            let Some(want) = grader::Verdict::from_name(&broken.verdict) else {
                problems.push(format!(
                    "{id}: `{}` names an unknown verdict `{}`",
                    broken.file.display(),
                    broken.verdict
                ));
                continue;
            };
            match grade_variant(
                &grader,
                root,
                exercise,
                &format!("broken-{name}"),
                Some(&exercise.dir.join(&broken.file)),
            ) {
                Ok(r) if r.failures().any(|f| f.verdict == want) => {
                    println!(
                        "✔ {id}: `{}` is caught as {}",
                        broken.file.display(),
                        want.name()
                    );
                }
                Ok(r) => problems.push(format!(
                    "{id}: `{}` should be caught as {} but got {}",
                    broken.file.display(),
                    want.name(),
                    r.verdict().name()
                )),
                Err(e) => problems.push(format!("{id}: {}: {e:#}", broken.file.display())),
            }
        }
    }
    for p in &problems {
        eprintln!("✘ {p}");
    }
    if problems.is_empty() {
        println!("every exercise checks out");
        Ok(ExitCode::from(EXIT_PASS))
    } else {
        eprintln!("{} problems", problems.len());
        Ok(ExitCode::from(EXIT_HARNESS))
    }
}
