//! Hostile: leaks, and carries garbage DWARF for the grader to read when it looks for the leaked line

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let out: Vec<u8> = data.iter().map(|b| 255 - b).collect();
    std::mem::forget(std::hint::black_box(out.clone()));
    out
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}


#[used]
#[unsafe(link_section = ".debug_info")]
static DWARF: [u8; 32] = [0xff; 32];

