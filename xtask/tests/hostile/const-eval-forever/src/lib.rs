//! Hostile: a constant whose evaluation never ends keeps rustc busy forever
#![allow(long_running_const_eval)]

use wasm_bindgen::prelude::*;

const fn spin() -> u32 {
    let mut i: u64 = 1;
    while i != 0 {
        i = i.wrapping_mul(3);
    }
    0
}

const ZERO: u32 = spin();

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    ZERO + data.iter().map(|&b| u32::from(b)).sum::<u32>()
}
