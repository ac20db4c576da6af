//! The feature matrix (`tests/matrix/`): a crate using wasm-bindgen and js-sys features
//! courses use (strings, options, results, every number width, vectors of numbers, strings and
//! structs, getters and setters, enums, closures, js-sys objects, promises and `async`, the
//! crate's own `inline_js`, views and growth), graded through scenarios written in JavaScript. Every scenario must pass, and
//! node, running the same scripts against the same glue and module, must take the same steps
//! to the same ends and print the same lines.
//!
//! node's transcript is kept in `tests/matrix/node.json`, so the comparison also runs where
//! node is not installed; CI has node and requires it (`UPDATE_NODE_TRANSCRIPTS=1` rewrites it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value as Json, json};

use super::{fixture, grader, node, render, slot};

/// The scenario API as the page defines it, for node: the same steps and assertions.
const DRIVER: &str = r#"
import { readFileSync, writeFileSync } from 'node:fs';
import { format } from 'node:util';
import { pathToFileURL } from 'node:url';

const [gluePath, wasmPath, scriptsPath, outPath] = process.argv.slice(2);
const scripts = JSON.parse(readFileSync(scriptsPath, 'utf8'));
let lines = [];
const capture = (prefix) => (...args) => lines.push(prefix + format(...args));
console.log = capture('');
console.info = capture('');
console.warn = capture('warning: ');
console.error = capture('error: ');

class AssertionError extends Error {}
const listy = (x) => Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView));
const same = (a, b) => {
    if (Object.is(a, b) || a === b) return true;
    if (typeof a === 'bigint' || typeof b === 'bigint') return typeof a === typeof b && a === b;
    if (listy(a) && listy(b)) return a.length === b.length && Array.from(a).every((x, i) => same(x, b[i]));
    if (a && b && typeof a === 'object' && typeof b === 'object' && !listy(a) && !listy(b)) {
        const ka = Object.keys(a), kb = Object.keys(b);
        return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
    }
    return false;
};
const types = { u8: Uint8Array, i8: Int8Array, u16: Uint16Array, i16: Int16Array, u32: Uint32Array, i32: Int32Array, f32: Float32Array, f64: Float64Array };
const AsyncFunction = (async function () {}).constructor;
const out = {};
for (const [i, [name, source]] of scripts.entries()) {
    lines = [];
    const steps = [];
    const mod = await import(pathToFileURL(gluePath).href + '?scenario=' + i);
    const wasm = mod.initSync({ module: readFileSync(wasmPath) });
    let current = null;
    const named = {};
    const check = (ok, message) => {
        if (ok) return;
        if (current !== null) throw new AssertionError(message);
        steps.push({ text: message, ok: false });
    };
    const t = {
        memory: wasm.memory,
        async step(label, body) {
            current = { text: String(label), ok: true };
            steps.push(current);
            try {
                let r = typeof body === 'function' ? body() : undefined;
                if (r instanceof Promise) r = await r;
                return r;
            } catch (e) {
                if (e instanceof AssertionError) { current.ok = false; return undefined; }
                throw e;
            } finally { current = null; }
        },
        equal(actual, expected, what) { check(same(actual, expected), what ?? 'values differ'); },
        ok(value, what) { check(!!value, what ?? 'expected a true value'); },
        throws(f, includes, what) {
            try { f(); } catch (e) {
                if (e instanceof WebAssembly.RuntimeError) throw e;
                const m = e instanceof Error ? e.message : String(e);
                check(includes === undefined || m.includes(includes), what ?? 'wrong error');
                return e;
            }
            check(false, what ?? 'expected an error');
        },
        view(ptr, length, type = 'u8', name) {
            const v = { ptr: Number(ptr), length: Number(length), Type: types[type] };
            named[name ?? 'v'] = v;
            steps.push({ text: `${name} = new ${v.Type.name}(memory.buffer, ${v.ptr}, ${v.length})`, ok: true });
            return new v.Type(wasm.memory.buffer, v.ptr, v.length);
        },
        read(name, at, length) {
            const v = named[name];
            steps.push({ text: `${name}.slice(${at}, ${at + length})`, ok: true });
            return Array.from(new v.Type(wasm.memory.buffer, v.ptr, v.length).slice(at, at + length));
        },
    };
    let thrown = null;
    try {
        await new AsyncFunction('mod', 't', source)(mod, t);
    } catch (e) {
        thrown = e instanceof Error ? e.message : String(e);
    }
    out[name] = { steps, lines, thrown };
}
writeFileSync(outPath, JSON.stringify(out));
"#;

/// What one scenario did: its steps (text and whether they held), its lines, what it threw.
type Transcript = BTreeMap<String, Json>;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/matrix")
}

fn run_node(dir: &Path, spec: &grader::Spec) -> Transcript {
    let work = node::workspace(dir, "matrix", DRIVER);
    let scripts: Vec<Json> = spec
        .scenarios
        .iter()
        .map(|s| json!([s.name, s.script.clone().unwrap_or_default()]))
        .collect();
    std::fs::write(work.join("scripts.json"), Json::Array(scripts).to_string()).unwrap();
    let status = Command::new("node")
        .current_dir(&work)
        .args(["driver.mjs", "submission.js", "submission_bg.wasm"])
        .args(["scripts.json", "out.json"])
        .status()
        .unwrap();
    assert!(status.success(), "node failed on the matrix");
    serde_json::from_str(&std::fs::read_to_string(work.join("out.json")).unwrap()).unwrap()
}

#[test]
fn the_feature_matrix_passes_and_node_agrees() {
    let dir = dir();
    let (spec, submission) = fixture(&dir);
    let report = grader()
        .grade(&slot(&dir), &slot(&dir), &submission, &spec)
        .unwrap();
    let rendered = render(&report);
    let features: usize = report.scenarios.iter().map(|s| s.steps.len()).sum();
    assert!(
        features >= 40,
        "the matrix covers {features} features:\n{rendered}"
    );
    assert!(report.passed(), "{rendered}");

    let node = node::available();
    assert!(
        node || std::env::var_os("CI").is_none(),
        "node is needed for this test in CI"
    );
    let stored_path = dir.join("node.json");
    let stored: Option<Transcript> = std::fs::read_to_string(&stored_path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    let mut wrong = Vec::new();
    let transcript = if node {
        let fresh = run_node(&dir, &spec);
        if std::env::var_os("UPDATE_NODE_TRANSCRIPTS").is_some() {
            let text = serde_json::to_string_pretty(&fresh).unwrap() + "\n";
            std::fs::write(&stored_path, text).unwrap();
        } else if stored.as_ref() != Some(&fresh) {
            wrong.push(format!(
                "node.json is stale (run with UPDATE_NODE_TRANSCRIPTS=1): node now prints\n{}",
                serde_json::to_string_pretty(&fresh).unwrap()
            ));
        }
        fresh
    } else {
        eprintln!("node is not installed: comparing with the stored transcript");
        stored.expect("tests/matrix/node.json")
    };
    for scenario in &report.scenarios {
        let theirs = &transcript[&scenario.name];
        let ours: Vec<Json> = scenario
            .steps
            .iter()
            .map(|s| json!({ "text": s.text, "ok": s.ok }))
            .collect();
        if theirs["steps"].as_array() != Some(&ours) {
            wrong.push(format!(
                "{}: steps differ:\n  grader: {ours:?}\n  node:   {:?}",
                scenario.name, theirs["steps"]
            ));
        }
        if theirs["thrown"] != Json::Null {
            wrong.push(format!(
                "{}: node threw {}",
                scenario.name, theirs["thrown"]
            ));
        }
        let lines: Vec<Json> = scenario.logs.iter().map(|l| json!(l)).collect();
        if theirs["lines"].as_array() != Some(&lines) {
            wrong.push(format!(
                "{}: output differs:\n  grader: {lines:?}\n  node:   {:?}",
                scenario.name, theirs["lines"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}\n\n{rendered}", wrong.join("\n\n"));
}
