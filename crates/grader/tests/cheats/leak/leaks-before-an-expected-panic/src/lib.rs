use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn checksum(len: usize) -> u32 {
    let data = vec![1u8; len];
    let sum = data.iter().map(|&b| u32::from(b)).sum();
    std::mem::forget(data);
    sum
}

#[wasm_bindgen]
pub fn reject(len: usize) {
    assert!(len > 0, "empty input");
}
