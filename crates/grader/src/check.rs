//! The checks: pure functions from what was observed (a module's exports and imports, a
//! [`RunRecord`]) to verdicts with messages a student can act on.

use wasmtime::{ExternType, Module, ValType};

use crate::abi::{self, Signature};
use crate::heap::{Block, Misuse, Overflow, Site};
use crate::report::{CheckName, CheckResult, Failure, ScenarioReport, StepLine, Verdict, plural};
use crate::run::{Fault, Problem, RunRecord, value_type_name};
use crate::spec::{Exports, MemoryCheck, Scenario};

/// The module's imports: each must be one the guest crate reports through or a function the
/// glue defines (whatever a glue function reaches for is found when a step runs it).
pub(crate) fn imports(module: &Module, glue: &crate::js::Glue) -> CheckResult {
    let other = crate::run::unsupported_imports(module, glue);
    if other.is_empty() {
        return CheckResult::pass(CheckName::Imports);
    }
    let mut failure = Failure::new(
        Verdict::UnsupportedImport,
        format!(
            "your module needs {} that the grader does not provide",
            plural(other.len(), "import")
        ),
    )
    .hint(
        "a wasm-bindgen module imports only what its JavaScript glue defines: build the crate \
         for `wasm32-unknown-unknown` with wasm-bindgen, without `extern \"C\"` blocks of your \
         own outside `#[wasm_bindgen]`",
    );
    for i in &other {
        failure = failure.detail(format!("- {}", describe_import(i)));
    }
    if let Some(why) = glue.error() {
        failure = failure.detail(format!("the JavaScript glue could not be read: {why}"));
    }
    CheckResult::fail(CheckName::Imports, failure)
}

/// `__wbg_getElementById_7ee213db584f37b0` → `getElementById`.
fn js_name(import: &str) -> &str {
    let name = import.strip_prefix("__wbg_").unwrap_or(import);
    match name.rsplit_once('_') {
        Some((js, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => js,
        _ => name,
    }
}

fn describe_import(i: &crate::run::UnsupportedImport) -> String {
    if i.module.starts_with("./snippets/") {
        return format!(
            "`{}` from your own JavaScript (`#[wasm_bindgen(module = …)]` or `inline_js`), which \
             the glue could not load",
            js_name(&i.name)
        );
    }
    if i.name.starts_with("__wbg_") || i.name.starts_with("__wbindgen") {
        format!(
            "`{}` from `{}`: the JavaScript glue does not say what it does",
            js_name(&i.name),
            i.module
        )
    } else {
        format!("`{}` from module `{}`", i.name, i.module)
    }
}

/// Every declared export exists with the core signature its Rust signature lowers to.
pub(crate) fn exports(module: &Module, declared: &Exports, typescript: &str) -> CheckResult {
    let mut failures = Vec::new();
    let mut check_fn = |export: String, sig: &Signature, class: Option<&str>| {
        let mut ret = sig.ret.clone();
        if let Some(c) = class {
            ret.resolve_self(c);
        }
        let params = sig.core_params();
        let results = ret.results();
        let owner = class
            .map(|c| format!("`{c}::"))
            .unwrap_or_else(|| "`".into());
        match module.get_export(&export) {
            Some(ExternType::Func(ty)) => {
                let same = |a: &mut dyn ExactSizeIterator<Item = ValType>, b: &[ValType]| {
                    a.len() == b.len()
                        && a.zip(b)
                            .all(|(x, y)| value_type_name(&x) == value_type_name(y))
                };
                if !same(&mut ty.params(), &params) || !same(&mut ty.results(), &results) {
                    let js = ts_declaration(typescript, class, &sig.name)
                        .map(|d| format!("JavaScript sees yours as `{d}`"))
                        .unwrap_or_else(|| {
                            format!(
                                "in wasm yours takes ({}) and returns ({})",
                                names(ty.params()),
                                names(ty.results())
                            )
                        });
                    failures.push(
                        Failure::new(
                            Verdict::WrongSignature,
                            format!("{owner}{}` does not have the signature the exercise asks for", sig.name),
                        )
                        .detail(format!("expected `{}`", sig.text))
                        .detail(js)
                        .hint("check each parameter's type and the return type against the exercise statement"),
                    );
                }
            }
            _ => {
                let how = match class {
                    Some(c) => format!(
                        "add `pub {}` inside a `#[wasm_bindgen] impl {c}` block",
                        sig.text.trim_start_matches("pub ")
                    ),
                    None => format!(
                        "add `#[wasm_bindgen] pub {}`",
                        sig.text.trim_start_matches("pub ")
                    ),
                };
                failures.push(
                    Failure::new(
                        Verdict::MissingExport,
                        format!("your module has no export {owner}{}`", sig.name),
                    )
                    .hint(format!(
                        "{how}; an item must be `pub` and marked `#[wasm_bindgen]` to be exported"
                    )),
                );
            }
        }
    };
    for f in &declared.functions {
        check_fn(f.name.clone(), f, None);
    }
    // The structs the module does export, as wasm-bindgen names their `free` (lowercased).
    let exported: Vec<String> = module
        .exports()
        .filter_map(|e| {
            e.name()
                .strip_prefix("__wbg_")
                .and_then(|n| n.strip_suffix("_free"))
                .map(str::to_owned)
        })
        .collect();
    let mut missing_structs = Vec::new();
    for (class, s) in &declared.structs {
        if module.get_export(&abi::free_export(class)).is_none() {
            // Its methods cannot be there either: say it once, for the struct.
            missing_structs.push(class);
            continue;
        }
        for sig in s.constructor.iter().chain(&s.methods) {
            check_fn(abi::method_export(class, &sig.name), sig, Some(class));
        }
    }
    for class in missing_structs {
        let others: Vec<&String> = exported
            .iter()
            .filter(|e| {
                !declared
                    .structs
                    .keys()
                    .any(|d| d.eq_ignore_ascii_case(e.as_str()))
            })
            .collect();
        let mut f = Failure::new(
            Verdict::MissingExport,
            format!("your module does not export the struct `{class}`"),
        )
        .hint(format!(
            "mark it `#[wasm_bindgen] pub struct {class}` (the name must be exactly `{class}`), with its methods in a `#[wasm_bindgen] impl {class}` block"
        ));
        if !others.is_empty() {
            f = f.detail(format!(
                "the structs it does export: {} (wasm-bindgen lowercases the names in its exports)",
                others
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        failures.push(f);
    }
    match failures.into_iter().reduce(|mut first, other| {
        first.details.push(format!("also: {}", other.message));
        first
    }) {
        None => CheckResult::pass(CheckName::Exports),
        Some(f) => CheckResult::fail(CheckName::Exports, f),
    }
}

fn names(types: impl Iterator<Item = ValType>) -> String {
    types
        .map(|t| value_type_name(&t))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `.d.ts` line that declares `name` (in `class`, if given), without `export function`.
pub(crate) fn ts_declaration(ts: &str, class: Option<&str>, name: &str) -> Option<String> {
    let clean = |l: &str| l.trim().trim_end_matches(';').to_owned();
    match class {
        None => ts.lines().find_map(|l| {
            l.strip_prefix("export function ")
                .filter(|r| r.starts_with(&format!("{name}(")))
        }),
        Some(class) => {
            let body = ts
                .split(&format!("export class {class} {{"))
                .nth(1)?
                .split("\n}")
                .next()?;
            body.lines().map(str::trim).find(|l| {
                let l = l.strip_prefix("static ").unwrap_or(l);
                l.starts_with(&format!("{name}("))
                    || (name == "new" && l.starts_with("constructor("))
            })
        }
    }
    .map(clean)
}

/// The transcript of a run, for the report.
pub(crate) fn transcript(record: &RunRecord) -> Vec<StepLine> {
    record
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let faulted = record.fault.as_ref().is_some_and(|(at, _)| *at == Some(i))
                && !record.fault_expected;
            StepLine {
                text: s.text.clone(),
                result: s.result.as_ref().map(ToString::to_string),
                ok: s.problem.is_none() && !faulted,
            }
        })
        .collect()
}

fn step_ref(record: &RunRecord, i: usize) -> String {
    match record.steps.get(i) {
        Some(s) => format!("step {} (`{}`)", i + 1, s.text),
        None if i == record.steps.len() => {
            "the end of the scenario (when the host freed the objects it held)".into()
        }
        None => format!("step {}", i + 1),
    }
}

fn when(record: &RunRecord, step: Option<usize>) -> String {
    match step {
        Some(i) => step_ref(record, i),
        None => "setup".into(),
    }
}

/// Every check of one scenario run, in the order the report shows them.
pub(crate) fn scenario(scenario: &Scenario, record: &RunRecord) -> ScenarioReport {
    let mut checks = vec![behaviour(record)];
    let stopped = record.fault.is_some();
    for check in MemoryCheck::ALL {
        if !scenario.checks(check) {
            continue;
        }
        let needs_tracking = matches!(check, MemoryCheck::Leaks | MemoryCheck::Allocator);
        let result = if needs_tracking && !record.tracked {
            CheckResult::skipped(check.check(), "the module does not report its allocations")
        } else {
            match check {
                MemoryCheck::Allocator => allocator(record),
                MemoryCheck::Alignment => alignment(record),
                MemoryCheck::UseAfterFree => pointers(record),
                MemoryCheck::Growth => growth(record, scenario.max_growth_pages),
                MemoryCheck::Overflow => overflow(record),
                MemoryCheck::Leaks if stopped && record.leaked.is_none() => {
                    CheckResult::skipped(CheckName::Leaks, "the scenario stopped before its end")
                }
                MemoryCheck::Leaks => leaks(record),
            }
        };
        checks.push(result);
    }
    if let Some(max) = scenario.max_memory_pages {
        checks.push(peak_memory(record, max));
    }
    // The first thing that went wrong heads the report: a stale or freed view a step read from
    // comes before the wrong result it led to.
    if let Some(first) = record.steps.iter().find_map(|s| s.problem.as_ref()) {
        let owner = problem_check(first);
        if let Some(at) = checks
            .iter()
            .position(|c| c.check == owner && c.failure().is_some())
        {
            let check = checks.remove(at);
            checks.insert(0, check);
        }
    }
    let passed = checks.iter().all(CheckResult::passed);
    ScenarioReport {
        name: scenario.name.clone(),
        hidden: scenario.hidden,
        points: scenario.points,
        earned: if passed { scenario.points } else { 0.0 },
        steps: transcript(record),
        checks,
        logs: record.logs.clone(),
        logs_dropped: record.logs_dropped,
        seed: record.seed,
        fuel_used: record.fuel_used,
        pages_before: record.pages_before,
        pages_after: record.pages_after,
        memory: None,
    }
}

/// The check that reports a step's problem.
fn problem_check(problem: &Problem) -> CheckName {
    match problem {
        Problem::MisalignedView { .. } => CheckName::Alignment,
        Problem::UseAfterFree { .. }
        | Problem::StaleView { .. }
        | Problem::ViewOutOfBounds { .. }
        | Problem::ViewPastBlock { .. }
        | Problem::DanglingStack { .. } => CheckName::Pointers,
        Problem::WrongValue { .. }
        | Problem::MissingPanic { .. }
        | Problem::WrongPanic { .. }
        | Problem::ResultOutOfBounds { .. }
        | Problem::NotUtf8
        | Problem::Allocated { .. } => CheckName::Behaviour,
    }
}

/// What a wrong result made of the bytes the grader fills memory with says: the code read
/// memory it allocated and never wrote, or memory it had freed. Recognised as three bytes in a
/// row (two could be a coincidence), and as 32-bit words, unsigned and signed.
fn filler_hint(actual: &str) -> Option<String> {
    let shows = |byte: u8| {
        let word = u32::from_ne_bytes([byte; 4]);
        [
            format!("{byte}, {byte}, {byte}"),
            word.to_string(),
            (word as i32).to_string(),
        ]
        .iter()
        .any(|pattern| actual.contains(pattern.as_str()))
    };
    use course_guest::abi::{FREED_BYTE, FRESH_BYTE};
    if shows(FRESH_BYTE) {
        Some(format!(
            "{FRESH_BYTE} ({FRESH_BYTE:#X}) is what the grader fills new memory with until the program writes it: the result holds memory that was allocated but never written (`Vec::with_capacity` and `set_len`, say), which in a browser is whatever was there before"
        ))
    } else if shows(FREED_BYTE) {
        Some(format!(
            "{FREED_BYTE} ({FREED_BYTE:#X}) is what the grader fills freed memory with: the result was read from memory after it was freed"
        ))
    } else {
        None
    }
}

/// Results, expected panics, and any fault.
pub(crate) fn behaviour(record: &RunRecord) -> CheckResult {
    for (i, step) in record.steps.iter().enumerate() {
        let failure = match &step.problem {
            Some(Problem::WrongValue { expected, actual }) => {
                let failure = Failure::new(
                    Verdict::WrongResult,
                    match actual {
                        Some(a) => format!("`{}` gave {a}, expected {expected}", step.text),
                        None => format!("`{}` returned nothing, expected {expected}", step.text),
                    },
                );
                match actual.as_ref().and_then(|a| filler_hint(&a.to_string())) {
                    Some(hint) => failure.hint(hint),
                    None => failure,
                }
            }
            Some(Problem::MissingPanic { expected }) => Failure::new(
                Verdict::MissingPanic,
                format!("`{}` returned normally, but it should panic", step.text),
            )
            .hint(match expected {
                Some(m) => format!("the exercise expects a panic whose message contains {m:?}"),
                None => "check the input and `panic!` (or `assert!`) when it is invalid".into(),
            }),
            Some(Problem::WrongPanic { expected, actual }) => Failure::new(
                Verdict::WrongPanic,
                format!(
                    "`{}` panicked, but not with the expected message",
                    step.text
                ),
            )
            .detail(format!("expected a message containing {expected:?}"))
            .detail(format!(
                "got: {}",
                actual
                    .as_deref()
                    .map_or("(no message)", |m| split_panic(m).1)
            )),
            Some(Problem::ResultOutOfBounds { ptr, bytes }) => Failure::new(
                Verdict::ResultOutOfBounds,
                format!(
                    "`{}` returned {} at address {ptr}, which lie outside linear memory",
                    step.text,
                    plural(*bytes, "byte")
                ),
            ),
            Some(Problem::NotUtf8) => Failure::new(
                Verdict::WrongResult,
                format!("`{}` returned a string that is not UTF-8", step.text),
            ),
            Some(Problem::Allocated {
                allowed,
                count,
                bytes,
                first,
            }) => {
                let mut f = Failure::new(
                    Verdict::UnexpectedAllocation,
                    if *allowed == 0 {
                        format!(
                            "`{}` allocated {} ({}), but this call must not allocate",
                            step.text,
                            plural(*count, "block"),
                            plural(*bytes, "byte")
                        )
                    } else {
                        format!(
                            "`{}` allocated {} ({}); this call may allocate at most {}",
                            step.text,
                            plural(*count, "block"),
                            plural(*bytes, "byte"),
                            plural(*allowed, "block")
                        )
                    },
                )
                .hint("keep the buffers this call needs in the struct and reuse them (`clear()` keeps the capacity); avoid `Vec::new()`, `collect()`, `to_vec()`, `format!` and `clone()` on this path");
                if let Some(site) = site_text(&first.site) {
                    f = f.detail(format!(
                        "the first allocation over the budget: {} {site}",
                        plural(first.size, "byte")
                    ));
                }
                if let Some(loc) = &first.site.location {
                    return CheckResult::fail(CheckName::Behaviour, f.at(loc.clone()));
                }
                f
            }
            _ => continue,
        };
        return CheckResult::fail(CheckName::Behaviour, failure.at(step_ref(record, i)));
    }
    match &record.fault {
        Some(_) if record.fault_expected => CheckResult::pass(CheckName::Behaviour),
        Some((step, fault)) => {
            CheckResult::fail(CheckName::Behaviour, fault_failure(record, *step, fault))
        }
        None => CheckResult::pass(CheckName::Behaviour),
    }
}

/// A batch builds each submission as a member (`m/<id>/`) of one workspace, and rustc writes
/// panic locations relative to that workspace; the student knows the file as `src/…`.
fn student_path(location: &str) -> &str {
    location
        .strip_prefix("m/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| path)
        .filter(|path| path.starts_with("src/"))
        .unwrap_or(location)
}

fn fault_failure(record: &RunRecord, step: Option<usize>, fault: &Fault) -> Failure {
    let mut at = when(record, step);
    let (verdict, message, hint) = match fault {
        Fault::Panic(Some(message)) => {
            // The hook's message is "panicked at src/lib.rs:6:9:\nthe message".
            let (location, text) = split_panic(message);
            if let Some(location) = location {
                at = format!("{}, during {at}", student_path(location));
            }
            (Verdict::Panic, format!("your code panicked: {text}"), None)
        }
        Fault::Panic(None) => (
            Verdict::Panic,
            "your code panicked or aborted (wasm `unreachable`)".to_owned(),
            Some("an `unwrap()` on `None`/`Err`, an index out of range or an overflow in a debug build all end here".to_owned()),
        ),
        Fault::OutOfFuel => (
            Verdict::TooSlow,
            "ran out of its instruction budget: it is too slow, or it never ends".to_owned(),
            Some("look for a loop whose condition never changes, or work repeated inside a loop".to_owned()),
        ),
        Fault::WallTimeout => (
            Verdict::Timeout,
            "did not finish within the time limit".to_owned(),
            Some("look for a loop that never ends".to_owned()),
        ),
        Fault::OutOfMemory { pages, requested } => (
            Verdict::OutOfMemory,
            format!(
                "ran out of memory: it asked to grow linear memory from {pages} to {requested} pages ({} MiB), past the limit",
                requested * 64 / 1024
            ),
            Some("allocate what the data needs, not more: check sizes passed to `Vec::with_capacity` or `vec![0; n]`".to_owned()),
        ),
        Fault::StackOverflow => (
            Verdict::StackOverflow,
            "overflowed the call stack".to_owned(),
            Some("a recursive function needs a base case that every call reaches; or make it a loop".to_owned()),
        ),
        Fault::OutOfBounds => (
            Verdict::OutOfBounds,
            "accessed memory outside linear memory (an out-of-bounds load or store traps)".to_owned(),
            Some("a raw pointer or an offset computed by hand points past the end of memory".to_owned()),
        ),
        Fault::Thrown(message) => (Verdict::Thrown, format!("threw a JavaScript error: {message}"), None),
        Fault::NeedsBrowser { global, then } => {
            let what = fault_failure(record, step, then);
            (
                Verdict::NeedsBrowser,
                format!(
                    "reached for `{global}`, which only a browser has, and then {}",
                    what.message.strip_prefix("your code ").unwrap_or(&what.message)
                ),
                Some(
                    "the grader runs your module on a page without a window: no DOM, canvas, \
                     timers, `fetch` or `crypto`. Keep browser-only code out of the functions this \
                     exercise grades (in the page's JavaScript, or behind a function the tests do \
                     not call); `console`, `Date`, `performance.now`, `Math.random`, `alert`, \
                     promises and js-sys's standard objects all work"
                        .to_owned(),
                ),
            )
        }
        Fault::Trap(message) => (Verdict::Trap, format!("stopped with a trap: {message}"), None),
    };
    let mut f = Failure::new(verdict, message).at(at);
    if let Some(h) = hint {
        f = f.hint(h);
    }
    f
}

/// Splits a panic hook message into its location and its text.
pub(crate) fn split_panic(message: &str) -> (Option<&str>, &str) {
    match message
        .strip_prefix("panicked at ")
        .and_then(|r| r.split_once(":\n"))
    {
        Some((location, text)) => (Some(location), text),
        None => (None, message),
    }
}

fn site_text(site: &Site) -> Option<String> {
    match (&site.function, &site.location) {
        (Some(f), Some(l)) => Some(format!("{l} in `{f}`")),
        (Some(f), None) => Some(format!("in `{f}`")),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    }
}

pub(crate) fn allocator(record: &RunRecord) -> CheckResult {
    let Some(event) = record.misuse.first() else {
        return CheckResult::pass(CheckName::Allocator);
    };
    let mut f = match &event.misuse {
        Misuse::DoubleFree { ptr, size, first_freed_step } => Failure::new(
            Verdict::DoubleFree,
            format!("freed the {size}-byte block at {ptr:#x} twice (first freed during {})", when(record, *first_freed_step)),
        )
        .hint("each allocation is freed exactly once: after `Vec::from_raw_parts` or `Box::from_raw` takes ownership, nothing else may free it"),
        Misuse::UnknownFree { ptr, size } => Failure::new(
            Verdict::UnknownFree,
            format!("freed {size} bytes at {ptr:#x}, which the allocator never handed out"),
        )
        .hint("only free a pointer exactly as the allocator returned it, with the same layout"),
        Misuse::ZeroSize { ptr, align } => Failure::new(
            Verdict::ZeroSizeAllocation,
            format!("asked the allocator for 0 bytes (aligned to {align}); it returned {ptr:#x}"),
        )
        .hint("`GlobalAlloc::alloc` with a zero-size layout is undefined behaviour: for an empty buffer use a dangling pointer (`NonNull::dangling()`, as `Vec::new()` does) and never allocate or free it"),
        Misuse::LayoutMismatch { ptr, allocated, freed } => Failure::new(
            Verdict::LayoutMismatch,
            format!(
                "freed the block at {ptr:#x} as {} bytes aligned to {}, but it was allocated as {} bytes aligned to {}",
                freed.0, freed.1, allocated.0, allocated.1
            ),
        )
        .hint(layout_hint(*allocated, *freed)),
    };
    f = f.at(when(record, event.step));
    if let Some(site) = site_text(&event.site) {
        f = f.detail(format!("freed {site}"));
    }
    if record.misuse.len() > 1 {
        f = f.detail(format!(
            "and {} more misuse of the allocator",
            record.misuse.len() - 1
        ));
    }
    CheckResult::fail(CheckName::Allocator, f)
}

/// What to fix when a block is freed with another layout than it was allocated with.
fn layout_hint(allocated: (u32, u32), freed: (u32, u32)) -> &'static str {
    if allocated.1 != freed.1 {
        "free with the alignment the block was allocated with: the same type, or the same `Layout::from_size_align(size, align)`"
    } else if freed.0 < allocated.0 {
        "rebuild a `Vec` with its original capacity (`Vec::from_raw_parts(ptr, len, capacity)`), not its length; a boxed slice must keep its length"
    } else {
        "free the size that was allocated: a `Vec` rebuilt with `from_raw_parts` needs the capacity it had, not a larger one, and a `Layout` must match the one `alloc` got"
    }
}

pub(crate) fn alignment(record: &RunRecord) -> CheckResult {
    for (i, step) in record.steps.iter().enumerate() {
        if let Some(Problem::MisalignedView { ptr, elem }) = &step.problem {
            return CheckResult::fail(CheckName::Alignment,
                Failure::new(
                    Verdict::MisalignedView,
                    format!(
                        "address {ptr} ({ptr:#x}) is not a multiple of {}, so JavaScript cannot make a `{}` there (it throws a RangeError)",
                        elem.size(),
                        elem.js_array()
                    ),
                )
                .at(step_ref(record, i))
                .hint(format!(
                    "keep the data in a `Vec<{}>` (its pointer is always aligned) and offset it in elements, not bytes (`self.data[i..].as_ptr()`); check with `ptr as usize % {} == 0`",
                    elem.rust_name(),
                    elem.size()
                )),
            );
        }
    }
    if let Some(m) = record.misaligned.first() {
        return CheckResult::fail(
            CheckName::Alignment,
            Failure::new(
                Verdict::MisalignedAllocation,
                format!(
                    "an allocation of {} asked for alignment {} but got address {:#x}",
                    plural(m.size, "byte"),
                    m.align,
                    m.ptr
                ),
            )
            .hint(
                "a custom allocator must return addresses that are multiples of `layout.align()`",
            ),
        );
    }
    CheckResult::pass(CheckName::Alignment)
}

/// Host accesses through pointers and views: use-after-free, stale views, out-of-bounds views.
pub(crate) fn pointers(record: &RunRecord) -> CheckResult {
    for (i, step) in record.steps.iter().enumerate() {
        let f = match &step.problem {
            Some(Problem::UseAfterFree { view, ptr, made_in, freed_in }) => Failure::new(
                Verdict::UseAfterFree,
                if *made_in == i {
                    format!(
                        "view `{view}` starts at {ptr:#x}, in memory that was already freed{}",
                        freed_in.map(|s| format!(" during {}", step_ref(record, s))).unwrap_or_default(),
                    )
                } else {
                    format!(
                        "view `{view}` reads memory at {ptr:#x} that was freed{} after the view was made in {}",
                        freed_in.map(|s| format!(" during {}", step_ref(record, s))).unwrap_or_default(),
                        step_ref(record, *made_in)
                    )
                },
            )
            .hint("the buffer moved or was dropped: when a `Vec` grows past its capacity it reallocates, and assigning a new `Vec` to a field (`self.cells = next`) drops the old one; either way every pointer to the old buffer dangles. Reserve the capacity up front and update buffers in place, or hand out a fresh pointer after each change"),
            Some(Problem::StaleView { view, made_in, grew_in }) => Failure::new(
                Verdict::StaleView,
                format!(
                    "view `{view}` was made in {}, but memory grew during {}, which detaches every view made before",
                    step_ref(record, *made_in),
                    step_ref(record, *grew_in)
                ),
            )
            .hint("this call must not grow memory: allocate what it needs once, up front, so a view JavaScript keeps stays valid"),
            Some(Problem::ViewPastBlock { view, ptr, bytes, block }) => Failure::new(
                Verdict::ViewOutOfBounds,
                if *ptr < block.ptr {
                    format!(
                        "view `{view}` covers {bytes} bytes from {ptr:#x}: it starts {} before the {}-byte block at {:#x} (allocated {}) and runs into it",
                        plural(block.ptr - ptr, "byte"),
                        block.size,
                        block.ptr,
                        describe_block(record, block),
                    )
                } else {
                    let end = u64::from(block.ptr) + u64::from(block.size);
                    format!(
                        "view `{view}` covers {bytes} bytes from {ptr:#x}, {} past the end of the {}-byte block it starts in (at {:#x}, allocated {})",
                        plural(u64::from(*ptr) + bytes - end, "byte"),
                        block.size,
                        block.ptr,
                        describe_block(record, block),
                    )
                },
            )
            .hint("a view must lie inside one allocation: return the pointer and the length of the same buffer (`v.as_ptr()`, `v.len()`), and count the length in elements, not bytes"),
            Some(Problem::DanglingStack { view, ptr }) => Failure::new(
                Verdict::DanglingStackPointer,
                match view {
                    Some(view) => format!("view `{view}` at {ptr:#x} points into the stack, into a frame that has already returned"),
                    None => format!("`{}` returned {ptr:#x}, a pointer into its own stack frame, which is gone once it returns", step.text),
                },
            )
            .hint("a local array or variable lives only until its function returns: keep the data in a `Vec` or a `Box` the caller owns (or in the struct), and return a pointer into that"),
            Some(Problem::ViewOutOfBounds { ptr, bytes, memory }) => Failure::new(
                Verdict::ViewOutOfBounds,
                format!("a view of {bytes} bytes at {ptr:#x} reaches past the end of memory ({memory} bytes)"),
            )
            .hint("the pointer or length you return does not describe your buffer: return `vec.as_ptr()` and `vec.len()`"),
            _ => continue,
        };
        return CheckResult::fail(CheckName::Pointers, f.at(step_ref(record, i)));
    }
    CheckResult::pass(CheckName::Pointers)
}

pub(crate) fn growth(record: &RunRecord, budget: Option<u32>) -> CheckResult {
    // From the memory the module declares: what setup grew counts too, the host's own
    // `grow` steps do not.
    let grown = record
        .pages_after
        .saturating_sub(record.pages_before)
        .saturating_sub(record.growth.host_pages);
    // The grader's red zones and alignment padding are not the student's: when they came to a
    // page or more at their peak (a program with thousands of small blocks), the pages they
    // may have taken are allowed on top of the budget. Less than a page is not forgiven, so an
    // ordinary program's budget stays exactly what the exercise says.
    let padding = record.grader_padding;
    let padding_pages = if padding >= crate::memmap::PAGE {
        padding.div_ceil(crate::memmap::PAGE)
    } else {
        0
    };
    if let Some((pages, requested)) = record.growth.denied
        && !matches!(record.fault, Some((_, Fault::OutOfMemory { .. })))
    {
        return CheckResult::fail(CheckName::Growth,
            Failure::new(
                Verdict::OutOfMemory,
                format!("tried to grow memory from {pages} to {requested} pages, past the limit; the growth was refused"),
            )
            .hint("`memory.grow` returns -1 when it fails: ask for the pages the data needs"),
        );
    }
    match budget {
        Some(max) if grown > u64::from(max) + padding_pages => CheckResult::fail(CheckName::Growth,
            Failure::new(
                Verdict::GrowthOverBudget,
                format!(
                    "memory grew by {} ({} KiB) during this scenario; the budget is {} ({} KiB)",
                    plural(grown as usize, "page"),
                    grown * 64,
                    plural(max as usize, "page"),
                    u64::from(max) * 64
                ),
            )
            .detail(format!("pages before: {}, after: {}", record.pages_before, record.pages_after))
            .hint("one page is 65,536 bytes: work out how many bytes the data needs and allocate that once, instead of growing or copying repeatedly"),
        ),
        _ => CheckResult::pass(CheckName::Growth),
    }
}

/// Linear memory's peak over the scenario against `max_memory_pages`: what the module declares
/// and what it grew, without the pages the host grew itself. Memory never shrinks, so the
/// peak is its size at the end.
pub(crate) fn peak_memory(record: &RunRecord, max: u32) -> CheckResult {
    let peak = record.pages_after.saturating_sub(record.growth.host_pages);
    if peak <= u64::from(max) {
        return CheckResult::pass(CheckName::PeakMemory);
    }
    CheckResult::fail(
        CheckName::PeakMemory,
        Failure::new(
            Verdict::MemoryOverBudget,
            format!(
                "linear memory reached {} ({} KiB) during this scenario; the budget is {} ({} KiB)",
                plural(peak, "page"),
                peak * 64,
                plural(max, "page"),
                u64::from(max) * 64
            ),
        )
        .detail(format!(
            "the module declares {} and grew {} more",
            plural(record.pages_before, "page"),
            plural(peak.saturating_sub(record.pages_before), "page")
        ))
        .hint("memory never shrinks: its peak is the most the program ever held at once, plus the stack and static data; keep fewer or smaller buffers alive together, and reuse one instead of building a new one"),
    )
}

/// The module's size against the exercise's budget: raw and gzipped, as [`crate::size`]
/// counts them. A module that cannot be read is `not-run`, never a pass.
pub(crate) fn module_size(
    breakdown: Option<&crate::size::Breakdown>,
    budget: &crate::spec::ModuleBudget,
) -> CheckResult {
    use crate::size::kib;
    let Some(b) = breakdown else {
        return CheckResult::skipped(
            CheckName::ModuleSize,
            "the module's sections could not be read",
        );
    };
    let over: Vec<String> = [
        ("", budget.max_module_bytes, b.bytes),
        (" gzipped", budget.max_module_gzip_bytes, b.gzip_bytes),
    ]
    .into_iter()
    .filter_map(|(what, max, got)| {
        let max = max?;
        (got > max).then(|| format!("{}{what} (the budget is {})", kib(got), kib(max)))
    })
    .collect();
    if over.is_empty() {
        return CheckResult::pass(CheckName::ModuleSize);
    }
    let mut failure = Failure::new(
        Verdict::ModuleOverBudget,
        format!("the module is {}", over.join(" and ")),
    );
    for line in b.lines(8) {
        failure = failure.detail(line);
    }
    CheckResult::fail(
        CheckName::ModuleSize,
        failure.hint("`cargo xtask size` lists what is largest: parsing or formatting an `f64`, `{:?}` on your own types and `to_lowercase` bring code and tables of data, and every `unwrap`, `expect` and `panic!` message a panicking path with its text; return a number or a fixed `&str`, use `checked_*`, `get` and `match`, and write generic code once for the one type it needs"),
    )
}

pub(crate) fn leaks(record: &RunRecord) -> CheckResult {
    let Some(leaked) = &record.leaked else {
        return CheckResult::skipped(CheckName::Leaks, "the scenario stopped early");
    };
    // A block whose free was refused (freed with the wrong layout) is reported by the
    // allocator check, not again as a leak.
    let refused: Vec<u32> = record
        .misuse
        .iter()
        .filter_map(|m| match m.misuse {
            Misuse::LayoutMismatch { ptr, .. } => Some(ptr),
            _ => None,
        })
        .collect();
    let leaked: Vec<&Block> = leaked
        .iter()
        .filter(|b| !refused.contains(&b.ptr))
        .collect();
    if leaked.is_empty() && !record.untracked.is_empty() {
        let bytes: u64 = record.untracked.iter().map(|c| u64::from(c.usable)).sum();
        let mut f = Failure::new(
            Verdict::Leak,
            format!(
                "{} (about {}) taken from the allocator directly, around the global allocator, {} never freed",
                plural(record.untracked.len(), "block"),
                plural(bytes, "byte"),
                if record.untracked.len() == 1 { "was" } else { "were" }
            ),
        )
        .hint("memory from `std::alloc::System` (or any allocator called directly) is yours to free with the same allocator and layout; prefer `Vec`, `Box` and the global allocator, which free on drop");
        for c in record.untracked.iter().take(5) {
            f = f.detail(format!(
                "- a block at {:#x} ({} usable)",
                c.mem,
                plural(c.usable, "byte")
            ));
        }
        return CheckResult::fail(CheckName::Leaks, f);
    }
    if leaked.is_empty() {
        if let Some(why) = &record.heap_unreadable {
            return CheckResult::skipped(
                CheckName::Leaks,
                format!("memory taken around the global allocator could not be counted: {why}"),
            );
        }
        return CheckResult::pass(CheckName::Leaks);
    }
    let bytes: u64 = leaked.iter().map(|b| u64::from(b.size)).sum();
    let mut f = Failure::new(
        Verdict::Leak,
        format!(
            "{} ({}) made during the scenario {} never freed, even after every object was freed",
            plural(leaked.len(), "allocation"),
            plural(bytes, "byte"),
            if leaked.len() == 1 { "was" } else { "were" }
        ),
    )
    .hint("memory is freed when its owner is dropped: avoid `mem::forget` and `Box::leak`, return owned values (`Vec<T>`) so the caller frees them, and keep buffers inside the struct that JavaScript frees");
    let mut grouped: Vec<(String, usize, u64)> = Vec::new();
    for b in &leaked {
        let key = describe_block(record, b);
        match grouped.iter_mut().find(|(k, _, _)| *k == key) {
            Some(g) => {
                g.1 += 1;
                g.2 += u64::from(b.size);
            }
            None => grouped.push((key, 1, u64::from(b.size))),
        }
    }
    if let Some(loc) = leaked.iter().find_map(|b| b.site.location.clone()) {
        f = f.at(loc);
    }
    const SHOWN: usize = 5;
    for (key, count, bytes) in grouped.iter().take(SHOWN) {
        f = f.detail(format!(
            "- {} of {} allocated {key}",
            plural(*count, "block"),
            plural(*bytes, "byte")
        ));
    }
    if grouped.len() > SHOWN {
        f = f.detail(format!("- … and {} more places", grouped.len() - SHOWN));
    }
    CheckResult::fail(CheckName::Leaks, f)
}

/// Red zones: a write past the end (or before the start) of a block.
pub(crate) fn overflow(record: &RunRecord) -> CheckResult {
    let Some(Overflow {
        block,
        offset,
        found_in,
        on_free,
    }) = record.overflows.first()
    else {
        return CheckResult::pass(CheckName::Overflow);
    };
    let place = if *offset >= i64::from(block.size) {
        let past = *offset - i64::from(block.size);
        if past == 0 {
            "the byte just past its end".to_owned()
        } else {
            format!("{} past its end", plural(past as u64 + 1, "byte"))
        }
    } else {
        format!("{} before its start", plural(offset.unsigned_abs(), "byte"))
    };
    let found = if *on_free {
        format!(
            "found when it was freed, during {}",
            when(record, *found_in)
        )
    } else {
        "found at the end of the scenario".to_owned()
    };
    let mut f = Failure::new(
        Verdict::HeapOverflow,
        format!(
            "wrote outside the {}-byte block at {:#x}: {place} was changed ({found})",
            block.size, block.ptr
        ),
    )
    .detail(format!("the block was allocated {}", describe_block(record, block)))
    .hint("a write through a raw pointer or `set_len` went past the buffer's capacity: index in elements up to `len` (not bytes, not `len + 1`), and reserve before writing past the end");
    if let Some(loc) = &block.site.location {
        f = f.at(loc.clone());
    }
    if record.overflows.len() > 1 {
        f = f.detail(format!(
            "and {} more",
            plural(record.overflows.len() - 1, "damaged block")
        ));
    }
    CheckResult::fail(CheckName::Overflow, f)
}

fn describe_block(record: &RunRecord, b: &Block) -> String {
    let site = site_text(&b.site).unwrap_or_else(|| "(site unknown)".into());
    format!("{site}, during {}", when(record, b.step))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "export class Buffer {\n  free(): void;\n  constructor(size: number);\n  ptr(): number;\n  static with(size: number): Buffer;\n}\n\nexport function process(data: Uint8Array | number[]): Uint8Array;\n";

    #[test]
    fn finds_typescript_declarations() {
        assert_eq!(
            ts_declaration(TS, None, "process").as_deref(),
            Some("process(data: Uint8Array | number[]): Uint8Array")
        );
        assert_eq!(
            ts_declaration(TS, Some("Buffer"), "new").as_deref(),
            Some("constructor(size: number)")
        );
        assert_eq!(
            ts_declaration(TS, Some("Buffer"), "with").as_deref(),
            Some("static with(size: number): Buffer")
        );
        assert_eq!(ts_declaration(TS, None, "proc"), None);
    }

    #[test]
    fn results_made_of_filler_bytes_are_explained() {
        assert!(
            filler_hint("[205, 205, 205, 205]")
                .unwrap()
                .contains("never written")
        );
        assert!(filler_hint("3452816845").unwrap().contains("never written"));
        assert!(
            filler_hint("-572662307")
                .unwrap()
                .contains("after it was freed")
        );
        assert!(
            filler_hint("[7, 221, 221, 221]")
                .unwrap()
                .contains("after it was freed")
        );
        assert_eq!(filler_hint("[205, 205, 0, 221]"), None);
        assert_eq!(filler_hint("1020"), None);
    }

    #[test]
    fn panic_locations_read_as_the_students_files() {
        assert_eq!(
            student_path("m/sadb26d329465b0ae/src/lib.rs:24:19"),
            "src/lib.rs:24:19"
        );
        assert_eq!(student_path("src/grid.rs:3:1"), "src/grid.rs:3:1");
        let std = "/rustc/59807616e/library/core/src/num/mod.rs:1:1";
        assert_eq!(student_path(std), std);
    }

    #[test]
    fn imports_are_named_as_javascript_functions() {
        let import = |module: &str, name: &str| crate::run::UnsupportedImport {
            module: module.into(),
            name: name.into(),
            browser: None,
        };
        assert_eq!(
            js_name("__wbg_getElementById_7ee213db584f37b0"),
            "getElementById"
        );
        assert_eq!(js_name("__wbg_log_short"), "log_short");
        assert!(
            describe_import(&import("./submission_bg.js", "__wbg_log_1a2b3c4d5e6f7a8b"))
                .starts_with("`log` from `./submission_bg.js`")
        );
        assert_eq!(
            describe_import(&import("env", "getrandom")),
            "`getrandom` from module `env`"
        );
        assert!(
            describe_import(&import(
                "./snippets/submission-1a2b/inline0.js",
                "__wbg_draw_1a2b3c4d5e6f7a8b"
            ))
            .starts_with("`draw` from your own JavaScript")
        );
    }
}
