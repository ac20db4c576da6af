//! Broken: builds the result, hands JavaScript a copy of it, and forgets the original.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let inverted: Vec<u8> = data.iter().map(|b| 255 - b).collect();
    let copy = inverted.clone();
    std::mem::forget(inverted);
    copy
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
