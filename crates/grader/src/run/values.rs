//! Values between the scenario and core wasm: integers, elements of typed arrays, and a
//! step as JavaScript would write it.

use super::*;

pub(super) const NONE: f64 = abi::NONE_SENTINEL;

pub(super) fn as_u32(v: &Value) -> Option<u32> {
    match v {
        Value::Int(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

pub(super) fn lower_int(int: Int, n: i64) -> Option<Val> {
    let (lo, hi) = int.range();
    if !(lo..=hi).contains(&i128::from(n)) {
        return None;
    }
    Some(if int.is_64() {
        Val::I64(n)
    } else {
        Val::I32(n as u32 as i32)
    })
}

pub(super) fn lift_int(int: Int, raw: i32) -> i64 {
    match int {
        Int::U8 => i64::from(raw as u8),
        Int::U16 => i64::from(raw as u16),
        Int::U32 | Int::Usize => i64::from(raw as u32),
        Int::I8 => i64::from(raw as i8),
        Int::I16 => i64::from(raw as i16),
        _ => i64::from(raw),
    }
}

/// Encodes values as little-endian elements.
pub(super) fn encode(values: &[Value], elem: Elem) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(values.len() * elem.size() as usize);
    for v in values {
        let bad = || format!("{v} is not a `{}`", elem.rust_name());
        match (elem, v) {
            (Elem::F32, v) => out.extend((v.as_f64().ok_or_else(bad)? as f32).to_le_bytes()),
            (Elem::F64, v) => out.extend(v.as_f64().ok_or_else(bad)?.to_le_bytes()),
            (_, Value::Int(n)) => {
                let n = *n;
                let fits = |lo: i64, hi: i64| (lo..=hi).contains(&n);
                let ok = match elem {
                    Elem::U8 => fits(0, 255),
                    Elem::I8 => fits(-128, 127),
                    Elem::U16 => fits(0, 65_535),
                    Elem::I16 => fits(-32_768, 32_767),
                    Elem::U32 => fits(0, u32::MAX.into()),
                    Elem::I32 => fits(i32::MIN.into(), i32::MAX.into()),
                    Elem::U64 => n >= 0,
                    _ => true,
                };
                if !ok {
                    return Err(format!("{n} does not fit in `{}`", elem.rust_name()));
                }
                out.extend(&n.to_le_bytes()[..elem.size() as usize]);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

pub(super) fn decode(bytes: &[u8], elem: Elem) -> Value {
    let size = elem.size() as usize;
    Value::List(
        bytes
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(c);
                let u = u64::from_le_bytes(b);
                match elem {
                    Elem::U8 | Elem::U16 | Elem::U32 => Value::Int(u as i64),
                    Elem::I8 => Value::Int(i64::from(u as u8 as i8)),
                    Elem::I16 => Value::Int(i64::from(u as u16 as i16)),
                    Elem::I32 => Value::Int(i64::from(u as u32 as i32)),
                    Elem::I64 => Value::Int(u as i64),
                    Elem::U64 if u <= i64::MAX as u64 => Value::Int(u as i64),
                    Elem::U64 => Value::Float(u as f64),
                    Elem::F32 => Value::Float(f64::from(f32::from_bits(u as u32))),
                    Elem::F64 => Value::Float(f64::from_bits(u)),
                }
            })
            .collect(),
    )
}

/// An argument as JavaScript would write it: `$name` is the variable `name`.
pub(super) fn arg_text(value: &Value) -> String {
    match value {
        Value::Str(s) if s.starts_with('$') && !s.starts_with("$$") => s[1..].to_owned(),
        v => v.to_string(),
    }
}

/// The step as JavaScript would write it.
pub(super) fn call_text(call: &Call, is_new: bool, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(arg_text).collect();
    let call_expr = if is_new {
        format!("new {}({})", call.target, args.join(", "))
    } else {
        format!("{}({})", call.target.replace("::", "."), args.join(", "))
    };
    match &call.bind {
        Some(name) => format!("{name} = {call_expr}"),
        None => call_expr,
    }
}
