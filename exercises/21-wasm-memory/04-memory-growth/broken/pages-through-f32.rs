//! Broken: rounds up through `f32`, whose 24-bit mantissa cannot hold every `usize`: from
//! 16,777,217 bytes on, a size just past a page boundary rounds down onto it.

use wasm_bindgen::prelude::*;

/// One page of linear memory: 64 KiB.
pub const PAGE_SIZE: usize = 65_536;

#[wasm_bindgen]
pub fn pages_for(bytes: usize) -> usize {
    (bytes as f32 / PAGE_SIZE as f32).ceil() as usize
}

#[wasm_bindgen]
pub struct Frame {
    pixels: Vec<u8>,
}

#[wasm_bindgen]
impl Frame {
    #[wasm_bindgen(constructor)]
    pub fn new(width: usize, height: usize) -> Frame {
        Frame {
            pixels: vec![0; width * height * 4],
        }
    }

    pub fn ptr(&self) -> *const u8 {
        self.pixels.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.pixels.len()
    }

    pub fn pages(&self) -> usize {
        pages_for(self.len())
    }

    pub fn invert(&mut self) {
        for px in self.pixels.chunks_exact_mut(4) {
            for channel in &mut px[..3] {
                *channel = 255 - *channel;
            }
        }
    }
}
