//! Hostile: frees the same buffer twice through `Vec::from_raw_parts`

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let mut copy = data.to_vec();
    copy.reserve_exact(1);
    let (ptr, len, cap) = (copy.as_mut_ptr(), copy.len(), copy.capacity());
    std::mem::forget(copy);
    let first = unsafe { Vec::from_raw_parts(ptr, len, cap) };
    let sum = first.iter().map(|&b| u32::from(b)).sum();
    drop(first);
    drop(unsafe { Vec::from_raw_parts(ptr, len, cap) });
    sum
}
