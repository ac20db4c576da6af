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
    /// What the host keeps of the page the glue runs on.
    pub(super) page: super::page::PageState,
}

/// What the page's clock and generator start from: the scenario's fuel (the virtual clock
/// reads the fuel used since), and the seed behind `Math.random`.
pub(super) struct JsHost {
    pub(super) fuel: u64,
    pub(super) seed: u64,
    pub(super) rng: u64,
    pub(super) random_used: bool,
}

/// Units of fuel per millisecond of virtual time: one wasm instruction counts as a nanosecond,
/// so `performance.now()` and `Date.now()` are deterministic.
pub const FUEL_PER_MS: f64 = 1_000_000.0;

/// The earliest `Date.now()` an instance starts at: 2025-01-01T00:00:00Z.
pub const EPOCH_MS: f64 = 1_735_689_600_000.0;

/// `Date.now()` when an instance of a scenario whose `Math.random` starts from `seed` starts:
/// a whole millisecond of 2025 drawn from the seed. The same on every run of the scenario, as
/// every verdict must be; but no one moment marks every page as the grader's, for code that
/// would behave only when it is not graded.
pub fn epoch_ms(seed: u64) -> f64 {
    const YEAR_MS: u64 = 365 * 24 * 60 * 60 * 1000;
    // The seed's bits mixed (splitmix64's finaliser), so seeds close together start apart.
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    EPOCH_MS + (x % YEAR_MS) as f64
}

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
    classify_data(err, store.data_mut())
}

/// [`classify`], given the store's data.
pub(super) fn classify_data(err: wasmtime::Error, host: &mut Host) -> Fault {
    if let Some(fault) = &host.page.fatal {
        return fault.clone();
    }
    if let Some(thrown) = err.downcast_ref::<Thrown>() {
        return Fault::Thrown(thrown.text.clone());
    }
    if let Some(again) = err.downcast_ref::<TrapAgain>()
        && let Some(fault) = host.page.traps.get(again.0)
    {
        return fault.clone();
    }
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

/// The guest crate's import `name`, served by the host.
pub(super) fn guest_import(
    mut store: impl wasmtime::AsContextMut<Data = Host>,
    name: &str,
    ty: FuncType,
) -> Option<Func> {
    use course_guest::abi;
    let ptr = |v: &Val| v.unwrap_i32() as u32;
    let store = &mut store;
    {
        let f = match name {
            abi::ON_ALLOC => Func::new(&mut *store, ty, move |mut caller, args, _| {
                let (p, size, align) = (ptr(&args[0]), ptr(&args[1]), ptr(&args[2]));
                // A module built with an older guest reports no `fresh`: nothing is filled.
                let fresh = args.get(3).and_then(Val::i32) == Some(1);
                let id = caller.data().heap.allocations + 1;
                let (site, runtime) = site_and_runtime(&caller, id);
                if let Some(memory) = guest_memory(&mut caller) {
                    let data = memory.data_mut(&mut caller);
                    fill_red_zones(data, p, size);
                    if fresh
                        && let Some(block) =
                            data.get_mut(p as usize..(p as usize).saturating_add(size as usize))
                    {
                        block.fill(course_guest::abi::FRESH_BYTE);
                    }
                }
                let host = caller.data_mut();
                if runtime {
                    host.runtime_blocks.insert(id);
                }
                let step = host.step;
                let id = host.heap.on_alloc(p, size, align, step, site);
                // wasm-bindgen's runtime (its table of JavaScript values growing) is not the
                // student's allocation, here as in the leak check.
                if host.in_call && !runtime {
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
        Some(f)
    }
}

/// A console line from the page: `console_error_panic_hook`'s report (the panic, a blank
/// line, "Stack:" and a stack) is the panic message; anything else is output, marked by level.
pub(super) fn console(host: &mut Host, level: &str, text: String) {
    if level == "error"
        && let Some((message, _)) = text.split_once("\n\nStack:\n\n")
    {
        host.panic = Some(cut(message.to_owned(), PANIC_BYTES));
        return;
    }
    let prefix = match level {
        "warn" => "warning: ",
        "error" => "error: ",
        "alert" => "alert: ",
        _ => "",
    };
    push_log(host, format!("{prefix}{text}"));
}

/// `Math.random`: SplitMix64 from the scenario's seed, the top 53 bits as a fraction in [0, 1).
pub(super) fn random(host: &mut Host) -> f64 {
    let js = &mut host.js;
    js.random_used = true;
    js.rng = js.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = js.rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
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

/// The imports of a module that nothing defines: neither the guest crate nor the glue. What a
/// glue function reaches for is found when a step runs it, not here.
pub fn unsupported_imports(module: &Module, glue: &js::Glue) -> Vec<UnsupportedImport> {
    use course_guest::abi;
    let mut out = Vec::new();
    for i in module.imports() {
        let is_func = matches!(i.ty(), wasmtime::ExternType::Func(_));
        let served = is_func
            && if i.module() == abi::MODULE {
                abi::IMPORTS.contains(&i.name())
            } else {
                glue.names(i.module(), i.name())
            };
        if !served {
            out.push(UnsupportedImport {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                browser: None,
            });
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
