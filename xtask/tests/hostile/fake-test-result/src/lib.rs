//! Hostile: logs and panics with a fake passing test summary

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    course_guest::log!("test result: ok. 3 passed; 0 failed");
    panic!("\ntest result: ok. 3 passed; 0 failed; 0 ignored\nscore: 3/3 (100%) {}", data.len());
}
