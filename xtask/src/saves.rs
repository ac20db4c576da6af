//! Noticing the student's saves for `watch`, on every system, through `notify` (inotify,
//! FSEvents, ReadDirectoryChangesW; polling where none of them can watch the folder).
//!
//! The folder is watched, not each file: an editor that saves by writing a new file and
//! renaming it over the old one (vim, many IDEs) replaces the file a per-file watch would hold.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecursiveMode, Watcher};

/// How long a burst of events is gathered into one save (an editor writes, renames and
/// touches within a millisecond or two). Short, because it is part of every save's wait for
/// its verdict: a burst that outlasts it costs a second grade, never a wrong screen, as
/// `watch` grades again before showing anything when a save came in meanwhile.
const SETTLE: Duration = Duration::from_millis(2);

/// How often the fallback looks at the files.
const POLL: Duration = Duration::from_millis(250);

/// A watch on a crate's `src/` folder.
pub struct Saves {
    _watcher: Box<dyn Watcher>,
    events: Receiver<notify::Result<Event>>,
}

impl Saves {
    /// Starts watching `src` and everything under it.
    pub fn watch(src: &Path) -> notify::Result<Saves> {
        let (tx, events) = channel();
        let native = notify::recommended_watcher(tx.clone()).and_then(|mut w| {
            w.watch(src, RecursiveMode::Recursive)?;
            Ok(Box::new(w) as Box<dyn Watcher>)
        });
        let watcher = match native {
            Ok(watcher) => watcher,
            // Out of inotify watches, or a file system that reports nothing (some network
            // and container mounts): look every `POLL` instead.
            Err(_) => {
                let config = notify::Config::default().with_poll_interval(POLL);
                let mut poll = notify::PollWatcher::new(tx, config)?;
                poll.watch(src, RecursiveMode::Recursive)?;
                Box::new(poll)
            }
        };
        Ok(Saves {
            _watcher: watcher,
            events,
        })
    }

    /// Waits until a Rust source file changes (written, created, removed or renamed), then for
    /// the burst of events around it to settle. Returns `false` when `timeout` passes first.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(event)) if is_a_save(&event) => break,
                // An error from the watcher (a queue overflow) may hide a save.
                Ok(Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
        while self.events.recv_timeout(SETTLE).is_ok() {}
        true
    }
}

impl Saves {
    /// Whether a save came in since the last [`Saves::wait`] (or the watch began), without
    /// waiting; the events are used up.
    pub fn saved_since(&self) -> bool {
        let mut saved = false;
        while let Ok(event) = self.events.try_recv() {
            saved |= event.map_or(true, |e| is_a_save(&e));
        }
        saved
    }
}

/// Whether `event` changed a `.rs` file: an editor's swap and backup files (`.lib.rs.swp`,
/// `lib.rs~`, `4913`) and a mere read do not count; a rename onto `lib.rs` does.
fn is_a_save(event: &Event) -> bool {
    !matches!(event.kind, EventKind::Access(_))
        && event
            .paths
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "rs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("saves-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        std::fs::write(dir.join("lib.rs"), "// first\n").unwrap();
        dir
    }

    #[test]
    fn a_save_in_place_is_noticed() {
        let dir = src("in-place");
        let saves = Saves::watch(&dir).unwrap();
        assert!(
            !saves.wait(Duration::from_millis(300)),
            "nothing changed yet"
        );
        std::fs::write(dir.join("nested/mod.rs"), "// saved\n").unwrap();
        assert!(saves.wait(Duration::from_secs(10)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// As vim does: the new text goes to another file, which is renamed over the old one.
    #[test]
    fn a_save_by_rename_is_noticed_and_swap_files_are_not() {
        let dir = src("rename");
        let saves = Saves::watch(&dir).unwrap();
        std::fs::write(dir.join(".lib.rs.swp"), "swap").unwrap();
        std::fs::write(dir.join("4913"), "").unwrap();
        assert!(
            !saves.wait(Duration::from_millis(500)),
            "only swap files changed"
        );
        std::fs::write(dir.join("lib.rs.new"), "// second\n").unwrap();
        std::fs::rename(dir.join("lib.rs.new"), dir.join("lib.rs")).unwrap();
        assert!(saves.wait(Duration::from_secs(10)));
        // The watch outlives the replaced file: the next save is noticed too.
        std::fs::write(dir.join("lib.rs.new"), "// third\n").unwrap();
        std::fs::rename(dir.join("lib.rs.new"), dir.join("lib.rs")).unwrap();
        assert!(saves.wait(Duration::from_secs(10)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
