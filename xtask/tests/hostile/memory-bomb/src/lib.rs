//! Hostile: asks `memory.grow` for every page there is

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let grown = core::arch::wasm32::memory_grow(0, 65_000);
    std::hint::black_box(grown);
    data.iter().map(|&b| u32::from(b)).sum()
}
