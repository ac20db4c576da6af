//! Readings from a thermometer, in tenths of a degree, in a module that fits its size budget:
//! no formatting, no float parsing, no panicking paths.

use wasm_bindgen::prelude::*;

/// `"21.5"` → 215, `"-3"` → -30; text that is not such a number gives `i32::MIN`.
#[wasm_bindgen]
pub fn reading(text: &str) -> i32 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, tenth) = match digits.split_once('.') {
        Some((whole, tenth)) if tenth.len() == 1 => (whole, tenth),
        Some(_) => return i32::MIN,
        None => (digits, "0"),
    };
    if whole.is_empty() {
        return i32::MIN;
    }
    let mut value: i32 = 0;
    for byte in whole.bytes().chain(tenth.bytes()) {
        if !byte.is_ascii_digit() {
            return i32::MIN;
        }
        value = match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i32::from(byte - b'0')))
        {
            Some(v) => v,
            None => return i32::MIN,
        };
    }
    if negative { -value } else { value }
}

/// The mean of `values`, to the nearest whole number (halves away from zero); 0 when empty.
#[wasm_bindgen]
pub fn mean(values: &[i32]) -> i32 {
    let count = values.len() as i64;
    if count == 0 {
        return 0;
    }
    let sum: i64 = values.iter().map(|&v| i64::from(v)).sum();
    // Twice the sum, one count further from zero, over twice the count: the nearest whole
    // number, halves away from zero.
    let away = if sum < 0 { -count } else { count };
    ((2 * sum + away) / (2 * count)) as i32
}

/// `"cold"` below 0, `"hot"` above 25.0 degrees, `"mild"` in between.
#[wasm_bindgen]
pub fn label(tenths: i32) -> String {
    let name = if tenths < 0 {
        "cold"
    } else if tenths > 250 {
        "hot"
    } else {
        "mild"
    };
    name.into()
}
