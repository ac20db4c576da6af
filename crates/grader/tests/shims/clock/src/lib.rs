//! The clock: `Date.now`, `new Date()`, `performance.now` and `console.time`.
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance)]
    fn now() -> f64;
}

fn busy(n: u32) -> u32 {
    (0..n).fold(1u32, |acc, i| acc.wrapping_mul(31).wrapping_add(i))
}

/// Whether time moves forward while the code works, as JavaScript promises.
#[wasm_bindgen]
pub fn time_moves_on() -> bool {
    let start = now();
    let wall = js_sys::Date::now();
    web_sys::console::time_with_label("work");
    let x = busy(100_000);
    web_sys::console::time_end_with_label("work");
    let later = now();
    let date = js_sys::Date::new_0().get_time();
    x != 1 && later >= start && date >= wall && wall > 1.6e12 && (wall - wall.floor()) == 0.0
}

#[wasm_bindgen]
pub fn unknown_timer() -> u32 {
    web_sys::console::time_end_with_label("never started");
    1
}
