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

/// `check --mutants` over the whole course, as CI runs it.
#[derive(Debug, Serialize)]
struct MutantFigures {
    exercises: usize,
    mutants: usize,
    killed: usize,
    survived: usize,
    equivalent: usize,
    unviable: usize,
    seconds: f64,
    mutants_per_minute: f64,
}

/// The batch part of the figures.
#[derive(Debug, Serialize)]
struct BatchFigures {
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

/// The JavaScript engine (QuickJS running the glue): what reading the glue, opening a page and
/// calling through it cost.
#[derive(Debug, Serialize)]
struct ShimFigures {
    /// Imports the measured module's glue defines, and the time to read them all (a page that
    /// runs the glue up to `WebAssembly.Instance`).
    glue_imports: usize,
    glue_parse_ms: f64,
    /// A scenario of one call: a fresh store and instance, the page opened, the glue loaded and
    /// `initSync` run, one call, the checks' reconciliation. The floor of every scenario.
    one_call_scenario_ms: f64,
    /// One call from JavaScript through the glue's export wrapper into wasm and back, in
    /// microseconds: a scenario in JavaScript making 10 000 calls against the same loop
    /// without them.
    js_call_us: f64,
    /// `cargo build` of the engine's crates alone, from nothing, in seconds (with
    /// `--engine-build`): what the engine adds to a fresh clone's build.
    engine_cold_build_s: Option<f64>,
    /// One `console.log(i)` through the glue (a cast to `JsValue`, the log, the drop), in
    /// microseconds: a scenario of 10 000 calls against the same loop without them.
    console_log_us: f64,
    /// One `Math.random()` through the glue, in microseconds, measured the same way.
    math_random_us: f64,
}

/// The quizzes: checking files (tracing programs compiled in the sandbox) and rendering.
#[derive(Debug, Serialize)]
struct QuizFigures {
    /// Quiz files checked: the course's, and the shared corpus when it is beside the repository.
    files: usize,
    tracing_programs: usize,
    /// Load, validate and verify them all with an empty verification cache, then again warm.
    check_cold_ms: f64,
    check_warm_ms: f64,
    /// Rendering a pathologically nested prompt (lists and quotes) of two sizes, in KiB, and
    /// the time per KiB of input: about equal times per KiB is linear time.
    render_small_kib: f64,
    render_small_us_per_kib: f64,
    render_large_kib: f64,
    render_large_us_per_kib: f64,
}

/// The chapter quiz's web page (`cargo xtask quiz --web`): what a student downloads and how
/// soon the first question can be answered.
#[derive(Debug, Serialize)]
struct QuizPageFigures {
    /// The processed engine module, and gzipped (level 9) as a static host would serve it.
    wasm_bytes: usize,
    wasm_gzip_bytes: usize,
    /// The largest chapter page (glue, script, style and the quiz's text inline).
    page_bytes: usize,
    /// Headless Chromium, from navigation start to the first question on screen, median of
    /// `loads` loads from `file://`, and the first of them (nothing cached yet); `None` where
    /// Chromium is missing.
    time_to_interactive_ms: Option<f64>,
    first_load_ms: Option<f64>,
    loads: usize,
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

/// Builds the quiz site and loads a chapter's page in headless Chromium a few times.
fn quiz_page_bench(root: &Path) -> anyhow::Result<QuizPageFigures> {
    use std::io::Write as _;
    let engine = crate::quiz::web::build_engine(root)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&engine.wasm)?;
    let wasm_gzip_bytes = gzip.finish()?.len();
    let out = tempfile_dir("quiz-page-bench");
    let _ = std::fs::remove_dir_all(&out);
    let chapters = crate::quiz::web::chapters(root, &[])?
        .context("a quiz in `quizzes/` is invalid (see above)")?;
    crate::quiz::web::write(&out, &chapters, &engine)?;
    let mut pages: Vec<(u64, PathBuf)> = std::fs::read_dir(&out)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html") && !p.ends_with("index.html"))
        .map(|p| (p.metadata().map_or(0, |m| m.len()), p))
        .collect();
    pages.sort();
    let (page_bytes, page) = pages.pop().context("the site has no chapter page")?;
    let loads = 5;
    let times = match browser::find() {
        None => Vec::new(),
        Some(chromium) => {
            let mut b = browser::Browser::launch(&chromium, 1000, 900)?;
            let url = browser::file_url(&page);
            let mut times = Vec::new();
            for _ in 0..loads {
                b.navigate("about:blank")?;
                b.wait_for("location.href === 'about:blank'", Duration::from_secs(10))?;
                b.navigate(&url)?;
                let ready = b.wait_for("globalThis.quizReadyAt", Duration::from_secs(30))?;
                times.push(ready.as_f64().context("a time")?);
            }
            times
        }
    };
    let first_load_ms = times.first().copied();
    let time_to_interactive_ms = (!times.is_empty()).then(|| median(times));
    let _ = std::fs::remove_dir_all(&out);
    Ok(QuizPageFigures {
        wasm_bytes: engine.wasm.len(),
        wasm_gzip_bytes,
        page_bytes: page_bytes as usize,
        time_to_interactive_ms,
        first_load_ms,
        loads,
    })
}

/// Checks the quiz files cold and warm, and renders nested prompts of two sizes.
fn quiz_bench(root: &Path) -> anyhow::Result<QuizFigures> {
    let mut paths = quiz::quiz_files(&root.join("quizzes"))?;
    let shared = root.join("../shared/quiz-corpus");
    if shared.is_dir() {
        paths.extend(quiz::quiz_files(&shared)?);
    }
    let cache = tempfile_dir("quiz-bench-cache");
    let options = quiz::VerifyOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    };
    let check = || -> anyhow::Result<(f64, usize)> {
        let started = Instant::now();
        let files: Vec<quiz::QuizFile> = paths
            .iter()
            .map(|p| quiz::QuizFile::load(p))
            .collect::<Result<_, _>>()?;
        let quizzes: Vec<&quiz::Quiz> = files
            .iter()
            .filter_map(|f| f.parsed.quiz.as_ref())
            .collect();
        let found = quiz::verify_quizzes(&quizzes, &options);
        if let Some(d) = found.iter().flatten().find(|d| d.is_error()) {
            bail!("a quiz does not verify: {}", d.message);
        }
        let programs = quizzes
            .iter()
            .flat_map(|q| &q.questions)
            .filter(|q| matches!(q.kind, quiz::QuestionKind::Tracing(_)))
            .count();
        Ok((ms(started.elapsed()), programs))
    };
    let (check_cold_ms, tracing_programs) = check()?;
    let (check_warm_ms, _) = check()?;
    let _ = std::fs::remove_dir_all(&cache);
    let per_kib = |depth: usize| {
        let input: String = (0..depth)
            .map(|i| format!("{}- level {i}\n", "  ".repeat(i % 64)))
            .collect::<String>()
            + &">".repeat(depth);
        let started = Instant::now();
        let out = quiz::render::prompt_markdown(&input, 80);
        std::hint::black_box(out);
        let kib = input.len() as f64 / 1024.0;
        (kib, started.elapsed().as_secs_f64() * 1e6 / kib)
    };
    let (render_small_kib, render_small_us_per_kib) = per_kib(2_000);
    let (render_large_kib, render_large_us_per_kib) = per_kib(20_000);
    Ok(QuizFigures {
        files: paths.len(),
        tracing_programs,
        check_cold_ms,
        check_warm_ms,
        render_small_kib,
        render_small_us_per_kib,
        render_large_kib,
        render_large_us_per_kib,
    })
}

fn tempfile_dir(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()))
}

/// The whole course's mutant check, timed from generating the mutants to the last report.
fn mutant_bench(root: &Path, all: &[course::Exercise]) -> anyhow::Result<MutantFigures> {
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
fn batch_bench(
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

/// Calls made per measured scenario.
const SHIM_CALLS: u32 = 10_000;

const SHIM_CRATE: &str = r#"use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn chatter(n: u32) -> u32 {
    for i in 0..n {
        web_sys::console::log_1(&JsValue::from(i));
    }
    n
}

#[wasm_bindgen]
pub fn dice(n: u32) -> u32 {
    let mut sixes = 0;
    for _ in 0..n {
        sixes += u32::from(js_sys::Math::random() >= 5.0 / 6.0);
    }
    sixes
}

#[wasm_bindgen]
pub fn quiet(n: u32) -> u32 {
    let mut sum = 0u32;
    for i in 0..n {
        sum = sum.wrapping_add(core::hint::black_box(i));
    }
    sum
}
"#;

fn shim_bench(
    root: &Path,
    grader: &grader::Grader,
    rounds: usize,
    engine_build: bool,
) -> anyhow::Result<ShimFigures> {
    let dir = course::work_dir(root).join("bench").join("shims");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("src/lib.rs"), SHIM_CRATE)?;
    let submission = grader::Submission::Crate(dir);
    let spec_for = |export: &str| -> anyhow::Result<grader::Spec> {
        Ok(toml::from_str(&format!(
            "[exports]\nfunctions = [\"fn {export}(n: u32) -> u32\"]\n\
             [[scenario]]\nname = \"{export}\"\nfuel = 1000000000\n\
             steps = [{{ call = \"{export}\", args = [{SHIM_CALLS}] }}]\n"
        ))?)
    };
    let processed = grader
        .bindgen_output("bench-shims", &submission)?
        .context("the shim bench crate does not build")?;
    let mut parse = Vec::new();
    let mut imports = 0;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        imports = grader::js::Glue::parse(&processed.js).len();
        parse.push(ms(start.elapsed()));
    }
    let run_ms = |export: &str| -> anyhow::Result<f64> {
        let spec = spec_for(export)?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            if !report.passed() {
                bail!(
                    "the shim bench's `{export}` did not pass:\n{}",
                    report.render(grader::Render {
                        color: false,
                        show_hidden: true
                    })
                );
            }
            runs.push(ms(report.timings.run));
        }
        Ok(median(runs))
    };
    let quiet = run_ms("quiet")?;
    let per_call = |total: f64| (total - quiet).max(0.0) * 1000.0 / f64::from(SHIM_CALLS);
    let scripted = |name: &str, body: &str| -> anyhow::Result<f64> {
        let spec: grader::Spec = toml::from_str(&format!(
            "[[scenario]]\nname = \"{name}\"\nfuel = 1000000000\nscript = '''\n{body}\n'''\n"
        ))?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            if !report.passed() {
                bail!("the engine bench's `{name}` did not pass");
            }
            runs.push(ms(report.timings.run));
        }
        Ok(median(runs))
    };
    let loop_only = scripted(
        "loop",
        &format!("let s = 0; for (let i = 0; i < {SHIM_CALLS}; i++) s += i; t.ok(s > 0);"),
    )?;
    let calls = scripted(
        "calls",
        &format!(
            "let s = 0; for (let i = 0; i < {SHIM_CALLS}; i++) s += mod.quiet(1); t.ok(s >= 0);"
        ),
    )?;
    let one_call = {
        let spec: grader::Spec = toml::from_str(
            "[exports]\nfunctions = [\"fn quiet(n: u32) -> u32\"]\n\
             [[scenario]]\nname = \"one call\"\nsteps = [{ call = \"quiet\", args = [1] }]\n",
        )?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            runs.push(ms(report.timings.run));
        }
        median(runs)
    };
    let engine_cold_build_s = if engine_build {
        Some(engine_cold_build(root)?)
    } else {
        None
    };
    Ok(ShimFigures {
        glue_imports: imports,
        glue_parse_ms: median(parse),
        one_call_scenario_ms: one_call,
        js_call_us: (calls - loop_only).max(0.0) * 1000.0 / f64::from(SHIM_CALLS),
        engine_cold_build_s,
        console_log_us: per_call(run_ms("chatter")?),
        math_random_us: per_call(run_ms("dice")?),
    })
}

/// Builds the engine's crates (`rquickjs` with the grader's features) in a scratch target
/// folder, with the dev profile the harness uses, and returns the seconds it took.
fn engine_cold_build(root: &Path) -> anyhow::Result<f64> {
    let target = course::work_dir(root).join("bench").join("engine-target");
    let _ = std::fs::remove_dir_all(&target);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let status = std::process::Command::new(cargo)
        .current_dir(root)
        .args(["build", "--quiet", "-p", "rquickjs", "--target-dir"])
        .arg(&target)
        .status()?;
    if !status.success() {
        bail!("building the engine's crates failed");
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&target);
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
    let s = &f.shims;
    println!("JavaScript engine (QuickJS running the glue)");
    println!(
        "  read the glue ({} imports)    {:>9.2} ms",
        s.glue_imports, s.glue_parse_ms
    );
    println!(
        "  a one-call scenario          {:>9.2} ms    (store, page, glue, initSync, call)",
        s.one_call_scenario_ms
    );
    println!(
        "  a call from JavaScript       {:>9.2} µs    (through the glue into wasm and back)",
        s.js_call_us
    );
    if let Some(b) = s.engine_cold_build_s {
        println!("  engine's cold build          {b:>9.1} s");
    }
    println!(
        "  console.log(i) through it    {:>9.2} µs per call",
        s.console_log_us
    );
    println!(
        "  Math.random() through it     {:>9.2} µs per call",
        s.math_random_us
    );
    let q = &f.quiz;
    println!(
        "quizzes: {} files, {} tracing programs",
        q.files, q.tracing_programs
    );
    println!("  --check, empty cache         {:>9.1} ms", q.check_cold_ms);
    println!("  --check, warm cache          {:>9.1} ms", q.check_warm_ms);
    println!(
        "  render a nested prompt       {:>9.1} µs/KiB of {:.0} KiB, {:.1} µs/KiB of {:.0} KiB (linear: about equal)",
        q.render_small_us_per_kib,
        q.render_small_kib,
        q.render_large_us_per_kib,
        q.render_large_kib
    );
    let p = &f.quiz_page;
    println!("quiz web page (`cargo xtask quiz --web`)");
    println!(
        "  engine wasm                  {:>9.1} KiB   gzipped {:.1} KiB",
        p.wasm_bytes as f64 / 1024.0,
        p.wasm_gzip_bytes as f64 / 1024.0
    );
    println!(
        "  largest chapter page         {:>9.1} KiB   (besides the engine script)",
        p.page_bytes as f64 / 1024.0
    );
    match p.time_to_interactive_ms {
        Some(t) => println!(
            "  time to interactive          {t:>9.1} ms    (headless Chromium, file://, median of {}; first load {:.1} ms)",
            p.loads,
            p.first_load_ms.unwrap_or(t)
        ),
        None => println!("  time to interactive          not measured: no Chromium found"),
    }
    if let Some(b) = &f.batch {
        println!(
            "batch: {} generated submissions, graded as CI does (median of {} rounds)",
            b.submissions, b.rounds
        );
        println!("  took                         {:>9.1} s", b.seconds);
        println!(
            "  submissions per minute       {:>9.1}",
            b.submissions_per_minute
        );
        println!(
            "  bare cargo build of them     {:>9.1} s    (one workspace, same profile, warm dependencies)",
            b.bare_build_seconds
        );
        println!(
            "  batch / bare build           {:>9.3}      (target ≤ 1.15)",
            b.ratio_to_bare_build
        );
        println!(
            "  grader's peak memory         {:>9.1} MiB",
            b.peak_memory_mib
        );
        let verdicts: Vec<String> = b.verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect();
        println!("  verdicts                     {}", verdicts.join(", "));
    }
    if let Some(m) = &f.mutants {
        println!(
            "mutants: every reference solution's, graded in one batch as `check --mutants` does"
        );
        println!(
            "  {} mutants of {} exercises     {:>9.1} s",
            m.mutants, m.exercises, m.seconds
        );
        println!(
            "  mutants per minute           {:>9.1}",
            m.mutants_per_minute
        );
        println!(
            "  killed {}, survived {}, equivalent {}, unviable {}",
            m.killed, m.survived, m.equivalent, m.unviable
        );
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
