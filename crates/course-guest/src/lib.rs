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
    /// `on_alloc(ptr: i32, size: i32, align: i32, fresh: i32)`: called after every successful
    /// allocation, with the address the program sees (see [`placement`]). `fresh` is 1 when the
    /// block's bytes are new and not yet written (the host fills them with [`FRESH_BYTE`]), 0
    /// when they are zeroed or already hold data (a failed reallocation's old block).
    pub const ON_ALLOC: &str = "on_alloc";
    /// `on_dealloc(ptr: i32, size: i32, align: i32) -> i32`: called before every deallocation.
    /// The host answers 1 when the free is sound and 0 when it is a misuse (double free, unknown
    /// pointer, layout mismatch); the guest then skips the real free so its heap stays intact.
    pub const ON_DEALLOC: &str = "on_dealloc";
    /// `on_panic(ptr: i32, len: i32)`: the UTF-8 panic message, with its location.
    pub const ON_PANIC: &str = "on_panic";
    /// `on_log(ptr: i32, len: i32)`: one line from [`log!`](crate::log).
    pub const ON_LOG: &str = "on_log";
    /// The report keeps this many bytes of a log line, and marks a longer one as cut.
    pub const LOG_LINE_BYTES: usize = 500;
    /// Exported by the guest: installs the panic hook. The host calls it once after
    /// `__wbindgen_start`.
    pub const INIT: &str = "__wasm_course_init";
    /// Every import of [`MODULE`], for the host's allow-list.
    pub const IMPORTS: [&str; 4] = [ON_ALLOC, ON_DEALLOC, ON_PANIC, ON_LOG];
    /// The imports whose reports the host's memory checks rest on: only [`ACCOUNTANTS`] may
    /// call them.
    pub const ACCOUNTING: [&str; 2] = [ON_ALLOC, ON_DEALLOC];
    /// The guest's allocation functions, the only ones that call [`ACCOUNTING`] imports. They
    /// are unmangled symbols, so no other function of the linked module can carry their names
    /// (the linker rejects a second definition), and never inlined, so their calls stay inside
    /// them; each one reports exactly what it really does to the heap.
    pub const ACCOUNTANTS: [&str; 3] = [ALLOC, DEALLOC, REALLOC];
    /// `__wasm_course_alloc(size, align, zeroed) -> ptr`.
    pub const ALLOC: &str = "__wasm_course_alloc";
    /// `__wasm_course_dealloc(ptr, size, align)`.
    pub const DEALLOC: &str = "__wasm_course_dealloc";
    /// `__wasm_course_realloc(ptr, size, align, new_size) -> ptr`.
    pub const REALLOC: &str = "__wasm_course_realloc";

    /// Bytes of red zone before and after every block: the host fills them with
    /// [`RED_ZONE_BYTE`] and checks them when the block is freed and when a scenario ends, so
    /// a write one byte past the end (or before the start) of a block is caught.
    pub const RED_ZONE: usize = 16;
    /// What the host writes into red zones.
    pub const RED_ZONE_BYTE: u8 = 0xFD;
    /// What a freed block is filled with before it goes back to the system allocator: code
    /// that reads through a dangling pointer reads this, not the old data that would make it
    /// look right.
    pub const FREED_BYTE: u8 = 0xDD;
    /// What a new block holds until the program writes it (unless it asked for zeroed memory):
    /// code that reads memory it never wrote reads this, not the zeros of a fresh page that
    /// would make it look right.
    pub const FRESH_BYTE: u8 = 0xCD;

    /// Where a block asked for with alignment `align` is placed inside the system allocation
    /// that holds it: `(lead, system_align)`. The system allocation is aligned to
    /// `system_align` and the block starts `lead` bytes into it, so the block's address is a
    /// multiple of `align` but never of `2 * align`: code that relies on more alignment than
    /// it asked for fails every time, not only when the allocator happens to place it badly.
    /// `lead` is at least [`RED_ZONE`].
    pub const fn placement(align: usize) -> (usize, usize) {
        let align = if align == 0 { 1 } else { align };
        let system_align = if align * 2 > 8 { align * 2 } else { 8 };
        // The smallest lead >= RED_ZONE that is an odd multiple of `align`, in closed form:
        // the allocator runs this for every block, and its instructions are charged to the
        // student's fuel.
        let lead = if align >= RED_ZONE {
            align
        } else {
            align * (2 * (RED_ZONE - align).div_ceil(2 * align) + 1)
        };
        (lead, system_align)
    }

    /// Bytes of the system allocation behind a block of `size` bytes aligned to `align`.
    pub const fn system_size(size: usize, align: usize) -> usize {
        placement(align).0 + size + RED_ZONE
    }
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

    #[link(wasm_import_module = "wasm_course")]
    unsafe extern "C" {
        fn on_alloc(ptr: *mut u8, size: usize, align: usize, fresh: i32);
        fn on_dealloc(ptr: *mut u8, size: usize, align: usize) -> i32;
        fn on_panic(ptr: *const u8, len: usize);
        fn on_log(ptr: *const u8, len: usize);
    }

    /// The counting allocator: every block lives inside a larger system (dlmalloc) allocation,
    /// with red zones around it and placed no more aligned than it asked (see
    /// [`abi::placement`](crate::abi::placement)).
    struct CountingAllocator;

    fn system_layout(size: usize, align: usize) -> Option<Layout> {
        let (_, system_align) = crate::abi::placement(align);
        Layout::from_size_align(crate::abi::system_size(size, align), system_align).ok()
    }

    /// Allocates and reports a block. One of the [`abi::ACCOUNTANTS`](crate::abi::ACCOUNTANTS).
    #[unsafe(no_mangle)]
    #[inline(never)]
    pub extern "C" fn __wasm_course_alloc(size: usize, align: usize, zeroed: bool) -> *mut u8 {
        let Some(layout) = system_layout(size, align) else {
            return core::ptr::null_mut();
        };
        // SAFETY: the layout has a non-zero size (it holds the red zones).
        let base = unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        };
        if base.is_null() {
            return base;
        }
        let ptr = base.wrapping_add(crate::abi::placement(align).0);
        // SAFETY: a host import; it records the block and writes its red zones (and, unless
        // zeroed, fills it).
        unsafe { on_alloc(ptr, size, align, i32::from(!zeroed)) };
        ptr
    }

    /// Reports and frees a block; a free the host refuses never reaches the system allocator.
    /// One of the [`abi::ACCOUNTANTS`](crate::abi::ACCOUNTANTS).
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`]; the host checks it.
    #[unsafe(no_mangle)]
    #[inline(never)]
    pub unsafe extern "C" fn __wasm_course_dealloc(ptr: *mut u8, size: usize, align: usize) {
        // SAFETY: a host import; it checks the free against its shadow heap.
        if unsafe { on_dealloc(ptr, size, align) } == 0 {
            return;
        }
        if let Some(layout) = system_layout(size, align) {
            let base = ptr.wrapping_sub(crate::abi::placement(align).0);
            // SAFETY: the host vouched that `ptr` is a live block with this layout, so `base`
            // is the system allocation made for it, and its `size` bytes are the block's.
            unsafe {
                ptr.write_bytes(crate::abi::FREED_BYTE, size);
                System.dealloc(base, layout)
            }
        }
    }

    /// Moves a block to a new one of `new_size` bytes. One of the
    /// [`abi::ACCOUNTANTS`](crate::abi::ACCOUNTANTS).
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`]; the host checks it.
    #[unsafe(no_mangle)]
    #[inline(never)]
    pub unsafe extern "C" fn __wasm_course_realloc(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new_size: usize,
    ) -> *mut u8 {
        // Reported as a free of the old block and an allocation of a new one: a pointer into
        // the old block is stale afterwards, even where the address repeats.
        // SAFETY: a host import; it checks the free against its shadow heap.
        if unsafe { on_dealloc(ptr, size, align) } == 0 {
            return core::ptr::null_mut();
        }
        let (Some(old), Some(new)) = (system_layout(size, align), system_layout(new_size, align))
        else {
            // SAFETY: a host import; the old block is still live, its data kept.
            unsafe { on_alloc(ptr, size, align, 0) };
            return core::ptr::null_mut();
        };
        let lead = crate::abi::placement(align).0;
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { System.alloc(new) };
        // SAFETY: host imports; they record the blocks.
        unsafe {
            if base.is_null() {
                // The old block is still live when a reallocation fails, its data kept.
                on_alloc(ptr, size, align, 0);
                return base;
            }
            let moved = base.wrapping_add(lead);
            // Filled as fresh, then the old data copied in: past it, a grown block holds
            // `FRESH_BYTE`.
            on_alloc(moved, new_size, align, 1);
            // SAFETY: both blocks are live and distinct; the copy stays inside both.
            core::ptr::copy_nonoverlapping(ptr, moved, size.min(new_size));
            ptr.write_bytes(crate::abi::FREED_BYTE, size);
            System.dealloc(ptr.wrapping_sub(lead), old);
            moved
        }
    }

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            __wasm_course_alloc(layout.size(), layout.align(), false)
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            __wasm_course_alloc(layout.size(), layout.align(), true)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded; the host checks the free.
            unsafe { __wasm_course_dealloc(ptr, layout.size(), layout.align()) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded; the host checks the free.
            unsafe { __wasm_course_realloc(ptr, layout.size(), layout.align(), new_size) }
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

    /// A log line, formatted on the stack: the grader's logging must not count as one of
    /// the student's allocations (or cost their heap anything). A few bytes past the report's
    /// cap, so a longer line still reaches the host as longer, and is marked as cut.
    struct Line {
        bytes: [u8; crate::abi::LOG_LINE_BYTES + 4],
        len: usize,
    }

    impl core::fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let mut take = s.len().min(self.bytes.len() - self.len);
            while !s.is_char_boundary(take) {
                take -= 1;
            }
            self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
            self.len += take;
            Ok(())
        }
    }

    pub(crate) fn log(args: core::fmt::Arguments<'_>) {
        let mut line = Line {
            bytes: [0; crate::abi::LOG_LINE_BYTES + 4],
            len: 0,
        };
        let _ = core::fmt::write(&mut line, args);
        // SAFETY: a host import reading `len` bytes at `ptr`, which stay alive for the call.
        unsafe { on_log(line.bytes.as_ptr(), line.len) };
    }
}
