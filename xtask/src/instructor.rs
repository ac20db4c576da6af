//! The instructor's commands: `check` (every exercise proves itself) and `new` (scaffold an
//! exercise from the template).

use std::path::Path;
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
    Ok(grader.grade(
        &exercise.id,
        &exercise.slot(variant),
        &Submission::Crate(dir),
        &exercise.spec(),
    )?)
}

pub fn check(root: &Path, filter: Option<&str>) -> anyhow::Result<ExitCode> {
    let (all, mut problems) = exercises(root)?;
    let chosen = course::select(&all, filter)?;
    let grader = new_grader(root)?;
    for exercise in chosen {
        let id = &exercise.id;
        if exercise.file.scenario.is_empty() {
            problems.push(format!("{id}: has no scenario"));
            continue;
        }
        let solution = exercise.dir.join("solution/lib.rs");
        match grade_variant(&grader, root, exercise, "solution", &solution) {
            Ok(r) if r.passed() => println!("✔ {id}: solution scores 100%"),
            Ok(r) => problems.push(format!(
                "{id}: the reference solution fails\n{}",
                r.render(Render {
                    color: false,
                    show_hidden: true
                })
            )),
            Err(e) => problems.push(format!("{id}: solution: {e:#}")),
        }
        match grade_variant(
            &grader,
            root,
            exercise,
            "starter",
            &exercise.dir.join("starter/lib.rs"),
        ) {
            Ok(r) if !r.passed() => println!("✔ {id}: starter fails ({})", r.verdict().name()),
            Ok(_) => problems.push(format!(
                "{id}: `starter/lib.rs` already passes every check: a starter must leave work to do"
            )),
            Err(e) => problems.push(format!("{id}: starter: {e:#}")),
        }
        if exercise.file.broken.is_empty() {
            problems.push(format!("{id}: has no broken variant"));
        }
        for broken in &exercise.file.broken {
            let name = broken
                .file
                .file_stem()
                .map_or("broken".into(), |s| s.to_string_lossy().into_owned());
            let Some(want) = grader::Verdict::from_name(&broken.verdict) else {
                problems.push(format!(
                    "{id}: `{}` names an unknown verdict `{}`",
                    broken.file.display(),
                    broken.verdict
                ));
                continue;
            };
            match grade_variant(
                &grader,
                root,
                exercise,
                &format!("broken-{name}"),
                &exercise.dir.join(&broken.file),
            ) {
                Ok(r) if r.failures().any(|f| f.verdict == want) => {
                    println!(
                        "✔ {id}: `{}` is caught as {}",
                        broken.file.display(),
                        want.name()
                    );
                }
                Ok(r) => problems.push(format!(
                    "{id}: `{}` should be caught as {} but got {}",
                    broken.file.display(),
                    want.name(),
                    r.verdict().name()
                )),
                Err(e) => problems.push(format!("{id}: {}: {e:#}", broken.file.display())),
            }
        }
    }
    for p in &problems {
        eprintln!("✘ {p}");
    }
    if problems.is_empty() {
        println!("every exercise checks out");
        Ok(ExitCode::from(EXIT_PASS))
    } else {
        eprintln!("{} problems", problems.len());
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
    let package = name.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    let package = if package.is_empty() { name } else { package };
    let manifest = std::fs::read_to_string(template.join("Cargo.toml"))
        .context("reading the template's Cargo.toml")?;
    let manifest = manifest
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("name = \"exercise\"", &format!("name = \"{package}\""))
        .replace(
            "path = \"../../crates/course-guest\"",
            "path = \"../../../crates/course-guest\"",
        );
    let manifest = format!(
        "# Your crate for this exercise: edit `src/lib.rs`, then run `cargo xtask grade {name}`.\n{manifest}\n"
    );
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
