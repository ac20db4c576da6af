//! wasm-bindgen's intrinsics on values the guest makes: casts to `JsValue`, the type tests,
//! `as_string`/`as_f64`/`as_bool`, equality and `Debug` (which calls `debug_string`).
use wasm_bindgen::prelude::*;

fn describe(v: &JsValue) -> String {
    format!(
        "{:?} str={:?} num={:?} bool={:?} null={} undef={} string={} truthy={}",
        v,
        v.as_string(),
        v.as_f64(),
        v.as_bool(),
        v.is_null(),
        v.is_undefined(),
        v.is_string(),
        v.is_truthy(),
    )
}

#[wasm_bindgen]
pub fn values() -> String {
    let all = [
        JsValue::from_str("wasm \"quoted\"\n"),
        JsValue::from(42u32),
        JsValue::from(-1.5f64),
        JsValue::TRUE,
        JsValue::NULL,
        JsValue::UNDEFINED,
        JsValue::from_str(""),
    ];
    let mut out: Vec<String> = all.iter().map(describe).collect();
    out.push(format!(
        "eq={} {} {}",
        JsValue::from_str("a") == JsValue::from_str("a"),
        JsValue::from(1) == JsValue::from(1.0),
        JsValue::NULL == JsValue::UNDEFINED,
    ));
    for line in &out {
        web_sys::console::log_1(&line.into());
    }
    out.join("|").len().to_string()
}
