//! The bindgen step: wasm-bindgen's own processing, in process, turns the raw module rustc
//! wrote into the module JavaScript would load, plus its TypeScript declarations, which the
//! grader reads to describe the exports the way a JavaScript caller sees them.

use wasm_bindgen_cli_support::Bindgen;

/// The processed module, its JavaScript glue and its `.d.ts`.
#[derive(Debug, Clone)]
pub struct Processed {
    pub wasm: Vec<u8>,
    /// The ES module wasm-bindgen writes beside the wasm (`--target web`): it defines every
    /// JavaScript function the module imports.
    pub js: String,
    pub typescript: String,
    /// The JavaScript the crate wrote itself (`#[wasm_bindgen(inline_js = ...)]`), as the
    /// modules the glue imports: `(specifier, source)`.
    pub snippets: Vec<(String, String)>,
}

/// Runs wasm-bindgen over `raw`. `keep_debug` keeps DWARF, for file:line in backtraces.
///
/// An error here means the raw module is not a wasm-bindgen module the pinned version
/// understands (for example one built with another wasm-bindgen version).
///
/// `typescript` also generates the `.d.ts` (a few milliseconds more): the grader asks for it
/// only to explain a signature mismatch. Names are left mangled: wasmtime demangles them itself
/// when it builds a backtrace, which is rare, rather than on every build.
///
/// wasm-bindgen interprets the module's descriptor functions and panics on much it does not
/// expect: a module is first checked to describe itself in bounded work ([`describe_work`]),
/// and a panic inside wasm-bindgen is this module's error, never the grader's end.
pub fn process(raw: &[u8], keep_debug: bool, typescript: bool) -> Result<Processed, String> {
    describe_work(raw)?;
    std::panic::catch_unwind(|| run_bindgen(raw, keep_debug, typescript)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no message");
        Err(format!("wasm-bindgen failed on this module: {what}"))
    })
}

/// Most wasm instructions wasm-bindgen's descriptor interpreter may have to run for one
/// module; real descriptors take a few thousand.
pub const DESCRIBE_STEPS: u64 = 10_000_000;

/// Checks that wasm-bindgen's descriptor interpreter ends, and soon, on this module. It runs
/// the `__wbindgen_describe_*` exports and every function calling the generic-import marker,
/// with no step limit of its own; so each function they reach must be free of loops and of
/// recursion, call no `invoke_*` import (which the interpreter redirects through the table),
/// and the instructions of all calls unfolded must stay within [`DESCRIBE_STEPS`]. A module
/// that does not parse is left for wasm-bindgen to report.
pub fn describe_work(wasm: &[u8]) -> Result<(), String> {
    use wasmparser::{Operator, Parser, Payload, TypeRef};
    struct Function {
        steps: u64,
        loops: bool,
        calls: Vec<u32>,
    }
    let mut imports: Vec<String> = Vec::new();
    let mut roots: Vec<u32> = Vec::new();
    let mut functions: Vec<Function> = Vec::new();
    let parsed = (|| -> wasmparser::Result<()> {
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import?;
                        if let TypeRef::Func(_) = import.ty {
                            imports.push(import.name.to_owned());
                        }
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        if export.name.starts_with("__wbindgen_describe_")
                            && export.kind == wasmparser::ExternalKind::Func
                        {
                            roots.push(export.index);
                        }
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let mut f = Function {
                        steps: 0,
                        loops: false,
                        calls: Vec::new(),
                    };
                    let mut ops = body.get_operators_reader()?;
                    while !ops.eof() {
                        f.steps += 1;
                        match ops.read()? {
                            Operator::Loop { .. } => f.loops = true,
                            Operator::Call { function_index }
                            | Operator::ReturnCall { function_index } => {
                                f.calls.push(function_index)
                            }
                            _ => {}
                        }
                    }
                    functions.push(f);
                }
                _ => {}
            }
        }
        Ok(())
    })();
    if parsed.is_err() {
        return Ok(());
    }
    let imported = imports.len() as u32;
    let marker = imports
        .iter()
        .position(|n| n == "__wbindgen_describe_generic_import");
    if let Some(marker) = marker {
        for (i, f) in functions.iter().enumerate() {
            if f.calls.contains(&(marker as u32)) {
                roots.push(imported + i as u32);
            }
        }
    }
    // Depth-first, remembering each function's unfolded cost; a function met again while it
    // is still being unfolded is recursion.
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done(u64),
    }
    let mut state = vec![State::New; functions.len()];
    let name = |index: u32| format!("function {index}");
    fn cost(
        index: u32,
        imported: u32,
        imports: &[String],
        functions: &[Function],
        state: &mut [State],
        name: &dyn Fn(u32) -> String,
    ) -> Result<u64, String> {
        let Some(local) = index.checked_sub(imported) else {
            let import = &imports[index as usize];
            if import.starts_with("invoke_") {
                return Err(format!(
                    "a wasm-bindgen descriptor calls the import `{import}`, which wasm-bindgen would follow through the function table"
                ));
            }
            return Ok(1);
        };
        let Some(f) = functions.get(local as usize) else {
            return Ok(1);
        };
        match state[local as usize] {
            State::Done(steps) => return Ok(steps),
            State::Open => {
                return Err(format!(
                    "a wasm-bindgen descriptor recurses ({} calls itself)",
                    name(index)
                ));
            }
            State::New => {}
        }
        if f.loops {
            return Err(format!(
                "a wasm-bindgen descriptor loops ({} has a `loop`): wasm-bindgen would run it without end",
                name(index)
            ));
        }
        state[local as usize] = State::Open;
        let mut steps = f.steps;
        for &callee in &f.calls {
            steps = steps.saturating_add(cost(callee, imported, imports, functions, state, name)?);
            if steps > DESCRIBE_STEPS {
                return Err(format!(
                    "wasm-bindgen's descriptors would take more than {DESCRIBE_STEPS} steps to describe the module"
                ));
            }
        }
        state[local as usize] = State::Done(steps);
        Ok(steps)
    }
    let mut total = 0u64;
    for root in roots {
        total = total.saturating_add(cost(
            root, imported, &imports, &functions, &mut state, &name,
        )?);
        if total > DESCRIBE_STEPS {
            return Err(format!(
                "wasm-bindgen's descriptors would take more than {DESCRIBE_STEPS} steps to describe the module"
            ));
        }
    }
    Ok(())
}

fn run_bindgen(raw: &[u8], keep_debug: bool, typescript: bool) -> Result<Processed, String> {
    // DWARF is most of a debug-info build's bytes; parsing it only to drop it again would be
    // most of this step's time.
    let input = if keep_debug {
        raw.to_vec()
    } else {
        strip_debug(raw)
    };
    let mut bindgen = Bindgen::new();
    bindgen
        .input_bytes("submission", input)
        .typescript(typescript)
        .keep_debug(keep_debug)
        .demangle(false);
    bindgen.web(true).map_err(|e| format!("{e:#}"))?;
    let mut output = bindgen.generate_output().map_err(|e| format!("{e:#}"))?;
    let typescript = output.ts().unwrap_or_default().to_owned();
    let js = output.js().to_owned();
    let mut snippets = Vec::new();
    for (identifier, list) in output.snippets() {
        for (i, source) in list.iter().enumerate() {
            snippets.push((
                format!("./snippets/{identifier}/inline{i}.js"),
                source.clone(),
            ));
        }
    }
    for (path, source) in output.local_modules() {
        snippets.push((format!("./snippets/{path}"), source.clone()));
    }
    snippets.sort();
    let wasm = output.wasm_mut().emit_wasm();
    Ok(Processed {
        wasm,
        js,
        typescript,
        snippets,
    })
}

/// One section of a wasm binary.
pub(crate) struct Section<'a> {
    /// Its whole extent in the binary, header included.
    pub(crate) range: std::ops::Range<usize>,
    /// A custom section's name.
    pub(crate) name: Option<&'a str>,
    /// A custom section's payload, after its name.
    pub(crate) data: &'a [u8],
}

/// Every section of a wasm binary, in order. `None` when the bytes do not parse as a sequence
/// of sections.
pub(crate) fn sections(wasm: &[u8]) -> Option<Vec<Section<'_>>> {
    let mut out = Vec::new();
    // Sections follow one another from the end of the 8-byte header.
    let mut start = 8;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        let (name, data) = match &payload {
            wasmparser::Payload::CustomSection(c) => (Some(c.name()), c.data()),
            _ => (None, &[][..]),
        };
        if let Some((_, range)) = payload.as_section() {
            out.push(Section {
                range: start..range.end,
                name,
                data,
            });
            start = range.end;
        }
    }
    Some(out)
}

/// Appends `n` as an unsigned LEB128, as wasm writes sizes and counts.
pub(crate) fn push_leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// The custom sections' names of a wasm binary, or `None` when it does not parse as sections.
pub fn custom_sections(wasm: &[u8]) -> Option<Vec<&[u8]>> {
    Some(
        sections(wasm)?
            .into_iter()
            .filter_map(|s| s.name.map(str::as_bytes))
            .collect(),
    )
}

/// Whether a wasm binary carries DWARF line tables (a `.debug_line` section).
pub fn has_line_tables(wasm: &[u8]) -> bool {
    custom_sections(wasm).is_some_and(|names| names.contains(&&b".debug_line"[..]))
}

/// Drops the `.debug_*` custom sections from a wasm binary. Anything that does not parse as
/// sections is returned unchanged, for wasm-bindgen to report.
pub fn strip_debug(wasm: &[u8]) -> Vec<u8> {
    let Some(sections) = sections(wasm) else {
        return wasm.to_vec();
    };
    let mut out = wasm[..8].to_vec();
    for section in sections {
        if !section.name.is_some_and(|n| n.starts_with(".debug_")) {
            out.extend_from_slice(&wasm[section.range]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_debug_sections() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        // custom ".debug_line" with 2 payload bytes, then custom "name" with 1, then a type section
        wasm.extend([0, 14, 11]);
        wasm.extend(b".debug_line");
        wasm.extend([1, 2]);
        wasm.extend([0, 6, 4]);
        wasm.extend(b"name");
        wasm.extend([9]);
        wasm.extend([1, 1, 0]);
        let stripped = strip_debug(&wasm);
        assert_eq!(&stripped[..8], &wasm[..8]);
        assert_eq!(
            &stripped[8..],
            &[0, 6, 4, b'n', b'a', b'm', b'e', 9, 1, 1, 0]
        );
        assert_eq!(strip_debug(b"not wasm"), b"not wasm");
        assert_eq!(
            custom_sections(&wasm),
            Some(vec![&b".debug_line"[..], &b"name"[..]])
        );
    }
}
