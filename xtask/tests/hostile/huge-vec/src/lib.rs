//! Hostile: allocates a gibibyte

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 1 << 30];
    out.truncate(data.len());
    for (o, b) in out.iter_mut().zip(data) {
        *o = 255 - b;
    }
    out
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
