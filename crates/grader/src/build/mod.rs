//! The build step: compile a student's `src/` to `wasm32-unknown-unknown` inside a crate the
//! grader owns, and turn compiler errors into a verdict.
//!
//! The grader writes the crate's `Cargo.toml` itself (pinned wasm-bindgen, the guest support
//! crate with `grading` on, one fixed profile, so fuel counts are the same on every machine)
//! and copies only `.rs` files from the student's `src/`, keeping unchanged files untouched so
//! cargo's incremental build stays warm. One shared target directory means wasm-bindgen and
//! friends compile once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::HarnessError;
use crate::report::{Failure, Verdict};

mod cargo;
mod diagnostics;
mod direct;
mod staging;

pub use direct::{record_if_asked, recorder};

pub use staging::{TEMPLATE_DEPENDENCIES, TEMPLATE_FEATURES, package_name};

use cargo::*;
use diagnostics::*;
use staging::*;

pub const TARGET: &str = "wasm32-unknown-unknown";

/// The wasm-bindgen version the grader's bindgen step understands; student crates must use it.
pub const WASM_BINDGEN_VERSION: &str = "=0.2.130";

/// In the staging folder, the lock file of the dependencies as the last batch prepared resolved
/// them: a new staged crate's lock file starts as a copy of it.
const DEPENDENCIES_LOCK: &str = "dependencies.lock";

/// In the staging folder, beside [`DEPENDENCIES_LOCK`]: a digest of the batch workspace's
/// manifests that lock file was resolved for.
const RESOLVED_FOR: &str = "dependencies.lock.for";

/// A digest of the manifests of a batch workspace without members: what its resolution
/// depends on.
fn manifests_key(ws: &Path) -> Result<String, HarnessError> {
    let mut parts = Vec::new();
    for path in [ws.join("Cargo.toml"), ws.join("deps").join("Cargo.toml")] {
        let text = std::fs::read_to_string(&path).map_err(|e| HarnessError::io(&path, e))?;
        parts.push(text);
    }
    Ok(crate::intake::digest(parts.iter().map(String::as_str)))
}

/// Puts the lock file the last batch resolved into `ws` when it was resolved for the same
/// manifests (`key`). Whether it did.
fn reuse_resolution(dirs: &BuildDirs, ws: &Path, key: &str) -> bool {
    let same = std::fs::read_to_string(dirs.staging.join(RESOLVED_FOR)).is_ok_and(|k| k == key);
    same && std::fs::read(dirs.staging.join(DEPENDENCIES_LOCK))
        .and_then(|lock| std::fs::write(ws.join("Cargo.lock"), lock))
        .is_ok()
}

/// `cargo fetch --locked` in `ws`, outside the sandbox. `Ok(Err(stderr))` when it failed.
fn fetch_locked(dirs: &BuildDirs, ws: &Path) -> Result<Result<(), String>, HarnessError> {
    let fetch = run_cargo(
        ws,
        &dirs.target,
        &["fetch".into(), "--locked".into()],
        &Isolation::default(),
        dirs.timeout,
    )?;
    Ok(if fetch.status.is_some_and(|s| s.success()) {
        Ok(())
    } else {
        Err(fetch.stderr)
    })
}

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
    /// The program that records the student crate's rustc command for cargo (the grading
    /// program itself, which calls [`record_if_asked`] first thing): with it, a re-grade of a
    /// student's own crate runs that command directly (see `direct.rs`).
    pub rustc_recorder: Option<PathBuf>,
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

/// The profile a class's batch is built with: line tables, so a leak's source line is read from
/// the module graded, not from a second build of each leaking member (a tenth of a class's
/// submissions may leak; linking the line tables costs about a tenth more). Debug info does
/// not change the code rustc emits, so fuel counts are those of the student's own build.
pub const BATCH_PROFILE: Profile = Profile::Lines;

/// Which of the staged crate's two profiles to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The grading build: no debug info, so it compiles and links fast.
    Grading,
    /// The same code with DWARF line tables: a batch's build, and a student's crate built
    /// again to find a leak's source line.
    Lines,
}

impl Profile {
    /// The profile's name in the staged crate's manifest, as cargo's `--profile` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Grading => "release",
            Profile::Lines => "grading-lines",
        }
    }
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
    write_if_changed(
        &crate_dir.join("Cargo.toml"),
        format!(
            "{}\n{}\n[workspace]\n",
            crate_manifest(Manifest::Submission(&name), &dirs.guest_crate),
            PROFILES
        )
        .as_bytes(),
    )?;
    // An older grader's root crate, which a stale lockfile would still name.
    let _ = std::fs::remove_dir_all(crate_dir.join("link"));
    stage(&crate_dir, files)?;
    // A new slot starts from the lock file a batch resolved, when there is one: cargo then
    // only adds the slot's own packages.
    let lock = crate_dir.join("Cargo.lock");
    if !lock.exists()
        && let Ok(resolved) = std::fs::read(dirs.staging.join(DEPENDENCIES_LOCK))
    {
        std::fs::write(&lock, resolved).map_err(|e| HarnessError::io(&lock, e))?;
    }
    // Only for a student's own crate on their own machine, and the grading profile.
    let recorder = dirs.rustc_recorder.as_deref().filter(|_| {
        dirs.isolation.sandbox.is_none() && !dirs.isolation.clear_env && profile == Profile::Grading
    });
    let direct = match recorder {
        Some(_) => direct::try_build(&crate_dir, &name, dirs.timeout)?,
        None => None,
    };
    let run = match direct {
        Some(run) => run,
        None => {
            let env = recorder
                .map(|r| direct::recording_env(r, &crate_dir, &name))
                .unwrap_or_default();
            let run = run_cargo_with(
                &crate_dir,
                &dirs.target,
                &cargo_args(profile, &[format!("--package={name}")]),
                &dirs.isolation,
                dirs.timeout,
                &env,
                None,
            )?;
            if recorder.is_some() {
                // A command rustc ran, whether or not the student's code compiled.
                direct::remember(&crate_dir, &dirs.guest_crate);
            }
            run
        }
    };
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
    let Some(wasm_path) = run.messages.artifacts.get(&name) else {
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

/// Builds many submissions at once: each is a member of one generated workspace, so
/// dependencies compile once and cargo builds members in parallel up to `jobs`. A member that
/// fails to compile does not stop the others (`--keep-going`). When the whole batch outlives
/// its time limit (a `const` that never finishes evaluating, say), what did not finish is built
/// again one member at a time, each with its own limit. To build a batch in chunks, prepare it
/// once with [`Batch::prepare`] and build each chunk with [`Batch::build`].
pub fn build_batch(
    dirs: &BuildDirs,
    batch: &str,
    members: &[Member],
    jobs: usize,
    isolation: &Isolation,
    profile: Profile,
) -> Result<Vec<Result<Built, Failure>>, HarnessError> {
    Batch::prepare(dirs, batch, jobs, isolation, profile)?.build(members)
}

/// A batch's generated workspace with its dependencies resolved, fetched and built, once:
/// every chunk of submissions built through it starts from the same lock file.
#[derive(Debug)]
pub struct Batch {
    dirs: BuildDirs,
    name: String,
    ws: PathBuf,
    jobs: usize,
    isolation: Isolation,
    profile: Profile,
    /// The workspace's lock file with the dependencies' member alone: the registry's packages
    /// as the grader resolved them. A chunk's build adds only its own path members to it.
    lock: Vec<u8>,
    /// The registry's packages in `lock`, which no chunk's build may change.
    registry: BTreeSet<String>,
}

impl Batch {
    /// Writes batch `batch`'s workspace without submissions, resolves and fetches the
    /// dependencies (outside the sandbox, before any submission's code is compiled, when
    /// `isolation` has one) and builds them, with a limit of their own: on a cold target
    /// directory js-sys alone can compile for longer than a submission's build may take.
    pub fn prepare(
        dirs: &BuildDirs,
        batch: &str,
        jobs: usize,
        isolation: &Isolation,
        profile: Profile,
    ) -> Result<Batch, HarnessError> {
        ensure_target()?;
        let ws = write_batch(dirs, batch, &[])?;
        // The grader resolves dependencies itself (online, before any submission code is
        // compiled); builds then run offline. A workspace whose manifests are those the last
        // resolution was made for keeps its lock file: the same versions, and no trip to the
        // registry, as long as the registry's cache still has them.
        let key = manifests_key(&ws)?;
        if isolation.sandbox.is_some() {
            let reused = reuse_resolution(dirs, &ws, &key) && fetch_locked(dirs, &ws)?.is_ok();
            if !reused {
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
                if let Err(stderr) = fetch_locked(dirs, &ws)? {
                    return Err(HarnessError::Cargo(format!(
                        "could not fetch the batch's dependencies:\n{}",
                        tail(&stderr)
                    )));
                }
            }
        }
        let mut args = batch_args(jobs, isolation);
        if isolation.sandbox.is_some() {
            args.push("--locked".to_owned());
        }
        let warm = run_cargo(
            &ws,
            &dirs.target,
            &cargo_args(profile, &args),
            isolation,
            DEPENDENCY_LIMIT.max(dirs.timeout),
        )?;
        if !warm.status.is_some_and(|s| s.success()) {
            return Err(HarnessError::Cargo(format!(
                "could not build the submissions' dependencies:\n{}",
                tail(&warm.stderr)
            )));
        }
        let path = ws.join("Cargo.lock");
        let lock = std::fs::read(&path).map_err(|e| HarnessError::io(&path, e))?;
        let registry = registry_packages(&lock).ok_or_else(|| {
            HarnessError::Cargo(format!("cargo wrote an unreadable `{}`", path.display()))
        })?;
        // Whole files, so a batch prepared beside this one never reads half of one; the key
        // is taken away while the lock file changes, so a key never names another lock file.
        let _ = std::fs::remove_file(dirs.staging.join(RESOLVED_FOR));
        for (name, bytes) in [
            (DEPENDENCIES_LOCK, &lock[..]),
            (RESOLVED_FOR, key.as_bytes()),
        ] {
            let path = dirs.staging.join(name);
            crate::engine::write_atomically(&path, bytes)
                .map_err(|e| HarnessError::io(&path, e))?;
        }
        Ok(Batch {
            dirs: dirs.clone(),
            name: batch.to_owned(),
            ws,
            jobs,
            isolation: isolation.clone(),
            profile,
            lock,
            registry,
        })
    }

    /// Builds `members` as the batch's only submissions, every member at once within the
    /// batch's wall-clock limit (see [`build_batch`]), and returns their results in order.
    pub fn build(&self, members: &[Member]) -> Result<Vec<Result<Built, Failure>>, HarnessError> {
        let mut out: Vec<(usize, Result<Built, Failure>)> = Vec::with_capacity(members.len());
        self.build_each(members, &mut |i, result| out.push((i, result)))?;
        out.sort_by_key(|(i, _)| *i);
        let mut results = Vec::with_capacity(out.len());
        for (_, result) in out {
            results.push(result);
        }
        Ok(results)
    }

    /// [`Batch::build`], handing each member's result to `done` (with the member's index) as
    /// soon as it is known: a module as soon as cargo has written it, while the others still
    /// build; compile errors and members built again alone after the batch ran out of time,
    /// once cargo has finished. One chunk at a time: the workspace is the batch's.
    pub fn build_each(
        &self,
        members: &[Member],
        done: &mut (dyn FnMut(usize, Result<Built, Failure>) + Send),
    ) -> Result<(), HarnessError> {
        let (dirs, ws, isolation) = (&self.dirs, &self.ws, &self.isolation);
        write_batch(dirs, &self.name, members)?;
        let names: Vec<String> = members.iter().map(|m| package_name(&m.id)).collect();
        let index: std::collections::BTreeMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let source_root = |i: usize| ws.join("m").join(&members[i].id);
        // Not `--locked`: cargo adds the chunk's path members to the lock file, and offline it
        // reaches only what the grader fetched, its registry packages already chosen there.
        let extra = batch_args(self.jobs, isolation);
        self.write_lock()?;
        let (artifacts, reported) = std::sync::mpsc::channel::<Artifact>();
        let mut delivered = vec![false; members.len()];
        let run = std::thread::scope(|scope| {
            let forwarder = scope.spawn(|| {
                // Cargo writes the lock file before it compiles anything: checked once, before
                // the first module is handed on, as the whole build's is after it.
                let mut trusted = None;
                for (name, wasm, fresh) in reported {
                    let Some(&i) = index.get(name.as_str()) else {
                        continue;
                    };
                    if !*trusted.get_or_insert_with(|| self.check_lock().is_ok()) {
                        continue;
                    }
                    // A module that cannot be read now is read again, and its error reported,
                    // once cargo has finished.
                    if let Ok(wasm) = std::fs::read(&wasm) {
                        delivered[i] = true;
                        let built = Built {
                            wasm,
                            source_root: source_root(i),
                            fresh,
                        };
                        done(i, Ok(built));
                    }
                }
            });
            let run = run_cargo_streaming(
                ws,
                &dirs.target,
                &cargo_args(self.profile, &extra),
                isolation,
                dirs.timeout,
                artifacts,
            );
            forwarder
                .join()
                .expect("the forwarding thread does not panic");
            run
        })?;
        if run.status.is_some() {
            self.check_lock()?;
        }
        for (i, (m, name)) in members.iter().zip(&names).enumerate() {
            if delivered[i] {
                continue;
            }
            let prefix = format!("m/{}/", m.id);
            let mut result = member_result(&run, name, &prefix, &source_root(i))?;
            if result.is_none() {
                // The batch ran out of time before this member finished: alone, with its own
                // limit.
                self.write_lock()?;
                let single = run_cargo(
                    ws,
                    &dirs.target,
                    &cargo_args(self.profile, &one_package(&extra, name)),
                    isolation,
                    dirs.timeout,
                )?;
                if single.status.is_some() {
                    self.check_lock()?;
                }
                result = member_result(&single, name, &prefix, &source_root(i))?;
            }
            done(
                i,
                match result {
                    Some(result) => result,
                    None => Err(timed_out(dirs.timeout)),
                },
            );
        }
        Ok(())
    }

    /// Fails unless the lock file a finished build left holds the registry's packages the
    /// grader resolved, and no other: what the submissions were built with was chosen outside
    /// the sandbox.
    fn check_lock(&self) -> Result<(), HarnessError> {
        let path = self.ws.join("Cargo.lock");
        let lock = std::fs::read(&path).map_err(|e| HarnessError::io(&path, e))?;
        if registry_packages(&lock).as_ref() != Some(&self.registry) {
            return Err(HarnessError::Cargo(format!(
                "the batch's build changed the dependencies the grader resolved in `{}`",
                path.display()
            )));
        }
        Ok(())
    }

    /// Puts back the lock file of the dependencies alone, whatever an earlier build (another
    /// chunk's, or one stopped at its limit) left.
    fn write_lock(&self) -> Result<(), HarnessError> {
        let path = self.ws.join("Cargo.lock");
        std::fs::write(&path, &self.lock).map_err(|e| HarnessError::io(&path, e))
    }
}

/// The packages from a registry that lock file `lock` holds (name, version, source and
/// checksum), or `None` when it is not a lock file.
fn registry_packages(lock: &[u8]) -> Option<BTreeSet<String>> {
    let lock: toml::Table = toml::from_str(std::str::from_utf8(lock).ok()?).ok()?;
    let packages = match lock.get("package") {
        Some(packages) => packages.as_array()?.as_slice(),
        None => &[],
    };
    let field = |p: &toml::Value, key: &str| p.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    Some(
        packages
            .iter()
            .filter(|p| field(p, "source").is_some())
            .map(|p| {
                ["name", "version", "source", "checksum"]
                    .map(|key| field(p, key).unwrap_or_default())
                    .join(" ")
            })
            .collect(),
    )
}

/// The arguments of every build of a batch's whole workspace.
fn batch_args(jobs: usize, isolation: &Isolation) -> Vec<String> {
    let mut args = vec![
        "--workspace".to_owned(),
        "--keep-going".to_owned(),
        format!("--jobs={}", jobs.max(1)),
    ];
    if isolation.sandbox.is_some() {
        args.push("--offline".to_owned());
    }
    args
}

/// Writes the generated workspace of batch `batch` (see [`build_batch`]) for `members`,
/// without building it, and returns its folder: each member's crate under `m/`, and a member
/// with the submissions' dependencies and no code of its own.
/// Members of an earlier call are removed from the workspace.
pub fn write_batch(
    dirs: &BuildDirs,
    batch: &str,
    members: &[Member],
) -> Result<PathBuf, HarnessError> {
    let ws = dirs.staging.join(batch);
    // `link/` held an older grader's root crates.
    for old in ["m", "link"] {
        let _ = std::fs::remove_dir_all(ws.join(old));
    }
    let names: Vec<String> = members.iter().map(|m| package_name(&m.id)).collect();
    let mut manifest = String::from(
        "# Written by the grader for one batch of submissions.\n[workspace]\nresolver = \"2\"\nmembers = [\n",
    );
    manifest.push_str("  \"deps\",\n");
    for m in members {
        manifest.push_str(&format!("  \"m/{}\",\n", m.id));
    }
    manifest.push_str("]\n");
    manifest.push_str(PROFILES);
    write_if_changed(&ws.join("Cargo.toml"), manifest.as_bytes())?;
    for (m, name) in members.iter().zip(&names) {
        let dir = ws.join("m").join(&m.id);
        write_if_changed(
            &dir.join("Cargo.toml"),
            crate_manifest(Manifest::Submission(name), &dirs.guest_crate).as_bytes(),
        )?;
        stage(&dir, &m.files)?;
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
    Ok(ws)
}

/// What a cargo run made of one member: its module, its compile errors, the compiler's crash
/// or a limit it hit (each the member's verdict), or `None` when the run was stopped before
/// the member finished.
fn member_result(
    run: &CargoRun,
    name: &str,
    prefix: &str,
    source_root: &Path,
) -> Result<Option<Result<Built, Failure>>, HarnessError> {
    if let Some(errors) = run.messages.errors.get(name) {
        return Ok(Some(Err(unprefixed(compile_failure(errors), prefix))));
    }
    if let Some(path) = run.messages.artifacts.get(name) {
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
/// incremental state and cached diagnostics, and what a stopped rustc left), so a batch's
/// target directory holds one chunk's worth at a time however many submissions it grades.
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
        remove_leftovers(&profile.path());
    }
}

/// Removes the folders rustc leaves in a profile's `deps` when it is stopped while writing a
/// crate's metadata (`rmeta` and six random characters): a submission that hits the file-size
/// limit leaves one as large as the limit. Only while no cargo builds into the profile (cargo
/// holds this lock for a whole build); else a later call removes them.
fn remove_leftovers(profile: &Path) {
    let Ok(lock) = std::fs::File::open(profile.join(".cargo-lock")) else {
        return;
    };
    if lock.try_lock().is_err() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(profile.join("deps")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.len() == "rmeta".len() + 6
            && name.starts_with("rmeta")
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            let _ = std::fs::remove_dir_all(entry.path());
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
        let m = parse_messages(json.as_bytes(), || {}, |_, _, _| {});
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
        let m = parse_messages(json.as_bytes(), || {}, |_, _, _| {});
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
                "use only the course's crates: `cfg_if`, `console_error_panic_hook`, `fixedbitset`, `js_sys`, `wasm_bindgen`, `wasm_bindgen_futures`, `web_sys` (with only its `console` feature), `course_guest`; the grader builds your `src/` with its own `Cargo.toml`, so changing yours changes nothing"
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
        // The lock cargo takes (`flock` on Unix, `LockFileEx` on Windows).
        lock.lock().unwrap();
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

    /// A chunk's build may add its own members to the batch's lock file, never change what
    /// came from the registry.
    #[test]
    fn a_lock_files_registry_packages_ignore_path_members() {
        let base = r#"version = 4

[[package]]
name = "batch_dependencies"
version = "0.0.0"
dependencies = ["cfg-if"]

[[package]]
name = "cfg-if"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "baf1de4339761588bc0619e3cbc0120ee582ebb74b53b4efbf79117bd2da40fd"
"#;
        let packages = registry_packages(base.as_bytes()).unwrap();
        assert_eq!(packages.len(), 1);
        let with_members = format!(
            "{base}\n[[package]]\nname = \"submission_s1\"\nversion = \"0.0.0\"\ndependencies = [\"cfg-if\"]\n"
        );
        assert_eq!(
            registry_packages(with_members.as_bytes()),
            Some(packages.clone())
        );
        let other = base.replace("1.0.0", "1.0.5");
        assert_ne!(registry_packages(other.as_bytes()), Some(packages));
        assert_eq!(registry_packages(b"version = 4\n[[package]\n"), None);
    }

    /// A graded chunk leaves nothing of its members in the target directory, whichever output.
    #[test]
    fn discard_removes_every_output_of_its_members_only() {
        let dir = std::env::temp_dir().join(format!("grader-discard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dirs = BuildDirs {
            staging: dir.join("staging"),
            target: dir.join("target"),
            guest_crate: dir.join("guest"),
            timeout: Duration::from_secs(1),
            isolation: Isolation::default(),
            rustc_recorder: None,
        };
        let release = dirs.target.join(TARGET).join("release");
        let outputs = |id: &str| {
            let name = package_name(id);
            vec![
                release.join(format!("{name}.wasm")),
                release.join(format!("deps/{name}.wasm")),
                release.join(format!("deps/{name}.d")),
                release.join(format!(".fingerprint/{name}-0123/lib")),
                release.join(format!("incremental/{name}-0123/s-1/query-cache.bin")),
                dirs.staging.join(id).join("src/lib.rs"),
            ]
        };
        for path in outputs("sgone").iter().chain(&outputs("skept")) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        // What rustc leaves when it is stopped writing metadata, removed only while no cargo
        // builds into the profile.
        let leftover = release.join("deps/rmetaAb3xYz/full.rmeta");
        std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
        std::fs::write(&leftover, "").unwrap();
        let building = std::fs::File::create(release.join(".cargo-lock")).unwrap();
        building.lock().unwrap();
        discard(&dirs, &["sgone".to_owned()]);
        for path in outputs("sgone") {
            assert!(!path.exists(), "{} is left", path.display());
        }
        for path in outputs("skept") {
            assert!(path.exists(), "{} is gone", path.display());
        }
        assert!(leftover.exists(), "removed during a build");
        drop(building);
        discard(&dirs, &[]);
        assert!(!leftover.exists(), "left after the build");
        assert!(
            release
                .join("deps")
                .join(format!("{}.wasm", package_name("skept")))
                .exists()
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
