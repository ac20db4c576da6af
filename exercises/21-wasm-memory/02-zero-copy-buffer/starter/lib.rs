//! Exercise 21/02: a zero-copy buffer. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 02-zero-copy-buffer`.

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
            data: vec![0; size],
        }
    }

    /// Where the bytes start in linear memory.
    pub fn ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn sum(&self) -> u32 {
        // TODO: add up every byte, as the host left them.
        0
    }

    pub fn fill(&mut self, value: u8) {
        // TODO: this gives the right bytes, but does the host's view still show them?
        self.data = vec![value; self.data.len()];
    }
}
