//! Your exercise. Build it for the browser with
//! `cargo build --release --target wasm32-unknown-unknown`, grade it with `cargo xtask grade`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn add(a: u32, b: u32) -> u32 {
    a + b
}
