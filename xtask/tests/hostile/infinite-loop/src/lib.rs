//! Hostile: never returns

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let mut sum = 0u32;
    while std::hint::black_box(true) {
        sum = sum.wrapping_add(data.len() as u32);
    }
    sum
}
