//! The student's commands: `grade`, `list`, `hint`, `watch` and `reset`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use grader::{Render, Report, Submission};

use crate::course::{self, Exercise};
use crate::{EXIT_FAIL, EXIT_HARNESS, EXIT_PASS, exercises, new_grader, progress};

/// Whether stdout takes colours.
fn color() -> bool {
    crate::terminal::colours(&std::io::stdout())
}

/// `cargo xtask grade`. One exercise is shown in full. Several (a chapter, or all when no
/// filter is given) get one line each as they are graded, then the first that did not pass is
/// shown in full, so the student works on one exercise at a time (as in rustlings).
pub fn grade(
    root: &Path,
    filter: Option<&str>,
    json: bool,
    seed: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    let chosen = course::select(&all, filter)?;
    let grader = crate::new_grader_seeded(root, seed)?;
    let color = color();
    let summary = !json && chosen.len() > 1;
    let width = chosen.iter().map(|e| e.id.len()).max().unwrap_or(0);
    let mut code = if errors.is_empty() {
        EXIT_PASS
    } else {
        EXIT_HARNESS
    };
    let mut reports = Vec::new();
    let mut first_unfinished = None;
    let mut passed = 0;
    for exercise in chosen.iter().copied() {
        let Some(report) = grade_one(&grader, root, exercise) else {
            code = EXIT_HARNESS;
            if summary {
                println!("{}", summary_line(exercise, None, width, color));
            }
            continue;
        };
        if report.passed() {
            passed += 1;
        } else if code == EXIT_PASS {
            code = EXIT_FAIL;
        }
        if json {
            reports.push(report);
        } else if summary {
            println!("{}", summary_line(exercise, Some(&report), width, color));
            if !report.passed() && first_unfinished.is_none() {
                first_unfinished = Some((exercise, report));
            }
        } else {
            print_full(root, exercise, &report, color);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else if summary {
        println!();
        match first_unfinished {
            Some((exercise, report)) => {
                print_full(root, exercise, &report, color);
                println!(
                    "{passed} of {} exercises pass; work on `{}` above: `cargo xtask watch` re-grades it on every save",
                    chosen.len(),
                    exercise.name()
                );
            }
            None if code == EXIT_PASS => println!("all {passed} exercises pass: well done!"),
            None => {}
        }
    }
    Ok(ExitCode::from(code))
}

/// Grades one exercise's `src/` and records the progress; a harness error is printed and
/// gives `None`.
fn grade_one(grader: &grader::Grader, root: &Path, exercise: &Exercise) -> Option<Report> {
    match grader.grade(
        &exercise.id,
        &exercise.slot("student"),
        &Submission::Crate(exercise.dir.clone()),
        &exercise.spec(),
    ) {
        Ok(mut report) => {
            // A manifest as the course shipped it changed nothing the grader ignored; nor did the
            // `Cargo.lock` cargo and editors write beside it.
            if exercise.manifest_as_shipped() {
                let unchanged = ["Cargo.toml", "Cargo.lock"].map(grader::ignored_note);
                report.notes.retain(|note| !unchanged.contains(note));
            }
            record_progress(root, exercise, &report);
            Some(report)
        }
        Err(e) => {
            eprintln!("error: grading `{}`: {e}", exercise.id);
            None
        }
    }
}

/// A report in full, and the next hint when it failed.
fn print_full(root: &Path, exercise: &Exercise, report: &Report, color: bool) {
    print!(
        "{}",
        report.render(Render {
            color,
            show_hidden: false
        })
    );
    if !report.passed() {
        print_next_hint(root, exercise);
    }
    println!();
}

/// One exercise in one line: mark, id, score and the verdict that failed it. A hidden
/// scenario's verdict stays hidden, as in the full report.
fn summary_line(exercise: &Exercise, report: Option<&Report>, width: usize, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let id = format!("{:width$}", exercise.id);
    let Some(report) = report else {
        return format!(
            "{} {id}  not graded: the error above says why",
            paint("33", "?")
        );
    };
    let score = format!(
        "{}/{} ({:.0}%)",
        points(report.earned),
        points(report.possible),
        report.percent()
    );
    if report.passed() {
        return format!("{} {id}  {score}", paint("32", "✔"));
    }
    let shown = report
        .preflight
        .iter()
        .chain(
            report
                .scenarios
                .iter()
                .filter(|s| !s.hidden)
                .flat_map(|s| &s.checks),
        )
        .find_map(grader::CheckResult::failure);
    let verdict = match shown {
        Some(failure) => failure.verdict.name(),
        None if report.scenarios.is_empty() => "not run",
        None => "hidden test",
    };
    format!("{} {id}  {score:<11}  {verdict}", paint("31", "✘"))
}

/// Points as the report writes them: whole numbers without a fraction.
fn points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

fn record_progress(root: &Path, exercise: &Exercise, report: &Report) {
    let result = progress::update(root, |p| {
        let entry = p.exercises.entry(exercise.id.clone()).or_default();
        entry.done |= report.passed();
        entry.best_score = entry.best_score.max(report.percent());
    });
    match result {
        Ok(Some(warning)) => eprintln!("warning: {warning}"),
        Ok(None) => {}
        Err(e) => eprintln!("warning: progress not saved: {e:#}"),
    }
}

fn print_next_hint(root: &Path, exercise: &Exercise) {
    if let Some(hint) = next_hint(root, exercise) {
        println!("{hint}");
    }
}

/// The line that points to the next hint, while there is one.
fn next_hint(root: &Path, exercise: &Exercise) -> Option<String> {
    let (progress, _) = progress::load(root);
    let shown = progress
        .exercises
        .get(&exercise.id)
        .map_or(0, |e| e.hints_shown);
    (shown < exercise.file.hints.len()).then(|| {
        format!(
            "stuck? `cargo xtask hint {}` shows hint {} of {}",
            exercise.id,
            shown + 1,
            exercise.file.hints.len()
        )
    })
}

/// `cargo xtask list`: every exercise and quiz, chapter by chapter, with the student's
/// progress.
pub fn list(root: &Path) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    let (progress, warning) = progress::load(root);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    // No quiz folder is no quizzes, not an error.
    let mut quizzes = quiz::quiz_files(&root.join("quizzes")).unwrap_or_default();
    let quiz_line = |path: &std::path::PathBuf| {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let number = stem.split('-').next().unwrap_or(&stem);
        let mark = match progress.quizzes.get(&stem) {
            Some(q) if q.passed => "✔".to_owned(),
            Some(q) => format!("{:>3.0}%", q.best_score),
            None => "·".to_owned(),
        };
        format!("  {mark:>4}  quiz {stem}  `cargo xtask quiz {number}`")
    };
    let mut chapter = "";
    for (i, e) in all.iter().enumerate() {
        if e.chapter() != chapter {
            chapter = e.chapter();
            let done = all
                .iter()
                .filter(|x| {
                    x.chapter() == chapter && progress.exercises.get(&x.id).is_some_and(|p| p.done)
                })
                .count();
            let total = all.iter().filter(|x| x.chapter() == chapter).count();
            println!(
                "{chapter}: {}  ({done}/{total} exercises done)",
                e.file.lesson
            );
        }
        let p = progress.exercises.get(&e.id);
        let mark = match p {
            Some(p) if p.done => "✔".to_owned(),
            Some(p) => format!("{:>3.0}%", p.best_score),
            None => "·".to_owned(),
        };
        println!("  {mark:>4}  {}  {}", e.id, e.file.title);
        // The chapter's quiz closes its list.
        if all.get(i + 1).is_none_or(|next| next.chapter() != chapter) {
            let number = chapter.split('-').next().unwrap_or(chapter);
            quizzes.retain(|q| {
                let stem = q.file_stem().unwrap_or_default().to_string_lossy();
                let ours = stem == chapter || stem.split('-').next() == Some(number);
                if ours {
                    println!("{}", quiz_line(q));
                }
                !ours
            });
        }
    }
    if !quizzes.is_empty() {
        println!("quizzes of chapters without exercises:");
        for q in &quizzes {
            println!("{}", quiz_line(q));
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    Ok(ExitCode::from(if errors.is_empty() {
        EXIT_PASS
    } else {
        EXIT_HARNESS
    }))
}

pub fn hint(root: &Path, filter: &str) -> anyhow::Result<ExitCode> {
    let (all, _) = exercises(root)?;
    let exercise = course::select_one(&all, filter)?;
    let hints = &exercise.file.hints;
    if hints.is_empty() {
        println!("`{}` has no hints", exercise.id);
        return Ok(ExitCode::from(EXIT_PASS));
    }
    let (progress, _) = progress::load(root);
    let shown = progress
        .exercises
        .get(&exercise.id)
        .map_or(0, |e| e.hints_shown);
    let next = shown.min(hints.len() - 1);
    println!(
        "{}: {}\n\n{}\n",
        exercise.id,
        exercise.file.title,
        exercise.file.statement.trim()
    );
    for (i, h) in hints.iter().enumerate().take(next + 1) {
        println!("hint {} of {}: {h}", i + 1, hints.len());
    }
    progress::update(root, |p| {
        p.exercises
            .entry(exercise.id.clone())
            .or_default()
            .hints_shown = next + 1
    })?;
    Ok(ExitCode::from(EXIT_PASS))
}

/// Re-grades on every change under the current exercise's `src/`, moving to the next exercise
/// not yet done each time one passes (as rustlings does). Saves are noticed through the
/// system's file notifications (`saves.rs`) and graded at once; a save that came in while a
/// grade ran is graded before anything is shown, and one that changed no file is ignored. On
/// a terminal each grade replaces the last on a cleared screen (scrollback too), written once
/// it is ready, so the previous report stays readable while the next one builds.
pub fn watch(root: &Path, filter: Option<&str>) -> anyhow::Result<ExitCode> {
    let (all, errors) = exercises(root)?;
    for e in &errors {
        eprintln!("error: {e}");
    }
    let chosen = course::select(&all, filter)?;
    let grader = new_grader(root)?;
    let color = color();
    // `NO_COLOR` is about colours and does not stop the clearing.
    let clear = crate::terminal::understands_escapes(&std::io::stdout());
    let done = |e: &Exercise| {
        progress::load(root)
            .0
            .exercises
            .get(&e.id)
            .is_some_and(|p| p.done)
    };
    let mut current = chosen.iter().position(|e| !done(e));
    // What the next screen starts with: the exercise just finished.
    let mut banner = String::new();
    while let Some(i) = current {
        let exercise = chosen[i];
        // Watching from before the grade: a save while it runs is graded next.
        let src = exercise.dir.join("src");
        let saves = crate::saves::Saves::watch(&src)
            .map_err(|e| anyhow::anyhow!("cannot watch `{}` for changes: {e}", src.display()))?;
        let graded = sources(&exercise.dir);
        let report = grade_one(&grader, root, exercise);
        if saves.saved_since() && sources(&exercise.dir) != graded {
            // Saved again while it was graded: grade what is there now before showing anything.
            continue;
        }
        let mut screen = std::mem::take(&mut banner);
        if let Some(report) = &report {
            screen.push_str(&report.render(Render {
                color,
                show_hidden: false,
            }));
            if report.passed() {
                banner = format!("✔ {} is done\n\n", exercise.id);
                current = chosen
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .find(|(_, e)| !done(e))
                    .map(|(i, _)| i);
                if current.is_some() {
                    continue;
                }
                show(
                    &mut std::io::stdout(),
                    clear,
                    &format!("{screen}\n{banner}"),
                )?;
                break;
            }
            screen.push_str(
                &next_hint(root, exercise)
                    .map(|h| h + "\n")
                    .unwrap_or_default(),
            );
        }
        screen.push_str(&format!(
            "\nwatching `{}` for changes (Ctrl-C to stop)\n",
            grader::slashed(src.strip_prefix(root).unwrap_or(&exercise.dir))
        ));
        // A harness error went to stderr: clearing now would wipe it.
        show(&mut std::io::stdout(), clear && report.is_some(), &screen)?;
        // A save that changed nothing (an editor's `:w` of an unchanged buffer) keeps the
        // screen as it is.
        loop {
            while !saves.wait(std::time::Duration::from_secs(3600)) {}
            if sources(&exercise.dir) != graded {
                break;
            }
        }
    }
    println!("every exercise here is done: well done! `cargo xtask list` shows your progress");
    Ok(ExitCode::from(EXIT_PASS))
}

/// What a grade of the crate in `dir` takes (its `src/` files), or why it is refused: two
/// saves that leave this the same grade the same.
fn sources(dir: &Path) -> Result<grader::intake::Intake, grader::intake::Refusal> {
    grader::intake::take(dir, None, &grader::intake::Caps::default())
}

/// Moves the cursor home and erases the screen and the scrollback, as rustlings does.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J\x1b[3J";

/// Writes one screen at once, after clearing when asked.
fn show(out: &mut impl std::io::Write, clear: bool, screen: &str) -> std::io::Result<()> {
    let clear = if clear { CLEAR_SCREEN } else { "" };
    write!(out, "{clear}{screen}")?;
    out.flush()
}

/// Restores `src/lib.rs` to `starter/lib.rs` and removes the student's other source files,
/// after asking (or with `--yes`).
pub fn reset(root: &Path, filter: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let (all, _) = exercises(root)?;
    let exercise = course::select_one(&all, filter)?;
    let src = exercise.dir.join("src");
    let starter = exercise.dir.join("starter/lib.rs");
    let mut extra = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path != src.join("lib.rs") {
                extra.push(path);
            }
        }
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "`reset` overwrites your work: run it in a terminal to confirm, or pass `--yes`"
            );
        }
        let mut question = format!(
            "reset `{}` to its starter? your changes to `src/lib.rs` are lost",
            exercise.id
        );
        if !extra.is_empty() {
            question.push_str(&format!(
                " and {} other files in `src/` are deleted",
                extra.len()
            ));
        }
        let confirmed = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()?;
        if !confirmed {
            println!("nothing changed");
            return Ok(ExitCode::from(EXIT_PASS));
        }
    }
    std::fs::create_dir_all(&src)?;
    std::fs::copy(&starter, src.join("lib.rs"))?;
    for path in extra {
        std::fs::remove_file(&path)?;
    }
    println!("`{}` is back to its starter", exercise.id);
    Ok(ExitCode::from(EXIT_PASS))
}

/// `cargo xtask imports EXERCISE|CRATE_DIR`: every import of the module and how the grader
/// serves it, with the JavaScript wasm-bindgen's glue runs for it.
pub fn imports(root: &Path, target: &str) -> anyhow::Result<ExitCode> {
    let (name, dir, slot) = if Path::new(target).join("src").is_dir() {
        // Named as the user wrote it, not by its absolute path; staged in a slot of its own, so
        // two folders looked at side by side never share a staged crate.
        let dir = std::fs::canonicalize(target)?;
        let key = grader::intake::digest([dir.to_string_lossy().as_ref()]);
        (target.to_owned(), dir, format!("imports-{}", &key[..12]))
    } else {
        let (all, _) = exercises(root)?;
        let exercise = course::select_one(&all, target)?;
        (
            exercise.id.clone(),
            exercise.dir.clone(),
            exercise.slot("student"),
        )
    };
    let grader = new_grader(root)?;
    let submission = grader::Submission::Crate(dir);
    let Some(imports) = grader.describe_imports(&slot, &submission)? else {
        println!("{name} does not build yet: `cargo xtask grade` shows why");
        return Ok(ExitCode::from(EXIT_FAIL));
    };
    println!("imports of {name} (src/)");
    let mut missing = false;
    // A function's source, indented under its name.
    let source = |js: &str| {
        js.lines()
            .map(|l| format!("          {}", l.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for i in &imports {
        let (mark, what) = match &i.served {
            grader::Served::Guest => (
                "guest  ",
                "          the grader's allocation, panic and log! reports".to_owned(),
            ),
            grader::Served::Glue(js) => ("served ", source(js)),
            grader::Served::NeedsBrowser { needs, js } => {
                let names: Vec<String> = needs.iter().map(|n| format!("`{n}`")).collect();
                (
                    "browser",
                    format!(
                        "          reads {}, which only a browser has: a step that reaches it \
                         and then goes wrong is needs-browser\n{}",
                        names.join(", "),
                        source(js)
                    ),
                )
            }
            grader::Served::Unknown => {
                missing = true;
                ("unknown", "          nothing defines it".to_owned())
            }
        };
        println!("  {mark} {}.{}\n{what}", i.module, i.name);
    }
    Ok(ExitCode::from(if missing { EXIT_FAIL } else { EXIT_PASS }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_is_written_whole_after_the_clear() {
        let mut out = Vec::new();
        show(&mut out, true, "grading x\nscore: 1/1 (100%)\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\x1b[H\x1b[2J\x1b[3Jgrading x\nscore: 1/1 (100%)\n"
        );
        let mut out = Vec::new();
        show(&mut out, false, "grading x\n").unwrap();
        assert_eq!(out, b"grading x\n");
    }
}
