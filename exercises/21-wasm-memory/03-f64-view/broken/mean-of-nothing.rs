//! Broken: divides by the length even when it is 0, so an empty `Samples` has a NaN mean.

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
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }

    pub fn scale(&mut self, factor: f64) {
        for v in &mut self.values {
            *v *= factor;
        }
    }
}
