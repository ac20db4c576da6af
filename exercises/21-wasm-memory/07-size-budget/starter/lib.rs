//! Readings from a thermometer, in tenths of a degree. Everything here works, but the module is
//! several times over its size budget: `cargo xtask size 07-size-budget` shows where the bytes go.

use wasm_bindgen::prelude::*;

/// `"21.5"` → 215, `"-3"` → -30; text that is not such a number gives `i32::MIN`.
#[wasm_bindgen]
pub fn reading(text: &str) -> i32 {
    let shaped = text.chars().all(|c| c.is_ascii_digit() || c == '-' || c == '.')
        && !text.trim_start_matches('-').starts_with('.')
        && text.split_once('.').map_or(true, |(_, tenth)| tenth.len() == 1);
    if !shaped {
        return i32::MIN;
    }
    match text.parse::<f64>() {
        Ok(degrees) => {
            let tenths = (degrees * 10.0).round();
            if tenths.abs() <= f64::from(i32::MAX) {
                tenths as i32
            } else {
                i32::MIN
            }
        }
        Err(_) => i32::MIN,
    }
}

/// The mean of `values`, to the nearest whole number (halves away from zero); 0 when empty.
#[wasm_bindgen]
pub fn mean(values: &[i32]) -> i32 {
    if values.is_empty() {
        return 0;
    }
    average(values).round() as i32
}

fn average<T: Copy + Into<f64> + std::fmt::Debug>(values: &[T]) -> f64 {
    assert!(!values.is_empty(), "no values to average: {values:?}");
    let sum: f64 = values.iter().map(|v| (*v).into()).sum();
    let count: f64 = u32::try_from(values.len()).unwrap().into();
    sum / count
}

#[derive(Debug)]
enum Band {
    Cold,
    Mild,
    Hot,
}

/// `"cold"` below 0, `"hot"` above 25.0 degrees, `"mild"` in between.
#[wasm_bindgen]
pub fn label(tenths: i32) -> String {
    let band = if tenths < 0 {
        Band::Cold
    } else if tenths > 250 {
        Band::Hot
    } else {
        Band::Mild
    };
    format!("{band:?}").to_lowercase()
}
