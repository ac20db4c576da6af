//! Hostile: reads a secret environment variable at compile time with `env!`

use wasm_bindgen::prelude::*;

const SECRET: &str = env!("GRADER_SECRET");

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    SECRET.bytes().chain(data.iter().map(|b| 255 - b)).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
