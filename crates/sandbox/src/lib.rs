//! The sandbox untrusted code runs in (a submission's build, a quiz's program, compiled and run):
//! [bubblewrap](https://github.com/containers/bubblewrap) (`bwrap`), an allow-list by construction.
//!
//! A sandboxed process starts in fresh user, mount, PID, network, IPC, UTS and cgroup
//! namespaces, as an unprivileged user (uid and gid 65534) with no capabilities, a fresh
//! `/proc` whose PID 1 is the sandbox's own, no network, an empty environment but for the
//! variables the grader sets, and a file system holding only what [`View`] lists: the system's
//! `/usr` (read-only), the Rust toolchain (read-only), the registry cache (read-only), the
//! folders the build reads (read-only) and the one it writes. The grader's environment, home
//! folder, hidden tests, journal, other submissions and the repository around the build do not
//! exist in there. Resource limits ([`Limits`]) are set with `setrlimit` on `bwrap` before it
//! starts and are inherited by everything inside: bubblewrap sets none itself.
//!
//! [`run`] waits for a sandboxed command under a wall-clock limit with its output capped, and
//! kills its whole [`ProcessTree`] at the limit; the PID namespace ends everything the command
//! started when its first process ends, so no child outlives it or keeps its output open.

mod run;
mod tree;

pub use run::{Finished, OutputLimits, run};
pub use tree::ProcessTree;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the registry cache appears inside the sandbox: `CARGO_HOME` is a fresh folder there.
const CARGO_HOME: &str = "/cargo";
/// The user and group inside.
const NOBODY: &str = "65534";

/// Per-process caps inside the sandbox (`setrlimit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space of one process, in bytes (`RLIMIT_AS`): a compiler asked to read
    /// `/dev/zero` or to build a gibibyte of static data fails here.
    pub memory: u64,
    /// CPU seconds of one process (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Processes of the user (`RLIMIT_NPROC`). The kernel does not apply it to a grader
    /// running as root (the sandbox's user maps to the grader's outside); a build of a
    /// submission starts no processes of its own anyway (no build scripts, no proc macros).
    pub processes: u64,
    /// Largest file a process may write (`RLIMIT_FSIZE`).
    pub file_bytes: u64,
    /// Open files of one process (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 3 << 30,
            cpu_seconds: 300,
            processes: 512,
            file_bytes: 256 << 20,
            open_files: 1024,
        }
    }
}

/// A working bubblewrap and the toolchain to bind into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    bwrap: PathBuf,
    /// The toolchain's sysroot (`rustc --print sysroot`): `bin/cargo`, `bin/rustc`, the
    /// standard library and the wasm32 linker.
    sysroot: PathBuf,
    /// `CARGO_HOME/registry`, filled by the grader (`cargo fetch`) before anything builds.
    registry: Option<PathBuf>,
    /// Files of `/etc` shown read-only (see [`Confinement::without_accounts`]).
    etc: Vec<&'static str>,
    /// The size of the fresh `/tmp` (a `tmpfs`, so memory outside the address-space limit);
    /// `None` leaves it to the kernel's default (half the machine's memory).
    pub tmp_bytes: Option<u64>,
    pub limits: Limits,
}

/// What a build needs of `/etc`: dynamic linking, name lookups and Debian's `cc` (the host
/// linker, through `/etc/alternatives`). None is secret.
const BUILD_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
];

/// What one sandboxed command sees of the file system, and its environment.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Folders (or files) visible read-only, at the same path as outside.
    pub read_only: Vec<PathBuf>,
    /// Folders visible read-write, at the same path as outside.
    pub writable: Vec<PathBuf>,
    /// The working directory inside.
    pub cwd: PathBuf,
    /// Environment variables inside, besides the toolchain's.
    pub env: Vec<(String, String)>,
}

impl Confinement {
    /// Finds bubblewrap and checks that it can start a sandbox here. The error says what is
    /// missing and how to install it.
    pub fn detect() -> Result<Confinement, String> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        Confinement::detect_for(Path::new(&rustc))
    }

    /// [`Confinement::detect`] for the toolchain of the compiler `rustc`.
    pub fn detect_for(rustc: &Path) -> Result<Confinement, String> {
        if !cfg!(target_os = "linux") {
            return Err(format!(
                "the sandbox is bubblewrap, which needs Linux (its namespaces and `setrlimit`), \
                 and this is {}",
                std::env::consts::OS
            ));
        }
        let bwrap = find_program("bwrap").ok_or_else(|| {
            "bubblewrap (`bwrap`) is not installed; on Debian or Ubuntu: `apt-get install bubblewrap`"
                .to_owned()
        })?;
        let sysroot = Command::new(rustc)
            .args(["--print", "sysroot"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .filter(|p| p.join("bin").is_dir())
            .ok_or_else(|| {
                format!(
                    "`{} --print sysroot` did not name the toolchain's folder (is Rust installed?)",
                    rustc.display()
                )
            })?;
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
        let registry = cargo_home
            .map(|h| h.join("registry"))
            .filter(|r| r.is_dir());
        let confinement = Confinement {
            bwrap,
            sysroot,
            registry,
            etc: BUILD_ETC.to_vec(),
            tmp_bytes: None,
            limits: Limits::default(),
        };
        let probe = confinement
            .command(Path::new("/usr/bin/true"), &[], &View::default())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("bubblewrap could not be started: {e}"))?;
        if !probe.status.success() {
            return Err(format!(
                "bubblewrap cannot create a sandbox here (it needs user namespaces, or root): {}",
                String::from_utf8_lossy(&probe.stderr).trim()
            ));
        }
        Ok(confinement)
    }

    /// The same sandbox without the account files of `/etc` (`passwd`, `group`) and without the
    /// registry cache: only `/usr`, the toolchain and the view remain, for code that needs
    /// nothing but `rustc` and a linker.
    pub fn without_accounts(mut self) -> Confinement {
        self.etc
            .retain(|f| !matches!(*f, "/etc/passwd" | "/etc/group"));
        self.registry = None;
        self
    }

    /// The toolchain's `rustc`, as seen inside.
    pub fn rustc(&self) -> PathBuf {
        self.sysroot.join("bin/rustc")
    }

    /// The toolchain's `cargo`, as seen inside.
    pub fn cargo(&self) -> PathBuf {
        self.sysroot.join("bin/cargo")
    }

    /// A command running `program` with `args` in a fresh sandbox that shows only `view`.
    /// The caller adds stdio and waits; killing the returned process ends everything inside.
    pub fn command(&self, program: &Path, args: &[String], view: &View) -> Command {
        let mut c = Command::new(&self.bwrap);
        c.env_clear();
        let mut arg = |parts: &[&std::ffi::OsStr]| {
            c.args(parts);
        };
        let s = |t: &'static str| std::ffi::OsStr::new(t);
        arg(&[
            s("--unshare-all"),
            s("--unshare-user"),
            s("--uid"),
            s(NOBODY),
            s("--gid"),
            s(NOBODY),
            s("--cap-drop"),
            s("ALL"),
            s("--die-with-parent"),
            s("--new-session"),
            s("--clearenv"),
            s("--hostname"),
            s("sandbox"),
            s("--proc"),
            s("/proc"),
            s("--dev"),
            s("/dev"),
        ]);
        let tmp_size = self.tmp_bytes.map(|b| b.to_string());
        if let Some(size) = &tmp_size {
            arg(&[s("--size"), std::ffi::OsStr::new(size)]);
        }
        arg(&[
            s("--tmpfs"),
            s("/tmp"),
            s("--ro-bind"),
            s("/usr"),
            s("/usr"),
        ]);
        // Merged-/usr systems link these into `/usr`; older ones have real folders.
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            let path = Path::new(top);
            match std::fs::read_link(path) {
                Ok(target) => arg(&[s("--symlink"), target.as_os_str(), path.as_os_str()]),
                Err(_) if path.is_dir() => {
                    arg(&[s("--ro-bind"), path.as_os_str(), path.as_os_str()])
                }
                Err(_) => {}
            }
        }
        for file in &self.etc {
            if Path::new(file).exists() {
                arg(&[s("--ro-bind"), s(file), s(file)]);
            }
        }
        arg(&[
            s("--ro-bind"),
            self.sysroot.as_os_str(),
            self.sysroot.as_os_str(),
        ]);
        arg(&[s("--tmpfs"), s(CARGO_HOME)]);
        if let Some(registry) = &self.registry {
            let inside = Path::new(CARGO_HOME).join("registry");
            arg(&[s("--ro-bind"), registry.as_os_str(), inside.as_os_str()]);
        }
        for path in view.read_only.iter().filter(|p| p.exists()) {
            arg(&[s("--ro-bind"), path.as_os_str(), path.as_os_str()]);
        }
        for path in view.writable.iter().filter(|p| p.exists()) {
            arg(&[s("--bind"), path.as_os_str(), path.as_os_str()]);
        }
        let bin = self.sysroot.join("bin");
        let mut env: Vec<(String, std::ffi::OsString)> = vec![
            (
                "PATH".into(),
                format!("{}:/usr/bin:/bin", bin.display()).into(),
            ),
            ("HOME".into(), "/tmp".into()),
            ("TMPDIR".into(), "/tmp".into()),
            ("CARGO_HOME".into(), CARGO_HOME.into()),
            ("RUSTC".into(), bin.join("rustc").into_os_string()),
            ("CARGO".into(), bin.join("cargo").into_os_string()),
            ("CARGO_TERM_COLOR".into(), "never".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        env.extend(view.env.iter().map(|(k, v)| (k.clone(), v.into())));
        for (k, v) in &env {
            arg(&[s("--setenv"), std::ffi::OsStr::new(k), v]);
        }
        if !view.cwd.as_os_str().is_empty() {
            arg(&[s("--chdir"), view.cwd.as_os_str()]);
        }
        c.arg("--").arg(program).args(args);
        // Only Linux gets here: `detect_for` makes no `Confinement` elsewhere.
        #[cfg(unix)]
        {
            let limits = self.limits;
            // SAFETY: `setrlimit` is async-signal-safe and touches nothing but this (forked)
            // process.
            unsafe {
                use std::os::unix::process::CommandExt;
                c.pre_exec(move || limits.apply());
            }
        }
        c
    }
}

#[cfg(unix)]
impl Limits {
    /// Sets every limit on the calling process (meant for `pre_exec`) (both the soft and the hard value).
    pub fn apply(&self) -> std::io::Result<()> {
        let caps = [
            (libc::RLIMIT_AS, self.memory),
            (libc::RLIMIT_CPU, self.cpu_seconds),
            (libc::RLIMIT_NPROC, self.processes),
            (libc::RLIMIT_FSIZE, self.file_bytes),
            (libc::RLIMIT_NOFILE, self.open_files),
            (libc::RLIMIT_CORE, 0),
        ];
        for (resource, value) in caps {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: a plain syscall with a valid pointer to a local.
            if unsafe { libc::setrlimit(resource, &limit) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests;
