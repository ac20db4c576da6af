//! The quiz rows: checking the quiz files, rendering prompts, and the chapter quiz's web page in
//! headless Chromium.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use super::{median, ms};

/// The quizzes: checking files (tracing programs compiled in the sandbox) and rendering.
#[derive(Debug, Serialize)]
pub(super) struct QuizFigures {
    /// Quiz files checked: the course's, and the shared corpus when it is beside the repository.
    files: usize,
    tracing_programs: usize,
    /// Load, validate and verify them all with an empty verification cache, then again warm.
    check_cold_ms: f64,
    check_warm_ms: f64,
    /// Rendering a pathologically nested prompt (lists and quotes) of two sizes, in KiB, and
    /// the time per KiB of input: about equal times per KiB is linear time.
    render_small_kib: f64,
    render_small_us_per_kib: f64,
    render_large_kib: f64,
    render_large_us_per_kib: f64,
}

impl QuizFigures {
    /// Prints its section of the table.
    pub(super) fn print(&self) {
        println!(
            "quizzes: {} files, {} tracing programs",
            self.files, self.tracing_programs
        );
        println!(
            "  --check, empty cache         {:>9.1} ms",
            self.check_cold_ms
        );
        println!(
            "  --check, warm cache          {:>9.1} ms",
            self.check_warm_ms
        );
        println!(
            "  render a nested prompt       {:>9.1} µs/KiB of {:.0} KiB, {:.1} µs/KiB of {:.0} KiB (linear: about equal)",
            self.render_small_us_per_kib,
            self.render_small_kib,
            self.render_large_us_per_kib,
            self.render_large_kib
        );
    }
}

/// The chapter quiz's web page (`cargo xtask quiz --web`): what a student downloads and how
/// soon the first question can be answered.
#[derive(Debug, Serialize)]
pub(super) struct QuizPageFigures {
    /// The processed engine module, and gzipped (level 9) as a static host would serve it.
    wasm_bytes: usize,
    wasm_gzip_bytes: usize,
    /// The largest chapter page (glue, script, style and the quiz's text inline).
    page_bytes: usize,
    /// Headless Chromium, from navigation start to the first question on screen, median of
    /// `loads` loads from `file://`, and the first of them (nothing cached yet); `None` where
    /// Chromium is missing.
    time_to_interactive_ms: Option<f64>,
    first_load_ms: Option<f64>,
    loads: usize,
}

impl QuizPageFigures {
    /// Prints its section of the table.
    pub(super) fn print(&self) {
        println!("quiz web page (`cargo xtask quiz --web`)");
        println!(
            "  engine wasm                  {:>9.1} KiB   gzipped {:.1} KiB",
            self.wasm_bytes as f64 / 1024.0,
            self.wasm_gzip_bytes as f64 / 1024.0
        );
        println!(
            "  largest chapter page         {:>9.1} KiB   (besides the engine script)",
            self.page_bytes as f64 / 1024.0
        );
        match self.time_to_interactive_ms {
            Some(t) => println!(
                "  time to interactive          {t:>9.1} ms    (headless Chromium, file://, median of {}; first load {:.1} ms)",
                self.loads,
                self.first_load_ms.unwrap_or(t)
            ),
            None => println!("  time to interactive          not measured: no Chromium found"),
        }
    }
}

/// Builds the quiz site and loads a chapter's page in headless Chromium a few times.
pub(super) fn quiz_page_bench(root: &Path) -> anyhow::Result<QuizPageFigures> {
    use std::io::Write as _;
    let engine = crate::quiz::web::build_engine(root)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&engine.wasm)?;
    let wasm_gzip_bytes = gzip.finish()?.len();
    let out = tempfile_dir("quiz-page-bench");
    let _ = std::fs::remove_dir_all(&out);
    let chapters = crate::quiz::web::chapters(root, &[])?
        .context("a quiz in `quizzes/` is invalid (see above)")?;
    crate::quiz::web::write(&out, &chapters, &engine)?;
    let mut pages: Vec<(u64, PathBuf)> = std::fs::read_dir(&out)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html") && !p.ends_with("index.html"))
        .map(|p| (p.metadata().map_or(0, |m| m.len()), p))
        .collect();
    pages.sort();
    let (page_bytes, page) = pages.pop().context("the site has no chapter page")?;
    let loads = 5;
    let times = match browser::find() {
        None => Vec::new(),
        Some(chromium) => {
            let mut b = browser::Browser::launch(&chromium, 1000, 900)?;
            let url = browser::file_url(&page);
            let mut times = Vec::new();
            for _ in 0..loads {
                b.navigate("about:blank")?;
                b.wait_for("location.href === 'about:blank'", Duration::from_secs(10))?;
                b.navigate(&url)?;
                let ready = b.wait_for("globalThis.quizReadyAt", Duration::from_secs(30))?;
                times.push(ready.as_f64().context("a time")?);
            }
            times
        }
    };
    let first_load_ms = times.first().copied();
    let time_to_interactive_ms = (!times.is_empty()).then(|| median(times));
    let _ = std::fs::remove_dir_all(&out);
    Ok(QuizPageFigures {
        wasm_bytes: engine.wasm.len(),
        wasm_gzip_bytes,
        page_bytes: page_bytes as usize,
        time_to_interactive_ms,
        first_load_ms,
        loads,
    })
}

/// Checks the quiz files cold and warm, and renders nested prompts of two sizes.
pub(super) fn quiz_bench(root: &Path) -> anyhow::Result<QuizFigures> {
    let mut paths = quiz::quiz_files(&root.join("quizzes"))?;
    let shared = root.join("../shared/quiz-corpus");
    if shared.is_dir() {
        paths.extend(quiz::quiz_files(&shared)?);
    }
    let cache = tempfile_dir("quiz-bench-cache");
    let options = quiz::VerifyOptions {
        cache_dir: Some(cache.clone()),
        ..Default::default()
    };
    let check = || -> anyhow::Result<(f64, usize)> {
        let started = Instant::now();
        let files: Vec<quiz::QuizFile> = paths
            .iter()
            .map(|p| quiz::QuizFile::load(p))
            .collect::<Result<_, _>>()?;
        let quizzes: Vec<&quiz::Quiz> = files
            .iter()
            .filter_map(|f| f.parsed.quiz.as_ref())
            .collect();
        let found = quiz::verify_quizzes(&quizzes, &options);
        if let Some(d) = found.iter().flatten().find(|d| d.is_error()) {
            bail!("a quiz does not verify: {}", d.message);
        }
        let programs = quizzes
            .iter()
            .flat_map(|q| &q.questions)
            .filter(|q| matches!(q.kind, quiz::QuestionKind::Tracing(_)))
            .count();
        Ok((ms(started.elapsed()), programs))
    };
    let (check_cold_ms, tracing_programs) = check()?;
    let (check_warm_ms, _) = check()?;
    let _ = std::fs::remove_dir_all(&cache);
    let per_kib = |depth: usize| {
        let input: String = (0..depth)
            .map(|i| format!("{}- level {i}\n", "  ".repeat(i % 64)))
            .collect::<String>()
            + &">".repeat(depth);
        let started = Instant::now();
        let out = quiz::render::prompt_markdown(&input, 80);
        std::hint::black_box(out);
        let kib = input.len() as f64 / 1024.0;
        (kib, started.elapsed().as_secs_f64() * 1e6 / kib)
    };
    let (render_small_kib, render_small_us_per_kib) = per_kib(2_000);
    let (render_large_kib, render_large_us_per_kib) = per_kib(20_000);
    Ok(QuizFigures {
        files: paths.len(),
        tracing_programs,
        check_cold_ms,
        check_warm_ms,
        render_small_kib,
        render_small_us_per_kib,
        render_large_kib,
        render_large_us_per_kib,
    })
}

fn tempfile_dir(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()))
}
