//! Re-grades without cargo: once cargo has built a slot, the grader runs the very rustc
//! command cargo ran for the student's crate, as long as nothing else it depends on changed.
//!
//! A warm `cargo build` of one small crate spends about a third of its time in cargo itself
//! (reading manifests and the lock file, checking every dependency's fingerprint) before rustc
//! starts. Between two saves of a student's file, the only input that changed is the student's
//! source, which rustc reads itself.
//!
//! How the command is learned: cargo runs the student's crate (its only workspace member)
//! through `RUSTC_WORKSPACE_WRAPPER`, which is the grading program itself (see
//! [`record_if_asked`]): it writes down the program, arguments, environment and folder, then
//! runs rustc. After cargo succeeds, the grader stamps every input beside the source: the
//! rustc program, each `--extern` library, the manifest and lock file, and the files of the
//! guest crate. The next build runs the command directly only if every stamp still matches;
//! otherwise, or if rustc ends without a compiler error to show, it is cargo's turn again.
//!
//! Only for a student's own crate on their own machine: sandboxed and cleared-environment
//! builds (batches of untrusted submissions) always go through cargo. Of the environment, only
//! what cargo sets for rustc is recorded ([`REPLAYED`]): no token or secret of the caller's
//! environment is written to disk.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::*;

/// Set by the grader for cargo's wrapper run: where to write the command down.
const RECORD_TO: &str = "WASM_COURSE_RECORD_RUSTC";
/// Set with it: the crate whose command is wanted.
const RECORD_CRATE: &str = "WASM_COURSE_RECORD_CRATE";

/// The variables cargo sets for rustc, which are recorded and set again when the command is
/// replayed; the rest of the environment is the grader's own at that time, as cargo's would
/// be. Nothing else of the environment (tokens, secrets) is written to disk.
const REPLAYED: [&str; 11] = [
    "CARGO",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
    // Where the proc macros' libraries are found.
    "LD_LIBRARY_PATH",
    "DYLD_FALLBACK_LIBRARY_PATH",
    "PATH",
];

fn replayed(name: &str) -> bool {
    REPLAYED.contains(&name) || name.starts_with("CARGO_PKG_")
}

/// One rustc command as cargo ran it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Invocation {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

/// An invocation and the state of everything it read besides the student's sources.
#[derive(Debug, Serialize, Deserialize)]
struct Recorded {
    invocation: Invocation,
    stamps: Vec<Stamp>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Stamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok();
    Stamp {
        path: path.to_path_buf(),
        len: meta.as_ref().map_or(u64::MAX, |m| m.len()),
        modified: meta.and_then(|m| m.modified().ok()),
    }
}

/// The program that records commands: set by [`record_if_asked`], whose caller promised to
/// call it first thing in `main` (a test binary never does, so its graders always use cargo).
static RECORDER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The recorder for this process's graders, if its `main` calls [`record_if_asked`].
pub fn recorder() -> Option<PathBuf> {
    RECORDER.get().cloned()
}

/// The wrapper's side: when this process was started by cargo as the recording wrapper, write
/// the command down, run rustc, and return its exit code (the caller exits with it). `None`
/// when the process was not started that way; the program is then this process's recorder.
/// Call it first thing in `main`.
pub fn record_if_asked() -> Option<i32> {
    let Some(to) = std::env::var_os(RECORD_TO) else {
        if let Ok(exe) = std::env::current_exe() {
            let _ = RECORDER.set(exe);
        }
        return None;
    };
    let mut args = std::env::args_os().skip(1);
    let program = PathBuf::from(args.next()?);
    let args: Vec<std::ffi::OsString> = args.collect();
    let wanted = std::env::var(RECORD_CRATE).unwrap_or_default();
    let text: Option<Vec<String>> = args.iter().map(|a| a.to_str().map(String::from)).collect();
    if let Some(text) = text
        && text
            .windows(2)
            .any(|w| w[0] == "--crate-name" && w[1] == wanted)
    {
        let invocation = Invocation {
            program: program.clone(),
            args: text,
            env: std::env::vars().filter(|(k, _)| replayed(k)).collect(),
            cwd: std::env::current_dir().unwrap_or_default(),
        };
        if let Ok(json) = serde_json::to_vec(&invocation) {
            let _ = crate::engine::write_atomically(Path::new(&to), &json);
        }
    }
    let status = Command::new(&program)
        .args(&args)
        .env_remove(RECORD_TO)
        .env_remove(RECORD_CRATE)
        .status();
    Some(match status {
        Ok(s) => s.code().unwrap_or(101),
        Err(e) => {
            eprintln!("error: could not run `{}`: {e}", program.display());
            101
        }
    })
}

/// Where a slot's raw invocation (written by the wrapper) and its stamped record live.
fn raw_path(crate_dir: &Path) -> PathBuf {
    crate_dir.join(".rustc-command.json")
}
fn record_path(crate_dir: &Path) -> PathBuf {
    crate_dir.join(".rustc-command-stamped.json")
}

/// The variables that make cargo record the student crate's rustc command.
pub(super) fn recording_env(
    recorder: &Path,
    crate_dir: &Path,
    name: &str,
) -> Vec<(String, std::ffi::OsString)> {
    let _ = std::fs::remove_file(raw_path(crate_dir));
    vec![
        ("RUSTC_WORKSPACE_WRAPPER".into(), recorder.into()),
        (RECORD_TO.into(), raw_path(crate_dir).into()),
        (RECORD_CRATE.into(), name.into()),
    ]
}

/// Everything besides the student's sources that the command reads.
fn inputs(invocation: &Invocation, crate_dir: &Path, guest: &Path) -> Vec<PathBuf> {
    let mut out = vec![
        invocation.program.clone(),
        crate_dir.join("Cargo.toml"),
        crate_dir.join("Cargo.lock"),
    ];
    for pair in invocation.args.windows(2) {
        if pair[0] == "--extern"
            && let Some((_, path)) = pair[1].split_once('=')
        {
            out.push(PathBuf::from(path));
        }
    }
    let mut guest_files = Vec::new();
    let _ = collect_rs(guest, &guest.join("src"), &mut guest_files);
    out.push(guest.join("Cargo.toml"));
    out.extend(guest_files.into_iter().map(|f| guest.join(f)));
    out
}

/// After cargo built the slot: stamps what the wrapper wrote down, for the next build.
pub(super) fn remember(crate_dir: &Path, guest: &Path) {
    let Some(invocation) = std::fs::read(raw_path(crate_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<Invocation>(&b).ok())
    else {
        // cargo found the crate fresh and did not run rustc: the stamped record, if any, is
        // still what it was.
        return;
    };
    let stamps = inputs(&invocation, crate_dir, guest)
        .iter()
        .map(|p| stamp(p))
        .collect();
    let recorded = Recorded { invocation, stamps };
    if let Ok(json) = serde_json::to_vec(&recorded) {
        let _ = crate::engine::write_atomically(&record_path(crate_dir), &json);
    }
    let _ = std::fs::remove_file(raw_path(crate_dir));
}

/// Forgets a slot's command: cargo builds it next.
pub(super) fn forget(crate_dir: &Path) {
    let _ = std::fs::remove_file(record_path(crate_dir));
}

/// The build, run directly, when every input is as stamped; `None` when cargo must build.
pub(super) fn try_build(
    crate_dir: &Path,
    name: &str,
    limit: Duration,
) -> Result<Option<CargoRun>, HarnessError> {
    let Some(recorded) = std::fs::read(record_path(crate_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<Recorded>(&b).ok())
    else {
        return Ok(None);
    };
    if recorded.stamps.iter().any(|s| stamp(&s.path) != *s) {
        forget(crate_dir);
        return Ok(None);
    }
    let inv = &recorded.invocation;
    // cargo's lock on the profile's folder, held while rustc writes there: a cargo (or
    // another grader) building the same folder waits, and this build waits for theirs, as
    // cargo would.
    let Some(lock) = profile_lock(inv) else {
        return Ok(None);
    };
    let mut command = Command::new(&inv.program);
    command
        .args(&inv.args)
        // As `run_cargo` runs cargo: the caller's flags never reach the submission's build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = ::sandbox::ProcessTree::spawn(command)
        .map_err(|e| HarnessError::Cargo(format!("could not start rustc: {e}")))?;
    let stderr = child.take_stderr().expect("piped");
    let crate_name = name.to_owned();
    let reader = std::thread::spawn(move || parse_rustc(BufReader::new(stderr), &crate_name));
    let status = child
        .wait_timeout(limit)
        .map_err(|e| HarnessError::Cargo(e.to_string()))?;
    if status.is_none() {
        child.kill();
    }
    let (messages, stderr) = reader.join().expect("reader thread");
    drop(lock);
    let run = CargoRun {
        status,
        messages,
        stderr,
    };
    match run.status {
        // A build that ran out of time is the submission's (a `const` that never finishes).
        None => Ok(Some(run)),
        Some(s) if s.success() && run.messages.artifacts.contains_key(name) => Ok(Some(run)),
        // The student's compile errors.
        Some(_) if run.messages.errors.contains_key(name) => Ok(Some(run)),
        // Anything else (a library rebuilt under the same name, a crash) is cargo's to judge.
        Some(_) => {
            forget(crate_dir);
            Ok(None)
        }
    }
}

/// cargo's lock on the folder the command writes to (`<target>/<triple>/<profile>/.cargo-lock`),
/// once whoever holds it lets go. `None` when it cannot be taken at all.
fn profile_lock(inv: &Invocation) -> Option<std::fs::File> {
    let out_dir = inv
        .args
        .windows(2)
        .find(|w| w[0] == "--out-dir")
        .map(|w| PathBuf::from(&w[1]))?;
    let lock = out_dir.parent()?.join(".cargo-lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock)
        .ok()?;
    file.lock().ok()?;
    Some(file)
}

/// rustc's own JSON lines (`--error-format=json --json=artifacts`), read as cargo's would be.
fn parse_rustc(reader: impl BufRead, name: &str) -> (Messages, String) {
    // Each line in the shape cargo wraps it in, so one reader (and its caps) serves both.
    let mut as_cargo = String::new();
    let mut other = String::new();
    for line in reader.lines().map_while(Result::ok) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            if other.len() < 1 << 20 {
                other.push_str(&line);
                other.push('\n');
            }
            continue;
        };
        let wrapped = match msg["$message_type"].as_str() {
            Some("artifact") => serde_json::json!({
                "reason": "compiler-artifact",
                "target": { "name": name },
                "filenames": [msg["artifact"]],
                "fresh": false,
            }),
            Some("diagnostic") => serde_json::json!({
                "reason": "compiler-message",
                "target": { "name": name },
                "message": msg,
            }),
            _ => continue,
        };
        as_cargo.push_str(&wrapped.to_string());
        as_cargo.push('\n');
    }
    (
        parse_messages(std::io::Cursor::new(as_cargo), || {}, |_, _, _| {}),
        other,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_cargo_sets_for_rustc_is_recorded() {
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
            "LD_LIBRARY_PATH",
            "PATH",
        ] {
            assert!(replayed(name), "{name}");
        }
        for name in [
            "CARGO_REGISTRY_TOKEN",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "CARGO_MAKEFLAGS",
            "HOME",
        ] {
            assert!(!replayed(name), "{name}");
        }
    }

    #[test]
    fn rustcs_lines_read_as_cargos() {
        let lines = concat!(
            r#"{"$message_type":"diagnostic","message":"cannot find value `x` in this scope","level":"error","spans":[{"file_name":"src/lib.rs","line_start":3,"column_start":5,"is_primary":true}],"rendered":"error[E0425]: cannot find value `x`\n"}"#,
            "\n",
            r#"{"$message_type":"diagnostic","message":"unused variable","level":"warning","spans":[],"rendered":"warning"}"#,
            "\n",
            r#"{"$message_type":"artifact","artifact":"/t/deps/s.d","emit":"dep-info"}"#,
            "\n",
            r#"{"$message_type":"artifact","artifact":"/t/deps/s.wasm","emit":"link"}"#,
            "\n",
            "not json\n",
        );
        let (messages, other) = parse_rustc(std::io::Cursor::new(lines), "s");
        let errors = &messages.errors["s"];
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location.as_deref(), Some("src/lib.rs:3:5"));
        assert_eq!(messages.artifacts["s"], PathBuf::from("/t/deps/s.wasm"));
        assert_eq!(other, "not json\n");
    }

    #[test]
    fn a_changed_input_sends_the_build_back_to_cargo() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libdep.rlib");
        std::fs::write(&lib, b"one").unwrap();
        let recorded = Recorded {
            invocation: Invocation {
                program: PathBuf::from("/nonexistent/rustc"),
                args: vec![
                    "--out-dir".into(),
                    dir.path().join("deps").display().to_string(),
                ],
                env: vec![],
                cwd: dir.path().to_path_buf(),
            },
            stamps: vec![stamp(&lib)],
        };
        std::fs::write(
            record_path(dir.path()),
            serde_json::to_vec(&recorded).unwrap(),
        )
        .unwrap();
        std::fs::write(&lib, b"longer").unwrap();
        let run = try_build(dir.path(), "s", Duration::from_secs(5)).unwrap();
        assert!(run.is_none());
        assert!(!record_path(dir.path()).exists(), "the record is forgotten");
    }

    #[test]
    fn the_build_waits_for_cargos_lock_on_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let inv = Invocation {
            program: PathBuf::from("rustc"),
            args: vec![
                "--out-dir".into(),
                dir.path().join("deps").display().to_string(),
            ],
            env: vec![],
            cwd: dir.path().to_path_buf(),
        };
        let held = profile_lock(&inv).expect("the lock is free");
        let other = std::fs::File::open(dir.path().join(".cargo-lock")).unwrap();
        assert!(
            other.try_lock().is_err(),
            "cargo could take the folder meanwhile"
        );
        drop(held);
        assert!(
            crate::build::tests::eventually(|| other.try_lock().is_ok()),
            "the lock outlives the build"
        );
    }
}
