//! Broken: leak-free, but every `Words` writes its lengths into one array kept in a `static`:
//! the pointer a live `Words` handed out shows the next document's lengths.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasm_bindgen::prelude::*;

static CREATED: AtomicUsize = AtomicUsize::new(0);

/// One array for every document, in static memory: nothing is allocated, so nothing leaks.
static LENGTHS: Mutex<[u32; 1024]> = Mutex::new([0; 1024]);

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
        let mut lengths = LENGTHS.lock().unwrap();
        for (length, word) in lengths.iter_mut().zip(text.split_whitespace()) {
            *length = word.chars().count() as u32;
        }
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
        LENGTHS.lock().unwrap().as_ptr()
    }
}
