//! Exercise 21/01: copy in, copy out. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 01-copy-in-copy-out`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    // TODO: every byte `b` becomes `255 - b`.
    data.to_vec()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    // TODO: the sum of all bytes.
    let _ = data;
    0
}
