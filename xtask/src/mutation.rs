//! `cargo xtask check --mutants`: how strong an exercise's scenarios are. Every mutant of each
//! reference solution (`solution/lib.rs`, made by the `mutants` crate) is built in one batch
//! with the unmutated solution and graded against the exercise's scenarios, hidden ones
//! included. A mutant the scenarios fail is killed, one they pass survived, one that does not
//! compile is unviable (neither). The score is killed ÷ (killed + survived), after the
//! survivors `exercise.toml` lists under `[[equivalent]]` are set aside.
//!
//! The check fails when a mutant survives, a listed equivalent is no longer generated or is
//! killed, or the solution itself does not pass (then no mutant can be judged).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use grader::build::{Isolation, Member};
use grader::{Report, Submission};
use mutants::Mutant;
use serde::Serialize;

use crate::course::{self, Exercise};
use crate::{EXIT_HARNESS, EXIT_PASS};

#[derive(clap::Args, Debug, Default, Clone)]
pub struct MutantArgs {
    /// Grade every mutant of the reference solutions against the scenarios and report the
    /// survivors, with their diffs, and each exercise's mutation score
    #[arg(long)]
    pub mutants: bool,
    /// With `--mutants`: print one JSON object instead of text
    #[arg(long, requires = "mutants")]
    pub json: bool,
    /// With `--mutants`: write mutant ID as a broken variant of its exercise
    /// (`broken/<ID>.rs`, declared in `exercise.toml` with `--verdict`) instead of grading
    #[arg(long, value_name = "ID", requires_all = ["mutants", "verdict"])]
    pub to_broken: Option<String>,
    /// The verdict that must catch the broken variant `--to-broken` writes, e.g. `wrong-result`
    #[arg(long, requires = "to_broken")]
    pub verdict: Option<String>,
}

/// What became of one mutant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// A scenario failed it: the first that did, and the verdict.
    Killed { scenario: String, verdict: String },
    /// Every scenario passed it.
    Survived { scenarios: Vec<String> },
    /// It survived and `exercise.toml` says it behaves like the solution.
    Equivalent { reason: String },
    /// It does not compile.
    Unviable { error: String },
    /// It could not be judged (a check did not run); never counted as killed.
    NotRun { why: String },
}

/// One mutant and its outcome, as JSON shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    pub id: String,
    pub operator: &'static str,
    pub location: String,
    pub function: String,
    pub original: String,
    pub replacement: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The unified diff, for survivors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// One exercise's mutation testing.
#[derive(Debug, Clone, Serialize)]
pub struct ExerciseResult {
    pub exercise: String,
    pub mutants: usize,
    pub killed: usize,
    pub survived: usize,
    pub equivalent: usize,
    pub unviable: usize,
    pub not_run: usize,
    /// killed ÷ (killed + survived), in percent; `None` when there was nothing to kill.
    pub score: Option<f64>,
    pub judged: Vec<Judged>,
    /// What makes the check fail besides survivors, each a full message.
    pub problems: Vec<String>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Run {
    pub exercises: Vec<ExerciseResult>,
    pub mutants: usize,
    pub seconds: f64,
    pub mutants_per_minute: f64,
}

impl Run {
    pub fn passed(&self) -> bool {
        self.exercises
            .iter()
            .all(|e| e.survived == 0 && e.not_run == 0 && e.problems.is_empty())
    }
}

pub fn run(root: &Path, filter: Option<&str>, args: &MutantArgs) -> anyhow::Result<ExitCode> {
    let (all, problems) = crate::exercises(root)?;
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("✘ {p}");
        }
        return Ok(ExitCode::from(EXIT_HARNESS));
    }
    let chosen = course::select(&all, filter)?;
    if let Some(id) = &args.to_broken {
        let verdict = args.verdict.as_deref().unwrap_or_default();
        return to_broken(&chosen, id, verdict);
    }
    let run = check(root, &chosen)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print(&run);
    }
    Ok(ExitCode::from(if run.passed() {
        EXIT_PASS
    } else {
        EXIT_HARNESS
    }))
}

/// The mutants of an exercise's reference solution, and that solution's text.
fn mutants_of(exercise: &Exercise) -> anyhow::Result<(String, Vec<Mutant>)> {
    let path = exercise.dir.join("solution/lib.rs");
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading `{}`", path.display()))?;
    // Named as the student's file, which is what a survivor's diff shows.
    let mutants = mutants::generate("src/lib.rs", &source).map_err(|e| {
        anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.line, e.column, e.message)
    })?;
    Ok((source, mutants))
}

/// Grades every mutant of every chosen exercise: one batch build, then the reports in
/// parallel.
pub fn check(root: &Path, chosen: &[&Exercise]) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut sources = Vec::new();
    let mut members = Vec::new();
    // Per member: the exercise's index and the mutant's (`None`: the solution itself).
    let mut owners: Vec<(usize, Option<usize>)> = Vec::new();
    for (e, exercise) in chosen.iter().enumerate() {
        let (source, mutants) = mutants_of(exercise)?;
        let prefix = format!("x{e}");
        members.push(Member {
            id: format!("{prefix}-solution"),
            files: vec![(PathBuf::from("lib.rs"), source.clone())],
        });
        owners.push((e, None));
        for (m, mutant) in mutants.iter().enumerate() {
            members.push(Member {
                id: format!("{prefix}-{}", mutant.id),
                files: vec![(PathBuf::from("lib.rs"), mutant.apply(&source))],
            });
            owners.push((e, Some(m)));
        }
        sources.push((source, mutants));
    }
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut options = grader::GraderOptions::new(course::work_dir(root), course::guest_crate(root));
    // One cargo run builds them all: its limit grows with the batch (a member that has not
    // finished by then is built again alone, with the same limit).
    options.build_timeout = Duration::from_secs(300 + 10 * members.len() as u64);
    let grader = grader::Grader::new(options)?;
    // A workspace per selection, so two selections checked at once do not share one.
    let ids: Vec<&str> = chosen.iter().map(|e| e.id.as_str()).collect();
    let batch = format!(
        "mutants-{}",
        &grader::intake::digest(ids.iter().copied())[..12]
    );
    // The mutants are the course's own code: built with the grader's environment, like the
    // solutions `check` builds.
    // Without line tables: few mutants leak, and building those few again with them (for the
    // re-run that tells wasm-bindgen's own blocks from leaks) costs less than linking line
    // tables into every mutant.
    let built = grader.build_batch(
        &batch,
        &members,
        jobs,
        &Isolation::default(),
        grader::build::Profile::Grading,
    )?;
    let next = Mutex::new(members.iter().zip(&owners).zip(built).enumerate());
    let reports: Mutex<BTreeMap<usize, Result<Report, grader::Failure>>> = Default::default();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let Some((i, ((member, (e, _)), built))) =
                            next.lock().expect("queue").next()
                        else {
                            return Ok(());
                        };
                        let exercise = chosen[*e];
                        let result = match built {
                            Ok(built) => Ok(grader.grade(
                                &exercise.id,
                                &member.id,
                                &Submission::Built {
                                    intake: grader::intake::Intake {
                                        files: member.files.clone(),
                                        ignored: Vec::new(),
                                    },
                                    built,
                                },
                                &exercise.spec(),
                            )?),
                            Err(failure) => Err(failure),
                        };
                        reports.lock().expect("reports").insert(i, result);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a grading worker panicked")?;
        }
        Ok(())
    })?;
    grader.discard(&members.iter().map(|m| m.id.clone()).collect::<Vec<_>>());
    let mut reports = reports.into_inner().expect("reports");
    let mut solution_reports = BTreeMap::new();
    let mut mutant_reports: BTreeMap<(usize, usize), Result<Report, grader::Failure>> =
        BTreeMap::new();
    for (i, (e, m)) in owners.iter().enumerate() {
        let result = reports.remove(&i).context("every member is graded")?;
        match m {
            None => {
                solution_reports.insert(*e, result);
            }
            Some(m) => {
                mutant_reports.insert((*e, *m), result);
            }
        }
    }
    let mut exercises = Vec::new();
    for (e, exercise) in chosen.iter().enumerate() {
        let (source, mutants) = &sources[e];
        let solution = solution_reports
            .remove(&e)
            .context("the solution is graded")?;
        let results: Vec<Result<Report, grader::Failure>> = (0..mutants.len())
            .map(|m| {
                mutant_reports
                    .remove(&(e, m))
                    .context("every mutant is graded")
            })
            .collect::<anyhow::Result<_>>()?;
        exercises.push(judge(exercise, source, mutants, &solution, results)?);
    }
    let mutants: usize = exercises.iter().map(|e| e.mutants).sum();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Run {
        exercises,
        mutants,
        seconds,
        mutants_per_minute: mutants as f64 * 60.0 / seconds.max(1e-9),
    })
}

/// What each mutant's report says about it, the equivalents `exercise.toml` lists set
/// aside, and the score.
fn judge(
    exercise: &Exercise,
    source: &str,
    mutants: &[Mutant],
    solution: &Result<Report, grader::Failure>,
    results: Vec<Result<Report, grader::Failure>>,
) -> anyhow::Result<ExerciseResult> {
    let mut problems = Vec::new();
    let baseline = match solution {
        Ok(report) if report.passed() => None,
        Ok(report) => Some(format!(
            "the reference solution fails ({}): fix it before its mutants can be judged",
            report.verdict().name()
        )),
        Err(failure) => Some(format!(
            "the reference solution does not compile: {}",
            failure.message
        )),
    };
    if let Some(why) = &baseline {
        problems.push(format!("{}: {why}", exercise.id));
    }
    let listed: BTreeMap<&str, &course::Equivalent> = exercise
        .file
        .equivalent
        .iter()
        .map(|e| (e.mutant.get_ref().as_str(), e))
        .collect();
    let mut judged = Vec::new();
    for (mutant, result) in mutants.iter().zip(results) {
        let outcome = match (&baseline, result) {
            (Some(why), _) => Outcome::NotRun { why: why.clone() },
            (None, Err(failure)) => Outcome::Unviable {
                error: failure.message,
            },
            (None, Ok(report)) => outcome_of(&report),
        };
        let outcome = match (outcome, listed.get(mutant.id.as_str())) {
            (Outcome::Survived { .. }, Some(e)) => Outcome::Equivalent {
                reason: e.reason.clone(),
            },
            (outcome, _) => outcome,
        };
        let diff = matches!(outcome, Outcome::Survived { .. }).then(|| mutant.diff(source));
        judged.push(Judged {
            id: mutant.id.clone(),
            operator: mutant.operator.name(),
            location: format!("{}:{}:{}", mutant.file, mutant.line, mutant.column),
            function: mutant.function.clone(),
            original: mutant.original.clone(),
            replacement: mutant.replacement.clone(),
            outcome,
            diff,
        });
    }
    // Each listed equivalent must be a generated mutant that survives.
    if baseline.is_none() {
        let path = exercise.dir.join("exercise.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading `{}`", path.display()))?;
        for e in &exercise.file.equivalent {
            let id = e.mutant.get_ref();
            let message = match judged.iter().find(|j| j.id == *id).map(|j| &j.outcome) {
                None => Some(format!(
                    "mutant `{id}` is listed as equivalent but is no longer generated: remove this entry (`cargo xtask check --mutants {}` lists the current ids)",
                    exercise.name()
                )),
                Some(Outcome::Killed { scenario, verdict }) => Some(format!(
                    "mutant `{id}` is listed as equivalent but scenario {scenario:?} kills it ({verdict}): it is not equivalent; remove this entry"
                )),
                Some(Outcome::Unviable { .. }) => Some(format!(
                    "mutant `{id}` is listed as equivalent but does not compile: remove this entry"
                )),
                _ => None,
            };
            if let Some(message) = message {
                problems.push(course::render(&path, &text, e.mutant.span(), &message));
            }
        }
    }
    let count = |f: fn(&Outcome) -> bool| judged.iter().filter(|j| f(&j.outcome)).count();
    let killed = count(|o| matches!(o, Outcome::Killed { .. }));
    let survived = count(|o| matches!(o, Outcome::Survived { .. }));
    Ok(ExerciseResult {
        exercise: exercise.id.clone(),
        mutants: judged.len(),
        killed,
        survived,
        equivalent: count(|o| matches!(o, Outcome::Equivalent { .. })),
        unviable: count(|o| matches!(o, Outcome::Unviable { .. })),
        not_run: count(|o| matches!(o, Outcome::NotRun { .. })),
        score: (killed + survived > 0 && baseline.is_none())
            .then(|| 100.0 * killed as f64 / (killed + survived) as f64),
        judged,
        problems,
    })
}

/// Killed by the first scenario (or preflight check) that failed; survived when every one
/// passed; not run when the only failures are checks that could not run.
fn outcome_of(report: &Report) -> Outcome {
    if report.passed() {
        return Outcome::Survived {
            scenarios: report.scenarios.iter().map(|s| s.name.clone()).collect(),
        };
    }
    let real = |f: &&grader::Failure| f.verdict != grader::Verdict::NotRun;
    let preflight = report
        .preflight
        .iter()
        .filter_map(|c| c.failure())
        .find(real);
    if let Some(failure) = preflight {
        return Outcome::Killed {
            scenario: "before any scenario".into(),
            verdict: failure.verdict.name().into(),
        };
    }
    for scenario in &report.scenarios {
        if let Some(failure) = scenario
            .checks
            .iter()
            .filter_map(|c| c.failure())
            .find(real)
        {
            return Outcome::Killed {
                scenario: scenario.name.clone(),
                verdict: failure.verdict.name().into(),
            };
        }
    }
    Outcome::NotRun {
        why: report
            .failures()
            .next()
            .map_or_else(|| "no check passed it".into(), |f| f.message.clone()),
    }
}

fn print(run: &Run) {
    for e in &run.exercises {
        for p in &e.problems {
            eprintln!("✘ {p}");
        }
    }
    print!("{}", render(run));
}

/// The report for a person: each survivor with where it is, the scenarios it passed and its
/// diff, then each exercise's score, then the run's pace.
pub fn render(run: &Run) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for e in &run.exercises {
        for j in &e.judged {
            match &j.outcome {
                Outcome::Survived { scenarios } => {
                    let _ = writeln!(
                        out,
                        "✘ {}: mutant `{}` survived: {}: {}",
                        e.exercise,
                        j.id,
                        j.location,
                        describe(j)
                    );
                    let _ = writeln!(out, "  it passed every scenario: {}", quoted(scenarios));
                    for line in j.diff.as_deref().unwrap_or_default().lines() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
                Outcome::NotRun { why } => {
                    let _ = writeln!(
                        out,
                        "✘ {}: mutant `{}` was not judged: {why}",
                        e.exercise, j.id
                    );
                }
                _ => {}
            }
        }
        let score = e
            .score
            .map_or_else(|| "no score".to_owned(), |s| format!("score {s:.1}%"));
        let mark = if e.survived == 0 && e.not_run == 0 && e.problems.is_empty() {
            '✔'
        } else {
            '✘'
        };
        let _ = writeln!(
            out,
            "{mark} {}: {score} ({} mutants: {} killed, {} survived, {} equivalent, {} unviable)",
            e.exercise, e.mutants, e.killed, e.survived, e.equivalent, e.unviable
        );
    }
    let _ = writeln!(
        out,
        "{} mutants in {:.1} s ({:.0} per minute)",
        run.mutants, run.seconds, run.mutants_per_minute
    );
    out
}

fn describe(j: &Judged) -> String {
    let one = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let within = if j.function.is_empty() {
        String::new()
    } else {
        format!(" in `{}`", j.function)
    };
    if j.replacement.trim().is_empty() {
        format!("`{}` removed{within}", one(&j.original))
    } else {
        format!(
            "`{}` replaced by `{}`{within}",
            one(&j.original),
            one(&j.replacement)
        )
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes mutant `id` as `broken/<id>.rs` of its exercise and declares it in `exercise.toml`
/// with the verdict that must catch it.
fn to_broken(chosen: &[&Exercise], id: &str, verdict: &str) -> anyhow::Result<ExitCode> {
    if grader::Verdict::from_name(verdict).is_none() {
        let names: Vec<&str> = grader::Verdict::ALL.iter().map(|v| v.name()).collect();
        bail!(
            "`{verdict}` is not a verdict; use one of {}",
            names.join(", ")
        );
    }
    let mut found = None;
    for exercise in chosen {
        let (source, mutants) = mutants_of(exercise)?;
        if let Some(m) = mutants.into_iter().find(|m| m.id == id) {
            found = Some((*exercise, source, m));
            break;
        }
    }
    let Some((exercise, source, mutant)) = found else {
        bail!(
            "no mutant `{id}` among the chosen exercises' solutions; `cargo xtask check --mutants` lists the survivors' ids"
        );
    };
    let rel = format!("broken/{id}.rs");
    let file = exercise.dir.join(&rel);
    if file.exists() {
        bail!("`{}` already exists", file.display());
    }
    std::fs::create_dir_all(exercise.dir.join("broken"))?;
    let text = format!(
        "// Mutant `{id}` of `solution/lib.rs`: {}\n{}",
        describe_mutant(&mutant),
        mutant.apply(&source)
    );
    std::fs::write(&file, text).with_context(|| format!("writing `{}`", file.display()))?;
    let toml_path = exercise.dir.join("exercise.toml");
    let mut toml = std::fs::read_to_string(&toml_path)?;
    if !toml.ends_with('\n') {
        toml.push('\n');
    }
    toml.push_str(&format!(
        "\n[[broken]]\nfile = \"{rel}\"\nverdict = \"{verdict}\"\n"
    ));
    std::fs::write(&toml_path, toml)?;
    if let Err(e) = course::load(&exercise.dir) {
        bail!("`exercise.toml` no longer loads after adding the broken variant:\n{e}");
    }
    println!(
        "wrote `{}` and declared it in `exercise.toml`: `cargo xtask check {}` fails until a scenario catches it as {verdict}",
        file.display(),
        exercise.name()
    );
    Ok(ExitCode::from(EXIT_PASS))
}

fn describe_mutant(m: &Mutant) -> String {
    m.describe()
        .split_once(": ")
        .map_or_else(|| m.describe(), |(_, what)| what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of the tiny exercise in `xtask/tests/mutants/01-tiny/`, to change freely.
    fn tiny(name: &str) -> Exercise {
        let from = course::root().join("xtask/tests/mutants/01-tiny");
        let dir = std::env::temp_dir().join(format!("mutants-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["solution", "starter"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::copy(from.join(sub).join("lib.rs"), dir.join(sub).join("lib.rs")).unwrap();
        }
        std::fs::copy(from.join("exercise.toml"), dir.join("exercise.toml")).unwrap();
        let file = course::load(&dir).unwrap();
        Exercise {
            id: format!("fixtures/01-tiny-{name}"),
            dir,
            file,
        }
    }

    /// The scenarios never add a second number but 0: `a - b` survives, and is reported with
    /// its diff and the scenarios it passed; every other mutant is killed, unviable (`u16::from`
    /// makes a `u16` where a `u32` is returned) or the listed equivalent.
    #[test]
    fn the_mutant_the_scenarios_miss_is_reported_with_its_diff() {
        let exercise = tiny("survivor");
        let run = check(&course::root(), &[&exercise]).unwrap();
        let result = &run.exercises[0];
        let survivors: Vec<&Judged> = result
            .judged
            .iter()
            .filter(|j| matches!(j.outcome, Outcome::Survived { .. }))
            .collect();
        assert_eq!(survivors.len(), 1, "{:#?}", result.judged);
        let survivor = survivors[0];
        assert_eq!(
            (survivor.original.as_str(), survivor.replacement.as_str()),
            ("a + b", "a - b")
        );
        assert_eq!(survivor.location, "src/lib.rs:8:5");
        assert_eq!(
            survivor.diff.as_deref(),
            Some(
                "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -5,7 +5,7 @@\n \n #[wasm_bindgen]\n pub fn add(a: u32, b: u32) -> u32 {\n-    a + b\n+    a - b\n }\n \n #[wasm_bindgen]\n"
            )
        );
        assert_eq!(
            survivor.outcome,
            Outcome::Survived {
                scenarios: vec![
                    "adds nothing to a large number".into(),
                    "doubles a byte".into()
                ]
            }
        );
        assert!(result.problems.is_empty(), "{:?}", result.problems);
        assert_eq!(result.survived, 1);
        assert_eq!(result.equivalent, 1);
        assert!(result.unviable >= 1, "{:#?}", result.judged);
        assert!(result.killed >= 5, "{:#?}", result.judged);
        assert_eq!(
            result.killed + result.survived + result.equivalent + result.unviable,
            result.mutants
        );
        let score = result.score.unwrap();
        let want = 100.0 * result.killed as f64 / (result.killed + 1) as f64;
        assert!((score - want).abs() < 1e-9, "{score} {want}");
        assert!(!run.passed());
        // What the instructor reads: the survivor, its diff, the score.
        let text = render(&run);
        assert!(
            text.contains(&format!(
                "✘ fixtures/01-tiny-survivor: mutant `{}` survived: src/lib.rs:8:5: `a + b` replaced by `a - b` in `add`\n  it passed every scenario: \"adds nothing to a large number\", \"doubles a byte\"\n    --- a/src/lib.rs\n",
                survivor.id
            )),
            "{text}"
        );
        assert!(text.contains("    -    a + b\n    +    a - b\n"), "{text}");
        assert!(
            text.contains(&format!(
                "✘ fixtures/01-tiny-survivor: score {score:.1}% ({} mutants: {} killed, 1 survived, 1 equivalent, {} unviable)",
                result.mutants, result.killed, result.unviable
            )),
            "{text}"
        );
        // And in JSON.
        let json: serde_json::Value = serde_json::to_value(&run).unwrap();
        let first = &json["exercises"][0];
        assert_eq!(first["survived"], 1);
        assert_eq!(first["score"].as_f64(), Some(score));
        let reported = first["judged"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["outcome"] == "survived")
            .unwrap();
        assert_eq!(reported["id"], survivor.id.as_str());
        assert_eq!(reported["diff"], survivor.diff.as_deref().unwrap());

        // Listing the survivor as equivalent sets it aside; listing an id no longer generated,
        // or one the scenarios kill, fails the check with the line of the entry.
        let killed = result
            .judged
            .iter()
            .find(|j| matches!(j.outcome, Outcome::Killed { .. }))
            .unwrap()
            .id
            .clone();
        let mut listed = exercise.clone();
        let toml = std::fs::read_to_string(exercise.dir.join("exercise.toml")).unwrap();
        let toml = format!(
            "{toml}\n[[equivalent]]\nmutant = \"{}\"\nreason = \"r\"\n\n[[equivalent]]\nmutant = \"arithmetic-00000000\"\nreason = \"r\"\n\n[[equivalent]]\nmutant = \"{killed}\"\nreason = \"r\"\n",
            survivor.id
        );
        std::fs::write(exercise.dir.join("exercise.toml"), &toml).unwrap();
        listed.file = course::load(&exercise.dir).unwrap();
        let run = check(&course::root(), &[&listed]).unwrap();
        let result = &run.exercises[0];
        assert_eq!((result.survived, result.equivalent), (0, 2));
        assert_eq!(result.problems.len(), 2, "{:#?}", result.problems);
        let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
        assert!(
            result.problems[0].contains(
                "mutant `arithmetic-00000000` is listed as equivalent but is no longer generated"
            ) && result.problems[0].contains(&format!(
                "exercise.toml:{}:10",
                line_of("arithmetic-00000000")
            )),
            "{}",
            result.problems[0]
        );
        assert!(
            result.problems[1].contains(&format!(
                "mutant `{killed}` is listed as equivalent but scenario"
            )) && result.problems[1].contains(&format!(
                "exercise.toml:{}:10",
                line_of(&format!("\"{killed}\""))
            )),
            "{}",
            result.problems[1]
        );
        assert!(!run.passed());
        let _ = std::fs::remove_dir_all(&exercise.dir);
    }

    /// A solution that fails its own scenarios leaves every mutant unjudged: none counts as
    /// killed, and the check says why.
    #[test]
    fn mutants_of_a_failing_solution_are_not_judged() {
        let exercise = tiny("failing");
        let report = Report::new(&exercise.id, 1.0);
        let mut failing = report.clone();
        failing.preflight.push(grader::CheckResult::fail(
            grader::CheckName::Compile,
            grader::Failure::new(grader::Verdict::WrongResult, "wrong"),
        ));
        let source = std::fs::read_to_string(exercise.dir.join("solution/lib.rs")).unwrap();
        let mutants = mutants::generate("src/lib.rs", &source).unwrap();
        let results = std::iter::repeat_n(Ok(report), mutants.len()).collect();
        let judged = judge(&exercise, &source, &mutants, &Ok(failing), results).unwrap();
        assert_eq!(judged.not_run, mutants.len());
        assert_eq!((judged.killed, judged.survived, judged.score), (0, 0, None));
        assert!(
            judged.problems[0].contains("the reference solution fails"),
            "{:?}",
            judged.problems
        );
        let _ = std::fs::remove_dir_all(&exercise.dir);
    }

    #[test]
    fn a_mutant_becomes_a_broken_variant_with_its_verdict() {
        let exercise = tiny("broken");
        let source = std::fs::read_to_string(exercise.dir.join("solution/lib.rs")).unwrap();
        let mutant = mutants::generate("src/lib.rs", &source)
            .unwrap()
            .into_iter()
            .find(|m| m.replacement == "a - b")
            .unwrap();
        let err = to_broken(&[&exercise], &mutant.id, "wrong-answer").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`wrong-answer` is not a verdict; use one of"),
            "{err}"
        );
        let err = to_broken(&[&exercise], "arithmetic-00000000", "wrong-result").unwrap_err();
        assert!(
            err.to_string().contains("no mutant `arithmetic-00000000`"),
            "{err}"
        );
        to_broken(&[&exercise], &mutant.id, "wrong-result").unwrap();
        let written =
            std::fs::read_to_string(exercise.dir.join(format!("broken/{}.rs", mutant.id))).unwrap();
        let (first, rest) = written.split_once('\n').unwrap();
        assert_eq!(rest, mutant.apply(&source));
        assert!(
            first.starts_with(&format!("// Mutant `{}` of `solution/lib.rs`: ", mutant.id)),
            "{first}"
        );
        let file = course::load(&exercise.dir).unwrap();
        let broken = file.broken.last().unwrap();
        assert_eq!(
            broken.file,
            PathBuf::from(format!("broken/{}.rs", mutant.id))
        );
        assert_eq!(broken.verdict, "wrong-result");
        // Never over an existing variant.
        let err = to_broken(&[&exercise], &mutant.id, "wrong-result").unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let _ = std::fs::remove_dir_all(&exercise.dir);
    }
}
