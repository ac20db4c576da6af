//! `cargo xtask size`: builds an exercise's code (the student's `src/`, or with `--variant` the
//! solution, the starter or a broken or correct variant) and says where its module's bytes go.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use grader::Submission;

use crate::{EXIT_FAIL, EXIT_PASS, course, exercises, instructor, new_grader};

#[derive(clap::Args, Debug)]
pub struct SizeArgs {
    /// The exercise, e.g. `07-size-budget`
    exercise: String,
    /// Measure `solution`, `starter`, or a file beside `exercise.toml` such as
    /// `broken/uses-format.rs`, instead of your `src/`
    #[arg(long)]
    variant: Option<String>,
    /// How many of the largest items to list
    #[arg(long, default_value_t = 15)]
    top: usize,
}

pub fn run(root: &Path, args: SizeArgs) -> anyhow::Result<ExitCode> {
    let (all, _) = exercises(root)?;
    let exercise = course::select_one(&all, &args.exercise)?;
    let (label, slot, dir) = match args.variant.as_deref() {
        None => (
            "src/".to_owned(),
            exercise.slot("student"),
            exercise.dir.clone(),
        ),
        Some(variant) => {
            let file = match variant {
                "solution" | "starter" => exercise.dir.join(variant).join("lib.rs"),
                other => exercise.dir.join(other),
            };
            if !file.is_file() {
                bail!("`{variant}` is not a variant of `{}`", exercise.id);
            }
            let name = variant.trim_end_matches(".rs");
            let dir = instructor::stage_variant(root, exercise, name, &file)?;
            (variant.to_owned(), exercise.slot(name), dir)
        }
    };
    let grader = new_grader(root)?;
    let Some(breakdown) = grader.module_size(&slot, &Submission::Crate(dir))? else {
        println!(
            "{} ({label}) does not build yet: `cargo xtask grade` shows why",
            exercise.id
        );
        return Ok(ExitCode::from(EXIT_FAIL));
    };
    println!("module of {} ({label})", exercise.id);
    for line in breakdown.lines(args.top) {
        println!("  {line}");
    }
    let budget = exercise.spec().budget;
    for (what, max, got) in [
        ("raw", budget.max_module_bytes, breakdown.bytes),
        (
            "gzipped",
            budget.max_module_gzip_bytes,
            breakdown.gzip_bytes,
        ),
    ] {
        if let Some(max) = max {
            let mark = if got <= max { "within" } else { "over" };
            println!(
                "  {what}: {} is {mark} the budget of {}",
                grader::size::kib(got),
                grader::size::kib(max)
            );
        }
    }
    Ok(ExitCode::from(EXIT_PASS))
}
