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

use crate::abi::{self, Elem, Int, Receiver, Ty};
use crate::dlmalloc::{self, Chunk};
use crate::engine::{Detail, Growth, Limiter, Sandbox};
use crate::heap::{Block, MisalignedAlloc, MisuseEvent, Overflow, Region, ShadowHeap, Site};
use crate::js;
use crate::spec::{Call, Expect, Exports, Scenario, Step, Value};

mod host;
mod page;
mod record;
mod script;
mod sites;
mod steps;
mod values;

pub use host::{EPOCH_MS, FUEL_PER_MS, UnsupportedImport, epoch_ms, unsupported_imports};
pub use record::*;
pub(crate) use sites::clean_name;

use host::*;
use page::{Page, Thrown, TrapAgain};
use sites::*;
use steps::*;
use values::*;

/// How the imports the glue defines run: the glue itself, and the seed for `Math.random`.
#[derive(Debug, Clone, Copy)]
pub struct Shims<'a> {
    pub glue: &'a js::Glue,
    pub seed: u64,
}

/// What the grader read from the module before running it.
#[derive(Debug, Clone, Default)]
pub struct ModuleFacts {
    /// The functions of wasm-bindgen's runtime whose allocations live as long as the instance
    /// (sorted): never the student's leak.
    pub runtime_functions: Vec<u32>,
    /// The shadow stack, `[low, high)`: after a call returns, nothing there is the caller's.
    pub stack: Option<(u32, u32)>,
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
        },
        page: page::PageState::default(),
    };
    let mut store = sandbox.store(detail, scenario.fuel, host, limiter);
    let mut record = RunRecord::default();
    let lockdown = scenario.script.is_some();
    let mut runner = match Runner::instantiate(&mut store, module, shims.glue, lockdown) {
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
    if let Some(source) = &scenario.script {
        match runner.page.take() {
            Some(page) => {
                let outcome = script::run_script(&page, &mut runner, &mut store, exports, source);
                runner.page = Some(page);
                let outcome = outcome?;
                record.steps = outcome.steps;
                if let Some((at, fault)) = outcome.fault {
                    record.fault = Some((Some(at), browser_fault(&mut store, fault)));
                }
            }
            None => {
                record.fault = Some((
                    None,
                    Fault::Trap(
                        "a scenario written in JavaScript needs a module built with wasm-bindgen"
                            .into(),
                    ),
                ));
            }
        }
    } else {
        let mut pages_seen = runner.pages(&store);
        for (i, step) in scenario.steps.iter().enumerate() {
            store.data_mut().step = Some(i);
            store.data_mut().page.probed = None;
            let mut taken = runner.step(&mut store, exports, step, i)?;
            if let (Taken::Ok(record) | Taken::Stop(record), Some(page)) = (&taken, &runner.page)
                && let Err(fault) = page.drain(&mut store)
            {
                taken = Taken::Fault(record.text.clone(), fault);
            }
            if let Taken::Fault(text, fault) = &taken {
                let expected_panic = matches!(
                    (step, fault),
                    (Step::Call(c) | Step::New(c), Fault::Panic(_)) if matches!(c.expect, Expect::Panic(_))
                );
                if !expected_panic {
                    taken = Taken::Fault(text.clone(), browser_fault(&mut store, fault.clone()));
                }
            }
            match taken {
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
    }
    // What happens from here on happens after the last step: its index is one past the steps
    // the run took.
    let after_steps = record.steps.len();
    store.data_mut().step = Some(after_steps);
    if record.fault.is_none() {
        // The host frees what it still owns, as JavaScript's `free()` (or its finalizer) would.
        let owned: Vec<(String, u32)> = runner
            .objects
            .values()
            .map(|o| (o.class.clone(), o.handle))
            .collect();
        for (class, handle) in owned {
            if let Err(fault) = runner.free_object(&mut store, &class, handle) {
                record.fault = Some((Some(after_steps), fault));
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
    let reconcile = std::time::Instant::now();
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
    record.reconcile = reconcile.elapsed();
    finish(&mut record, &mut store, scenario.fuel, Some(&runner));
    record.leaked = leaked;
    Ok(record)
}

/// A fault after the step read a global only a browser has: the step needs a browser.
fn browser_fault(store: &mut Store<Host>, fault: Fault) -> Fault {
    if matches!(fault, Fault::OutOfFuel | Fault::WallTimeout) {
        return fault;
    }
    match store.data_mut().page.probed.take() {
        Some(global) => Fault::NeedsBrowser {
            global,
            then: Box::new(fault),
        },
        None => fault,
    }
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
    record.grader_padding = host.heap.peak_padding;
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
    fn the_clock_starts_in_2025_at_a_moment_the_seed_decides() {
        let year_end = EPOCH_MS + 365.0 * 24.0 * 60.0 * 60.0 * 1000.0;
        let starts: Vec<f64> = (0..100).map(epoch_ms).collect();
        for (seed, start) in starts.iter().enumerate() {
            assert!((EPOCH_MS..year_end).contains(start), "{seed}: {start}");
            assert_eq!(start.fract(), 0.0, "{seed}: {start}");
            assert_eq!(*start, epoch_ms(seed as u64));
        }
        let mut distinct = starts.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), starts.len());
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
