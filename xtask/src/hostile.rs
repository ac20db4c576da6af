//! The hostile suite: bad submissions and bad inputs, each with the verdict it must get.
//!
//! `xtask/tests/hostile/expected.toml` lists every case. Committed folders there are the
//! submissions; the cases that cannot be committed (ten thousand files, non-UTF-8 names,
//! archives, paths to this machine's hidden tests) are made here. The batch is graded against
//! chapter 21's first exercise with hidden tests and a secret in the environment; every verdict
//! must match, the hidden tests must stay unreadable, and a second run must reuse the journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{BatchArgs, Entry, grade_all};
use crate::course;

#[derive(Debug, Deserialize)]
struct Case {
    verdict: String,
    #[allow(dead_code, reason = "documents the case for a reader of expected.toml")]
    what: String,
}

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hostile-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The submissions that are made rather than committed.
fn make_generated(
    subs: &Path,
    hidden: &Path,
    home_secret: &Path,
    secrets: &[(&str, PathBuf)],
    good: &str,
) {
    use std::os::unix::ffi::OsStrExt;
    std::os::unix::fs::symlink("/etc", subs.join("src-is-a-symlink-target")).unwrap();
    std::fs::create_dir_all(subs.join("src-is-a-symlink")).unwrap();
    std::fs::remove_file(subs.join("src-is-a-symlink-target")).unwrap();
    std::os::unix::fs::symlink("/etc", subs.join("src-is-a-symlink/src")).unwrap();
    write(
        &subs.join("huge-file/src/lib.rs"),
        format!("{good}\n// {}\n", "x".repeat(2 << 20)),
    );
    for i in 0..10_000 {
        write(
            &subs.join(format!("ten-thousand-files/src/gen/f{i}.rs")),
            "",
        );
    }
    write(&subs.join("ten-thousand-files/src/lib.rs"), good);
    write(
        &subs.join("non-utf8-source/src/lib.rs"),
        [good.as_bytes(), b"\n// \xff\xfe\n"].concat(),
    );
    write(&subs.join("non-utf8-name/src/lib.rs"), good);
    let name = std::ffi::OsStr::from_bytes(b"\xffname.rs");
    write(&subs.join("non-utf8-name/src").join(name), "");
    write(&subs.join("no-src/lib.rs"), good);
    // Archives.
    let tar_gz = |path: &Path, entries: &[(&str, Option<&str>, &[u8])]| {
        let file = std::fs::File::create(path).unwrap();
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, link, data) in entries {
            let mut header = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_cksum();
                    tar.append_link(&mut header, name, target).unwrap();
                }
                None => {
                    header.set_size(data.len() as u64);
                    header.set_mode(0o644);
                    // `append_data` refuses `..`; write the raw name as a hostile archiver would.
                    let bytes = name.as_bytes();
                    header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
                    header.set_cksum();
                    tar.append(&header, *data).unwrap();
                }
            }
        }
        tar.into_inner().unwrap().finish().unwrap();
    };
    tar_gz(
        &subs.join("archive-good.tar.gz"),
        &[("archive-good/src/lib.rs", None, good.as_bytes())],
    );
    tar_gz(
        &subs.join("archive-escape.tar.gz"),
        &[
            ("src/lib.rs", None, good.as_bytes()),
            ("src/../../escape.rs", None, b""),
        ],
    );
    tar_gz(
        &subs.join("archive-symlink.tar.gz"),
        &[
            ("src/lib.rs", None, good.as_bytes()),
            ("src/secret.rs", Some("/etc/passwd"), b""),
        ],
    );
    // Attempts on the hidden tests and on another student's code, by absolute path.
    let hidden_file = hidden.join("01-copy-in-copy-out.toml");
    let other = subs.join("good/src/lib.rs");
    let include = |what: &Path| {
        format!(
            "const STOLEN: &str = include_str!({:?});\n{good}\n#[allow(dead_code)]\nfn leak() -> usize {{ STOLEN.len() }}\n",
            what.display().to_string()
        )
    };
    write(
        &subs.join("hidden-include/src/lib.rs"),
        include(&hidden_file),
    );
    write(&subs.join("other-student/src/lib.rs"), include(&other));
    write(&subs.join("home-secret/src/lib.rs"), include(home_secret));
    write(
        &subs.join("deep-parens/src/lib.rs"),
        format!(
            "{good}\n#[allow(dead_code)]\nfn deep() -> u32 {{ {}1{} }}\n",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
    );
    // `/proc/1` was the grader when it ran as PID 1 (a container): its root and working
    // directory reach every file it can.
    write(
        &subs.join("proc-root/src/lib.rs"),
        format!(
            "const A: &str = include_str!({:?});\nconst B: &str = include_str!(\"/proc/1/cwd/Cargo.toml\");\n{good}\n#[allow(dead_code)]\nfn leak() -> usize {{ A.len() + B.len() }}\n",
            format!("/proc/1/root{}", hidden_file.display())
        ),
    );
    write(
        &subs.join("include-hidden-as-code/src/lib.rs"),
        format!(
            "{good}\ninclude!({:?});\n",
            hidden_file.display().to_string()
        ),
    );
    for (name, path) in secrets {
        write(&subs.join(name).join("src/lib.rs"), include(path));
    }
    tar_gz(
        &subs.join("both-file-and-folder.tar.gz"),
        &[
            ("src/lib.rs", None, good.as_bytes()),
            ("src/lib.rs/x.rs", None, b""),
        ],
    );
    assert!(
        std::process::Command::new("mkfifo")
            .arg(subs.join("fifo.tar"))
            .status()
            .unwrap()
            .success()
    );
    for name in [
        "spaced name",
        "spaced_name",
        "dup",
        "forged\n::error::all tests passed",
    ] {
        write(&subs.join(name).join("src/lib.rs"), good);
    }
    tar_gz(
        &subs.join("dup.tar.gz"),
        &[("src/lib.rs", None, good.as_bytes())],
    );
    write(
        &subs.join("hidden-include-macro/src/lib.rs"),
        format!(
            "macro_rules! grab {{ ($p:expr) => {{ include_str!($p) }} }}\nconst STOLEN: &str = grab!({:?});\n{good}\n#[allow(dead_code)]\nfn leak() -> usize {{ STOLEN.len() }}\n",
            hidden_file.display().to_string()
        ),
    );
}

#[test]
fn every_hostile_submission_gets_its_verdict_and_secrets_stay_secret() {
    let root = course::root();
    let suite = root.join("xtask/tests/hostile");
    let cases: BTreeMap<String, Case> =
        toml::from_str(&std::fs::read_to_string(suite.join("expected.toml")).unwrap()).unwrap();
    assert!(cases.len() >= 30, "the suite has {} cases", cases.len());
    let subs = fresh("subs");
    let hidden = fresh("hidden");
    let out = fresh("out");
    for entry in std::fs::read_dir(&suite).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &subs.join(entry.file_name()));
        }
    }
    let good = std::fs::read_to_string(suite.join("good/src/lib.rs")).unwrap();
    write(
        &hidden.join("01-copy-in-copy-out.toml"),
        "# hunter2 in the hidden tests\n[[scenario]]\nname = \"a secret test\"\nsteps = [{ call = \"checksum\", args = [[1, 2, 3]], expect = 6 }]\n",
    );
    // A home folder with a secret in it: the builds must not see it. The toolchain keeps its
    // own folders, wherever the real home is.
    let home = fresh("home");
    let home_secret = home.join(".config/token");
    write(&home_secret, "hunter2");
    // Secrets beside the grader's executable, in the checkout's git configuration, in this
    // batch's journal and in the course's solutions: each a case that tries to include it.
    let beside = std::env::current_exe()
        .unwrap()
        .with_file_name(format!("hostile-secret-{}", std::process::id()));
    write(&beside, "hunter2 beside the grader");
    let git_dir = std::process::Command::new("git")
        .args(["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .current_dir(&root)
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|d| d.join("config").is_file())
        .unwrap_or_else(|| root.join(".git"));
    let git_config = std::fs::read_to_string(git_dir.join("config")).unwrap_or_default();
    let secrets = [
        ("beside-grader", beside.clone()),
        ("git-config", git_dir.join("config")),
        ("journal", out.join("journal.jsonl")),
        (
            "solution",
            root.join("exercises/21-wasm-memory/01-copy-in-copy-out/solution/lib.rs"),
        ),
    ];
    make_generated(&subs, &hidden, &home_secret, &secrets, &good);
    let real_home = PathBuf::from(std::env::var_os("HOME").unwrap());
    for (var, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
        let value = std::env::var_os(var).map_or_else(|| real_home.join(default), PathBuf::from);
        // SAFETY: set once, to the value every reader already resolves it to.
        unsafe { std::env::set_var(var, value) };
    }
    // SAFETY: only this test's builds read these two variables.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("GRADER_SECRET", "hunter2 in the environment");
    }
    let isolated = match grader::sandbox::Confinement::detect() {
        Ok(_) => true,
        Err(why) if std::env::var_os("CI").is_some() && cfg!(target_os = "linux") => {
            panic!("CI needs the sandbox: {why}")
        }
        Err(why) => {
            eprintln!("the sandbox is missing ({why}): only the refusal of `--hidden` is tested");
            false
        }
    };
    let mut cases = cases;
    if !isolated {
        // Without the sandbox the grader refuses `--hidden` outright, and files outside the
        // submission stay readable: those cases cannot hold. The environment is still
        // cleared, so the environment cases do.
        let args = BatchArgs {
            submissions: Some(subs.clone()),
            hidden: Some(hidden.clone()),
            out: fresh("refused-out"),
            partition: None,
            jobs: Some(1),
            build_timeout: 20,
        };
        let err = grade_all(&root, Some("01-copy-in-copy-out"), &args).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot keep `--hidden` secret"),
            "{err:#}"
        );
        for name in [
            "other-student",
            "home-secret",
            "hidden-include",
            "hidden-include-macro",
            "proc-root",
            "proc-environ",
            "beside-grader",
            "git-config",
            "journal",
            "include-hidden-as-code",
            "solution",
            "include-dev-zero",
            "gigabyte-static",
            "macro-bomb",
            "deep-parens",
        ] {
            cases.remove(name);
            let _ = std::fs::remove_dir_all(subs.join(name));
        }
    }
    let args = BatchArgs {
        submissions: Some(subs.clone()),
        hidden: isolated.then(|| hidden.clone()),
        out: out.clone(),
        partition: None,
        jobs: Some(2),
        build_timeout: 40,
    };
    let first = grade_all(&root, Some("01-copy-in-copy-out"), &args).unwrap();
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    let (entries, damaged) = super::read_lines(journal.as_bytes());
    assert!(damaged.is_empty(), "damaged journal lines {damaged:?}");
    let got: BTreeMap<&str, &Entry> = entries.iter().map(|e| (e.submission.as_str(), e)).collect();
    let mut wrong = Vec::new();
    for (name, case) in &cases {
        match got.get(name.as_str()) {
            None => wrong.push(format!("{name}: not graded")),
            Some(e) if e.report.verdict().name() != case.verdict => wrong.push(format!(
                "{name}: expected {}, got {}\n{}",
                case.verdict,
                e.report.verdict().name(),
                e.report.render(grader::Render {
                    color: false,
                    show_hidden: true
                })
            )),
            Some(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        entries.len(),
        cases.len(),
        "one journal line per submission"
    );
    // Nothing a student reads holds the secret, the hidden test's name, or raw escapes.
    let results =
        std::fs::read_to_string(out.join("submissions/fake-test-result/results.json")).unwrap();
    assert!(!results.contains('\x1b'));
    for e in &entries {
        let text = e.report.render(grader::Render {
            color: false,
            show_hidden: false,
        });
        assert!(
            !text.contains("hunter2") && !text.contains("a secret test") && !text.contains('\x1b'),
            "{}: {text}",
            e.submission
        );
    }
    // Every file the batch wrote: no secret from beside the grader, its environment, its home
    // folder, the checkout's git configuration or the hidden tests; outside the journal (the
    // instructors' own record), not even a hidden test's name.
    let mut files = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    assert!(files.len() > cases.len(), "{files:?}");
    let git_secret = git_config
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 12 && !l.starts_with('['))
        .unwrap_or("repositoryformatversion")
        .to_owned();
    for file in &files {
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        let name = file.display();
        assert!(!text.contains("hunter2"), "{name} holds a secret");
        assert!(
            !text.contains(&git_secret),
            "{name} holds the git configuration"
        );
        if !name.to_string().ends_with("journal.jsonl") {
            assert!(
                !text.contains("a secret test"),
                "{name} names a hidden test"
            );
        }
        // No line an Actions runner would read as a workflow command.
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{name} holds a workflow command"
        );
    }
    // Names that differ by a space or an archive suffix keep results of their own.
    let folders: Vec<String> = std::fs::read_dir(out.join("submissions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), cases.len(), "{folders:?}");
    assert!(
        folders
            .iter()
            .all(|f| !f.contains('\n') && !f.contains(' '))
    );
    let _ = std::fs::remove_file(&beside);
    // The hidden scenario ran: the good submission has one more scenario than the exercise.
    let own = crate::course::load(&root.join("exercises/21-wasm-memory/01-copy-in-copy-out"))
        .unwrap()
        .scenario
        .len();
    assert_eq!(
        got["good"].report.scenarios.len(),
        if isolated { own + 1 } else { own }
    );
    assert_eq!(first.code, crate::EXIT_FAIL);
    // A second run reuses every verdict and writes the same journal.
    let second = grade_all(&root, Some("01-copy-in-copy-out"), &args).unwrap();
    assert_eq!((second.graded, second.reused), (0, cases.len()));
    assert_eq!(
        std::fs::read_to_string(out.join("journal.jsonl")).unwrap(),
        journal
    );
}

#[test]
fn a_read_only_results_folder_is_a_clear_harness_error() {
    let root = course::root();
    let subs = fresh("ro-subs");
    let out = fresh("ro-out");
    write(
        &subs.join("a/src/lib.rs"),
        std::fs::read_to_string(root.join("xtask/tests/hostile/good/src/lib.rs")).unwrap(),
    );
    // A file where the results folder must go: no permission trick needed, even as root.
    write(&out.join("submissions"), "not a folder");
    let args = BatchArgs {
        submissions: Some(subs),
        hidden: None,
        out: out.clone(),
        partition: None,
        jobs: Some(1),
        build_timeout: 60,
    };
    let err = grade_all(&root, Some("01-copy-in-copy-out"), &args).unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot write results"),
        "{err:#}"
    );
    // The verdict itself was journaled before the results failed.
    assert_eq!(
        std::fs::read_to_string(out.join("journal.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn a_malformed_hidden_tests_file_names_its_line_and_column() {
    let root = course::root();
    let subs = fresh("bad-hidden-subs");
    let hidden = fresh("bad-hidden");
    write(
        &hidden.join("01-copy-in-copy-out.toml"),
        "[[scenario]]\nname = \"x\"\nsteps = [{ call = \"checksum\", args = [[1]] expect = 1 }]\n",
    );
    let args = BatchArgs {
        submissions: Some(subs),
        hidden: Some(hidden),
        out: fresh("bad-hidden-out"),
        partition: None,
        jobs: Some(1),
        build_timeout: 60,
    };
    let err = grade_all(&root, Some("01-copy-in-copy-out"), &args).unwrap_err();
    assert!(
        format!("{err:#}").contains("01-copy-in-copy-out.toml:3:"),
        "{err:#}"
    );
}
