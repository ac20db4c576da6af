//! A batch resolves its dependencies online once for a set of manifests; the next batch with the
//! same manifests starts from that lock file and needs no registry.

use std::path::{Path, PathBuf};

use common::batch;

mod common;

fn fresh(name: &str) -> PathBuf {
    common::fresh("resolution", name)
}

#[test]
fn a_second_batch_with_the_same_dependencies_needs_no_registry() {
    if let Err(why) = grader::sandbox::Confinement::detect() {
        // Only a sandboxed batch resolves its dependencies itself.
        assert!(
            std::env::var_os("CI").is_none() || !cfg!(target_os = "linux"),
            "CI needs the sandbox: {why}"
        );
        eprintln!("the sandbox is missing ({why}): not tested");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let subs = fresh("subs");
    std::fs::create_dir_all(subs.join("good/src")).unwrap();
    std::fs::copy(
        root.join("xtask/tests/hostile/good/src/lib.rs"),
        subs.join("good/src/lib.rs"),
    )
    .unwrap();
    let first = batch(&subs, &fresh("first")).output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // Every request to a registry now fails at once: only the first batch's resolution can
    // let this one build.
    let second = batch(&subs, &fresh("second"))
        .env("CARGO_HTTP_PROXY", "http://127.0.0.1:9")
        .env("CARGO_NET_RETRY", "0")
        .output()
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    for dir in ["subs", "first", "second"] {
        let _ = std::fs::remove_dir_all(fresh(dir));
    }
}
