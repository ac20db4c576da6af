//! Four bytes per cell: the grid is a `Vec<u32>`, so a `Uint8Array` over it sees each cell
//! followed by three zero bytes.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Dead = 0,
    Alive = 1,
}

const DEAD: u32 = Cell::Dead as u32;
const ALIVE: u32 = Cell::Alive as u32;

#[wasm_bindgen]
pub struct Universe {
    width: u32,
    height: u32,
    cells: Vec<u32>,
    next: Vec<u32>,
}

impl Universe {
    fn index(&self, row: u32, column: u32) -> usize {
        (row * self.width + column) as usize
    }

    fn count(&self, row: u32, column: u32) -> u32 {
        let mut sum = 0;
        for dr in [self.height - 1, 0, 1] {
            for dc in [self.width - 1, 0, 1] {
                if (dr, dc) != (0, 0) {
                    sum += self.cells
                        [self.index((row + dr) % self.height, (column + dc) % self.width)];
                }
            }
        }
        sum
    }

    fn blank(&mut self) {
        let n = (self.width * self.height) as usize;
        self.cells = vec![DEAD; n];
        self.next = vec![DEAD; n];
    }
}

#[wasm_bindgen]
impl Universe {
    pub fn new() -> Universe {
        let cells: Vec<u32> = (0..64 * 64)
            .map(|i| {
                if i % 2 == 0 || i % 7 == 0 {
                    ALIVE
                } else {
                    DEAD
                }
            })
            .collect();
        Universe {
            width: 64,
            height: 64,
            next: cells.clone(),
            cells,
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
        self.blank();
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.blank();
    }

    pub fn cells(&self) -> *const u32 {
        self.cells.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let i = self.index(row, column);
        self.cells[i] = ALIVE - self.cells[i];
    }

    pub fn tick(&mut self) {
        for row in 0..self.height {
            for column in 0..self.width {
                let i = self.index(row, column);
                let n = self.count(row, column);
                self.next[i] = if n == 3 || (n == 2 && self.cells[i] == ALIVE) {
                    ALIVE
                } else {
                    DEAD
                };
            }
        }
        self.cells.copy_from_slice(&self.next);
    }
}
