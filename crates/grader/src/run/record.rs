//! What a run observed: the record of every step, fault and allocation that the checks read.
//! Data only; nothing here runs or judges.

use super::*;

/// At most this many log lines are kept per scenario, each cut at [`LOG_LINE_BYTES`].
pub const LOG_LINES: usize = 50;

pub const LOG_LINE_BYTES: usize = course_guest::abi::LOG_LINE_BYTES;

/// A panic message longer than this is cut.
pub const PANIC_BYTES: usize = 2_000;

/// Why the submission stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// A Rust panic, with the message (and location) from the panic hook when there was one.
    Panic(Option<String>),
    OutOfFuel,
    WallTimeout,
    /// Memory growth past the limit was refused and the allocator gave up.
    OutOfMemory {
        pages: u64,
        requested: u64,
    },
    StackOverflow,
    OutOfBounds,
    /// wasm-bindgen threw a JavaScript error (`wasm_bindgen::throw_str`, a failed borrow...).
    Thrown(String),
    /// Any other trap, in wasmtime's words.
    Trap(String),
    /// The step read a global only a browser has (`document`, `window`, a canvas, a timer),
    /// then went wrong (`then`).
    NeedsBrowser {
        global: String,
        then: Box<Fault>,
    },
}

/// Something a step found wrong on the host side, without a trap.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    WrongValue {
        expected: Value,
        actual: Option<Value>,
    },
    /// The call returned, but a panic was expected.
    MissingPanic { expected: Option<String> },
    /// It panicked with another message than the one expected.
    WrongPanic {
        expected: String,
        actual: Option<String>,
    },
    /// A typed view at a pointer that is not a multiple of the element size.
    MisalignedView { ptr: u32, elem: Elem },
    /// A view that reaches past the end of memory.
    ViewOutOfBounds { ptr: u32, bytes: u64, memory: u64 },
    /// A view whose block was freed (or moved by a reallocation).
    UseAfterFree {
        view: String,
        ptr: u32,
        made_in: usize,
        freed_in: Option<usize>,
    },
    /// A view read after memory grew: JavaScript's typed array is detached.
    StaleView {
        view: String,
        made_in: usize,
        grew_in: usize,
    },
    /// A returned `(ptr, len)` that lies outside memory.
    ResultOutOfBounds { ptr: u32, bytes: u64 },
    /// A view that starts or ends inside a live block but does not fit in it.
    ViewPastBlock {
        view: String,
        ptr: u32,
        bytes: u64,
        block: Block,
    },
    /// A view, or a returned pointer, into the stack: the frame it pointed into has returned.
    DanglingStack {
        /// The view's name, or `None` for a returned pointer.
        view: Option<String>,
        ptr: u32,
    },
    /// The call allocated more than the step allows.
    Allocated {
        allowed: u32,
        count: usize,
        bytes: u64,
        /// The first allocation over the budget.
        first: Block,
    },
    /// A returned string that is not UTF-8.
    NotUtf8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// The step as JavaScript would write it, e.g. `buf.ptr()`.
    pub text: String,
    pub result: Option<Value>,
    pub problem: Option<Problem>,
}

/// Everything observed while running one scenario.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub steps: Vec<StepRecord>,
    /// The fault that ended the run, and the step it happened in (`None`: during setup; one past
    /// the last step taken: after the steps, while the host freed its objects).
    pub fault: Option<(Option<usize>, Fault)>,
    /// Whether the step that faulted expected exactly that panic.
    pub fault_expected: bool,
    /// Blocks allocated during the scenario and still live after the host freed its objects.
    /// Only known when the scenario ran to its end.
    pub leaked: Option<Vec<Block>>,
    pub misuse: Vec<MisuseEvent>,
    pub misaligned: Vec<MisalignedAlloc>,
    pub pages_before: u64,
    pub pages_after: u64,
    pub growth: Growth,
    pub fuel_used: u64,
    pub allocations: u64,
    pub logs: Vec<String>,
    pub logs_dropped: usize,
    /// Whether the module reports its allocations (the guest support crate is linked in).
    pub tracked: bool,
    /// Every block live when the run ended (after the host freed its objects), for the memory
    /// map.
    pub live: Vec<Block>,
    /// The pages `[from, to)` the host added with `grow` steps; any other page past the
    /// module's initial memory was grown by the guest.
    pub host_grown: Vec<(u64, u64)>,
    /// The seed `Math.random` drew from, when the module called it.
    pub seed: Option<u64>,
    /// Blocks whose red zones were written.
    pub overflows: Vec<Overflow>,
    /// Blocks dlmalloc still holds that the global allocator never reported (memory from
    /// `std::alloc::System`, or a reported free that never happened), when the run ended.
    pub untracked: Vec<Chunk>,
    /// Why the real allocator's heap could not be read at the end, if it could not.
    pub heap_unreadable: Option<String>,
    /// The most bytes the grader's own placement (red zones, alignment padding) added around
    /// the live blocks at once: memory the growth check does not charge to the student.
    pub grader_padding: u64,
    /// Time spent on the end-of-scenario red-zone sweep and allocator walk.
    pub reconcile: std::time::Duration,
}

/// A scenario that does not fit the exports: the scenario's author must fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("step {step} (`{text}`): {message}")]
pub struct ScenarioError {
    pub step: usize,
    pub text: String,
    pub message: String,
}

impl ScenarioError {
    pub(super) fn at(index: usize, text: &str, message: String) -> ScenarioError {
        ScenarioError {
            step: index + 1,
            text: text.to_owned(),
            message,
        }
    }
}

/// How allocation sites are captured.
#[derive(Debug, Clone)]
pub enum SiteCapture {
    /// Function names for the first allocations: cheap.
    Names,
    /// Function names and file:line for these allocation ids only: ~1 ms each.
    Lines {
        ids: BTreeSet<u64>,
        source_root: Option<String>,
    },
}
