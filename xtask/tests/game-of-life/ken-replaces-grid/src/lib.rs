//! Right generations, wrong place: every tick collects a new grid and assigns it to
//! `self.cells`, freeing the one the page is looking at.

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
}

impl Universe {
    fn at(&self, row: u32, column: u32) -> Cell {
        let row = row % self.height;
        let column = column % self.width;
        self.cells[(row * self.width + column) as usize]
    }

    fn next_state(&self, row: u32, column: u32) -> Cell {
        // `+ height - 1` is `- 1` around the torus.
        let (up, down) = (row + self.height - 1, row + 1);
        let (left, right) = (column + self.width - 1, column + 1);
        let alive = [
            self.at(up, left),
            self.at(up, column),
            self.at(up, right),
            self.at(row, left),
            self.at(row, right),
            self.at(down, left),
            self.at(down, column),
            self.at(down, right),
        ]
        .into_iter()
        .filter(|c| *c == Cell::Alive)
        .count();
        match (self.at(row, column), alive) {
            (_, 3) | (Cell::Alive, 2) => Cell::Alive,
            _ => Cell::Dead,
        }
    }
}

#[wasm_bindgen]
impl Universe {
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
        self.width = width;
        self.cells = vec![Cell::Dead; (width * self.height) as usize];
    }

    pub fn set_height(&mut self, height: u32) {
        self.height = height;
        self.cells = vec![Cell::Dead; (self.width * height) as usize];
    }

    pub fn cells(&self) -> *const Cell {
        self.cells.as_ptr()
    }

    pub fn toggle_cell(&mut self, row: u32, column: u32) {
        let i = (row * self.width + column) as usize;
        self.cells[i] = match self.cells[i] {
            Cell::Dead => Cell::Alive,
            Cell::Alive => Cell::Dead,
        };
    }

    pub fn tick(&mut self) {
        let width = self.width;
        self.cells = (0..self.height)
            .flat_map(|row| (0..width).map(move |column| (row, column)))
            .map(|(row, column)| self.next_state(row, column))
            .collect();
    }
}
