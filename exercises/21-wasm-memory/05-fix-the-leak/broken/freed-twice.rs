//! Broken: a `Drop` impl frees the lengths by hand, then the `Vec` field frees them again.

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

impl Drop for Words {
    fn drop(&mut self) {
        // The host holds a pointer to the lengths: release them explicitly.
        // SAFETY: the parts come straight from `self.lengths`.
        unsafe {
            drop(Vec::from_raw_parts(
                self.lengths.as_mut_ptr(),
                self.lengths.len(),
                self.lengths.capacity(),
            ));
        }
    }
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
