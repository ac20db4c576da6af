//! Hostile: exports nothing the exercise asks for

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn hello() -> u32 {
    42
}
