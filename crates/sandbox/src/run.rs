//! Waiting for a sandboxed command: a wall-clock limit, capped output, and the whole process
//! tree killed when either is exceeded.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ProcessTree;

/// How long a command may run and how much it may print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Wall-clock time from start to exit.
    pub time: Duration,
    /// Bytes kept of stdout and of stderr each; printing more ends the command.
    pub output_bytes: usize,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit status, `None` when the command was killed at a limit.
    pub status: Option<ExitStatus>,
    /// It was still running at the time limit.
    pub timed_out: bool,
    /// It printed more than the output limit.
    pub output_exceeded: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    /// It ran to the end and exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// How often the limits are checked while the command runs.
const TICK: Duration = Duration::from_millis(20);
/// How long output is still read once the command's tree is gone (pipes close at once when
/// nothing inside holds them; this bounds the wait if something outside the tree does).
const DRAIN: Duration = Duration::from_millis(500);

/// Runs `command` with no input as a [`ProcessTree`], collecting its output, and kills the whole
/// tree at the time limit or when it prints more than the output limit. With a
/// sandboxed command (see [`crate::Confinement::command`]), killing `bwrap` ends the sandbox's
/// PID namespace and so every process inside, wherever it moved its process group.
pub fn run(mut command: Command, limits: OutputLimits) -> std::io::Result<Finished> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ProcessTree::spawn(command)?;
    let exceeded = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    for (which, pipe) in [
        (
            0,
            child
                .take_stdout()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            1,
            child
                .take_stderr()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let (tx, exceeded) = (tx.clone(), exceeded.clone());
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(pipe) = pipe {
                let cap = limits.output_bytes as u64;
                let _ = pipe.take(cap + 1).read_to_end(&mut kept);
                if kept.len() as u64 > cap {
                    kept.truncate(limits.output_bytes);
                    exceeded.store(true, Ordering::Relaxed);
                }
            }
            let _ = tx.send((which, kept));
        });
    }
    drop(tx);
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.wait_timeout(TICK)? {
            break Some(status);
        }
        timed_out = started.elapsed() >= limits.time;
        if timed_out || exceeded.load(Ordering::Relaxed) {
            child.kill();
            break None;
        }
    };
    // The command is gone; whatever inside still held its pipes went with the namespace.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + DRAIN;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((0, out)) => stdout = out,
            Ok((_, err)) => stderr = err,
            Err(_) => break,
        }
    }
    Ok(Finished {
        status,
        timed_out,
        output_exceeded: exceeded.load(Ordering::Relaxed),
        stdout,
        stderr,
    })
}
