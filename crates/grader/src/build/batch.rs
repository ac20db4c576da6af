//! Many submissions built at once, as members of one generated workspace: the dependencies
//! resolved, fetched and built once per batch, then chunks of members built offline (in the
//! sandbox when there is one), each module handed on as soon as cargo writes it, and each
//! chunk's outputs discarded once graded.

use super::*;

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

/// One submission of a batch.
#[derive(Debug, Clone)]
pub struct Member {
    /// Unique in the batch; letters, digits, `-` and `_`.
    pub id: String,
    pub files: Vec<(PathBuf, String)>,
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
pub(super) fn registry_packages(lock: &[u8]) -> Option<BTreeSet<String>> {
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
pub(super) fn unprefixed(mut failure: Failure, prefix: &str) -> Failure {
    failure.message = failure.message.replace(prefix, "");
    failure.location = failure.location.map(|l| l.replace(prefix, ""));
    for d in &mut failure.details {
        *d = d.replace(prefix, "");
    }
    failure
}
