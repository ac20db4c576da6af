//! Exercise 21/05: fix the leak. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 05-fix-the-leak`.
//!
//! Everything here gives the right answers. Run `cargo xtask grade 05-fix-the-leak` and read
//! the `leaks` lines: each names an allocation that is never freed.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

/// Every text ever passed to `Words::new`, kept to count documents.
static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[wasm_bindgen]
pub fn documents_created() -> usize {
    CREATED.lock().map_or(0, |created| created.len())
}

#[wasm_bindgen]
pub struct Words {
    // A `#[wasm_bindgen]` struct cannot hold a borrowed `&str`, so the text is made `'static`.
    text: &'static str,
}

#[wasm_bindgen]
impl Words {
    #[wasm_bindgen(constructor)]
    pub fn new(text: &str) -> Words {
        if let Ok(mut created) = CREATED.lock() {
            created.push(text.to_owned());
        }
        Words {
            text: Box::leak(text.to_owned().into_boxed_str()),
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
        // Without this the lengths would be freed on return and the host's pointer would dangle.
        std::mem::forget(lengths);
        ptr
    }
}
