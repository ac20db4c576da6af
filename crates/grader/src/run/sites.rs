//! Where an allocation was made: the student's function (and line, with line tables) on the
//! wasm stack, and whether wasm-bindgen's runtime made it for itself.

use super::*;

/// Allocation sites (function names) are captured for this many allocations per scenario;
/// past that a capture per allocation would cost more than the scenario itself.
pub(super) const SITE_CAPTURES: u64 = 4_096;

pub(super) fn site(caller: &Caller<'_, Host>, id: u64) -> Site {
    site_and_runtime(caller, id).0
}

/// Where an allocation was made, and whether wasm-bindgen's runtime made it for itself (the
/// free list of its externref table, which lives as long as the instance, like a global).
pub(super) fn site_and_runtime(caller: &Caller<'_, Host>, id: u64) -> (Site, bool) {
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
    let runtime_functions = &caller.data().facts.runtime_functions;
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
            runtime = runtime_functions.binary_search(&frame.func_index()).is_ok();
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
pub(super) fn student_file(file: &str, root: Option<&str>) -> Option<String> {
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
pub(super) fn is_student_function(name: &str) -> bool {
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
