//! Broken: starts from an empty `Vec` and lets it grow up to the limit, reallocating (and
//! moving the bytes) under the pointer the host keeps.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Log {
    /// Grows as bytes arrive, up to `limit`: no memory is spent on room that is never used.
    bytes: Vec<u8>,
    limit: usize,
}

#[wasm_bindgen]
impl Log {
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize) -> Log {
        Log {
            bytes: Vec::new(),
            limit: capacity,
        }
    }

    fn room(&self) -> usize {
        self.limit - self.bytes.len()
    }

    pub fn push(&mut self, byte: u8) -> bool {
        if self.room() == 0 {
            return false;
        }
        self.bytes.push(byte);
        true
    }

    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        let taken = self.room().min(bytes.len());
        self.bytes.extend_from_slice(&bytes[..taken]);
        taken
    }

    pub fn ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn capacity(&self) -> usize {
        self.limit
    }
}
