//! Correct: a scratch grid kept in the struct, edges wrapped with explicit comparisons, and the
//! new generation copied back cell by cell.

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
    cells: Vec<Cell>,
    scratch: Vec<Cell>,
}

impl Universe {
    fn get_index(&self, row: u32, column: u32) -> usize {
        (row * self.width + column) as usize
    }

    fn live_neighbor_count(&self, row: u32, column: u32) -> u8 {
        let north = if row == 0 { self.height - 1 } else { row - 1 };
        let south = if row == self.height - 1 { 0 } else { row + 1 };
        let west = if column == 0 {
            self.width - 1
        } else {
            column - 1
        };
        let east = if column == self.width - 1 {
            0
        } else {
            column + 1
        };
        let mut count = 0;
        for r in [north, row, south] {
            for c in [west, column, east] {
                if r == row && c == column {
                    continue;
                }
                if self.cells[self.get_index(r, c)] == Cell::Alive {
                    count += 1;
                }
            }
        }
        count
    }

    fn reset(&mut self) {
        let len = (self.width * self.height) as usize;
        self.cells = vec![Cell::Dead; len];
        self.scratch = vec![Cell::Dead; len];
    }
}

#[wasm_bindgen]
impl Universe {
    pub fn new() -> Universe {
        let width = 64;
        let height = 64;
        let mut cells = Vec::with_capacity((width * height) as usize);
        for i in 0..width * height {
            cells.push(if i % 2 == 0 || i % 7 == 0 {
                Cell::Alive
            } else {
                Cell::Dead
            });
        }
        let scratch = vec![Cell::Dead; cells.len()];
        Universe {
            width,
            height,
            cells,
            scratch,
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
        self.reset();
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.reset();
    }

    pub fn cells(&self) -> *const Cell {
        self.cells.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let idx = self.get_index(row, column);
        self.cells[idx] = if self.cells[idx] == Cell::Alive {
            Cell::Dead
        } else {
            Cell::Alive
        };
    }

    pub fn tick(&mut self) {
        for row in 0..self.height {
            for col in 0..self.width {
                let idx = self.get_index(row, col);
                let neighbors = self.live_neighbor_count(row, col);
                self.scratch[idx] = match (self.cells[idx], neighbors) {
                    (Cell::Alive, x) if x < 2 => Cell::Dead,
                    (Cell::Alive, 2) | (Cell::Alive, 3) => Cell::Alive,
                    (Cell::Alive, _) => Cell::Dead,
                    (Cell::Dead, 3) => Cell::Alive,
                    (otherwise, _) => otherwise,
                };
            }
        }
        for (cell, next) in self.cells.iter_mut().zip(&self.scratch) {
            *cell = *next;
        }
    }
}
