//! The JavaScript shims against the real thing. Each crate in `tests/shims/` calls one group of
//! JavaScript functions (the console, `console_error_panic_hook`, the clock, `Math.random`,
//! wasm-bindgen's value intrinsics). The test grades it, and runs the same processed module
//! under node through the glue wasm-bindgen wrote for it, with the same seed for
//! `Math.random`; the two must agree on every returned value, every line of output, every panic
//! and every thrown error.
//!
//! What node printed is kept beside each crate in `node.json`, so the comparison also runs
//! where node is not installed. Where it is, node runs again and must print the same (after
//! timings are blanked); `UPDATE_NODE_TRANSCRIPTS=1` rewrites a stale transcript. CI has node
//! and requires it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use grader::{Report, Verdict};
use serde_json::{Value as Json, json};

use super::{fixture, grader, node, slot};

/// What one scenario did under node (or the grader), in one shape.
type Transcript = BTreeMap<String, Json>;

const DRIVER: &str = r#"
import { readFileSync, writeFileSync } from 'node:fs';
import { format } from 'node:util';
import { pathToFileURL } from 'node:url';

const [glue, wasmPath, callsPath, seed, outPath] = process.argv.slice(2);
const calls = JSON.parse(readFileSync(callsPath, 'utf8'));
const out = { steps: [], lines: [], panic: null };
const capture = (prefix) => (...args) => {
    const text = format(...args);
    // console_error_panic_hook: the panic, a blank line, "Stack:" and a stack trace.
    if (prefix === 'error: ' && text.includes('\n\nStack:\n\n')) {
        out.panic = text.split('\n\nStack:\n\n')[0];
        return;
    }
    out.lines.push(prefix + text);
};
console.log = capture('');
console.info = capture('');
console.debug = capture('');
console.warn = capture('warning: ');
console.error = capture('error: ');
globalThis.alert = (m) => out.lines.push('alert: ' + (m === undefined ? '' : String(m)));
process.removeAllListeners('warning');
process.on('warning', (w) => out.lines.push('warning: ' + w.message));

// The grader's Math.random: SplitMix64, the top 53 bits as a fraction.
let state = BigInt.asUintN(64, BigInt(seed));
Math.random = () => {
    state = BigInt.asUintN(64, state + 0x9E3779B97F4A7C15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94D049BB133111EBn);
    z = z ^ (z >> 31n);
    return Number(z >> 11n) / 2 ** 53;
};

const mod = await import(pathToFileURL(glue).href);
mod.initSync({ module: readFileSync(wasmPath) });
for (const [name, args] of calls) {
    try {
        const value = mod[name](...args);
        out.steps.push({ value: value === undefined ? null : value });
    } catch (e) {
        if (e instanceof WebAssembly.RuntimeError) {
            out.steps.push({ trap: e.message });
        } else {
            out.steps.push({ threw: e instanceof Error ? e.message : String(e) });
        }
        break;
    }
}
// Warnings arrive on the next turn of the event loop.
await new Promise((resolve) => setTimeout(resolve, 20));
writeFileSync(outPath, JSON.stringify(out));
"#;

fn shims() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shims");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("scenario.toml").exists())
        .collect();
    dirs.sort();
    dirs
}

/// `name: 0.123ms` → `name: <time>`: node's clock and the grader's virtual one differ.
fn blank_timings(line: &str) -> String {
    match line.rsplit_once(": ") {
        Some((label, time))
            if time.ends_with("ms")
                && time[..time.len() - 2]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.') =>
        {
            format!("{label}: <time>")
        }
        _ => line.to_owned(),
    }
}

fn run_node(dir: &Path, spec: &grader::Spec) -> Transcript {
    let work = node::workspace(dir, &dir.file_name().unwrap().to_string_lossy(), DRIVER);
    let mut transcript = Transcript::new();
    for scenario in &spec.scenarios {
        let calls: Vec<Json> = scenario
            .steps
            .iter()
            .map(|step| match step {
                grader::spec::Step::Call(call) => json!([
                    call.target,
                    call.args.iter().map(to_json).collect::<Vec<_>>()
                ]),
                other => panic!("shim fixtures only call free functions: {other:?}"),
            })
            .collect();
        std::fs::write(work.join("calls.json"), Json::Array(calls).to_string()).unwrap();
        let seed = scenario
            .seed
            .unwrap_or_else(|| grader::default_seed(&scenario.name));
        let out = work.join("out.json");
        let _ = std::fs::remove_file(&out);
        let status = Command::new("node")
            .current_dir(&work)
            .args([
                "driver.mjs",
                "submission.js",
                "submission_bg.wasm",
                "calls.json",
            ])
            .arg(seed.to_string())
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}: node failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&status.stderr)
        );
        let mut result: Json =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        if let Some(lines) = result["lines"].as_array_mut() {
            for line in lines {
                *line = Json::String(blank_timings(line.as_str().unwrap()));
            }
        }
        transcript.insert(scenario.name.clone(), result);
    }
    transcript
}

fn to_json(v: &grader::spec::Value) -> Json {
    use grader::spec::Value;
    match v {
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(x) => json!(x),
        Value::Str(s) => json!(s),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Object(_) => panic!("objects are not passed to shim fixtures"),
    }
}

/// A step's result as the report shows it (Rust's `Debug` of the value), as JSON.
fn result_json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_owned()))
}

fn same_value(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// Everything the grader's report says that node's transcript also says, compared.
fn compare(dir: &Path, report: &Report, node: &Transcript) -> Vec<String> {
    let mut wrong = Vec::new();
    let name = dir.file_name().unwrap().to_string_lossy();
    assert!(
        report.preflight.iter().all(|c| c.failure().is_none()),
        "{name}: the grader refused the module:\n{}",
        report.render(grader::Render {
            color: false,
            show_hidden: true
        })
    );
    for scenario in &report.scenarios {
        let Some(theirs) = node.get(&scenario.name) else {
            wrong.push(format!("{name}: node has no run of `{}`", scenario.name));
            continue;
        };
        let mut say = |what: String| wrong.push(format!("{name} / {}: {what}", scenario.name));
        let node_steps = theirs["steps"].as_array().cloned().unwrap_or_default();
        if node_steps.len() != scenario.steps.len() {
            say(format!(
                "the grader took {} steps, node {}",
                scenario.steps.len(),
                node_steps.len()
            ));
        }
        for (step, theirs) in scenario.steps.iter().zip(&node_steps) {
            if let (Some(ours), Some(value)) = (&step.result, theirs.get("value"))
                && !same_value(&result_json(ours), value)
            {
                say(format!(
                    "`{}` returned {ours} here, {value} under node",
                    step.text
                ));
            }
        }
        let ours: Vec<String> = scenario.logs.iter().map(|l| blank_timings(l)).collect();
        let lines: Vec<String> = theirs["lines"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if ours != lines {
            say(format!(
                "output differs:\n  grader: {ours:?}\n  node:   {lines:?}"
            ));
        }
        let failure = scenario.checks.iter().find_map(|c| c.failure());
        if let Some(panic) = theirs["panic"].as_str() {
            // "panicked at src/lib.rs:9:9:\nthe message"
            let (location, text) = panic
                .strip_prefix("panicked at ")
                .and_then(|p| p.split_once(":\n"))
                .unwrap_or(("", panic));
            match failure {
                Some(f)
                    if f.verdict == Verdict::Panic
                        && f.message == format!("your code panicked: {text}")
                        && f.location.as_deref().is_some_and(|l| l.contains(location)) => {}
                other => say(format!(
                    "node saw the panic {panic:?}, the grader {other:?}"
                )),
            }
        }
        if let Some(thrown) = node_steps.last().and_then(|s| s["threw"].as_str()) {
            match failure {
                Some(f)
                    if f.verdict == Verdict::Thrown
                        && f.message == format!("threw a JavaScript error: {thrown}") => {}
                other => say(format!("node saw {thrown:?} thrown, the grader {other:?}")),
            }
        }
    }
    wrong
}

#[test]
fn shims_agree_with_node_running_the_same_glue() {
    let node = node::available();
    assert!(
        node || std::env::var_os("CI").is_none(),
        "node is needed for this test in CI"
    );
    let update = std::env::var_os("UPDATE_NODE_TRANSCRIPTS").is_some();
    let mut wrong = Vec::new();
    for dir in shims() {
        let (spec, submission) = fixture(&dir);
        let report = grader()
            .grade(&slot(&dir), &slot(&dir), &submission, &spec)
            .unwrap();
        let stored_path = dir.join("node.json");
        let stored: Option<Transcript> = std::fs::read_to_string(&stored_path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        let transcript = if node {
            let fresh = run_node(&dir, &spec);
            if update {
                let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
                std::fs::write(&stored_path, text).unwrap();
            } else if stored.as_ref() != Some(&fresh) {
                wrong.push(format!(
                    "{}: node.json is stale (run with UPDATE_NODE_TRANSCRIPTS=1): node now prints\n{}",
                    dir.display(),
                    serde_json::to_string_pretty(&fresh).unwrap()
                ));
            }
            fresh
        } else {
            eprintln!("node is not installed: comparing with the stored transcripts");
            stored.unwrap_or_else(|| panic!("{} has no node.json", dir.display()))
        };
        wrong.extend(compare(&dir, &report, &transcript));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn math_random_replays_from_the_seed_in_the_report() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shims/random");
    let (mut spec, submission) = fixture(&dir);
    let first = grader()
        .grade(&slot(&dir), &slot(&dir), &submission, &spec)
        .unwrap();
    let seed = first.scenarios[0].seed.expect("the report names the seed");
    assert_eq!(seed, 2026);
    // Another seed, other numbers; the same seed again, the same numbers.
    spec.scenarios[0].seed = Some(7);
    let other = grader()
        .grade(&slot(&dir), &slot(&dir), &submission, &spec)
        .unwrap();
    assert_ne!(first.scenarios[0].steps, other.scenarios[0].steps);
    spec.scenarios[0].seed = Some(seed);
    let again = grader()
        .grade(&slot(&dir), &slot(&dir), &submission, &spec)
        .unwrap();
    assert_eq!(first.scenarios[0].steps, again.scenarios[0].steps);
    assert_eq!(first.scenarios[0].logs, again.scenarios[0].logs);
}

#[test]
fn every_import_is_described_by_what_its_glue_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let describe = |dir: &Path| {
        let (_, submission) = fixture(dir);
        grader()
            .describe_imports(&slot(dir), &submission)
            .unwrap()
            .expect("it builds")
    };
    let console = describe(&root.join("tests/shims/console"));
    let glue = |text: &str| {
        console
            .iter()
            .any(|i| matches!(&i.served, grader::Served::Glue(js) if js.contains(text)))
    };
    assert!(
        glue("console.log(getStringFromWasm0(arg0, arg1))"),
        "{console:#?}"
    );
    assert!(glue("console.log(arg0 >>> 0)"));
    assert!(glue("alert(getStringFromWasm0(arg0, arg1))"));
    assert!(console.iter().any(|i| i.served == grader::Served::Guest));
    let browser = describe(&root.join("tests/fixtures/needs-browser/canvas-and-animation-frame"));
    let needs: Vec<&Vec<String>> = browser
        .iter()
        .filter_map(|i| match &i.served {
            grader::Served::NeedsBrowser { needs, .. } => Some(needs),
            _ => None,
        })
        .collect();
    // Each browser global the glue's functions name, once per function that names it.
    let mut named: Vec<&str> = needs
        .iter()
        .flat_map(|n| n.iter().map(String::as_str))
        .collect();
    named.sort_unstable();
    assert_eq!(
        named,
        ["crypto", "document", "requestAnimationFrame"],
        "{browser:#?}"
    );
}
