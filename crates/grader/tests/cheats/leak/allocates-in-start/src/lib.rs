use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    // Setup ran before the grader took its baseline: this used to go unseen.
    std::mem::forget(std::hint::black_box(vec![7u8; 4096]));
}

#[wasm_bindgen]
pub fn checksum(len: usize) -> u32 {
    vec![1u8; len].iter().map(|&b| u32::from(b)).sum()
}
