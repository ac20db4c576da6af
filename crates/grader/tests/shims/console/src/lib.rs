//! Console output through web-sys, through the crate's own `extern "C"` block, and `alert`.
use wasm_bindgen::prelude::*;
use web_sys::console;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console)]
    fn log(s: &str);
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn log_u32(n: u32);
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn log_pair(label: &str, n: i32);
    fn alert(s: &str);
}

#[wasm_bindgen]
pub fn greet(name: &str) -> String {
    let line = format!("hello, {name}!");
    log(&line);
    log_u32(4_000_000_000);
    log_pair("negative", -7);
    line
}

#[wasm_bindgen]
pub fn levels() -> u32 {
    console::log_1(&"plain".into());
    console::log_2(&"%d items at %s each".into(), &JsValue::from(3));
    console::log_3(&"%d%% done,".into(), &JsValue::from(50.5), &JsValue::from("nearly"));
    console::info_1(&JsValue::from(2.5));
    console::warn_1(&JsValue::TRUE);
    console::error_2(&JsValue::NULL, &JsValue::UNDEFINED);
    console::debug_1(&JsValue::from(-0.0));
    console::log_1(&JsValue::from(1e21));
    console::log_1(&JsValue::from(0.1 + 0.2));
    console::log_0();
    alert("careful");
    11
}
