//! `cargo xtask quiz --check`: validates quiz files (folders of them, or files from anywhere),
//! compiles and runs their tracing programs in the sandbox, and reports every problem of every
//! file with its `file:line:col`. A file that cannot be read or is not UTF-8 is one more
//! problem: the other files are still checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use quiz::{Quiz, QuizFile};
use serde::Serialize;

use super::{Format, QuizArgs, color_stderr, shown, target_dir};

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: String,
    line: usize,
    column: usize,
    #[serde(flatten)]
    diagnostic: &'a quiz::Diagnostic,
}

pub fn check(root: &Path, paths: &[PathBuf], args: &QuizArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut files = Vec::new();
    let inputs = if paths.is_empty() {
        vec![root.join("quizzes")]
    } else {
        paths.to_vec()
    };
    let mut unreadable = 0;
    for input in &inputs {
        if input.is_dir() {
            match quiz::quiz_files(input) {
                Ok(found) => files.extend(found),
                Err(e) => {
                    eprintln!("error: {e:#}");
                    unreadable += 1;
                }
            }
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            eprintln!(
                "error: `{}` is neither a quiz file nor a folder",
                input.display()
            );
            unreadable += 1;
        }
    }
    if files.is_empty() {
        eprintln!(
            "error: no `.toml` quiz files found in {}",
            inputs
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let mut loaded = Vec::new();
    for path in &files {
        match QuizFile::load(path) {
            Ok(file) => loaded.push(file),
            Err(e) => {
                // Unreadable (permissions, a folder named `.toml`): said, and the rest checked.
                eprintln!(
                    "error: {e}: {}",
                    std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
                );
                unreadable += 1;
            }
        }
    }
    let mut diagnostics: Vec<Vec<quiz::Diagnostic>> = loaded
        .iter()
        .map(|f| f.parsed.diagnostics.clone())
        .collect();
    let all_files: Vec<&QuizFile> = loaded.iter().collect();
    for (i, d) in quiz::duplicate_ids_across(&all_files, |p| shown(root, p)) {
        diagnostics[i].push(d);
    }
    if !args.no_verify {
        let valid: Vec<(usize, &Quiz)> = loaded
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i, f.parsed.quiz.as_ref()?)))
            .collect();
        let quizzes: Vec<&Quiz> = valid.iter().map(|(_, q)| *q).collect();
        let options = quiz::VerifyOptions {
            cache_dir: Some(target_dir(root).join("quiz-tracing-cache")),
            ..Default::default()
        };
        for ((i, _), found) in valid.iter().zip(quiz::verify_quizzes(&quizzes, &options)) {
            diagnostics[*i].extend(found);
        }
    }
    let all: Vec<&quiz::Diagnostic> = diagnostics.iter().flatten().collect();
    let errors = all.iter().filter(|d| d.is_error()).count() + unreadable;
    let warnings = all.len() + unreadable - errors;
    match args.format {
        Format::Json => {
            let mut out = Vec::new();
            for (file, found) in loaded.iter().zip(&diagnostics) {
                for d in found {
                    let (line, column) = d.line_col(&file.source);
                    out.push(JsonDiagnostic {
                        file: shown(root, &file.path),
                        line,
                        column,
                        diagnostic: d,
                    });
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Human => {
            for (file, found) in loaded.iter().zip(&diagnostics) {
                if !found.is_empty() {
                    eprint!(
                        "{}",
                        file.render(&shown(root, &file.path), found, color_stderr())
                    );
                }
            }
            let questions: usize = loaded
                .iter()
                .filter_map(|f| f.parsed.quiz.as_ref())
                .map(|q| q.questions.len())
                .sum();
            eprintln!(
                "checked {} quiz file{} ({questions} question{}{}) in {:.2?}: {errors} error{}, {warnings} warning{}",
                files.len(),
                plural(files.len()),
                plural(questions),
                if args.no_verify {
                    ", tracing programs not compiled"
                } else {
                    ""
                },
                started.elapsed(),
                plural(errors),
                plural(warnings),
            );
        }
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
