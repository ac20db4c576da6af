//! Taking a scenario's steps as wasm-bindgen's glue would: calls with lowered and lifted
//! values, objects and their `free`, host views and what they cover, host `memory.grow`.

use super::*;

/// Whether `[ptr, ptr + len)` touches the shadow stack, where nothing outlives a call.
pub(super) fn in_stack(facts: &ModuleFacts, ptr: u32, len: u32) -> bool {
    facts
        .stack
        .is_some_and(|(low, high)| ptr < high && u64::from(ptr) + u64::from(len) > u64::from(low))
}

pub(super) enum Taken {
    Ok(StepRecord),
    /// A host-side failure JavaScript would throw on (a `RangeError` making a view): the
    /// scenario ends here, without a trap.
    Stop(StepRecord),
    Fault(String, Fault),
}

pub(super) struct Object {
    pub(super) class: String,
    pub(super) handle: u32,
}

pub(super) struct View {
    pub(super) ptr: u32,
    pub(super) len: u32,
    pub(super) elem: Elem,
    /// The live block the view lies in, if it lies in one.
    pub(super) block: Option<u64>,
    pub(super) made_in: usize,
    pub(super) pages: u64,
}

pub(super) struct Runner {
    pub(super) instance: Instance,
    pub(super) memory: Memory,
    pub(super) objects: BTreeMap<String, Object>,
    pub(super) vars: HashMap<String, Value>,
    /// For variables holding a returned pointer: the id of the block it pointed into.
    pub(super) provenance: HashMap<String, u64>,
    pub(super) views: HashMap<String, View>,
    pub(super) last_growth: Option<usize>,
    pub(super) tracked: bool,
    /// The page the glue runs on (none for a module without wasm-bindgen's glue).
    pub(super) page: Option<Page>,
}

impl Runner {
    pub(super) fn instantiate(
        store: &mut Store<Host>,
        module: &Module,
        glue: &js::Glue,
        lockdown: bool,
    ) -> Result<Runner, Fault> {
        let tracked = module
            .imports()
            .any(|i| i.module() == course_guest::abi::MODULE);
        let page = if glue.is_empty() {
            // A module without wasm-bindgen's glue: only the guest crate's imports are served.
            let mut imports = Vec::new();
            for import in module.imports() {
                let f = match import.ty() {
                    wasmtime::ExternType::Func(ty)
                        if import.module() == course_guest::abi::MODULE =>
                    {
                        guest_import(&mut *store, import.name(), ty)
                    }
                    _ => None,
                };
                let Some(f) = f else {
                    return Err(Fault::Trap(format!(
                        "unsupported import `{}.{}`",
                        import.module(),
                        import.name()
                    )));
                };
                imports.push(Extern::Func(f));
            }
            let instance =
                Instance::new(&mut *store, module, &imports).map_err(|e| classify(e, store))?;
            let memory = instance.get_memory(&mut *store, "memory");
            store.data_mut().memory = memory;
            store.data_mut().instance = Some(instance);
            for init in [course_guest::abi::INIT, abi::START] {
                if let Some(f) = instance.get_func(&mut *store, init) {
                    f.call(&mut *store, &[], &mut [])
                        .map_err(|e| classify(e, store))?;
                }
            }
            None
        } else {
            store.data_mut().page.module = Some(module.clone());
            let epoch = epoch_ms(store.data().js.seed);
            let page = Page::open(glue, lockdown, epoch).map_err(Fault::Trap)?;
            page.init(store)?;
            Some(page)
        };
        let instance = store
            .data()
            .instance
            .ok_or_else(|| Fault::Trap("the glue never instantiated the module".into()))?;
        let memory = store
            .data()
            .memory
            .ok_or_else(|| Fault::Trap("the module exports no `memory`".into()))?;
        Ok(Runner {
            instance,
            memory,
            objects: BTreeMap::new(),
            vars: HashMap::new(),
            provenance: HashMap::new(),
            views: HashMap::new(),
            last_growth: None,
            tracked,
            page,
        })
    }

    pub(super) fn pages(&self, store: &Store<Host>) -> u64 {
        self.memory.size(store)
    }

    pub(super) fn func(&self, store: &mut Store<Host>, name: &str) -> Result<Func, Fault> {
        self.instance
            .get_func(&mut *store, name)
            .ok_or_else(|| Fault::Trap(format!("the module has no export `{name}`")))
    }

    pub(super) fn call(
        &self,
        store: &mut Store<Host>,
        name: &str,
        args: &[Val],
        results: usize,
    ) -> Result<Vec<Val>, Fault> {
        let f = self.func(store, name)?;
        let mut out = vec![Val::I32(0); results];
        f.call(&mut *store, args, &mut out)
            .map_err(|e| classify(e, store))?;
        Ok(out)
    }

    pub(super) fn free_object(
        &self,
        store: &mut Store<Host>,
        class: &str,
        handle: u32,
    ) -> Result<(), Fault> {
        self.call(
            store,
            &abi::free_export(class),
            &[Val::I32(handle as i32), Val::I32(0)],
            0,
        )
        .map(drop)
    }

    pub(super) fn step(
        &mut self,
        store: &mut Store<Host>,
        exports: &Exports,
        step: &Step,
        index: usize,
    ) -> Result<Taken, ScenarioError> {
        let err = |text: &str, message: String| ScenarioError::at(index, text, message);
        match step {
            Step::Call(call) if call.repeat > 1 => {
                for k in 1..=call.repeat {
                    let taken = self.call_step(store, exports, call, false, index)?;
                    // The step reads as one line: `u.tick() ×100`, or which call went wrong.
                    let mark = |text: String| {
                        if k == call.repeat {
                            format!("{text} ×{}", call.repeat)
                        } else {
                            format!("{text} (call {k} of {})", call.repeat)
                        }
                    };
                    match taken {
                        Taken::Ok(record) if record.problem.is_none() && k < call.repeat => {}
                        Taken::Ok(record) => {
                            return Ok(Taken::Ok(StepRecord {
                                text: mark(record.text),
                                ..record
                            }));
                        }
                        Taken::Stop(record) => {
                            return Ok(Taken::Stop(StepRecord {
                                text: mark(record.text),
                                ..record
                            }));
                        }
                        Taken::Fault(text, fault) => return Ok(Taken::Fault(mark(text), fault)),
                    }
                }
                unreachable!("the last call returns")
            }
            Step::Call(call) | Step::New(call) => {
                self.call_step(store, exports, call, matches!(step, Step::New(_)), index)
            }
            Step::Free { object } => {
                let text = format!("{object}.free()");
                let Some(obj) = self.objects.remove(object) else {
                    return Err(err(&text, format!("there is no object named `{object}`")));
                };
                Ok(match self.free_object(store, &obj.class, obj.handle) {
                    Ok(()) => Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: None,
                    }),
                    Err(fault) => Taken::Fault(text, fault),
                })
            }
            Step::Grow { pages } => {
                let text = format!("memory.grow({pages})");
                store.data_mut().limiter.growth.host_growing = true;
                let grown = self.memory.grow(&mut *store, u64::from(*pages));
                store.data_mut().limiter.growth.host_growing = false;
                if let Ok(old) = grown {
                    let new = old + u64::from(*pages);
                    store.data_mut().host_grown.push((old, new));
                }
                let result = grown.map(|old| Value::Int(old as i64)).ok();
                Ok(Taken::Ok(StepRecord {
                    text,
                    result,
                    problem: None,
                }))
            }
            Step::View {
                name,
                ptr,
                len,
                elem,
            } => {
                let ptr_v = self.resolve(ptr).map_err(|m| err(name, m))?;
                let len_v = self.resolve(len).map_err(|m| err(name, m))?;
                let text = format!(
                    "{name} = new {}(memory.buffer, {}, {})",
                    elem.js_array(),
                    arg_text(ptr),
                    arg_text(len)
                );
                let (Some(p), Some(n)) = (as_u32(&ptr_v), as_u32(&len_v)) else {
                    return Err(err(
                        &text,
                        format!("`ptr` and `len` must be numbers, got {ptr_v} and {len_v}"),
                    ));
                };
                let bytes = u64::from(n) * u64::from(elem.size());
                let memory = self.memory.data_size(&*store) as u64;
                let origin = match ptr {
                    Value::Str(s) if s.starts_with('$') => self.provenance.get(&s[1..]).copied(),
                    _ => None,
                };
                let heap = &store.data().heap;
                let problem = if let Some(id) = origin.filter(|id| !heap.is_live(*id)) {
                    // The pointer's block was freed (or moved) before the view was made.
                    Some(Problem::UseAfterFree {
                        view: name.clone(),
                        ptr: p,
                        made_in: index,
                        freed_in: heap.freed_in_step(id).flatten(),
                    })
                } else if p % elem.size() != 0 {
                    Some(Problem::MisalignedView {
                        ptr: p,
                        elem: *elem,
                    })
                } else if u64::from(p) + bytes > memory {
                    Some(Problem::ViewOutOfBounds {
                        ptr: p,
                        bytes,
                        memory,
                    })
                } else {
                    self.judge_view(store, name, p, bytes as u32, index)
                };
                if problem.is_none() {
                    let heap = &store.data().heap;
                    let block = heap.block_containing(p, bytes as u32).map(|b| b.id);
                    self.views.insert(
                        name.clone(),
                        View {
                            ptr: p,
                            len: n,
                            elem: *elem,
                            block,
                            made_in: index,
                            pages: self.pages(store),
                        },
                    );
                }
                let record = StepRecord {
                    text,
                    result: None,
                    problem,
                };
                Ok(if record.problem.is_some() {
                    Taken::Stop(record)
                } else {
                    Taken::Ok(record)
                })
            }
            Step::Write { view, at, values } => {
                let text = format!(
                    "{view}.set([{}], {at})",
                    values
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let v = self
                    .view(view, *at, values.len() as u32)
                    .map_err(|m| err(&text, m))?;
                if let Some(problem) = self.view_problem(store, view, &v) {
                    return Ok(Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: Some(problem),
                    }));
                }
                let bytes = encode(values, v.elem).map_err(|m| err(&text, m))?;
                let start = (v.ptr + at * v.elem.size()) as usize;
                self.memory.data_mut(&mut *store)[start..start + bytes.len()]
                    .copy_from_slice(&bytes);
                Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: None,
                }))
            }
            Step::Read {
                view,
                at,
                len,
                expect,
            } => {
                let text = format!("{view}.slice({at}, {})", at + len);
                let v = self.view(view, *at, *len).map_err(|m| err(&text, m))?;
                if let Some(problem) = self.view_problem(store, view, &v) {
                    return Ok(Taken::Ok(StepRecord {
                        text,
                        result: None,
                        problem: Some(problem),
                    }));
                }
                let start = v.ptr + at * v.elem.size();
                let bytes = read_bytes(&self.memory, &*store, start, len * v.elem.size())
                    .expect("view is in bounds");
                let actual = decode(&bytes, v.elem);
                let problem = expect
                    .as_ref()
                    .filter(|e| !e.matches(&actual, 0.0))
                    .map(|e| Problem::WrongValue {
                        expected: e.clone(),
                        actual: Some(actual.clone()),
                    });
                Ok(Taken::Ok(StepRecord {
                    text,
                    result: Some(actual),
                    problem,
                }))
            }
        }
    }

    /// What a new view lies in: one live block or static data is fine; past a block's end,
    /// freed memory, or a returned stack frame is a problem.
    pub(super) fn judge_view(
        &self,
        store: &Store<Host>,
        view: &str,
        ptr: u32,
        len: u32,
        index: usize,
    ) -> Option<Problem> {
        if len == 0 {
            return None;
        }
        let host = store.data();
        if in_stack(&host.facts, ptr, len) {
            return Some(Problem::DanglingStack {
                view: Some(view.to_owned()),
                ptr,
            });
        }
        let name = view.to_owned();
        match host.heap.region(ptr, len) {
            Region::Live(_) => None,
            Region::PastBlock(block) => Some(Problem::ViewPastBlock {
                view: name,
                ptr,
                bytes: u64::from(len),
                block: block.clone(),
            }),
            region @ (Region::Freed(_) | Region::Unknown) => {
                // Memory the program took from `std::alloc::System` is live though the
                // shadow heap never saw it: ask the real allocator.
                let live_untracked = untracked_chunks(store, &self.memory)
                    .is_ok_and(|chunks| chunks.iter().any(|c| c.contains(ptr, len)));
                match region {
                    Region::Freed(freed) if !live_untracked => Some(Problem::UseAfterFree {
                        view: name,
                        ptr,
                        made_in: index,
                        freed_in: freed.step,
                    }),
                    _ => None,
                }
            }
        }
    }

    /// A copy of a view's geometry, after checking the access stays inside it.
    pub(super) fn view(&self, name: &str, at: u32, len: u32) -> Result<View, String> {
        let v = self
            .views
            .get(name)
            .ok_or_else(|| format!("there is no view named `{name}`"))?;
        if u64::from(at) + u64::from(len) > u64::from(v.len) {
            return Err(format!(
                "elements {at}..{} are outside view `{name}` of length {}",
                at + len,
                v.len
            ));
        }
        Ok(View {
            ptr: v.ptr,
            len: v.len,
            elem: v.elem,
            block: v.block,
            made_in: v.made_in,
            pages: v.pages,
        })
    }

    /// Whether an access through the view is stale: memory grew (the typed array is detached)
    /// or its block was freed or moved.
    pub(super) fn view_problem(
        &self,
        store: &Store<Host>,
        name: &str,
        v: &View,
    ) -> Option<Problem> {
        if self.pages(store) != v.pages {
            return Some(Problem::StaleView {
                view: name.to_owned(),
                made_in: v.made_in,
                grew_in: self.last_growth.unwrap_or(v.made_in),
            });
        }
        let id = v.block?;
        let heap = &store.data().heap;
        if heap.is_live(id) {
            return None;
        }
        Some(Problem::UseAfterFree {
            view: name.to_owned(),
            ptr: v.ptr,
            made_in: v.made_in,
            freed_in: heap.freed_in_step(id).flatten(),
        })
    }

    /// Resolves `"$name"` to the value bound earlier.
    pub(super) fn resolve(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Str(s) if s.starts_with('$') && !s.starts_with("$$") => {
                let name = &s[1..];
                self.vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("`{s}` was not bound by an earlier step's `as`"))
            }
            Value::List(items) => items
                .iter()
                .map(|v| self.resolve(v))
                .collect::<Result<_, _>>()
                .map(Value::List),
            v => Ok(v.clone()),
        }
    }

    pub(super) fn call_step(
        &mut self,
        store: &mut Store<Host>,
        exports: &Exports,
        call: &Call,
        is_new: bool,
        index: usize,
    ) -> Result<Taken, ScenarioError> {
        let err = |text: &str, message: String| ScenarioError::at(index, text, message);
        // Work out the export, its signature and the receiver.
        let objects = &self.objects;
        let resolved = exports
            .resolve(call, is_new, |o| {
                let class = &objects.get(o)?.class;
                exports
                    .structs
                    .get_key_value(class.as_str())
                    .map(|(c, _)| c.as_str())
            })
            .map_err(|m| err(&call.target, m))?;
        let receiver = resolved
            .object
            .and_then(|o| self.objects.get(o))
            .map(|o| o.handle);
        let (export, sig, class) = (
            resolved.export,
            resolved.sig.clone(),
            resolved.class.map(str::to_owned),
        );
        let mut ret = sig.ret.clone();
        if let Some(class) = &class {
            ret.resolve_self(class);
        }
        let args: Vec<Value> = call
            .args
            .iter()
            .map(|a| self.resolve_arg(a))
            .collect::<Result<_, _>>()
            .map_err(|m| err(&call.target, m))?;
        let text = call_text(call, is_new, &call.args);
        if args.len() != sig.params.len() {
            return Err(err(
                &text,
                format!(
                    "`{}` takes {} arguments, the step gives {}",
                    sig.text,
                    sig.params.len(),
                    args.len()
                ),
            ));
        }
        // Lower the arguments, as the glue does: copies into memory the guest will own and free.
        let mut core = Vec::new();
        if let Some(handle) = receiver {
            core.push(Val::I32(handle as i32));
        }
        let mut consumed = Vec::new();
        for ((pname, ty), value) in sig.params.iter().zip(&args) {
            let mut ty = ty.clone();
            if let Some(class) = &class {
                ty.resolve_self(class);
            }
            match self.lower(store, &ty, value, &mut consumed) {
                Ok(Ok(vals)) => core.extend(vals),
                Ok(Err(message)) => {
                    return Err(err(&text, format!("argument `{pname}`: {message}")));
                }
                Err(fault) => return Ok(Taken::Fault(text, fault)),
            }
        }
        let results = ret.results().len();
        store.data_mut().call_allocs.clear();
        store.data_mut().in_call = true;
        let out = self.call(store, &export, &core, results);
        store.data_mut().in_call = false;
        let out = match out {
            Ok(out) => out,
            Err(fault) => return Ok(Taken::Fault(text, fault)),
        };
        if let Some(allowed) = call.max_allocations {
            let made = std::mem::take(&mut store.data_mut().call_allocs);
            if made.len() > allowed as usize {
                let (first_id, _) = made[allowed as usize];
                let first = store
                    .data()
                    .heap
                    .live()
                    .find(|b| b.id == first_id)
                    .cloned()
                    .or_else(|| store.data().heap.dead_block(first_id))
                    .unwrap_or_default();
                return Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: Some(Problem::Allocated {
                        allowed,
                        count: made.len(),
                        bytes: made.iter().map(|(_, b)| u64::from(*b)).sum(),
                        first,
                    }),
                }));
            }
        }
        for name in consumed {
            self.objects.remove(&name);
        }
        if sig.receiver == Receiver::Consume
            && let Some((object, _)) = call.target.split_once('.')
        {
            self.objects.remove(object);
        }
        // Lift the result, freeing what the glue frees.
        let lifted = match self.lift(store, &ret, &out) {
            Ok(v) => v,
            Err(Ok(problem)) => {
                return Ok(Taken::Ok(StepRecord {
                    text,
                    result: None,
                    problem: Some(problem),
                }));
            }
            Err(Err(fault)) => return Ok(Taken::Fault(text, fault)),
        };
        let mut result = lifted.clone();
        if let (Ty::Struct(class), Some(Value::Int(handle))) = (&ret, &lifted) {
            let handle = *handle as u32;
            match &call.bind {
                Some(name) => {
                    self.objects.insert(
                        name.clone(),
                        Object {
                            class: class.clone(),
                            handle,
                        },
                    );
                    result = Some(Value::Object(class.clone()));
                }
                // An object nobody keeps is collected, and its finalizer frees it.
                None => {
                    if let Err(fault) = self.free_object(store, class, handle) {
                        return Ok(Taken::Fault(text, fault));
                    }
                    result = Some(Value::Object(class.clone()));
                }
            }
        } else if let (Some(name), Some(v)) = (&call.bind, &lifted) {
            self.vars.insert(name.clone(), v.clone());
            // A returned pointer remembers the block it points into, so a later use can tell
            // that block was freed even when the address has been handed out again.
            match (&ret, v) {
                (Ty::Ptr(_), Value::Int(p)) => {
                    match store.data().heap.block_containing(*p as u32, 1) {
                        Some(block) => self.provenance.insert(name.clone(), block.id),
                        None => self.provenance.remove(name),
                    }
                }
                _ => self.provenance.remove(name),
            };
        }
        // A pointer into the stack outlives the frame it pointed into.
        if let (Ty::Ptr(_), Some(Value::Int(p))) = (&ret, &lifted)
            && let Ok(p) = u32::try_from(*p)
            && in_stack(&store.data().facts, p, 1)
        {
            return Ok(Taken::Ok(StepRecord {
                text,
                result,
                problem: Some(Problem::DanglingStack { view: None, ptr: p }),
            }));
        }
        let problem = match &call.expect {
            Expect::Returns => None,
            Expect::Value { value, tolerance } => match &result {
                Some(actual) if value.matches(actual, *tolerance) => None,
                actual => Some(Problem::WrongValue {
                    expected: value.clone(),
                    actual: actual.clone(),
                }),
            },
            Expect::Panic(expected) => Some(Problem::MissingPanic {
                expected: expected.clone(),
            }),
        };
        Ok(Taken::Ok(StepRecord {
            text,
            result,
            problem,
        }))
    }

    /// Resolves `$name` to an object (kept as a string naming it) or a bound value.
    pub(super) fn resolve_arg(&self, value: &Value) -> Result<Value, String> {
        match value {
            Value::Str(s) if s.starts_with('$') && self.objects.contains_key(&s[1..]) => {
                Ok(value.clone())
            }
            v => self.resolve(v),
        }
    }

    pub(super) fn malloc(
        &self,
        store: &mut Store<Host>,
        bytes: &[u8],
        align: u32,
    ) -> Result<u32, Fault> {
        let out = self.call(
            store,
            abi::MALLOC,
            &[Val::I32(bytes.len() as i32), Val::I32(align as i32)],
            1,
        )?;
        let ptr = out[0].unwrap_i32() as u32;
        let end = ptr as usize + bytes.len();
        match self.memory.data_mut(&mut *store).get_mut(ptr as usize..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                Ok(ptr)
            }
            None => Err(Fault::OutOfBounds),
        }
    }

    /// Lowers one argument. The outer `Err` is a fault in the guest (its allocator trapped);
    /// the inner one a value that does not fit the type.
    pub(super) fn lower(
        &self,
        store: &mut Store<Host>,
        ty: &Ty,
        value: &Value,
        consumed: &mut Vec<String>,
    ) -> Result<Result<Vec<Val>, String>, Fault> {
        let mismatch = || Ok(Err(format!("{value} is not a `{ty}`")));
        Ok(Ok(match (ty, value) {
            (Ty::Unit, _) => vec![],
            (Ty::Bool, Value::Bool(b)) => vec![Val::I32(i32::from(*b))],
            (Ty::Int(int), Value::Int(n)) => match lower_int(*int, *n) {
                Some(v) => vec![v],
                None => return Ok(Err(format!("{n} does not fit in `{}`", int.rust_name()))),
            },
            (Ty::F32, v) if v.as_f64().is_some() => {
                vec![Val::F32((v.as_f64().unwrap() as f32).to_bits())]
            }
            (Ty::F64, v) if v.as_f64().is_some() => vec![Val::F64(v.as_f64().unwrap().to_bits())],
            (Ty::Ptr(_), Value::Int(n)) if (0..=i64::from(u32::MAX)).contains(n) => {
                vec![Val::I32(*n as u32 as i32)]
            }
            (Ty::Option(inner), Value::Str(s)) if s == "None" => match **inner {
                Ty::F64 => vec![Val::I32(0), Val::F64(0f64.to_bits())],
                _ => vec![Val::F64(NONE.to_bits())],
            },
            (Ty::Option(inner), v) => match (&**inner, v) {
                (Ty::F64, v) if v.as_f64().is_some() => {
                    vec![Val::I32(1), Val::F64(v.as_f64().unwrap().to_bits())]
                }
                (Ty::Int(int), Value::Int(n)) if !int.is_64() && lower_int(*int, *n).is_some() => {
                    vec![Val::F64((*n as f64).to_bits())]
                }
                _ => return mismatch(),
            },
            (Ty::Slice(elem) | Ty::Vec(elem), Value::List(items)) => {
                let bytes = match encode(items, *elem) {
                    Ok(b) => b,
                    Err(m) => return Ok(Err(m)),
                };
                let ptr = self.malloc(store, &bytes, elem.size())?;
                vec![Val::I32(ptr as i32), Val::I32(items.len() as i32)]
            }
            (Ty::Str | Ty::String, Value::Str(s)) => {
                let ptr = self.malloc(store, s.as_bytes(), 1)?;
                vec![Val::I32(ptr as i32), Val::I32(s.len() as i32)]
            }
            (Ty::Struct(class) | Ty::StructRef(class), Value::Str(s)) if s.starts_with('$') => {
                let name = &s[1..];
                let Some(obj) = self.objects.get(name) else {
                    return mismatch();
                };
                if &obj.class != class {
                    return Ok(Err(format!(
                        "`{name}` is a `{}`, not a `{class}`",
                        obj.class
                    )));
                }
                if matches!(ty, Ty::Struct(_)) {
                    consumed.push(name.to_owned());
                }
                vec![Val::I32(obj.handle as i32)]
            }
            _ => return mismatch(),
        }))
    }

    /// Lifts a result. Errors: a problem with what was returned, or a fault while freeing it.
    #[allow(clippy::result_large_err)]
    pub(super) fn lift(
        &self,
        store: &mut Store<Host>,
        ty: &Ty,
        out: &[Val],
    ) -> Result<Option<Value>, Result<Problem, Fault>> {
        let i32_at = |i: usize| out[i].unwrap_i32();
        Ok(Some(match ty {
            Ty::Unit => return Ok(None),
            Ty::Bool => Value::Bool(i32_at(0) != 0),
            Ty::Int(int) if int.is_64() => {
                let raw = out[0].unwrap_i64();
                if int.is_signed() || raw >= 0 {
                    Value::Int(raw)
                } else {
                    Value::Float(raw as u64 as f64)
                }
            }
            Ty::Int(int) => Value::Int(lift_int(*int, i32_at(0))),
            Ty::F32 => Value::Float(f64::from(out[0].unwrap_f32())),
            Ty::F64 => Value::Float(out[0].unwrap_f64()),
            Ty::Ptr(_) | Ty::Struct(_) | Ty::StructRef(_) => {
                Value::Int(i64::from(i32_at(0) as u32))
            }
            Ty::Option(inner) => match **inner {
                Ty::F64 if i32_at(0) == 0 => Value::Str("None".into()),
                Ty::F64 => Value::Float(out[1].unwrap_f64()),
                _ => {
                    let raw = out[0].unwrap_f64();
                    if raw == NONE {
                        Value::Str("None".into())
                    } else {
                        Value::Int(raw as i64)
                    }
                }
            },
            Ty::Vec(_) | Ty::Slice(_) | Ty::String | Ty::Str => {
                let (ptr, len) = (i32_at(0) as u32, i32_at(1) as u32);
                let (elem, align) = match ty {
                    Ty::Vec(e) | Ty::Slice(e) => (Some(*e), e.size()),
                    _ => (None, 1),
                };
                let bytes_len = u64::from(len) * u64::from(elem.map_or(1, Elem::size));
                let Some(bytes) = u32::try_from(bytes_len)
                    .ok()
                    .and_then(|n| read_bytes(&self.memory, &*store, ptr, n))
                else {
                    return Err(Ok(Problem::ResultOutOfBounds {
                        ptr,
                        bytes: bytes_len,
                    }));
                };
                let value = match elem {
                    Some(e) => decode(&bytes, e),
                    None => match String::from_utf8(bytes) {
                        Ok(s) => Value::Str(s),
                        Err(_) => return Err(Ok(Problem::NotUtf8)),
                    },
                };
                // The glue copies the result out and frees it with the layout it was allocated with.
                if len > 0 || ptr != align {
                    self.call(
                        store,
                        abi::FREE,
                        &[
                            Val::I32(ptr as i32),
                            Val::I32(bytes_len as i32),
                            Val::I32(align as i32),
                        ],
                        0,
                    )
                    .map_err(Err)?;
                }
                value
            }
        }))
    }
}
