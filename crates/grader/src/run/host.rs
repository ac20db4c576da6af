//! The host side of an instance: the store's data, every import the module is served (the
//! guest crate's reports, and wasm-bindgen's glue run through [`crate::js`]), red zones, and
//! what the real allocator holds.

use super::*;

pub(super) struct Host {
    pub(super) limiter: Limiter,
    pub(super) heap: ShadowHeap,
    pub(super) step: Option<usize>,
    pub(super) panic: Option<String>,
    pub(super) logs: Vec<String>,
    pub(super) logs_dropped: usize,
    pub(super) capture: SiteCapture,
    pub(super) memory: Option<Memory>,
    /// The instance, once instantiated: the glue looks its exports up (`wasm.__wbindgen_malloc`).
    pub(super) instance: Option<Instance>,
    /// Allocation ids wasm-bindgen's runtime made for itself: never a student's leak.
    pub(super) runtime_blocks: BTreeSet<u64>,
    pub(super) host_grown: Vec<(u64, u64)>,
    pub(super) js: JsHost,
    pub(super) overflows: Vec<Overflow>,
    /// Set while the student's export runs (not while the host lowers or lifts values).
    pub(super) in_call: bool,
    /// Allocations made during the current call: (id, bytes).
    pub(super) call_allocs: Vec<(u64, u32)>,
    pub(super) facts: ModuleFacts,
}

/// What the JavaScript shims keep between calls: the virtual clock's start, the seeded
/// generator behind `Math.random`, `console.time`'s timers.
pub(super) struct JsHost {
    pub(super) fuel: u64,
    pub(super) seed: u64,
    pub(super) rng: u64,
    pub(super) random_used: bool,
    pub(super) timers: BTreeMap<String, f64>,
    pub(super) vector_len: f64,
    pub(super) ids: u64,
    /// Table writes made before the host knows the instance (by a start function, during
    /// `Instance::new`); applied as soon as it does.
    pub(super) pending_table: Vec<(u32, JsVal)>,
    /// Set once the guest has made an `Error` (and so has a stack to read):
    /// `console_error_panic_hook` makes one just before it prints the panic.
    pub(super) stack_read: bool,
}

/// Units of fuel per millisecond of virtual time: one wasm instruction counts as a nanosecond,
/// so `performance.now()` and `Date.now()` are deterministic.
pub const FUEL_PER_MS: f64 = 1_000_000.0;

/// `Date.now()` when the instance starts: 2025-01-01T00:00:00Z.
pub const EPOCH_MS: f64 = 1_735_689_600_000.0;

pub(super) fn limiter(host: &mut Host) -> &mut Limiter {
    &mut host.limiter
}

/// The red zones of a block at `ptr` of `size` bytes: before it and after it.
pub(super) fn red_zones(ptr: u32, size: u32) -> [std::ops::Range<usize>; 2] {
    let start = ptr as usize;
    let end = start + size as usize;
    let zone = course_guest::abi::RED_ZONE;
    [start.saturating_sub(zone)..start, end..end + zone]
}

/// The first byte of a block's red zones that no longer holds the fill, relative to the block.
pub(super) fn damaged_red_zone(memory: &[u8], block: &Block) -> Option<i64> {
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
pub(super) fn fill_red_zones(memory: &mut [u8], ptr: u32, size: u32) {
    for range in red_zones(ptr, size) {
        if let Some(zone) = memory.get_mut(range) {
            zone.fill(course_guest::abi::RED_ZONE_BYTE);
        }
    }
}

/// Where the guest grew memory itself: where dlmalloc's segments can start.
pub(super) fn guest_grown_at(store: &Store<Host>) -> Vec<u32> {
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
pub(super) fn untracked_chunks(store: &Store<Host>, memory: &Memory) -> Result<Vec<Chunk>, String> {
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

/// Classifies an error out of a call into the guest.
pub(super) fn classify(err: wasmtime::Error, store: &mut Store<Host>) -> Fault {
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
pub(super) struct Thrown(String);

impl std::fmt::Display for Thrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error: {}", self.0)
    }
}

impl std::error::Error for Thrown {}

pub(super) fn read_bytes(
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

pub(super) fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        s.truncate(s.floor_char_boundary(max));
        s.push_str(" …[cut]");
    }
    s
}

/// Reads a guest string for the report: lossy UTF-8, cut, and without terminal control
/// characters (a submission must not be able to recolour or rewrite the grader's output).
pub(super) fn guest_text(caller: &mut Caller<'_, Host>, ptr: u32, len: u32, max: usize) -> String {
    let Some(memory) = caller.data().memory else {
        return String::new();
    };
    let len = len.min(max as u32 + 4);
    let bytes = read_bytes(&memory, &*caller, ptr, len).unwrap_or_default();
    cut(printable(&String::from_utf8_lossy(&bytes)), max)
}

/// Text without terminal control characters (but for newlines and tabs).
pub(super) fn printable(text: &str) -> String {
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
pub(super) fn externref(
    store: impl wasmtime::AsContextMut,
    value: JsVal,
) -> wasmtime::Result<Option<wasmtime::Rooted<wasmtime::ExternRef>>> {
    match value {
        JsVal::Null => Ok(None),
        v => wasmtime::ExternRef::new(store, v).map(Some),
    }
}

pub(super) fn import_func(
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
pub(super) fn thrown_text(e: &JsVal) -> String {
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
pub(super) struct CallerEnv<'a, 'b> {
    pub(super) caller: &'a mut Caller<'b, Host>,
}

impl CallerEnv<'_, '_> {
    pub(super) fn js_value(&mut self, v: &Val) -> JsVal {
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

    pub(super) fn wasm_value(&mut self, ty: &ValType, v: JsVal) -> wasmtime::Result<Val> {
        Ok(match ty {
            ValType::I32 => Val::I32(v.to_i32()),
            ValType::I64 => Val::I64(v.to_number() as i64),
            ValType::F32 => Val::F32((v.to_number() as f32).to_bits()),
            ValType::F64 => Val::F64(v.to_number().to_bits()),
            _ => Val::ExternRef(externref(&mut *self.caller, v)?),
        })
    }

    pub(super) fn range_error(&mut self, what: String) -> js::Abort {
        js::Abort::Throw(JsVal::str(&format!("RangeError: {what}")))
    }

    /// An export of the instance, which the host keeps itself: `Caller::get_export` found none
    /// of these from the glue's functions (wasmtime 48). `None` before instantiation ends.
    pub(super) fn export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.caller.data().instance?;
        instance.get_export(&mut *self.caller, name)
    }

    pub(super) fn table(&mut self) -> Option<wasmtime::Table> {
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
pub(super) fn guest_memory(caller: &mut Caller<'_, Host>) -> Option<Memory> {
    caller
        .data()
        .memory
        .or_else(|| caller.get_export("memory").and_then(Extern::into_memory))
}

/// Keeps a line of output, within the caps, without terminal control characters.
pub(super) fn push_log(host: &mut Host, text: String) {
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
