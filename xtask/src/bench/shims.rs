//! The JavaScript engine's rows: reading the glue, a one-call scenario, and calls through the
//! glue from JavaScript.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::{median, ms};
use crate::course;

/// The JavaScript engine (QuickJS running the glue): what reading the glue, opening a page and
/// calling through it cost.
#[derive(Debug, Serialize)]
pub(super) struct ShimFigures {
    /// Imports the measured module's glue defines, and the time to read them all (a page that
    /// runs the glue up to `WebAssembly.Instance`).
    glue_imports: usize,
    glue_parse_ms: f64,
    /// A scenario of one call: a fresh store and instance, the page opened, the glue loaded and
    /// `initSync` run, one call, the checks' reconciliation. The floor of every scenario.
    one_call_scenario_ms: f64,
    /// One call from JavaScript through the glue's export wrapper into wasm and back, in
    /// microseconds: a scenario in JavaScript making 10 000 calls against the same loop
    /// without them.
    js_call_us: f64,
    /// `cargo build` of the engine's crates alone, from nothing, in seconds (with
    /// `--engine-build`): what the engine adds to a fresh clone's build.
    engine_cold_build_s: Option<f64>,
    /// One `console.log(i)` through the glue (a cast to `JsValue`, the log, the drop), in
    /// microseconds: a scenario of 10 000 calls against the same loop without them.
    console_log_us: f64,
    /// One `Math.random()` through the glue, in microseconds, measured the same way.
    math_random_us: f64,
}

impl ShimFigures {
    /// Prints its section of the table.
    pub(super) fn print(&self) {
        println!("JavaScript engine (QuickJS running the glue)");
        println!(
            "  read the glue ({} imports)    {:>9.2} ms",
            self.glue_imports, self.glue_parse_ms
        );
        println!(
            "  a one-call scenario          {:>9.2} ms    (store, page, glue, initSync, call)",
            self.one_call_scenario_ms
        );
        println!(
            "  a call from JavaScript       {:>9.2} µs    (through the glue into wasm and back)",
            self.js_call_us
        );
        if let Some(b) = self.engine_cold_build_s {
            println!("  engine's cold build          {b:>9.1} s");
        }
        println!(
            "  console.log(i) through it    {:>9.2} µs per call",
            self.console_log_us
        );
        println!(
            "  Math.random() through it     {:>9.2} µs per call",
            self.math_random_us
        );
    }
}

/// Calls made per measured scenario.
const SHIM_CALLS: u32 = 10_000;

const SHIM_CRATE: &str = r#"use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn chatter(n: u32) -> u32 {
    for i in 0..n {
        web_sys::console::log_1(&JsValue::from(i));
    }
    n
}

#[wasm_bindgen]
pub fn dice(n: u32) -> u32 {
    let mut sixes = 0;
    for _ in 0..n {
        sixes += u32::from(js_sys::Math::random() >= 5.0 / 6.0);
    }
    sixes
}

#[wasm_bindgen]
pub fn quiet(n: u32) -> u32 {
    let mut sum = 0u32;
    for i in 0..n {
        sum = sum.wrapping_add(core::hint::black_box(i));
    }
    sum
}
"#;

pub(super) fn shim_bench(
    root: &Path,
    grader: &grader::Grader,
    rounds: usize,
    engine_build: bool,
) -> anyhow::Result<ShimFigures> {
    let dir = course::work_dir(root).join("bench").join("shims");
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("src/lib.rs"), SHIM_CRATE)?;
    let submission = grader::Submission::Crate(dir);
    let spec_for = |export: &str| -> anyhow::Result<grader::Spec> {
        Ok(toml::from_str(&format!(
            "[exports]\nfunctions = [\"fn {export}(n: u32) -> u32\"]\n\
             [[scenario]]\nname = \"{export}\"\nfuel = 1000000000\n\
             steps = [{{ call = \"{export}\", args = [{SHIM_CALLS}] }}]\n"
        ))?)
    };
    let processed = grader
        .bindgen_output("bench-shims", &submission)?
        .context("the shim bench crate does not build")?;
    let mut parse = Vec::new();
    let mut imports = 0;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        imports = grader::js::Glue::parse(&processed.js).len();
        parse.push(ms(start.elapsed()));
    }
    let run_ms = |export: &str| -> anyhow::Result<f64> {
        let spec = spec_for(export)?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            if !report.passed() {
                bail!(
                    "the shim bench's `{export}` did not pass:\n{}",
                    report.render(grader::Render {
                        color: false,
                        show_hidden: true
                    })
                );
            }
            runs.push(ms(report.timings.run));
        }
        Ok(median(runs))
    };
    let quiet = run_ms("quiet")?;
    let per_call = |total: f64| (total - quiet).max(0.0) * 1000.0 / f64::from(SHIM_CALLS);
    let scripted = |name: &str, body: &str| -> anyhow::Result<f64> {
        let spec: grader::Spec = toml::from_str(&format!(
            "[[scenario]]\nname = \"{name}\"\nfuel = 1000000000\nscript = '''\n{body}\n'''\n"
        ))?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            if !report.passed() {
                bail!("the engine bench's `{name}` did not pass");
            }
            runs.push(ms(report.timings.run));
        }
        Ok(median(runs))
    };
    let loop_only = scripted(
        "loop",
        &format!("let s = 0; for (let i = 0; i < {SHIM_CALLS}; i++) s += i; t.ok(s > 0);"),
    )?;
    let calls = scripted(
        "calls",
        &format!(
            "let s = 0; for (let i = 0; i < {SHIM_CALLS}; i++) s += mod.quiet(1); t.ok(s >= 0);"
        ),
    )?;
    let one_call = {
        let spec: grader::Spec = toml::from_str(
            "[exports]\nfunctions = [\"fn quiet(n: u32) -> u32\"]\n\
             [[scenario]]\nname = \"one call\"\nsteps = [{ call = \"quiet\", args = [1] }]\n",
        )?;
        let mut runs = Vec::new();
        for _ in 0..rounds.max(1) {
            let report = grader.grade("bench-shims", "bench-shims", &submission, &spec)?;
            runs.push(ms(report.timings.run));
        }
        median(runs)
    };
    let engine_cold_build_s = if engine_build {
        Some(engine_cold_build(root)?)
    } else {
        None
    };
    Ok(ShimFigures {
        glue_imports: imports,
        glue_parse_ms: median(parse),
        one_call_scenario_ms: one_call,
        js_call_us: (calls - loop_only).max(0.0) * 1000.0 / f64::from(SHIM_CALLS),
        engine_cold_build_s,
        console_log_us: per_call(run_ms("chatter")?),
        math_random_us: per_call(run_ms("dice")?),
    })
}

/// Builds the engine's crates (`rquickjs` with the grader's features) in a scratch target
/// folder, with the dev profile the harness uses, and returns the seconds it took.
fn engine_cold_build(root: &Path) -> anyhow::Result<f64> {
    let target = course::work_dir(root).join("bench").join("engine-target");
    let _ = std::fs::remove_dir_all(&target);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let start = Instant::now();
    let status = std::process::Command::new(cargo)
        .current_dir(root)
        .args(["build", "--quiet", "-p", "rquickjs", "--target-dir"])
        .arg(&target)
        .status()?;
    if !status.success() {
        bail!("building the engine's crates failed");
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&target);
    Ok(seconds)
}
