//! A tiny exercise whose scenarios miss one mutant of `add`: they never add a second number
//! other than 0, so `a - b` passes them.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[wasm_bindgen]
pub fn double(byte: u8) -> u32 {
    u32::from(byte) * 2
}
