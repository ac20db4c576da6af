use super::*;

/// A glue in the shape wasm-bindgen writes for `--target web`, cut down to what is read.
const GLUE: &str = r#"
import * as import1 from "wasm_course"
let wasm;
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_log_1: function(arg0) { console.log(arg0); },
        __wbg_draw_2: function() { return document.getElementById("life"); },
        __wbg_text_3: function(arg0) { return arg0.document + " window"; },
    };
    return { __proto__: null, "./m_bg.js": import0, "wasm_course": import1 };
}
export function initSync(module) {
    if (Object.getPrototypeOf(module) === Object.prototype) ({ module } = module);
    const imports = __wbg_get_imports();
    const instance = new WebAssembly.Instance(module, imports);
    wasm = instance.exports;
    return wasm;
}
"#;

#[test]
fn reads_the_import_object_by_running_the_glue() {
    let glue = Glue::parse(GLUE);
    assert_eq!(glue.error(), None);
    assert!(glue.names("./m_bg.js", "__wbg_log_1"));
    assert!(!glue.names("./m_bg.js", "__wbg_missing"));
    assert!(!glue.names("./other_bg.js", "__wbg_log_1"));
    let log = glue
        .import("./m_bg.js", "__wbg_log_1")
        .expect("log is defined");
    assert!(log.text.contains("console.log(arg0)"), "{}", log.text);
    assert!(log.browser.is_empty());
    let draw = glue
        .import("./m_bg.js", "__wbg_draw_2")
        .expect("draw is defined");
    assert_eq!(draw.browser, ["document"]);
    // A member named like a global, and a word in a string, are neither.
    let text = glue
        .import("./m_bg.js", "__wbg_text_3")
        .expect("text is defined");
    assert!(text.browser.is_empty(), "{:?}", text.browser);
    // The guest crate's module is the stub's: its functions are listed, the host serves them.
    assert!(glue.import("wasm_course", "on_alloc").is_some());
    assert!(glue.import("./m_bg.js", "__wbg_missing").is_none());
    assert_eq!(glue.text("__wbg_log_1"), Some(log.text.clone()));
}

#[test]
fn a_glue_that_does_not_load_says_why() {
    let glue = Glue::parse("export function initSync( {");
    assert!(glue.imports().is_empty());
    let error = glue.error().expect("an error");
    assert!(error.contains("does not load"), "{error}");
    let glue = Glue::parse("export const x = 1;");
    assert!(glue.error().expect("an error").contains("initSync"));
    assert!(Glue::parse("  ").is_empty());
}

#[test]
fn names_only_whole_identifiers_outside_strings() {
    assert_eq!(
        mentioned("function(a) { window.x(); requestAnimationFrame(a); a.fetch(); 'crypto' }"),
        ["window", "requestAnimationFrame"]
    );
    assert!(mentioned("const documentation = 1; mywindow()").is_empty());
}
