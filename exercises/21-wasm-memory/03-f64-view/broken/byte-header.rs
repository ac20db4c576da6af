//! Broken: keeps the samples as bytes after a 4-byte count header, so sample 0 sits at an
//! address that is 4 more than a multiple of 8.

use wasm_bindgen::prelude::*;

const HEADER: usize = 4;

#[wasm_bindgen]
pub struct Samples {
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl Samples {
    #[wasm_bindgen(constructor)]
    pub fn new(count: usize) -> Samples {
        let mut bytes = vec![0; HEADER + 8 * count];
        bytes[..HEADER].copy_from_slice(&(count as u32).to_le_bytes());
        Samples { bytes }
    }

    pub fn ptr(&self) -> *const f64 {
        self.bytes[HEADER..].as_ptr().cast()
    }

    pub fn len(&self) -> usize {
        (self.bytes.len() - HEADER) / 8
    }

    pub fn element_ptr(&self, index: usize) -> *const f64 {
        self.bytes[HEADER + 8 * index..].as_ptr().cast()
    }

    fn samples(&self) -> impl Iterator<Item = f64> + '_ {
        self.bytes[HEADER..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
    }

    pub fn mean(&self) -> f64 {
        if self.len() == 0 {
            return 0.0;
        }
        self.samples().sum::<f64>() / self.len() as f64
    }

    pub fn scale(&mut self, factor: f64) {
        for c in self.bytes[HEADER..].chunks_exact_mut(8) {
            let v = f64::from_le_bytes((&*c).try_into().expect("8 bytes")) * factor;
            c.copy_from_slice(&v.to_le_bytes());
        }
    }
}
