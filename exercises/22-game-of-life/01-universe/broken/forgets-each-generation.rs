//! Broken: updates the grid in place, from a scratch generation allocated on every tick and
//! then forgotten instead of dropped: 4 KiB lost per tick of a 64×64 universe.

use wasm_bindgen::prelude::*;

/// One byte per cell, so JavaScript reads the grid through a `Uint8Array`.
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
    /// The grid JavaScript reads, row after row.
    cells: Vec<Cell>,
}

impl Universe {
    fn index(&self, row: u32, column: u32) -> usize {
        (row * self.width + column) as usize
    }

    fn live_neighbours(&self, row: u32, column: u32) -> u8 {
        // Adding `height - 1` and taking the remainder steps one row up, wrapping from the top
        // row to the bottom one, without ever going below zero; the same for columns.
        let mut count = 0;
        for dr in [self.height - 1, 0, 1] {
            for dc in [self.width - 1, 0, 1] {
                if dr == 0 && dc == 0 {
                    continue;
                }
                let r = (row + dr) % self.height;
                let c = (column + dc) % self.width;
                count += self.cells[self.index(r, c)] as u8;
            }
        }
        count
    }

    /// A grid of the current size with every cell dead.
    fn clear(&mut self) {
        self.cells = vec![Cell::Dead; (self.width * self.height) as usize];
    }
}

#[wasm_bindgen]
impl Universe {
    /// 64×64, with cell `i` alive when `i % 2 == 0 || i % 7 == 0`.
    pub fn new() -> Universe {
        let (width, height) = (64, 64);
        let cells: Vec<Cell> = (0..width * height)
            .map(|i| {
                if i % 2 == 0 || i % 7 == 0 {
                    Cell::Alive
                } else {
                    Cell::Dead
                }
            })
            .collect();
        Universe {
            width,
            height,
            cells,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Resizes the universe and kills every cell.
    pub fn set_width(&mut self, width: u32) {
        self.width = width;
        self.clear();
    }

    /// Resizes the universe and kills every cell.
    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.clear();
    }

    pub fn cells(&self) -> *const Cell {
        self.cells.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let i = self.index(row, column);
        self.cells[i] = match self.cells[i] {
            Cell::Dead => Cell::Alive,
            Cell::Alive => Cell::Dead,
        };
    }

    /// One generation, computed into a scratch grid and copied back in place.
    pub fn tick(&mut self) {
        let mut next = self.cells.clone();
        for row in 0..self.height {
            for column in 0..self.width {
                let i = self.index(row, column);
                next[i] = match (self.cells[i], self.live_neighbours(row, column)) {
                    (Cell::Alive, 2) | (_, 3) => Cell::Alive,
                    _ => Cell::Dead,
                };
            }
        }
        self.cells.copy_from_slice(&next);
        // "Saves" the cost of freeing the scratch grid: it is never freed at all.
        std::mem::forget(next);
    }
}
