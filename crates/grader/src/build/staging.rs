//! What the grader writes for a build: the student's crate (their `src/` under a manifest of
//! the grader's, with one line appended to `lib.rs` that links the guest crate), the pinned
//! dependencies and the fixed profiles.

use super::*;

/// A package name unique per slot, so builds of different slots in the one target directory
/// never share an output file.
pub fn package_name(slot: &str) -> String {
    let clean: String = slot
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("submission_{clean}")
}

/// What the grader appends to the student's `src/lib.rs`: the line that links its support
/// crate (the counting allocator, panic and log capture) into the module. Appended, not
/// prepended, so every line of the student's file keeps its number.
///
/// An outer attribute left dangling at the end of the student's file (`#[cfg(any())]`) would
/// attach to the next item: it attaches to the guard constant, which the link line's neighbour
/// needs, so the file fails to compile as rustc fails it anyway ("expected item after
/// attributes"), and the link line itself is never switched off. A module that still ends up
/// without the allocator is caught by the accounting check (`accounting::verify`).
pub(super) const GUEST_LINK: &str = "\n// Added by the grader: links its support crate.\nconst __WASM_COURSE_LINK: () = ();\nextern crate course_guest as _;\nconst _: () = __WASM_COURSE_LINK;\n";

/// The guard constant's name, which a compiler error about it names.
pub(super) const GUEST_LINK_GUARD: &str = "__WASM_COURSE_LINK";

/// Lines from the student's last line to the one that needs the guard.
pub(super) const GUEST_LINK_GUARD_USE: usize = 5;

/// The batch workspace's member that holds only the dependencies.
pub(super) const DEPS_PACKAGE: &str = "batch_dependencies";

/// A crate the grader writes a manifest for.
pub(super) enum Manifest<'a> {
    /// A submission, by its package name: a `cdylib`, the module to grade.
    Submission(&'a str),
    /// A batch's dependency member: the same dependencies and features as a submission (so
    /// cargo compiles them once for all), but a plain library with nothing to link.
    Dependencies,
}

pub(super) fn crate_manifest(kind: Manifest<'_>, guest: &Path) -> String {
    let (name, about, crate_type) = match kind {
        Manifest::Submission(name) => (
            name,
            "the student's own Cargo.toml is not used",
            "crate-type = [\"cdylib\"]\n",
        ),
        Manifest::Dependencies => (
            DEPS_PACKAGE,
            "the dependencies every submission of the batch builds with",
            "",
        ),
    };
    let guest = guest.display().to_string().replace('\\', "/");
    format!(
        r#"# Written by the grader: {about}.
[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
{crate_type}path = "src/lib.rs"

[dependencies]
{TEMPLATE_DEPENDENCIES}course-guest = {{ path = "{guest}", features = ["grading"] }}

{TEMPLATE_FEATURES}"#
    )
}

/// What every student crate may use, pinned: the exercise template's `Cargo.toml` lists the
/// same (a test keeps them equal). They compile once, in the shared target directory.
pub const TEMPLATE_DEPENDENCIES: &str = r#"wasm-bindgen = "=0.2.130"
js-sys = "=0.3.107"
wasm-bindgen-futures = "=0.4.80"
web-sys = { version = "=0.3.107", features = ["console"] }
console_error_panic_hook = { version = "=0.1.7", optional = true }
fixedbitset = "=0.4.2"
cfg-if = "=1.0.0"
"#;

/// As in the Rust and WebAssembly book's template: the panic hook is on unless turned off.
pub const TEMPLATE_FEATURES: &str = r#"[features]
default = ["console_error_panic_hook"]
"#;

/// One fixed profile: fuel budgets depend on the optimisation level, so it must be the same on
/// every machine. No debug info, so std's DWARF is stripped and linking stays fast; incremental
/// keeps re-grades fast. `grading-lines` is the same code with line tables: a batch builds
/// with it, and a student's crate is built with it again only to find the source line of a
/// leak.
pub(super) const PROFILES: &str = r#"
[profile.release]
opt-level = 2
debug = false
incremental = true
debug-assertions = false
overflow-checks = false

[profile.grading-lines]
inherits = "release"
debug = "line-tables-only"
strip = "none"
"#;

/// Writes the taken files into `crate_dir/src`, touching only files whose content changed (so
/// cargo's incremental build stays warm) and removing files the student deleted.
pub(super) fn stage(crate_dir: &Path, files: &[(PathBuf, String)]) -> Result<(), HarnessError> {
    let staged_src = crate_dir.join("src");
    std::fs::create_dir_all(&staged_src).map_err(|e| HarnessError::io(&staged_src, e))?;
    let mut keep = std::collections::BTreeSet::new();
    for (rel, content) in files {
        if rel == Path::new("lib.rs") {
            let newline = if content.ends_with('\n') { "" } else { "\n" };
            let linked = format!("{content}{newline}{GUEST_LINK}");
            write_if_changed(&staged_src.join(rel), linked.as_bytes())?;
        } else {
            write_if_changed(&staged_src.join(rel), content.as_bytes())?;
        }
        keep.insert(rel.clone());
    }
    let mut staged = Vec::new();
    collect_rs(&staged_src, &staged_src, &mut staged)
        .map_err(|e| HarnessError::io(&staged_src, e))?;
    for rel in staged.iter().filter(|r| !keep.contains(*r)) {
        let _ = std::fs::remove_file(staged_src.join(rel));
    }
    Ok(())
}

/// `.rs` files under `dir`, relative to `root`. Symlinks are not followed.
pub(super) fn collect_rs(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let ty = entry.file_type()?;
        let path = entry.path();
        if ty.is_dir() {
            collect_rs(root, &path, out)?;
        } else if ty.is_file() && path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        }
    }
    out.sort();
    Ok(())
}

pub(super) fn write_if_changed(path: &Path, content: &[u8]) -> Result<(), HarnessError> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| HarnessError::io(dir, e))?;
    }
    std::fs::write(path, content).map_err(|e| HarnessError::io(path, e))
}
