//! Keeps `ARCHITECTURE.md` true: every repository path it names exists, and every module of the
//! crates and of `xtask` is named in its code map.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// Every `code span` of the text.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_repository_path_in_the_architecture_exists() {
    let text = architecture();
    let roots = [
        "crates/",
        "xtask/",
        "exercises/",
        "quizzes/",
        "docs/",
        ".ci/",
    ];
    let missing: Vec<&str> = code_spans(&text)
        .into_iter()
        // Patterns (`<verdict>`, `*.rs`) describe many paths, not one.
        .filter(|p| roots.iter().any(|r| p.starts_with(r)) && !p.contains(['<', '*', ' ']))
        .filter(|p| !root().join(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn every_module_is_in_the_code_map() {
    let text = architecture();
    let spans = code_spans(&text);
    let mut files = Vec::new();
    for dir in [
        "crates/grader/src",
        "crates/quiz/src",
        "crates/quiz-web/src",
        "crates/browser/src",
        "crates/sandbox/src",
        "crates/course-guest/src",
        "crates/mutants/src",
        "xtask/src",
    ] {
        collect(&root().join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let stem = f.file_stem()?.to_str()?;
            // Crate roots and folder modules are named by their crate or folder; test modules
            // are not part of the map.
            if ["lib", "main", "mod", "tests"].contains(&stem) {
                return None;
            }
            let file = format!("{stem}.rs");
            let named = spans
                .iter()
                .any(|s| *s == stem || *s == file || s.ends_with(&format!("/{file}")));
            (!named).then(|| f.strip_prefix(root()).unwrap_or(f).display().to_string())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "modules missing from ARCHITECTURE.md's code map: {missing:?}"
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
