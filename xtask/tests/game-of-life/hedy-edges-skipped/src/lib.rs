//! Wrong at the edges: neighbours past the border are skipped instead of wrapping around.

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
    next: Vec<Cell>,
}

impl Universe {
    fn alive_at(&self, row: i32, column: i32) -> bool {
        if row < 0 || column < 0 || row >= self.height as i32 || column >= self.width as i32 {
            // Off the board: nobody lives there.
            return false;
        }
        self.cells[(row as u32 * self.width + column as u32) as usize] == Cell::Alive
    }

    fn neighbours(&self, row: u32, column: u32) -> usize {
        let (row, column) = (row as i32, column as i32);
        [
            (row - 1, column - 1),
            (row - 1, column),
            (row - 1, column + 1),
            (row, column - 1),
            (row, column + 1),
            (row + 1, column - 1),
            (row + 1, column),
            (row + 1, column + 1),
        ]
        .iter()
        .filter(|(r, c)| self.alive_at(*r, *c))
        .count()
    }

    fn resize(&mut self) {
        self.cells = vec![Cell::Dead; (self.width * self.height) as usize];
        self.next = self.cells.clone();
    }
}

#[wasm_bindgen]
impl Universe {
    pub fn new() -> Universe {
        let cells: Vec<Cell> = (0..64 * 64)
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
        self.resize();
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.resize();
    }

    pub fn cells(&self) -> *const Cell {
        self.cells.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let i = (row * self.width + column) as usize;
        self.cells[i] = match self.cells[i] {
            Cell::Alive => Cell::Dead,
            Cell::Dead => Cell::Alive,
        };
    }

    pub fn tick(&mut self) {
        for row in 0..self.height {
            for column in 0..self.width {
                let i = (row * self.width + column) as usize;
                let n = self.neighbours(row, column);
                self.next[i] = if n == 3 || (n == 2 && self.cells[i] == Cell::Alive) {
                    Cell::Alive
                } else {
                    Cell::Dead
                };
            }
        }
        self.cells.copy_from_slice(&self.next);
    }
}
