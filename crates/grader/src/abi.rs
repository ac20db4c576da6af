//! wasm-bindgen's calling conventions, as its JavaScript glue applies them: which Rust types an
//! exercise may use in its exports, what each lowers to in core wasm, and how JavaScript sees it.
//!
//! The ABI host in [`crate::run`] uses these to call a processed module exactly as the glue
//! would, and [`crate::check`] compares a submission's exports against the declared signatures.

use std::fmt;

use wasmtime::ValType;

/// A typed-array element type: what a `&[T]`, `Vec<T>`, `*const T` or host view holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elem {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
}

impl Elem {
    pub fn parse(name: &str) -> Option<Elem> {
        Some(match name {
            "u8" => Elem::U8,
            "i8" => Elem::I8,
            "u16" => Elem::U16,
            "i16" => Elem::I16,
            "u32" => Elem::U32,
            "i32" => Elem::I32,
            "u64" => Elem::U64,
            "i64" => Elem::I64,
            "f32" => Elem::F32,
            "f64" => Elem::F64,
            _ => return None,
        })
    }

    pub fn rust_name(self) -> &'static str {
        match self {
            Elem::U8 => "u8",
            Elem::I8 => "i8",
            Elem::U16 => "u16",
            Elem::I16 => "i16",
            Elem::U32 => "u32",
            Elem::I32 => "i32",
            Elem::U64 => "u64",
            Elem::I64 => "i64",
            Elem::F32 => "f32",
            Elem::F64 => "f64",
        }
    }

    /// The JavaScript typed array over this element type.
    pub fn js_array(self) -> &'static str {
        match self {
            Elem::U8 => "Uint8Array",
            Elem::I8 => "Int8Array",
            Elem::U16 => "Uint16Array",
            Elem::I16 => "Int16Array",
            Elem::U32 => "Uint32Array",
            Elem::I32 => "Int32Array",
            Elem::U64 => "BigUint64Array",
            Elem::I64 => "BigInt64Array",
            Elem::F32 => "Float32Array",
            Elem::F64 => "Float64Array",
        }
    }

    /// Size in bytes, which is also the alignment a typed array view requires.
    pub fn size(self) -> u32 {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::U16 | Elem::I16 => 2,
            Elem::U32 | Elem::I32 | Elem::F32 => 4,
            Elem::U64 | Elem::I64 | Elem::F64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Elem::F32 | Elem::F64)
    }
}

/// Integer types other than the 64-bit ones all travel as one `i32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    Isize,
    Usize,
    I64,
    U64,
}

impl Int {
    fn parse(name: &str) -> Option<Int> {
        Some(match name {
            "i8" => Int::I8,
            "u8" => Int::U8,
            "i16" => Int::I16,
            "u16" => Int::U16,
            "i32" => Int::I32,
            "u32" => Int::U32,
            "isize" => Int::Isize,
            "usize" => Int::Usize,
            "i64" => Int::I64,
            "u64" => Int::U64,
            _ => return None,
        })
    }

    pub fn rust_name(self) -> &'static str {
        match self {
            Int::I8 => "i8",
            Int::U8 => "u8",
            Int::I16 => "i16",
            Int::U16 => "u16",
            Int::I32 => "i32",
            Int::U32 => "u32",
            Int::Isize => "isize",
            Int::Usize => "usize",
            Int::I64 => "i64",
            Int::U64 => "u64",
        }
    }

    pub fn is_64(self) -> bool {
        matches!(self, Int::I64 | Int::U64)
    }

    pub fn is_signed(self) -> bool {
        matches!(self, Int::I8 | Int::I16 | Int::I32 | Int::Isize | Int::I64)
    }

    /// The range of values of this type, for checking arguments before a call.
    pub fn range(self) -> (i128, i128) {
        match self {
            Int::I8 => (i8::MIN.into(), i8::MAX.into()),
            Int::U8 => (0, u8::MAX.into()),
            Int::I16 => (i16::MIN.into(), i16::MAX.into()),
            Int::U16 => (0, u16::MAX.into()),
            Int::I32 | Int::Isize => (i32::MIN.into(), i32::MAX.into()),
            Int::U32 | Int::Usize => (0, u32::MAX.into()),
            Int::I64 => (i64::MIN.into(), i64::MAX.into()),
            Int::U64 => (0, u64::MAX.into()),
        }
    }
}

/// A Rust type an exported signature may use.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Unit,
    Bool,
    Int(Int),
    F32,
    F64,
    /// `Option` of a number.
    Option(Box<Ty>),
    /// `&[T]`: copied in by the host, freed by Rust.
    Slice(Elem),
    /// `Vec<T>`: as an argument copied in and owned by Rust; as a result copied out and freed
    /// by the host.
    Vec(Elem),
    /// `&str`
    Str,
    String,
    /// An exported struct by value: as an argument it is consumed.
    Struct(String),
    /// `&Struct` or `&mut Struct`: borrowed.
    StructRef(String),
    /// `*const T` or `*mut T`: an address, as a number.
    Ptr(Elem),
}

impl Ty {
    /// Parses a Rust type as written in a signature.
    pub fn parse(text: &str) -> Result<Ty, String> {
        let t = text.trim();
        let unsupported = || {
            Err(format!(
                "`{t}` is not a type a TOML step can pass: use a number, `bool`, `Option<number>`, `&[T]`, `Vec<T>`, `&str`, `String`, `*const T`, or an exported struct; for anything else (a `JsValue`, js-sys objects, closures, an `async fn`), write the scenario in JavaScript (`script`)"
            ))
        };
        if t == "()" || t.is_empty() {
            return Ok(Ty::Unit);
        }
        if let Some(int) = Int::parse(t) {
            return Ok(Ty::Int(int));
        }
        match t {
            "bool" => return Ok(Ty::Bool),
            "f32" => return Ok(Ty::F32),
            "f64" => return Ok(Ty::F64),
            "String" => return Ok(Ty::String),
            "&str" => return Ok(Ty::Str),
            _ => {}
        }
        let elem = |inner: &str| Elem::parse(inner.trim()).ok_or(());
        if let Some(inner) = t.strip_prefix("&[").and_then(|r| r.strip_suffix(']')) {
            return elem(inner).map(Ty::Slice).or_else(|_| unsupported());
        }
        if let Some(inner) = t.strip_prefix("Vec<").and_then(|r| r.strip_suffix('>')) {
            return elem(inner).map(Ty::Vec).or_else(|_| unsupported());
        }
        if let Some(inner) = t.strip_prefix("Option<").and_then(|r| r.strip_suffix('>')) {
            let inner = Ty::parse(inner)?;
            return match inner {
                Ty::Int(i) if !i.is_64() => Ok(Ty::Option(Box::new(inner))),
                Ty::F64 => Ok(Ty::Option(Box::new(inner))),
                _ => unsupported(),
            };
        }
        for prefix in ["*const ", "*mut "] {
            if let Some(inner) = t.strip_prefix(prefix) {
                return elem(inner).map(Ty::Ptr).or_else(|_| unsupported());
            }
        }
        let is_ident = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        for prefix in ["&mut ", "&"] {
            if let Some(inner) = t.strip_prefix(prefix) {
                let inner = inner.trim();
                return if is_ident(inner) {
                    Ok(Ty::StructRef(inner.to_owned()))
                } else {
                    unsupported()
                };
            }
        }
        if is_ident(t) {
            return Ok(Ty::Struct(t.to_owned()));
        }
        unsupported()
    }

    /// Replaces `Self` with the struct's name.
    pub fn resolve_self(&mut self, class: &str) {
        match self {
            Ty::Struct(name) | Ty::StructRef(name) if name == "Self" => *name = class.to_owned(),
            _ => {}
        }
    }

    /// The core wasm parameters this type lowers to, as wasm-bindgen 0.2.130 lowers it.
    pub fn params(&self) -> Vec<ValType> {
        use ValType::*;
        match self {
            Ty::Unit => vec![],
            Ty::Bool | Ty::Ptr(_) | Ty::Struct(_) | Ty::StructRef(_) => vec![I32],
            Ty::Int(i) if i.is_64() => vec![I64],
            Ty::Int(_) => vec![I32],
            Ty::F32 => vec![F32],
            Ty::F64 => vec![F64],
            // `Option<f64>` and `Option<i64>` carry a presence flag beside the payload; the
            // narrower numbers fit a sentinel value into an `f64`.
            Ty::Option(inner) => match **inner {
                Ty::F64 => vec![I32, F64],
                Ty::Int(_) => vec![F64],
                _ => unreachable!("parse only builds options of numbers"),
            },
            Ty::Slice(_) | Ty::Vec(_) | Ty::Str | Ty::String => vec![I32, I32],
        }
    }

    /// The core wasm results this type lowers to as a return type.
    pub fn results(&self) -> Vec<ValType> {
        self.params()
    }

    /// How JavaScript (and the generated `.d.ts`) names this type.
    pub fn js(&self) -> String {
        match self {
            Ty::Unit => "void".into(),
            Ty::Bool => "boolean".into(),
            Ty::Int(i) if i.is_64() => "bigint".into(),
            Ty::Int(_) | Ty::F32 | Ty::F64 | Ty::Ptr(_) => "number".into(),
            Ty::Option(inner) => format!("{} | undefined", inner.js()),
            Ty::Slice(e) | Ty::Vec(e) => e.js_array().into(),
            Ty::Str | Ty::String => "string".into(),
            Ty::Struct(name) | Ty::StructRef(name) => name.clone(),
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Unit => write!(f, "()"),
            Ty::Bool => write!(f, "bool"),
            Ty::Int(i) => write!(f, "{}", i.rust_name()),
            Ty::F32 => write!(f, "f32"),
            Ty::F64 => write!(f, "f64"),
            Ty::Option(inner) => write!(f, "Option<{inner}>"),
            Ty::Slice(e) => write!(f, "&[{}]", e.rust_name()),
            Ty::Vec(e) => write!(f, "Vec<{}>", e.rust_name()),
            Ty::Str => write!(f, "&str"),
            Ty::String => write!(f, "String"),
            Ty::Struct(name) => write!(f, "{name}"),
            Ty::StructRef(name) => write!(f, "&{name}"),
            Ty::Ptr(e) => write!(f, "*const {}", e.rust_name()),
        }
    }
}

/// How a method takes `self`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// An associated function or a free function.
    None,
    /// `&self` or `&mut self`.
    Borrow,
    /// `self`: the object is consumed and JavaScript's handle is dead afterwards.
    Consume,
}

/// A declared export: `fn name(params) -> ret`, optionally with a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub name: String,
    pub receiver: Receiver,
    pub params: Vec<(String, Ty)>,
    pub ret: Ty,
    /// The text as written, for messages.
    pub text: String,
}

impl Signature {
    /// Parses `[pub] fn name([&self | &mut self | self,] a: T, ...) [-> R]`.
    pub fn parse(text: &str) -> Result<Signature, String> {
        let t = text.trim();
        let t = t.strip_prefix("pub ").unwrap_or(t).trim_start();
        let rest = t
            .strip_prefix("fn ")
            .ok_or_else(|| format!("`{text}` should look like `fn name(arg: Type) -> Type`"))?;
        let open = rest
            .find('(')
            .ok_or_else(|| format!("`{text}` has no parameter list"))?;
        let close = rest
            .rfind(')')
            .ok_or_else(|| format!("`{text}` has no closing `)`"))?;
        let name = rest[..open].trim().to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{name}` in `{text}` is not a function name"));
        }
        let ret = match rest[close + 1..].trim() {
            "" => Ty::Unit,
            r => Ty::parse(
                r.strip_prefix("->")
                    .ok_or_else(|| format!("unexpected `{r}` in `{text}`"))?,
            )?,
        };
        let mut receiver = Receiver::None;
        let mut params = Vec::new();
        for (i, param) in split_top_level(&rest[open + 1..close])
            .into_iter()
            .enumerate()
        {
            let param = param.trim();
            if param.is_empty() {
                continue;
            }
            match param {
                "&self" | "&mut self" if i == 0 => receiver = Receiver::Borrow,
                "self" | "mut self" if i == 0 => receiver = Receiver::Consume,
                _ => {
                    let (pname, ty) = param
                        .split_once(':')
                        .ok_or_else(|| format!("parameter `{param}` in `{text}` needs a type"))?;
                    params.push((pname.trim().to_owned(), Ty::parse(ty)?));
                }
            }
        }
        Ok(Signature {
            name,
            receiver,
            params,
            ret,
            text: text.trim().to_owned(),
        })
    }

    /// The core wasm parameter types of the export, receiver first.
    pub fn core_params(&self) -> Vec<ValType> {
        let mut out = Vec::new();
        if self.receiver != Receiver::None {
            out.push(ValType::I32);
        }
        for (_, ty) in &self.params {
            out.extend(ty.params());
        }
        out
    }

    /// The signature as the generated TypeScript declares it, e.g.
    /// `double(data: Uint8Array): Uint8Array`.
    pub fn js(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(n, t)| format!("{}: {}", camel_case(n), t.js()))
            .collect();
        format!(
            "{}({}): {}",
            camel_case(&self.name),
            params.join(", "),
            self.ret.js()
        )
    }
}

/// wasm-bindgen exposes `snake_case` Rust names in camelCase to JavaScript only when asked
/// (`js_name`); by default the names stay as written.
fn camel_case(name: &str) -> String {
    name.to_owned()
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '[' | '(' => depth += 1,
            '>' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The name of the processed module's export for a method of an exported struct.
pub fn method_export(class: &str, method: &str) -> String {
    format!("{}_{}", class.to_lowercase(), method)
}

/// The name of the processed module's export that frees an object of an exported struct.
pub fn free_export(class: &str) -> String {
    format!("__wbg_{}_free", class.to_lowercase())
}

pub const MALLOC: &str = "__wbindgen_malloc";
pub const FREE: &str = "__wbindgen_free";
pub const START: &str = "__wbindgen_start";

/// `Option<u32>`-like numbers travel as an `f64` with this value for `None`.
pub const NONE_SENTINEL: f64 = 9_007_199_254_740_991.0; // Number.MAX_SAFE_INTEGER

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lessons_signatures() {
        let s = Signature::parse("pub fn process(data: &[u8]) -> Vec<u8>").unwrap();
        assert_eq!(s.params, vec![("data".into(), Ty::Slice(Elem::U8))]);
        assert_eq!(s.ret, Ty::Vec(Elem::U8));
        assert_eq!(s.js(), "process(data: Uint8Array): Uint8Array");
        let m = Signature::parse("fn ptr(&self) -> *const u8").unwrap();
        assert_eq!(m.receiver, Receiver::Borrow);
        assert!(matches!(m.core_params()[..], [ValType::I32]));
        let c = Signature::parse("fn new(size: usize, fill: Option<f64>) -> Self").unwrap();
        assert_eq!(c.params[1].1, Ty::Option(Box::new(Ty::F64)));
        assert!(
            Signature::parse("fn f(x: HashMap<u8, u8>)")
                .unwrap_err()
                .contains("not a type")
        );
        assert!(
            Signature::parse("fn f(x)")
                .unwrap_err()
                .contains("needs a type")
        );
    }

    #[test]
    fn export_names_follow_wasm_bindget() {
        assert_eq!(method_export("GameOfLife", "tick"), "gameoflife_tick");
        assert_eq!(free_export("Buffer"), "__wbg_buffer_free");
    }
}
