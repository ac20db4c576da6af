//! What the batch tests share; each test binary uses what it needs of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder of this test process's own under the system's temporary folder, emptied: `test`
/// names the test file, `name` the folder's use in it.
pub fn fresh(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{test}-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `xtask grade 01-copy-in-copy-out --jobs 1 --submissions SUBS --out OUT`: a batch of the
/// course's first exercise, one submission at a time.
pub fn batch(subs: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args([
        "grade",
        "01-copy-in-copy-out",
        "--jobs",
        "1",
        "--submissions",
    ])
    .arg(subs)
    .arg("--out")
    .arg(out);
    c
}
