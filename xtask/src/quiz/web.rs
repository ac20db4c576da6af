//! `cargo xtask quiz --web OUT_DIR [QUIZ...]`: the chapter quizzes as a static site. The page's
//! engine is the `quiz-web` crate built for `wasm32-unknown-unknown` the way the grader builds
//! a student's crate (the target installed through rustup when missing, cargo's JSON messages
//! read for the module, its own folder under the target directory so later builds are warm),
//! then processed by the grader's in-process wasm-bindgen, the version students use.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use quiz::QuizFile;
use quiz_web::site::{self, Chapter};

use super::{color_stderr, shown, target_dir};

/// The engine's package, and the profile it is built with (the workspace's `Cargo.toml`).
const PACKAGE: &str = "quiz-web";
const PROFILE: &str = "quiz-page";

/// The engine as a page loads it.
#[derive(Debug)]
pub struct Engine {
    /// The processed module.
    pub wasm: Vec<u8>,
    /// wasm-bindgen's JavaScript for it (`--target web`).
    pub glue: String,
}

/// Builds the engine (warm after the first time) and runs wasm-bindgen over it.
pub fn build_engine(root: &Path) -> anyhow::Result<Engine> {
    grader::build::ensure_target().map_err(|e| anyhow::anyhow!("{e}"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        // The library as the page's `cdylib`; on the host it is a plain library.
        .args([
            "rustc",
            "--package",
            PACKAGE,
            "--lib",
            "--crate-type",
            "cdylib",
            "--target",
        ])
        .arg(grader::build::TARGET)
        .args([
            "--profile",
            PROFILE,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir(root).join("quiz-web"))
        // The page is built by its own profile, whatever flags the caller's build uses.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not start cargo to build the quiz page's engine")?;
    let mut module = None;
    for line in std::io::BufReader::new(child.stdout.take().context("cargo's output")?).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == "quiz_web"
            && let Some(files) = message["filenames"].as_array()
        {
            module = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
                .map(PathBuf::from)
                .or(module);
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("building the quiz page's engine (`{PACKAGE}`) failed; see cargo's errors above");
    }
    let module = module.context("cargo built the quiz page's engine but named no `.wasm` file")?;
    let raw = std::fs::read(&module).with_context(|| format!("reading `{}`", module.display()))?;
    let processed = grader::bindgen::process(&raw, false, false)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen on the quiz page's engine: {e}"))?;
    Ok(Engine {
        wasm: without_custom_sections(&processed.wasm)?,
        glue: processed.js,
    })
}

/// The module without its custom sections (function names above all, a sixth of its bytes):
/// a browser needs none of them. Sections follow one another from the 8-byte header, so each
/// one's bytes run from the end of the one before to the end of its contents.
fn without_custom_sections(wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = wasm[..8.min(wasm.len())].to_vec();
    let mut start = 8;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.context("the quiz page's engine is not a valid module")?;
        let Some((id, contents)) = payload.as_section() else {
            continue;
        };
        if id != 0 {
            out.extend_from_slice(&wasm[start..contents.end]);
        }
        start = contents.end;
    }
    Ok(out)
}

/// The quizzes named (all of `quizzes/` when none is), each validated; an invalid one is shown
/// with its diagnostics and stops the site.
pub fn chapters(root: &Path, names: &[String]) -> anyhow::Result<Option<Vec<Chapter>>> {
    let dir = root.join("quizzes");
    let paths = if names.is_empty() {
        quiz::quiz_files(&dir)?
    } else {
        names
            .iter()
            .map(|n| quiz::find_quiz(&dir, n))
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut chapters = Vec::new();
    let mut invalid = false;
    for path in paths {
        let file = QuizFile::load(&path)?;
        match &file.parsed.quiz {
            Some(quiz) => chapters.push(Chapter {
                title: quiz.title.clone().unwrap_or_else(|| file.name.clone()),
                questions: quiz.questions.len(),
                name: file.name.clone(),
                source: file.source.clone(),
            }),
            None => {
                eprint!(
                    "{}",
                    file.render(
                        &shown(root, &path),
                        &file.parsed.diagnostics,
                        color_stderr()
                    )
                );
                invalid = true;
            }
        }
    }
    Ok((!invalid).then_some(chapters))
}

/// Writes the site into `out`.
pub fn write_site(root: &Path, out: &Path, names: &[String]) -> anyhow::Result<ExitCode> {
    let chapters = match chapters(root, names) {
        Ok(Some(chapters)) => chapters,
        Ok(None) => {
            eprintln!("error: no site written; fix the quiz files above");
            return Ok(ExitCode::from(2));
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let engine = build_engine(root)?;
    write(out, &chapters, &engine)?;
    println!(
        "wrote {} quiz page{} to `{}`: open `{}` in a browser, or put the folder on any static host",
        chapters.len(),
        if chapters.len() == 1 { "" } else { "s" },
        out.display(),
        out.join("index.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the site for `chapters` into `out`: the engine script, a page each, the index.
pub fn write(out: &Path, chapters: &[Chapter], engine: &Engine) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating `{}`", out.display()))?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing `{}`", path.display()))
    };
    write(site::ENGINE_FILE, site::engine_script(&engine.wasm))?;
    for chapter in chapters {
        write(&chapter.file(), site::chapter_page(chapter, &engine.glue))?;
    }
    write("index.html", site::index_page(chapters))
}
