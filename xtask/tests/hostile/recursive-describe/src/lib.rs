//! Hostile: exports a descriptor function that recurses without end

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}


#[inline(never)]
fn deeper(n: u32) -> u32 {
    if std::hint::black_box(n) == u32::MAX { n } else { deeper(n + 1) + 1 }
}

#[unsafe(no_mangle)]
pub extern "C" fn __wbindgen_describe_deep() {
    std::hint::black_box(deeper(0));
}