//! `console_error_panic_hook` reports a panic through `new Error().stack` and `console.error`;
//! `throw_val` throws a JavaScript error object.
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn divide(a: u32, b: u32) -> u32 {
    console_error_panic_hook::set_once();
    if b == 0 {
        panic!("cannot share {a} apples among {b} people");
    }
    a / b
}

#[wasm_bindgen]
pub fn reject(code: u32) -> u32 {
    if code > 3 {
        wasm_bindgen::throw_val(js_sys::Error::new(&format!("code {code} is out of range")).into());
    }
    code
}
