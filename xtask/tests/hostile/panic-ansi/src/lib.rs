//! Hostile: panics with terminal escapes that would clear the screen and recolour the report

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    panic!("\x1b[2J\x1b[H\x1b[32m✔ all checks passed\x1b[0m {}", data.len());
}
