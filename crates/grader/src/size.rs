//! Where a module's bytes go: its size as a page ships it, and its functions and data segments
//! by retained size, the way twiggy's `top` and `dominators` see them.
//!
//! What is counted is the module wasm-bindgen wrote, without its custom sections (function
//! names, producers, target features): those are not what a page needs to run, and a bundler
//! drops them. The same bytes gzipped (best compression) are what a server sends.
//!
//! A function's shallow size is its body in the code section; a data segment's is its bytes.
//! A function's retained size is what removing it would remove: its own body and those of every
//! function only it leads to, read from the dominator tree of the call graph (calls and
//! `ref.func` from the exports, the start function and the function tables). Data segments are
//! placed by address, not referenced, so each is its own root.

use std::collections::HashMap;
use std::io::Write as _;

use serde::{Deserialize, Serialize};
use wasmparser::{ElementItems, ExternalKind, KnownCustom, Name, Operator, Parser, Payload};

/// Whose code an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The student's crate, and std's generic code monomorphised for its types.
    Student,
    /// `core::fmt`, `alloc::fmt`, `Display`/`Debug` and `ToString` implementations.
    Formatting,
    /// Panics: `core::panicking`, `unwrap`/`expect` failures, bounds-check messages, the panic
    /// hook.
    Panic,
    /// wasm-bindgen's runtime and the glue's shims, the allocator, the grader's guest crate.
    Runtime,
    /// The rest of std, `core` and `alloc`.
    Std,
    /// Static data: string literals, panic locations, tables.
    Data,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Student => "your code",
            Origin::Formatting => "std formatting",
            Origin::Panic => "panic machinery",
            Origin::Runtime => "wasm-bindgen and allocator",
            Origin::Std => "other std",
            Origin::Data => "static data",
        }
    }

    const ALL: [Origin; 6] = [
        Origin::Student,
        Origin::Formatting,
        Origin::Panic,
        Origin::Runtime,
        Origin::Std,
        Origin::Data,
    ];
}

/// One function or data segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Demangled, without hashes, the student's crate written as the student knows it.
    pub name: String,
    pub origin: Origin,
    pub shallow: u64,
    pub retained: u64,
}

/// A module's size and what its bytes are made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The module without custom sections.
    pub bytes: u64,
    /// The same, gzipped at the best compression.
    pub gzip_bytes: u64,
    /// The custom sections left out of `bytes` (names, producers).
    pub custom_bytes: u64,
    /// Functions and data segments, largest retained size first.
    pub items: Vec<Item>,
}

impl Breakdown {
    /// Shallow bytes by origin, in [`Origin`]'s order; origins with nothing are left out.
    pub fn by_origin(&self) -> Vec<(Origin, u64)> {
        Origin::ALL
            .into_iter()
            .map(|o| {
                let sum = self
                    .items
                    .iter()
                    .filter(|i| i.origin == o)
                    .map(|i| i.shallow)
                    .sum();
                (o, sum)
            })
            .filter(|(_, sum)| *sum > 0)
            .collect()
    }

    /// The lines a report or `cargo xtask size` shows: the size, the bytes by origin, and the
    /// `top` largest items by retained size.
    pub fn lines(&self, top: usize) -> Vec<String> {
        let mut out = vec![format!(
            "{} ({} gzipped); custom sections such as names, {}, are not counted",
            kib(self.bytes),
            kib(self.gzip_bytes),
            kib(self.custom_bytes)
        )];
        let parts: Vec<String> = self
            .by_origin()
            .into_iter()
            .map(|(o, n)| format!("{} {}", o.describe(), kib(n)))
            .collect();
        out.push(format!("by origin: {}", parts.join(", ")));
        out.push(format!(
            "largest by retained size (of {}):",
            kib(self.bytes)
        ));
        for item in self.items.iter().take(top) {
            out.push(format!(
                "  {:>9} {:>4.1}%  {}  [{}]",
                kib(item.retained),
                100.0 * item.retained as f64 / self.bytes.max(1) as f64,
                item.name,
                item.origin.describe()
            ));
        }
        out
    }
}

/// `1234 B`, `12.3 KiB`.
pub fn kib(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

/// Reads a processed module. `None` when it is not a module wasmparser can read.
pub fn analyse(wasm: &[u8]) -> Option<Breakdown> {
    let graph = Graph::read(wasm).ok()?;
    let shipped = without_custom_sections(wasm).ok()?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&shipped).ok()?;
    let gzip_bytes = gz.finish().ok()?.len() as u64;
    let retained = graph.retained();
    let mut items: Vec<Item> = Vec::new();
    for f in graph.imported..graph.functions {
        let node = (f + 1) as usize;
        let raw = graph.names.get(&f).cloned().unwrap_or_default();
        let name = if raw.is_empty() {
            format!("function {f}")
        } else {
            crate::run::clean_name(&raw)
        };
        items.push(Item {
            origin: origin_of(&raw),
            name,
            shallow: graph.size[node],
            retained: retained[node],
        });
    }
    for (i, (len, name)) in graph.data.iter().enumerate() {
        items.push(Item {
            name: name.clone().unwrap_or_else(|| format!("data segment {i}")),
            origin: Origin::Data,
            shallow: *len,
            retained: *len,
        });
    }
    items.sort_by(|a, b| b.retained.cmp(&a.retained).then(a.name.cmp(&b.name)));
    Some(Breakdown {
        bytes: shipped.len() as u64,
        gzip_bytes,
        custom_bytes: (wasm.len() - shipped.len()) as u64,
        items,
    })
}

/// Whose code a function is, from its mangled or demangled name.
fn origin_of(raw: &str) -> Origin {
    let name = format!("{:#}", rustc_demangle::demangle(raw));
    // Recent std names its runtime symbols `__rustc::...`.
    let name = name.strip_prefix("__rustc::").unwrap_or(&name).to_owned();
    let starts = |prefixes: &[&str]| {
        prefixes
            .iter()
            .any(|p| name.starts_with(p) || name.starts_with(&format!("<{p}")))
    };
    if starts(&[
        "core::panicking",
        "std::panicking",
        "std::panic",
        "core::panic",
        "core::result::unwrap_failed",
        "core::option::unwrap_failed",
        "core::option::expect_failed",
        "core::slice::index::",
        "core::str::slice_error_fail",
        "rust_begin_unwind",
        "__rust_start_panic",
        "console_error_panic_hook",
        "std::rt::",
        "std::sys::backtrace",
        "std::process::abort",
        "alloc::raw_vec::handle_error",
        "alloc::raw_vec::capacity_overflow",
        "alloc::alloc::handle_alloc_error",
    ]) {
        return Origin::Panic;
    }
    if starts(&["core::fmt", "alloc::fmt", "alloc::string::ToString"])
        || name.contains(" as core::fmt::")
    {
        return Origin::Formatting;
    }
    if name.contains("submission_") {
        return Origin::Student;
    }
    if starts(&[
        "wasm_bindgen",
        "__wbindgen",
        "__wbg_",
        "__externref",
        "dlmalloc",
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rdl_",
        "__rg_",
        "__wasm_course",
        "course_guest",
        "js_sys",
        "std::alloc",
        "alloc::alloc",
    ]) {
        return Origin::Runtime;
    }
    if starts(&["memcpy", "memset", "memmove", "memcmp"]) || name.contains("::") {
        return Origin::Std;
    }
    // A plain name is an export and its wasm-bindgen shim (`label`, `label multivalue shim`):
    // the student's functions.
    Origin::Student
}

/// The module with its custom sections left out, as wasmparser reads its sections.
fn without_custom_sections(wasm: &[u8]) -> wasmparser::Result<Vec<u8>> {
    let mut out = wasm[..8.min(wasm.len())].to_vec();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if matches!(payload, Payload::CustomSection(_)) {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.push(id);
            crate::bindgen::push_leb128(&mut out, range.len() as u64);
            out.extend_from_slice(&wasm[range]);
        }
    }
    Ok(out)
}

/// The call graph: node 0 is the root, node `f + 1` is function `f`.
struct Graph {
    imported: u32,
    functions: u32,
    size: Vec<u64>,
    edges: Vec<Vec<usize>>,
    names: HashMap<u32, String>,
    data: Vec<(u64, Option<String>)>,
}

impl Graph {
    fn read(wasm: &[u8]) -> wasmparser::Result<Graph> {
        let mut g = Graph {
            imported: 0,
            functions: 0,
            size: vec![0],
            edges: vec![Vec::new()],
            names: HashMap::new(),
            data: Vec::new(),
        };
        let mut roots: Vec<u32> = Vec::new();
        let mut calls: Vec<(u32, u32)> = Vec::new();
        let mut data_names: HashMap<u32, String> = HashMap::new();
        let mut body = 0u32;
        for payload in Parser::new(0).parse_all(wasm) {
            match payload? {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        if let wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) =
                            import?.ty
                        {
                            g.imported += 1;
                        }
                    }
                }
                Payload::FunctionSection(reader) => g.functions = g.imported + reader.count(),
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export?;
                        if export.kind == ExternalKind::Func {
                            roots.push(export.index);
                        }
                    }
                }
                Payload::StartSection { func, .. } => roots.push(func),
                Payload::ElementSection(reader) => {
                    for element in reader {
                        match element?.items {
                            ElementItems::Functions(funcs) => {
                                for f in funcs {
                                    roots.push(f?);
                                }
                            }
                            ElementItems::Expressions(_, exprs) => {
                                for expr in exprs {
                                    for op in expr?.get_operators_reader() {
                                        if let Operator::RefFunc { function_index } = op? {
                                            roots.push(function_index);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                Payload::DataSection(reader) => {
                    for data in reader {
                        let data = data?;
                        g.data.push((data.data.len() as u64, None));
                    }
                }
                Payload::CodeSectionEntry(code) => {
                    let caller = g.imported + body;
                    body += 1;
                    let mut ops = code.get_operators_reader()?;
                    while !ops.eof() {
                        if let Operator::Call { function_index }
                        | Operator::ReturnCall { function_index }
                        | Operator::RefFunc { function_index } = ops.read()?
                        {
                            calls.push((caller, function_index));
                        }
                    }
                    if g.size.len() <= (caller + 1) as usize {
                        g.size.resize((caller + 2) as usize, 0);
                    }
                    g.size[(caller + 1) as usize] = code.range().len() as u64;
                }
                Payload::CustomSection(section) => {
                    if let KnownCustom::Name(reader) = section.as_known() {
                        for name in reader {
                            match name {
                                Ok(Name::Function(map)) => {
                                    for naming in map.into_iter().flatten() {
                                        g.names.insert(naming.index, naming.name.to_owned());
                                    }
                                }
                                Ok(Name::Data(map)) => {
                                    for naming in map.into_iter().flatten() {
                                        data_names.insert(naming.index, naming.name.to_owned());
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let nodes = g.functions as usize + 1;
        g.size.resize(nodes, 0);
        g.edges = vec![Vec::new(); nodes];
        for f in roots {
            if (f as usize) + 1 < nodes {
                g.edges[0].push(f as usize + 1);
            }
        }
        for (from, to) in calls {
            if (to as usize) + 1 < nodes {
                g.edges[from as usize + 1].push(to as usize + 1);
            }
        }
        for (i, (_, name)) in g.data.iter_mut().enumerate() {
            *name = data_names.remove(&(i as u32));
        }
        Ok(g)
    }

    /// Each node's retained size: its own and that of every node it dominates. Unreachable
    /// functions retain only themselves.
    fn retained(&self) -> Vec<u64> {
        let idom = dominators(&self.edges);
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); idom.len()];
        for (n, parent) in idom.iter().enumerate().skip(1) {
            if let Some(p) = parent {
                children[*p].push(n);
            }
        }
        // The dominator tree in preorder from the root; summed in reverse, children first.
        let mut preorder = Vec::with_capacity(idom.len());
        let mut stack = vec![0usize];
        while let Some(n) = stack.pop() {
            preorder.push(n);
            stack.extend(&children[n]);
        }
        let mut retained = self.size.clone();
        for &n in preorder.iter().rev().filter(|&&n| n != 0) {
            if let Some(p) = idom[n] {
                retained[p] += retained[n];
            }
        }
        retained
    }
}

/// Immediate dominators from node 0 (Cooper, Harvey and Kennedy's iterative algorithm);
/// `None` for nodes node 0 does not reach.
fn dominators(edges: &[Vec<usize>]) -> Vec<Option<usize>> {
    let n = edges.len();
    // Reverse postorder by an explicit stack.
    let mut post = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut stack = vec![(0usize, 0usize)];
    seen[0] = true;
    while let Some((node, next)) = stack.pop() {
        if let Some(&child) = edges[node].get(next) {
            stack.push((node, next + 1));
            if !seen[child] {
                seen[child] = true;
                stack.push((child, 0));
            }
        } else {
            post.push(node);
        }
    }
    let mut order = vec![usize::MAX; n];
    for (i, &node) in post.iter().enumerate() {
        order[node] = i;
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (from, tos) in edges.iter().enumerate() {
        if seen[from] {
            for &to in tos {
                preds[to].push(from);
            }
        }
    }
    let mut idom: Vec<Option<usize>> = vec![None; n];
    idom[0] = Some(0);
    let mut changed = true;
    while changed {
        changed = false;
        for &node in post.iter().rev().skip(1) {
            let mut new: Option<usize> = None;
            for &p in &preds[node] {
                if idom[p].is_none() {
                    continue;
                }
                new = Some(match new {
                    None => p,
                    Some(mut a) => {
                        let mut b = p;
                        while a != b {
                            while order[a] < order[b] {
                                a = idom[a].expect("processed");
                            }
                            while order[b] < order[a] {
                                b = idom[b].expect("processed");
                            }
                        }
                        a
                    }
                });
            }
            if new != idom[node] {
                idom[node] = new;
                changed = true;
            }
        }
    }
    idom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakdown(wat: &str) -> Breakdown {
        analyse(&wat::parse_str(wat).unwrap()).unwrap()
    }

    fn item<'a>(b: &'a Breakdown, name: &str) -> &'a Item {
        b.items.iter().find(|i| i.name == name).unwrap()
    }

    #[test]
    fn a_function_only_one_caller_reaches_is_retained_by_it() {
        let b = breakdown(
            r#"(module
              (func $shared (result i32) i32.const 1)
              (func $only_mine (result i32) i32.const 2 i32.const 3 i32.add)
              (func $a (export "a") (result i32) call $shared call $only_mine i32.add)
              (func $b (export "b") (result i32) call $shared)
              (memory 1)
              (data (i32.const 16) "hi"))"#,
        );
        let a = item(&b, "a");
        let only = item(&b, "only_mine");
        let shared = item(&b, "shared");
        assert_eq!(a.retained, a.shallow + only.shallow);
        assert_eq!(item(&b, "b").retained, item(&b, "b").shallow);
        assert_eq!(shared.retained, shared.shallow);
        assert_eq!(b.items[0].name, "a");
        let data = b.items.iter().find(|i| i.origin == Origin::Data).unwrap();
        assert_eq!(data.shallow, 2);
        assert!(b.custom_bytes > 0, "the name section is left out");
        assert!(b.gzip_bytes > 0);
    }

    #[test]
    fn the_counted_module_is_still_a_module() {
        let wasm = wat::parse_str(r#"(module (func $f (export "f")))"#).unwrap();
        let stripped = without_custom_sections(&wasm).unwrap();
        assert!(stripped.len() < wasm.len());
        wasmparser::validate(&stripped).unwrap();
    }

    #[test]
    fn names_say_whose_code_it_is() {
        assert_eq!(origin_of("core::fmt::write"), Origin::Formatting);
        assert_eq!(
            origin_of("<u32 as core::fmt::Display>::fmt"),
            Origin::Formatting
        );
        assert_eq!(origin_of("core::panicking::panic_fmt"), Origin::Panic);
        assert_eq!(origin_of("core::result::unwrap_failed"), Origin::Panic);
        assert_eq!(origin_of("submission_x::parse"), Origin::Student);
        assert_eq!(
            origin_of("core::ptr::drop_in_place<submission_x::Token>"),
            Origin::Student
        );
        assert_eq!(
            origin_of("dlmalloc::dlmalloc::Dlmalloc<A>::malloc"),
            Origin::Runtime
        );
        assert_eq!(origin_of("__wbindgen_malloc"), Origin::Runtime);
        assert_eq!(origin_of("memcpy"), Origin::Std);
        assert_eq!(origin_of("__rustc::rust_begin_unwind"), Origin::Panic);
        assert_eq!(origin_of("checksum"), Origin::Student);
        assert_eq!(origin_of("<str>::to_lowercase"), Origin::Std);
    }
}
