//! Exercise 21/06: a pointer that stays put. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 06-stale-pointer`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Log {
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl Log {
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize) -> Log {
        // TODO: the log should have room for `capacity` bytes from the start.
        let _ = capacity;
        Log { bytes: Vec::new() }
    }

    pub fn push(&mut self, byte: u8) -> bool {
        // TODO: a full log must refuse the byte instead of growing.
        self.bytes.push(byte);
        true
    }

    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        // TODO: take only as many bytes as fit.
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
