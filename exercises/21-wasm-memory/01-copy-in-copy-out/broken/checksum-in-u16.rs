//! Broken: accumulates the checksum in a `u16`, which wraps around past 65,535 (release builds
//! do not check for overflow): right for every short input, wrong from 258 bytes of 255 on.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    let mut sum: u16 = 0;
    for &b in data {
        sum += u16::from(b);
    }
    u32::from(sum)
}
