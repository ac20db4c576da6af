//! Broken: `invert` builds the inverted frame in a second buffer and copies it back; the
//! second buffer makes memory grow under the host's view.

use wasm_bindgen::prelude::*;

/// One page of linear memory: 64 KiB.
pub const PAGE_SIZE: usize = 65_536;

#[wasm_bindgen]
pub fn pages_for(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_SIZE)
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
        let inverted: Vec<u8> = self
            .pixels
            .chunks_exact(4)
            .flat_map(|px| [255 - px[0], 255 - px[1], 255 - px[2], px[3]])
            .collect();
        self.pixels.copy_from_slice(&inverted);
    }
}
