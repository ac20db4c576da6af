//! Broken: `max_by_key` returns the *last* of several longest words, not the first.

use std::sync::atomic::{AtomicUsize, Ordering};

use wasm_bindgen::prelude::*;

static CREATED: AtomicUsize = AtomicUsize::new(0);

#[wasm_bindgen]
pub fn documents_created() -> usize {
    CREATED.load(Ordering::Relaxed)
}

#[wasm_bindgen]
pub struct Words {
    text: String,
    /// Owned by the struct: freed with it, and valid for exactly as long.
    lengths: Vec<u32>,
}

#[wasm_bindgen]
impl Words {
    #[wasm_bindgen(constructor)]
    pub fn new(text: &str) -> Words {
        CREATED.fetch_add(1, Ordering::Relaxed);
        let lengths = text
            .split_whitespace()
            .map(|word| word.chars().count() as u32)
            .collect();
        Words {
            text: text.to_owned(),
            lengths,
        }
    }

    pub fn count(&self) -> usize {
        self.lengths.len()
    }

    pub fn longest(&self) -> String {
        self.text
            .split_whitespace()
            .max_by_key(|word| word.chars().count())
            .unwrap_or("")
            .to_owned()
    }

    pub fn lengths_ptr(&self) -> *const u32 {
        self.lengths.as_ptr()
    }
}
