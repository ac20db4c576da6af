//! Hostile: recurses without end

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

fn depth(n: u32) -> u32 {
    if std::hint::black_box(n) == u32::MAX {
        return 0;
    }
    1 + depth(n + 1)
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    depth(data.len() as u32)
}
