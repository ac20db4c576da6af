//! The sandbox: the wasmtime engines, the one constructor every `Store` comes from, the epoch
//! ticker, and the module cache.
//!
//! **Invariant**: every `Store` is made by [`Sandbox::store`], which sets fuel, an epoch
//! deadline and memory limits. No other module creates a store.

mod functions;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, Module, OptLevel, ResourceLimiter, Store, WasmBacktraceDetails};

/// How often the ticker advances the engines' epoch.
const TICK: Duration = Duration::from_millis(10);

/// Limits that hold for every store, whatever the scenario.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest linear memory a submission may have, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock backstop per scenario; fuel is the deterministic limit.
    pub wall_time: Duration,
    /// Wasm stack a call may use, in bytes.
    pub wasm_stack: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            wall_time: Duration::from_secs(10),
            wasm_stack: 1 << 20,
        }
    }
}

/// Native stack of the thread guest code runs on; larger than any wasm stack it may use.
pub const GUEST_THREAD_STACK: usize = 64 << 20;

/// One `memory.grow` that succeeded: pages `[from, to)` were added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrowEvent {
    pub from: u64,
    pub to: u64,
    /// Grown by a `grow` step of the scenario rather than by the guest.
    pub by_host: bool,
}

/// What the limiter saw of memory growth during a scenario.
#[derive(Debug, Default, Clone)]
pub struct Growth {
    /// Set while the host itself grows memory, so that growth is not charged to the student.
    pub host_growing: bool,
    pub host_pages: u64,
    /// A growth the limiter refused: (pages before, pages requested in total).
    pub denied: Option<(u64, u64)>,
    /// Every growth, in order.
    pub events: Vec<GrowEvent>,
    /// Whether the memory has been created (its first "growth", from nothing).
    pub created: bool,
}

/// The store's resource limiter: a memory cap that records, rather than traps on, a refusal.
#[derive(Debug)]
pub struct Limiter {
    memory_bytes: usize,
    pub growth: Growth,
}

/// Bytes in a wasm page.
pub(crate) const PAGE: usize = 65_536;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes || maximum.is_some_and(|m| desired > m) {
            self.growth
                .denied
                .get_or_insert(((current / PAGE) as u64, (desired / PAGE) as u64));
            return Ok(false);
        }
        let pages = ((desired - current) / PAGE) as u64;
        if current == 0 && !self.growth.created {
            // Creating the memory: the module's declared size, not growth.
            self.growth.created = true;
            return Ok(true);
        }
        self.growth.events.push(GrowEvent {
            from: (current / PAGE) as u64,
            to: (desired / PAGE) as u64,
            by_host: self.growth.host_growing,
        });
        if self.growth.host_growing {
            self.growth.host_pages += pages;
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Whether backtraces carry DWARF file:line details. Details cost ~1 ms per capture, so they
/// are only on when a failing scenario is re-run to find a leak's source line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detail {
    Names,
    Lines,
}

/// The engines, the epoch ticker and the module cache. One per grading process.
pub struct Sandbox {
    names: Engine,
    lines: Engine,
    pub limits: Limits,
    cache_dir: Option<PathBuf>,
    modules: Mutex<HashMap<[u8; 32], Module>>,
    functions: Arc<functions::FunctionCache>,
    /// Dropping the sender stops the ticker thread.
    _ticker: mpsc::Sender<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("limits", &self.limits)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

fn engine(
    limits: &Limits,
    detail: Detail,
    functions: &Arc<functions::FunctionCache>,
) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    // A re-grade compiles only the functions the edit changed; the rest come from the cache.
    config.enable_incremental_compilation(functions.clone())?;
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        // Student modules are small and scenarios short: compiling fast matters more than
        // running fast. Fuel counts wasm instructions, so verdicts do not depend on this.
        .cranelift_opt_level(OptLevel::None)
        .max_wasm_stack(limits.wasm_stack)
        // The page's `memory.buffer` is a view of linear memory itself: it must never move.
        .memory_may_move(false)
        .wasm_backtrace_details(match detail {
            Detail::Names => WasmBacktraceDetails::Disable,
            Detail::Lines => WasmBacktraceDetails::Enable,
        })
        // wasm-bindgen's output exports a `(ref null extern)` table.
        .wasm_reference_types(true)
        .wasm_function_references(true)
        .wasm_gc(true);
    Engine::new(&config)
}

impl Sandbox {
    /// Makes the engines and starts the epoch ticker. `cache_dir` keeps compiled modules
    /// across runs, keyed by content hash.
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> wasmtime::Result<Sandbox> {
        let functions = Arc::new(functions::FunctionCache::new(
            cache_dir.as_ref().map(|d| d.join("functions.bin")),
        ));
        {
            // Read while the grader does other things (cargo builds the submission).
            let functions = functions.clone();
            std::thread::Builder::new()
                .name("function-cache".into())
                .spawn(move || functions.preload())?;
        }
        let names = engine(&limits, Detail::Names, &functions)?;
        let lines = engine(&limits, Detail::Lines, &functions)?;
        let (tx, rx) = mpsc::channel::<()>();
        let engines = [names.clone(), lines.clone()];
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(TICK) {
                    for e in &engines {
                        e.increment_epoch();
                    }
                }
            })?;
        Ok(Sandbox {
            names,
            lines,
            limits,
            cache_dir,
            modules: Mutex::new(HashMap::new()),
            functions,
            _ticker: tx,
        })
    }

    /// Drops the compiled modules kept in memory (those on disk stay): a batch's graded
    /// chunk's modules are not needed again.
    pub fn forget_modules(&self) {
        self.modules.lock().expect("cache lock").clear();
    }

    pub fn engine(&self, detail: Detail) -> &Engine {
        match detail {
            Detail::Names => &self.names,
            Detail::Lines => &self.lines,
        }
    }

    /// **The** store constructor: fuel, epoch deadline and memory limits, every time.
    pub fn store<T>(
        &self,
        detail: Detail,
        fuel: u64,
        data: T,
        limiter: fn(&mut T) -> &mut Limiter,
    ) -> Store<T> {
        let mut store = Store::new(self.engine(detail), data);
        store.limiter(move |data| limiter(data) as &mut dyn ResourceLimiter);
        store
            .set_fuel(fuel)
            .expect("fuel is enabled on every engine");
        let ticks = (self.limits.wall_time.as_millis() / TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// A fresh limiter for one store.
    pub fn limiter(&self) -> Limiter {
        Limiter {
            memory_bytes: self.limits.memory_bytes,
            growth: Growth::default(),
        }
    }

    /// Compiles `wasm`, or takes it from the cache. An `Err` is the module's own fault (not
    /// wasm, or invalid), as wasmtime words it.
    pub fn module(&self, wasm: &[u8], detail: Detail) -> Result<Module, String> {
        let engine = self.engine(detail);
        let key = cache_key(engine, wasm, detail);
        if let Some(m) = self.modules.lock().expect("cache lock").get(&key) {
            return Ok(m.clone());
        }
        let path = self
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{}.cwasm", hex(&key))));
        if let Some(path) = path.as_ref().filter(|p| p.exists()) {
            // SAFETY: the file was written by `Module::serialize` of this same engine
            // configuration (its hash is part of the key) into the grader's own cache folder,
            // which submissions cannot write to; wasmtime still checks version compatibility.
            if let Ok(module) = unsafe { Module::deserialize_file(engine, path) } {
                self.modules
                    .lock()
                    .expect("cache lock")
                    .insert(key, module.clone());
                return Ok(module);
            }
        }
        let module = Module::new(engine, wasm);
        // The functions compiled for it, on disk for the next process.
        self.functions.flush();
        let module = module.map_err(|e| format!("{e:#}"))?;
        if let (Some(path), Ok(bytes)) = (path, module.serialize()) {
            // A cache write that fails only costs a recompilation next time.
            let _ = write_atomically(&path, &bytes);
        }
        self.modules
            .lock()
            .expect("cache lock")
            .insert(key, module.clone());
        Ok(module)
    }
}

fn cache_key(engine: &Engine, wasm: &[u8], detail: Detail) -> [u8; 32] {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    detail.hash(&mut h);
    let mut sha = Sha256::new();
    sha.update(h.finish().to_le_bytes());
    sha.update(wasm);
    sha.finalize().into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
