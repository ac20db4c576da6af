use std::collections::BTreeMap;

use super::*;

/// A glue in the shape wasm-bindgen 0.2.130 writes it for `--target web`.
const GLUE: &str = r#"
export function hello(name) { wasm.hello(name); }
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_log_aaaa: function(arg0, arg1) {
            console.log(getStringFromWasm0(arg0, arg1));
        },
        __wbg_warn_bbbb: function(arg0, arg1) {
            console.warn(arg0, arg1);
        },
        __wbg_error_cccc: function(arg0, arg1) {
            let deferred0_0;
            let deferred0_1;
            try {
                deferred0_0 = arg0;
                deferred0_1 = arg1;
                console.error(getStringFromWasm0(arg0, arg1));
            } finally {
                wasm.__wbindgen_free(deferred0_0, deferred0_1, 1);
            }
        },
        __wbg_getElementById_dddd: function(arg0, arg1, arg2) {
            const ret = arg0.getElementById(getStringFromWasm0(arg1, arg2));
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbg_static_accessor_WINDOW_eeee: function() {
            const ret = typeof window === 'undefined' ? undefined : window;
            return isLikeNone(ret) ? 0 : addToExternrefTable0(ret);
        },
        __wbg_instanceof_Window_ffff: function(arg0) {
            let result;
            try { result = arg0 instanceof Window; } catch (_) { result = false; }
            const ret = result;
            return ret;
        },
        __wbg_string_get_1111: function(arg0, arg1) {
            const obj = arg1;
            const ret = typeof(obj) === 'string' ? obj : undefined;
            var ptr1 = isLikeNone(ret) ? 0 : passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            var len1 = WASM_VECTOR_LEN;
            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);
            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);
        },
        __wbg_time_2222: function(arg0, arg1) {
            console.time(getStringFromWasm0(arg0, arg1));
        },
        __wbg_timeEnd_3333: function(arg0, arg1) {
            console.timeEnd(getStringFromWasm0(arg0, arg1));
        },
        __wbg_throw_4444: function(arg0, arg1) {
            throw new Error(getStringFromWasm0(arg0, arg1));
        },
        __wbindgen_generic_0000000000000001: function(arg0) {
            // Cast intrinsic for `F64 -> Externref`.
            const ret = arg0;
            return ret;
        },
        __wbg_getRandomValues_9999: function(arg0, arg1) {
            crypto.getRandomValues(getArrayU8FromWasm0(arg0, arg1));
        },
        __wbg_weird_5555: function(arg0) {
            for (const x of arg0) {}
        },
    };
    return {
        __proto__: null,
        "./submission_bg.js": import0,
    };
}
function addToExternrefTable0(obj) { return 0; }
"#;

#[derive(Default)]
struct Mock {
    memory: Vec<u8>,
    lines: Vec<(String, String)>,
    freed: Vec<Vec<JsVal>>,
    clock: f64,
    timers: BTreeMap<String, f64>,
    vector_len: f64,
    ids: u64,
}

impl Env for Mock {
    fn read(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, Abort> {
        Ok(self.memory[ptr as usize..(ptr + len) as usize].to_vec())
    }
    fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Abort> {
        self.memory[ptr as usize..ptr as usize + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }
    fn call_export(&mut self, name: &str, args: &[JsVal]) -> Result<JsVal, Abort> {
        match name {
            "__wbindgen_malloc" => Ok(JsVal::Number(64.0)),
            "__wbindgen_free" => {
                self.freed.push(args.to_vec());
                Ok(JsVal::Undefined)
            }
            _ => panic!("unexpected export {name}"),
        }
    }
    fn table_get(&mut self, _: u32) -> Result<JsVal, Abort> {
        Ok(JsVal::Undefined)
    }
    fn table_set(&mut self, _: u32, _: JsVal) -> Result<(), Abort> {
        Ok(())
    }
    fn console(&mut self, method: &str, text: String) {
        self.lines.push((method.into(), text));
    }
    fn now(&mut self) -> f64 {
        self.clock
    }
    fn date_now(&mut self) -> f64 {
        1_700_000_000_000.0 + self.clock
    }
    fn random(&mut self) -> f64 {
        0.5
    }
    fn stack_trace(&mut self) -> String {
        "    at f (wasm)".into()
    }
    fn new_id(&mut self) -> u64 {
        self.ids += 1;
        self.ids
    }
    fn timers(&mut self) -> &mut BTreeMap<String, f64> {
        &mut self.timers
    }
    fn vector_len(&mut self) -> &mut f64 {
        &mut self.vector_len
    }
}

fn mock(text: &str) -> Mock {
    let mut memory = vec![0; 128];
    memory[..text.len()].copy_from_slice(text.as_bytes());
    Mock {
        memory,
        ..Mock::default()
    }
}

fn n(x: f64) -> JsVal {
    JsVal::Number(x)
}

#[test]
fn reads_every_import_of_the_glue_and_its_module() {
    let glue = Glue::parse(GLUE);
    assert_eq!(glue.module.as_deref(), Some("./submission_bg.js"));
    assert_eq!(glue.imports.len(), 13);
    assert!(matches!(
        glue.imports["__wbg_weird_5555"],
        Import::Unreadable { .. }
    ));
    assert!(glue.function("__wbg_log_aaaa").is_some());
}

fn needs(glue: &Glue, name: &str) -> Option<Vec<String>> {
    glue.needs(name).map(<[String]>::to_vec)
}

#[test]
fn tells_what_needs_a_browser() {
    let glue = Glue::parse(GLUE);
    for provided in [
        "__wbg_log_aaaa",
        "__wbg_warn_bbbb",
        "__wbg_error_cccc",
        "__wbg_string_get_1111",
        "__wbg_time_2222",
        "__wbg_timeEnd_3333",
        "__wbg_throw_4444",
        "__wbindgen_generic_0000000000000001",
    ] {
        assert_eq!(needs(&glue, provided), Some(vec![]), "{provided}");
    }
    assert_eq!(
        needs(&glue, "__wbg_getElementById_dddd"),
        Some(vec!["arg0.getElementById(…)".to_owned()])
    );
    assert_eq!(
        needs(&glue, "__wbg_getRandomValues_9999"),
        Some(vec!["crypto.getRandomValues(…)".to_owned()])
    );
    assert_eq!(
        needs(&glue, "__wbg_static_accessor_WINDOW_eeee"),
        Some(vec!["window".to_owned()])
    );
    assert_eq!(
        needs(&glue, "__wbg_instanceof_Window_ffff"),
        Some(vec!["arg0 instanceof Window".to_owned()])
    );
    assert_eq!(needs(&glue, "__wbg_nothing"), None);
    assert_eq!(needs(&glue, "__wbg_weird_5555").map(|n| n.len()), Some(1));
}

#[test]
fn runs_console_calls_with_node_formatting() {
    let glue = Glue::parse(GLUE);
    let mut env = mock("héllo");
    let log = glue.function("__wbg_log_aaaa").unwrap();
    call(&log, vec![n(0.0), n(6.0)], &mut env).unwrap();
    let warn = glue.function("__wbg_warn_bbbb").unwrap();
    call(&warn, vec![JsVal::str("%d%% of"), n(-0.0)], &mut env).unwrap();
    call(&warn, vec![n(1e21), JsVal::Null], &mut env).unwrap();
    let error = glue.function("__wbg_error_cccc").unwrap();
    call(&error, vec![n(0.0), n(3.0)], &mut env).unwrap();
    assert_eq!(
        env.lines,
        [
            ("log".to_owned(), "héllo".to_owned()),
            ("warn".to_owned(), "-0% of".to_owned()),
            ("warn".to_owned(), "1e+21 null".to_owned()),
            ("error".to_owned(), "hé".to_owned()),
        ]
    );
    // The deferred free runs after the call, with the pointer and length it was given.
    assert_eq!(env.freed.len(), 1);
    assert!(env.freed[0][0].strict_eq(&n(0.0)) && env.freed[0][1].strict_eq(&n(3.0)));
}

#[test]
fn passes_strings_back_through_an_out_pointer() {
    let glue = Glue::parse(GLUE);
    let mut env = mock("");
    let get = glue.function("__wbg_string_get_1111").unwrap();
    call(&get, vec![n(16.0), JsVal::str("abc")], &mut env).unwrap();
    assert_eq!(&env.memory[64..67], b"abc");
    assert_eq!(&env.memory[16..24], &[64, 0, 0, 0, 3, 0, 0, 0]);
    // Not a string: a null pointer (the length is whatever `WASM_VECTOR_LEN` held, as in
    // JavaScript; the guest ignores it).
    call(&get, vec![n(16.0), n(4.0)], &mut env).unwrap();
    assert_eq!(&env.memory[16..20], &[0; 4]);
}

#[test]
fn times_on_the_clock_it_is_given_and_throws_errors() {
    let glue = Glue::parse(GLUE);
    let mut env = mock("t");
    let time = glue.function("__wbg_time_2222").unwrap();
    let end = glue.function("__wbg_timeEnd_3333").unwrap();
    call(&time, vec![n(0.0), n(1.0)], &mut env).unwrap();
    env.clock = 1.25;
    call(&end, vec![n(0.0), n(1.0)], &mut env).unwrap();
    call(&end, vec![n(0.0), n(1.0)], &mut env).unwrap();
    assert_eq!(env.lines[0], ("log".into(), "t: 1.25ms".into()));
    assert_eq!(
        env.lines[1],
        (
            "warn".into(),
            "No such label 't' for console.timeEnd()".into()
        )
    );
    let throw = glue.function("__wbg_throw_4444").unwrap();
    match call(&throw, vec![n(0.0), n(1.0)], &mut env) {
        Err(Abort::Throw(e)) => assert_eq!(e.to_js_string(), "Error: t"),
        other => panic!("expected a throw, got {other:?}"),
    }
}

#[test]
fn formats_numbers_as_javascript_does() {
    for (x, s) in [
        (0.0, "0"),
        (3.5, "3.5"),
        (-2.0, "-2"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (0.1 + 0.2, "0.30000000000000004"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
        (123456.789, "123456.789"),
    ] {
        assert_eq!(number_to_string(x), s);
    }
    assert_eq!(value::iso_date(0.0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        value::iso_date(1_735_689_600_123.0),
        "2025-01-01T00:00:00.123Z"
    );
    assert_eq!(value::format_duration(0.0004), "0ms");
    assert_eq!(value::format_duration(12.3456), "12.346ms");
    assert_eq!(value::format_duration(1500.0), "1.500s");
}

#[test]
fn says_what_each_import_does_in_one_line() {
    let glue = Glue::parse(GLUE);
    assert_eq!(
        glue.text("__wbg_log_aaaa").as_deref(),
        Some("console.log(getStringFromWasm0(arg0, arg1))")
    );
    assert_eq!(
        glue.text("__wbg_error_cccc").as_deref(),
        Some(
            "try { console.error(getStringFromWasm0(arg0, arg1)) } \
             finally { wasm.__wbindgen_free(deferred0_0, deferred0_1, 1) }"
        )
    );
    assert_eq!(
        glue.text("__wbg_static_accessor_WINDOW_eeee").as_deref(),
        Some(
            "const ret = (typeof window === 'undefined') ? undefined : window; \
             return isLikeNone(ret) ? 0 : addToExternrefTable0(ret)"
        )
    );
}
