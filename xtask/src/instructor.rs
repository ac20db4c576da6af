//! The instructor's commands: `check` (every exercise proves itself) and `new` (scaffold an
//! exercise from the template).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use grader::{Grader, Render, Report, Submission};

use crate::course::{self, Exercise};
use crate::{EXIT_HARNESS, EXIT_PASS, exercises, new_grader};

/// Grades one variant (`solution/lib.rs`, `starter/lib.rs`, `broken/x.rs`) of an exercise, in a
/// private copy so the student's `src/` is never touched.
pub fn grade_variant(
    grader: &Grader,
    root: &Path,
    exercise: &Exercise,
    variant: &str,
    lib_rs: &Path,
) -> anyhow::Result<Report> {
    let dir = stage_variant(root, exercise, variant, lib_rs)?;
    Ok(grader.grade(
        &exercise.id,
        &exercise.slot(variant),
        &Submission::Crate(dir),
        &exercise.spec(),
    )?)
}

/// A private crate folder holding one variant as its `src/lib.rs`, so the student's `src/` is
/// never touched.
pub fn stage_variant(
    root: &Path,
    exercise: &Exercise,
    variant: &str,
    lib_rs: &Path,
) -> anyhow::Result<PathBuf> {
    let dir = course::work_dir(root)
        .join("variants")
        .join(exercise.slot(variant));
    let src = dir.join("src");
    std::fs::create_dir_all(&src)?;
    let content =
        std::fs::read(lib_rs).with_context(|| format!("reading `{}`", lib_rs.display()))?;
    // Rewritten only when it changed, so the staged build stays warm.
    if std::fs::read(src.join("lib.rs")).ok().as_deref() != Some(&content[..]) {
        std::fs::write(src.join("lib.rs"), content)?;
    }
    Ok(dir)
}

/// What a variant must do.
pub enum Expected {
    /// The reference solution: every check passes.
    Pass,
    /// The starter: something fails, so there is work to do.
    Fail,
    /// A broken variant: caught by this verdict.
    CaughtAs(grader::Verdict),
}

/// One variant of an exercise, graded, with what it was supposed to do.
pub struct Examined {
    /// `solution`, `starter`, `correct/<file>` or `broken/<file>`.
    pub variant: String,
    pub report: Report,
    pub expected: Expected,
}

impl Examined {
    /// `Ok` with a line for the instructor when the variant behaved as it must; `Err` with the
    /// problem otherwise.
    pub fn outcome(&self, id: &str) -> Result<String, String> {
        let (variant, report) = (&self.variant, &self.report);
        match self.expected {
            Expected::Pass if report.passed() => Ok(format!("{id}: {variant} scores 100%")),
            Expected::Pass => Err(format!(
                "{id}: the correct {variant} fails\n{}",
                report.render(Render {
                    color: false,
                    show_hidden: true
                })
            )),
            Expected::Fail if report.passed() => Err(format!(
                "{id}: the {variant} already passes every check: a starter must leave work to do"
            )),
            Expected::Fail => Ok(format!(
                "{id}: {variant} fails ({})",
                report.verdict().name()
            )),
            Expected::CaughtAs(want) if report.failures().any(|f| f.verdict == want) => {
                Ok(format!("{id}: {variant} is caught as {}", want.name()))
            }
            Expected::CaughtAs(want) => Err(format!(
                "{id}: {variant} should be caught as {} but got {}",
                want.name(),
                report.verdict().name()
            )),
        }
    }
}

/// Grades an exercise's solution, starter, other correct solutions and broken variants: the
/// solution and each correct one must score 100%, the starter must fail, each broken variant
/// must be caught by its verdict.
pub fn examine(grader: &Grader, root: &Path, exercise: &Exercise) -> anyhow::Result<Vec<Examined>> {
    let mut variants = vec![
        (
            "solution".to_owned(),
            exercise.dir.join("solution/lib.rs"),
            Expected::Pass,
        ),
        (
            "starter".to_owned(),
            exercise.dir.join("starter/lib.rs"),
            Expected::Fail,
        ),
    ];
    // Other correct solutions (`correct/*.rs`): written differently from the reference, each
    // must score 100% too, so a check that fails honest work is found before students are.
    let mut correct: Vec<PathBuf> = std::fs::read_dir(exercise.dir.join("correct"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect()
        })
        .unwrap_or_default();
    correct.sort();
    for file in correct {
        let name = file
            .file_stem()
            .map_or("correct".into(), |s| s.to_string_lossy().into_owned());
        variants.push((format!("correct/{name}"), file, Expected::Pass));
    }
    for broken in &exercise.file.broken {
        // `exercise.toml` was validated on load, so the verdict name is known.
        let want = grader::Verdict::from_name(&broken.verdict)
            .context("verdict names are validated on load")?;
        let name = broken
            .file
            .file_stem()
            .map_or("broken".into(), |s| s.to_string_lossy().into_owned());
        variants.push((
            format!("broken/{name}"),
            exercise.dir.join(&broken.file),
            Expected::CaughtAs(want),
        ));
    }
    variants
        .into_iter()
        .map(|(variant, file, expected)| {
            let report = grade_variant(grader, root, exercise, &variant.replace('/', "-"), &file)?;
            Ok(Examined {
                variant,
                report,
                expected,
            })
        })
        .collect()
}

pub fn check(root: &Path, filter: Option<&str>) -> anyhow::Result<ExitCode> {
    let start = std::time::Instant::now();
    let (all, mut problems) = exercises(root)?;
    let chosen = course::select(&all, filter)?;
    let grader = new_grader(root)?;
    for exercise in &chosen {
        if exercise.file.broken.is_empty() {
            problems.push(format!("{}: has no broken variant", exercise.id));
        }
        for w in exercise.spec().warnings() {
            let scenario = w
                .scenario
                .and_then(|i| exercise.file.scenario.get(i))
                .map(|s| format!(" scenario {:?}", s.name))
                .unwrap_or_default();
            let step = w
                .step
                .map(|s| format!(" step {}", s + 1))
                .unwrap_or_default();
            eprintln!("warning: {}:{scenario}{step}: {}", exercise.id, w.message);
        }
        match examine(&grader, root, exercise) {
            Ok(examined) => {
                for e in examined {
                    match e.outcome(&exercise.id) {
                        Ok(line) => println!("✔ {line}"),
                        Err(problem) => problems.push(problem),
                    }
                }
            }
            Err(e) => problems.push(format!("{}: {e:#}", exercise.id)),
        }
    }
    // Every quiz too, tracing programs included.
    if filter.is_none() {
        let args = crate::quiz::QuizArgs {
            chapter: Vec::new(),
            web: None,
            answers: None,
            format: crate::quiz::Format::Human,
            reveal: false,
            check: Some(Vec::new()),
            no_verify: false,
            restart: false,
            no_record: true,
        };
        if crate::quiz::check(root, &[], &args)? != ExitCode::SUCCESS {
            problems.push("a quiz in `quizzes/` has errors (listed above)".into());
        }
    }
    for p in &problems {
        eprintln!("✘ {p}");
    }
    let took = start.elapsed().as_secs_f64();
    if problems.is_empty() {
        println!("{} exercises check out ({took:.1} s)", chosen.len());
        Ok(ExitCode::from(EXIT_PASS))
    } else {
        eprintln!("{} problems ({took:.1} s)", problems.len());
        Ok(ExitCode::from(EXIT_HARNESS))
    }
}

/// Scaffolds `exercises/<chapter>/<name>/` from `exercises/template/`: the student crate, a
/// starter, a solution, a broken variant and an `exercise.toml` that already checks out, for the
/// instructor to rewrite.
pub fn new(root: &Path, chapter: &str, name: &str) -> anyhow::Result<ExitCode> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !valid(chapter) || !valid(name) {
        anyhow::bail!(
            "chapter and name are folder names of lowercase letters, digits and `-`, e.g. `new 22-strings 01-utf8`"
        );
    }
    let exercises = course::exercises_dir(root);
    // `22` finds an existing `22-…` chapter folder.
    let chapter_dir = std::fs::read_dir(&exercises)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().split('-').next() == Some(chapter) || n == chapter
            })
        })
        .unwrap_or_else(|| exercises.join(chapter));
    let dir = chapter_dir.join(name);
    if dir.exists() {
        anyhow::bail!("`{}` already exists", dir.display());
    }
    let template = exercises.join("template");
    let package = course::package_name(name);
    let manifest = course::shipped_manifest(name);
    let solution = std::fs::read_to_string(template.join("src/lib.rs"))
        .context("reading the template's lib.rs")?;
    let starter = solution.replace(
        "a + b",
        "// TODO: add the two numbers.\n    let _ = (a, b);\n    0",
    );
    let broken = solution.replace("a + b", "a.wrapping_sub(b)");
    for sub in ["src", "starter", "solution", "broken"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src/lib.rs"), &starter)?;
    std::fs::write(dir.join("starter/lib.rs"), &starter)?;
    std::fs::write(dir.join("solution/lib.rs"), &solution)?;
    std::fs::write(dir.join("broken/subtracts.rs"), &broken)?;
    std::fs::write(
        dir.join("exercise.toml"),
        format!(
            r#"title = "{package}"
lesson = "{chapter}"
statement = """
Describe the task here, in markdown.
"""
hints = ["The first, gentlest hint.", "A more direct one."]

[exports]
functions = ["fn add(a: u32, b: u32) -> u32"]

[[scenario]]
name = "adds two numbers"
steps = [{{ call = "add", args = [2, 3], expect = 5 }}]

[[scenario]]
name = "adds large numbers"
hidden = true
steps = [{{ call = "add", args = [4000000000, 1], expect = 4000000001 }}]

[[broken]]
file = "broken/subtracts.rs"
verdict = "wrong-result"
"#
        ),
    )?;
    let rel = dir.strip_prefix(root).unwrap_or(&dir);
    println!(
        "created `{}`: edit `exercise.toml`, `starter/lib.rs` (copied to `src/`), `solution/lib.rs` and `broken/`, then run `cargo xtask check {name}`",
        rel.display()
    );
    Ok(ExitCode::from(EXIT_PASS))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exercise's solution, starter and broken variants behave as `check` demands, and
    /// the feedback each gets is a snapshot an instructor reviews with `cargo insta review`.
    #[test]
    fn every_exercise_checks_out_and_its_feedback_is_snapshotted() {
        let root = course::root();
        let (all, errors) = exercises(&root).unwrap();
        assert!(errors.is_empty(), "{errors:#?}");
        assert!(!all.is_empty());
        let grader = new_grader(&root).unwrap();
        let mut problems = Vec::new();
        for exercise in &all {
            for e in examine(&grader, &root, exercise).unwrap() {
                if let Err(p) = e.outcome(&exercise.id) {
                    problems.push(p);
                }
                let name = format!("{}__{}", exercise.id, e.variant).replace('/', "__");
                insta::with_settings!({ filters => grader::report::MACHINE_DEPENDENT.to_vec(), snapshot_path => "../tests/snapshots", prepend_module_to_snapshot => false }, {
                    insta::assert_snapshot!(name, e.report.render(Render { color: false, show_hidden: true }));
                });
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
