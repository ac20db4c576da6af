use wasm_bindgen::prelude::*;

#[link(wasm_import_module = "wasm_course")]
unsafe extern "C" {
    fn on_dealloc(ptr: *mut u8, size: usize, align: usize) -> i32;
}

#[wasm_bindgen]
pub fn checksum(len: usize) -> u32 {
    let mut data = vec![1u8; len];
    let sum = data.iter().map(|&b| u32::from(b)).sum();
    let report: unsafe extern "C" fn(*mut u8, usize, usize) -> i32 =
        std::hint::black_box(on_dealloc);
    unsafe { report(data.as_mut_ptr(), data.capacity(), 1) };
    std::mem::forget(data);
    sum
}
