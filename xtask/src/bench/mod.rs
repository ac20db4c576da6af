//! `cargo xtask bench`: measures the grading pipeline step by step on a real exercise, after
//! real edits, beside a bare `cargo build` of the same crate after the same edit.
//!
//! The figures: per step (build, bindgen, compile, run, checks) the median over the edits; the
//! grader's own overhead (everything but cargo) as a ratio to the incremental build; the ratio
//! of a whole warm re-grade, and of `watch`'s save-to-verdict, to a plain `cargo build
//! --release` of the student's own crate after the same edit; a generated batch graded as CI
//! grades it, against a bare `cargo build` of the same submissions in the same run; and, with
//! `--fresh-clone`, the time from a fresh clone of the repository to its first graded report.
//! Every ratio compares figures measured in the same run, one after the other (the edits'
//! rounds interleaved), as medians.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::course;

mod batch;
mod quiz;
mod shims;

use batch::{BatchFigures, MutantFigures, batch_bench, mutant_bench};
use quiz::{QuizFigures, QuizPageFigures, quiz_bench, quiz_page_bench};
use shims::{ShimFigures, shim_bench};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
    /// How many edit-and-regrade rounds to measure
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Also clone the repository into a temporary folder and time `cargo xtask grade` there
    /// from nothing (builds the harness from scratch: minutes)
    #[arg(long)]
    fresh_clone: bool,
    /// Submissions in the generated batch graded as CI would (0 to skip)
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// How many times the batch and its bare build are measured, one after the other
    #[arg(long, default_value_t = 3)]
    batch_rounds: usize,
    /// Also build the JavaScript engine's crates from nothing in a scratch target folder and
    /// time it (about half a minute)
    #[arg(long)]
    engine_build: bool,
    /// Skip the mutant check of the whole course (`check --mutants`)
    #[arg(long)]
    skip_mutants: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    exercise: String,
    rounds: usize,
    /// Medians over the rounds, in milliseconds.
    build_ms: f64,
    bindgen_ms: f64,
    compile_ms: f64,
    run_ms: f64,
    checks_ms: f64,
    /// Scenarios of the exercise measured.
    scenarios: usize,
    /// The end-of-scenario memory checks (red-zone sweep, allocator walk), per scenario; part
    /// of `run_ms`.
    reconcile_per_scenario_ms: f64,
    /// A module compile served from the content-hash cache.
    cached_compile_ms: f64,
    /// bindgen + compile + run + checks.
    overhead_ms: f64,
    /// A bare `cargo build --release --target wasm32-unknown-unknown` after the same edit.
    bare_build_ms: f64,
    /// overhead / incremental build (target ≤ 0.05).
    overhead_ratio: f64,
    /// A bare `cargo build --release --target wasm32-unknown-unknown` of the student's own
    /// exercise crate (its own `Cargo.toml` and profile) after the same edit.
    own_crate_build_ms: f64,
    /// whole re-grade / bare build of the student's own crate (target ≤ 1.0).
    regrade_vs_own_crate: f64,
    /// `watch`: from writing the student's file to the end of the verdict on screen, in a
    /// `watch` process of its own (the debounce, the grade and the screen included).
    watch_save_to_verdict_ms: f64,
    /// save → verdict / bare build of the student's own crate with the same code (the starter
    /// and the same edit: a failing crate keeps `watch` on the exercise) (target ≤ 1.0).
    watch_vs_own_crate: f64,
    own_crate_starter_build_ms: f64,
    /// A whole `xtask grade EXERCISE` process after an edit (start-up, grader, build, grade,
    /// report), without cargo's own check that xtask is built (`cargo_xtask_noop_ms`).
    grade_command_ms: f64,
    /// `cargo xtask help`: what cargo adds before xtask starts, when xtask is built.
    cargo_xtask_noop_ms: f64,
    /// whole re-grade / bare build with the grader's profile.
    regrade_ratio: f64,
    fresh_clone_to_report_s: Option<f64>,
    shims: ShimFigures,
    quiz: QuizFigures,
    quiz_page: QuizPageFigures,
    batch: Option<BatchFigures>,
    mutants: Option<MutantFigures>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

pub fn run(root: &Path, args: BenchArgs) -> anyhow::Result<ExitCode> {
    let all: Vec<course::Exercise> = course::discover(root)?
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let Some(exercise) = all.iter().find(|e| e.dir.join("solution/lib.rs").exists()) else {
        bail!("no exercise with a `solution/lib.rs` to measure");
    };
    let grader = crate::new_grader(root)?;
    // A private copy of the solution, edited each round like a student would.
    let dir = course::work_dir(root)
        .join("bench")
        .join(exercise.slot("bench"));
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    let solution = std::fs::read_to_string(exercise.dir.join("solution/lib.rs"))?;
    let spec = exercise.spec();
    let submission = grader::Submission::Crate(dir.clone());
    let slot = exercise.slot("bench");
    // Unique per run, so every round's module is new to the module cache too.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let edit = |round: usize| -> anyhow::Result<()> {
        // A real change to the code: a new function, so rustc has work to do.
        let text = format!(
            "{solution}\n#[wasm_bindgen::prelude::wasm_bindgen]\npub fn bench_edit_{round}() -> u64 {{ {nonce} }}\n"
        );
        std::fs::write(src.join("lib.rs"), text)?;
        Ok(())
    };
    edit(0)?;
    let warm = grader.grade(&exercise.id, &slot, &submission, &spec)?;
    if !warm.passed() {
        bail!(
            "the reference solution of `{}` does not pass; run `cargo xtask check`",
            exercise.id
        );
    }
    let mut reconcile = Vec::new();
    let (mut build, mut bindgen, mut compile, mut run, mut checks, mut bare) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let staged = course::work_dir(root).join("staging").join(&slot);
    let target_dir = course::work_dir(root).join("target");
    // The student's own crate, as `cargo build --release` in the exercise folder builds it.
    let own = course::work_dir(root)
        .join("bench")
        .join(exercise.slot("own"));
    let own_target = course::work_dir(root).join("bench-target");
    std::fs::create_dir_all(own.join("src"))?;
    let guest = course::guest_crate(root)
        .display()
        .to_string()
        .replace('\\', "/");
    let manifest = std::fs::read_to_string(exercise.dir.join("Cargo.toml"))?;
    let manifest = manifest.replace(
        "path = \"../../../crates/course-guest\"",
        &format!("path = \"{guest}\""),
    );
    std::fs::write(own.join("Cargo.toml"), manifest)?;
    let bare_build = |dir: &Path, target: &Path| -> anyhow::Result<f64> {
        let start = Instant::now();
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "--release",
                // The staged slot is a workspace: the student's crate and the grader's root.
                "--workspace",
                "--target",
                grader::build::TARGET,
            ])
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target)
            .status()
            .context("running a bare cargo build")?;
        if !status.success() {
            bail!("the bare build in `{}` failed", dir.display());
        }
        Ok(ms(start.elapsed()))
    };
    std::fs::write(
        own.join("src/lib.rs"),
        std::fs::read_to_string(src.join("lib.rs"))?,
    )?;
    bare_build(&own, &own_target)?;
    // A course of this one exercise, copied, for a `watch` process and whole `grade` commands
    // of its own (the student's own folder is never touched).
    let copy = course::work_dir(root).join("bench-course");
    let starter = std::fs::read_to_string(exercise.dir.join("starter/lib.rs"))?;
    let copied = copy_course(root, &copy, exercise)?;
    let copied_src = copied.join("src/lib.rs");
    let watch_edit = |round: usize| -> anyhow::Result<()> {
        // The starter fails, so `watch` stays on this exercise.
        std::fs::write(
            &copied_src,
            format!(
                "{starter}\n#[wasm_bindgen::prelude::wasm_bindgen]\npub fn bench_watch_{round}() -> u64 {{ {nonce} }}\n"
            ),
        )?;
        Ok(())
    };
    watch_edit(0)?;
    let mut watch = Watch::start(&copy, &exercise.id)?;
    let mut own_builds = Vec::new();
    let (mut watch_times, mut commands, mut own_starter_builds) =
        (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        edit(round)?;
        let report = grader.grade(&exercise.id, &slot, &submission, &spec)?;
        let t = &report.timings;
        build.push(ms(t.build));
        bindgen.push(ms(t.bindgen));
        compile.push(ms(t.compile));
        run.push(ms(t.run));
        checks.push(ms(t.checks));
        reconcile.push(ms(t.reconcile));
        // The same kind of edit (a renamed function, so cargo has the same work), built bare:
        // in the staged crate with the grader's profile, and in the student's own crate.
        let renamed = |text: String, to: &str| {
            text.replace(&format!("bench_edit_{round}()"), &format!("{to}_{round}()"))
        };
        let text = std::fs::read_to_string(staged.join("src/lib.rs"))?;
        std::fs::write(staged.join("src/lib.rs"), renamed(text, "bench_bare"))?;
        bare.push(bare_build(&staged, &target_dir)?);
        std::fs::write(
            own.join("src/lib.rs"),
            renamed(std::fs::read_to_string(src.join("lib.rs"))?, "bench_own"),
        )?;
        own_builds.push(bare_build(&own, &own_target)?);
        // The same kind of edit of the starter (which fails, so `watch` stays on this
        // exercise), saved under a running `watch`, and built plainly in the student's crate.
        let start = Instant::now();
        watch_edit(round)?;
        watch.next_screen()?;
        watch_times.push(ms(start.elapsed()));
        std::fs::write(
            own.join("src/lib.rs"),
            std::fs::read_to_string(&copied_src)?.replace("bench_watch_", "bench_own_starter_"),
        )?;
        own_starter_builds.push(bare_build(&own, &own_target)?);
    }
    drop(watch);
    // Whole processes, as `cargo xtask grade` starts them (after `watch` has stopped: both
    // grade in the same staging slot).
    for round in 1..=args.rounds {
        watch_edit(round + args.rounds)?;
        commands.push(grade_command(&copy, &exercise.id)?);
    }
    let noop = {
        let mut times = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["xtask", "help"])
                .current_dir(root)
                .stdout(std::process::Stdio::null())
                .status()?;
            times.push(ms(start.elapsed()));
        }
        median(times)
    };
    // A re-grade of unchanged code: cargo is fresh and the module comes from the cache.
    let cached = grader.grade(&exercise.id, &slot, &submission, &spec)?;
    let overhead = median(bindgen.clone())
        + median(compile.clone())
        + median(run.clone())
        + median(checks.clone());
    let build_ms = median(build);
    let bare_ms = median(bare);
    let own_ms = median(own_builds);
    let fresh_clone_to_report_s = if args.fresh_clone {
        Some(fresh_clone(root)?)
    } else {
        None
    };
    let shims = shim_bench(root, &grader, args.rounds, args.engine_build)?;
    let batch = if args.batch > 0 {
        Some(batch_bench(root, exercise, args.batch, args.batch_rounds)?)
    } else {
        None
    };
    let mutants = if args.skip_mutants {
        None
    } else {
        Some(mutant_bench(root, &all)?)
    };
    let figures = Figures {
        exercise: exercise.id.clone(),
        rounds: args.rounds,
        build_ms,
        bindgen_ms: median(bindgen),
        compile_ms: median(compile),
        run_ms: median(run),
        checks_ms: median(checks),
        scenarios: spec.scenarios.len(),
        reconcile_per_scenario_ms: median(reconcile) / spec.scenarios.len().max(1) as f64,
        cached_compile_ms: ms(cached.timings.compile),
        overhead_ms: overhead,
        bare_build_ms: bare_ms,
        overhead_ratio: overhead / build_ms,
        regrade_ratio: (build_ms + overhead) / bare_ms,
        own_crate_build_ms: own_ms,
        regrade_vs_own_crate: (build_ms + overhead) / own_ms,
        watch_save_to_verdict_ms: median(watch_times.clone()),
        watch_vs_own_crate: median(watch_times) / median(own_starter_builds.clone()),
        own_crate_starter_build_ms: median(own_starter_builds),
        grade_command_ms: median(commands),
        cargo_xtask_noop_ms: noop,
        fresh_clone_to_report_s,
        shims,
        quiz: quiz_bench(root)?,
        quiz_page: quiz_page_bench(root)?,
        batch,
        mutants,
    };
    if args.json {
        println!("{}", serde_json::to_string(&figures)?);
    } else {
        print_table(&figures);
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies the course's manifests, the guest crate and `exercise` into `to` (a course of one
/// exercise that xtask grades as it would the real one); returns the copied exercise's folder.
fn copy_course(root: &Path, to: &Path, exercise: &course::Exercise) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(to);
    let rel = exercise.dir.strip_prefix(root)?;
    for dir in [rel, Path::new("crates/course-guest")] {
        copy_tree(&root.join(dir), &to.join(dir))?;
    }
    std::fs::create_dir_all(to.join("xtask"))?;
    for file in ["Cargo.toml", "xtask/Cargo.toml"] {
        std::fs::copy(root.join(file), to.join(file))?;
    }
    Ok(to.join(rel))
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// The target folder the copied course in `course` (inside it) shares, so dependencies are
/// built once.
fn target_dir(course: &Path) -> anyhow::Result<PathBuf> {
    // The copy lives in `<target>/grader/bench-course`.
    Ok(course
        .parent()
        .and_then(Path::parent)
        .context("the copied course's target folder")?
        .to_path_buf())
}

/// A `watch` process on a copied course, and its screens as they come.
struct Watch {
    child: std::process::Child,
    screens: std::sync::mpsc::Receiver<()>,
}

/// The line that ends each of `watch`'s screens.
const SCREEN_END: &str = "for changes (Ctrl-C to stop)";

impl Watch {
    fn start(course: &Path, exercise: &str) -> anyhow::Result<Watch> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["watch", exercise])
            .current_dir(course)
            .env("CARGO_TARGET_DIR", target_dir(course)?)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting `watch`")?;
        let stdout = child.stdout.take().context("watch's output")?;
        let (tx, screens) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains(SCREEN_END) && tx.send(()).is_err() {
                    break;
                }
            }
        });
        let mut watch = Watch { child, screens };
        // The first grade, of what is there.
        watch.next_screen()?;
        Ok(watch)
    }

    /// Waits for the end of the next screen.
    fn next_screen(&mut self) -> anyhow::Result<()> {
        match self.screens.recv_timeout(Duration::from_secs(300)) {
            Ok(()) => Ok(()),
            Err(_) => bail!("`watch` showed no verdict"),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole `xtask grade EXERCISE` process in `course`, in milliseconds.
fn grade_command(course: &Path, exercise: &str) -> anyhow::Result<f64> {
    let start = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .args(["grade", exercise])
        .current_dir(course)
        .env("CARGO_TARGET_DIR", target_dir(course)?)
        .stdout(std::process::Stdio::null())
        .status()?;
    let took = ms(start.elapsed());
    // Exit code 1 (the starter fails) is a graded report; 2 is not.
    if status.code() != Some(1) && status.code() != Some(0) {
        bail!("`xtask grade {exercise}` in the copied course failed");
    }
    Ok(took)
}

fn print_table(f: &Figures) {
    println!("bench: {} ({} edit rounds, medians)", f.exercise, f.rounds);
    println!("  build (cargo, incremental)   {:>9.1} ms", f.build_ms);
    println!("  bindgen                      {:>9.1} ms", f.bindgen_ms);
    println!(
        "  compile (wasmtime)           {:>9.1} ms   cached: {:.1} ms",
        f.compile_ms, f.cached_compile_ms
    );
    println!("  instantiate + run scenarios  {:>9.1} ms", f.run_ms);
    println!("  checks                       {:>9.1} ms", f.checks_ms);
    println!(
        "  memory reconcile / scenario  {:>9.3} ms   (red zones, allocator walk; in run)",
        f.reconcile_per_scenario_ms
    );
    println!("  grader overhead              {:>9.1} ms", f.overhead_ms);
    println!(
        "  bare cargo build, same profile {:>7.1} ms",
        f.bare_build_ms
    );
    println!(
        "  overhead / build             {:>9.3}      (target ≤ 0.05)",
        f.overhead_ratio
    );
    println!(
        "  re-grade / bare build, same profile     {:>9.3}",
        f.regrade_ratio
    );
    println!(
        "  bare build of the student's own crate   {:>9.1} ms",
        f.own_crate_build_ms
    );
    println!(
        "  re-grade / that build                   {:>9.3}      (target ≤ 1.0)",
        f.regrade_vs_own_crate
    );
    println!(
        "  watch: save → verdict on screen         {:>9.1} ms",
        f.watch_save_to_verdict_ms
    );
    println!(
        "  bare build of the own crate, same code  {:>9.1} ms   (the starter, edited the same way)",
        f.own_crate_starter_build_ms
    );
    println!(
        "  save → verdict / that build             {:>9.3}      (target ≤ 1.0)",
        f.watch_vs_own_crate
    );
    println!(
        "  a new `xtask grade` process, whole      {:>9.1} ms   (+ {:.1} ms of cargo's check that xtask is built)",
        f.grade_command_ms, f.cargo_xtask_noop_ms
    );
    f.shims.print();
    f.quiz.print();
    f.quiz_page.print();
    if let Some(b) = &f.batch {
        b.print();
    }
    if let Some(m) = &f.mutants {
        m.print();
    }
    if let Some(s) = f.fresh_clone_to_report_s {
        println!("fresh clone → first report     {s:>9.1} s    (target ≤ 120 s)");
    }
}

/// Clones the repository's committed state and times `cargo xtask grade` there with an empty
/// target directory (the registry cache is shared, as on any developer machine).
fn fresh_clone(root: &Path) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("wasm-course-fresh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    let ok = Command::new("git")
        .args(["clone", "--quiet"])
        .arg(root)
        .arg(&dir)
        .status()?
        .success();
    if !ok {
        bail!("git clone failed");
    }
    let status = Command::new("cargo")
        .args(["xtask", "grade"])
        .current_dir(&dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO")
        .stdout(std::process::Stdio::null())
        .status()?;
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
    // Exit code 1 (the starters fail) is a graded report; 2 is not.
    if status.code() == Some(2) || status.code().is_none() {
        bail!("`cargo xtask grade` in the fresh clone failed");
    }
    Ok(secs)
}
