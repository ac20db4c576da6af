//! The build step: compile a student's `src/` to `wasm32-unknown-unknown` inside a crate the
//! grader owns, and turn compiler errors into a verdict.
//!
//! The grader writes the crate's `Cargo.toml` itself (pinned wasm-bindgen, the guest support
//! crate with `grading` on, one fixed profile, so fuel counts are the same on every machine)
//! and copies only `.rs` files from the student's `src/`, keeping unchanged files untouched so
//! cargo's incremental build stays warm. One shared target directory means wasm-bindgen and
//! friends compile once.

use std::io::{BufRead, BufReader, Read};
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

/// Where staged crates and their shared target directory live.
#[derive(Debug, Clone)]
pub struct BuildDirs {
    /// Parent of the staged crates, one folder per slot.
    pub staging: PathBuf,
    /// The one target directory every staged crate builds into.
    pub target: PathBuf,
    /// The guest support crate (`crates/course-guest`).
    pub guest_crate: PathBuf,
    /// Longest a build may take.
    pub timeout: Duration,
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

/// Builds `src_dir` (a student's `src/`) in staging slot `slot`.
pub fn build(
    dirs: &BuildDirs,
    slot: &str,
    src_dir: &Path,
    profile: Profile,
) -> Result<Result<Built, Failure>, HarnessError> {
    ensure_target()?;
    let crate_dir = dirs.staging.join(slot);
    let name = package_name(slot);
    stage(dirs, &crate_dir, &name, src_dir)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--target",
            TARGET,
            "--message-format=json",
            "--profile",
        ])
        .arg(match profile {
            Profile::Grading => "release",
            Profile::Lines => "grading-lines",
        })
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &dirs.target)
        .env("CARGO_TERM_COLOR", "never")
        // The student crate is built by the grader's fixed profile, not by a caller's flags.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| HarnessError::Cargo(format!("could not start cargo: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || parse_messages(BufReader::new(stdout)));
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.by_ref().take(1 << 20).read_to_string(&mut s);
        s
    });
    let status = match child
        .wait_timeout(dirs.timeout)
        .map_err(|e| HarnessError::Cargo(e.to_string()))?
    {
        Some(status) => Some(status),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    let messages = reader.join().expect("reader thread");
    let stderr = err_reader.join().expect("stderr thread");
    let Some(status) = status else {
        return Ok(Err(Failure::new(
            Verdict::CompileError,
            format!("the build did not finish within {} s", dirs.timeout.as_secs()),
        )
        .hint("a `const` evaluation or macro expansion that never ends keeps the compiler busy forever")));
    };
    if !messages.errors.is_empty() {
        return Ok(Err(compile_failure(&messages.errors)));
    }
    if !status.success() {
        let tail: Vec<&str> = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(HarnessError::Cargo(format!(
            "cargo failed without a compiler error:\n{}",
            tail.join("\n")
        )));
    }
    let wasm_path = messages
        .artifact
        .ok_or_else(|| HarnessError::Cargo("cargo reported no `.wasm` artifact".into()))?;
    let wasm = std::fs::read(&wasm_path).map_err(|e| HarnessError::io(&wasm_path, e))?;
    Ok(Ok(Built {
        wasm,
        source_root: crate_dir,
        fresh: messages.fresh,
    }))
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

/// The line appended to the student's `lib.rs` so the guest support crate is linked in. It goes
/// at the end, so the student's line numbers are unchanged.
const LINK_GUEST: &str = "\nextern crate course_guest as _;\n";

fn manifest(name: &str, guest: &Path) -> String {
    let guest = guest.display().to_string().replace('\\', "/");
    format!(
        r#"# Written by the grader: the student's own Cargo.toml is not used.
[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]
path = "src/lib.rs"

[dependencies]
wasm-bindgen = "{WASM_BINDGEN_VERSION}"
course-guest = {{ path = "{guest}", features = ["grading"] }}

# One fixed profile: fuel budgets depend on the optimisation level, so it must be the same on
# every machine. No debug info, so std's DWARF is stripped and linking stays fast; incremental
# keeps re-grades fast.
[profile.release]
opt-level = 2
debug = false
incremental = true
debug-assertions = false
overflow-checks = false

# The same code with line tables, built only to find the source line of a leak.
[profile.grading-lines]
inherits = "release"
debug = "line-tables-only"
strip = "none"

[workspace]
"#
    )
}

fn stage(
    dirs: &BuildDirs,
    crate_dir: &Path,
    name: &str,
    src_dir: &Path,
) -> Result<(), HarnessError> {
    let staged_src = crate_dir.join("src");
    std::fs::create_dir_all(&staged_src).map_err(|e| HarnessError::io(&staged_src, e))?;
    write_if_changed(
        &crate_dir.join("Cargo.toml"),
        manifest(name, &dirs.guest_crate).as_bytes(),
    )?;
    let mut wanted = Vec::new();
    collect_rs(src_dir, src_dir, &mut wanted).map_err(|e| HarnessError::io(src_dir, e))?;
    let mut keep = std::collections::BTreeSet::new();
    for rel in &wanted {
        let mut content = std::fs::read(src_dir.join(rel))
            .map_err(|e| HarnessError::io(&src_dir.join(rel), e))?;
        if rel == Path::new("lib.rs") {
            content.extend_from_slice(LINK_GUEST.as_bytes());
        }
        write_if_changed(&staged_src.join(rel), &content)?;
        keep.insert(rel.clone());
    }
    // Files the student deleted must disappear from the staged copy too.
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
    errors: Vec<CompilerError>,
    artifact: Option<PathBuf>,
    fresh: bool,
}

#[derive(Debug, Clone)]
struct CompilerError {
    message: String,
    location: Option<String>,
    rendered: String,
}

fn parse_messages(reader: impl BufRead) -> Messages {
    let mut out = Messages {
        fresh: true,
        ..Messages::default()
    };
    for line in reader.lines().map_while(Result::ok) {
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
                out.errors.push(CompilerError {
                    message: m["message"].as_str().unwrap_or("").to_owned(),
                    location,
                    rendered: m["rendered"].as_str().unwrap_or("").to_owned(),
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
                    out.artifact = Some(PathBuf::from(wasm));
                }
            }
            _ => {}
        }
    }
    out
}

fn compile_failure(errors: &[CompilerError]) -> Failure {
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
    let mut f = Failure::new(
        Verdict::CompileError,
        format!("your code does not compile: {}", first.message),
    )
    .hint("fix the first error first: later ones are often caused by it");
    if let Some(loc) = &first.location {
        f = f.at(loc.clone());
    }
    for e in shown.iter().take(ERRORS_SHOWN) {
        let mut text = e.rendered.trim_end().to_owned();
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
    if shown.len() > ERRORS_SHOWN {
        f = f.detail(format!("… and {} more errors", shown.len() - ERRORS_SHOWN));
    }
    f
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
        let m = parse_messages(json.as_bytes());
        assert_eq!(m.errors.len(), 2);
        let f = compile_failure(&m.errors);
        assert_eq!(f.verdict, Verdict::CompileError);
        assert_eq!(f.location.as_deref(), Some("src/lib.rs:3:5"));
        assert!(f.message.contains("cannot find value `x`"));
        assert_eq!(f.details.len(), 1);
    }

    #[test]
    fn package_names_are_unique_and_valid() {
        assert_eq!(
            package_name("21-wasm-memory/03-f64"),
            "submission_21_wasm_memory_03_f64"
        );
    }
}
