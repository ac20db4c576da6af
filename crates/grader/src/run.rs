//! Running one scenario: instantiate the processed module in a fresh store, serve its imports
//! (the guest crate's allocation, panic and log reports, and every function of wasm-bindgen's
//! JavaScript glue, run by [`crate::js`] on a virtual clock and a seeded `Math.random`), take
//! the steps as the glue's exports would, and record everything that happened.
//!
//! Nothing here judges: the result is a [`RunRecord`], and [`crate::check`] turns it into
//! verdicts. The only `Err` is a scenario that does not fit the declared exports (an authoring
//! error); everything the submission does is recorded.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use wasmtime::{
    Caller, Extern, Func, FuncType, Instance, Memory, Module, Store, Trap, Val, ValType,
    WasmBacktrace,
};

use crate::abi::{self, Elem, Int, Receiver, Signature, Ty};
use crate::dlmalloc::{self, Chunk};
use crate::engine::{Detail, Growth, Limiter, Sandbox};
use crate::heap::{Block, MisalignedAlloc, MisuseEvent, Overflow, Region, ShadowHeap, Site};
use crate::js::{self, JsVal};
use crate::spec::{Call, Expect, Exports, Scenario, Step, Value};

/// At most this many log lines are kept per scenario, each cut at [`LOG_LINE_BYTES`].
pub const LOG_LINES: usize = 50;
pub const LOG_LINE_BYTES: usize = 500;
/// A panic message longer than this is cut.
pub const PANIC_BYTES: usize = 2_000;
/// Allocation sites (function names) are captured for this many allocations per scenario;
/// past that a capture per allocation would cost more than the scenario itself.
const SITE_CAPTURES: u64 = 4_096;

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
    /// The fault that ended the run, and the step it happened in (`None`: during setup).
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
    fn at(index: usize, text: &str, message: String) -> ScenarioError {
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

struct Host {
    limiter: Limiter,
    heap: ShadowHeap,
    step: Option<usize>,
    panic: Option<String>,
    logs: Vec<String>,
    logs_dropped: usize,
    capture: SiteCapture,
    memory: Option<Memory>,
    /// The instance, once instantiated: the glue looks its exports up (`wasm.__wbindgen_malloc`).
    instance: Option<Instance>,
    /// Allocation ids wasm-bindgen's runtime made for itself: never a student's leak.
    runtime_blocks: BTreeSet<u64>,
    host_grown: Vec<(u64, u64)>,
    js: JsHost,
    overflows: Vec<Overflow>,
    /// Set while the student's export runs (not while the host lowers or lifts values).
    in_call: bool,
    /// Allocations made during the current call: (id, bytes).
    call_allocs: Vec<(u64, u32)>,
    facts: ModuleFacts,
}

/// What the JavaScript shims keep between calls: the virtual clock's start, the seeded
/// generator behind `Math.random`, `console.time`'s timers.
struct JsHost {
    fuel: u64,
    seed: u64,
    rng: u64,
    random_used: bool,
    timers: BTreeMap<String, f64>,
    vector_len: f64,
    ids: u64,
    /// Table writes made before the host knows the instance (by a start function, during
    /// `Instance::new`); applied as soon as it does.
    pending_table: Vec<(u32, JsVal)>,
    /// Set once the guest has made an `Error` (and so has a stack to read):
    /// `console_error_panic_hook` makes one just before it prints the panic.
    stack_read: bool,
}

/// Units of fuel per millisecond of virtual time: one wasm instruction counts as a nanosecond,
/// so `performance.now()` and `Date.now()` are deterministic.
pub const FUEL_PER_MS: f64 = 1_000_000.0;
/// `Date.now()` when the instance starts: 2025-01-01T00:00:00Z.
pub const EPOCH_MS: f64 = 1_735_689_600_000.0;

/// How the imports the glue defines run: the glue itself, and the seed for `Math.random`.
#[derive(Debug, Clone, Copy)]
pub struct Shims<'a> {
    pub glue: &'a js::Glue,
    pub seed: u64,
}

/// What the grader read from the module before running it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModuleFacts {
    /// The function wasm-bindgen's runtime allocates its externref free list in: what it
    /// allocates lives as long as the instance and is never the student's leak.
    pub runtime_alloc: Option<u32>,
    /// The shadow stack, `[low, high)`: after a call returns, nothing there is the caller's.
    pub stack: Option<(u32, u32)>,
}

fn limiter(host: &mut Host) -> &mut Limiter {
    &mut host.limiter
}

/// Runs one scenario from a fresh instance.
#[allow(clippy::too_many_arguments)]
pub fn run(
    sandbox: &Sandbox,
    module: &Module,
    detail: Detail,
    exports: &Exports,
    scenario: &Scenario,
    capture: SiteCapture,
    shims: Shims<'_>,
    facts: ModuleFacts,
) -> Result<RunRecord, ScenarioError> {
    let host = Host {
        overflows: Vec::new(),
        in_call: false,
        call_allocs: Vec::new(),
        facts,
        limiter: sandbox.limiter(),
        heap: ShadowHeap::default(),
        step: None,
        panic: None,
        logs: Vec::new(),
        logs_dropped: 0,
        capture,
        memory: None,
        instance: None,
        runtime_blocks: BTreeSet::new(),
        host_grown: Vec::new(),
        js: JsHost {
            fuel: scenario.fuel,
            seed: shims.seed,
            rng: shims.seed,
            random_used: false,
            timers: BTreeMap::new(),
            vector_len: 0.0,
            ids: 0,
            pending_table: Vec::new(),
            stack_read: false,
        },
    };
    let mut store = sandbox.store(detail, scenario.fuel, host, limiter);
    let mut record = RunRecord::default();
    let mut runner = match Runner::instantiate(&mut store, module, shims.glue) {
        Ok(runner) => runner,
        Err(fault) => {
            record.fault = Some((None, fault));
            finish(&mut record, &mut store, scenario.fuel, None);
            return Ok(record);
        }
    };
    record.tracked = runner.tracked;
    // Growth counts from the memory the module declares: what its start function grows or
    // allocates is the scenario's too.
    record.pages_before = runner.memory.ty(&store).minimum();
    let mut pages_seen = runner.pages(&store);
    for (i, step) in scenario.steps.iter().enumerate() {
        store.data_mut().step = Some(i);
        match runner.step(&mut store, exports, step, i)? {
            Taken::Ok(step_record) => record.steps.push(step_record),
            Taken::Stop(step_record) => {
                record.steps.push(step_record);
                break;
            }
            Taken::Fault(text, fault) => {
                let expected = match (step, &fault) {
                    (Step::Call(c) | Step::New(c), Fault::Panic(message)) => match &c.expect {
                        Expect::Panic(None) => true,
                        Expect::Panic(Some(want)) => message
                            .as_deref()
                            .is_some_and(|m| m.contains(want.as_str())),
                        _ => false,
                    },
                    _ => false,
                };
                let problem = match (step, &fault) {
                    (Step::Call(c) | Step::New(c), Fault::Panic(message)) if !expected => {
                        match &c.expect {
                            Expect::Panic(Some(want)) => Some(Problem::WrongPanic {
                                expected: want.clone(),
                                actual: message.clone(),
                            }),
                            _ => None,
                        }
                    }
                    _ => None,
                };
                record.steps.push(StepRecord {
                    text,
                    result: None,
                    problem,
                });
                record.fault_expected = expected;
                record.fault = Some((Some(i), fault));
                break;
            }
        }
        let pages = runner.pages(&store);
        if pages != pages_seen {
            runner.last_growth = Some(i);
            pages_seen = pages;
        }
    }
    store.data_mut().step = None;
    if record.fault.is_none() {
        // The host frees what it still owns, as JavaScript's `free()` (or its finalizer) would.
        let owned: Vec<(String, u32)> = runner
            .objects
            .values()
            .map(|o| (o.class.clone(), o.handle))
            .collect();
        for (class, handle) in owned {
            if let Err(fault) = runner.free_object(&mut store, &class, handle) {
                record.fault = Some((None, fault));
                break;
            }
        }
    }
    let leaked = record.fault.is_none().then(|| {
        store
            .data()
            .heap
            .live()
            .filter(|b| !store.data().runtime_blocks.contains(&b.id))
            .cloned()
            .collect::<Vec<_>>()
    });
    if record.fault.is_none() {
        // Red zones of what is still live, and what the real allocator holds.
        let live: Vec<Block> = store.data().heap.live().cloned().collect();
        for block in live {
            if let Some(offset) = damaged_red_zone(runner.memory.data(&store), &block) {
                store.data_mut().overflows.push(Overflow {
                    block,
                    offset,
                    found_in: None,
                    on_free: false,
                });
            }
        }
        match untracked_chunks(&store, &runner.memory) {
            Ok(chunks) => record.untracked = chunks,
            Err(why) => record.heap_unreadable = Some(why),
        }
    }
    finish(&mut record, &mut store, scenario.fuel, Some(&runner));
    record.leaked = leaked;
    Ok(record)
}

/// The red zones of a block at `ptr` of `size` bytes: before it and after it.
fn red_zones(ptr: u32, size: u32) -> [std::ops::Range<usize>; 2] {
    let start = ptr as usize;
    let end = start + size as usize;
    let zone = course_guest::abi::RED_ZONE;
    [start.saturating_sub(zone)..start, end..end + zone]
}

/// The first byte of a block's red zones that no longer holds the fill, relative to the block.
fn damaged_red_zone(memory: &[u8], block: &Block) -> Option<i64> {
    red_zones(block.ptr, block.size)
        .into_iter()
        .flatten()
        .find(|&a| {
            memory
                .get(a)
                .is_some_and(|b| *b != course_guest::abi::RED_ZONE_BYTE)
        })
        .map(|a| a as i64 - i64::from(block.ptr))
}

/// Fills a new block's red zones.
fn fill_red_zones(memory: &mut [u8], ptr: u32, size: u32) {
    for range in red_zones(ptr, size) {
        if let Some(zone) = memory.get_mut(range) {
            zone.fill(course_guest::abi::RED_ZONE_BYTE);
        }
    }
}

/// Whether `[ptr, ptr + len)` touches the shadow stack, where nothing outlives a call.
fn in_stack(facts: &ModuleFacts, ptr: u32, len: u32) -> bool {
    facts
        .stack
        .is_some_and(|(low, high)| ptr < high && u64::from(ptr) + u64::from(len) > u64::from(low))
}

/// Where the guest grew memory itself: where dlmalloc's segments can start.
fn guest_grown_at(store: &Store<Host>) -> Vec<u32> {
    store
        .data()
        .limiter
        .growth
        .events
        .iter()
        .filter(|g| !g.by_host)
        .map(|g| (g.from * crate::engine::PAGE as u64) as u32)
        .collect()
}

/// dlmalloc's in-use chunks that hold no block the global allocator reported.
fn untracked_chunks(store: &Store<Host>, memory: &Memory) -> Result<Vec<Chunk>, String> {
    let chunks = dlmalloc::in_use(memory.data(store), &guest_grown_at(store))
        .ok_or("the allocator's own records are damaged (a write outside a block)")?;
    let heap = &store.data().heap;
    let expected: BTreeSet<u32> = heap
        .live()
        .map(|b| b.ptr - course_guest::abi::placement(b.align as usize).0 as u32)
        .collect();
    Ok(chunks
        .into_iter()
        .filter(|c| !expected.contains(&c.mem))
        .collect())
}

fn finish(record: &mut RunRecord, store: &mut Store<Host>, fuel: u64, runner: Option<&Runner>) {
    record.pages_after = runner.map_or(0, |r| r.pages(store));
    record.fuel_used = fuel - store.get_fuel().unwrap_or(0);
    let host = store.data_mut();
    record.growth = host.limiter.growth.clone();
    record.misuse = std::mem::take(&mut host.heap.misuse);
    record.misaligned = std::mem::take(&mut host.heap.misaligned);
    record.allocations = host.heap.allocations;
    record.logs = std::mem::take(&mut host.logs);
    record.logs_dropped = host.logs_dropped;
    record.live = host.heap.live().cloned().collect();
    record.host_grown = std::mem::take(&mut host.host_grown);
    record.seed = host.js.random_used.then_some(host.js.seed);
    record.overflows = std::mem::take(&mut host.overflows);
}

enum Taken {
    Ok(StepRecord),
    /// A host-side failure JavaScript would throw on (a `RangeError` making a view): the
    /// scenario ends here, without a trap.
    Stop(StepRecord),
    Fault(String, Fault),
}

struct Object {
    class: String,
    handle: u32,
}

struct View {
    ptr: u32,
    len: u32,
    elem: Elem,
    /// The live block the view lies in, if it lies in one.
    block: Option<u64>,
    made_in: usize,
    pages: u64,
}

struct Runner {
    instance: Instance,
    memory: Memory,
    objects: BTreeMap<String, Object>,
    vars: HashMap<String, Value>,
    /// For variables holding a returned pointer: the id of the block it pointed into.
    provenance: HashMap<String, u64>,
    views: HashMap<String, View>,
    last_growth: Option<usize>,
    tracked: bool,
}

/// Classifies an error out of a call into the guest.
fn classify(err: wasmtime::Error, store: &mut Store<Host>) -> Fault {
    if let Some(thrown) = err.downcast_ref::<Thrown>() {
        return Fault::Thrown(thrown.0.clone());
    }
    let host = store.data_mut();
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Fault::OutOfFuel,
        Some(Trap::Interrupt) => Fault::WallTimeout,
        Some(Trap::StackOverflow) => Fault::StackOverflow,
        Some(Trap::MemoryOutOfBounds) => Fault::OutOfBounds,
        Some(Trap::UnreachableCodeReached) => {
            if let Some(message) = host.panic.take() {
                Fault::Panic(Some(message))
            } else if let Some((pages, requested)) = host.limiter.growth.denied {
                Fault::OutOfMemory { pages, requested }
            } else {
                Fault::Panic(None)
            }
        }
        Some(trap) => Fault::Trap(trap.to_string()),
        None => Fault::Trap(format!("{err:#}")),
    }
}

/// A JavaScript exception thrown by wasm-bindgen's `__wbindgen_throw`.
#[derive(Debug)]
struct Thrown(String);

impl std::fmt::Display for Thrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error: {}", self.0)
    }
}

impl std::error::Error for Thrown {}

fn read_bytes(
    memory: &Memory,
    store: impl wasmtime::AsContext,
    ptr: u32,
    len: u32,
) -> Option<Vec<u8>> {
    let data = memory.data(&store);
    let start = ptr as usize;
    let end = start.checked_add(len as usize)?;
    data.get(start..end).map(<[u8]>::to_vec)
}

fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(" …[cut]");
    }
    s
}

/// Reads a guest string for the report: lossy UTF-8, cut, and without terminal control
/// characters (a submission must not be able to recolour or rewrite the grader's output).
fn guest_text(caller: &mut Caller<'_, Host>, ptr: u32, len: u32, max: usize) -> String {
    let Some(memory) = caller.data().memory else {
        return String::new();
    };
    let len = len.min(max as u32 + 4);
    let bytes = read_bytes(&memory, &*caller, ptr, len).unwrap_or_default();
    cut(printable(&String::from_utf8_lossy(&bytes)), max)
}

/// Text without terminal control characters (but for newlines and tabs).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// A JavaScript value as the `externref` wasm holds: `null` is the null reference.
fn externref(
    store: impl wasmtime::AsContextMut,
    value: JsVal,
) -> wasmtime::Result<Option<wasmtime::Rooted<wasmtime::ExternRef>>> {
    match value {
        JsVal::Null => Ok(None),
        v => wasmtime::ExternRef::new(store, v).map(Some),
    }
}

fn site(caller: &Caller<'_, Host>, id: u64) -> Site {
    site_and_runtime(caller, id).0
}

/// Where an allocation was made, and whether wasm-bindgen's runtime made it for itself (the
/// free list of its externref table, which lives as long as the instance, like a global).
fn site_and_runtime(caller: &Caller<'_, Host>, id: u64) -> (Site, bool) {
    let (names, lines) = match &caller.data().capture {
        SiteCapture::Names => (id <= SITE_CAPTURES, None),
        SiteCapture::Lines { ids, source_root } => (ids.contains(&id), Some(source_root.clone())),
    };
    if !names {
        return (Site::default(), false);
    }
    let trace = WasmBacktrace::capture(caller);
    let mut site = Site::default();
    let mut runtime = false;
    let runtime_alloc = caller.data().facts.runtime_alloc;
    let mut decided = false;
    for frame in trace.frames() {
        // wasm-bindgen's runtime is known by the function itself, never by a name: the first
        // frame above the allocator decides.
        if !decided
            && frame
                .func_name()
                .is_none_or(|n| is_student_function(&clean_name(n)))
        {
            decided = true;
            runtime = runtime_alloc == Some(frame.func_index());
        }
        if let Some(root) = &lines {
            for symbol in frame.symbols() {
                let (Some(file), Some(line)) = (symbol.file(), symbol.line()) else {
                    continue;
                };
                if let Some(rel) = student_file(file, root.as_deref()) {
                    site.location = Some(format!("{rel}:{line}"));
                    site.function = symbol
                        .name()
                        .map(clean_name)
                        .or_else(|| frame.func_name().map(clean_name));
                    return (site, runtime);
                }
            }
        }
        if site.function.is_none()
            && let Some(name) = frame
                .func_name()
                .map(clean_name)
                .filter(|n| is_student_function(n))
        {
            site.function = Some(name);
            if lines.is_none() {
                return (site, runtime);
            }
        }
    }
    (site, runtime)
}

/// Maps a DWARF file name to `src/...` when it is one of the student's files.
fn student_file(file: &str, root: Option<&str>) -> Option<String> {
    let file = file.replace('\\', "/");
    if let Some(root) = root
        && let Some(rel) = file.strip_prefix(root)
    {
        return Some(rel.trim_start_matches('/').to_owned());
    }
    if file.starts_with("src/") {
        Some(file)
    } else {
        None
    }
}

/// Whether a demangled function name belongs to the student rather than to std, the
/// allocator, wasm-bindgen or the guest support crate.
fn is_student_function(name: &str) -> bool {
    const NOT_STUDENT: &[&str] = &[
        "alloc::",
        "core::",
        "std::",
        "dlmalloc::",
        "course_guest::",
        "wasm_bindgen::",
        "__rust",
        "__rdl",
        "__rg_",
        "__wbindgen",
        "__wbg",
        "<alloc::",
        "<core::",
        "<std::",
        "<dlmalloc::",
        "<course_guest::",
        "<wasm_bindgen::",
        "rust_begin_unwind",
        "rust_panic",
        "__wasm_course",
    ];
    !NOT_STUDENT.iter().any(|p| name.starts_with(p))
}

/// Drops the crate prefix and hash from a demangled name: `submission_x::Buffer::new::h1a2b…` →
/// `Buffer::new`.
pub(crate) fn clean_name(name: &str) -> String {
    let demangled = format!("{:#}", rustc_demangle::demangle(name));
    let name = demangled.as_str();
    let name = match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].chars().all(|c| c.is_ascii_hexdigit()) => {
            &name[..i]
        }
        _ => name,
    };
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find("submission") {
        let after = &rest[i + "submission".len()..];
        let ident_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let at_start =
            i == 0 || !rest[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if at_start && after[ident_len..].starts_with("::") {
            out.push_str(&rest[..i]);
            rest = &after[ident_len + 2..];
        } else {
            out.push_str(&rest[..i + "submission".len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn import_func(
    store: &mut Store<Host>,
    glue: &js::Glue,
    module: &str,
    name: &str,
    ty: FuncType,
) -> Option<Func> {
    use course_guest::abi;
    let ptr = |v: &Val| v.unwrap_i32() as u32;
    if module == abi::MODULE {
        let f = match name {
            abi::ON_ALLOC => Func::new(&mut *store, ty, move |mut caller, args, _| {
                let (p, size, align) = (ptr(&args[0]), ptr(&args[1]), ptr(&args[2]));
                let id = caller.data().heap.allocations + 1;
                let (site, runtime) = site_and_runtime(&caller, id);
                if let Some(memory) = guest_memory(&mut caller) {
                    fill_red_zones(memory.data_mut(&mut caller), p, size);
                }
                let host = caller.data_mut();
                if runtime {
                    host.runtime_blocks.insert(id);
                }
                let step = host.step;
                let id = host.heap.on_alloc(p, size, align, step, site);
                if host.in_call {
                    host.call_allocs.push((id, size));
                }
                Ok(())
            }),
            abi::ON_DEALLOC => Func::new(&mut *store, ty, move |mut caller, args, results| {
                let (p, size, align) = (ptr(&args[0]), ptr(&args[1]), ptr(&args[2]));
                let step = caller.data().step;
                // The site is only needed when the free is a misuse: capture it lazily.
                let freed =
                    caller
                        .data_mut()
                        .heap
                        .on_dealloc(p, size, align, step, Site::default());
                match &freed {
                    None => {
                        let site = site(&caller, 0);
                        if let Some(event) = caller.data_mut().heap.misuse.last_mut() {
                            event.site = site;
                        }
                    }
                    Some(block) => {
                        let damage = guest_memory(&mut caller)
                            .and_then(|m| damaged_red_zone(m.data(&caller), block));
                        if let Some(offset) = damage {
                            caller.data_mut().overflows.push(Overflow {
                                block: block.clone(),
                                offset,
                                found_in: step,
                                on_free: true,
                            });
                        }
                    }
                }
                results[0] = Val::I32(i32::from(freed.is_some()));
                Ok(())
            }),
            abi::ON_PANIC => Func::new(&mut *store, ty, move |mut caller, args, _| {
                let text = guest_text(&mut caller, ptr(&args[0]), ptr(&args[1]), PANIC_BYTES);
                caller.data_mut().panic = Some(text);
                Ok(())
            }),
            abi::ON_LOG => Func::new(&mut *store, ty, move |mut caller, args, _| {
                let text = guest_text(&mut caller, ptr(&args[0]), ptr(&args[1]), LOG_LINE_BYTES);
                push_log(caller.data_mut(), text);
                Ok(())
            }),
            _ => return None,
        };
        return Some(f);
    }
    // Everything else comes from wasm-bindgen's glue, which states what each import does.
    if glue.module.as_deref() != Some(module) || !glue.needs(name)?.is_empty() {
        return None;
    }
    let def = glue.function(name)?;
    let results: Vec<ValType> = ty.results().collect();
    Some(Func::new(&mut *store, ty, move |mut caller, args, out| {
        let mut env = CallerEnv {
            caller: &mut caller,
        };
        let args = args.iter().map(|a| env.js_value(a)).collect();
        match js::call(&def, args, &mut env) {
            Ok(value) => {
                if let (Some(ty), Some(slot)) = (results.first(), out.first_mut()) {
                    *slot = env.wasm_value(ty, value)?;
                }
                Ok(())
            }
            Err(js::Abort::Throw(e)) => Err(wasmtime::Error::new(Thrown(thrown_text(&e)))),
            Err(js::Abort::Trap(e)) => Err(e),
        }
    }))
}

/// What a thrown value says: an `Error`'s message, or the value as JavaScript prints it.
fn thrown_text(e: &JsVal) -> String {
    let text = match e {
        JsVal::Object(o) => match &o.kind {
            js::ObjKind::Error { message, .. } => message.clone(),
            _ => e.to_js_string(),
        },
        e => e.to_js_string(),
    };
    cut(text, PANIC_BYTES)
}

/// The glue's view of the instance, for [`js::call`].
struct CallerEnv<'a, 'b> {
    caller: &'a mut Caller<'b, Host>,
}

impl CallerEnv<'_, '_> {
    fn js_value(&mut self, v: &Val) -> JsVal {
        match v {
            Val::I32(n) => JsVal::Number(f64::from(*n)),
            Val::I64(n) => JsVal::Number(*n as f64),
            Val::F32(bits) => JsVal::Number(f64::from(f32::from_bits(*bits))),
            Val::F64(bits) => JsVal::Number(f64::from_bits(*bits)),
            Val::ExternRef(None) => JsVal::Null,
            Val::ExternRef(Some(r)) => r
                .data(&*self.caller)
                .ok()
                .flatten()
                .and_then(|d| d.downcast_ref::<JsVal>())
                .cloned()
                .unwrap_or(JsVal::Undefined),
            _ => JsVal::Undefined,
        }
    }

    fn wasm_value(&mut self, ty: &ValType, v: JsVal) -> wasmtime::Result<Val> {
        Ok(match ty {
            ValType::I32 => Val::I32(v.to_i32()),
            ValType::I64 => Val::I64(v.to_number() as i64),
            ValType::F32 => Val::F32((v.to_number() as f32).to_bits()),
            ValType::F64 => Val::F64(v.to_number().to_bits()),
            _ => Val::ExternRef(externref(&mut *self.caller, v)?),
        })
    }

    fn range_error(&mut self, what: String) -> js::Abort {
        js::Abort::Throw(JsVal::str(&format!("RangeError: {what}")))
    }

    /// An export of the instance, which the host keeps itself: `Caller::get_export` found none
    /// of these from the glue's functions (wasmtime 48). `None` before instantiation ends.
    fn export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.caller.data().instance?;
        instance.get_export(&mut *self.caller, name)
    }

    fn table(&mut self) -> Option<wasmtime::Table> {
        self.export("__wbindgen_externrefs")
            .and_then(Extern::into_table)
    }
}

impl js::Env for CallerEnv<'_, '_> {
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, js::Abort> {
        let memory = self.caller.data().memory;
        memory
            .and_then(|m| read_bytes(&m, &*self.caller, ptr, len))
            .ok_or_else(|| self.range_error(format!("{len} bytes at {ptr} lie outside memory")))
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), js::Abort> {
        let memory = self.caller.data().memory;
        let dst = memory.and_then(|m| {
            let start = ptr as usize;
            m.data_mut(&mut *self.caller)
                .get_mut(start..start + bytes.len())
        });
        match dst {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(())
            }
            None => {
                let n = bytes.len();
                Err(self.range_error(format!("{n} bytes at {ptr} lie outside memory")))
            }
        }
    }

    fn call_export(&mut self, name: &str, args: &[JsVal]) -> Result<JsVal, js::Abort> {
        let Some(f) = self.export(name).and_then(Extern::into_func) else {
            return Err(js::Abort::Throw(JsVal::str(&format!(
                "TypeError: wasm.{name} is not a function"
            ))));
        };
        let ty = f.ty(&*self.caller);
        let mut vals = Vec::new();
        for (i, param) in ty.params().enumerate() {
            let v = args.get(i).cloned().unwrap_or(JsVal::Undefined);
            vals.push(self.wasm_value(&param, v).map_err(js::Abort::Trap)?);
        }
        let mut out = vec![Val::I32(0); ty.results().len()];
        f.call(&mut *self.caller, &vals, &mut out)
            .map_err(js::Abort::Trap)?;
        Ok(out
            .first()
            .map(|v| self.js_value(v))
            .unwrap_or(JsVal::Undefined))
    }

    fn table_get(&mut self, index: u32) -> Result<JsVal, js::Abort> {
        let slot = self
            .table()
            .and_then(|t| t.get(&mut *self.caller, u64::from(index)));
        Ok(match slot {
            Some(wasmtime::Ref::Extern(r)) => self.js_value(&Val::ExternRef(r)),
            _ => JsVal::Undefined,
        })
    }

    fn table_set(&mut self, index: u32, value: JsVal) -> Result<(), js::Abort> {
        let Some(table) = self.table() else {
            self.caller.data_mut().js.pending_table.push((index, value));
            return Ok(());
        };
        let r = externref(&mut *self.caller, value).map_err(js::Abort::Trap)?;
        table
            .set(
                &mut *self.caller,
                u64::from(index),
                wasmtime::Ref::Extern(r),
            )
            .map_err(|e| self.range_error(format!("{e}")))
    }

    fn console(&mut self, method: &str, text: String) {
        // `console_error_panic_hook` prints the panic, then a blank line, "Stack:" and the
        // stack of an `Error` it just made: that is a panic message, reported as ours is.
        let host = self.caller.data_mut();
        if method == "error"
            && host.js.stack_read
            && let Some((message, _)) = text.split_once("\n\nStack:\n\n")
        {
            host.panic = Some(cut(message.to_owned(), PANIC_BYTES));
            return;
        }
        let prefix = match method {
            "warn" => "warning: ",
            "error" => "error: ",
            "alert" => "alert: ",
            _ => "",
        };
        push_log(host, format!("{prefix}{text}"));
    }

    fn now(&mut self) -> f64 {
        let left = self.caller.get_fuel().unwrap_or(0);
        let used = self.caller.data().js.fuel.saturating_sub(left);
        used as f64 / FUEL_PER_MS
    }

    fn date_now(&mut self) -> f64 {
        EPOCH_MS + self.now()
    }

    fn random(&mut self) -> f64 {
        let js = &mut self.caller.data_mut().js;
        js.random_used = true;
        // SplitMix64, then the top 53 bits as a fraction in [0, 1).
        js.rng = js.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = js.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn stack_trace(&mut self) -> String {
        self.caller.data_mut().js.stack_read = true;
        let trace = WasmBacktrace::capture(&*self.caller);
        let frames: Vec<String> = trace
            .frames()
            .iter()
            .filter_map(|f| f.func_name().map(clean_name))
            .take(12)
            .map(|name| format!("    at {name} (wasm)"))
            .collect();
        frames.join("\n")
    }

    fn new_id(&mut self) -> u64 {
        let js = &mut self.caller.data_mut().js;
        js.ids += 1;
        js.ids
    }

    fn timers(&mut self) -> &mut BTreeMap<String, f64> {
        &mut self.caller.data_mut().js.timers
    }

    fn vector_len(&mut self) -> &mut f64 {
        &mut self.caller.data_mut().js.vector_len
    }
}

/// The instance's memory, also while it is being instantiated (a start function allocates
/// before the host has the instance).
fn guest_memory(caller: &mut Caller<'_, Host>) -> Option<Memory> {
    caller
        .data()
        .memory
        .or_else(|| caller.get_export("memory").and_then(Extern::into_memory))
}

/// Keeps a line of output, within the caps, without terminal control characters.
fn push_log(host: &mut Host, text: String) {
    if host.logs.len() >= LOG_LINES {
        host.logs_dropped += 1;
        return;
    }
    host.logs.push(cut(printable(&text), LOG_LINE_BYTES));
}

/// The imports of a module the grader cannot provide: those of no module it serves, and those
/// whose glue reaches for something only a browser has (with what it reaches for).
pub fn unsupported_imports(module: &Module, glue: &js::Glue) -> Vec<UnsupportedImport> {
    use course_guest::abi;
    let mut out = Vec::new();
    for i in module.imports() {
        let is_func = matches!(i.ty(), wasmtime::ExternType::Func(_));
        if i.module() == abi::MODULE && abi::IMPORTS.contains(&i.name()) && is_func {
            continue;
        }
        let from_glue = glue.module.as_deref() == Some(i.module()) && is_func;
        match (from_glue, glue.needs(i.name())) {
            (true, Some([])) => continue,
            (true, Some(needs)) => out.push(UnsupportedImport {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                browser: Some(needs.to_vec()),
            }),
            _ => out.push(UnsupportedImport {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                browser: None,
            }),
        }
    }
    out
}

/// An import the grader cannot serve.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsupportedImport {
    pub module: String,
    pub name: String,
    /// For a JavaScript function the glue defines: what it uses that only a browser has.
    pub browser: Option<Vec<String>>,
}

impl Runner {
    fn instantiate(
        store: &mut Store<Host>,
        module: &Module,
        glue: &js::Glue,
    ) -> Result<Runner, Fault> {
        let mut imports = Vec::new();
        for import in module.imports() {
            let wasmtime::ExternType::Func(ty) = import.ty() else {
                return Err(Fault::Trap(format!(
                    "import `{}.{}` is not a function",
                    import.module(),
                    import.name()
                )));
            };
            let Some(f) = import_func(store, glue, import.module(), import.name(), ty) else {
                return Err(Fault::Trap(format!(
                    "unsupported import `{}.{}`",
                    import.module(),
                    import.name()
                )));
            };
            imports.push(Extern::Func(f));
        }
        let instance =
            Instance::new(&mut *store, module, &imports).map_err(|e| classify(e, store))?;
        let pending = std::mem::take(&mut store.data_mut().js.pending_table);
        if let Some(table) = instance.get_table(&mut *store, "__wbindgen_externrefs") {
            for (index, value) in pending {
                let r = externref(&mut *store, value).map_err(|e| Fault::Trap(format!("{e:#}")))?;
                table
                    .set(&mut *store, u64::from(index), wasmtime::Ref::Extern(r))
                    .map_err(|e| Fault::Trap(format!("{e:#}")))?;
            }
        }
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| Fault::Trap("the module exports no `memory`".into()))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().instance = Some(instance);
        let tracked = module
            .imports()
            .any(|i| i.module() == course_guest::abi::MODULE);
        let runner = Runner {
            instance,
            memory,
            objects: BTreeMap::new(),
            vars: HashMap::new(),
            provenance: HashMap::new(),
            views: HashMap::new(),
            last_growth: None,
            tracked,
        };
        for init in [course_guest::abi::INIT, abi::START] {
            if let Some(f) = instance.get_func(&mut *store, init) {
                f.call(&mut *store, &[], &mut [])
                    .map_err(|e| classify(e, store))?;
            }
        }
        Ok(runner)
    }

    fn pages(&self, store: &Store<Host>) -> u64 {
        self.memory.size(store)
    }

    fn func(&self, store: &mut Store<Host>, name: &str) -> Result<Func, Fault> {
        self.instance
            .get_func(&mut *store, name)
            .ok_or_else(|| Fault::Trap(format!("the module has no export `{name}`")))
    }

    fn call(
        &self,
        store: &mut Store<Host>,
        name: &str,
        args: &[Val],
        results: usize,
    ) -> Result<Vec<Val>, Fault> {
        let f = self.func(store, name)?;
        let mut out = vec![Val::I32(0); results];
        f.call(&mut *store, args, &mut out)
            .map_err(|e| classify(e, store))?;
        Ok(out)
    }

    fn free_object(&self, store: &mut Store<Host>, class: &str, handle: u32) -> Result<(), Fault> {
        self.call(
            store,
            &abi::free_export(class),
            &[Val::I32(handle as i32), Val::I32(0)],
            0,
        )
        .map(drop)
    }

    fn step(
        &mut self,
        store: &mut Store<Host>,
        exports: &Exports,
        step: &Step,
        index: usize,
    ) -> Result<Taken, ScenarioError> {
        let err = |text: &str, message: String| ScenarioError::at(index, text, message);
        match step {
            Step::Call(call) if call.repeat > 1 => {
                for k in 1..=call.repeat {
                    let taken = self.call_step(store, exports, call, false, index)?;
                    // The step reads as one line: `u.tick() ×100`, or which call went wrong.
                    let mark = |text: String| {
                        if k == call.repeat {
                            format!("{text} ×{}", call.repeat)
                        } else {
                            format!("{text} (call {k} of {})", call.repeat)
                        }
                    };
                    match taken {
                        Taken::Ok(record) if record.problem.is_none() && k < call.repeat => {}
                        Taken::Ok(record) => {
                            return Ok(Taken::Ok(StepRecord {
                                text: mark(record.text),
                                ..record
                            }));
                        }
                        Taken::Stop(record) => {
                            return Ok(Taken::Stop(StepRecord {
                                text: mark(record.text),
                                ..record
                            }));
                        }
                        Taken::Fault(text, fault) => return Ok(Taken::Fault(mark(text), fault)),
                    }
                }
                unreachable!("the last call returns")
            }
            Step::Call(call) | Step::New(call) => {
                self.call_step(store, exports, call, matches!(step, Step::New(_)), index)
            }
            Step::Free { object } => {
                let text = format!("{object}.free()");
                let Some(obj) = self.objects.remove(object) else {
                    return Err(err(&text, format!("there is no object named `{object}`")));
                };
                Ok(match self.free_object(store, &obj.class, obj.handle) {
                    Ok(()) => Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: None,
                    }),
                    Err(fault) => Taken::Fault(text, fault),
                })
            }
            Step::Grow { pages } => {
                let text = format!("memory.grow({pages})");
                store.data_mut().limiter.growth.host_growing = true;
                let grown = self.memory.grow(&mut *store, u64::from(*pages));
                store.data_mut().limiter.growth.host_growing = false;
                if let Ok(old) = grown {
                    let new = old + u64::from(*pages);
                    store.data_mut().host_grown.push((old, new));
                }
                let result = grown.map(|old| Value::Int(old as i64)).ok();
                Ok(Taken::Ok(StepRecord {
                    text,
                    result,
                    problem: None,
                }))
            }
            Step::View {
                name,
                ptr,
                len,
                elem,
            } => {
                let ptr_v = self.resolve(ptr).map_err(|m| err(name, m))?;
                let len_v = self.resolve(len).map_err(|m| err(name, m))?;
                let text = format!(
                    "{name} = new {}(memory.buffer, {}, {})",
                    elem.js_array(),
                    arg_text(ptr),
                    arg_text(len)
                );
                let (Some(p), Some(n)) = (as_u32(&ptr_v), as_u32(&len_v)) else {
                    return Err(err(
                        &text,
                        format!("`ptr` and `len` must be numbers, got {ptr_v} and {len_v}"),
                    ));
                };
                let bytes = u64::from(n) * u64::from(elem.size());
                let memory = self.memory.data_size(&*store) as u64;
                let origin = match ptr {
                    Value::Str(s) if s.starts_with('$') => self.provenance.get(&s[1..]).copied(),
                    _ => None,
                };
                let heap = &store.data().heap;
                let problem = if let Some(id) = origin.filter(|id| !heap.is_live(*id)) {
                    // The pointer's block was freed (or moved) before the view was made.
                    Some(Problem::UseAfterFree {
                        view: name.clone(),
                        ptr: p,
                        made_in: index,
                        freed_in: heap.freed_in_step(id).flatten(),
                    })
                } else if p % elem.size() != 0 {
                    Some(Problem::MisalignedView {
                        ptr: p,
                        elem: *elem,
                    })
                } else if u64::from(p) + bytes > memory {
                    Some(Problem::ViewOutOfBounds {
                        ptr: p,
                        bytes,
                        memory,
                    })
                } else {
                    self.judge_view(store, name, p, bytes as u32, index)
                };
                if problem.is_none() {
                    let heap = &store.data().heap;
                    let block = heap.block_containing(p, bytes as u32).map(|b| b.id);
                    self.views.insert(
                        name.clone(),
                        View {
                            ptr: p,
                            len: n,
                            elem: *elem,
                            block,
                            made_in: index,
                            pages: self.pages(store),
                        },
                    );
                }
                let record = StepRecord {
                    text,
                    result: None,
                    problem,
                };
                Ok(if record.problem.is_some() {
                    Taken::Stop(record)
                } else {
                    Taken::Ok(record)
                })
            }
            Step::Write { view, at, values } => {
                let text = format!(
                    "{view}.set([{}], {at})",
                    values
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let v = self
                    .view(view, *at, values.len() as u32)
                    .map_err(|m| err(&text, m))?;
                if let Some(problem) = self.view_problem(store, view, &v) {
                    return Ok(Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: Some(problem),
                    }));
                }
                let bytes = encode(values, v.elem).map_err(|m| err(&text, m))?;
                let start = (v.ptr + at * v.elem.size()) as usize;
                self.memory.data_mut(&mut *store)[start..start + bytes.len()]
                    .copy_from_slice(&bytes);
                Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: None,
                }))
            }
            Step::Read {
                view,
                at,
                len,
                expect,
            } => {
                let text = format!("{view}.slice({at}, {})", at + len);
                let v = self.view(view, *at, *len).map_err(|m| err(&text, m))?;
                if let Some(problem) = self.view_problem(store, view, &v) {
                    return Ok(Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: Some(problem),
                    }));
                }
                let start = v.ptr + at * v.elem.size();
                let bytes = read_bytes(&self.memory, &*store, start, len * v.elem.size())
                    .expect("view is in bounds");
                let actual = decode(&bytes, v.elem);
                let problem = expect
                    .as_ref()
                    .filter(|e| !e.matches(&actual, 0.0))
                    .map(|e| Problem::WrongValue {
                        expected: e.clone(),
                        actual: Some(actual.clone()),
                    });
                Ok(Taken::Ok(StepRecord {
                    text,
                    result: Some(actual),
                    problem,
                }))
            }
        }
    }

    /// What a new view lies in: one live block or static data is fine; past a block's end,
    /// freed memory, or a returned stack frame is a problem.
    fn judge_view(
        &self,
        store: &Store<Host>,
        view: &str,
        ptr: u32,
        len: u32,
        index: usize,
    ) -> Option<Problem> {
        if len == 0 {
            return None;
        }
        let host = store.data();
        if in_stack(&host.facts, ptr, len) {
            return Some(Problem::DanglingStack {
                view: Some(view.to_owned()),
                ptr,
            });
        }
        let name = view.to_owned();
        match host.heap.region(ptr, len) {
            Region::Live(_) => None,
            Region::PastBlock(block) => Some(Problem::ViewPastBlock {
                view: name,
                ptr,
                bytes: u64::from(len),
                block: block.clone(),
            }),
            region @ (Region::Freed(_) | Region::Unknown) => {
                // Memory the program took from `std::alloc::System` is live though the
                // shadow heap never saw it: ask the real allocator.
                let live_untracked = untracked_chunks(store, &self.memory)
                    .is_ok_and(|chunks| chunks.iter().any(|c| c.contains(ptr, len)));
                match region {
                    Region::Freed(freed) if !live_untracked => Some(Problem::UseAfterFree {
                        view: name,
                        ptr,
                        made_in: index,
                        freed_in: freed.step,
                    }),
                    _ => None,
                }
            }
        }
    }

    /// A copy of a view's geometry, after checking the access stays inside it.
    fn view(&self, name: &str, at: u32, len: u32) -> Result<View, String> {
        let v = self
            .views
            .get(name)
            .ok_or_else(|| format!("there is no view named `{name}`"))?;
        if u64::from(at) + u64::from(len) > u64::from(v.len) {
            return Err(format!(
                "elements {at}..{} are outside view `{name}` of length {}",
                at + len,
                v.len
            ));
        }
        Ok(View {
            ptr: v.ptr,
            len: v.len,
            elem: v.elem,
            block: v.block,
            made_in: v.made_in,
            pages: v.pages,
        })
    }

    /// Whether an access through the view is stale: memory grew (the typed array is detached)
    /// or its block was freed or moved.
    fn view_problem(&self, store: &Store<Host>, name: &str, v: &View) -> Option<Problem> {
        if self.pages(store) != v.pages {
            return Some(Problem::StaleView {
                view: name.to_owned(),
                made_in: v.made_in,
                grew_in: self.last_growth.unwrap_or(v.made_in),
            });
        }
        let id = v.block?;
        let heap = &store.data().heap;
        if heap.is_live(id) {
            return None;
        }
        Some(Problem::UseAfterFree {
            view: name.to_owned(),
            ptr: v.ptr,
            made_in: v.made_in,
            freed_in: heap.freed_in_step(id).flatten(),
        })
    }

    /// Resolves `"$name"` to the value bound earlier.
    fn resolve(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Str(s) if s.starts_with('$') && !s.starts_with("$$") => {
                let name = &s[1..];
                self.vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("`{s}` was not bound by an earlier step's `as`"))
            }
            Value::List(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<Result<_, _>>()
                .map(Value::List),
            v => Ok(v.clone()),
        }
    }

    fn call_step(
        &mut self,
        store: &mut Store<Host>,
        exports: &Exports,
        call: &Call,
        is_new: bool,
        index: usize,
    ) -> Result<Taken, ScenarioError> {
        let err = |text: &str, message: String| ScenarioError::at(index, text, message);
        // Work out the export, its signature and the receiver.
        let (export, sig, receiver, class): (String, Signature, Option<u32>, Option<String>) =
            if is_new {
                let s = exports
                    .structs
                    .get(&call.target)
                    .and_then(|s| s.constructor.clone())
                    .ok_or_else(|| {
                        err(
                            &call.target,
                            format!("`{}` has no declared constructor", call.target),
                        )
                    })?;
                (
                    abi::method_export(&call.target, &s.name),
                    s,
                    None,
                    Some(call.target.clone()),
                )
            } else if let Some((object, method)) = call.target.split_once('.') {
                let obj = self.objects.get(object).ok_or_else(|| {
                    err(&call.target, format!("there is no object named `{object}`"))
                })?;
                let s = exports.method(&obj.class, method).cloned().ok_or_else(|| {
                    err(
                        &call.target,
                        format!("`{}` has no declared method `{method}`", obj.class),
                    )
                })?;
                (
                    abi::method_export(&obj.class, method),
                    s,
                    Some(obj.handle),
                    Some(obj.class.clone()),
                )
            } else if let Some((class, method)) = call.target.split_once("::") {
                let s = exports.method(class, method).cloned().ok_or_else(|| {
                    err(
                        &call.target,
                        format!("`{class}` has no declared associated function `{method}`"),
                    )
                })?;
                (
                    abi::method_export(class, method),
                    s,
                    None,
                    Some(class.to_owned()),
                )
            } else {
                let s = exports.function(&call.target).cloned().ok_or_else(|| {
                    err(
                        &call.target,
                        format!("`{}` is not a declared function", call.target),
                    )
                })?;
                (s.name.clone(), s, None, None)
            };
        let mut ret = sig.ret.clone();
        if let Some(class) = &class {
            ret.resolve_self(class);
        }
        let args: Vec<Value> = call
            .args
            .iter()
            .map(|a| self.resolve_arg(a))
            .collect::<Result<_, _>>()
            .map_err(|m| err(&call.target, m))?;
        let text = call_text(call, is_new, &call.args);
        if args.len() != sig.params.len() {
            return Err(err(
                &text,
                format!(
                    "`{}` takes {} arguments, the step gives {}",
                    sig.text,
                    sig.params.len(),
                    args.len()
                ),
            ));
        }
        // Lower the arguments, as the glue does: copies into memory the guest will own and free.
        let mut core = Vec::new();
        if let Some(handle) = receiver {
            core.push(Val::I32(handle as i32));
        }
        let mut consumed = Vec::new();
        for ((pname, ty), value) in sig.params.iter().zip(&args) {
            let mut ty = ty.clone();
            if let Some(class) = &class {
                ty.resolve_self(class);
            }
            match self.lower(store, &ty, value, &mut consumed) {
                Ok(Ok(vals)) => core.extend(vals),
                Ok(Err(message)) => {
                    return Err(err(&text, format!("argument `{pname}`: {message}")));
                }
                Err(fault) => return Ok(Taken::Fault(text, fault)),
            }
        }
        let results = ret.results().len();
        store.data_mut().call_allocs.clear();
        store.data_mut().in_call = true;
        let out = self.call(store, &export, &core, results);
        store.data_mut().in_call = false;
        let out = match out {
            Ok(out) => out,
            Err(fault) => return Ok(Taken::Fault(text, fault)),
        };
        if let Some(allowed) = call.max_allocations {
            let made = std::mem::take(&mut store.data_mut().call_allocs);
            if made.len() > allowed as usize {
                let (first_id, _) = made[allowed as usize];
                let first = store
                    .data()
                    .heap
                    .live()
                    .find(|b| b.id == first_id)
                    .cloned()
                    .or_else(|| store.data().heap.dead_block(first_id))
                    .unwrap_or_default();
                return Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: Some(Problem::Allocated {
                        allowed,
                        count: made.len(),
                        bytes: made.iter().map(|(_, b)| u64::from(*b)).sum(),
                        first,
                    }),
                }));
            }
        }
        for name in consumed {
            self.objects.remove(&name);
        }
        if sig.receiver == Receiver::Consume
            && let Some((object, _)) = call.target.split_once('.')
        {
            self.objects.remove(object);
        }
        // Lift the result, freeing what the glue frees.
        let lifted = match self.lift(store, &ret, &out) {
            Ok(v) => v,
            Err(Ok(problem)) => {
                return Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: Some(problem),
                }));
            }
            Err(Err(fault)) => return Ok(Taken::Fault(text, fault)),
        };
        let mut result = lifted.clone();
        if let (Ty::Struct(class), Some(Value::Int(handle))) = (&ret, &lifted) {
            let handle = *handle as u32;
            match &call.bind {
                Some(name) => {
                    self.objects.insert(
                        name.clone(),
                        Object {
                            class: class.clone(),
                            handle,
                        },
                    );
                    result = Some(Value::Object(class.clone()));
                }
                // An object nobody keeps is collected, and its finalizer frees it.
                None => {
                    if let Err(fault) = self.free_object(store, class, handle) {
                        return Ok(Taken::Fault(text, fault));
                    }
                    result = Some(Value::Object(class.clone()));
                }
            }
        } else if let (Some(name), Some(v)) = (&call.bind, &lifted) {
            self.vars.insert(name.clone(), v.clone());
            // A returned pointer remembers the block it points into, so a later use can tell
            // that block was freed even when the address has been handed out again.
            match (&ret, v) {
                (Ty::Ptr(_), Value::Int(p)) => {
                    match store.data().heap.block_containing(*p as u32, 1) {
                        Some(block) => self.provenance.insert(name.clone(), block.id),
                        None => self.provenance.remove(name),
                    }
                }
                _ => self.provenance.remove(name),
            };
        }
        // A pointer into the stack outlives the frame it pointed into.
        if let (Ty::Ptr(_), Some(Value::Int(p))) = (&ret, &lifted)
            && let Ok(p) = u32::try_from(*p)
            && in_stack(&store.data().facts, p, 1)
        {
            return Ok(Taken::Ok(StepRecord {
                text,
                result,
                problem: Some(Problem::DanglingStack { view: None, ptr: p }),
            }));
        }
        let problem = match &call.expect {
            Expect::Returns => None,
            Expect::Value { value, tolerance } => match &result {
                Some(actual) if value.matches(actual, *tolerance) => None,
                actual => Some(Problem::WrongValue {
                    expected: value.clone(),
                    actual: actual.clone(),
                }),
            },
            Expect::Panic(expected) => Some(Problem::MissingPanic {
                expected: expected.clone(),
            }),
        };
        Ok(Taken::Ok(StepRecord {
            text,
            result,
            problem,
        }))
    }

    /// Resolves `$name` to an object (kept as a string naming it) or a bound value.
    fn resolve_arg(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Str(s) if s.starts_with('$') && self.objects.contains_key(&s[1..]) => {
                Ok(value.clone())
            }
            v => self.resolve(v),
        }
    }

    fn malloc(&self, store: &mut Store<Host>, bytes: &[u8], align: u32) -> Result<u32, Fault> {
        let out = self.call(
            store,
            abi::MALLOC,
            &[Val::I32(bytes.len() as i32), Val::I32(align as i32)],
            1,
        )?;
        let ptr = out[0].unwrap_i32() as u32;
        let end = ptr as usize + bytes.len();
        match self.memory.data_mut(&mut *store).get_mut(ptr as usize..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(ptr)
            }
            None => Err(Fault::OutOfBounds),
        }
    }

    /// Lowers one argument. The outer `Err` is a fault in the guest (its allocator trapped);
    /// the inner one a value that does not fit the type.
    fn lower(
        &self,
        store: &mut Store<Host>,
        ty: &Ty,
        value: &Value,
        consumed: &mut Vec<String>,
    ) -> Result<Result<Vec<Val>, String>, Fault> {
        let mismatch = || Ok(Err(format!("{value} is not a `{ty}`")));
        Ok(Ok(match (ty, value) {
            (Ty::Unit, _) => vec![],
            (Ty::Bool, Value::Bool(b)) => vec![Val::I32(i32::from(*b))],
            (Ty::Int(int), Value::Int(n)) => match lower_int(*int, *n) {
                Some(v) => vec![v],
                None => return Ok(Err(format!("{n} does not fit in `{}`", int.rust_name()))),
            },
            (Ty::F32, v) if v.as_f64().is_some() => {
                vec![Val::F32((v.as_f64().unwrap() as f32).to_bits())]
            }
            (Ty::F64, v) if v.as_f64().is_some() => vec![Val::F64(v.as_f64().unwrap().to_bits())],
            (Ty::Ptr(_), Value::Int(n)) if (0..=i64::from(u32::MAX)).contains(n) => {
                vec![Val::I32(*n as u32 as i32)]
            }
            (Ty::Option(inner), Value::Str(s)) if s == "None" => match **inner {
                Ty::F64 => vec![Val::I32(0), Val::F64(0f64.to_bits())],
                _ => vec![Val::F64(NONE.to_bits())],
            },
            (Ty::Option(inner), v) => match (&**inner, v) {
                (Ty::F64, v) if v.as_f64().is_some() => {
                    vec![Val::I32(1), Val::F64(v.as_f64().unwrap().to_bits())]
                }
                (Ty::Int(int), Value::Int(n)) if !int.is_64() && lower_int(*int, *n).is_some() => {
                    vec![Val::F64((*n as f64).to_bits())]
                }
                _ => return mismatch(),
            },
            (Ty::Slice(elem) | Ty::Vec(elem), Value::List(items)) => {
                let bytes = match encode(items, *elem) {
                    Ok(b) => b,
                    Err(m) => return Ok(Err(m)),
                };
                let ptr = self.malloc(store, &bytes, elem.size())?;
                vec![Val::I32(ptr as i32), Val::I32(items.len() as i32)]
            }
            (Ty::Str | Ty::String, Value::Str(s)) => {
                let ptr = self.malloc(store, s.as_bytes(), 1)?;
                vec![Val::I32(ptr as i32), Val::I32(s.len() as i32)]
            }
            (Ty::Struct(class) | Ty::StructRef(class), Value::Str(s)) if s.starts_with('$') => {
                let name = &s[1..];
                let Some(obj) = self.objects.get(name) else {
                    return mismatch();
                };
                if &obj.class != class {
                    return Ok(Err(format!(
                        "`{name}` is a `{}`, not a `{class}`",
                        obj.class
                    )));
                }
                if matches!(ty, Ty::Struct(_)) {
                    consumed.push(name.to_owned());
                }
                vec![Val::I32(obj.handle as i32)]
            }
            _ => return mismatch(),
        }))
    }

    /// Lifts a result. Errors: a problem with what was returned, or a fault while freeing it.
    #[allow(clippy::result_large_err)]
    fn lift(
        &self,
        store: &mut Store<Host>,
        ty: &Ty,
        out: &[Val],
    ) -> Result<Option<Value>, Result<Problem, Fault>> {
        let i32_at = |i: usize| out[i].unwrap_i32();
        Ok(Some(match ty {
            Ty::Unit => return Ok(None),
            Ty::Bool => Value::Bool(i32_at(0) != 0),
            Ty::Int(int) if int.is_64() => {
                let raw = out[0].unwrap_i64();
                if int.is_signed() || raw >= 0 {
                    Value::Int(raw)
                } else {
                    Value::Float(raw as u64 as f64)
                }
            }
            Ty::Int(int) => Value::Int(lift_int(*int, i32_at(0))),
            Ty::F32 => Value::Float(f64::from(out[0].unwrap_f32())),
            Ty::F64 => Value::Float(out[0].unwrap_f64()),
            Ty::Ptr(_) | Ty::Struct(_) | Ty::StructRef(_) => {
                Value::Int(i64::from(i32_at(0) as u32))
            }
            Ty::Option(inner) => match **inner {
                Ty::F64 if i32_at(0) == 0 => Value::Str("None".into()),
                Ty::F64 => Value::Float(out[1].unwrap_f64()),
                _ => {
                    let raw = out[0].unwrap_f64();
                    if raw == NONE {
                        Value::Str("None".into())
                    } else {
                        Value::Int(raw as i64)
                    }
                }
            },
            Ty::Vec(_) | Ty::Slice(_) | Ty::String | Ty::Str => {
                let (ptr, len) = (i32_at(0) as u32, i32_at(1) as u32);
                let (elem, align) = match ty {
                    Ty::Vec(e) | Ty::Slice(e) => (Some(*e), e.size()),
                    _ => (None, 1),
                };
                let bytes_len = u64::from(len) * u64::from(elem.map_or(1, Elem::size));
                let Some(bytes) = u32::try_from(bytes_len)
                    .ok()
                    .and_then(|n| read_bytes(&self.memory, &*store, ptr, n))
                else {
                    return Err(Ok(Problem::ResultOutOfBounds {
                        ptr,
                        bytes: bytes_len,
                    }));
                };
                let value = match elem {
                    Some(e) => decode(&bytes, e),
                    None => match String::from_utf8(bytes) {
                        Ok(s) => Value::Str(s),
                        Err(_) => return Err(Ok(Problem::NotUtf8)),
                    },
                };
                // The glue copies the result out and frees it with the layout it was allocated with.
                if len > 0 || ptr != align {
                    self.call(
                        store,
                        abi::FREE,
                        &[
                            Val::I32(ptr as i32),
                            Val::I32(bytes_len as i32),
                            Val::I32(align as i32),
                        ],
                        0,
                    )
                    .map_err(Err)?;
                }
                value
            }
        }))
    }
}

const NONE: f64 = abi::NONE_SENTINEL;

fn as_u32(v: &Value) -> Option<u32> {
    match v {
        Value::Int(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

fn lower_int(int: Int, n: i64) -> Option<Val> {
    let (lo, hi) = int.range();
    if !(lo..=hi).contains(&i128::from(n)) {
        return None;
    }
    Some(if int.is_64() {
        Val::I64(n)
    } else {
        Val::I32(n as u32 as i32)
    })
}

fn lift_int(int: Int, raw: i32) -> i64 {
    match int {
        Int::U8 => i64::from(raw as u8),
        Int::U16 => i64::from(raw as u16),
        Int::U32 | Int::Usize => i64::from(raw as u32),
        Int::I8 => i64::from(raw as i8),
        Int::I16 => i64::from(raw as i16),
        _ => i64::from(raw),
    }
}

/// Encodes values as little-endian elements.
fn encode(values: &[Value], elem: Elem) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * elem.size() as usize);
    for v in values {
        let bad = || format!("{v} is not a `{}`", elem.rust_name());
        match (elem, v) {
            (Elem::F32, v) => out.extend((v.as_f64().ok_or_else(bad)? as f32).to_le_bytes()),
            (Elem::F64, v) => out.extend(v.as_f64().ok_or_else(bad)?.to_le_bytes()),
            (_, Value::Int(n)) => {
                let n = *n;
                let fits = |lo: i64, hi: i64| (lo..=hi).contains(&n);
                let ok = match elem {
                    Elem::U8 => fits(0, 255),
                    Elem::I8 => fits(-128, 127),
                    Elem::U16 => fits(0, 65_535),
                    Elem::I16 => fits(-32_768, 32_767),
                    Elem::U32 => fits(0, u32::MAX.into()),
                    Elem::I32 => fits(i32::MIN.into(), i32::MAX.into()),
                    Elem::U64 => n >= 0,
                    _ => true,
                };
                if !ok {
                    return Err(format!("{n} does not fit in `{}`", elem.rust_name()));
                }
                out.extend(&n.to_le_bytes()[..elem.size() as usize]);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn decode(bytes: &[u8], elem: Elem) -> Value {
    let size = elem.size() as usize;
    Value::List(
        bytes
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(c);
                let u = u64::from_le_bytes(b);
                match elem {
                    Elem::U8 | Elem::U16 | Elem::U32 => Value::Int(u as i64),
                    Elem::I8 => Value::Int(i64::from(u as u8 as i8)),
                    Elem::I16 => Value::Int(i64::from(u as u16 as i16)),
                    Elem::I32 => Value::Int(i64::from(u as u32 as i32)),
                    Elem::I64 => Value::Int(u as i64),
                    Elem::U64 if u <= i64::MAX as u64 => Value::Int(u as i64),
                    Elem::U64 => Value::Float(u as f64),
                    Elem::F32 => Value::Float(f64::from(f32::from_bits(u as u32))),
                    Elem::F64 => Value::Float(f64::from_bits(u)),
                }
            })
            .collect(),
    )
}

/// An argument as JavaScript would write it: `$name` is the variable `name`.
fn arg_text(value: &Value) -> String {
    match value {
        Value::Str(s) if s.starts_with('$') && !s.starts_with("$$") => s[1..].to_owned(),
        v => v.to_string(),
    }
}

/// The step as JavaScript would write it.
fn call_text(call: &Call, is_new: bool, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(arg_text).collect();
    let call_expr = if is_new {
        format!("new {}({})", call.target, args.join(", "))
    } else {
        format!("{}({})", call.target.replace("::", "."), args.join(", "))
    };
    match &call.bind {
        Some(name) => format!("{name} = {call_expr}"),
        None => call_expr,
    }
}

/// A core wasm type's name as the wasm text format writes it, for messages.
pub fn value_type_name(ty: &ValType) -> String {
    match ty {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::Ref(_) => "ref".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_elements() {
        let values = vec![Value::Int(1), Value::Int(-2)];
        let bytes = encode(&values, Elem::I16).unwrap();
        assert_eq!(bytes, vec![1, 0, 0xfe, 0xff]);
        assert_eq!(decode(&bytes, Elem::I16), Value::List(values));
        assert!(
            encode(&[Value::Int(256)], Elem::U8)
                .unwrap_err()
                .contains("does not fit")
        );
        let f = encode(&[Value::Float(1.5)], Elem::F64).unwrap();
        assert_eq!(decode(&f, Elem::F64), Value::List(vec![Value::Float(1.5)]));
    }

    #[test]
    fn names_are_cleaned_and_filtered() {
        assert_eq!(
            clean_name("submission::Buffer::new::h0123456789abcdef"),
            "Buffer::new"
        );
        assert_eq!(
            clean_name("<submission_21_a::Buffer>::grow"),
            "<Buffer>::grow"
        );
        assert_eq!(clean_name("my_submission::f"), "my_submission::f");
        assert!(is_student_function("submission_x::leak"));
        assert!(!is_student_function("alloc::raw_vec::finish_grow"));
        assert!(!is_student_function(
            "<dlmalloc::sys::System as dlmalloc::Allocator>::alloc"
        ));
        assert_eq!(
            student_file("/tmp/slot/src/lib.rs", Some("/tmp/slot")),
            Some("src/lib.rs".into())
        );
        assert_eq!(
            student_file("/rustc/abc/library/alloc/src/vec.rs", Some("/tmp/slot")),
            None
        );
    }
}
