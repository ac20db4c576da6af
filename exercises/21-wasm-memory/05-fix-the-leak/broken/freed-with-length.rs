//! Broken: keeps the lengths as a raw pointer and frees them with their length as the
//! capacity; `push` left room for more, so the layout does not match the allocation.

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
    /// The lengths as raw parts, freed by hand in `Drop`.
    lengths: *mut u32,
    count: usize,
}

impl Drop for Words {
    fn drop(&mut self) {
        // SAFETY: `lengths` and `count` are the parts of the `Vec` forgotten in `new`.
        unsafe { drop(Vec::from_raw_parts(self.lengths, self.count, self.count)) }
    }
}

#[wasm_bindgen]
impl Words {
    #[wasm_bindgen(constructor)]
    pub fn new(text: &str) -> Words {
        CREATED.fetch_add(1, Ordering::Relaxed);
        let mut lengths = Vec::new();
        for word in text.split_whitespace() {
            lengths.push(word.chars().count() as u32);
        }
        let count = lengths.len();
        let ptr = lengths.as_mut_ptr();
        std::mem::forget(lengths);
        Words {
            text: text.to_owned(),
            lengths: ptr,
            count,
        }
    }

    pub fn count(&self) -> usize {
        self.count
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
        self.lengths
    }
}
