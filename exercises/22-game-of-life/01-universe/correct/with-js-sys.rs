//! Another correct solution for 22/01: the same universe, with what a page built around it
//! would add (js-sys arrays, callbacks, a copy of the grid, errors for JavaScript, a list of
//! exported structs) and a function that draws on a canvas, which only a browser can run and no
//! scenario calls. It must score 100% like the reference.

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
    /// The grid JavaScript reads, row after row. A tick overwrites it in place, so its address
    /// only changes when the universe is resized.
    cells: Vec<Cell>,
    /// Where a tick computes the next generation before copying it into `cells`. Allocated with
    /// the grid, so ticking never allocates.
    next: Vec<Cell>,
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

    /// A grid of the current size with every cell dead (and a scratch grid to match).
    fn clear(&mut self) {
        let size = (self.width * self.height) as usize;
        self.cells = vec![Cell::Dead; size];
        self.next = vec![Cell::Dead; size];
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
        let next = cells.clone();
        Universe {
            width,
            height,
            cells,
            next,
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

    /// One generation: computed into `next`, then copied over `cells`, which stays where it is.
    pub fn tick(&mut self) {
        for row in 0..self.height {
            for column in 0..self.width {
                let i = self.index(row, column);
                self.next[i] = match (self.cells[i], self.live_neighbours(row, column)) {
                    (Cell::Alive, 2) | (_, 3) => Cell::Alive,
                    _ => Cell::Dead,
                };
            }
        }
        self.cells.copy_from_slice(&self.next);
    }
}

/// A live cell's place, as a page lists them.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct Coord {
    pub row: u32,
    pub column: u32,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = document, js_name = getElementById)]
    fn element_by_id(id: &str) -> JsValue;
}

#[wasm_bindgen]
impl Universe {
    /// Every live cell, row by row.
    pub fn live_cells(&self) -> Vec<Coord> {
        let mut out = Vec::new();
        for row in 0..self.height {
            for column in 0..self.width {
                if self.cells[self.index(row, column)] == Cell::Alive {
                    out.push(Coord { row, column });
                }
            }
        }
        out
    }

    /// The grid as text, one string per row.
    pub fn rows(&self) -> js_sys::Array {
        let rows = js_sys::Array::new();
        for row in 0..self.height {
            let line: String = (0..self.width)
                .map(|c| match self.cells[self.index(row, c)] {
                    Cell::Alive => '◼',
                    Cell::Dead => '◻',
                })
                .collect();
            rows.push(&line.into());
        }
        rows
    }

    /// A copy of the grid, for a page that keeps an earlier generation.
    pub fn snapshot(&self) -> js_sys::Uint8Array {
        let bytes: Vec<u8> = self.cells.iter().map(|&c| c as u8).collect();
        js_sys::Uint8Array::from(&bytes[..])
    }

    /// `toggle_cell`, with an error for JavaScript instead of a panic outside the grid.
    pub fn try_toggle(&mut self, row: u32, column: u32) -> Result<(), JsError> {
        if row >= self.height || column >= self.width {
            return Err(JsError::new("outside the universe"));
        }
        self.toggle_cell(row, column);
        Ok(())
    }

    /// Ticks `n` times, calling `after_each` after every generation.
    pub fn run(&mut self, n: u32, after_each: &js_sys::Function) -> Result<(), JsValue> {
        for _ in 0..n {
            self.tick();
            after_each.call0(&JsValue::NULL)?;
        }
        Ok(())
    }

    /// Whether the page has a canvas to draw on: only a browser can answer.
    pub fn has_canvas(&self) -> bool {
        !element_by_id("game-of-life-canvas").is_null()
    }
}
