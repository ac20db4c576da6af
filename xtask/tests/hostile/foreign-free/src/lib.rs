//! Hostile: frees memory the allocator never handed out

use wasm_bindgen::prelude::*;

static TABLE: [u8; 64] = [7; 64];

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let fake = unsafe { Vec::from_raw_parts(TABLE.as_ptr() as *mut u8, 16, 16) };
    drop(fake);
    data.iter().map(|&b| u32::from(b)).sum()
}
