//! Exercise 21/04: pages and growth. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 04-memory-growth`.

use wasm_bindgen::prelude::*;

/// One page of linear memory: 64 KiB.
pub const PAGE_SIZE: usize = 65_536;

#[wasm_bindgen]
pub fn pages_for(bytes: usize) -> usize {
    // TODO: a partial page still needs a whole page.
    bytes / PAGE_SIZE
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
        // TODO: the result is right, but where does it live? The host holds a view of the old
        // pixels while this runs.
        self.pixels = self
            .pixels
            .chunks_exact(4)
            .flat_map(|px| [255 - px[0], 255 - px[1], 255 - px[2], px[3]])
            .collect();
    }
}
