//! Broken: `scale` collects the scaled samples into a new `Vec`, freeing the one the host's
//! view shows.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub struct Samples {
    values: Vec<f64>,
}

#[wasm_bindgen]
impl Samples {
    #[wasm_bindgen(constructor)]
    pub fn new(count: usize) -> Samples {
        Samples {
            values: vec![0.0; count],
        }
    }

    pub fn ptr(&self) -> *const f64 {
        self.values.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn element_ptr(&self, index: usize) -> *const f64 {
        self.values[index..].as_ptr()
    }

    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            return 0.0;
        }
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    pub fn scale(&mut self, factor: f64) {
        self.values = self.values.iter().map(|v| v * factor).collect();
    }
}
