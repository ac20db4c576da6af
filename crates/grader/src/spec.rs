//! What to grade: the exports a submission must provide and the scenarios that drive them.
//!
//! These are plain data types. They deserialize from TOML (the `[exports]` and `[[scenario]]`
//! tables of an `exercise.toml`), and tests build them in Rust directly.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::abi::{Signature, Ty};

/// Everything the grader needs to know about one exercise.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub exports: Exports,
    #[serde(default, rename = "scenario")]
    pub scenarios: Vec<Scenario>,
    /// The module's size budget (`[budget]`), checked before any scenario runs.
    #[serde(default)]
    pub budget: ModuleBudget,
}

/// How large the module may be, as [`crate::size`] counts it: the module wasm-bindgen wrote,
/// without custom sections (names, producers), raw and gzipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleBudget {
    pub max_module_bytes: Option<u64>,
    pub max_module_gzip_bytes: Option<u64>,
}

impl ModuleBudget {
    pub fn is_set(&self) -> bool {
        self.max_module_bytes.is_some() || self.max_module_gzip_bytes.is_some()
    }
}

/// The keys a `[budget]` table may have, for authoring diagnostics (a test keeps this list
/// equal to what [`ModuleBudget`] reads).
pub const BUDGET_KEYS: &[&str] = &["max_module_bytes", "max_module_gzip_bytes"];

/// The exports the student must provide, written as Rust signatures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exports {
    /// Free functions, e.g. `"fn double(data: &[u8]) -> Vec<u8>"`.
    #[serde(default)]
    pub functions: Vec<Signature>,
    /// Exported structs by name.
    #[serde(default)]
    pub structs: BTreeMap<String, StructExport>,
}

/// An exported struct: its constructor and methods.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructExport {
    /// `#[wasm_bindgen(constructor)]`, e.g. `"fn new(size: usize) -> Buffer"`.
    pub constructor: Option<Signature>,
    /// Methods and associated functions, e.g. `"fn ptr(&self) -> *const u8"`.
    #[serde(default)]
    pub methods: Vec<Signature>,
}

impl Spec {
    /// The points all scenarios are worth together.
    pub fn points(&self) -> f64 {
        self.scenarios.iter().map(|s| s.points).sum()
    }
}

impl Exports {
    /// Looks up a free function by name.
    pub fn function(&self, name: &str) -> Option<&Signature> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// Looks up a method or associated function of an exported struct.
    pub fn method(&self, class: &str, name: &str) -> Option<&Signature> {
        let s = self.structs.get(class)?;
        s.methods.iter().find(|m| m.name == name)
    }

    /// What a call step calls: the export, its signature, the struct it belongs to, and the
    /// object it is called on. `class_of` names the struct of each object made by an earlier
    /// `new` step (and not freed). The one reading of a call's target, for validation and for
    /// running alike; the `Err` says what an author must fix.
    pub fn resolve<'a, 'c>(
        &'a self,
        call: &'c Call,
        is_new: bool,
        class_of: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Resolved<'a, 'c>, String> {
        let target = call.target.as_str();
        if is_new {
            let Some((class, s)) = self.structs.get_key_value(target) else {
                return Err(format!("`new = {target:?}` names no declared struct"));
            };
            let sig = s
                .constructor
                .as_ref()
                .ok_or_else(|| format!("`{target}` has no declared constructor"))?;
            return Ok(Resolved {
                export: crate::abi::method_export(class, &sig.name),
                sig,
                class: Some(class),
                object: None,
            });
        }
        if let Some((object, method)) = target.split_once('.') {
            let class = class_of(object).ok_or_else(|| {
                format!(
                    "`{object}` is not an object made by an earlier `new` step (or it was freed)"
                )
            })?;
            let sig = self
                .method(class, method)
                .ok_or_else(|| format!("`{class}` has no declared method `{method}`"))?;
            return Ok(Resolved {
                export: crate::abi::method_export(class, method),
                sig,
                class: Some(class),
                object: Some(object),
            });
        }
        if let Some((class, method)) = target.split_once("::") {
            let (class, sig) = self
                .structs
                .get_key_value(class)
                .and_then(|(c, _)| Some((c.as_str(), self.method(c, method)?)))
                .ok_or_else(|| format!("`{class}::{method}` is not declared"))?;
            return Ok(Resolved {
                export: crate::abi::method_export(class, method),
                sig,
                class: Some(class),
                object: None,
            });
        }
        let sig = self
            .function(target)
            .ok_or_else(|| format!("`{target}` is not a declared function"))?;
        Ok(Resolved {
            export: sig.name.clone(),
            sig,
            class: None,
            object: None,
        })
    }
}

/// A call step's target, resolved against the exports by [`Exports::resolve`].
#[derive(Debug, Clone)]
pub struct Resolved<'a, 'c> {
    /// The processed module's export to call.
    pub export: String,
    pub sig: &'a Signature,
    /// The struct the export belongs to (a constructor, method or associated function).
    pub class: Option<&'a str>,
    /// For a method, the object it is called on.
    pub object: Option<&'c str>,
}

/// Which memory checks a scenario applies. All are on unless the scenario says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryCheck {
    Leaks,
    Allocator,
    Alignment,
    Growth,
    UseAfterFree,
    /// Red zones around every block: a write past its end (or before its start).
    Overflow,
}

impl MemoryCheck {
    /// In the order the report shows them: the most fundamental first.
    pub const ALL: [MemoryCheck; 6] = [
        MemoryCheck::Allocator,
        MemoryCheck::Overflow,
        MemoryCheck::Alignment,
        MemoryCheck::UseAfterFree,
        MemoryCheck::Growth,
        MemoryCheck::Leaks,
    ];

    /// The check in a report that this memory check is.
    pub fn check(self) -> crate::report::CheckName {
        use crate::report::CheckName;
        match self {
            MemoryCheck::Leaks => CheckName::Leaks,
            MemoryCheck::Allocator => CheckName::Allocator,
            MemoryCheck::Alignment => CheckName::Alignment,
            MemoryCheck::Growth => CheckName::Growth,
            MemoryCheck::UseAfterFree => CheckName::Pointers,
            MemoryCheck::Overflow => CheckName::Overflow,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MemoryCheck::Leaks => "leaks",
            MemoryCheck::Allocator => "allocator",
            MemoryCheck::Alignment => "alignment",
            MemoryCheck::Growth => "growth",
            MemoryCheck::UseAfterFree => "use-after-free",
            MemoryCheck::Overflow => "overflow",
        }
    }
}

fn all_checks() -> Vec<MemoryCheck> {
    MemoryCheck::ALL.to_vec()
}

fn default_fuel() -> u64 {
    Scenario::DEFAULT_FUEL
}

fn default_points() -> f64 {
    1.0
}

/// One scenario: a fresh instance, a sequence of steps, and the budgets and checks that apply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// A scenario written in JavaScript instead of `steps`: the body of an `async` function of
    /// `mod` (the glue's exports, as a page imports them) and `t` (steps, assertions, views).
    #[serde(default)]
    pub script: Option<String>,
    /// Wasm instructions the scenario may execute (wasmtime fuel); running out is "too slow".
    #[serde(default = "default_fuel")]
    pub fuel: u64,
    /// How many 64 KiB pages the student's code may add to memory during the scenario. Pages
    /// the host grows itself do not count.
    pub max_growth_pages: Option<u32>,
    /// How many 64 KiB pages linear memory may reach during the scenario, from what the module
    /// declares to its peak (memory never shrinks, so the peak is its size at the end). Pages
    /// the host grows itself do not count. Checked by its own check, `peak-memory`.
    pub max_memory_pages: Option<u32>,
    #[serde(default = "all_checks")]
    pub checks: Vec<MemoryCheck>,
    #[serde(default = "default_points")]
    pub points: f64,
    /// Hidden scenarios are graded but never described to the student.
    #[serde(default)]
    pub hidden: bool,
    /// The seed of `Math.random`; by default one derived from the scenario's name, so every
    /// run draws the same numbers.
    #[serde(default)]
    pub seed: Option<u64>,
}

impl Scenario {
    pub const DEFAULT_FUEL: u64 = 50_000_000;

    pub fn new(name: impl Into<String>, steps: Vec<Step>) -> Scenario {
        Scenario {
            name: name.into(),
            steps,
            fuel: Self::DEFAULT_FUEL,
            max_growth_pages: None,
            max_memory_pages: None,
            checks: all_checks(),
            points: 1.0,
            hidden: false,
            seed: None,
            script: None,
        }
    }

    pub fn checks(&self, check: MemoryCheck) -> bool {
        self.checks.contains(&check)
    }
}

/// A value passed to or expected from the submission, as JavaScript would see it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string. In an argument, `"$name"` refers to a value bound earlier with `as`.
    Str(String),
    /// A typed array (`Uint8Array`, `Float64Array`, ...) or a list of values.
    List(Vec<Value>),
    /// An instance of an exported struct (only ever produced by a call).
    #[serde(skip)]
    Object(String),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// Equality as a test expects it: numbers compare by value (within `tolerance`), lists
    /// element by element.
    pub fn matches(&self, actual: &Value, tolerance: f64) -> bool {
        match (self, actual) {
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.matches(b, tolerance))
            }
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => {
                    a == b || (a - b).abs() <= tolerance || (a.is_nan() && b.is_nan())
                }
                _ => a == b,
            },
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Object(class) => write!(f, "{class} {{ … }}"),
            Value::List(items) => {
                const SHOWN: usize = 16;
                write!(f, "[")?;
                for (i, item) in items.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                if items.len() > SHOWN {
                    write!(f, ", … {} more", items.len() - SHOWN)?;
                }
                write!(f, "]")
            }
        }
    }
}

/// A step of a scenario, as JavaScript code using the module would take it.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Call a free function, a method (`"buf.len"`) or an associated function (`"Buffer::with"`).
    Call(Call),
    /// `new Class(args)`: run the constructor and keep the object under a name.
    New(Call),
    /// `obj.free()`: free an object the host owns.
    Free { object: String },
    /// `new Uint8Array(memory.buffer, ptr, len)` (or another element type).
    View {
        name: String,
        ptr: Value,
        len: Value,
        elem: crate::abi::Elem,
    },
    /// Write values through a view, starting at element `at`.
    Write {
        view: String,
        at: u32,
        values: Vec<Value>,
    },
    /// Read `len` elements through a view, starting at element `at`.
    Read {
        view: String,
        at: u32,
        len: u32,
        expect: Option<Value>,
    },
    /// `memory.grow(pages)` from the host. Every view made before it is detached.
    Grow { pages: u32 },
}

/// A call: the callee, its arguments, what to expect and where to keep the result.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub target: String,
    pub args: Vec<Value>,
    pub expect: Expect,
    /// Binds the result (an object, for `New`) to this name.
    pub bind: Option<String>,
    /// How many times the call is made in a row (`repeat = 100` ticks a simulation 100
    /// times); each call must meet `expect`.
    pub repeat: u32,
    /// How many allocations the call may make (`max_allocations = 0`: it must not allocate).
    pub max_allocations: Option<u32>,
}

/// What a call must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Return anything, without trapping.
    Returns,
    /// Return this value (numbers within `tolerance`).
    Value { value: Value, tolerance: f64 },
    /// Panic, and if given, with a message containing this text.
    Panic(Option<String>),
}

impl Step {
    pub fn call(target: &str, args: Vec<Value>) -> Call {
        Call {
            target: target.into(),
            args,
            expect: Expect::Returns,
            bind: None,
            repeat: 1,
            max_allocations: None,
        }
    }
}

impl Call {
    pub fn expect(mut self, value: Value) -> Call {
        self.expect = Expect::Value {
            value,
            tolerance: 0.0,
        };
        self
    }

    pub fn expect_panic(mut self, containing: Option<&str>) -> Call {
        self.expect = Expect::Panic(containing.map(str::to_owned));
        self
    }

    pub fn bind(mut self, name: &str) -> Call {
        self.bind = Some(name.into());
        self
    }
}

/// The keys a `[[scenario]]` table may have, for authoring diagnostics (a test keeps this
/// list equal to what [`Scenario`] reads).
pub const SCENARIO_KEYS: &[&str] = &[
    "name",
    "steps",
    "fuel",
    "max_growth_pages",
    "max_memory_pages",
    "checks",
    "points",
    "hidden",
    "seed",
    "script",
];

/// The keys a step may have (a test keeps this list equal to what a step reads).
pub const STEP_KEYS: &[&str] = &[
    "call",
    "new",
    "free",
    "view",
    "write",
    "read",
    "grow",
    "args",
    "expect",
    "tolerance",
    "expect_panic",
    "as",
    "repeat",
    "max_allocations",
    "ptr",
    "len",
    "type",
    "at",
    "values",
];

/// The TOML form of a step: a table with exactly one action key (`call`, `new`, `free`,
/// `view`, `write`, `read`, `grow`) and the keys that action takes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    call: Option<String>,
    new: Option<String>,
    free: Option<String>,
    view: Option<String>,
    write: Option<String>,
    read: Option<String>,
    grow: Option<u32>,
    #[serde(default)]
    args: Vec<Value>,
    expect: Option<Value>,
    tolerance: Option<f64>,
    expect_panic: Option<ExpectPanic>,
    #[serde(rename = "as")]
    bind: Option<String>,
    repeat: Option<u32>,
    max_allocations: Option<u32>,
    ptr: Option<Value>,
    len: Option<Value>,
    #[serde(rename = "type")]
    elem: Option<String>,
    at: Option<u32>,
    values: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExpectPanic {
    Any(bool),
    Containing(String),
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawStep::deserialize(deserializer)?;
        Step::from_raw(raw).map_err(D::Error::custom)
    }
}

impl Step {
    fn from_raw(raw: RawStep) -> Result<Step, String> {
        let actions = [
            raw.call.is_some(),
            raw.new.is_some(),
            raw.free.is_some(),
            raw.view.is_some(),
            raw.write.is_some(),
            raw.read.is_some(),
            raw.grow.is_some(),
        ];
        if actions.iter().filter(|a| **a).count() != 1 {
            return Err("a step needs exactly one of `call`, `new`, `free`, `view`, `write`, `read`, `grow`".into());
        }
        let expect = || -> Result<Expect, String> {
            match (&raw.expect, &raw.expect_panic) {
                (Some(_), Some(_)) => {
                    Err("a step cannot have both `expect` and `expect_panic`".into())
                }
                (Some(v), None) => Ok(Expect::Value {
                    value: v.clone(),
                    tolerance: raw.tolerance.unwrap_or(0.0),
                }),
                (None, Some(ExpectPanic::Any(true))) => Ok(Expect::Panic(None)),
                (None, Some(ExpectPanic::Any(false))) => Ok(Expect::Returns),
                (None, Some(ExpectPanic::Containing(s))) => Ok(Expect::Panic(Some(s.clone()))),
                (None, None) => Ok(Expect::Returns),
            }
        };
        let call = |target: &String| -> Result<Call, String> {
            Ok(Call {
                target: target.clone(),
                args: raw.args.clone(),
                expect: expect()?,
                bind: raw.bind.clone(),
                repeat: 1,
                max_allocations: raw.max_allocations,
            })
        };
        if raw.max_allocations.is_some() && raw.call.is_none() && raw.new.is_none() {
            return Err("only a `call` or `new` step can set `max_allocations`".into());
        }
        if let Some(repeat) = raw.repeat {
            if raw.call.is_none() {
                return Err("only a `call` step can `repeat`".into());
            }
            if repeat == 0 {
                return Err("`repeat` is how many times to call: at least 1".into());
            }
        }
        if let Some(target) = &raw.call {
            let mut call = call(target)?;
            call.repeat = raw.repeat.unwrap_or(1);
            return Ok(Step::Call(call));
        }
        if let Some(class) = &raw.new {
            if raw.bind.is_none() {
                return Err(format!(
                    "`new = {class:?}` needs `as = \"name\"` to name the object"
                ));
            }
            return Ok(Step::New(call(class)?));
        }
        if let Some(object) = raw.free {
            return Ok(Step::Free { object });
        }
        if let Some(pages) = raw.grow {
            return Ok(Step::Grow { pages });
        }
        let elem = match &raw.elem {
            Some(name) => crate::abi::Elem::parse(name).ok_or_else(|| {
                format!("`type = {name:?}` is not an element type: use u8, i8, u16, i16, u32, i32, u64, i64, f32 or f64")
            })?,
            None => crate::abi::Elem::U8,
        };
        if let Some(name) = raw.view {
            let ptr = raw.ptr.ok_or("a `view` step needs `ptr`")?;
            let len = raw.len.ok_or("a `view` step needs `len`")?;
            return Ok(Step::View {
                name,
                ptr,
                len,
                elem,
            });
        }
        if let Some(view) = raw.write {
            let values = raw.values.ok_or("a `write` step needs `values`")?;
            return Ok(Step::Write {
                view,
                at: raw.at.unwrap_or(0),
                values,
            });
        }
        let view = raw.read.expect("one action is set");
        let len = match raw.len {
            Some(Value::Int(n)) if n >= 0 => n as u32,
            Some(_) => return Err("`len` of a `read` step is a number of elements".into()),
            None => return Err("a `read` step needs `len`".into()),
        };
        Ok(Step::Read {
            view,
            at: raw.at.unwrap_or(0),
            len,
            expect: raw.expect,
        })
    }
}

/// Parses a signature from its TOML string.
impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        Signature::parse(&text).map_err(D::Error::custom)
    }
}

/// Parses a type from its TOML string.
impl<'de> Deserialize<'de> for Ty {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        Ty::parse(&text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde lists the fields it expects when it meets an unknown one: those are the keys.
    fn expected_keys(err: &str) -> Vec<String> {
        let list = err
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("no list in {err}"));
        let mut keys: Vec<String> = list
            .lines()
            .next()
            .unwrap()
            .split(", ")
            .map(|k| k.trim_matches(|c| c == '`' || c == ' ').to_owned())
            .collect();
        keys.sort();
        keys
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn the_key_lists_are_what_serde_reads() {
        let step =
            toml::from_str::<Scenario>("name = \"s\"\nsteps = [{ call = \"f\", nonsense = 1 }]")
                .unwrap_err()
                .to_string();
        assert_eq!(expected_keys(&step), sorted(STEP_KEYS));
        let scenario = toml::from_str::<Scenario>("name = \"s\"\nsteps = []\nnonsense = 1")
            .unwrap_err()
            .to_string();
        assert_eq!(expected_keys(&scenario), sorted(SCENARIO_KEYS));
        let budget = toml::from_str::<ModuleBudget>("nonsense = 1")
            .unwrap_err()
            .to_string();
        // With two fields serde says "expected `a` or `b`".
        let [a, b] = BUDGET_KEYS else {
            panic!("the budget has two keys")
        };
        assert!(
            budget.contains(&format!("expected `{a}` or `{b}`")),
            "{budget}"
        );
    }

    #[test]
    fn steps_parse_from_toml() {
        let spec: Spec = toml::from_str(
            r#"
            [exports]
            functions = ["fn double(data: &[u8]) -> Vec<u8>"]
            [exports.structs.Buffer]
            constructor = "fn new(size: usize) -> Buffer"
            methods = ["fn ptr(&self) -> *const u8"]

            [[scenario]]
            name = "round trip"
            max_growth_pages = 2
            steps = [
              { call = "double", args = [[1, 2]], expect = [2, 4] },
              { new = "Buffer", args = [8], as = "buf" },
              { call = "buf.ptr", as = "p" },
              { view = "v", ptr = "$p", len = 8, type = "f64" },
              { write = "v", values = [1.5] },
              { read = "v", len = 1, expect = [1.5] },
              { grow = 1 },
              { call = "boom", expect_panic = "index out of bounds" },
              { free = "buf" },
            ]
            "#,
        )
        .unwrap();
        let steps = &spec.scenarios[0].steps;
        assert_eq!(steps.len(), 9);
        assert_eq!(
            steps[0],
            Step::Call(
                Step::call(
                    "double",
                    vec![Value::List(vec![Value::Int(1), Value::Int(2)])]
                )
                .expect(Value::List(vec![Value::Int(2), Value::Int(4)]))
            )
        );
        assert!(matches!(
            &steps[3],
            Step::View {
                elem: crate::abi::Elem::F64,
                ..
            }
        ));
        assert_eq!(
            steps[7],
            Step::Call(Step::call("boom", vec![]).expect_panic(Some("index out of bounds")))
        );
        assert_eq!(spec.scenarios[0].max_growth_pages, Some(2));
        assert_eq!(
            spec.exports.method("Buffer", "ptr").unwrap().params.len(),
            0
        );
    }

    #[test]
    fn a_step_with_two_actions_is_rejected() {
        let err = toml::from_str::<Spec>(
            "[[scenario]]\nname = \"x\"\nsteps = [{ call = \"f\", grow = 1 }]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }

    #[test]
    fn numbers_match_across_int_and_float() {
        assert!(Value::Int(3).matches(&Value::Float(3.0), 0.0));
        assert!(!Value::Int(3).matches(&Value::Float(3.5), 0.0));
        assert!(Value::Float(0.1 + 0.2).matches(&Value::Float(0.3), 1e-9));
    }
}

/// An authoring mistake found without running anything: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub scenario: Option<usize>,
    pub step: Option<usize>,
    pub message: String,
}

impl Spec {
    /// Settings that can never take effect, so a check an author asked for would never run:
    /// a growth budget on a scenario that does not check growth, an allocation budget on a
    /// step that expects a panic (the call never returns to be counted).
    pub fn warnings(&self) -> Vec<SpecError> {
        let mut out = Vec::new();
        for (index, scenario) in self.scenarios.iter().enumerate() {
            if scenario.max_growth_pages.is_some() && !scenario.checks(MemoryCheck::Growth) {
                out.push(SpecError {
                    scenario: Some(index),
                    step: None,
                    message: "`max_growth_pages` is never checked: `checks` leaves out `growth`"
                        .into(),
                });
            }
            for (s, step) in scenario.steps.iter().enumerate() {
                if let Step::Call(call) | Step::New(call) = step
                    && call.max_allocations.is_some()
                    && matches!(call.expect, Expect::Panic(_))
                {
                    out.push(SpecError {
                        scenario: Some(index),
                        step: Some(s),
                        message:
                            "`max_allocations` is never checked on a step that expects a panic"
                                .into(),
                    });
                }
            }
        }
        out
    }

    /// Every mistake in the spec, all at once: steps that name undeclared exports, objects,
    /// views or variables; wrong argument counts; a panic expected before the last step; types
    /// that name undeclared structs.
    pub fn validate(&self) -> Vec<SpecError> {
        let mut errors = Vec::new();
        let mut top = |message: String| {
            errors.push(SpecError {
                scenario: None,
                step: None,
                message,
            })
        };
        let declared = |name: &str| self.exports.structs.contains_key(name) || name == "Self";
        let sigs = self.exports.functions.iter().map(|s| (None, s)).chain(
            self.exports.structs.iter().flat_map(|(c, s)| {
                s.constructor
                    .iter()
                    .chain(&s.methods)
                    .map(move |m| (Some(c), m))
            }),
        );
        for (class, sig) in sigs {
            let types = sig
                .params
                .iter()
                .map(|(_, t)| t)
                .chain(std::iter::once(&sig.ret));
            for ty in types {
                if let Ty::Struct(name) | Ty::StructRef(name) = ty
                    && !declared(name)
                {
                    let owner = class.map(|c| format!("{c}::")).unwrap_or_default();
                    top(format!(
                        "`{owner}{}` uses `{name}`, which is not a declared struct",
                        sig.name
                    ));
                }
            }
        }
        if self.scenarios.is_empty() {
            top("the exercise has no `[[scenario]]`".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, scenario) in self.scenarios.iter().enumerate() {
            if !names.insert(scenario.name.as_str()) {
                errors.push(SpecError {
                    scenario: Some(i),
                    step: None,
                    message: format!(
                        "two scenarios are named {:?}; names must be unique",
                        scenario.name
                    ),
                });
            }
            let message = match (&scenario.script, scenario.steps.is_empty()) {
                (None, true) => Some("the scenario has no steps (and no `script`)"),
                (Some(_), false) => Some("a scenario has `steps` or a `script`, not both"),
                (Some(s), true) if s.trim().is_empty() => Some("the scenario's `script` is empty"),
                _ => None,
            };
            if let Some(message) = message {
                errors.push(SpecError {
                    scenario: Some(i),
                    step: None,
                    message: message.into(),
                });
            } else if let Some(script) = &scenario.script
                && let Some(why) = crate::js::script_error(script)
            {
                errors.push(SpecError {
                    scenario: Some(i),
                    step: None,
                    message: format!("the scenario's `script` does not compile: {why}"),
                });
            }
            self.validate_steps(i, scenario, &mut errors);
        }
        errors
    }

    fn validate_steps(&self, index: usize, scenario: &Scenario, errors: &mut Vec<SpecError>) {
        let mut objects: BTreeMap<&str, &str> = BTreeMap::new();
        let mut vars = std::collections::HashSet::new();
        let mut views = std::collections::HashSet::new();
        let last = scenario.steps.len().saturating_sub(1);
        for (s, step) in scenario.steps.iter().enumerate() {
            let mut err = |message: String| {
                errors.push(SpecError {
                    scenario: Some(index),
                    step: Some(s),
                    message,
                })
            };
            let refs_ok = |v: &Value,
                           err: &mut dyn FnMut(String),
                           objects: &BTreeMap<&str, &str>,
                           vars: &std::collections::HashSet<&str>| {
                let mut stack = vec![v];
                while let Some(v) = stack.pop() {
                    match v {
                        Value::Str(s) if s.starts_with('$') && !s.starts_with("$$") => {
                            let name = &s[1..];
                            if !vars.contains(name) && !objects.contains_key(name) {
                                err(format!(
                                    "`{s}` is used before any step binds it with `as = {name:?}`"
                                ));
                            }
                        }
                        Value::List(items) => stack.extend(items),
                        _ => {}
                    }
                }
            };
            match step {
                Step::Call(call) | Step::New(call) => {
                    let is_new = matches!(step, Step::New(_));
                    let sig = match self
                        .exports
                        .resolve(call, is_new, |o| objects.get(o).copied())
                    {
                        Ok(resolved) => Some(resolved.sig),
                        Err(message) => {
                            err(message);
                            None
                        }
                    };
                    if let Some(sig) = sig
                        && sig.params.len() != call.args.len()
                    {
                        err(format!(
                            "`{}` takes {} arguments, the step gives {}",
                            sig.text,
                            sig.params.len(),
                            call.args.len()
                        ));
                    }
                    for arg in &call.args {
                        refs_ok(arg, &mut err, &objects, &vars);
                    }
                    if matches!(call.expect, Expect::Panic(_)) && s != last {
                        err("a step that expects a panic must be the scenario's last: a trapped instance cannot be used again".into());
                    }
                    if let Some(bind) = &call.bind {
                        let class = match (is_new, sig.map(|s| &s.ret)) {
                            (true, _) => Some(call.target.as_str()),
                            (false, Some(Ty::Struct(c))) if c != "Self" => Some(c.as_str()),
                            (false, Some(Ty::Struct(_))) => {
                                call.target.split_once("::").map(|(c, _)| c)
                            }
                            _ => None,
                        };
                        match class {
                            Some(class) => {
                                objects.insert(bind, class);
                            }
                            None => {
                                vars.insert(bind.as_str());
                            }
                        }
                    }
                }
                Step::Free { object } => {
                    if objects.remove(object.as_str()).is_none() {
                        err(format!("`free = {object:?}` names no live object"));
                    }
                }
                Step::View { name, ptr, len, .. } => {
                    refs_ok(ptr, &mut err, &objects, &vars);
                    refs_ok(len, &mut err, &objects, &vars);
                    views.insert(name.as_str());
                }
                Step::Write { view, .. } | Step::Read { view, .. } => {
                    if !views.contains(view.as_str()) {
                        err(format!(
                            "`{view}` is not a view made by an earlier `view` step"
                        ));
                    }
                }
                Step::Grow { .. } => {}
            }
        }
    }
}

#[cfg(test)]
mod validate_tests {
    use super::*;

    #[test]
    fn a_script_is_one_or_the_other_and_must_compile() {
        let spec: Spec = toml::from_str(
            r#"
            [[scenario]]
            name = "fine"
            script = "await t.step('x', () => t.ok(mod.f() > 0));"
            [[scenario]]
            name = "broken"
            script = "await t.step('x', () => { t.ok(1 ;"
            [[scenario]]
            name = "both"
            script = "t.ok(true);"
            steps = [{ call = "f" }]
            [[scenario]]
            name = "empty"
            script = "  "
            "#,
        )
        .unwrap();
        let errors: Vec<(Option<usize>, String)> = spec
            .validate()
            .into_iter()
            .filter(|e| e.step.is_none())
            .map(|e| (e.scenario, e.message))
            .collect();
        assert!(!errors.iter().any(|(s, _)| *s == Some(0)), "{errors:?}");
        assert!(
            errors.iter().any(|(s, m)| *s == Some(1)
                && m.contains("does not compile")
                && m.contains("SyntaxError")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|(s, m)| *s == Some(2) && m.contains("not both"))
        );
        assert!(
            errors
                .iter()
                .any(|(s, m)| *s == Some(3) && m.contains("is empty"))
        );
    }

    #[test]
    fn finds_every_mistake_at_once() {
        let spec: Spec = toml::from_str(
            r#"
            [exports]
            functions = ["fn double(data: &[u8]) -> Vec<u8>", "fn make() -> Widget"]
            [exports.structs.Buffer]
            constructor = "fn new(size: usize) -> Self"
            methods = ["fn ptr(&self) -> *const u8"]

            [[scenario]]
            name = "one"
            steps = [
              { call = "dubble", args = [[1]] },
              { call = "double", args = [] },
              { new = "Buffer", args = [8], as = "buf" },
              { call = "buf.len" },
              { call = "buf.ptr", as = "p" },
              { view = "v", ptr = "$q", len = 4 },
              { read = "w", len = 1 },
              { call = "double", args = [[1]], expect_panic = true },
              { free = "buf" },
              { free = "buf" },
            ]
            [[scenario]]
            name = "one"
            steps = []
            "#,
        )
        .unwrap();
        let errors: Vec<(Option<usize>, Option<usize>, String)> = spec
            .validate()
            .into_iter()
            .map(|e| (e.scenario, e.step, e.message))
            .collect();
        let has = |scenario: Option<usize>, step: Option<usize>, text: &str| {
            errors
                .iter()
                .any(|(sc, st, m)| *sc == scenario && *st == step && m.contains(text))
        };
        assert!(
            has(None, None, "`Widget`, which is not a declared struct"),
            "{errors:#?}"
        );
        assert!(
            has(Some(0), Some(0), "`dubble` is not a declared function"),
            "{errors:#?}"
        );
        assert!(
            has(Some(0), Some(1), "takes 1 arguments, the step gives 0"),
            "{errors:#?}"
        );
        assert!(
            has(Some(0), Some(3), "`Buffer` has no declared method `len`"),
            "{errors:#?}"
        );
        assert!(has(Some(0), Some(5), "`$q` is used before"), "{errors:#?}");
        assert!(has(Some(0), Some(6), "`w` is not a view"), "{errors:#?}");
        assert!(
            has(Some(0), Some(7), "must be the scenario's last"),
            "{errors:#?}"
        );
        assert!(has(Some(0), Some(9), "names no live object"), "{errors:#?}");
        assert!(has(Some(1), None, "names must be unique"), "{errors:#?}");
        assert!(has(Some(1), None, "has no steps"), "{errors:#?}");
        assert_eq!(errors.len(), 10, "{errors:#?}");
    }

    #[test]
    fn settings_that_can_never_take_effect_are_warned_about() {
        let spec: Spec = toml::from_str(
            r#"
            [exports]
            functions = ["fn boom()"]

            [[scenario]]
            name = "budget without the check"
            max_growth_pages = 1
            checks = ["leaks"]
            steps = [{ call = "boom", expect_panic = true, max_allocations = 0 }]
            "#,
        )
        .unwrap();
        let warnings = spec.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].message.contains("max_growth_pages"));
        assert_eq!(warnings[1].step, Some(0));
    }
}
