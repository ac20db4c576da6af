//! Broken: sums in a `u8`, which wraps around past 255.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    u32::from(data.iter().fold(0u8, |acc, &b| acc.wrapping_add(b)))
}
