//! Hostile: panics with a one-megabyte message

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let noise = "x".repeat(1 << 20);
    panic!("{noise}{}", data.len());
}
