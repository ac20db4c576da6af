//! The build step: compile a student's `src/` to `wasm32-unknown-unknown` inside a crate the
//! grader owns, and turn compiler errors into a verdict.
//!
//! The grader writes the crate's `Cargo.toml` itself (pinned wasm-bindgen, the guest support
//! crate with `grading` on, one fixed profile, so fuel counts are the same on every machine)
//! and copies only `.rs` files from the student's `src/`, keeping unchanged files untouched so
//! cargo's incremental build stays warm. One shared target directory means wasm-bindgen and
//! friends compile once.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use wait_timeout::ChildExt;

use crate::HarnessError;
use crate::report::{Failure, Verdict};

pub const TARGET: &str = "wasm32-unknown-unknown";

/// The wasm-bindgen version the grader's bindgen step understands; student crates must use it.
pub const WASM_BINDGEN_VERSION: &str = "=0.2.130";

/// Errors shown in full; the rest are counted.
const ERRORS_SHOWN: usize = 3;
/// Bytes of rendered compiler output shown per error.
const RENDERED_BYTES: usize = 3_000;
/// Errors kept per crate; later ones are only counted.
const ERRORS_KEPT: usize = 16;
/// What cargo prints on stderr while another cargo holds a lock it needs.
const LOCK_WAIT: &str = "Blocking waiting for file lock";
/// How long a wait for another cargo's lock is not counted as a build's time.
const LOCK_PATIENCE: Duration = Duration::from_secs(30 * 60);
/// How long the pinned dependencies of a batch may compile: they are the grader's, not a
/// submission's, so the batch's limit is not theirs.
const DEPENDENCY_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Where staged crates and their shared target directory live.
#[derive(Debug, Clone)]
pub struct BuildDirs {
    /// Parent of the staged crates, one folder per slot.
    pub staging: PathBuf,
    /// The one target directory every staged crate builds into.
    pub target: PathBuf,
    /// The guest support crate (`crates/course-guest`).
    pub guest_crate: PathBuf,
    /// Longest a build may take, wall-clock.
    pub timeout: Duration,
    /// What every build through these folders may see (the leak re-run's build included).
    pub isolation: Isolation,
}

/// A successful build.
#[derive(Debug, Clone)]
pub struct Built {
    pub wasm: Vec<u8>,
    /// Absolute path of the staged crate, which DWARF file names start with.
    pub source_root: PathBuf,
    /// Whether cargo found nothing to recompile.
    pub fresh: bool,
}

/// Which of the staged crate's two profiles to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The grading build: no debug info, so it compiles and links fast.
    Grading,
    /// The same code with DWARF line tables, built only to find a leak's source line.
    Lines,
}

/// Builds a submission's source files in staging slot `slot`, in a crate of its own so the
/// slot's incremental build stays warm between grades.
pub fn build(
    dirs: &BuildDirs,
    slot: &str,
    files: &[(PathBuf, String)],
    profile: Profile,
) -> Result<Result<Built, Failure>, HarnessError> {
    ensure_target()?;
    let crate_dir = dirs.staging.join(slot);
    let name = package_name(slot);
    let root = root_package_name(slot);
    write_if_changed(
        &crate_dir.join("Cargo.toml"),
        format!(
            "{}\n{}\n[workspace]\nmembers = [\"{ROOT_DIR}\"]\n",
            crate_manifest(Manifest::Submission(&name), &dirs.guest_crate),
            PROFILES
        )
        .as_bytes(),
    )?;
    write_root(
        &crate_dir.join(ROOT_DIR),
        &root,
        &name,
        "..",
        &dirs.guest_crate,
    )?;
    stage(&crate_dir, files)?;
    let run = run_cargo(
        &crate_dir,
        &dirs.target,
        &cargo_args(profile, &[format!("--package={root}")]),
        &dirs.isolation,
        dirs.timeout,
    )?;
    let Some(status) = run.status else {
        return Ok(Err(timed_out(dirs.timeout)));
    };
    if let Some(errors) = run
        .messages
        .errors
        .get(&name)
        .or_else(|| run.messages.errors.values().next())
    {
        return Ok(Err(compile_failure(errors)));
    }
    if !status.success() {
        return Err(HarnessError::Cargo(format!(
            "cargo failed without a compiler error:\n{}",
            tail(&run.stderr)
        )));
    }
    let Some(wasm_path) = run.messages.artifacts.get(&root) else {
        return Err(HarnessError::Cargo(
            "cargo reported no `.wasm` artifact".into(),
        ));
    };
    let wasm = std::fs::read(wasm_path).map_err(|e| HarnessError::io(wasm_path, e))?;
    Ok(Ok(Built {
        wasm,
        source_root: crate_dir,
        fresh: run.messages.fresh,
    }))
}

/// One submission of a batch.
#[derive(Debug, Clone)]
pub struct Member {
    /// Unique in the batch; letters, digits, `-` and `_`.
    pub id: String,
    pub files: Vec<(PathBuf, String)>,
}

/// What a build may see of the machine.
#[derive(Debug, Clone, Default)]
pub struct Isolation {
    /// The sandbox every cargo of this build runs in (offline, with an empty environment):
    /// it shows the toolchain, the registry cache, the crate's folder, the target directory
    /// and `read_only`, and nothing else. `None` builds with the grader's own environment,
    /// which is right only for a student's own crate on their own machine.
    pub sandbox: Option<crate::sandbox::Confinement>,
    /// Folders a sandboxed build reads besides the crate's own (the guest support crate).
    pub read_only: Vec<PathBuf>,
    /// Without a sandbox, build with only the toolchain's variables of the grader's
    /// environment (a batch of untrusted submissions graded without hidden tests): tokens and
    /// secrets in it never reach a build script, `env!` or a proc macro.
    pub clear_env: bool,
}

/// The grader's variables an unsandboxed build with `clear_env` keeps: what finds the
/// toolchain and its caches.
const TOOLCHAIN_ENV: [&str; 8] = [
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "TMPDIR",
    "LANG",
];

/// Builds many submissions at once: each is a member of one generated workspace, so
/// dependencies compile once and cargo builds members in parallel up to `jobs`. A member that
/// fails to compile does not stop the others (`--keep-going`). When the whole batch outlives
/// its time limit (a `const` that never finishes evaluating, say), what did not finish is built
/// again one member at a time, each with its own limit.
pub fn build_batch(
    dirs: &BuildDirs,
    batch: &str,
    members: &[Member],
    jobs: usize,
    isolation: &Isolation,
) -> Result<Vec<Result<Built, Failure>>, HarnessError> {
    ensure_target()?;
    let ws = dirs.staging.join(batch);
    let _ = std::fs::remove_dir_all(ws.join("m"));
    let names: Vec<String> = members.iter().map(|m| package_name(&m.id)).collect();
    let roots: Vec<String> = members.iter().map(|m| root_package_name(&m.id)).collect();
    let mut manifest = String::from(
        "# Written by the grader for one batch of submissions.\n[workspace]\nresolver = \"2\"\nmembers = [\n",
    );
    manifest.push_str("  \"deps\",\n");
    for m in members {
        manifest.push_str(&format!("  \"m/{}\",\n  \"{ROOT_DIR}/{}\",\n", m.id, m.id));
    }
    manifest.push_str("]\n");
    manifest.push_str(PROFILES);
    write_if_changed(&ws.join("Cargo.toml"), manifest.as_bytes())?;
    for ((m, name), root) in members.iter().zip(&names).zip(&roots) {
        let dir = ws.join("m").join(&m.id);
        write_if_changed(
            &dir.join("Cargo.toml"),
            crate_manifest(Manifest::Submission(name), &dirs.guest_crate).as_bytes(),
        )?;
        stage(&dir, &m.files)?;
        let student = format!("../../m/{}", m.id);
        write_root(
            &ws.join(ROOT_DIR).join(&m.id),
            root,
            name,
            &student,
            &dirs.guest_crate,
        )?;
    }
    // A member with the submissions' dependencies and no code of its own, built first.
    write_if_changed(
        &ws.join("deps/Cargo.toml"),
        crate_manifest(Manifest::Dependencies, &dirs.guest_crate).as_bytes(),
    )?;
    write_if_changed(
        &ws.join("deps/src/lib.rs"),
        b"//! Empty: building this crate compiles the submissions' dependencies.\n",
    )?;
    // The grader resolves dependencies itself (online, before any submission code is
    // compiled); the build then runs offline and locked.
    if isolation.sandbox.is_some() {
        let lock = run_cargo(
            &ws,
            &dirs.target,
            &["generate-lockfile".into()],
            &Isolation::default(),
            dirs.timeout,
        )?;
        if !lock.status.is_some_and(|s| s.success()) {
            return Err(HarnessError::Cargo(format!(
                "could not resolve the batch's dependencies:\n{}",
                tail(&lock.stderr)
            )));
        }
        let fetch = run_cargo(
            &ws,
            &dirs.target,
            &["fetch".into(), "--locked".into()],
            &Isolation::default(),
            dirs.timeout,
        )?;
        if !fetch.status.is_some_and(|s| s.success()) {
            return Err(HarnessError::Cargo(format!(
                "could not fetch the batch's dependencies:\n{}",
                tail(&fetch.stderr)
            )));
        }
    }
    let mut extra = vec![
        "--workspace".to_owned(),
        "--keep-going".to_owned(),
        format!("--jobs={}", jobs.max(1)),
    ];
    if isolation.sandbox.is_some() {
        extra.extend(["--offline".to_owned(), "--locked".to_owned()]);
    }
    // The dependencies first, with a limit of their own: on a cold target directory js-sys
    // alone can compile for longer than a submission's build may take.
    let warm = run_cargo(
        &ws,
        &dirs.target,
        &cargo_args(Profile::Grading, &one_package(&extra, DEPS_PACKAGE)),
        isolation,
        DEPENDENCY_LIMIT.max(dirs.timeout),
    )?;
    if !warm.status.is_some_and(|s| s.success()) {
        return Err(HarnessError::Cargo(format!(
            "could not build the submissions' dependencies:\n{}",
            tail(&warm.stderr)
        )));
    }
    // Then every member at once, within the batch's wall-clock limit.
    let run = run_cargo(
        &ws,
        &dirs.target,
        &cargo_args(Profile::Grading, &extra),
        isolation,
        dirs.timeout,
    )?;
    let mut out = Vec::new();
    for ((m, name), root) in members.iter().zip(&names).zip(&roots) {
        let prefix = format!("m/{}/", m.id);
        let source_root = ws.join("m").join(&m.id);
        let mut result = member_result(&run, (name, root), &prefix, &source_root)?;
        if result.is_none() {
            // The batch ran out of time before this member finished: alone, with its own limit.
            let single = run_cargo(
                &ws,
                &dirs.target,
                &cargo_args(Profile::Grading, &one_package(&extra, root)),
                isolation,
                dirs.timeout,
            )?;
            result = member_result(&single, (name, root), &prefix, &source_root)?;
        }
        out.push(match result {
            Some(result) => result,
            None => Err(timed_out(dirs.timeout)),
        });
    }
    Ok(out)
}

/// What a cargo run made of one member: its module, its compile errors, the compiler's crash
/// or a limit it hit (each the member's verdict), or `None` when the run was stopped before
/// the member finished.
fn member_result(
    run: &CargoRun,
    (name, root): (&str, &str),
    prefix: &str,
    source_root: &Path,
) -> Result<Option<Result<Built, Failure>>, HarnessError> {
    // Compile errors are the student's crate's; link errors the root crate's.
    if let Some(errors) = run
        .messages
        .errors
        .get(name)
        .or_else(|| run.messages.errors.get(root))
    {
        return Ok(Some(Err(unprefixed(compile_failure(errors), prefix))));
    }
    if let Some(path) = run.messages.artifacts.get(root) {
        let wasm = std::fs::read(path).map_err(|e| HarnessError::io(path, e))?;
        return Ok(Some(Ok(Built {
            wasm,
            source_root: source_root.to_path_buf(),
            fresh: run.messages.fresh,
        })));
    }
    if run.status.is_none() {
        return Ok(None);
    }
    Ok(Some(Err(compiler_stopped(&run.stderr, name))))
}

/// A member that cargo finished without a module or an error message: rustc crashed (a stack
/// overflow on deeply nested code, say) or was killed by one of the sandbox's limits.
fn compiler_stopped(stderr: &str, name: &str) -> Failure {
    // cargo names the crate and how its rustc ended in the lines after "could not compile".
    let about: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !(l.contains("could not compile") && l.contains(name)))
        .take(12)
        .collect();
    let about = about.join("\n");
    let anywhere = |needle: &str| about.contains(needle) || stderr.contains(needle);
    let why = if anywhere("SIGXCPU") {
        "it used up its CPU time"
    } else if anywhere("SIGXFSZ") {
        "it tried to write a file larger than the limit"
    } else if anywhere("memory allocation of") || anywhere("SIGKILL") || anywhere("signal: 9") {
        "it ran out of memory"
    } else if anywhere("overflowed its stack") || anywhere("SIGSEGV") {
        "it overflowed its stack"
    } else {
        "it crashed"
    };
    Failure::new(
        Verdict::CompileError,
        format!("the compiler stopped without an error message: {why}"),
    )
    .hint(
        "the compiler has limits on memory, time and output size: very deeply nested code, huge \
         constants or static data, and macros that expand without end exceed them",
    )
}

/// Removes what building members `ids` left behind (their staged crates, compiled code,
/// incremental state and cached diagnostics), so a batch's target directory holds one chunk's
/// worth at a time however many submissions it grades.
pub fn discard(dirs: &BuildDirs, ids: &[String]) {
    let names: Vec<String> = ids.iter().map(|id| package_name(id)).collect();
    let mine = |file: &std::ffi::OsStr| {
        let file = file.to_string_lossy();
        names.iter().any(|n| file.contains(n.as_str()))
    };
    for id in ids {
        let _ = std::fs::remove_dir_all(dirs.staging.join(id));
    }
    let Ok(profiles) = std::fs::read_dir(dirs.target.join(TARGET)) else {
        return;
    };
    for profile in profiles.flatten() {
        for sub in ["", "deps", ".fingerprint", "incremental", "build"] {
            let Ok(entries) = std::fs::read_dir(profile.path().join(sub)) else {
                continue;
            };
            for entry in entries.flatten().filter(|e| mine(&e.file_name())) {
                let path = entry.path();
                let _ = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
            }
        }
    }
}

/// A batch build's arguments, narrowed from the whole workspace to one package.
fn one_package(batch_args: &[String], package: &str) -> Vec<String> {
    let mut args: Vec<String> = batch_args
        .iter()
        .filter(|a| *a != "--workspace")
        .cloned()
        .collect();
    args.push(format!("--package={package}"));
    args
}

/// A batch member's paths are relative to the batch workspace; the student knows them as
/// `src/...`.
fn unprefixed(mut failure: Failure, prefix: &str) -> Failure {
    failure.message = failure.message.replace(prefix, "");
    failure.location = failure.location.map(|l| l.replace(prefix, ""));
    for d in &mut failure.details {
        *d = d.replace(prefix, "");
    }
    failure
}

fn timed_out(limit: Duration) -> Failure {
    Failure::new(
        Verdict::CompileError,
        format!("the build did not finish within {} s", limit.as_secs()),
    )
    .hint(
        "a `const` evaluation or a macro expansion that never ends keeps the compiler busy forever",
    )
}

fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn cargo_args(profile: Profile, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "build",
        "--target",
        TARGET,
        "--message-format=json",
        "--profile",
    ]
    .map(String::from)
    .to_vec();
    args.push(match profile {
        Profile::Grading => "release".into(),
        Profile::Lines => "grading-lines".into(),
    });
    args.extend(extra.iter().cloned());
    args
}

struct CargoRun {
    /// `None` when the time limit ended it.
    status: Option<std::process::ExitStatus>,
    messages: Messages,
    stderr: String,
}

/// Runs cargo in `dir`, inside the sandbox when `isolation` has one, killing the whole
/// process group (the sandbox, or cargo and rustc) at the time limit.
fn run_cargo(
    dir: &Path,
    target: &Path,
    args: &[String],
    isolation: &Isolation,
    limit: Duration,
) -> Result<CargoRun, HarnessError> {
    use std::os::unix::process::CommandExt;
    let mut command = match &isolation.sandbox {
        None => {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut c = Command::new(cargo);
            if isolation.clear_env {
                c.env_clear().envs(
                    TOOLCHAIN_ENV
                        .iter()
                        .filter_map(|k| std::env::var_os(k).map(|v| (k, v))),
                );
            }
            c.args(args)
                .current_dir(dir)
                .env("CARGO_TARGET_DIR", target)
                .env("CARGO_TERM_COLOR", "never")
                // The submission is built by the grader's fixed profile, not by a caller's flags.
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env_remove("CARGO_BUILD_RUSTFLAGS")
                .env_remove("CARGO_PROFILE_RELEASE_DEBUG");
            c
        }
        Some(sandbox) => {
            // The crate's folder is read-only once its lock file exists (a batch's workspace,
            // locked by the grader); a staged crate without one has cargo write it, offline.
            let (mut read_only, mut writable) = (isolation.read_only.clone(), vec![]);
            if dir.join("Cargo.lock").is_file() {
                read_only.push(dir.to_path_buf());
            } else {
                writable.push(dir.to_path_buf());
            }
            std::fs::create_dir_all(target).map_err(|e| HarnessError::io(target, e))?;
            writable.push(target.to_path_buf());
            let view = crate::sandbox::View {
                read_only,
                writable,
                cwd: dir.to_path_buf(),
                env: vec![("CARGO_TARGET_DIR".into(), target.display().to_string())],
            };
            let mut args = args.to_vec();
            if args.first().is_some_and(|a| a == "build") && !args.iter().any(|a| a == "--offline")
            {
                // Nothing inside reaches a network; cargo must not try.
                args.push("--offline".into());
            }
            sandbox.command(&sandbox.cargo(), &args, &view)
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| HarnessError::Cargo(format!("could not start cargo: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let started = std::time::Instant::now();
    // Set while cargo waits for another cargo's lock on the target directory (tests and a
    // grader running side by side share it): the wait is not the build's time.
    let waiting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let unblocked = waiting.clone();
    let reader = std::thread::spawn(move || {
        parse_messages(BufReader::new(stdout), || {
            unblocked.store(false, std::sync::atomic::Ordering::Relaxed);
        })
    });
    let blocked = waiting.clone();
    let err_reader = std::thread::spawn(move || {
        let mut kept = String::new();
        let mut stderr = BufReader::new(stderr);
        let mut line = Vec::new();
        // Keep the first MiB; drain the rest so cargo never blocks on a full pipe.
        while stderr.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            if text.contains(LOCK_WAIT) {
                blocked.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if kept.len() < 1 << 20 {
                kept.push_str(&text);
            }
            line.clear();
        }
        kept
    });
    // `limit` is wall-clock time: compiler output (rustc's "taking a long time" warnings
    // among it) does not extend it. Waiting for another cargo's lock does not count, up to
    // `LOCK_PATIENCE`.
    let tick = Duration::from_millis(200);
    let mut excused = Duration::ZERO;
    let status = loop {
        match child
            .wait_timeout(tick)
            .map_err(|e| HarnessError::Cargo(e.to_string()))?
        {
            Some(status) => break Some(status),
            None => {
                if waiting.load(std::sync::atomic::Ordering::Relaxed) && excused < LOCK_PATIENCE {
                    excused += tick;
                }
                if started.elapsed().saturating_sub(excused) >= limit {
                    break None;
                }
            }
        }
    };
    let status = match status {
        Some(status) => Some(status),
        None => {
            // The whole group: cargo, rustc and anything they started.
            if let Ok(group) = libc::pid_t::try_from(child.id()) {
                // SAFETY: a plain syscall; the child leads its own process group
                // (`process_group(0)` above), so this reaches only what it started.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let messages = reader.join().expect("reader thread");
    let stderr = err_reader.join().expect("stderr thread");
    Ok(CargoRun {
        status,
        messages,
        stderr,
    })
}

/// A package name unique per slot, so builds of different slots in the one target directory
/// never share an output file.
pub fn package_name(slot: &str) -> String {
    let clean: String = slot
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("submission_{clean}")
}

/// The package name of a slot's root crate: the `cdylib` the grader writes, which links the
/// student's crate and the guest support crate.
pub fn root_package_name(slot: &str) -> String {
    package_name(slot).replacen("submission_", "graded_", 1)
}

/// Where a slot's (or a batch's) root crates live, beside the student's sources.
const ROOT_DIR: &str = "link";

/// Writes a root crate: the module the grader grades is this `cdylib`, whose only code links
/// the student's crate (a plain library) and the guest support crate. Nothing in the
/// student's text can unlink or replace the support crate: it is not in the student's crate.
fn write_root(
    dir: &Path,
    name: &str,
    student: &str,
    student_path: &str,
    guest: &Path,
) -> Result<(), HarnessError> {
    let guest = guest.display().to_string().replace('\\', "/");
    write_if_changed(
        &dir.join("Cargo.toml"),
        format!(
            r#"# Written by the grader: the module it grades links the student's crate and its own.
[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]
path = "lib.rs"

[dependencies]
{student} = {{ path = "{student_path}" }}
course-guest = {{ path = "{guest}", features = ["grading"] }}
"#
        )
        .as_bytes(),
    )?;
    write_if_changed(
        &dir.join("lib.rs"),
        format!(
            "//! Written by the grader: links the student's crate and the grader's support crate.\n\
             extern crate course_guest as _;\nextern crate {student} as _;\n"
        )
        .as_bytes(),
    )
}

/// The batch workspace's member that holds only the dependencies.
const DEPS_PACKAGE: &str = "batch_dependencies";

/// A crate the grader writes a manifest for.
enum Manifest<'a> {
    /// A submission, by its package name: a `cdylib`, the module to grade.
    Submission(&'a str),
    /// A batch's dependency member: the same dependencies and features as a submission (so
    /// cargo compiles them once for all), but a plain library with nothing to link.
    Dependencies,
}

fn crate_manifest(kind: Manifest<'_>, guest: &Path) -> String {
    let (name, about, crate_type) = match kind {
        Manifest::Submission(name) => (
            name,
            "the student's own Cargo.toml is not used",
            "crate-type = [\"rlib\"]\n",
        ),
        Manifest::Dependencies => (
            DEPS_PACKAGE,
            "the dependencies every submission of the batch builds with",
            "",
        ),
    };
    let guest = guest.display().to_string().replace('\\', "/");
    format!(
        r#"# Written by the grader: {about}.
[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
{crate_type}path = "src/lib.rs"

[dependencies]
{TEMPLATE_DEPENDENCIES}course-guest = {{ path = "{guest}", features = ["grading"] }}

{TEMPLATE_FEATURES}"#
    )
}

/// What every student crate may use, pinned: the exercise template's `Cargo.toml` lists the
/// same (a test keeps them equal). They compile once, in the shared target directory.
pub const TEMPLATE_DEPENDENCIES: &str = r#"wasm-bindgen = "=0.2.130"
js-sys = "=0.3.107"
web-sys = { version = "=0.3.107", features = ["console"] }
console_error_panic_hook = { version = "=0.1.7", optional = true }
fixedbitset = "=0.4.2"
cfg-if = "=1.0.0"
"#;

/// As in the Rust and WebAssembly book's template: the panic hook is on unless turned off.
pub const TEMPLATE_FEATURES: &str = r#"[features]
default = ["console_error_panic_hook"]
"#;

/// One fixed profile: fuel budgets depend on the optimisation level, so it must be the same on
/// every machine. No debug info, so std's DWARF is stripped and linking stays fast; incremental
/// keeps re-grades fast. `grading-lines` is the same code with line tables, built only to find
/// the source line of a leak.
const PROFILES: &str = r#"
[profile.release]
opt-level = 2
debug = false
incremental = true
debug-assertions = false
overflow-checks = false

[profile.grading-lines]
inherits = "release"
debug = "line-tables-only"
strip = "none"
"#;

/// Writes the taken files into `crate_dir/src`, touching only files whose content changed (so
/// cargo's incremental build stays warm) and removing files the student deleted.
fn stage(crate_dir: &Path, files: &[(PathBuf, String)]) -> Result<(), HarnessError> {
    let staged_src = crate_dir.join("src");
    std::fs::create_dir_all(&staged_src).map_err(|e| HarnessError::io(&staged_src, e))?;
    let mut keep = std::collections::BTreeSet::new();
    for (rel, content) in files {
        write_if_changed(&staged_src.join(rel), content.as_bytes())?;
        keep.insert(rel.clone());
    }
    let mut staged = Vec::new();
    collect_rs(&staged_src, &staged_src, &mut staged)
        .map_err(|e| HarnessError::io(&staged_src, e))?;
    for rel in staged.iter().filter(|r| !keep.contains(*r)) {
        let _ = std::fs::remove_file(staged_src.join(rel));
    }
    Ok(())
}

/// `.rs` files under `dir`, relative to `root`. Symlinks are not followed.
fn collect_rs(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let ty = entry.file_type()?;
        let path = entry.path();
        if ty.is_dir() {
            collect_rs(root, &path, out)?;
        } else if ty.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    out.sort();
    Ok(())
}

fn write_if_changed(path: &Path, content: &[u8]) -> Result<(), HarnessError> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| HarnessError::io(dir, e))?;
    }
    std::fs::write(path, content).map_err(|e| HarnessError::io(path, e))
}

#[derive(Debug, Default)]
struct Messages {
    /// Compiler errors by crate name.
    errors: std::collections::BTreeMap<String, Vec<CompilerError>>,
    /// The `.wasm` written for each crate.
    artifacts: std::collections::BTreeMap<String, PathBuf>,
    fresh: bool,
}

#[derive(Debug, Clone)]
struct CompilerError {
    message: String,
    /// Errors after this one that were not kept.
    more: usize,
    location: Option<String>,
    rendered: String,
    /// The folder of the crate the error is in, from cargo's package id: where the student's
    /// `src/` was staged, which the student never sees.
    package_root: Option<String>,
}

/// The crate a message is about: `…#submission_x@0.0.0` or `…/submission_x#0.0.0` → `submission_x`.
fn crate_of(msg: &serde_json::Value) -> String {
    if let Some(name) = msg["target"]["name"].as_str() {
        return name.replace('-', "_");
    }
    let id = msg["package_id"].as_str().unwrap_or("");
    let after = id.rsplit('#').next().unwrap_or(id);
    let name = match after.split_once('@') {
        Some((name, _)) => name,
        None => id
            .rsplit('/')
            .next()
            .unwrap_or(id)
            .split('#')
            .next()
            .unwrap_or(""),
    };
    name.replace('-', "_")
}

fn parse_messages(reader: impl BufRead, mut on_line: impl FnMut()) -> Messages {
    let mut out = Messages {
        fresh: true,
        ..Messages::default()
    };
    for line in reader.lines().map_while(Result::ok) {
        on_line();
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-message") if msg["message"]["level"] == "error" => {
                let m = &msg["message"];
                let primary = m["spans"]
                    .as_array()
                    .and_then(|spans| spans.iter().find(|s| s["is_primary"] == true));
                let location = primary.map(|s| {
                    format!(
                        "{}:{}:{}",
                        s["file_name"].as_str().unwrap_or("?"),
                        s["line_start"].as_u64().unwrap_or(0),
                        s["column_start"].as_u64().unwrap_or(0)
                    )
                });
                let errors = out.errors.entry(crate_of(&msg)).or_default();
                // A flood of errors is counted, not kept.
                if errors.len() >= ERRORS_KEPT {
                    errors[ERRORS_KEPT - 1].more += 1;
                    continue;
                }
                errors.push(CompilerError {
                    message: m["message"].as_str().unwrap_or("").to_owned(),
                    location,
                    rendered: cut(m["rendered"].as_str().unwrap_or(""), RENDERED_BYTES),
                    more: 0,
                    package_root: package_root(&msg),
                });
            }
            Some("compiler-artifact") => {
                if msg["fresh"] == false {
                    out.fresh = false;
                }
                if let Some(files) = msg["filenames"].as_array()
                    && let Some(wasm) = files
                        .iter()
                        .filter_map(|f| f.as_str())
                        .find(|f| f.ends_with(".wasm"))
                {
                    out.artifacts.insert(crate_of(&msg), PathBuf::from(wasm));
                }
            }
            _ => {}
        }
    }
    out
}

/// The folder of a path package: `path+file:///…/slot#name@0.0.0` → `/…/slot`.
fn package_root(msg: &serde_json::Value) -> Option<String> {
    let id = msg["package_id"].as_str()?;
    let path = id.strip_prefix("path+file://")?;
    let path = path.split(['#', '?']).next()?;
    Some(path.to_owned())
}

impl CompilerError {
    /// The error as the student knows their files: `src/…`, not where the grader staged them.
    fn relative(&self) -> CompilerError {
        let Some(root) = self.package_root.as_deref().filter(|r| !r.is_empty()) else {
            return self.clone();
        };
        let strip = |text: &str| text.replace(&format!("{root}/"), "");
        CompilerError {
            message: strip(&self.message),
            location: self.location.as_deref().map(strip),
            rendered: strip(&self.rendered),
            more: self.more,
            package_root: None,
        }
    }
}

fn compile_failure(errors: &[CompilerError]) -> Failure {
    let errors: Vec<CompilerError> = errors.iter().map(CompilerError::relative).collect();
    // "aborting due to N previous errors" adds nothing for a student.
    let real: Vec<&CompilerError> = errors
        .iter()
        .filter(|e| !e.message.starts_with("aborting due to") && e.location.is_some())
        .collect();
    let shown = if real.is_empty() {
        errors.iter().collect()
    } else {
        real
    };
    let first = shown[0];
    if first.message.starts_with("linking with") {
        return link_failure(first);
    }
    let mut f = if first.message.contains("#[global_allocator]")
        && first.message.contains("course_guest")
    {
        Failure::new(
            Verdict::CompileError,
            "your code does not compile: it declares a `#[global_allocator]`, and the grader supplies its own",
        )
        .hint(
            "the grader links a counting allocator (from its `course_guest` crate) into your module to check how it uses memory: remove your `#[global_allocator]` and its `static`, and your memory is still allocated as usual",
        )
    } else {
        Failure::new(
            Verdict::CompileError,
            format!("your code does not compile: {}", first.message),
        )
        .hint(
            shown
                .iter()
                .any(|e| e.rendered.contains("if you wanted to use a crate named"))
                .then(|| {
                    format!(
                        "use only the course's crates: {}; {BUILDS_ITS_OWN}",
                        offered_crates()
                    )
                })
                .or_else(|| web_sys_hint(&shown))
                .unwrap_or_else(|| {
                    "fix the first error first: later ones are often caused by it".to_owned()
                }),
        )
    };
    if let Some(loc) = &first.location {
        f = f.at(loc.clone());
    }
    for e in shown.iter().take(ERRORS_SHOWN) {
        let mut text = without_cargo_add(e.rendered.trim_end());
        if text.len() > RENDERED_BYTES {
            let mut end = RENDERED_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str("\n…[cut]");
        }
        f = f.detail(text);
    }
    let more =
        shown.len().saturating_sub(ERRORS_SHOWN) + errors.iter().map(|e| e.more).sum::<usize>();
    if more > 0 {
        f = f.detail(format!("… and {more} more errors"));
    }
    f
}

/// The crates a student's code may use, as code names them: `TEMPLATE_DEPENDENCIES` and the
/// guest crate, with web-sys's features.
fn offered_crates() -> String {
    let deps: toml::Table = toml::from_str(TEMPLATE_DEPENDENCIES).unwrap_or_default();
    let mut names: Vec<String> = deps
        .iter()
        .map(|(name, spec)| {
            let name = format!("`{}`", name.replace('-', "_"));
            match spec.get("features").and_then(|f| f.as_array()) {
                Some(features) => {
                    let features: Vec<String> = features
                        .iter()
                        .filter_map(|f| f.as_str())
                        .map(|f| format!("`{f}`"))
                        .collect();
                    format!("{name} (with only its {} feature)", features.join(", "))
                }
                None => name,
            }
        })
        .collect();
    names.push("`course_guest`".to_owned());
    names.join(", ")
}

/// rustc's advice to `cargo add` a crate: the student's `Cargo.toml` is not the one built, so
/// the line says which crates the course offers instead.
fn without_cargo_add(rendered: &str) -> String {
    rendered
        .lines()
        .map(
            |line| match line.find("if you wanted to use a crate named") {
                Some(at) if line.contains("cargo add") => format!(
                    "{}`{}` is not one of the crates the course offers (the hint lists them)",
                    &line[..at],
                    backticked(&line[at..]).unwrap_or("it"),
                ),
                _ => line.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first name in backticks.
fn backticked(text: &str) -> Option<&str> {
    let start = text.find('`')? + 1;
    let len = text[start..].find('`')?;
    Some(&text[start..start + len])
}

const BUILDS_ITS_OWN: &str =
    "the grader builds your `src/` with its own `Cargo.toml`, so changing yours changes nothing";

/// A hint for errors about a part of web-sys the course does not build.
fn web_sys_hint(errors: &[&CompilerError]) -> Option<String> {
    let gated = errors.iter().find_map(|e| {
        let at = e.rendered.find("gated behind the `")?;
        e.rendered
            .contains("web-sys")
            .then(|| backticked(&e.rendered[at..]))?
    });
    if gated.is_none() && !errors.iter().any(|e| e.message.contains("`web_sys`")) {
        return None;
    }
    let which = gated.map_or_else(String::new, |f| format!(" (not `{f}`)"));
    Some(format!(
        "`web_sys` is built with only its `console` feature{which}: {BUILDS_ITS_OWN}; the page's APIs (the DOM, canvas) need a browser anyway, and `js_sys` has JavaScript's built-ins"
    ))
}

/// A link error: rustc's note repeats the linker's whole command line (kilobytes) before the
/// linker's own error. Only the latter is shown, with object files named by their crate.
fn link_failure(e: &CompilerError) -> Failure {
    let mut lines: Vec<String> = Vec::new();
    let mut keep = false;
    for line in e.rendered.lines() {
        let text = line.trim();
        if let Some(note) = text.strip_prefix("= note:") {
            let note = note.trim();
            keep = note.contains("error:") || note.contains("warning:");
            if keep {
                lines.push(note.to_owned());
            }
        } else if keep && !text.is_empty() && !text.starts_with('=') {
            lines.push(
                text.split(' ')
                    .map(object_name)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    let first = lines
        .iter()
        .find_map(|l| l.split_once("error: ").map(|(_, what)| what.to_owned()))
        .unwrap_or_else(|| e.message.clone());
    let mut f = Failure::new(
        Verdict::CompileError,
        format!("your code does not link: {first}"),
    );
    for line in lines.iter().take(12) {
        f = f.detail(line.clone());
    }
    if first.starts_with("duplicate symbol") {
        f.hint(
            "two definitions share one name: a function of yours with `#[no_mangle]` or `#[export_name]` has the name of one the grader's `course_guest` or another crate defines; rename it, or drop the attribute (`#[wasm_bindgen]` exports need neither)",
        )
    } else {
        f.hint("the linker could not put your module together: the error above names the symbol")
    }
}

/// A linker's path to an object file, named for a student: `your code`, or the crate it is in.
fn object_name(word: &str) -> String {
    if !word.contains('/') {
        return word.to_owned();
    }
    let file = word.rsplit('/').next().unwrap_or(word);
    if let Some(lib) = file.strip_prefix("lib")
        && let Some((name, _)) = lib.split_once('-')
        && file.contains(".rlib")
    {
        return if name == "course_guest" {
            "the grader's `course_guest`".to_owned()
        } else if name.starts_with("submission_") {
            "your code".to_owned()
        } else {
            format!("`{name}`")
        };
    }
    if file.starts_with("submission_") {
        return "your code".to_owned();
    }
    file.to_owned()
}

/// `text` cut a little past `max` bytes (on a character boundary): enough for the renderer to
/// see it was longer, without keeping a flood in memory.
fn cut(text: &str, max: usize) -> String {
    let mut end = (max + 4).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Installs the wasm32 target through rustup when the toolchain lacks it, once per process.
pub fn ensure_target() -> Result<(), HarnessError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let libdir = Command::new(rustc)
            .args(["--print", "target-libdir", "--target", TARGET])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
        if libdir.is_some_and(|d| d.exists()) {
            return Ok(());
        }
        let status = Command::new("rustup")
            .args(["target", "add", TARGET])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("the `{TARGET}` target is missing and rustup could not be run ({e}); install it with `rustup target add {TARGET}`"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`rustup target add {TARGET}` failed; run it by hand and try again"))
        }
    })
    .clone()
    .map_err(HarnessError::Toolchain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_messages_become_one_failure() {
        let json = r#"{"reason":"compiler-message","message":{"level":"error","message":"cannot find value `x` in this scope","rendered":"error[E0425]: cannot find value `x`\n --> src/lib.rs:3:5\n","spans":[{"file_name":"src/lib.rs","line_start":3,"column_start":5,"is_primary":true}]}}
{"reason":"compiler-message","message":{"level":"warning","message":"unused","rendered":"","spans":[]}}
{"reason":"compiler-message","message":{"level":"error","message":"aborting due to 1 previous error","rendered":"error: aborting","spans":[]}}
{"reason":"build-finished","success":false}"#;
        let m = parse_messages(json.as_bytes(), || {});
        let errors = m.errors.values().next().unwrap();
        assert_eq!(errors.len(), 2);
        let f = compile_failure(errors);
        assert_eq!(f.verdict, Verdict::CompileError);
        assert_eq!(f.location.as_deref(), Some("src/lib.rs:3:5"));
        assert!(f.message.contains("cannot find value `x`"));
        assert_eq!(f.details.len(), 1);
    }

    fn error(message: &str, location: Option<&str>, rendered: &str) -> CompilerError {
        CompilerError {
            message: message.to_owned(),
            location: location.map(str::to_owned),
            rendered: rendered.to_owned(),
            more: 0,
            package_root: Some("/course/target/grader/staging/slot".to_owned()),
        }
    }

    #[test]
    fn a_headline_names_the_students_files_not_the_staging_folder() {
        let json = r#"{"reason":"compiler-message","package_id":"path+file:///course/target/grader/staging/slot#submission_slot@0.0.0","message":{"level":"error","message":"couldn't read `/course/target/grader/staging/slot/src/data.txt`: No such file or directory (os error 2)","rendered":"error: couldn't read `/course/target/grader/staging/slot/src/data.txt`\n --> /course/target/grader/staging/slot/src/lib.rs:1:17\n","spans":[{"file_name":"/course/target/grader/staging/slot/src/lib.rs","line_start":1,"column_start":17,"is_primary":true}]}}"#;
        let m = parse_messages(json.as_bytes(), || {});
        let f = compile_failure(m.errors.values().next().unwrap());
        assert_eq!(
            f.message,
            "your code does not compile: couldn't read `src/data.txt`: No such file or directory (os error 2)"
        );
        assert_eq!(f.location.as_deref(), Some("src/lib.rs:1:17"));
        assert!(!f.details[0].contains("staging"), "{}", f.details[0]);
        // A batch member's headline loses its folder in the batch workspace too.
        let f = unprefixed(
            Failure::new(
                Verdict::CompileError,
                "couldn't read `m/alice/src/data.txt`",
            ),
            "m/alice/",
        );
        assert_eq!(f.message, "couldn't read `src/data.txt`");
    }

    /// rustc's link error repeats the linker's command line, kilobytes long, before the error.
    #[test]
    fn a_link_error_shows_the_linkers_error_not_its_arguments() {
        let arguments = "\"--export\" \"f\" ".repeat(500);
        let rendered = format!(
            "error: linking with `rust-lld` failed: exit status: 1\n  |\n  = note:  \"rust-lld\" \"-flavor\" \"wasm\" {arguments}\n  = note: some arguments are omitted. use `--verbose` to show all linker arguments\n  = note: rust-lld: error: duplicate symbol: __wasm_course_init\n          >>> defined in /course/target/grader/staging/slot/../../target/wasm32-unknown-unknown/release/deps/submission_slot.abc.rcgu.o\n          >>> defined in /course/target/grader/target/wasm32-unknown-unknown/release/deps/libcourse_guest-5dfe7931ef03fe80.rlib(course_guest-5dfe7931ef03fe80.d7n.rcgu.o)\n          \n\n"
        );
        let f = compile_failure(&[error(
            "linking with `rust-lld` failed: exit status: 1",
            None,
            &rendered,
        )]);
        assert_eq!(
            f.message,
            "your code does not link: duplicate symbol: __wasm_course_init"
        );
        assert_eq!(
            f.details,
            [
                "rust-lld: error: duplicate symbol: __wasm_course_init",
                ">>> defined in your code",
                ">>> defined in the grader's `course_guest`",
            ]
        );
        assert!(f.hint.unwrap().contains("`#[no_mangle]`"));
    }

    #[test]
    fn a_global_allocator_of_the_students_is_explained() {
        let message = "the `#[global_allocator]` in this crate conflicts with global allocator in: course_guest";
        let f = compile_failure(&[error(message, None, &format!("error: {message}\n"))]);
        assert_eq!(
            f.message,
            "your code does not compile: it declares a `#[global_allocator]`, and the grader supplies its own"
        );
        let hint = f.hint.unwrap();
        assert!(hint.contains("remove your `#[global_allocator]`"), "{hint}");
    }

    #[test]
    fn a_crate_the_course_does_not_offer_names_those_it_does() {
        let f = compile_failure(&[error(
            "unresolved import `rand`",
            Some("src/lib.rs:3:5"),
            "error[E0432]: unresolved import `rand`\n --> src/lib.rs:3:5\n  |\n  = help: if you wanted to use a crate named `rand`, use `cargo add rand` to add it to your `Cargo.toml`\n",
        )]);
        assert!(!f.details[0].contains("cargo add"), "{}", f.details[0]);
        assert!(
            f.details[0].contains(
                "= help: `rand` is not one of the crates the course offers (the hint lists them)"
            ),
            "{}",
            f.details[0]
        );
        assert_eq!(
            f.hint.as_deref(),
            Some(
                "use only the course's crates: `cfg_if`, `console_error_panic_hook`, `fixedbitset`, `js_sys`, `wasm_bindgen`, `web_sys` (with only its `console` feature), `course_guest`; the grader builds your `src/` with its own `Cargo.toml`, so changing yours changes nothing"
            )
        );
        let f = compile_failure(&[
            error(
                "cannot find type `Window` in crate `web_sys`",
                Some("src/lib.rs:1:24"),
                "error[E0425]: cannot find type `Window` in crate `web_sys`\n",
            ),
            error(
                "cannot find function `window` in crate `web_sys`",
                Some("src/lib.rs:1:42"),
                "error[E0425]: cannot find function `window` in crate `web_sys`\nnote: found an item that was configured out\n  --> /home/.cargo/registry/src/index.crates.io-1/web-sys-0.3.107/src/lib.rs:35:8\n34 | #[cfg(feature = \"Window\")]\n   |       ------------------ the item is gated behind the `Window` feature\n",
            ),
        ]);
        let hint = f.hint.unwrap();
        assert!(
            hint.starts_with("`web_sys` is built with only its `console` feature (not `Window`)"),
            "{hint}"
        );
    }

    /// Tests and graders share a target directory: a build that waits for another's lock must
    /// not be stopped as silent.
    #[test]
    fn waiting_for_another_cargos_lock_is_not_silence() {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join(format!("grader-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"waits\"\nversion = \"0.0.0\"\nedition = \"2021\"\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(dir.join("src/lib.rs"), "").unwrap();
        let target = dir.join("target");
        std::fs::create_dir_all(target.join("debug")).unwrap();
        let lock = std::fs::File::create(target.join("debug/.cargo-lock")).unwrap();
        // SAFETY: a plain syscall on a file descriptor this test owns.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(4));
            drop(lock);
        });
        let limit = Duration::from_secs(1);
        let run = run_cargo(
            &dir,
            &target,
            &["build".into(), "--message-format=json".into()],
            &Isolation::default(),
            limit,
        )
        .unwrap();
        holder.join().unwrap();
        assert!(run.stderr.contains(LOCK_WAIT), "{}", run.stderr);
        assert!(
            run.status.is_some_and(|s| s.success()),
            "stopped after {limit:?} of waiting:\n{}",
            run.stderr
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn package_names_are_unique_and_valid() {
        assert_eq!(
            package_name("21-wasm-memory/03-f64"),
            "submission_21_wasm_memory_03_f64"
        );
    }
}
