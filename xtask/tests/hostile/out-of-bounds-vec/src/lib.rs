//! Hostile: returns a `Vec` whose pointer lies outside linear memory

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let _ = data;
    unsafe { Vec::from_raw_parts(0xffff_0000usize as *mut u8, 64, 64) }
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
