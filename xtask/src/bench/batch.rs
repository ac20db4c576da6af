//! The batch rows: a generated batch graded as CI grades it, against a bare `cargo build` of
//! the same submissions in the same round; and the course's mutant check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::median;
use crate::course;

/// `check --mutants` over the whole course, as CI runs it.
#[derive(Debug, Serialize)]
pub(super) struct MutantFigures {
    exercises: usize,
    mutants: usize,
    killed: usize,
    survived: usize,
    equivalent: usize,
    unviable: usize,
    seconds: f64,
    mutants_per_minute: f64,
}

impl MutantFigures {
    /// Prints its section of the table.
    pub(super) fn print(&self) {
        println!(
            "mutants: every reference solution's, graded in one batch as `check --mutants` does"
        );
        println!(
            "  {} mutants of {} exercises     {:>9.1} s",
            self.mutants, self.exercises, self.seconds
        );
        println!(
            "  mutants per minute           {:>9.1}",
            self.mutants_per_minute
        );
        println!(
            "  killed {}, survived {}, equivalent {}, unviable {}",
            self.killed, self.survived, self.equivalent, self.unviable
        );
    }
}

/// The batch part of the figures.
#[derive(Debug, Serialize)]
pub(super) struct BatchFigures {
    submissions: usize,
    /// Rounds of a batch then its bare build; the figures below are their medians.
    rounds: usize,
    seconds: f64,
    submissions_per_minute: f64,
    /// A bare `cargo build --release --target wasm32-unknown-unknown --workspace --keep-going`
    /// of the same submissions, in the same run, laid out as one workspace as the grader lays
    /// a batch out (its profile and dependencies, the dependencies already built, every member
    /// new to cargo), unsandboxed: in seconds.
    bare_build_seconds: f64,
    /// The batch's wall time ÷ that bare build, in the same round (target ≤ 1.15).
    ratio_to_bare_build: f64,
    /// The grading process's own peak resident memory (cargo and rustc are separate processes).
    peak_memory_mib: f64,
    verdicts: std::collections::BTreeMap<String, usize>,
}

impl BatchFigures {
    /// Prints its section of the table.
    pub(super) fn print(&self) {
        println!(
            "batch: {} generated submissions, graded as CI does (median of {} rounds)",
            self.submissions, self.rounds
        );
        println!("  took                         {:>9.1} s", self.seconds);
        println!(
            "  submissions per minute       {:>9.1}",
            self.submissions_per_minute
        );
        println!(
            "  bare cargo build of them     {:>9.1} s    (one workspace, same profile, warm dependencies)",
            self.bare_build_seconds
        );
        println!(
            "  batch / bare build           {:>9.3}      (target ≤ 1.15)",
            self.ratio_to_bare_build
        );
        println!(
            "  grader's peak memory         {:>9.1} MiB",
            self.peak_memory_mib
        );
        let verdicts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect();
        println!("  verdicts                     {}", verdicts.join(", "));
    }
}

/// The whole course's mutant check, timed from generating the mutants to the last report.
pub(super) fn mutant_bench(root: &Path, all: &[course::Exercise]) -> anyhow::Result<MutantFigures> {
    let chosen: Vec<&course::Exercise> = all.iter().collect();
    let run = crate::mutation::check(root, &chosen)?;
    let sum = |f: fn(&crate::mutation::ExerciseResult) -> usize| run.exercises.iter().map(f).sum();
    Ok(MutantFigures {
        exercises: run.exercises.len(),
        mutants: run.mutants,
        killed: sum(|e| e.killed),
        survived: sum(|e| e.survived),
        equivalent: sum(|e| e.equivalent),
        unviable: sum(|e| e.unviable),
        seconds: run.seconds,
        mutants_per_minute: run.mutants_per_minute,
    })
}

/// Grades a generated batch as CI would: passing, failing and hostile submissions, each with
/// its own sources, so each is a real build.
pub(super) fn batch_bench(
    root: &Path,
    exercise: &course::Exercise,
    size: usize,
    rounds: usize,
) -> anyhow::Result<BatchFigures> {
    let work = course::work_dir(root).join("bench-batch");
    let _ = std::fs::remove_dir_all(&work);
    let subs = work.join("submissions");
    let variants: Vec<(String, String)> = {
        let mut v = vec![
            (
                "solution".to_owned(),
                std::fs::read_to_string(exercise.dir.join("solution/lib.rs"))?,
            ),
            (
                "starter".to_owned(),
                std::fs::read_to_string(exercise.dir.join("starter/lib.rs"))?,
            ),
        ];
        for b in &exercise.file.broken {
            v.push((
                b.verdict.clone(),
                std::fs::read_to_string(exercise.dir.join(&b.file))?,
            ));
        }
        let hostile = root.join("xtask/tests/hostile");
        for name in [
            "infinite-loop",
            "panic-megabyte",
            "syntax-error",
            "memory-bomb",
            "double-free",
        ] {
            v.push((
                name.to_owned(),
                std::fs::read_to_string(hostile.join(name).join("src/lib.rs"))?,
            ));
        }
        v
    };
    let mut batches = Vec::new();
    let mut bares = Vec::new();
    let mut ratios = Vec::new();
    let mut verdicts = std::collections::BTreeMap::new();
    for round in 0..rounds.max(1) {
        let _ = std::fs::remove_dir_all(&work);
        // Unique per round, so no build is found in cargo's cache from an earlier one.
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for i in 0..size {
            let (kind, code) = &variants[i % variants.len()];
            let dir = subs.join(format!("student-{i:04}-{kind}"));
            std::fs::create_dir_all(dir.join("src"))?;
            // Each submission differs, so each is built for real.
            std::fs::write(
                dir.join("src/lib.rs"),
                format!("{code}\n// submission {i} of run {nonce}\n"),
            )?;
        }
        let batch = || -> anyhow::Result<f64> {
            let args = crate::batch::BatchArgs {
                submissions: Some(subs.clone()),
                hidden: None,
                out: work.join("grades"),
                partition: None,
                jobs: None,
                build_timeout: 60,
            };
            let start = Instant::now();
            let outcome = crate::batch::grade_all(root, Some(&exercise.id), &args)?;
            if outcome.graded != size {
                bail!("the bench's batch graded {} of {size}", outcome.graded);
            }
            Ok(start.elapsed().as_secs_f64())
        };
        // Which goes first alternates, so neither always meets the other's leftovers.
        let (seconds, bare) = if round % 2 == 0 {
            let seconds = batch()?;
            (seconds, bare_batch_build(root, &subs)?)
        } else {
            let bare = bare_batch_build(root, &subs)?;
            (batch()?, bare)
        };
        batches.push(seconds);
        bares.push(bare);
        ratios.push(seconds / bare);
        verdicts.clear();
        let journal = std::fs::read(work.join("grades/journal.jsonl"))?;
        for entry in crate::batch::read_lines(&journal).0 {
            *verdicts
                .entry(entry.report.verdict().name().to_owned())
                .or_insert(0) += 1;
        }
    }
    let seconds = median(batches);
    Ok(BatchFigures {
        submissions: size,
        rounds: rounds.max(1),
        seconds,
        submissions_per_minute: size as f64 / seconds * 60.0,
        bare_build_seconds: median(bares),
        ratio_to_bare_build: median(ratios),
        peak_memory_mib: peak_rss_mib(),
        verdicts,
    })
}

/// cargo alone on the submissions in `subs`: one workspace written by the grader's own
/// [`grader::Grader::write_batch`] (its manifests, profile and dependencies), the dependencies
/// built first and not timed, then every member at once, unsandboxed. Members get package
/// names new to this run, so nothing of them is in cargo's cache, incremental state included.
/// Returns the seconds the members took.
fn bare_batch_build(root: &Path, subs: &Path) -> anyhow::Result<f64> {
    // A target directory of its own: the batch's builds run in the sandbox, where the
    // registry's sources lie at another path, so sharing one would rebuild the dependencies.
    let grader = grader::Grader::new(grader::GraderOptions::new(
        course::work_dir(root).join("bench-bare-batch"),
        course::guest_crate(root),
    ))?;
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(subs)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    dirs.sort();
    let mut members = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        // What the batch refused it did not build either.
        if let Ok(taken) = grader::intake::take(dir, None, &grader::intake::Caps::default()) {
            members.push(grader::build::Member {
                id: format!("b{nonce:x}n{i}"),
                files: taken.files,
            });
        }
    }
    let cargo = |ws: &Path| -> anyhow::Result<std::process::Output> {
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--profile",
                grader::build::BATCH_PROFILE.name(),
                "--target",
                grader::build::TARGET,
                "--workspace",
                "--keep-going",
            ])
            .current_dir(ws)
            .env("CARGO_TARGET_DIR", grader.target_dir())
            .env("CARGO_TERM_COLOR", "never")
            // As the grader's builds: its profile, not a caller's flags.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("CARGO_PROFILE_RELEASE_DEBUG")
            .output()
            .context("running a bare cargo build")
    };
    let tail = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    };
    // The workspace without members: the dependencies, built now so the timed build finds
    // them warm.
    let warm = cargo(&grader.write_batch("bare", &[])?)?;
    if !warm.status.success() {
        bail!(
            "the bare batch's dependencies did not build:\n{}",
            tail(&warm)
        );
    }
    let ws = grader.write_batch("bare", &members)?;
    let start = Instant::now();
    let built = cargo(&ws)?;
    let seconds = start.elapsed().as_secs_f64();
    // Some submissions do not compile (`--keep-going` builds the rest); anything else is not
    // a build of the batch.
    if !built.status.success()
        && !String::from_utf8_lossy(&built.stderr).contains("could not compile")
    {
        bail!("the bare batch build failed:\n{}", tail(&built));
    }
    grader.discard(&members.iter().map(|m| m.id.clone()).collect::<Vec<_>>());
    Ok(seconds)
}

/// The process's peak resident memory, from `/proc/self/status` (Linux), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .map(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .flatten()
        .map_or(0.0, |kb| kb / 1024.0)
}
