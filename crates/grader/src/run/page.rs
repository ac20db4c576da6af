//! The page a module runs on: wasm-bindgen's glue, unchanged, in QuickJS, connected to the
//! instance in wasmtime as a browser connects them.
//!
//! - The glue instantiates the module itself (`initSync`), through the page's
//!   `WebAssembly.Instance`, which instantiates it in wasmtime: every import the glue defines is
//!   served by calling the glue's own function; the guest crate's imports by the host.
//! - `wasm.memory.buffer` is an `ArrayBuffer` over the instance's linear memory itself (no
//!   copy). When memory grows, the old buffer is detached, as a browser detaches it: views made
//!   before a growth read as empty afterwards. wasmtime is configured never to move memory.
//! - `externref`s the module holds stand for JavaScript values kept in the page (`refs`).
//! - A wasm trap inside a call JavaScript made becomes a catchable `WebAssembly.RuntimeError`
//!   whose cause (a panic, an out-of-bounds access) the host remembers; running out of fuel or
//!   time is uncatchable. JavaScript's own work is charged to the same fuel, so the virtual
//!   clock and the step budget count it too.
//!
//! QuickJS and wasmtime call into each other: a native function of the page needs the store,
//! and an import called by wasm needs the JavaScript context. Both are kept for the thread
//! that runs the scenario ([`CURRENT`]): the context's pointer, and a stack of the store
//! handles in use (the store itself, or the `Caller` of the import being served), innermost
//! last.

use std::cell::RefCell;
use std::ptr::NonNull;

use rquickjs::function::{Rest, This};
use rquickjs::{
    Array, ArrayBuffer, BigInt, Coerced, Ctx, Exception, FromJs, Function, Object, Persistent,
    TypedArray, Value, qjs,
};
use wasmtime::{AsContextMut, ExternRef, ExternType, Ref, StoreContextMut};

use super::*;

/// What the host keeps of the page: the instance's exports by index, the buffer's length, the
/// faults behind `RuntimeError`s, a fault that ends the scenario, and what a step reached for
/// that only a browser has.
#[derive(Default)]
pub(super) struct PageState {
    pub(super) module: Option<Module>,
    pub(super) exports: Vec<Extern>,
    pub(super) buffer_len: Option<usize>,
    pub(super) traps: Vec<Fault>,
    pub(super) fatal: Option<Fault>,
    pub(super) probed: Option<String>,
}

/// Units of fuel one QuickJS interrupt check stands for (QuickJS checks every 10 000
/// operations or so).
const JS_FUEL_PER_CHECK: u64 = 10_000;

/// Most JavaScript values the module may be handed in one scenario.
const MAX_REFS: u32 = 1 << 20;

type StorePtr = *mut (dyn AsContextMut<Data = Host> + 'static);

struct Current {
    ctx: NonNull<qjs::JSContext>,
    /// The page's own object: `refs`, `imports` (the glue's functions by slot), `buffer`,
    /// `traps` (a `Map` from a `RuntimeError` to its fault's index), `page`, `glue`.
    state: Persistent<Object<'static>>,
    stores: Vec<StorePtr>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// The page's JavaScript context, while a page is open on this thread.
fn ctx<'js>() -> Option<Ctx<'js>> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            // SAFETY: the context lives as long as the page, which owns it; the page is used
            // only from this thread.
            .map(|c| unsafe { Ctx::from_raw(c.ctx) })
    })
}

pub(super) fn state<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let saved = CURRENT.with(|c| c.borrow().as_ref().map(|c| c.state.clone()));
    match saved {
        Some(s) => s.restore(ctx),
        None => Err(Exception::throw_internal(ctx, "the page is closed")),
    }
}

/// Makes `store` the store the page's natives use until the guard drops.
pub(super) struct Entered;

pub(super) fn enter(store: &mut dyn AsContextMut<Data = Host>) -> Entered {
    let p: *mut (dyn AsContextMut<Data = Host> + '_) = store;
    // SAFETY: the pointer is popped when `Entered` drops, before the borrow it came from ends;
    // it is only dereferenced by natives running inside that borrow.
    let p: StorePtr = unsafe { std::mem::transmute(p) };
    CURRENT.with(|c| {
        if let Some(c) = c.borrow_mut().as_mut() {
            c.stores.push(p);
        }
    });
    Entered
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                c.stores.pop();
            }
        });
    }
}

/// Runs `f` with the innermost store in use.
pub(super) fn with_store<R>(f: impl FnOnce(StoreContextMut<'_, Host>) -> R) -> Option<R> {
    let p = CURRENT.with(|c| c.borrow().as_ref().and_then(|c| c.stores.last().copied()))?;
    // SAFETY: see `enter`; the store handle outlives every native call made while it is in use.
    let store = unsafe { &mut *p };
    Some(f(store.as_context_mut()))
}

fn no_store(ctx: &Ctx<'_>) -> rquickjs::Error {
    Exception::throw_internal(ctx, "JavaScript ran outside a step")
}

/// The page for one scenario. Dropping it detaches the memory buffer and closes the page.
pub(super) struct Page {
    /// Dropped first, then the runtime collects what the page left, before the bytecode goes.
    context: Option<rquickjs::Context>,
    runtime: rquickjs::Runtime,
    /// The glue's bytecode, which QuickJS reads in place: dropped after the runtime.
    _bytecode: std::sync::Arc<[u8]>,
}

impl Page {
    pub(super) fn context(&self) -> &rquickjs::Context {
        self.context.as_ref().expect("the page is open")
    }

    /// Opens a page on this thread and loads the glue into it.
    pub(super) fn open(glue: &js::Glue, lockdown: bool, epoch: f64) -> Result<Page, String> {
        let bytecode = glue.bytecode()?;
        let (runtime, context) = js::runtime(&glue.snippets)?;
        runtime.set_interrupt_handler(Some(Box::new(interrupt)));
        let opened = context.with(|ctx| open_in(ctx, &bytecode, lockdown, epoch));
        let page = Page {
            context: Some(context),
            runtime,
            _bytecode: bytecode,
        };
        opened.map(|()| page)
    }

    /// Runs the glue's `initSync`, which instantiates the module through the page.
    pub(super) fn init(&self, store: &mut Store<Host>) -> Result<(), Fault> {
        self.context().with(|ctx| {
            let called = {
                let _entered = enter(store);
                (|| -> rquickjs::Result<Value> {
                    let state = state(&ctx)?;
                    let glue: Object = state.get("glue")?;
                    let page: Object = state.get("page")?;
                    let init: Function = glue.get("initSync")?;
                    let module_class: rquickjs::Constructor = page.get("Module")?;
                    let module: Value = module_class.construct(())?;
                    let arg = Object::new(ctx.clone())?;
                    arg.set("module", module)?;
                    init.call((arg,))
                })()
            };
            called.map(drop).map_err(|e| settle(&ctx, store, e))
        })
    }

    /// Runs promise jobs until none is left (or the scenario's fuel ends).
    pub(super) fn drain(&self, store: &mut Store<Host>) -> Result<(), Fault> {
        self.context().with(|ctx| {
            loop {
                let ran = {
                    let _entered = enter(store);
                    ctx.execute_pending_job()
                };
                if let Some(fault) = store.data().page.fatal.clone() {
                    return Err(fault);
                }
                if !ran {
                    return Ok(());
                }
            }
        })
    }
}

fn open_in<'js>(ctx: Ctx<'js>, bytecode: &[u8], lockdown: bool, epoch: f64) -> Result<(), String> {
    let fail = |what: &str| format!("{what}: {}", js::exception_text(&ctx));
    let state = Object::new(ctx.clone()).map_err(|e| e.to_string())?;
    let set = |k: &str, v: Value<'js>| state.set(k, v).map_err(|e| e.to_string());
    set(
        "refs",
        Array::new(ctx.clone())
            .map_err(|e| e.to_string())?
            .into_value(),
    )?;
    set(
        "imports",
        Array::new(ctx.clone())
            .map_err(|e| e.to_string())?
            .into_value(),
    )?;
    set(
        "trapErrors",
        Array::new(ctx.clone())
            .map_err(|e| e.to_string())?
            .into_value(),
    )?;
    let traps: Value = ctx.eval("new Map()").map_err(|e| e.to_string())?;
    set("traps", traps)?;
    let previous = CURRENT.with(|c| {
        c.borrow_mut().replace(Current {
            ctx: ctx.as_raw(),
            state: Persistent::save(&ctx, state.clone()),
            stores: Vec::new(),
        })
    });
    if previous.is_some() {
        return Err("a page is already open on this thread".into());
    }
    let page = js::install(
        &ctx,
        natives(&ctx, epoch).map_err(|e| e.to_string())?,
        lockdown,
    )
    .map_err(|_| fail("the page script failed"))?;
    set("page", page.into_value())?;
    // SAFETY: the bytecode is the glue's own compilation, kept by the page past its runtime.
    let glue =
        unsafe { js::load_compiled(&ctx, bytecode) }.map_err(|_| fail("the glue does not load"))?;
    set("glue", glue.into_value())?;
    Ok(())
}

impl Drop for Page {
    fn drop(&mut self) {
        self.context().with(|ctx| {
            if let Ok(state) = state(&ctx)
                && let Ok(mut buffer) = state.get::<_, ArrayBuffer>("buffer")
            {
                buffer.detach();
            }
        });
        CURRENT.with(|c| c.borrow_mut().take());
        // The runtime outlives the page (the thread's next page reuses it): nothing of this
        // page may survive it, the glue's functions (which read the bytecode in place) least.
        self.context = None;
        self.runtime.run_gc();
    }
}

/// The interrupt handler: charges JavaScript's work to the scenario's fuel, and stops it
/// once a fault has ended the scenario.
fn interrupt() -> bool {
    with_store(|mut store| {
        if store.data().page.fatal.is_some() {
            return true;
        }
        let left = store.get_fuel().unwrap_or(0);
        if left < JS_FUEL_PER_CHECK {
            let _ = store.set_fuel(0);
            store.data_mut().page.fatal = Some(Fault::OutOfFuel);
            return true;
        }
        let _ = store.set_fuel(left - JS_FUEL_PER_CHECK);
        false
    })
    .unwrap_or(false)
}

/// What a JavaScript exception out of a call the host made comes to.
pub(super) fn settle<'js>(ctx: &Ctx<'js>, store: &mut Store<Host>, e: rquickjs::Error) -> Fault {
    match e {
        rquickjs::Error::Exception => {
            let value = ctx.catch();
            fault_of(ctx, store, value)
        }
        other => store
            .data()
            .page
            .fatal
            .clone()
            .unwrap_or(Fault::Trap(format!("the page failed: {other}"))),
    }
}

/// The fault a thrown value stands for: the one that ended the scenario, the trap behind a
/// `RuntimeError`, or the value thrown.
pub(super) fn fault_of<'js>(ctx: &Ctx<'js>, store: &mut Store<Host>, value: Value<'js>) -> Fault {
    if let Some(fault) = store.data().page.fatal.clone() {
        return fault;
    }
    if overflowed(&value) {
        return Fault::StackOverflow;
    }
    if let Some(index) = trap_index(ctx, &value) {
        return store.data().page.traps[index].clone();
    }
    Fault::Thrown(thrown_text(&value))
}

fn trap_index<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Option<usize> {
    let traps: Object = state(ctx).ok()?.get("traps").ok()?;
    let get: Function = traps.get("get").ok()?;
    get.call::<_, Option<usize>>((This(traps), value.clone()))
        .ok()
        .flatten()
}

/// What a thrown value says: an `Error`'s message, or the value as text. QuickJS throws
/// `null` (or an "out of memory" error) when the heap is full: said as such.
pub(super) fn thrown_text(value: &Value<'_>) -> String {
    let oom = value.is_null()
        || (value.is_error()
            && value
                .as_object()
                .and_then(|o| o.get::<_, String>("message").ok())
                .is_some_and(|m| m == "out of memory"));
    if oom && heap_full(value.ctx()) {
        return format!(
            "out of memory: the page's JavaScript heap is full ({} MiB)",
            js::HEAP_LIMIT >> 20
        );
    }
    let text = match value.as_object() {
        Some(o) if value.is_error() => o.get::<_, String>("message").unwrap_or_default(),
        _ => Coerced::<String>::from_js(value.ctx(), value.clone())
            .map(|s| s.0)
            .unwrap_or_else(|_| "a value that cannot be shown".into()),
    };
    cut(text, PANIC_BYTES)
}

/// Whether a thrown value is JavaScript's stack overflow (QuickJS's `RangeError`).
fn overflowed(value: &Value<'_>) -> bool {
    value.is_error()
        && value
            .as_object()
            .and_then(|o| o.get::<_, String>("message").ok())
            .is_some_and(|m| m.contains("call stack size exceeded"))
}

/// Whether the page's heap is (nearly) at its limit.
fn heap_full(ctx: &Ctx<'_>) -> bool {
    let mut usage = std::mem::MaybeUninit::<qjs::JSMemoryUsage>::zeroed();
    // SAFETY: the runtime is this context's, alive; the function fills the whole struct.
    let usage = unsafe {
        qjs::JS_ComputeMemoryUsage(
            qjs::JS_GetRuntime(ctx.as_raw().as_ptr()),
            usage.as_mut_ptr(),
        );
        usage.assume_init()
    };
    usage.malloc_size.max(0) as u64 * 10 >= js::HEAP_LIMIT as u64 * 9
}

/// An error raised in wasmtime (a trap, or a JavaScript exception that crossed wasm), thrown
/// into JavaScript as a page would see it.
fn throw_wasm_error<'js>(
    ctx: &Ctx<'js>,
    mut store: StoreContextMut<'_, Host>,
    err: wasmtime::Error,
) -> rquickjs::Error {
    if let Some(thrown) = err.downcast_ref::<Thrown>()
        && let Some(slot) = thrown.slot
        && let Ok(value) = refs(ctx).and_then(|r| r.get::<Value>(slot as usize))
    {
        return ctx.throw(value);
    }
    if let Some(again) = err.downcast_ref::<TrapAgain>() {
        let index = again.0;
        return rethrow_trap(ctx, index);
    }
    let fault = classify_data(err, store.data_mut());
    let fatal = matches!(
        fault,
        Fault::OutOfFuel | Fault::WallTimeout | Fault::StackOverflow | Fault::OutOfMemory { .. }
    );
    if fatal {
        store.data_mut().page.fatal.get_or_insert(fault);
        return throw_uncatchable(ctx, "the scenario was stopped");
    }
    let message = match &fault {
        Fault::Panic(_) => "unreachable".to_owned(),
        Fault::OutOfBounds => "memory access out of bounds".to_owned(),
        Fault::Thrown(text) | Fault::Trap(text) => text.clone(),
        _ => "trap".to_owned(),
    };
    let traps = &mut store.data_mut().page.traps;
    traps.push(fault);
    let index = traps.len() - 1;
    let error = (|| -> rquickjs::Result<Value> {
        let state = state(ctx)?;
        let page: Object = state.get("page")?;
        let class: rquickjs::Constructor = page.get("RuntimeError")?;
        let error: Value = class.construct((message,))?;
        let map: Object = state.get("traps")?;
        let set: Function = map.get("set")?;
        set.call::<_, Value>((This(map), error.clone(), index))?;
        let errors: Array = state.get("trapErrors")?;
        errors.set(index, error.clone())?;
        Ok(error)
    })();
    match error {
        Ok(error) => ctx.throw(error),
        Err(e) => e,
    }
}

fn rethrow_trap<'js>(ctx: &Ctx<'js>, index: usize) -> rquickjs::Error {
    let found = (|| -> rquickjs::Result<Value<'js>> {
        let errors: Array = state(ctx)?.get("trapErrors")?;
        errors.get(index)
    })();
    match found {
        Ok(error) if !error.is_undefined() => ctx.throw(error),
        Ok(_) => Exception::throw_internal(ctx, "a trap was lost"),
        Err(e) => e,
    }
}

pub(super) fn throw_uncatchable<'js>(ctx: &Ctx<'js>, message: &str) -> rquickjs::Error {
    let _ = Exception::throw_internal(ctx, message);
    let e = ctx.catch();
    // SAFETY: `e` is a live value of this context.
    unsafe { qjs::JS_SetUncatchableError(ctx.as_raw().as_ptr(), e.as_raw()) };
    ctx.throw(e)
}

/// A JavaScript exception that left an import: its text, and where the page keeps the value,
/// so that it reaches JavaScript again as itself if it crosses wasm back into JavaScript.
#[derive(Debug)]
pub(super) struct Thrown {
    pub(super) text: String,
    pub(super) slot: Option<u32>,
}

impl std::fmt::Display for Thrown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JavaScript error: {}", self.text)
    }
}

impl std::error::Error for Thrown {}

/// A `RuntimeError` from a nested call that JavaScript let through: the trap it stands for.
#[derive(Debug)]
pub(super) struct TrapAgain(pub(super) usize);

impl std::fmt::Display for TrapAgain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a trap in a nested call")
    }
}

impl std::error::Error for TrapAgain {}

fn refs<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Array<'js>> {
    state(ctx)?.get("refs")
}

/// Keeps a JavaScript value for wasm to hold as an `externref`.
fn keep<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<u32> {
    let refs = refs(ctx)?;
    let slot = refs.len() as u32;
    if slot >= MAX_REFS {
        return Err(Exception::throw_range(
            ctx,
            "too many JavaScript values handed to wasm in one scenario",
        ));
    }
    refs.set(slot as usize, value)?;
    Ok(slot)
}

/// A wasm value as JavaScript sees it.
fn to_js<'js>(
    ctx: &Ctx<'js>,
    store: impl AsContextMut<Data = Host>,
    v: &Val,
) -> rquickjs::Result<Value<'js>> {
    Ok(match v {
        Val::I32(n) => Value::new_int(ctx.clone(), *n),
        Val::I64(n) => BigInt::from_i64(ctx.clone(), *n)?.into_value(),
        // `new_float`, not `new_number`, which makes an integral value an int and -0 a 0.
        Val::F32(bits) => Value::new_float(ctx.clone(), f64::from(f32::from_bits(*bits))),
        Val::F64(bits) => Value::new_float(ctx.clone(), f64::from_bits(*bits)),
        Val::ExternRef(None) => Value::new_null(ctx.clone()),
        Val::ExternRef(Some(r)) => {
            let slot = r
                .data(&store)
                .ok()
                .flatten()
                .and_then(|d| d.downcast_ref::<u32>())
                .copied();
            match slot {
                Some(slot) => refs(ctx)?.get(slot as usize)?,
                None => Value::new_undefined(ctx.clone()),
            }
        }
        _ => Value::new_undefined(ctx.clone()),
    })
}

/// A JavaScript value as a wasm value of type `ty`, converted as the JS API converts it.
fn to_wasm<'js>(
    ctx: &Ctx<'js>,
    mut store: impl AsContextMut<Data = Host>,
    ty: &ValType,
    v: Value<'js>,
) -> rquickjs::Result<Val> {
    Ok(match ty {
        ValType::I32 => Val::I32(Coerced::<i32>::from_js(ctx, v)?.0),
        ValType::I64 => match v.as_big_int() {
            Some(b) => Val::I64(b.clone().to_i64()?),
            None => {
                let shown = Coerced::<String>::from_js(ctx, v).map(|s| s.0);
                return Err(Exception::throw_type(
                    ctx,
                    &format!("Cannot convert {} to a BigInt", shown.unwrap_or_default()),
                ));
            }
        },
        ValType::F32 => Val::F32((Coerced::<f64>::from_js(ctx, v)?.0 as f32).to_bits()),
        ValType::F64 => Val::F64(Coerced::<f64>::from_js(ctx, v)?.0.to_bits()),
        ValType::Ref(r) if r.heap_type().is_extern() => {
            if v.is_null() {
                Val::ExternRef(None)
            } else {
                let slot = keep(ctx, v)?;
                let r = ExternRef::new(&mut store, slot)
                    .map_err(|e| Exception::throw_internal(ctx, &e.to_string()))?;
                Val::ExternRef(Some(r))
            }
        }
        ValType::Ref(_) => Val::FuncRef(None),
        ValType::V128 => {
            return Err(Exception::throw_type(
                ctx,
                "a v128 cannot cross into JavaScript",
            ));
        }
    })
}

/// Detaches the buffer over memory when memory has grown, and makes a new one.
fn sync_memory<'js>(
    ctx: &Ctx<'js>,
    mut store: impl AsContextMut<Data = Host>,
) -> rquickjs::Result<()> {
    let mut store = store.as_context_mut();
    let Some(memory) = store.data().memory else {
        return Ok(());
    };
    let len = memory.data_size(&store);
    if store.data().page.buffer_len == Some(len) {
        return Ok(());
    }
    let state = state(ctx)?;
    if let Ok(mut old) = state.get::<_, ArrayBuffer>("buffer") {
        old.detach();
    }
    let ptr = memory.data_ptr(&store);
    // SAFETY: wasmtime never moves this memory (`memory_may_move(false)`), and the buffer is
    // detached before the memory changes size or the store is dropped; QuickJS does not own
    // the bytes (no free function).
    let buffer = unsafe {
        let raw = qjs::JS_NewArrayBuffer(
            ctx.as_raw().as_ptr(),
            ptr,
            len as _,
            0,
            None,
            std::ptr::null_mut(),
            false,
        );
        Value::from_raw(ctx.clone(), raw)
    };
    if buffer.is_exception() {
        return Err(rquickjs::Error::Exception);
    }
    state.set("buffer", buffer)?;
    store.data_mut().page.buffer_len = Some(len);
    Ok(())
}

/// Serves an import by calling the glue's function in slot `slot`.
fn call_import(
    caller: &mut Caller<'_, Host>,
    slot: u32,
    results: &[ValType],
    args: &[Val],
    out: &mut [Val],
) -> wasmtime::Result<()> {
    let ctx = ctx().ok_or_else(|| wasmtime::Error::msg("the page is closed"))?;
    let prepared = (|| -> rquickjs::Result<(Function, Vec<Value>)> {
        sync_memory(&ctx, &mut *caller)?;
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(to_js(&ctx, &mut *caller, a)?);
        }
        let imports: Array = state(&ctx)?.get("imports")?;
        Ok((imports.get(slot as usize)?, values))
    })();
    let result = match prepared {
        Ok((f, values)) => {
            let _entered = enter(caller);
            f.call::<_, Value>((Rest(values),))
        }
        Err(e) => Err(e),
    };
    let converted = result.and_then(|v| {
        let _ = sync_memory(&ctx, &mut *caller);
        match (results.first(), out.first_mut()) {
            (Some(ty), Some(slot)) => {
                *slot = to_wasm(&ctx, &mut *caller, ty, v)?;
                Ok(())
            }
            _ => Ok(()),
        }
    });
    match converted {
        Ok(()) => Ok(()),
        Err(rquickjs::Error::Exception) => {
            let value = ctx.catch();
            if caller.data().page.fatal.is_some() || value.is_uncatchable_error() {
                return Err(wasmtime::Error::msg("the scenario was stopped"));
            }
            if let Some(index) = trap_index(&ctx, &value) {
                return Err(wasmtime::Error::new(TrapAgain(index)));
            }
            if overflowed(&value) {
                // The stack ran out on JavaScript's side of a recursion through wasm: the same
                // verdict as on wasm's side, and the end of the scenario.
                caller
                    .data_mut()
                    .page
                    .fatal
                    .get_or_insert(Fault::StackOverflow);
                return Err(wasmtime::Error::msg("the stack overflowed"));
            }
            let text = thrown_text(&value);
            let slot = keep(&ctx, value).ok();
            Err(wasmtime::Error::new(Thrown { text, slot }))
        }
        Err(e) => Err(wasmtime::Error::msg(format!("the page failed: {e}"))),
    }
}

/// The page's natives: the `host` object the page script is a function of. `epoch` is
/// `Date.now()` when the page opens.
fn natives<'js>(ctx: &Ctx<'js>, epoch: f64) -> rquickjs::Result<Object<'js>> {
    let host = Object::new(ctx.clone())?;
    host.set("epoch", epoch)?;
    host.set(
        "instantiate",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, imports: Object<'js>| {
            instantiate(&ctx, imports)
        })?,
    )?;
    host.set(
        "call",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32, args: Rest<Value<'js>>| call_export(&ctx, index, args.0),
        )?,
    )?;
    host.set(
        "buffer",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>| -> rquickjs::Result<Value<'js>> {
                with_store(|store| sync_memory(&ctx, store)).ok_or_else(|| no_store(&ctx))??;
                state(&ctx)?.get("buffer")
            },
        )?,
    )?;
    host.set(
        "grow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, delta: f64| -> rquickjs::Result<f64> {
                with_store(|mut store| {
                    let memory = store.data().memory;
                    let grown = memory.map(|m| m.grow(&mut store, delta as u64));
                    match grown {
                        Some(Ok(old)) => {
                            sync_memory(&ctx, store)?;
                            Ok(old as f64)
                        }
                        _ => Err(Exception::throw_range(
                            &ctx,
                            "WebAssembly.Memory.grow(): Maximum memory size exceeded",
                        )),
                    }
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "tableSize",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32| -> rquickjs::Result<f64> {
                with_store(|store| {
                    let table = table(&ctx, &store, index)?;
                    Ok(table.size(&store) as f64)
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "tableGet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32, at: f64| -> rquickjs::Result<Value<'js>> {
                with_store(|mut store| {
                    let table = table(&ctx, &store, index)?;
                    match table.get(&mut store, at as u64) {
                        Some(Ref::Extern(r)) => to_js(&ctx, &mut store, &Val::ExternRef(r)),
                        Some(Ref::Func(Some(f))) => funcref(&ctx, f),
                        Some(_) => Ok(Value::new_null(ctx.clone())),
                        None => Err(Exception::throw_range(&ctx, "table index is out of bounds")),
                    }
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "tableSet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32, at: f64, v: Value<'js>| -> rquickjs::Result<()> {
                with_store(|mut store| {
                    let table = table(&ctx, &store, index)?;
                    let r = match to_wasm(&ctx, &mut store, &ValType::EXTERNREF, v)? {
                        Val::ExternRef(r) => Ref::Extern(r),
                        _ => Ref::Extern(None),
                    };
                    table
                        .set(&mut store, at as u64, r)
                        .map_err(|e| Exception::throw_range(&ctx, &e.to_string()))
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "tableGrow",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32, delta: f64, v: Value<'js>| -> rquickjs::Result<f64> {
                with_store(|mut store| {
                    let table = table(&ctx, &store, index)?;
                    let init = match to_wasm(&ctx, &mut store, &ValType::EXTERNREF, v)? {
                        Val::ExternRef(r) => Ref::Extern(r),
                        _ => Ref::Extern(None),
                    };
                    table
                        .grow(&mut store, delta as u64, init)
                        .map(|old| old as f64)
                        .map_err(|e| Exception::throw_range(&ctx, &e.to_string()))
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "globalGet",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: u32| -> rquickjs::Result<Value<'js>> {
                with_store(|mut store| {
                    let global = store
                        .data()
                        .page
                        .exports
                        .get(index as usize)
                        .and_then(|e| e.clone().into_global());
                    match global {
                        Some(g) => {
                            let v = g.get(&mut store);
                            to_js(&ctx, &mut store, &v)
                        }
                        None => Ok(Value::new_undefined(ctx.clone())),
                    }
                })
                .ok_or_else(|| no_store(&ctx))?
            },
        )?,
    )?;
    host.set(
        "log",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, level: String, text: String| {
            with_store(|mut store| console(store.data_mut(), &level, text))
                .ok_or_else(|| no_store(&ctx))
        })?,
    )?;
    host.set(
        "now",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| {
            with_store(|store| {
                let left = store.get_fuel().unwrap_or(0);
                let used = store.data().js.fuel.saturating_sub(left);
                used as f64 / FUEL_PER_MS
            })
            .ok_or_else(|| no_store(&ctx))
        })?,
    )?;
    host.set(
        "random",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| {
            with_store(|mut store| random(store.data_mut())).ok_or_else(|| no_store(&ctx))
        })?,
    )?;
    host.set(
        "probe",
        Function::new(ctx.clone(), |name: String| {
            with_store(|mut store| {
                store.data_mut().page.probed.get_or_insert(name);
            });
        })?,
    )?;
    host.set(
        "encode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, s: rquickjs::String<'js>| {
            TypedArray::<u8>::new(ctx.clone(), utf8(&s).into_bytes())
        })?,
    )?;
    host.set(
        "decode",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             bytes: TypedArray<'js, u8>,
             fatal: bool|
             -> rquickjs::Result<Value<'js>> {
                // SAFETY: no JavaScript runs while the bytes are read.
                let bytes: &[u8] = unsafe { bytes.as_bytes() }.unwrap_or_default();
                let text = match std::str::from_utf8(bytes) {
                    Ok(s) => s.to_owned(),
                    Err(_) if fatal => return Ok(Value::new_null(ctx.clone())),
                    Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                };
                Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into_value())
            },
        )?,
    )?;
    script::natives(ctx, &host)?;
    Ok(host)
}

/// A JavaScript string as UTF-8, with each lone surrogate as U+FFFD (as `TextEncoder` does).
fn utf8(s: &rquickjs::String<'_>) -> String {
    let units: Vec<u16> = match s.to_string() {
        Ok(text) => return text,
        Err(_) => {
            let ctx = s.ctx();
            let length: usize = s
                .as_object()
                .and_then(|o| o.get("length").ok())
                .unwrap_or(0);
            let char_code_at: Option<Function> = ctx
                .globals()
                .get::<_, Object>("String")
                .and_then(|c| c.get::<_, Object>("prototype"))
                .and_then(|p| p.get("charCodeAt"))
                .ok();
            match char_code_at {
                Some(f) => (0..length)
                    .map(|i| f.call((This(s.clone()), i)).unwrap_or(0xfffd))
                    .collect(),
                None => Vec::new(),
            }
        }
    };
    char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{fffd}'))
        .collect()
}

fn table(
    ctx: &Ctx<'_>,
    store: &StoreContextMut<'_, Host>,
    index: u32,
) -> rquickjs::Result<wasmtime::Table> {
    store
        .data()
        .page
        .exports
        .get(index as usize)
        .and_then(|e| e.clone().into_table())
        .ok_or_else(|| Exception::throw_type(ctx, "not a table"))
}

/// A function from a `funcref` table, callable from JavaScript.
fn funcref<'js>(ctx: &Ctx<'js>, f: Func) -> rquickjs::Result<Value<'js>> {
    let index = with_store(|mut store| {
        let exports = &mut store.data_mut().page.exports;
        exports.push(Extern::Func(f));
        exports.len() - 1
    })
    .ok_or_else(|| no_store(ctx))?;
    Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<Value<'js>>| {
        call_export(&ctx, index as u32, args.0)
    })
    .map(Function::into_value)
}

/// `WebAssembly.Instance`: instantiates the module in wasmtime with the glue's functions as
/// its imports, runs the guest crate's initialisation, and describes the exports.
fn instantiate<'js>(ctx: &Ctx<'js>, imports: Object<'js>) -> rquickjs::Result<Array<'js>> {
    let slots: Array = state(ctx)?.get("imports")?;
    let made =
        with_store(
            |mut store| -> rquickjs::Result<Vec<(String, &'static str, usize)>> {
                let module =
                    store.data().page.module.clone().ok_or_else(|| {
                        Exception::throw_internal(ctx, "no module to instantiate")
                    })?;
                let mut externs = Vec::new();
                for import in module.imports() {
                    let ExternType::Func(ty) = import.ty() else {
                        return Err(link_error(
                            ctx,
                            &format!(
                                "import `{}.{}` is not a function",
                                import.module(),
                                import.name()
                            ),
                        ));
                    };
                    if import.module() == course_guest::abi::MODULE {
                        let f = guest_import(&mut store, import.name(), ty).ok_or_else(|| {
                            link_error(
                                ctx,
                                &format!("unknown import `{}.{}`", import.module(), import.name()),
                            )
                        })?;
                        externs.push(Extern::Func(f));
                        continue;
                    }
                    let f = imports
                        .get::<_, Option<Object>>(import.module())?
                        .and_then(|m| m.get::<_, Option<Function>>(import.name()).ok().flatten());
                    let Some(f) = f else {
                        return Err(link_error(
                            ctx,
                            &format!(
                                "import `{}.{}` is not a function the glue defines",
                                import.module(),
                                import.name()
                            ),
                        ));
                    };
                    let slot = slots.len() as u32;
                    slots.set(slot as usize, f)?;
                    let results: Vec<ValType> = ty.results().collect();
                    externs.push(Extern::Func(Func::new(
                        &mut store,
                        ty,
                        move |mut caller, args, out| {
                            call_import(&mut caller, slot, &results, args, out)
                        },
                    )));
                }
                let instance = Instance::new(&mut store, &module, &externs)
                    .map_err(|e| throw_wasm_error(ctx, store.as_context_mut(), e))?;
                let memory = instance.get_memory(&mut store, "memory");
                store.data_mut().memory = memory;
                store.data_mut().instance = Some(instance);
                let mut described = Vec::new();
                let exports: Vec<(String, Extern)> = instance
                    .exports(&mut store)
                    .map(|e| (e.name().to_owned(), e.into_extern()))
                    .collect();
                for (name, export) in exports {
                    let kind = match &export {
                        Extern::Func(_) => "func",
                        Extern::Memory(_) => "memory",
                        Extern::Table(_) => "table",
                        _ => "global",
                    };
                    let list = &mut store.data_mut().page.exports;
                    list.push(export);
                    described.push((name, kind, list.len() - 1));
                }
                if let Some(init) = instance.get_func(&mut store, course_guest::abi::INIT) {
                    init.call(&mut store, &[], &mut [])
                        .map_err(|e| throw_wasm_error(ctx, store.as_context_mut(), e))?;
                }
                sync_memory(ctx, &mut store)?;
                Ok(described)
            },
        )
        .ok_or_else(|| no_store(ctx))??;
    let out = Array::new(ctx.clone())?;
    for (i, (name, kind, index)) in made.into_iter().enumerate() {
        let entry = Array::new(ctx.clone())?;
        entry.set(0, name)?;
        entry.set(1, kind)?;
        entry.set(2, index)?;
        out.set(i, entry)?;
    }
    Ok(out)
}

fn link_error<'js>(ctx: &Ctx<'js>, message: &str) -> rquickjs::Error {
    let made = (|| -> rquickjs::Result<Value> {
        let wa: Object = ctx.globals().get("WebAssembly")?;
        let class: rquickjs::Constructor = wa.get("LinkError")?;
        class.construct((message,))
    })();
    match made {
        Ok(e) => ctx.throw(e),
        Err(e) => e,
    }
}

/// A call from JavaScript into an export of the instance.
fn call_export<'js>(
    ctx: &Ctx<'js>,
    index: u32,
    args: Vec<Value<'js>>,
) -> rquickjs::Result<Value<'js>> {
    with_store(|mut store| {
        if store.data().page.fatal.is_some() {
            return Err(throw_uncatchable(ctx, "the scenario was stopped"));
        }
        let func = store
            .data()
            .page
            .exports
            .get(index as usize)
            .and_then(|e| e.clone().into_func())
            .ok_or_else(|| Exception::throw_type(ctx, "not a function"))?;
        let ty = func.ty(&store);
        let mut vals = Vec::with_capacity(ty.params().len());
        let mut args = args.into_iter();
        for param in ty.params() {
            let v = args
                .next()
                .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
            vals.push(to_wasm(ctx, &mut store, &param, v)?);
        }
        let mut out = vec![Val::I32(0); ty.results().len()];
        let called = func.call(&mut store, &vals, &mut out);
        sync_memory(ctx, &mut store)?;
        if let Err(e) = called {
            return Err(throw_wasm_error(ctx, store, e));
        }
        match out.len() {
            0 => Ok(Value::new_undefined(ctx.clone())),
            1 => to_js(ctx, &mut store, &out[0]),
            _ => {
                let array = Array::new(ctx.clone())?;
                for (i, v) in out.iter().enumerate() {
                    array.set(i, to_js(ctx, &mut store, v)?)?;
                }
                Ok(array.into_value())
            }
        }
    })
    .ok_or_else(|| no_store(ctx))?
}
