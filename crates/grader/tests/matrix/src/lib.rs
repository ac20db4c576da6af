//! The feature matrix: wasm-bindgen and js-sys features a course's modules use, each graded
//! through a scenario written in JavaScript that drives the module through its own glue, as a
//! page would. `tests/it/matrix.rs` grades it and runs the same scenarios under node.
use js_sys::{Array, Function, Map, Object, Promise, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console)]
    fn log(s: &str);
    #[wasm_bindgen(js_namespace = Math, js_name = max)]
    fn js_max(a: f64, b: f64) -> f64;
}

// ---- strings, options, results -----------------------------------------------------------

#[wasm_bindgen]
pub fn greet(name: &str) -> String {
    format!("hello, {name}!")
}

#[wasm_bindgen]
pub fn shout(name: String) -> String {
    name.to_uppercase()
}

#[wasm_bindgen]
pub fn half(n: u32) -> Option<u32> {
    (n % 2 == 0).then_some(n / 2)
}

#[wasm_bindgen]
pub fn first_word(s: &str) -> Option<String> {
    s.split_whitespace().next().map(str::to_owned)
}

#[wasm_bindgen]
pub fn or_default(n: Option<i32>) -> i32 {
    n.unwrap_or(-1)
}

#[wasm_bindgen]
pub fn parse_u32(s: &str) -> Result<u32, JsError> {
    s.trim().parse::<u32>().map_err(|e| JsError::new(&format!("not a number: {e}")))
}

#[wasm_bindgen]
pub fn checked(n: i32) -> Result<i32, JsValue> {
    if n < 0 {
        Err(JsValue::from_str("negative"))
    } else {
        Ok(n * 2)
    }
}

// ---- numbers of every width ---------------------------------------------------------------

#[wasm_bindgen]
pub fn big(n: u64) -> u64 {
    n.wrapping_mul(3)
}

#[wasm_bindgen]
pub fn signed_big(n: i64) -> i64 {
    -n
}

#[wasm_bindgen]
pub fn widths(a: i8, b: u16, c: f32) -> f64 {
    f64::from(a) + f64::from(b) + f64::from(c)
}

#[wasm_bindgen]
pub fn next_char(c: char) -> char {
    char::from_u32(c as u32 + 1).unwrap_or(c)
}

#[wasm_bindgen]
pub fn negate(b: bool) -> bool {
    !b
}

// ---- vectors and slices -------------------------------------------------------------------

#[wasm_bindgen]
pub fn reversed(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().copied().collect()
}

#[wasm_bindgen]
pub fn scaled(v: Vec<f64>, k: f64) -> Vec<f64> {
    v.into_iter().map(|x| x * k).collect()
}

#[wasm_bindgen]
pub fn squares(n: u32) -> Box<[u32]> {
    (0..n).map(|i| i * i).collect()
}

#[wasm_bindgen]
pub fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[wasm_bindgen]
pub fn fill_in(out: &mut [i32]) {
    for (i, x) in out.iter_mut().enumerate() {
        *x = i as i32 * 10;
    }
}

// ---- exported structs and enums -----------------------------------------------------------

#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shade {
    Dark = 0,
    Light = 1,
}

#[wasm_bindgen]
pub fn flip(s: Shade) -> Shade {
    match s {
        Shade::Dark => Shade::Light,
        Shade::Light => Shade::Dark,
    }
}

#[wasm_bindgen]
#[derive(Clone)]
pub struct Point {
    pub x: i32,
    pub y: i32,
    label: String,
}

#[wasm_bindgen]
impl Point {
    #[wasm_bindgen(constructor)]
    pub fn new(x: i32, y: i32) -> Point {
        Point { x, y, label: String::new() }
    }

    pub fn origin() -> Point {
        Point::new(0, 0)
    }

    #[wasm_bindgen(getter)]
    pub fn label(&self) -> String {
        self.label.clone()
    }

    #[wasm_bindgen(setter)]
    pub fn set_label(&mut self, label: String) {
        self.label = label;
    }

    #[wasm_bindgen(js_name = manhattan)]
    pub fn manhattan_distance(&self, other: &Point) -> i32 {
        (self.x - other.x).abs() + (self.y - other.y).abs()
    }

    pub fn shift(&mut self, dx: i32) {
        self.x += dx;
    }

    pub fn into_pair(self) -> Vec<i32> {
        vec![self.x, self.y]
    }
}

#[wasm_bindgen]
pub fn diagonal(n: i32) -> Vec<Point> {
    (0..n).map(|i| Point::new(i, i)).collect()
}

#[wasm_bindgen]
pub fn maybe_point(make: bool) -> Option<Point> {
    make.then(|| Point::new(7, 8))
}

#[wasm_bindgen(js_name = sumPoints)]
pub fn sum_points(points: Vec<Point>) -> i32 {
    points.iter().map(|p| p.x + p.y).sum()
}

// ---- JsValue and js-sys -------------------------------------------------------------------

#[wasm_bindgen]
pub fn describe(v: JsValue) -> String {
    if let Some(s) = v.as_string() {
        format!("string {s}")
    } else if let Some(n) = v.as_f64() {
        format!("number {n}")
    } else if v.is_null() {
        "null".into()
    } else if v.is_undefined() {
        "undefined".into()
    } else if v.is_object() {
        "object".into()
    } else {
        "other".into()
    }
}

#[wasm_bindgen]
pub fn array_of(n: u32) -> Array {
    let a = Array::new();
    for i in 0..n {
        a.push(&JsValue::from(i * 2));
    }
    a
}

#[wasm_bindgen]
pub fn array_sum(a: &Array) -> f64 {
    a.iter().filter_map(|v| v.as_f64()).sum()
}

#[wasm_bindgen]
pub fn mixed() -> Vec<JsValue> {
    vec![JsValue::from(1), JsValue::from("two"), JsValue::TRUE, JsValue::NULL]
}

#[wasm_bindgen]
pub fn record(name: &str, age: u32) -> Result<Object, JsValue> {
    let o = Object::new();
    Reflect::set(&o, &"name".into(), &name.into())?;
    Reflect::set(&o, &"age".into(), &age.into())?;
    Ok(o)
}

#[wasm_bindgen]
pub fn read_age(o: &Object) -> Result<f64, JsValue> {
    Reflect::get(o, &"age".into())?
        .as_f64()
        .ok_or_else(|| JsValue::from_str("no age"))
}

#[wasm_bindgen]
pub fn counts(text: &str) -> Map {
    let m = Map::new();
    for w in text.split_whitespace() {
        let n = m.get(&w.into()).as_f64().unwrap_or(0.0);
        m.set(&w.into(), &(n + 1.0).into());
    }
    m
}

#[wasm_bindgen]
pub fn to_json(v: &JsValue) -> Result<String, JsValue> {
    JSON::stringify(v).map(String::from)
}

#[wasm_bindgen]
pub fn from_json(s: &str) -> Result<JsValue, JsValue> {
    JSON::parse(s)
}

#[wasm_bindgen]
pub fn call_twice(f: &Function) -> Result<JsValue, JsValue> {
    f.call0(&JsValue::NULL)?;
    f.call0(&JsValue::NULL)
}

#[wasm_bindgen]
pub fn apply(f: &Function, x: f64) -> Result<JsValue, JsValue> {
    f.call1(&JsValue::NULL, &x.into())
}

#[wasm_bindgen]
pub fn bytes_copy(n: u8) -> Uint8Array {
    let v: Vec<u8> = (0..n).collect();
    Uint8Array::from(&v[..])
}

#[wasm_bindgen]
pub fn bigger(a: f64, b: f64) -> f64 {
    js_max(a, b)
}

#[wasm_bindgen]
pub fn year(ms: f64) -> u32 {
    js_sys::Date::new(&ms.into()).get_utc_full_year()
}

#[wasm_bindgen]
pub fn js_error(message: &str) -> js_sys::Error {
    js_sys::Error::new(message)
}

// ---- closures -----------------------------------------------------------------------------

#[wasm_bindgen]
pub fn adder(k: i32) -> JsValue {
    Closure::<dyn Fn(i32) -> i32>::new(move |x| x + k).into_js_value()
}

#[wasm_bindgen]
pub fn doubled_all(a: &Array) -> Array {
    a.map(&mut |v, _, _| JsValue::from(v.as_f64().unwrap_or(0.0) * 2.0))
}

// ---- promises and async -------------------------------------------------------------------

#[wasm_bindgen]
pub async fn double_later(n: u32) -> Result<u32, JsValue> {
    let v = JsFuture::from(Promise::resolve(&JsValue::from(n))).await?;
    Ok(v.as_f64().unwrap_or(0.0) as u32 * 2)
}

#[wasm_bindgen]
pub async fn awaits(p: Promise) -> Result<JsValue, JsValue> {
    let v = JsFuture::from(p).await?;
    Ok(JsValue::from(format!("got {}", v.as_string().unwrap_or_default())))
}

// ---- console and memory -------------------------------------------------------------------

#[wasm_bindgen]
pub fn chat(n: u32) -> u32 {
    log(&format!("chat {n}"));
    web_sys::console::log_2(&"twice".into(), &JsValue::from(n * 2));
    n
}

#[wasm_bindgen]
pub struct Buffer {
    data: Vec<u8>,
}

#[wasm_bindgen]
impl Buffer {
    #[wasm_bindgen(constructor)]
    pub fn new(len: usize) -> Buffer {
        Buffer { data: (0..len).map(|i| i as u8).collect() }
    }

    pub fn ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// A view of the buffer's bytes without a copy.
    pub fn view(&self) -> Uint8Array {
        // SAFETY: the view is used before any allocation can move the buffer.
        unsafe { Uint8Array::view(&self.data) }
    }

    pub fn sum(&self) -> u32 {
        self.data.iter().map(|&b| u32::from(b)).sum()
    }
}

/// Grows memory by allocating `pages` pages and keeping them.
#[wasm_bindgen]
pub fn hoard(pages: usize) -> usize {
    let v = vec![1u8; pages * 65536];
    let n = v.len();
    std::mem::forget(v);
    n
}

// ---- what only a browser has, behind a function no scenario calls --------------------------

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = document, js_name = getElementById)]
    fn element_by_id(id: &str) -> JsValue;
}

#[wasm_bindgen]
pub fn canvas_present() -> bool {
    !element_by_id("canvas").is_null()
}

// ---- the crate's own JavaScript -------------------------------------------------------------

#[wasm_bindgen(inline_js = "export function triple(x) { return x * 3; }")]
extern "C" {
    fn triple(x: u32) -> u32;
}

#[wasm_bindgen]
pub fn via_inline_js(x: u32) -> u32 {
    triple(x)
}
