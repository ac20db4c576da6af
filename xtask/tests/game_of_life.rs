//! A class's Game of Life submissions (`xtask/tests/game-of-life/`), graded in one batch: each
//! student gets the score and the verdict their mistake deserves in the gradebook.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

fn fresh(name: &str) -> PathBuf {
    common::fresh("gol", name)
}

/// Each submission and what it must get: (earned, possible, percent, verdict), as the gradebook
/// writes them.
const EXPECTED: &[(&str, &str, &str, &str, &str)] = &[
    // A scratch grid kept in the struct, edges wrapped with comparisons.
    ("ada-scratch-buffer", "12", "12", "100.0", "pass"),
    // Every scenario but the four without a tick panics: `row - 1` at row 0 indexes far past
    // the grid.
    ("alan-wrap-panic", "4", "12", "33.3", "panic"),
    // Adds a `Cell` to a `u8`.
    ("barbara-type-error", "0", "12", "0.0", "compile-error"),
    // Four bytes per cell: even the starting pattern reads wrong; only a grid of dead cells
    // read from its start looks right.
    ("dennis-u32-cells", "1", "12", "8.3", "wrong-result"),
    // Plain bytes, `rem_euclid` and a fresh next generation per tick, copied back and dropped.
    ("grace-bit-rules", "12", "12", "100.0", "pass"),
    // No wrap-around: the edge blinker, the 200-tick glider, the 64×64 run and the hidden
    // corner glider fail.
    ("hedy-edges-skipped", "8", "12", "66.7", "wrong-result"),
    // The book's `self.cells = next`: only the page's cached view notices.
    ("ken-replaces-grid", "11", "12", "91.7", "use-after-free"),
    // A `Box::leak`ed generation per tick: every scenario that ticks leaks.
    ("linus-leaks-ticks", "4", "12", "33.3", "leak"),
    // Swaps two grids: a view kept across one tick shows the previous generation.
    ("margaret-swaps-buffers", "11", "12", "91.7", "wrong-result"),
];

const EXERCISE: &str = "22-game-of-life/01-universe";

#[test]
fn the_game_of_life_class_gets_the_grades_its_mistakes_deserve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let submissions = root.join("xtask/tests/game-of-life");
    let out = fresh("out");
    let run = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["grade", EXERCISE, "--submissions"])
        .arg(&submissions)
        .arg("--out")
        .arg(&out)
        .env("CI", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Some submissions fail, so the batch exits with 1 (2 would be the harness's failure).
    assert_eq!(run.status.code(), Some(1), "{stderr}");

    let csv = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next(),
        Some("submission,exercise,earned,possible,percent,verdict")
    );
    let rows: BTreeMap<&str, Vec<&str>> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), 6, "{l}");
            assert_eq!(cells[1], EXERCISE, "{l}");
            (cells[0], cells[2..].to_vec())
        })
        .collect();
    let expected: BTreeMap<&str, Vec<&str>> = EXPECTED
        .iter()
        .map(|(name, earned, possible, percent, verdict)| {
            (*name, vec![*earned, *possible, *percent, *verdict])
        })
        .collect();
    // One row per folder: nothing missing, nothing extra, nothing graded twice.
    let folders: Vec<String> = std::fs::read_dir(&submissions)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), EXPECTED.len(), "{folders:?}");
    assert_eq!(rows.len(), EXPECTED.len(), "{csv}");
    assert_eq!(csv.matches(EXERCISE).count(), EXPECTED.len(), "{csv}");
    let mismatches: Vec<String> = expected
        .iter()
        .filter(|(name, want)| rows.get(*name) != Some(want))
        .map(|(name, want)| format!("{name}: expected {want:?}, got {:?}", rows.get(name)))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{}\n\ngradebook:\n{csv}\n{stderr}",
        mismatches.join("\n")
    );
    // A leak's source line comes from the module the batch built, with line tables: the
    // report names the line that allocates each leaked generation.
    let leaks =
        std::fs::read_to_string(out.join("submissions/linus-leaks-ticks/junit.xml")).unwrap();
    let source = std::fs::read_to_string(submissions.join("linus-leaks-ticks/src/lib.rs")).unwrap();
    let line = source
        .lines()
        .position(|l| l.contains("Box::leak("))
        .expect("the leaking line")
        + 1;
    assert!(
        leaks.contains(&format!("src/lib.rs:{line}")),
        "the leak is not located at src/lib.rs:{line}:\n{leaks}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
