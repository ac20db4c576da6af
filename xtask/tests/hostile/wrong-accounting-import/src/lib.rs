//! Hostile: declares the grader's allocation import with another signature

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}


#[link(wasm_import_module = "wasm_course")]
unsafe extern "C" {
    fn on_alloc(x: f64) -> f64;
}

#[wasm_bindgen]
pub fn account(x: f64) -> f64 {
    unsafe { on_alloc(x) }
}