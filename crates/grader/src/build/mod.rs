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

mod batch;
mod cargo;
mod diagnostics;
mod direct;
mod staging;

pub use batch::{Batch, Member, build_batch, discard, write_batch};
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
    use super::batch::{registry_packages, unprefixed};
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

    /// Whether `done` comes true within 20 s, tried every 20 ms: for a lock this test has just
    /// released, of which a process another test starts in this moment holds a copy until it
    /// execs.
    pub(super) fn eventually(mut done: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if done() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
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
        // The leftover goes at the first call that finds the lock free.
        let gone = eventually(|| {
            discard(&dirs, &[]);
            !leftover.exists()
        });
        assert!(gone, "left after the build");
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
