//! Scenarios written in JavaScript: their script run on the page, and the host side of the
//! `t` the page script builds (steps, results, problems, and views and reads taken as the TOML
//! steps are).

use std::cell::RefCell;

use rquickjs::{Array, Ctx, Exception, Function, Object, Value};

use super::page::{Page, enter, fault_of, settle, state, throw_uncatchable, with_store};
use super::*;

impl Page {
    /// Evaluates a scenario written in JavaScript: the body of an `async` function of `mod`
    /// (the glue's exports) and `t` (the page's scenario API), then runs promise jobs until it
    /// settles.
    pub(super) fn script(&self, store: &mut Store<Host>, source: &str) -> Result<(), Fault> {
        let started = self.context().with(|ctx| {
            let called = {
                let _entered = enter(store);
                start_script(&ctx, source)
            };
            called.map_err(|e| settle(&ctx, store, e))
        });
        started?;
        self.drain(store)?;
        self.context().with(|ctx| {
            let outcome = (|| -> rquickjs::Result<Result<(), Value>> {
                let promise: rquickjs::Promise = state(&ctx)?.get("scenario")?;
                match promise.state() {
                    rquickjs::promise::PromiseState::Rejected => {
                        Ok(Err(match promise.result::<Value>() {
                            Some(Err(rquickjs::Error::Exception)) => ctx.catch(),
                            _ => Value::new_undefined(ctx.clone()),
                        }))
                    }
                    rquickjs::promise::PromiseState::Pending => Err(Exception::throw_message(
                        &ctx,
                        "the scenario never finished: a promise it awaits never settles",
                    )),
                    rquickjs::promise::PromiseState::Resolved => Ok(Ok(())),
                }
            })();
            match outcome {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(fault_of(&ctx, store, e)),
                Err(e) => Err(settle(&ctx, store, e)),
            }
        })
    }
}

fn start_script<'js>(ctx: &Ctx<'js>, source: &str) -> rquickjs::Result<()> {
    let state = state(ctx)?;
    let glue: Object = state.get("glue")?;
    let page: Object = state.get("page")?;
    let make_t: Function = page.get("scenario")?;
    let t: Value = make_t.call(())?;
    let body: Function =
        ctx.eval_with_options(format!("(async function (mod, t) {{\n{source}\n}})"), {
            let mut options = rquickjs::context::EvalOptions::default();
            options.filename = Some("scenario.js".into());
            options.strict = true;
            options
        })?;
    let promise: Value = body.call((glue, t))?;
    state.set("scenario", promise)
}

/// A scenario written in JavaScript, while it runs: the runner and the store its views and
/// reads go through (the same steps a TOML scenario takes), and the steps recorded so far.
struct ScriptRun {
    runner: *mut Runner,
    store: *mut Store<Host>,
    exports: *const Exports,
    steps: Vec<StepRecord>,
    /// The step `t.step` is in, if any.
    current: Option<usize>,
    /// The step an exception escaped from, if one did.
    faulted: Option<usize>,
    /// A view that went wrong ended the scenario (as `Taken::Stop` does).
    stopped: bool,
    error: Option<ScenarioError>,
}

thread_local! {
    static SCRIPT: RefCell<Option<ScriptRun>> = const { RefCell::new(None) };
}

/// What a scenario in JavaScript did: its steps, and the fault that ended it and in which step.
pub(super) struct ScriptOutcome {
    pub(super) steps: Vec<StepRecord>,
    pub(super) fault: Option<(usize, Fault)>,
}

/// Runs a scenario written in JavaScript on `page`.
pub(super) fn run_script(
    page: &Page,
    runner: &mut Runner,
    store: &mut Store<Host>,
    exports: &Exports,
    source: &str,
) -> Result<ScriptOutcome, ScenarioError> {
    SCRIPT.with(|s| {
        *s.borrow_mut() = Some(ScriptRun {
            runner,
            store,
            exports,
            steps: Vec::new(),
            current: None,
            faulted: None,
            stopped: false,
            error: None,
        })
    });
    let result = page.script(store, source);
    let run = SCRIPT
        .with(|s| s.borrow_mut().take())
        .expect("the script run is still there");
    if let Some(error) = run.error {
        return Err(error);
    }
    let mut steps = run.steps;
    let fault = match result {
        Ok(()) => None,
        Err(_) if run.stopped => None,
        Err(fault) => {
            let at = match run.faulted.or(run.current) {
                Some(i) => i,
                None => {
                    steps.push(StepRecord {
                        text: "(the scenario's code between steps)".into(),
                        result: None,
                        problem: None,
                    });
                    steps.len() - 1
                }
            };
            Some((at, fault))
        }
    };
    Ok(ScriptOutcome { steps, fault })
}

fn with_script<'js, R>(
    ctx: &Ctx<'js>,
    f: impl FnOnce(&mut ScriptRun) -> rquickjs::Result<R>,
) -> rquickjs::Result<R> {
    SCRIPT.with(|s| match s.borrow_mut().as_mut() {
        Some(run) => f(run),
        None => Err(Exception::throw_type(
            ctx,
            "`t` is only for a scenario while it runs",
        )),
    })
}

/// A value of the page as a report shows it (`plain` has made it numbers, strings, booleans
/// and lists).
fn to_value(v: &Value<'_>) -> crate::spec::Value {
    use crate::spec::Value as V;
    if let Some(b) = v.as_bool() {
        V::Bool(b)
    } else if let Some(n) = v.as_int() {
        V::Int(i64::from(n))
    } else if let Some(f) = v.as_float() {
        if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            V::Int(f as i64)
        } else {
            V::Float(f)
        }
    } else if let Some(s) = v.as_string() {
        V::Str(s.to_string().unwrap_or_default())
    } else if let Some(a) = v.as_array() {
        V::List(a.iter::<Value>().flatten().map(|x| to_value(&x)).collect())
    } else if v.is_null() {
        V::Str("null".into())
    } else {
        V::Str("undefined".into())
    }
}

/// A report's value as JavaScript sees it.
fn from_value<'js>(ctx: &Ctx<'js>, v: &crate::spec::Value) -> rquickjs::Result<Value<'js>> {
    use crate::spec::Value as V;
    Ok(match v {
        V::Bool(b) => Value::new_bool(ctx.clone(), *b),
        V::Int(i) => Value::new_number(ctx.clone(), *i as f64),
        V::Float(f) => Value::new_float(ctx.clone(), *f),
        V::Str(s) | V::Object(s) => rquickjs::String::from_str(ctx.clone(), s)?.into_value(),
        V::List(items) => {
            let a = Array::new(ctx.clone())?;
            for (i, x) in items.iter().enumerate() {
                a.set(i, from_value(ctx, x)?)?;
            }
            a.into_value()
        }
    })
}

/// Takes one TOML step (a view or a read) for a scenario in JavaScript.
fn script_step<'js>(ctx: &Ctx<'js>, step: Step) -> rquickjs::Result<StepRecord> {
    let taken = with_script(ctx, |run| {
        let index = run.steps.len();
        // SAFETY: `run_script` holds these borrows for as long as the script runs, and uses
        // none of them while it does.
        let (runner, store, exports) =
            unsafe { (&mut *run.runner, &mut *run.store, &*run.exports) };
        store.data_mut().step = Some(index);
        Ok(runner.step(store, exports, &step, index))
    })?;
    match taken {
        Ok(Taken::Ok(record)) => Ok(record),
        Ok(Taken::Stop(record)) => {
            with_script(ctx, |run| {
                run.steps.push(record);
                run.stopped = true;
                Ok(())
            })?;
            Err(throw_uncatchable(
                ctx,
                "the scenario stops at a view that went wrong",
            ))
        }
        Ok(Taken::Fault(text, _)) => Err(Exception::throw_internal(ctx, &format!("{text} failed"))),
        Err(error) => {
            let message = error.message.clone();
            with_script(ctx, |run| {
                run.error.get_or_insert(error);
                Ok(())
            })?;
            Err(throw_uncatchable(ctx, &message))
        }
    }
}

/// The natives of `t`, on the page's `host` object.
pub(super) fn natives<'js>(ctx: &Ctx<'js>, host: &Object<'js>) -> rquickjs::Result<()> {
    host.set(
        "stepBegin",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, label: String| {
            let index = with_script(&ctx, |run| {
                run.steps.push(StepRecord {
                    text: label,
                    result: None,
                    problem: None,
                });
                run.current = Some(run.steps.len() - 1);
                Ok(run.steps.len() - 1)
            })?;
            with_store(|mut store| {
                store.data_mut().step = Some(index);
                store.data_mut().page.probed = None;
            });
            Ok::<_, rquickjs::Error>(index)
        })?,
    )?;
    host.set(
        "stepEnd",
        Function::new(ctx.clone(), |ctx: Ctx<'js>| {
            with_script(&ctx, |run| {
                run.current = None;
                Ok(())
            })
        })?,
    )?;
    host.set(
        "stepFault",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, index: usize| {
            with_script(&ctx, |run| {
                run.faulted.get_or_insert(index);
                Ok(())
            })
        })?,
    )?;
    host.set(
        "stepResult",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, index: usize, v: Value<'js>| {
            with_script(&ctx, |run| {
                if let Some(step) = run.steps.get_mut(index) {
                    step.result = Some(to_value(&v));
                }
                Ok(())
            })
        })?,
    )?;
    host.set(
        "stepProblem",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, index: usize, expected: Value<'js>, actual: Value<'js>| {
                with_script(&ctx, |run| {
                    if let Some(step) = run.steps.get_mut(index) {
                        step.problem = Some(Problem::WrongValue {
                            expected: to_value(&expected),
                            actual: Some(to_value(&actual)),
                        });
                    }
                    Ok(())
                })
            },
        )?,
    )?;
    host.set(
        "view",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             name: String,
             ptr: f64,
             len: f64,
             elem: String|
             -> rquickjs::Result<bool> {
                let elem = Elem::parse(&elem)
                    .ok_or_else(|| Exception::throw_type(&ctx, "unknown element type"))?;
                let record = script_step(
                    &ctx,
                    Step::View {
                        name,
                        ptr: crate::spec::Value::Int(ptr as i64),
                        len: crate::spec::Value::Int(len as i64),
                        elem,
                    },
                )?;
                with_script(&ctx, |run| {
                    run.steps.push(record);
                    Ok(true)
                })
            },
        )?,
    )?;
    host.set(
        "read",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, view: String, at: u32, len: u32| -> rquickjs::Result<Value<'js>> {
                let record = script_step(
                    &ctx,
                    Step::Read {
                        view,
                        at,
                        len,
                        expect: None,
                    },
                )?;
                let value = match &record.result {
                    Some(v) => from_value(&ctx, v)?,
                    None => Value::new_undefined(ctx.clone()),
                };
                let problem = record.problem.is_some();
                with_script(&ctx, |run| {
                    run.steps.push(record);
                    Ok(())
                })?;
                if problem {
                    // A stale or freed view: the step says which; the scenario goes on.
                    return Ok(Value::new_undefined(ctx.clone()));
                }
                Ok(value)
            },
        )?,
    )?;
    Ok(())
}
