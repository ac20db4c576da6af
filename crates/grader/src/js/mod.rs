//! wasm-bindgen's JavaScript glue, and the page it runs in.
//!
//! The grader does not interpret the glue: it runs the file wasm-bindgen wrote, unchanged, in
//! QuickJS (through `rquickjs`), on a page ([`PAGE`]) that provides what a browser tab
//! provides without a window. `run::page` connects that page to the instance in wasmtime.
//!
//! This module also describes a glue: [`Glue::imports`] runs it far enough to read the import
//! object it hands `WebAssembly.Instance` (the functions of the module it serves, by import
//! module and name, with their source text), so that the `imports` command can show what each
//! import does; a grade's preflight only reads the glue's text ([`Glue::names`]). Whether an
//! import needs a browser is decided when a step reaches it, not here; [`Import::browser`]
//! only lists the browser globals a function's text mentions, for the description.

use std::collections::BTreeMap;

use rquickjs::loader::{BuiltinLoader, BuiltinResolver};
use rquickjs::{Context, Ctx, FromJs, Function, Module, Object, Runtime, Value};

/// The page script: a function of the grader's natives and of [`BROWSER_ONLY`].
pub const PAGE: &str = include_str!("page.js");

/// The name the glue is loaded under, in messages and stack traces.
pub const GLUE_NAME: &str = "glue.js";

/// Globals a browser has and the grader's page has not. Reading one gives `undefined` and is
/// noted; a step that then goes wrong is reported as needing a browser, naming it.
pub const BROWSER_ONLY: &[&str] = &[
    "window",
    "self",
    "document",
    "navigator",
    "location",
    "history",
    "localStorage",
    "sessionStorage",
    "indexedDB",
    "caches",
    "fetch",
    "Request",
    "Response",
    "Headers",
    "XMLHttpRequest",
    "WebSocket",
    "EventSource",
    "crypto",
    "Crypto",
    "requestAnimationFrame",
    "cancelAnimationFrame",
    "requestIdleCallback",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "Window",
    "Document",
    "Node",
    "Element",
    "HTMLElement",
    "HTMLCanvasElement",
    "HTMLImageElement",
    "CanvasRenderingContext2D",
    "OffscreenCanvas",
    "ImageData",
    "Image",
    "WebGLRenderingContext",
    "WebGL2RenderingContext",
    "AudioContext",
    "Event",
    "EventTarget",
    "CustomEvent",
    "MouseEvent",
    "KeyboardEvent",
    "Worker",
    "getComputedStyle",
    "matchMedia",
    "screen",
    "devicePixelRatio",
    "innerWidth",
    "innerHeight",
];

/// The guest support crate's module, as the glue imports it (`import * as … from
/// "wasm_course"`): the grader serves these imports itself, so the page's copy is empty.
pub const GUEST_MODULE_STUB: &str = "export function on_alloc() {}\n\
    export function on_dealloc() { return 1; }\n\
    export function on_panic() {}\n\
    export function on_log() {}\n";

/// Most bytes of JavaScript heap a page may hold.
pub const HEAP_LIMIT: usize = 64 << 20;

/// Most bytes of native stack QuickJS may use.
pub const STACK_LIMIT: usize = 1 << 20;

/// A fresh runtime and context with the page's limits, the guest module stub and the crate's
/// own JavaScript modules.
///
/// The runtime (QuickJS's allocator, atoms and garbage collector) is kept for the thread and
/// reused by its next page: starting one on a fresh thread costs more than the page itself.
/// Contexts share nothing; each page gets a fresh one.
pub fn runtime(snippets: &[(String, String)]) -> Result<(Runtime, Context), String> {
    thread_local! {
        static RUNTIME: std::cell::RefCell<Option<Runtime>> = const { std::cell::RefCell::new(None) };
    }
    let runtime = RUNTIME.with(|r| -> Result<Runtime, String> {
        let mut r = r.borrow_mut();
        if let Some(runtime) = r.as_ref() {
            return Ok(runtime.clone());
        }
        let runtime = Runtime::new().map_err(|e| format!("cannot start QuickJS: {e}"))?;
        runtime.set_memory_limit(HEAP_LIMIT);
        runtime.set_max_stack_size(STACK_LIMIT);
        *r = Some(runtime.clone());
        Ok(runtime)
    })?;
    let mut resolver = BuiltinResolver::default().with_module(course_guest::abi::MODULE);
    let mut loader =
        BuiltinLoader::default().with_module(course_guest::abi::MODULE, GUEST_MODULE_STUB);
    for (specifier, source) in snippets {
        // Resolved against the glue's own name (`glue.js`, at the root): `./snippets/…` is
        // `snippets/…`.
        let name = specifier.trim_start_matches("./");
        resolver.add_module(name);
        loader.add_module(name, source.clone());
    }
    runtime.set_loader(resolver, loader);
    let context = Context::full(&runtime).map_err(|e| format!("cannot start QuickJS: {e}"))?;
    Ok((runtime, context))
}

/// The page script compiled once per process: QuickJS bytecode, which every page loads
/// instead of parsing the script again (it is read in place, so it must live as long as the
/// process: a `static`).
fn page_bytecode() -> Result<&'static [u8], String> {
    static BYTECODE: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    BYTECODE
        .get_or_init(|| {
            let runtime = Runtime::new().map_err(|e| e.to_string())?;
            let context = Context::full(&runtime).map_err(|e| e.to_string())?;
            context.with(|ctx| {
                Module::declare(ctx, "page.js", PAGE)
                    .and_then(|m| m.write(rquickjs::WriteOptions::default()))
                    .map_err(|e| format!("the page script does not compile: {e}"))
            })
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// The page script, called with `host`: what it returns (the page's `Module` class, its
/// `RuntimeError`, `inspect` and `format`). `lockdown` freezes the intrinsics and globals
/// before the module's code runs (for a page whose scenario asserts in JavaScript).
pub fn install<'js>(
    ctx: &Ctx<'js>,
    host: Object<'js>,
    lockdown: bool,
) -> rquickjs::Result<Object<'js>> {
    let bytecode = page_bytecode().map_err(|e| rquickjs::Exception::throw_internal(ctx, &e))?;
    // SAFETY: the bytes are this build's own compilation of `PAGE`, kept for the process.
    let module = unsafe { Module::load(ctx.clone(), bytecode)? };
    let (module, promise) = module.eval()?;
    promise.finish::<Value>()?;
    let page: Function = module.get("default")?;
    let browser = rquickjs::Array::new(ctx.clone())?;
    for (i, name) in BROWSER_ONLY.iter().enumerate() {
        browser.set(i, *name)?;
    }
    page.call((host, browser, lockdown))
}

/// Loads the glue as an ES module and returns its namespace (`initSync`, the exports).
pub fn load<'js>(ctx: &Ctx<'js>, source: &str) -> rquickjs::Result<Object<'js>> {
    evaluate(ctx, Module::declare(ctx.clone(), GLUE_NAME, source)?)
}

/// [`load`], from the glue's bytecode ([`Glue::bytecode`]).
///
/// # Safety
///
/// `bytecode` is this build's compilation of a glue, and outlives the page's runtime (QuickJS
/// reads it in place).
pub unsafe fn load_compiled<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Object<'js>> {
    // SAFETY: as the caller promises.
    evaluate(ctx, unsafe { Module::load(ctx.clone(), bytecode)? })
}

fn evaluate<'js>(
    ctx: &Ctx<'js>,
    module: Module<'js, rquickjs::module::Declared>,
) -> rquickjs::Result<Object<'js>> {
    let (module, promise) = module.eval()?;
    // The glue has no top-level `await`: evaluating it settles at once.
    while ctx.execute_pending_job() {}
    promise.finish::<Value>()?;
    module.namespace()
}

/// Why a scenario's script does not compile, if it does not: it is the body of an `async`
/// function of `mod` and `t`, as the page runs it.
pub fn script_error(source: &str) -> Option<String> {
    let (_runtime, context) = match runtime(&[]) {
        Ok(page) => page,
        Err(e) => return Some(e),
    };
    context.with(|ctx| {
        let compiled: rquickjs::Result<Function> =
            ctx.eval(format!("(async function (mod, t) {{\n{source}\n}})"));
        match compiled {
            Ok(_) => None,
            Err(_) => Some(exception_text(&ctx)),
        }
    })
}

/// The text of the exception pending in `ctx`, for messages.
pub fn exception_text(ctx: &Ctx<'_>) -> String {
    let e = ctx.catch();
    if let Some(o) = e.as_object() {
        let message: Option<String> = o.get("message").ok();
        let name: Option<String> = o.get("name").ok();
        if let Some(message) = message {
            return match name {
                Some(name) => format!("{name}: {message}"),
                None => message,
            };
        }
    }
    e.as_string()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// One function of the glue's import object.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// Its source text, as the glue wrote it.
    pub text: String,
    /// The browser-only globals its text names.
    pub browser: Vec<String>,
}

/// What a glue defines for the module it serves.
#[derive(Debug, Clone, Default)]
pub struct Glue {
    /// The glue's source: the file wasm-bindgen wrote, run unchanged.
    pub source: String,
    /// The crate's own JavaScript (`inline_js`), as the modules the glue imports.
    pub snippets: Vec<(String, String)>,
    /// The import object read by running the glue, once asked for.
    described: std::sync::OnceLock<Described>,
    /// The glue compiled to QuickJS bytecode, once asked for: every scenario's page loads it
    /// instead of parsing the glue again.
    compiled: std::sync::OnceLock<Result<std::sync::Arc<[u8]>, String>>,
}

#[derive(Debug, Clone, Default)]
struct Described {
    imports: BTreeMap<String, BTreeMap<String, Import>>,
    error: Option<String>,
}

impl Glue {
    /// A glue, not yet run. An empty source (a module without wasm-bindgen) is no glue.
    pub fn parse(source: &str) -> Glue {
        Glue::with_snippets(source, Vec::new())
    }

    /// [`Glue::parse`], for a glue that imports the crate's own JavaScript modules.
    pub fn with_snippets(source: &str, snippets: Vec<(String, String)>) -> Glue {
        Glue {
            source: source.to_owned(),
            snippets,
            described: std::sync::OnceLock::new(),
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// The glue compiled to QuickJS bytecode (once).
    pub fn bytecode(&self) -> Result<std::sync::Arc<[u8]>, String> {
        self.compiled
            .get_or_init(|| {
                let (_runtime, context) = runtime(&self.snippets)?;
                context.with(|ctx| {
                    Module::declare(ctx.clone(), GLUE_NAME, self.source.as_str())
                        .and_then(|m| m.write(rquickjs::WriteOptions::default()))
                        .map(std::sync::Arc::from)
                        .map_err(|_| format!("the glue does not compile: {}", exception_text(&ctx)))
                })
            })
            .clone()
    }

    /// Whether there is a glue to run.
    pub fn is_empty(&self) -> bool {
        self.source.trim().is_empty()
    }

    /// Whether the glue's import object names this import, read from its text without running
    /// it: what a grade checks before anything runs. (Running decides: an import the glue
    /// does not define after all fails instantiation with a `LinkError` naming it.)
    pub fn names(&self, module: &str, name: &str) -> bool {
        // The crate's own JavaScript is imported whole: its module exports the function.
        if let Some((_, source)) = self.snippets.iter().find(|(s, _)| s == module) {
            return source.contains(name);
        }
        !self.is_empty()
            && self.source.contains(&format!("\"{module}\""))
            && (self.source.contains(&format!("{name}:"))
                || self.source.contains(&format!("\"{name}\":")))
    }

    /// The import object, read by running the glue up to `WebAssembly.Instance` (once).
    fn described(&self) -> &Described {
        self.described.get_or_init(|| {
            if self.is_empty() {
                return Described::default();
            }
            match describe(&self.source, &self.snippets) {
                Ok(imports) => Described {
                    imports,
                    error: None,
                },
                Err(e) => Described {
                    imports: BTreeMap::new(),
                    error: Some(e),
                },
            }
        })
    }

    /// The import object, by import module and name.
    pub fn imports(&self) -> &BTreeMap<String, BTreeMap<String, Import>> {
        &self.described().imports
    }

    /// Why the import object could not be read, when it could not.
    pub fn error(&self) -> Option<&str> {
        self.described().error.as_deref()
    }

    /// The glue's function for an import, if it defines one.
    pub fn import(&self, module: &str, name: &str) -> Option<&Import> {
        self.imports().get(module)?.get(name)
    }

    /// The source text of the glue's function `name` (in any import module).
    pub fn text(&self, name: &str) -> Option<String> {
        self.imports()
            .values()
            .find_map(|m| m.get(name))
            .map(|i| i.text.clone())
    }

    /// How many functions the glue defines.
    pub fn len(&self) -> usize {
        self.imports().values().map(BTreeMap::len).sum()
    }
}

/// Runs the glue's `initSync` on a page whose `WebAssembly.Instance` reads the import
/// object and stops there.
fn describe(
    source: &str,
    snippets: &[(String, String)],
) -> Result<BTreeMap<String, BTreeMap<String, Import>>, String> {
    let (_runtime, context) = runtime(snippets)?;
    context.with(|ctx| describe_in(ctx, source))
}

fn describe_in<'js>(
    ctx: Ctx<'js>,
    source: &str,
) -> Result<BTreeMap<String, BTreeMap<String, Import>>, String> {
    {
        let fail = |ctx: &Ctx<'_>, what: &str| format!("{what}: {}", exception_text(ctx));
        // `instantiate` keeps the import object on `host` and stops the glue there. (A native
        // closure must not hold a JavaScript value: the value holds the context alive.)
        let host: Object = ctx
            .eval(
                "({ instantiate(imports) { this.imports = imports; \
                   throw new Error('the grader stops here'); }, \
                   log() {}, probe() {}, now: () => 0, random: () => 0, epoch: 0, \
                   encode: () => new Uint8Array(0), decode: () => '', \
                   buffer: () => new ArrayBuffer(0) })",
            )
            .map_err(|e| e.to_string())?;
        let captured = host.clone();
        let page = install(&ctx, host, false).map_err(|_| fail(&ctx, "the page script failed"))?;
        let namespace = load(&ctx, source).map_err(|_| fail(&ctx, "the glue does not load"))?;
        let init: Function = namespace
            .get("initSync")
            .map_err(|_| "the glue has no `initSync` (built for another target?)".to_owned())?;
        let module_class: rquickjs::Constructor = page.get("Module").map_err(|e| e.to_string())?;
        let module: Value = module_class
            .construct(())
            .map_err(|_| fail(&ctx, "WebAssembly.Module"))?;
        let arg = Object::new(ctx.clone()).map_err(|e| e.to_string())?;
        arg.set("module", module).map_err(|e| e.to_string())?;
        let _ = init.call::<_, Value>((arg,));
        let _ = ctx.catch();
        let imports: Object = captured
            .get("imports")
            .map_err(|_| "the glue never instantiated the module".to_owned())?;
        let mut out = BTreeMap::new();
        for entry in imports.props::<String, Value>() {
            let (module, functions) = entry.map_err(|e| e.to_string())?;
            let Some(functions) = functions.into_object() else {
                continue;
            };
            let mut defined = BTreeMap::new();
            for entry in functions.props::<String, Value>() {
                let (name, f) = entry.map_err(|e| e.to_string())?;
                let Some(f) = f.into_function() else {
                    continue;
                };
                let text = rquickjs::Coerced::<String>::from_js(&ctx, f.into_value())
                    .map(|s| s.0)
                    .unwrap_or_default();
                let browser = mentioned(&text);
                defined.insert(name, Import { text, browser });
            }
            out.insert(module, defined);
        }
        Ok(out)
    }
}

/// The browser-only globals a function's text names, as whole identifiers (not as members:
/// `arg0.document` is a member of a value the glue was given).
pub fn mentioned(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            let word = &text[start..i];
            let member = text[..start].trim_end().ends_with('.');
            if !member && BROWSER_ONLY.contains(&word) && !out.iter().any(|w| w == word) {
                out.push(word.to_owned());
            }
        } else if c == b'\'' || c == b'"' || c == b'`' {
            // Skip a string literal: words in it are not globals.
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests;
