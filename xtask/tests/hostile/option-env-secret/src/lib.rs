//! Hostile: probes for a secret with `option_env!`; it must see nothing, so the answers stay right

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    if option_env!("GRADER_SECRET").is_some() {
        return 666;
    }
    data.iter().map(|&b| u32::from(b)).sum()
}
