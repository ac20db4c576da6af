//! Hostile: a macro that expands to two copies of itself, forty levels deep

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}


macro_rules! bomb {
    () => {};
    (x $($rest:tt)*) => { bomb!($($rest)*); bomb!($($rest)*); };
}

#[allow(dead_code)]
fn boom() {
    bomb!(x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x);
}