//! Broken: treats a full log as a bug and panics, instead of refusing the bytes.

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

    fn room(&self) -> usize {
        self.bytes.capacity() - self.bytes.len()
    }

    pub fn push(&mut self, byte: u8) -> bool {
        assert!(self.room() > 0, "the log is full");
        self.bytes.push(byte);
        true
    }

    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        assert!(bytes.len() <= self.room(), "the log is full");
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
