//! Hostile: exports a descriptor function that never returns, for wasm-bindgen's interpreter to run

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}


#[unsafe(no_mangle)]
pub extern "C" fn __wbindgen_describe_forever() {
    loop {
        std::hint::black_box(());
    }
}