//! A batch killed with `kill -9` in the middle and started again resumes: it grades only what
//! the journal lacks, and every submission ends up in the journal exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn fresh(name: &str) -> PathBuf {
    let dir = common::fresh("kill", name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn journal_lines(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn grade(subs: &Path, out: &Path) -> Command {
    let mut c = common::batch(subs, out);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

#[test]
fn a_batch_killed_mid_run_resumes_without_regrading_or_duplicating() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let slow =
        std::fs::read_to_string(root.join("xtask/tests/hostile/infinite-loop/src/lib.rs")).unwrap();
    let subs = fresh("subs");
    let out = fresh("out");
    // Each runs out of fuel in three scenarios: slow enough to be killed in the middle.
    const COUNT: usize = 16;
    for i in 0..COUNT {
        let dir = subs.join(format!("student-{i:02}/src"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lib.rs"), format!("{slow}\n// student {i}\n")).unwrap();
    }
    let mut first = grade(&subs, &out).spawn().unwrap();
    let started = Instant::now();
    while journal_lines(&out).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no verdict within ten minutes"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the batch ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let before = journal_lines(&out).len();
    assert!(before < COUNT, "the kill came too late to test a resume");

    let second = grade(&subs, &out).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    // What the first run journaled (less a line it may have cut short) is reused.
    let graded_again: usize = stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("graded ")
                .and_then(|r| r.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no summary line in:\n{stderr}"));
    assert!(
        graded_again <= COUNT - before + 1 && graded_again >= COUNT - before,
        "{graded_again} graded again after {before} of {COUNT}"
    );
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in journal_lines(&out) {
        // A checksum, a space, the JSON.
        let (_, json) = line.split_once(' ').expect("a checksummed line");
        let entry: serde_json::Value =
            serde_json::from_str(json).expect("every journal line is whole");
        *seen
            .entry(entry["submission"].as_str().unwrap().to_owned())
            .or_default() += 1;
        assert_eq!(
            entry["report"]["preflight"].as_array().map(Vec::len),
            Some(2),
            "graded, not refused"
        );
    }
    assert_eq!(seen.len(), COUNT);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}
