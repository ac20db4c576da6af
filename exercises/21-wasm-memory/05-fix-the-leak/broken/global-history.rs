//! Broken: counts documents by keeping a copy of every text in a global `Vec`.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

/// Every text ever seen: only ever grows.
static CREATED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[wasm_bindgen]
pub fn documents_created() -> usize {
    CREATED.lock().map_or(0, |created| created.len())
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
        if let Ok(mut created) = CREATED.lock() {
            created.push(text.to_owned());
        }
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
