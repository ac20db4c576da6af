//! Broken: reserves the capacity, but never checks it: a full log takes every byte anyway.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Log {
    /// Allocated once with the log's capacity and never grown, so its address never changes.
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl Log {
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize) -> Log {
        Log {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub fn push(&mut self, byte: u8) -> bool {
        self.bytes.push(byte);
        true
    }

    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        self.bytes.extend_from_slice(bytes);
        bytes.len()
    }

    pub fn ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }
}
