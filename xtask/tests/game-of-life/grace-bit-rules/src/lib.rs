//! Correct, written differently: plain bytes, signed offsets wrapped with `rem_euclid`, the rule
//! as a bit trick, and a fresh next generation per tick that is copied back and then dropped.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Dead = 0,
    Alive = 1,
}

const OFFSETS: [(i64, i64); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
];

#[wasm_bindgen]
pub struct Universe {
    width: u32,
    height: u32,
    /// 0 or 1 per cell, the same bytes as `Cell`.
    bytes: Vec<u8>,
}

impl Default for Universe {
    fn default() -> Self {
        Self::new()
    }
}

#[wasm_bindgen]
impl Universe {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Universe {
        let bytes = (0..64 * 64)
            .map(|i: u32| u8::from(i % 2 == 0 || i % 7 == 0))
            .collect();
        Universe {
            width: 64,
            height: 64,
            bytes,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn set_width(&mut self, width: u32) {
        self.width = width;
        self.bytes = vec![Cell::Dead as u8; (self.width * self.height) as usize];
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.bytes = vec![Cell::Dead as u8; (self.width * self.height) as usize];
    }

    pub fn cells(&self) -> *const u8 {
        self.bytes.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        self.bytes[(row * self.width + column) as usize] ^= 1;
    }

    pub fn tick(&mut self) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let next: Vec<u8> = (0..w * h)
            .map(|i| {
                let (row, col) = (i / w, i % w);
                let alive = self.bytes[i as usize];
                let n: u8 = OFFSETS
                    .iter()
                    .map(|(dr, dc)| {
                        let r = (row + dr).rem_euclid(h);
                        let c = (col + dc).rem_euclid(w);
                        self.bytes[(r * w + c) as usize]
                    })
                    .sum();
                // 3 neighbours, or 2 and alive: exactly when `n | alive == 3`.
                u8::from((n | alive) == 3)
            })
            .collect();
        self.bytes.copy_from_slice(&next);
    }
}
