//! Hostile: installs its own global allocator to bypass the counting one

use wasm_bindgen::prelude::*;

use std::alloc::{GlobalAlloc, Layout, System};

struct Quiet;

unsafe impl GlobalAlloc for Quiet {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static QUIET: Quiet = Quiet;

#[wasm_bindgen]
pub fn invert(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| 255 - b).collect()
}

#[wasm_bindgen]
pub fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|&b| u32::from(b)).sum()
}
