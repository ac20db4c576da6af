//! Exercise 22/01: Game of Life, in place. See `exercise.toml` for the statement, or run
//! `cargo xtask hint 01-universe`.

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

    /// How many of the eight cells around (`row`, `column`) are alive.
    fn live_neighbours(&self, row: u32, column: u32) -> u8 {
        // TODO: count the neighbours, wrapping around the edges.
        let _ = (row, column);
        0
    }
}

#[wasm_bindgen]
impl Universe {
    /// 64×64, with cell `i` alive when `i % 2 == 0 || i % 7 == 0`.
    pub fn new() -> Universe {
        let (width, height) = (64, 64);
        let cells = (0..width * height)
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

    pub fn set_width(&mut self, width: u32) {
        // TODO: the grid must change size too, with every cell dead.
        self.width = width;
    }

    pub fn set_height(&mut self, height: u32) {
        // TODO: the grid must change size too, with every cell dead.
        self.height = height;
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

    pub fn tick(&mut self) {
        // TODO: every cell gets its next state at once, from the neighbours it has now; and
        // `self.cells` is updated in place, since the page keeps a view of it between ticks.
        for row in 0..self.height {
            for column in 0..self.width {
                let _neighbours = self.live_neighbours(row, column);
            }
        }
    }
}
