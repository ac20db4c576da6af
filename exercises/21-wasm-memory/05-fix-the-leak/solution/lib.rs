//! Reference solution for 21/05.

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
        let mut longest = "";
        for word in self.text.split_whitespace() {
            if word.chars().count() > longest.chars().count() {
                longest = word;
            }
        }
        longest.to_owned()
    }

    pub fn lengths_ptr(&self) -> *const u32 {
        self.lengths.as_ptr()
    }
}
