//! Broken: builds the lengths on every call and `mem::forget`s them so the pointer stays valid.

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
}

#[wasm_bindgen]
impl Words {
    #[wasm_bindgen(constructor)]
    pub fn new(text: &str) -> Words {
        CREATED.fetch_add(1, Ordering::Relaxed);
        Words {
            text: text.to_owned(),
        }
    }

    pub fn count(&self) -> usize {
        self.text.split_whitespace().count()
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
        let lengths: Vec<u32> = self
            .text
            .split_whitespace()
            .map(|word| word.chars().count() as u32)
            .collect();
        let ptr = lengths.as_ptr();
        std::mem::forget(lengths);
        ptr
    }
}
