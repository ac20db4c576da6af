//! Double buffering by swapping: no allocation per tick, but `cells()` alternates between two
//! grids, so a view kept from before a tick shows the previous generation.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Dead = 0,
    Alive = 1,
}

#[wasm_bindgen]
pub struct Universe {
    width: u32,
    height: u32,
    front: Vec<Cell>,
    back: Vec<Cell>,
}

impl Universe {
    fn index(&self, row: u32, column: u32) -> usize {
        (row * self.width + column) as usize
    }

    fn live_neighbours(&self, row: u32, column: u32) -> u8 {
        let mut n = 0;
        for dr in [self.height - 1, 0, 1] {
            for dc in [self.width - 1, 0, 1] {
                if dr == 0 && dc == 0 {
                    continue;
                }
                let i = self.index((row + dr) % self.height, (column + dc) % self.width);
                n += self.front[i] as u8;
            }
        }
        n
    }

    fn clear(&mut self) {
        self.front = vec![Cell::Dead; (self.width * self.height) as usize];
        self.back = self.front.clone();
    }
}

#[wasm_bindgen]
impl Universe {
    pub fn new() -> Universe {
        let front: Vec<Cell> = (0..64 * 64)
            .map(|i| {
                if i % 2 == 0 || i % 7 == 0 {
                    Cell::Alive
                } else {
                    Cell::Dead
                }
            })
            .collect();
        Universe {
            width: 64,
            height: 64,
            back: front.clone(),
            front,
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
        self.clear();
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.clear();
    }

    pub fn cells(&self) -> *const Cell {
        self.front.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let i = self.index(row, column);
        self.front[i] = match self.front[i] {
            Cell::Dead => Cell::Alive,
            Cell::Alive => Cell::Dead,
        };
    }

    pub fn tick(&mut self) {
        for row in 0..self.height {
            for column in 0..self.width {
                let i = self.index(row, column);
                self.back[i] = match (self.front[i], self.live_neighbours(row, column)) {
                    (Cell::Alive, 2) | (_, 3) => Cell::Alive,
                    _ => Cell::Dead,
                };
            }
        }
        std::mem::swap(&mut self.front, &mut self.back);
    }
}
