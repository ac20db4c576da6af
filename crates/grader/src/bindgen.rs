//! The bindgen step: wasm-bindgen's own processing, in process, turns the raw module rustc
//! wrote into the module JavaScript would load, plus its TypeScript declarations, which the
//! grader reads to describe the exports the way a JavaScript caller sees them.

use wasm_bindgen_cli_support::Bindgen;

/// The processed module and its `.d.ts`.
#[derive(Debug, Clone)]
pub struct Processed {
    pub wasm: Vec<u8>,
    pub typescript: String,
}

/// Runs wasm-bindgen over `raw`. `keep_debug` keeps DWARF, for file:line in backtraces.
///
/// An error here means the raw module is not a wasm-bindgen module the pinned version
/// understands (for example one built with another wasm-bindgen version).
pub fn process(raw: &[u8], keep_debug: bool) -> Result<Processed, String> {
    let mut bindgen = Bindgen::new();
    bindgen
        .input_bytes("submission", raw.to_vec())
        .typescript(true)
        .keep_debug(keep_debug)
        .demangle(true);
    bindgen.web(true).map_err(|e| format!("{e:#}"))?;
    let mut output = bindgen.generate_output().map_err(|e| format!("{e:#}"))?;
    let typescript = output.ts().unwrap_or_default().to_owned();
    let wasm = output.wasm_mut().emit_wasm();
    Ok(Processed { wasm, typescript })
}
