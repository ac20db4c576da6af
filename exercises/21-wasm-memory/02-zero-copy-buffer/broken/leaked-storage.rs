//! Broken: keeps the bytes in a leaked `&'static mut [u8]` "so the pointer never dangles";
//! freeing the `Buffer` never frees them.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Buffer {
    data: &'static mut [u8],
}

#[wasm_bindgen]
impl Buffer {
    #[wasm_bindgen(constructor)]
    pub fn new(size: usize) -> Buffer {
        Buffer {
            data: vec![0; size].leak(),
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
