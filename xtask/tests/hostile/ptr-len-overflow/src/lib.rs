//! Hostile: returns a `Vec` whose pointer plus length wraps around

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    let _ = data;
    unsafe { Vec::from_raw_parts(0xffff_fff0usize as *mut u8, 0x100, 0x100) }
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
