//! The guest side of the grader: compiled into every student crate.
//!
//! This crate is the one place that defines the guest↔host interface. With the `grading`
//! feature, which only the grader switches on, it installs
//! - a counting `#[global_allocator]` that reports every allocation, deallocation and
//!   reallocation to host imports, so the grader keeps an exact shadow heap;
//! - a panic hook (installed by the [`abi::INIT`] export the host calls after instantiation)
//!   that hands the panic message to the host;
//! - [`log!`], whose lines the grader shows in the report, capped (`println!` goes nowhere on
//!   `wasm32-unknown-unknown`).
//!
//! Without `grading`, or on any target other than wasm32, it adds no import and no export: a
//! plain browser build of an exercise is untouched, and [`log!`] only type-checks its arguments.
//!
//! It has no dependencies, so the grader can name the same constants from [`abi`].
#![no_std]

/// Names shared by the guest and the host. The grader imports these constants, so the two sides
/// cannot drift apart.
pub mod abi {
    /// The import module every grader import lives in.
    pub const MODULE: &str = "wasm_course";
    /// `on_alloc(ptr: i32, size: i32, align: i32)`: called after every successful allocation.
    pub const ON_ALLOC: &str = "on_alloc";
    /// `on_dealloc(ptr: i32, size: i32, align: i32) -> i32`: called before every deallocation.
    /// The host answers 1 when the free is sound and 0 when it is a misuse (double free, unknown
    /// pointer, layout mismatch); the guest then skips the real free so its heap stays intact.
    pub const ON_DEALLOC: &str = "on_dealloc";
    /// `on_panic(ptr: i32, len: i32)`: the UTF-8 panic message, with its location.
    pub const ON_PANIC: &str = "on_panic";
    /// `on_log(ptr: i32, len: i32)`: one line from [`log!`](crate::log).
    pub const ON_LOG: &str = "on_log";
    /// Exported by the guest: installs the panic hook. The host calls it once after
    /// `__wbindgen_start`.
    pub const INIT: &str = "__wasm_course_init";
    /// Every import of [`MODULE`], for the host's allow-list.
    pub const IMPORTS: [&str; 4] = [ON_ALLOC, ON_DEALLOC, ON_PANIC, ON_LOG];
}

/// Logs one line to the grading report, like `println!`.
///
/// Outside grading it only type-checks its arguments: nothing is printed or allocated.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::__log(::core::format_args!($($arg)*))
    };
}

#[doc(hidden)]
pub fn __log(args: core::fmt::Arguments<'_>) {
    #[cfg(all(target_arch = "wasm32", feature = "grading"))]
    grading::log(args);
    #[cfg(not(all(target_arch = "wasm32", feature = "grading")))]
    let _ = args;
}

#[cfg(all(target_arch = "wasm32", feature = "grading"))]
mod grading {
    extern crate std;

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::string::String;

    #[link(wasm_import_module = "wasm_course")]
    unsafe extern "C" {
        fn on_alloc(ptr: *mut u8, size: usize, align: usize);
        fn on_dealloc(ptr: *mut u8, size: usize, align: usize) -> i32;
        fn on_panic(ptr: *const u8, len: usize);
        fn on_log(ptr: *const u8, len: usize);
    }

    /// The system allocator (dlmalloc on wasm32), reporting every event to the host.
    struct CountingAllocator;

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged to the system allocator.
            let ptr = unsafe { System.alloc(layout) };
            if !ptr.is_null() {
                // SAFETY: a host import; it only records the event.
                unsafe { on_alloc(ptr, layout.size(), layout.align()) };
            }
            ptr
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded unchanged to the system allocator.
            let ptr = unsafe { System.alloc_zeroed(layout) };
            if !ptr.is_null() {
                // SAFETY: a host import; it only records the event.
                unsafe { on_alloc(ptr, layout.size(), layout.align()) };
            }
            ptr
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: a host import; it checks the free against its shadow heap.
            if unsafe { on_dealloc(ptr, layout.size(), layout.align()) } != 0 {
                // SAFETY: the host vouched that `ptr` is live with this layout.
                unsafe { System.dealloc(ptr, layout) }
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // A reallocation is reported as a free of the old block and an allocation of the new
            // one: a pointer into the old block is stale afterwards even when the address repeats.
            // SAFETY: a host import; it checks the free against its shadow heap.
            if unsafe { on_dealloc(ptr, layout.size(), layout.align()) } == 0 {
                return core::ptr::null_mut();
            }
            // SAFETY: the host vouched that `ptr` is live with this layout.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            // SAFETY: host imports; they only record the event.
            unsafe {
                if new.is_null() {
                    // The old block is still live when a reallocation fails.
                    on_alloc(ptr, layout.size(), layout.align());
                } else {
                    on_alloc(new, new_size, layout.align());
                }
            }
            new
        }
    }

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    /// Installs the panic hook; exported so the host can call it after instantiation.
    #[unsafe(no_mangle)]
    pub extern "C" fn __wasm_course_init() {
        std::panic::set_hook(std::boxed::Box::new(|info| {
            let message = std::format!("{info}");
            // SAFETY: a host import reading `len` bytes at `ptr`, which stay alive for the call.
            unsafe { on_panic(message.as_ptr(), message.len()) };
        }));
    }

    pub(crate) fn log(args: core::fmt::Arguments<'_>) {
        let mut line = String::new();
        let _ = core::fmt::write(&mut line, args);
        // SAFETY: a host import reading `len` bytes at `ptr`, which stay alive for the call.
        unsafe { on_log(line.as_ptr(), line.len()) };
    }
}
