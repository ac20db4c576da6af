//! Broken: leak-free, but every `Words` writes its lengths into one array shared by all of
//! them: the pointer a live `Words` handed out shows the next document's lengths.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasm_bindgen::prelude::*;

static CREATED: AtomicUsize = AtomicUsize::new(0);

/// One array for every document, and how many `Words` use it: freed when the last one goes.
static SHARED: Mutex<(Vec<u32>, usize)> = Mutex::new((Vec::new(), 0));

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
        let mut shared = SHARED.lock().unwrap();
        let (lengths, users) = &mut *shared;
        *users += 1;
        lengths.clear();
        lengths.reserve(1024);
        lengths.extend(text.split_whitespace().map(|w| w.chars().count() as u32));
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
        SHARED.lock().unwrap().0.as_ptr()
    }
}

impl Drop for Words {
    fn drop(&mut self) {
        let mut shared = SHARED.lock().unwrap();
        shared.1 -= 1;
        if shared.1 == 0 {
            shared.0 = Vec::new();
        }
    }
}
