//! Intake: what the grader takes from an untrusted submission, before anything builds it.
//!
//! Only regular files under `src/` whose names end in `.rs` are taken, UTF-8, within size and
//! count caps. Symlinks, `..` and absolute paths, non-UTF-8 names or contents, and oversized
//! trees are refused with a verdict. A submitted `Cargo.toml`, `Cargo.lock`, `build.rs`,
//! `.cargo/` or `rust-toolchain*` is ignored (the grader writes its own manifest), and the
//! report says so. A submission is a folder or a `.tar`/`.tar.gz`/`.tgz` archive.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// Caps on what one submission may contain.
#[derive(Debug, Clone)]
pub struct Caps {
    /// Source files taken.
    pub files: usize,
    /// Bytes in one file.
    pub file_bytes: u64,
    /// Bytes in all files taken.
    pub total_bytes: u64,
    /// Entries (files, folders, anything) looked at before giving up.
    pub entries: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            files: 64,
            file_bytes: 256 * 1024,
            total_bytes: 1024 * 1024,
            entries: 2_000,
        }
    }
}

/// The files taken from a submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// Paths relative to `src/`, sorted, with their contents.
    pub files: Vec<(PathBuf, String)>,
    /// What was present but ignored, for the report.
    pub ignored: Vec<String>,
}

impl Intake {
    /// A hash of exactly what will be built: the key that says "already graded".
    pub fn hash(&self) -> String {
        let paths: Vec<String> = self
            .files
            .iter()
            .map(|(p, _)| crate::paths::slashed(p))
            .collect();
        digest(
            paths
                .iter()
                .zip(&self.files)
                .flat_map(|(path, (_, content))| [path.as_str(), content.as_str()]),
        )
    }
}

/// SHA-256, in hex, of the parts, each prefixed by its length so no two lists of parts collide.
pub fn digest<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut sha = Sha256::new();
    for part in parts {
        sha.update((part.len() as u64).to_le_bytes());
        sha.update(part.as_bytes());
    }
    crate::engine::hex(&sha.finalize())
}

/// Why a submission was refused, in words for the student.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

const IGNORED: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    ".cargo",
    "rust-toolchain",
    "rust-toolchain.toml",
];

/// One entry of a submission, from a folder or an archive.
struct Entry {
    path: PathBuf,
    kind: Kind,
    size: u64,
}

enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Takes a submission: a folder, or a `.tar`, `.tar.gz` or `.tgz` archive. `root_hint` names a
/// folder inside it that holds `src/` (e.g. an exercise's folder in a clone of the course),
/// used when `src/` is not at the top.
pub fn take(path: &Path, subdir: Option<&Path>, caps: &Caps) -> Result<Intake, Refusal> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Refusal(format!("`{name}` cannot be read: {e}")))?;
    if meta.file_type().is_symlink() {
        return Err(Refusal(format!(
            "`{name}` is a symlink; submit a folder or an archive"
        )));
    }
    let mut files: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
    if meta.is_dir() {
        walk(path, Path::new(""), caps, &mut files)?;
    } else if !meta.is_file() {
        // A FIFO or a device named like an archive would block or never end.
        return Err(Refusal(format!(
            "`{name}` is neither a folder nor a regular file"
        )));
    } else if name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        read_tar(path, name.ends_with(".tar"), caps, &mut files)?;
    } else {
        return Err(Refusal(format!(
            "`{name}` is neither a folder nor a `.tar`/`.tar.gz` archive"
        )));
    }
    // Where `src/` is: at the top, under the given sub-folder, or under the archive's one
    // top-level folder.
    let prefixes: Vec<PathBuf> = match subdir {
        Some(sub) => vec![sub.to_path_buf(), PathBuf::new()],
        None => vec![PathBuf::new()],
    };
    let single_top = {
        let tops: std::collections::BTreeSet<_> = files
            .iter()
            .filter_map(|(e, _)| e.path.components().next().map(|c| c.as_os_str().to_owned()))
            .collect();
        (tops.len() == 1).then(|| PathBuf::from(tops.into_iter().next().expect("one")))
    };
    let mut candidates: Vec<PathBuf> = prefixes.clone();
    if let Some(top) = single_top {
        candidates.extend(prefixes.iter().map(|p| top.join(p)));
    }
    let base = candidates
        .into_iter()
        .find(|c| files.iter().any(|(e, _)| e.path.starts_with(c.join("src"))))
        .ok_or_else(|| Refusal("no `src/` folder found in the submission".into()))?;
    let src = base.join("src");
    let mut taken = Vec::new();
    let mut ignored = Vec::new();
    let mut total = 0u64;
    for (entry, content) in files {
        let rel_to_base = entry
            .path
            .strip_prefix(&base)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| entry.path.clone());
        let first = rel_to_base
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if let Some(first) = &first
            && IGNORED.contains(&first.as_str())
            && !ignored.contains(first)
        {
            ignored.push(first.clone());
        }
        let Ok(rel) = entry.path.strip_prefix(&src) else {
            continue;
        };
        let shown = format!("src/{}", crate::paths::slashed(rel));
        match entry.kind {
            Kind::Symlink => {
                return Err(Refusal(format!(
                    "`{shown}` is a symlink; only regular files are accepted"
                )));
            }
            Kind::Other => return Err(Refusal(format!("`{shown}` is not a regular file"))),
            Kind::Dir => continue,
            Kind::File => {}
        }
        if rel.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        if entry.size > caps.file_bytes {
            return Err(Refusal(format!(
                "`{shown}` is {} bytes; a source file may have at most {}",
                entry.size, caps.file_bytes
            )));
        }
        total += entry.size;
        if total > caps.total_bytes {
            return Err(Refusal(format!(
                "the sources add up to more than {} bytes",
                caps.total_bytes
            )));
        }
        if taken.len() >= caps.files {
            return Err(Refusal(format!(
                "more than {} source files under `src/`",
                caps.files
            )));
        }
        let bytes = match content {
            Some(bytes) => bytes,
            None => std::fs::read(path.join(&entry.path))
                .map_err(|e| Refusal(format!("`{shown}` cannot be read: {e}")))?,
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| Refusal(format!("`{shown}` is not UTF-8 text")))?;
        taken.push((rel.to_path_buf(), text));
    }
    if !taken.iter().any(|(p, _)| p == Path::new("lib.rs")) {
        return Err(Refusal("the submission has no `src/lib.rs`".into()));
    }
    taken.sort();
    // An archive can name a path twice, or as a file and as a folder (`src/lib.rs` and
    // `src/lib.rs/x.rs`); no folder could hold that.
    for pair in taken.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1].0);
        if a == b || b.starts_with(a) {
            return Err(Refusal(format!(
                "`src/{}` appears more than once, or as both a file and a folder",
                a.display()
            )));
        }
    }
    ignored.sort();
    Ok(Intake {
        files: taken,
        ignored,
    })
}

/// A relative path with only normal components and a UTF-8 name.
fn clean(path: &Path) -> Result<PathBuf, Refusal> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => {
                let part = part.to_str().ok_or_else(|| {
                    Refusal(format!(
                        "a file name in `{}` is not UTF-8",
                        path.to_string_lossy()
                    ))
                })?;
                out.push(part);
            }
            Component::CurDir => {}
            _ => {
                return Err(Refusal(format!(
                    "`{}` leaves the submission (`..` or an absolute path)",
                    path.to_string_lossy()
                )));
            }
        }
    }
    Ok(out)
}

fn walk(
    root: &Path,
    rel: &Path,
    caps: &Caps,
    out: &mut Vec<(Entry, Option<Vec<u8>>)>,
) -> Result<(), Refusal> {
    let dir = root.join(rel);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| Refusal(format!("`{}` cannot be read: {e}", rel.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| Refusal(e.to_string()))?;
        if out.len() >= caps.entries {
            return Err(Refusal(format!(
                "the submission has more than {} files and folders",
                caps.entries
            )));
        }
        let name = entry.file_name();
        let path = clean(&rel.join(&name))?;
        let meta = entry.metadata().map_err(|e| Refusal(e.to_string()))?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let is_dir = matches!(kind, Kind::Dir);
        // `.git` and build output are never sources; skipping them keeps the entry cap for what matters.
        let skip = is_dir && (name == ".git" || name == "target");
        out.push((
            Entry {
                path: path.clone(),
                kind,
                size: meta.len(),
            },
            None,
        ));
        if is_dir && !skip {
            walk(root, &path, caps, out)?;
        }
    }
    Ok(())
}

fn read_tar(
    path: &Path,
    plain: bool,
    caps: &Caps,
    out: &mut Vec<(Entry, Option<Vec<u8>>)>,
) -> Result<(), Refusal> {
    let file = std::fs::File::open(path)
        .map_err(|e| Refusal(format!("the archive cannot be read: {e}")))?;
    let reader: Box<dyn Read> = if plain {
        Box::new(file)
    } else {
        Box::new(flate2::read::GzDecoder::new(file))
    };
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| Refusal(format!("not a readable tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Refusal(format!("not a readable tar archive: {e}")))?;
        if out.len() >= caps.entries {
            return Err(Refusal(format!(
                "the archive has more than {} entries",
                caps.entries
            )));
        }
        let raw = entry
            .path()
            .map_err(|e| Refusal(format!("an archive entry has a bad name: {e}")))?
            .into_owned();
        let path = clean(&raw)?;
        let ty = entry.header().entry_type();
        let kind = if ty.is_symlink() || ty.is_hard_link() {
            Kind::Symlink
        } else if ty.is_dir() {
            Kind::Dir
        } else if ty.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let size = entry.header().size().unwrap_or(u64::MAX);
        let in_src = path.components().any(|c| c.as_os_str() == "src");
        let content = if matches!(kind, Kind::File) && in_src && size <= caps.file_bytes {
            let mut buf = Vec::new();
            (&mut entry)
                .take(caps.file_bytes + 1)
                .read_to_end(&mut buf)
                .map_err(|e| Refusal(e.to_string()))?;
            Some(buf)
        } else {
            Some(Vec::new())
        };
        out.push((Entry { path, kind, size }, content));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("intake-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, content) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        dir
    }

    #[test]
    fn takes_sources_and_notes_what_it_ignores() {
        let dir = tree(
            "ok",
            &[
                ("src/lib.rs", b"pub fn f() {}"),
                ("src/a/b.rs", b"// b"),
                ("src/notes.txt", b"x"),
                ("build.rs", b"fn main(){}"),
                ("Cargo.toml", b"[package]"),
            ],
        );
        let intake = take(&dir, None, &Caps::default()).unwrap();
        let paths: Vec<_> = intake
            .files
            .iter()
            .map(|(p, _)| crate::paths::slashed(p))
            .collect();
        assert_eq!(paths, vec!["a/b.rs", "lib.rs"]);
        assert_eq!(intake.ignored, vec!["Cargo.toml", "build.rs"]);
        assert_eq!(
            intake.hash(),
            take(&dir, None, &Caps::default()).unwrap().hash()
        );
    }

    #[test]
    fn refuses_symlinks_non_utf8_and_oversized_trees() {
        // Making a symlink on Windows needs a privilege a test cannot count on.
        #[cfg(unix)]
        {
            let dir = tree("link", &[("src/lib.rs", b"")]);
            std::os::unix::fs::symlink("/etc/hostname", dir.join("src/secret.rs")).unwrap();
            assert!(
                take(&dir, None, &Caps::default())
                    .unwrap_err()
                    .0
                    .contains("symlink")
            );
        }
        let dir = tree("utf8", &[("src/lib.rs", b"\xff\xfe")]);
        assert!(
            take(&dir, None, &Caps::default())
                .unwrap_err()
                .0
                .contains("not UTF-8")
        );
        let dir = tree("big", &[("src/lib.rs", &[b'a'; 300 * 1024])]);
        assert!(
            take(&dir, None, &Caps::default())
                .unwrap_err()
                .0
                .contains("at most")
        );
        let dir = tree("none", &[("lib.rs", b"")]);
        assert!(
            take(&dir, None, &Caps::default())
                .unwrap_err()
                .0
                .contains("no `src/`")
        );
    }

    #[test]
    fn refuses_paths_that_leave_the_submission() {
        assert!(clean(Path::new("src/../../etc/passwd")).is_err());
        assert!(clean(Path::new("/etc/passwd")).is_err());
        assert_eq!(
            clean(Path::new("./src/lib.rs")).unwrap(),
            PathBuf::from("src/lib.rs")
        );
    }
}
