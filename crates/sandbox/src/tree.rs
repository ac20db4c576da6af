//! A command and every process it starts, waited for and killed as one: a process group on
//! Unix, a job object on Windows (both through `process-wrap`).
//!
//! Killing only the command leaves what it started running: cargo's rustc, or a program a
//! sandboxed shell started. A time limit or a cancelled build must end all of them. On Unix a
//! tree's group does not get the terminal's Ctrl-C, so a program that handles it calls
//! [`ProcessTree::kill_running`] before it exits; on Windows Ctrl-C reaches every process of
//! the console, and so the tree, by itself.

use std::collections::BTreeSet;
use std::io;
use std::process::{ChildStderr, ChildStdout, Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use process_wrap::std::{ChildWrapper, CommandWrap};

/// How often [`ProcessTree::wait_timeout`] looks whether the command ended.
const POLL: Duration = Duration::from_millis(10);

/// The trees not yet reaped, by their command's process id (on Unix, their process group).
static RUNNING: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

fn running() -> std::sync::MutexGuard<'static, BTreeSet<u32>> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A started command; everything it starts belongs to it and is killed with it.
#[derive(Debug)]
pub struct ProcessTree {
    child: Box<dyn ChildWrapper>,
}

impl ProcessTree {
    /// Starts `command` as the root of a tree of its own: the leader of a new process group
    /// on Unix, in a new job object on Windows.
    pub fn spawn(command: Command) -> io::Result<ProcessTree> {
        let mut wrap = CommandWrap::from(command);
        #[cfg(unix)]
        wrap.wrap(process_wrap::std::ProcessGroup::leader());
        #[cfg(windows)]
        wrap.wrap(process_wrap::std::JobObject);
        let child = wrap.spawn()?;
        running().insert(child.id());
        Ok(ProcessTree { child })
    }

    /// Kills every tree that is still running, for a process about to exit on Ctrl-C: its
    /// builds must not go on without it.
    pub fn kill_running() {
        for id in std::mem::take(&mut *running()) {
            #[cfg(unix)]
            if let Ok(group) = libc::pid_t::try_from(id) {
                // SAFETY: a plain syscall. `id` leads a group of its own and is not reaped yet
                // (reaped trees leave `RUNNING`), so it names no other process's group.
                unsafe { libc::killpg(group, libc::SIGKILL) };
            }
            #[cfg(not(unix))]
            let _ = id;
        }
    }

    /// The command's standard output, when it was piped (once).
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout().take()
    }

    /// The command's standard error, when it was piped (once).
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr().take()
    }

    /// The command's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the command itself to exit (what it started may live on until
    /// [`ProcessTree::kill`]).
    pub fn wait_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            // The command alone: waiting for the whole group would reap processes that are
            // not this one's and lose its own status when they outlive it.
            if let Some(status) = self.child.inner_mut().try_wait()? {
                running().remove(&self.id());
                return Ok(Some(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    /// Kills the command and everything it started, and reaps the command.
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.inner_mut().wait();
        running().remove(&self.id());
    }
}

impl Drop for ProcessTree {
    /// A tree dropped while it runs is killed: nothing a caller gave up on keeps running.
    fn drop(&mut self) {
        if running().contains(&self.id()) {
            self.kill();
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::Stdio;

    /// `kill_running` kills every tree of the process: the tests take turns.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn turn() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether process `pid` still runs (a zombie waiting for its parent does not).
    fn alive(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").starts_with(" Z"))
    }

    #[test]
    fn killing_a_tree_ends_what_the_command_started() {
        let _turn = turn();
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut tree = ProcessTree::spawn(command).unwrap();
        let mut grandchild = String::new();
        std::io::BufReader::new(tree.take_stdout().unwrap())
            .read_line(&mut grandchild)
            .unwrap();
        let grandchild = grandchild.trim().to_owned();
        assert!(alive(&grandchild), "`sleep` runs before the kill");
        assert_eq!(tree.wait_timeout(Duration::from_millis(50)).unwrap(), None);
        tree.kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(&grandchild) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert!(!alive(&grandchild), "`sleep` outlived its tree");
    }

    #[test]
    fn a_cancelled_program_kills_every_running_tree() {
        let _turn = turn();
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut tree = ProcessTree::spawn(command).unwrap();
        let mut grandchild = String::new();
        std::io::BufReader::new(tree.take_stdout().unwrap())
            .read_line(&mut grandchild)
            .unwrap();
        let grandchild = grandchild.trim().to_owned();
        ProcessTree::kill_running();
        let status = tree.wait_timeout(Duration::from_secs(5)).unwrap();
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(&grandchild) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert!(!alive(&grandchild), "`sleep` outlived the cancel");
    }

    #[test]
    fn a_command_that_exits_is_waited_for_with_its_status() {
        let _turn = turn();
        let mut command = Command::new("sh");
        command.args(["-c", "exit 3"]).stdin(Stdio::null());
        let mut tree = ProcessTree::spawn(command).unwrap();
        let status = tree.wait_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(status.and_then(|s| s.code()), Some(3));
    }
}
