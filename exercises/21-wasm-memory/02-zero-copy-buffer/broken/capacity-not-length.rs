//! Broken: reserves `size` bytes but never fills them in, so the buffer's length stays 0.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Buffer {
    data: Vec<u8>,
}

#[wasm_bindgen]
impl Buffer {
    #[wasm_bindgen(constructor)]
    pub fn new(size: usize) -> Buffer {
        Buffer {
            data: Vec::with_capacity(size),
        }
    }

    pub fn ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn sum(&self) -> u32 {
        self.data.iter().map(|&b| u32::from(b)).sum()
    }

    pub fn fill(&mut self, value: u8) {
        self.data.fill(value);
    }
}
