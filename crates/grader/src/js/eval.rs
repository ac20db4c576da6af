//! Runs an import's body: a small evaluator for the JavaScript the glue writes, over an
//! [`Env`] that gives it the wasm instance (memory, exports, the externref table) and the
//! grader's deterministic stand-ins for the console, the clock and `Math.random`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::syntax::{Expr, FuncDef, Stmt};
use super::value::{self, JsVal, ObjKind, Object};

/// Why an import did not return.
#[derive(Debug)]
pub enum Abort {
    /// A JavaScript exception (`throw new Error(…)`), which unwinds through the guest.
    Throw(JsVal),
    /// A trap in a guest export the glue called (`__wbindgen_malloc` ran out of memory...).
    Trap(wasmtime::Error),
}

/// What the evaluator needs from the world.
pub trait Env {
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, Abort>;
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Abort>;
    /// Calls a guest export by name (`__wbindgen_malloc`); its result, or `undefined`.
    fn call_export(&mut self, name: &str, args: &[JsVal]) -> Result<JsVal, Abort>;
    fn table_get(&mut self, index: u32) -> Result<JsVal, Abort>;
    fn table_set(&mut self, index: u32, value: JsVal) -> Result<(), Abort>;
    /// A line for the console: `method` is `log`, `info`, `warn`, `error`, `debug` or `alert`.
    fn console(&mut self, method: &str, text: String);
    /// `performance.now()`: milliseconds since the instance started, on the virtual clock.
    fn now(&mut self) -> f64;
    /// `Date.now()`: milliseconds since the Unix epoch, on the virtual clock.
    fn date_now(&mut self) -> f64;
    fn random(&mut self) -> f64;
    /// The frames an `Error` created now would list, one `    at …` line each.
    fn stack_trace(&mut self) -> String;
    fn new_id(&mut self) -> u64;
    fn timers(&mut self) -> &mut BTreeMap<String, f64>;
    /// The glue's `WASM_VECTOR_LEN`, which `passStringToWasm0` sets.
    fn vector_len(&mut self) -> &mut f64;
}

enum Flow {
    Normal,
    Return(JsVal),
}

struct Frame {
    vars: Vec<(String, JsVal)>,
    args: Vec<JsVal>,
}

type Eval<T> = Result<T, Abort>;

/// Calls a glue function with `args`.
pub fn call(def: &FuncDef, args: Vec<JsVal>, env: &mut dyn Env) -> Eval<JsVal> {
    let vars = def
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), args.get(i).cloned().unwrap_or(JsVal::Undefined)))
        .collect();
    let mut frame = Frame { vars, args };
    match block(&def.body, &mut frame, env)? {
        Flow::Return(v) => Ok(v),
        Flow::Normal => Ok(JsVal::Undefined),
    }
}

fn block(stmts: &[Stmt], frame: &mut Frame, env: &mut dyn Env) -> Eval<Flow> {
    for s in stmts {
        if let Flow::Return(v) = statement(s, frame, env)? {
            return Ok(Flow::Return(v));
        }
    }
    Ok(Flow::Normal)
}

fn statement(s: &Stmt, frame: &mut Frame, env: &mut dyn Env) -> Eval<Flow> {
    match s {
        Stmt::Decl(name, init) => {
            let v = match init {
                Some(e) => eval(e, frame, env)?,
                None => JsVal::Undefined,
            };
            frame.vars.push((name.clone(), v));
        }
        Stmt::Expr(e) => {
            eval(e, frame, env)?;
        }
        Stmt::Return(e) => {
            let v = match e {
                Some(e) => eval(e, frame, env)?,
                None => JsVal::Undefined,
            };
            return Ok(Flow::Return(v));
        }
        Stmt::Throw(e) => return Err(Abort::Throw(eval(e, frame, env)?)),
        Stmt::If(c, then, otherwise) => {
            let branch = if eval(c, frame, env)?.truthy() {
                then
            } else {
                otherwise
            };
            return block(branch, frame, env);
        }
        Stmt::Try {
            body,
            catch,
            finally,
        } => {
            let mut result = block(body, frame, env);
            if let (Err(Abort::Throw(e)), Some((name, handler))) = (&result, catch) {
                frame.vars.push((name.clone(), e.clone()));
                result = block(handler, frame, env);
            }
            // A trap ends the instance: nothing more runs in it.
            if !matches!(result, Err(Abort::Trap(_))) {
                let after = block(finally, frame, env)?;
                if let Flow::Return(v) = after {
                    return Ok(Flow::Return(v));
                }
            }
            return result;
        }
    }
    Ok(Flow::Normal)
}

fn error(env: &mut dyn Env, message: String) -> JsVal {
    let stack = format!("Error: {message}\n{}", env.stack_trace());
    JsVal::Object(Arc::new(Object {
        id: env.new_id(),
        kind: ObjKind::Error { message, stack },
    }))
}

fn throw<T>(env: &mut dyn Env, message: String) -> Eval<T> {
    Err(Abort::Throw(error(env, message)))
}

fn lookup<'f>(frame: &'f mut Frame, name: &str) -> Option<&'f mut JsVal> {
    frame
        .vars
        .iter_mut()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn global(name: &str, frame: &Frame, env: &mut dyn Env) -> Option<JsVal> {
    Some(match name {
        "undefined" => JsVal::Undefined,
        "null" => JsVal::Null,
        "true" => JsVal::Bool(true),
        "false" => JsVal::Bool(false),
        "arguments" => JsVal::Object(Arc::new(Object {
            id: env.new_id(),
            kind: ObjKind::Arguments(frame.args.clone()),
        })),
        "WASM_VECTOR_LEN" => JsVal::Number(*env.vector_len()),
        n if super::GLOBALS.contains(&n) => JsVal::builtin(n),
        _ => return None,
    })
}

fn eval(e: &Expr, frame: &mut Frame, env: &mut dyn Env) -> Eval<JsVal> {
    Ok(match e {
        Expr::Num(n) => JsVal::Number(*n),
        Expr::Str(s) => JsVal::str(s),
        Expr::Ident(name) => match lookup(frame, name) {
            Some(v) => v.clone(),
            None => match global(name, frame, env) {
                Some(v) => v,
                None => return throw(env, format!("{name} is not defined")),
            },
        },
        Expr::Member(object, member) => {
            let v = eval(object, frame, env)?;
            get_member(&v, member)
        }
        Expr::Call(callee, args) => {
            if let Expr::Member(object, method) = &**callee {
                let receiver = eval(object, frame, env)?;
                let args = eval_all(args, frame, env)?;
                call_method(&receiver, method, args, env)?
            } else {
                let f = eval(callee, frame, env)?;
                let args = eval_all(args, frame, env)?;
                call_value(&f, args, env)?
            }
        }
        Expr::New(class, args) => {
            let args = eval_all(args, frame, env)?;
            match class.as_str() {
                "Error" => {
                    let message = match args.first() {
                        None | Some(JsVal::Undefined) => String::new(),
                        Some(v) => v.to_js_string(),
                    };
                    let head = if message.is_empty() {
                        "Error".to_owned()
                    } else {
                        format!("Error: {message}")
                    };
                    let stack = format!("{head}\n{}", env.stack_trace());
                    JsVal::Object(Arc::new(Object {
                        id: env.new_id(),
                        kind: ObjKind::Error { message, stack },
                    }))
                }
                "Date" => {
                    let time = match args.first() {
                        Some(v) => v.to_number(),
                        None => env.date_now().floor(),
                    };
                    JsVal::Object(Arc::new(Object {
                        id: env.new_id(),
                        kind: ObjKind::Date { time },
                    }))
                }
                other => return throw(env, format!("{other} is not defined")),
            }
        }
        Expr::Unary(op, operand) => {
            if *op == "typeof"
                && let Expr::Ident(name) = &**operand
                && lookup(frame, name).is_none()
                && global(name, frame, env).is_none()
            {
                return Ok(JsVal::str("undefined"));
            }
            let v = eval(operand, frame, env)?;
            match *op {
                "!" => JsVal::Bool(!v.truthy()),
                "-" => JsVal::Number(-v.to_number()),
                "+" => JsVal::Number(v.to_number()),
                _ => JsVal::str(v.type_of()),
            }
        }
        Expr::Binary(op, a, b) => {
            let a = eval(a, frame, env)?;
            match *op {
                "||" if a.truthy() => return Ok(a),
                "&&" if !a.truthy() => return Ok(a),
                "||" | "&&" => return eval(b, frame, env),
                _ => {}
            }
            let b = eval(b, frame, env)?;
            binary(op, &a, &b, env)?
        }
        Expr::Cond(c, then, otherwise) => {
            if eval(c, frame, env)?.truthy() {
                eval(then, frame, env)?
            } else {
                eval(otherwise, frame, env)?
            }
        }
        Expr::Assign(name, value) => {
            let v = eval(value, frame, env)?;
            if let Some(slot) = lookup(frame, name) {
                *slot = v.clone();
            } else if name == "WASM_VECTOR_LEN" {
                *env.vector_len() = v.to_number();
            } else {
                return throw(env, format!("{name} is not defined"));
            }
            v
        }
        Expr::Function(def) => JsVal::Object(Arc::new(Object {
            id: env.new_id(),
            kind: ObjKind::Function(def.clone()),
        })),
        Expr::Object(_) => return throw(env, "object literals are not supported".into()),
    })
}

fn eval_all(args: &[Expr], frame: &mut Frame, env: &mut dyn Env) -> Eval<Vec<JsVal>> {
    args.iter().map(|a| eval(a, frame, env)).collect()
}

fn binary(op: &str, a: &JsVal, b: &JsVal, env: &mut dyn Env) -> Eval<JsVal> {
    let (x, y) = (a.to_number(), b.to_number());
    Ok(match op {
        "===" => JsVal::Bool(a.strict_eq(b)),
        "!==" => JsVal::Bool(!a.strict_eq(b)),
        "==" | "!=" => {
            let eq = match (a, b) {
                _ if a.is_nullish() && b.is_nullish() => true,
                _ if a.is_nullish() || b.is_nullish() => false,
                (JsVal::Object(_), _) | (_, JsVal::Object(_)) => a.strict_eq(b),
                (JsVal::Str(s), JsVal::Str(t)) => s == t,
                _ => x == y,
            };
            JsVal::Bool(eq == (op == "=="))
        }
        "+" if matches!(a, JsVal::Str(_)) || matches!(b, JsVal::Str(_)) => {
            JsVal::str(&format!("{}{}", a.to_js_string(), b.to_js_string()))
        }
        "+" => JsVal::Number(x + y),
        "-" => JsVal::Number(x - y),
        "*" => JsVal::Number(x * y),
        "/" => JsVal::Number(x / y),
        "%" => JsVal::Number(x % y),
        "<" => JsVal::Bool(x < y),
        ">" => JsVal::Bool(x > y),
        "<=" => JsVal::Bool(x <= y),
        ">=" => JsVal::Bool(x >= y),
        ">>>" => JsVal::Number(f64::from(a.to_u32() >> (b.to_u32() & 31))),
        ">>" => JsVal::Number(f64::from(a.to_i32() >> (b.to_u32() & 31))),
        "<<" => JsVal::Number(f64::from(a.to_i32().wrapping_shl(b.to_u32() & 31))),
        other => return throw(env, format!("the operator `{other}` is not supported")),
    })
}

fn get_member(v: &JsVal, member: &str) -> JsVal {
    match v {
        JsVal::Object(o) => match &o.kind {
            ObjKind::Builtin(path) => JsVal::builtin(format!("{path}.{member}")),
            ObjKind::Error { message, stack } => match member {
                "stack" => JsVal::str(stack),
                "message" => JsVal::str(message),
                "name" => JsVal::str("Error"),
                _ => JsVal::Undefined,
            },
            _ => JsVal::Undefined,
        },
        JsVal::Str(s) if member == "length" => JsVal::Number(s.encode_utf16().count() as f64),
        _ => JsVal::Undefined,
    }
}

fn call_method(receiver: &JsVal, method: &str, args: Vec<JsVal>, env: &mut dyn Env) -> Eval<JsVal> {
    if let Some(path) = receiver.builtin_path() {
        return builtin(&format!("{path}.{method}"), args, env);
    }
    if let JsVal::Object(o) = receiver
        && let ObjKind::Date { time } = o.kind
        && method == "getTime"
    {
        return Ok(JsVal::Number(time));
    }
    throw(
        env,
        format!("{}.{method} is not a function", receiver.type_of()),
    )
}

fn call_value(f: &JsVal, args: Vec<JsVal>, env: &mut dyn Env) -> Eval<JsVal> {
    if let Some(path) = f.builtin_path() {
        return builtin(path, args, env);
    }
    if let JsVal::Object(o) = f
        && let ObjKind::Function(def) = &o.kind
    {
        return call(def, args, env);
    }
    throw(env, format!("{} is not a function", f.to_js_string()))
}

fn add_to_table(v: JsVal, env: &mut dyn Env) -> Eval<JsVal> {
    let idx = env.call_export("__externref_table_alloc", &[])?.to_u32();
    env.table_set(idx, v)?;
    Ok(JsVal::Number(f64::from(idx)))
}

fn builtin(path: &str, args: Vec<JsVal>, env: &mut dyn Env) -> Eval<JsVal> {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(JsVal::Undefined);
    Ok(match path {
        "getStringFromWasm0" => {
            let bytes = env.read(arg(0).to_u32(), arg(1).to_u32())?;
            JsVal::str(&String::from_utf8_lossy(&bytes))
        }
        "passStringToWasm0" => {
            let text = arg(0).to_js_string();
            let malloc = arg(1);
            let Some(export) = malloc.builtin_path().and_then(|p| p.strip_prefix("wasm.")) else {
                return throw(env, "passStringToWasm0 needs an allocator export".into());
            };
            let len = JsVal::Number(text.len() as f64);
            let ptr = env
                .call_export(export, &[len, JsVal::Number(1.0)])?
                .to_u32();
            env.write(ptr, text.as_bytes())?;
            *env.vector_len() = text.len() as f64;
            JsVal::Number(f64::from(ptr))
        }
        "getDataViewMemory0" => JsVal::builtin("DataView"),
        "DataView.setInt32" => {
            env.write(arg(0).to_u32(), &arg(1).to_i32().to_le_bytes())?;
            JsVal::Undefined
        }
        "DataView.setUint32" => {
            env.write(arg(0).to_u32(), &arg(1).to_u32().to_le_bytes())?;
            JsVal::Undefined
        }
        "DataView.setUint8" => {
            env.write(arg(0).to_u32(), &[arg(1).to_u32() as u8])?;
            JsVal::Undefined
        }
        "DataView.setFloat64" => {
            env.write(arg(0).to_u32(), &arg(1).to_number().to_le_bytes())?;
            JsVal::Undefined
        }
        "DataView.setFloat32" => {
            env.write(arg(0).to_u32(), &(arg(1).to_number() as f32).to_le_bytes())?;
            JsVal::Undefined
        }
        "DataView.getInt32" => {
            let bytes = env.read(arg(0).to_u32(), 4)?;
            let word = i32::from_le_bytes(bytes.try_into().unwrap_or_default());
            JsVal::Number(f64::from(word))
        }
        "isLikeNone" => JsVal::Bool(arg(0).is_nullish()),
        "debugString" => JsVal::str(&arg(0).debug_string()),
        "addToExternrefTable0" => add_to_table(arg(0), env)?,
        "takeFromExternrefTable0" => {
            let idx = arg(0);
            let v = env.table_get(idx.to_u32())?;
            env.call_export("__externref_table_dealloc", &[idx])?;
            v
        }
        "handleError" => {
            let f = arg(0);
            let inner = match arg(1) {
                JsVal::Object(o) => match &o.kind {
                    ObjKind::Arguments(items) => items.clone(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            match call_value(&f, inner, env) {
                Err(Abort::Throw(e)) => {
                    let idx = add_to_table(e, env)?;
                    env.call_export("__wbindgen_exn_store", &[idx])?;
                    JsVal::Undefined
                }
                other => other?,
            }
        }
        "wasm.__wbindgen_externrefs.set" => {
            env.table_set(arg(0).to_u32(), arg(1))?;
            JsVal::Undefined
        }
        "wasm.__wbindgen_externrefs.get" => env.table_get(arg(0).to_u32())?,
        p if p.starts_with("wasm.") && !p[5..].contains('.') => env.call_export(&p[5..], &args)?,
        "console.log" | "console.info" | "console.debug" | "console.warn" | "console.error" => {
            env.console(&path["console.".len()..], value::format(&args));
            JsVal::Undefined
        }
        "console.time" => {
            let label = label(&args);
            let now = env.now();
            let existed = env.timers().insert(label.clone(), now);
            if let Some(start) = existed {
                // node keeps the first start and warns.
                env.timers().insert(label.clone(), start);
                env.console(
                    "warn",
                    format!("Label '{label}' already exists for console.time()"),
                );
            }
            JsVal::Undefined
        }
        "console.timeEnd" => {
            let label = label(&args);
            let now = env.now();
            match env.timers().remove(&label) {
                Some(start) => env.console(
                    "log",
                    format!("{label}: {}", value::format_duration(now - start)),
                ),
                None => env.console(
                    "warn",
                    format!("No such label '{label}' for console.timeEnd()"),
                ),
            }
            JsVal::Undefined
        }
        "alert" => {
            let text = match arg(0) {
                JsVal::Undefined => String::new(),
                v => v.to_js_string(),
            };
            env.console("alert", text);
            JsVal::Undefined
        }
        "Math.random" => JsVal::Number(env.random()),
        "Date.now" => JsVal::Number(env.date_now().floor()),
        "performance.now" => JsVal::Number(env.now()),
        other => return throw(env, format!("{other} is not a function")),
    })
}

fn label(args: &[JsVal]) -> String {
    match args.first() {
        None | Some(JsVal::Undefined) => "default".into(),
        Some(v) => v.to_js_string(),
    }
}
