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
}

/// Runs wasm-bindgen over `raw`. `keep_debug` keeps DWARF, for file:line in backtraces.
///
/// An error here means the raw module is not a wasm-bindgen module the pinned version
/// understands (for example one built with another wasm-bindgen version).
///
/// `typescript` also generates the `.d.ts` (a few milliseconds more): the grader asks for it
/// only to explain a signature mismatch. Names are left mangled: wasmtime demangles them itself
/// when it builds a backtrace, which is rare, rather than on every build.
pub fn process(raw: &[u8], keep_debug: bool, typescript: bool) -> Result<Processed, String> {
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
    let wasm = output.wasm_mut().emit_wasm();
    Ok(Processed {
        wasm,
        js,
        typescript,
    })
}

/// The custom sections' names of a wasm binary, or `None` when it does not parse as sections.
pub fn custom_sections(wasm: &[u8]) -> Option<Vec<&[u8]>> {
    let mut names = Vec::new();
    for_each_section(wasm, |id, body| {
        if id == 0
            && let Some((n, at)) = leb(body, 0)
        {
            names.push(body.get(at..at + n).unwrap_or_default());
        }
        true
    })?;
    Some(names)
}

fn leb(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((value, at));
        }
    }
    None
}

/// Calls `keep(id, body)` for every section; returns the sections kept, header first, or
/// `None` when the bytes do not parse as a sequence of sections.
pub(crate) fn for_each_section<'a>(
    wasm: &'a [u8],
    mut keep: impl FnMut(u8, &'a [u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut out = wasm.get(..8)?.to_vec();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        let (size, body) = leb(wasm, at + 1)?;
        let end = body.checked_add(size).filter(|&e| e <= wasm.len())?;
        if keep(id, &wasm[body..end]) {
            out.extend_from_slice(&wasm[at..end]);
        }
        at = end;
    }
    Some(out)
}

/// Drops the `.debug_*` custom sections from a wasm binary. Anything that does not parse as
/// sections is returned unchanged, for wasm-bindgen to report.
pub fn strip_debug(wasm: &[u8]) -> Vec<u8> {
    let is_debug = |body: &[u8]| {
        leb(body, 0).is_some_and(|(n, at)| {
            body.get(at..at + n)
                .is_some_and(|s| s.starts_with(b".debug_"))
        })
    };
    for_each_section(wasm, |id, body| !(id == 0 && is_debug(body))).unwrap_or_else(|| wasm.to_vec())
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
