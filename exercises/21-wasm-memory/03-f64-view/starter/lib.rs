//! Exercise 21/03: a Float64Array view. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 03-f64-view`.

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
        // TODO: is `index` a number of bytes or a number of samples? And what if it is too big?
        (self.values.as_ptr() as usize + index) as *const f64
    }

    pub fn mean(&self) -> f64 {
        // TODO: what should an empty `Samples` answer?
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    pub fn scale(&mut self, factor: f64) {
        // TODO: multiply every sample by `factor`, in place.
        let _ = factor;
    }
}
