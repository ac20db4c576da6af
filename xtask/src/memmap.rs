//! `cargo xtask memmap`: runs an exercise on the student's code and draws its linear memory as
//! it is at the end of one scenario, in the terminal and, with `--svg`, as a picture.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use grader::{Render, ScenarioReport, Submission, memmap};

use crate::course;
use crate::{EXIT_FAIL, EXIT_PASS, exercises, new_grader};

#[derive(clap::Args, Debug)]
pub struct MemmapArgs {
    /// The exercise, e.g. `01-copy-in-copy-out`
    exercise: String,
    /// Draw memory after this scenario (its number or name); by default after the first
    /// scenario that leaks, or else after the last
    #[arg(long, value_name = "SCENARIO")]
    after: Option<String>,
    /// Also write the picture as a standalone SVG file
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Columns to draw in (default: `$COLUMNS`, or 100)
    #[arg(long)]
    width: Option<usize>,
}

pub fn run(root: &Path, args: MemmapArgs) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    let chosen = course::select(&all, Some(&args.exercise))?;
    let [exercise] = chosen.as_slice() else {
        bail!(
            "`{}` names {} exercises: name one, e.g. `{}`",
            args.exercise,
            chosen.len(),
            chosen[0].id
        );
    };
    let grader = new_grader(root)?;
    let report = grader
        .grade(
            &exercise.id,
            &exercise.slot("student"),
            &Submission::Crate(exercise.dir.clone()),
            &exercise.spec(),
        )
        .with_context(|| format!("grading `{}`", exercise.id))?;
    let color = crate::terminal::colours(&std::io::stdout());
    if report.scenarios.is_empty() {
        // Nothing ran: the report says why (a compile error, a missing export...).
        print!(
            "{}",
            report.render(Render {
                color,
                show_hidden: false
            })
        );
        return Ok(ExitCode::from(EXIT_FAIL));
    }
    let index = match &args.after {
        Some(wanted) => pick(&report.scenarios, wanted)?,
        None => default_scenario(&report.scenarios)
            .with_context(|| format!("every scenario of `{}` is hidden", exercise.id))?,
    };
    let scenario = &report.scenarios[index];
    let Some(map) = &scenario.memory else {
        bail!(
            "the layout of `{}`'s module could not be read, so there is no map to draw",
            exercise.id
        );
    };
    let outcome = if scenario.passed() {
        "passed"
    } else {
        "failed"
    };
    println!(
        "memory of `{}` after scenario {}/{}: {} ({outcome})",
        exercise.id,
        index + 1,
        report.scenarios.len(),
        scenario.name
    );
    for (n, step) in scenario.steps.iter().enumerate() {
        let result = step
            .result
            .as_ref()
            .map(|r| format!(" → {r}"))
            .unwrap_or_default();
        println!("  {}. {}{result}", n + 1, step.text);
    }
    println!();
    let width = args
        .width
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(100);
    print!("{}", memmap::render_text(map, width, color));
    if let Some(path) = &args.svg {
        std::fs::write(path, memmap::render_svg(map))
            .with_context(|| format!("writing `{}`", path.display()))?;
        println!("\nwrote the picture to `{}`", path.display());
    }
    let others = report.scenarios.len() - 1;
    if others > 0 && args.after.is_none() {
        println!(
            "\nanother scenario: `cargo xtask memmap {} --after N` (1 to {})",
            exercise.id,
            report.scenarios.len()
        );
    }
    Ok(ExitCode::from(EXIT_PASS))
}

/// The first visible scenario that leaks, or else the last visible one.
fn default_scenario(scenarios: &[ScenarioReport]) -> Option<usize> {
    let visible = || scenarios.iter().enumerate().filter(|(_, s)| !s.hidden);
    visible()
        .find(|(_, s)| {
            s.memory
                .as_ref()
                .is_some_and(|m| m.leaked().next().is_some())
        })
        .or_else(|| visible().next_back())
        .map(|(i, _)| i)
}

/// A scenario by its number (from 1) or its name, or a part of its name that only it has.
fn pick(scenarios: &[ScenarioReport], wanted: &str) -> anyhow::Result<usize> {
    let by_number = wanted
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=scenarios.len()).contains(n))
        .map(|n| n - 1);
    let lower = wanted.to_lowercase();
    let matching: Vec<usize> = scenarios
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name.to_lowercase().contains(&lower))
        .map(|(i, _)| i)
        .collect();
    let exact = scenarios.iter().position(|s| s.name == wanted);
    let index = match (by_number, exact, matching.as_slice()) {
        (Some(i), _, _) | (None, Some(i), _) => i,
        (None, None, [i]) => *i,
        (None, None, []) => bail!(
            "no scenario is called `{wanted}`: give a number from 1 to {}",
            scenarios.len()
        ),
        (None, None, _) => bail!(
            "`{wanted}` is part of {} scenario names: give the scenario's number instead",
            matching.len()
        ),
    };
    if scenarios[index].hidden {
        bail!(
            "scenario {} is hidden, and hidden scenarios keep their details to themselves: pick another",
            index + 1
        );
    }
    Ok(index)
}
