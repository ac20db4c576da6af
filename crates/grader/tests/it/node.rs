//! Running a submission's own glue under node, for the tests that compare the grader with it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{fixture, grader, slot};

/// Whether node runs here.
pub fn available() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A folder node runs `driver.mjs` in, beside the submission at `dir` as wasm-bindgen wrote it
/// (`submission.js`, `submission_bg.wasm`, the crate's own JavaScript under `snippets/`) and
/// the guest crate's module as the package `wasm_course`. `name` is the folder's name.
pub fn workspace(dir: &Path, name: &str, driver: &str) -> PathBuf {
    let (_, submission) = fixture(dir);
    let processed = grader()
        .bindgen_output(&slot(dir), &submission)
        .unwrap()
        .unwrap_or_else(|| panic!("{}: does not build", dir.display()));
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("node")
        .join(name);
    let _ = std::fs::remove_dir_all(&work);
    let stub = work.join("node_modules/wasm_course");
    std::fs::create_dir_all(&stub).unwrap();
    std::fs::write(
        stub.join("package.json"),
        r#"{"name":"wasm_course","type":"module","main":"index.js"}"#,
    )
    .unwrap();
    std::fs::write(stub.join("index.js"), grader::js::GUEST_MODULE_STUB).unwrap();
    std::fs::write(work.join("package.json"), r#"{"type":"module"}"#).unwrap();
    std::fs::write(work.join("submission.js"), &processed.js).unwrap();
    std::fs::write(work.join("submission_bg.wasm"), &processed.wasm).unwrap();
    for (specifier, source) in &processed.snippets {
        let path = work.join(specifier);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    std::fs::write(work.join("driver.mjs"), driver).unwrap();
    work
}
