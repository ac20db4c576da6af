//! Whether a linked module's allocation reports can be trusted.
//!
//! The memory checks rest on what the guest's allocator reports through the
//! `wasm_course.on_alloc` and `on_dealloc` imports. They can be trusted only when the grader's
//! own allocation functions ([`course_guest::abi::ACCOUNTANTS`]) are the only code that calls
//! those imports: those functions report exactly what they do to the heap. This module reads
//! the linked module (its imports, names, code and tables) and says whether that holds.

use course_guest::abi;
use wasmparser::{
    ElementItems, ExternalKind, KnownCustom, Name, Operator, Parser, Payload, TypeRef,
};

/// What the grader can make of a module's allocation reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Accounting {
    /// The grader's allocator is linked in and only it reports.
    Tracked,
    /// The module does not report its allocations (not built with the grader's support
    /// crate), or the grader cannot tell who reports them; why, in a student's terms.
    Untracked(String),
    /// Code other than the grader's allocator can report allocations: who, and how.
    Forged { function: String, how: String },
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verified {
    pub accounting: Accounting,
    /// The functions of wasm-bindgen's runtime whose allocations live as long as the instance:
    /// the externref table's free list (when exactly one function has its name), and the task
    /// queue js-sys keeps for futures (made on the first `async` call, reused after). Never
    /// one the module exports: an export may carry any name.
    pub runtime_functions: Vec<u32>,
}

/// Where js-sys (and wasm-bindgen-futures before it) keep the one task queue of an instance.
const RUNTIME_QUEUES: &[&str] = &["js_sys::futures::queue::", "wasm_bindgen_futures::queue::"];

/// wasm-bindgen's runtime function that allocates the externref table's free list.
const RUNTIME_ALLOC: &str = "__externref_table_alloc";

/// Reads a processed module and decides whether its allocation reports can be trusted.
pub(crate) fn verify(wasm: &[u8]) -> Verified {
    let mut runtime_functions = Vec::new();
    let accounting = match scan(wasm, &mut runtime_functions) {
        Ok(accounting) => accounting,
        Err(e) => Accounting::Untracked(format!("the module could not be read: {e}")),
    };
    Verified {
        accounting,
        runtime_functions,
    }
}

fn scan(
    wasm: &[u8],
    runtime_functions: &mut Vec<u32>,
) -> Result<Accounting, wasmparser::BinaryReaderError> {
    let mut exported: std::collections::HashSet<u32> = std::collections::HashSet::new();
    // Function indices of the accounting imports.
    let mut accounting: Vec<(u32, &'static str)> = Vec::new();
    let mut imported_funcs = 0u32;
    let mut names: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
    let mut has_names = false;
    // (caller, import name) for every call of an accounting import, and every other way one
    // is reached (a table, `ref.func`, an export).
    let mut calls: Vec<(u32, &'static str)> = Vec::new();
    let mut escapes: Vec<(Option<u32>, &'static str, &'static str)> = Vec::new();
    let mut body_index = 0u32;
    let is_accounting = |accounting: &[(u32, &'static str)], f: u32| {
        accounting.iter().find(|(i, _)| *i == f).map(|(_, n)| *n)
    };
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if let TypeRef::Func(_) | TypeRef::FuncExact(_) = import.ty {
                        if import.module == abi::MODULE
                            && let Some(name) = abi::ACCOUNTING.iter().find(|n| **n == import.name)
                        {
                            accounting.push((imported_funcs, name));
                        }
                        imported_funcs += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    if export.kind == ExternalKind::Func {
                        exported.insert(export.index);
                    }
                    if export.kind == ExternalKind::Func
                        && let Some(name) = is_accounting(&accounting, export.index)
                    {
                        escapes.push((None, name, "exports it"));
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element = element?;
                    match element.items {
                        ElementItems::Functions(funcs) => {
                            for f in funcs {
                                if let Some(name) = is_accounting(&accounting, f?) {
                                    escapes.push((None, name, "puts it in a function table"));
                                }
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                for op in expr?.get_operators_reader() {
                                    if let Operator::RefFunc { function_index } = op?
                                        && let Some(name) =
                                            is_accounting(&accounting, function_index)
                                    {
                                        escapes.push((None, name, "puts it in a function table"));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let caller = imported_funcs + body_index;
                body_index += 1;
                if accounting.is_empty() {
                    continue;
                }
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    match ops.read()? {
                        Operator::Call { function_index }
                        | Operator::ReturnCall { function_index } => {
                            if let Some(name) = is_accounting(&accounting, function_index) {
                                calls.push((caller, name));
                            }
                        }
                        Operator::RefFunc { function_index } => {
                            if let Some(name) = is_accounting(&accounting, function_index) {
                                escapes.push((
                                    Some(caller),
                                    name,
                                    "takes it as a function reference",
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
            Payload::CustomSection(section) => {
                if let KnownCustom::Name(reader) = section.as_known() {
                    for name in reader {
                        // A damaged name section reads as no names at all.
                        let Ok(Name::Function(map)) = name else {
                            continue;
                        };
                        has_names = true;
                        for naming in map.into_iter().flatten() {
                            names.insert(naming.index, naming.name.to_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut runtime = names.iter().filter(|(_, n)| n.as_str() == RUNTIME_ALLOC);
    if let (Some((index, _)), None) = (runtime.next(), runtime.next()) {
        runtime_functions.push(*index);
    }
    for (index, name) in &names {
        let name = rustc_demangle::demangle(name).to_string();
        if !exported.contains(index) && RUNTIME_QUEUES.iter().any(|q| name.starts_with(q)) {
            runtime_functions.push(*index);
        }
    }
    runtime_functions.sort_unstable();
    let name_of = |f: u32| {
        names
            .get(&f)
            .map(|n| crate::run::clean_name(n))
            .unwrap_or_else(|| format!("function {f}"))
    };
    if let Some((caller, import, how)) = escapes.first() {
        return Ok(Accounting::Forged {
            function: caller
                .map(name_of)
                .unwrap_or_else(|| "the module".to_owned()),
            how: format!("{how} (`{}.{import}`)", abi::MODULE),
        });
    }
    if accounting.len() < abi::ACCOUNTING.len() {
        return Ok(Accounting::Untracked(
            "it does not report its allocations: the grader's allocator is not linked in".into(),
        ));
    }
    if !has_names {
        return Ok(Accounting::Untracked(
            "it has no function names, so the grader cannot tell who reports its allocations"
                .into(),
        ));
    }
    // Each accountant name must belong to exactly one function.
    for accountant in abi::ACCOUNTANTS {
        let count = names.values().filter(|n| n.as_str() == accountant).count();
        if count > 1 {
            return Ok(Accounting::Forged {
                function: accountant.to_owned(),
                how: format!("defines `{accountant}` {count} times"),
            });
        }
    }
    for (caller, import) in calls {
        let name = names.get(&caller).map(String::as_str);
        if !name.is_some_and(|n| abi::ACCOUNTANTS.contains(&n)) {
            return Ok(Accounting::Forged {
                function: name_of(caller),
                how: format!("calls `{}.{import}`", abi::MODULE),
            });
        }
    }
    Ok(Accounting::Tracked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_wat(wat: &str) -> Accounting {
        verify(&wat::parse_str(wat).unwrap()).accounting
    }

    const IMPORTS: &str = r#"
      (import "wasm_course" "on_alloc" (func $on_alloc (param i32 i32 i32)))
      (import "wasm_course" "on_dealloc" (func $on_dealloc (param i32 i32 i32) (result i32)))"#;

    #[test]
    fn only_the_accountants_may_report() {
        let good = format!(
            r#"(module {IMPORTS}
              (func $__wasm_course_alloc (call $on_alloc (i32.const 8) (i32.const 1) (i32.const 1)))
              (func $__wasm_course_dealloc (drop (call $on_dealloc (i32.const 8) (i32.const 1) (i32.const 1)))))"#
        );
        assert_eq!(verify_wat(&good), Accounting::Tracked);
        let forged = format!(
            r#"(module {IMPORTS}
              (func $__wasm_course_alloc (call $on_alloc (i32.const 8) (i32.const 1) (i32.const 1)))
              (func $pretend_to_free (drop (call $on_dealloc (i32.const 8) (i32.const 1) (i32.const 1)))))"#
        );
        assert!(
            matches!(verify_wat(&forged), Accounting::Forged { function, .. } if function == "pretend_to_free")
        );
        let tabled =
            format!(r#"(module {IMPORTS} (table 2 funcref) (elem (i32.const 0) $on_dealloc))"#);
        assert!(matches!(verify_wat(&tabled), Accounting::Forged { .. }));
        assert!(matches!(verify_wat("(module)"), Accounting::Untracked(_)));
        assert!(matches!(
            verify(b"not wasm").accounting,
            Accounting::Untracked(_)
        ));
    }
}
