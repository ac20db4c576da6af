//! Hostile: pulls a file outside the submission in as a module with `#[path]`

use wasm_bindgen::prelude::*;

#[path = "/etc/hostname"]
mod stolen;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
