//! Running cargo for the grader: arguments, a sandbox or a cleared environment, the time
//! limit on the whole process tree, and cargo's JSON messages read into artifacts and compiler
//! errors.

use super::*;

/// What cargo prints on stderr while another cargo holds a lock it needs.
pub(super) const LOCK_WAIT: &str = "Blocking waiting for file lock";

/// How long a wait for another cargo's lock is not counted as a build's time.
pub(super) const LOCK_PATIENCE: Duration = Duration::from_secs(30 * 60);

/// The grader's variables an unsandboxed build with `clear_env` keeps: what finds the
/// toolchain and its caches.
pub(super) const TOOLCHAIN_ENV: [&str; 8] = [
    "PATH",
    "HOME",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "TMPDIR",
    "LANG",
];

pub(super) fn cargo_args(profile: Profile, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "build",
        "--target",
        TARGET,
        "--message-format=json",
        "--profile",
    ]
    .map(String::from)
    .to_vec();
    args.push(profile.name().into());
    args.extend(extra.iter().cloned());
    args
}

pub(super) struct CargoRun {
    /// `None` when the time limit ended it.
    pub(super) status: Option<std::process::ExitStatus>,
    pub(super) messages: Messages,
    pub(super) stderr: String,
}

/// Runs cargo in `dir`, inside the sandbox when `isolation` has one, killing the whole
/// process tree (the sandbox, or cargo and rustc) at the time limit.
pub(super) fn run_cargo(
    dir: &Path,
    target: &Path,
    args: &[String],
    isolation: &Isolation,
    limit: Duration,
) -> Result<CargoRun, HarnessError> {
    run_cargo_with(dir, target, args, isolation, limit, &[], None)
}

/// A module cargo has written: the crate's name, the `.wasm` file, and whether cargo found it
/// up to date.
pub(super) type Artifact = (String, PathBuf, bool);

/// [`run_cargo`], telling `artifacts` of each module as soon as cargo reports it, while the
/// rest still builds.
pub(super) fn run_cargo_streaming(
    dir: &Path,
    target: &Path,
    args: &[String],
    isolation: &Isolation,
    limit: Duration,
    artifacts: std::sync::mpsc::Sender<Artifact>,
) -> Result<CargoRun, HarnessError> {
    run_cargo_with(dir, target, args, isolation, limit, &[], Some(artifacts))
}

/// [`run_cargo`] with variables of the grader's own for an unsandboxed cargo.
pub(super) fn run_cargo_with(
    dir: &Path,
    target: &Path,
    args: &[String],
    isolation: &Isolation,
    limit: Duration,
    env: &[(String, std::ffi::OsString)],
    artifacts: Option<std::sync::mpsc::Sender<Artifact>>,
) -> Result<CargoRun, HarnessError> {
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
                .env_remove("CARGO_PROFILE_RELEASE_DEBUG")
                .envs(env.iter().map(|(k, v)| (k, v)));
            c
        }
        Some(sandbox) => {
            // The crate's folder is read-only once its lock file exists (a batch's workspace,
            // its dependencies locked by the grader), but for the lock file, where cargo adds
            // the workspace's own path packages; a staged crate without one has cargo write
            // it, offline.
            let (mut read_only, mut writable) = (isolation.read_only.clone(), vec![]);
            let lock = dir.join("Cargo.lock");
            if lock.is_file() {
                read_only.push(dir.to_path_buf());
                writable.push(lock);
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
        .stderr(Stdio::piped());
    let mut child = ::sandbox::ProcessTree::spawn(command)
        .map_err(|e| HarnessError::Cargo(format!("could not start cargo: {e}")))?;
    let stdout = child.take_stdout().expect("piped");
    let stderr = child.take_stderr().expect("piped");
    let started = std::time::Instant::now();
    // Set while cargo waits for another cargo's lock on the target directory (tests and a
    // grader running side by side share it): the wait is not the build's time.
    let waiting = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let unblocked = waiting.clone();
    let reader = std::thread::spawn(move || {
        parse_messages(
            BufReader::new(stdout),
            || unblocked.store(false, std::sync::atomic::Ordering::Relaxed),
            |name, wasm, fresh| {
                if let Some(to) = &artifacts {
                    // A listener that has gone only misses the early news.
                    let _ = to.send((name.to_owned(), wasm.to_path_buf(), fresh));
                }
            },
        )
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
            // The whole tree: cargo, rustc and anything they started.
            child.kill();
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

#[derive(Debug, Default)]
pub(super) struct Messages {
    /// Compiler errors by crate name.
    pub(super) errors: std::collections::BTreeMap<String, Vec<CompilerError>>,
    /// The `.wasm` written for each crate.
    pub(super) artifacts: std::collections::BTreeMap<String, PathBuf>,
    pub(super) fresh: bool,
}

#[derive(Debug, Clone)]
pub(super) struct CompilerError {
    pub(super) message: String,
    /// Errors after this one that were not kept.
    pub(super) more: usize,
    pub(super) location: Option<String>,
    pub(super) rendered: String,
    /// The folder of the crate the error is in, from cargo's package id: where the student's
    /// `src/` was staged, which the student never sees.
    pub(super) package_root: Option<String>,
}

/// The crate a message is about: `…#submission_x@0.0.0` or `…/submission_x#0.0.0` → `submission_x`.
pub(super) fn crate_of(msg: &serde_json::Value) -> String {
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

/// Reads cargo's JSON messages. `on_line` is called for every line, `on_artifact` for each
/// module as it is reported.
pub(super) fn parse_messages(
    reader: impl BufRead,
    mut on_line: impl FnMut(),
    mut on_artifact: impl FnMut(&str, &Path, bool),
) -> Messages {
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
                    let name = crate_of(&msg);
                    on_artifact(&name, Path::new(wasm), msg["fresh"] == true);
                    out.artifacts.insert(name, PathBuf::from(wasm));
                }
            }
            _ => {}
        }
    }
    out
}

/// The folder of the path package a message is about (see [`crate::paths::package_folder`]).
pub(super) fn package_root(msg: &serde_json::Value) -> Option<String> {
    crate::paths::package_folder(msg["package_id"].as_str()?)
}
