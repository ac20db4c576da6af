//! wasm-bindgen's JavaScript glue, read and run by the grader.
//!
//! A processed module imports every JavaScript function it calls from the glue, under a name
//! with a hash in it (`__wbg_log_df57b075319871c1`) or a number (`__wbindgen_generic_…02`)
//! that differs from module to module. The glue that wasm-bindgen writes beside the module
//! states what each import does, as a small JavaScript function. [`Glue::parse`] reads those
//! functions; [`Glue::needs`] tells, for each, whether it stays inside what the grader
//! provides (console, the clock, `Math.random`, errors, wasm-bindgen's own intrinsics) or
//! reaches for something only a browser has (the DOM, canvas, crypto, closures); [`call`] runs
//! one against an [`Env`] that the run step implements over the wasm instance.
//!
//! Nothing is guessed from an import's name: what the grader does for an import is what the
//! glue's body says, evaluated.

mod eval;
mod syntax;
mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use eval::{Abort, Env, call};
pub use syntax::FuncDef;
pub use value::{JsVal, ObjKind, Object, number_to_string};

use syntax::{Expr, Parser, Stmt, Token};

/// The imports the glue defines for one module.
#[derive(Debug, Clone, Default)]
pub struct Glue {
    /// The import module name the glue serves (`./submission_bg.js`), when known.
    pub module: Option<String>,
    pub imports: BTreeMap<String, Import>,
}

#[derive(Debug, Clone)]
pub enum Import {
    /// A function the glue defines, as read, and what it uses that the grader does not
    /// provide (worked out once, when the glue is read).
    Defined {
        def: Arc<FuncDef>,
        needs: Vec<String>,
    },
    /// An entry whose body the grader cannot read, why, and that reason as what it needs.
    Unreadable { why: String, needs: Vec<String> },
}

/// Names the glue's helpers and the JavaScript environment provide, which import bodies may use.
const GLOBALS: &[&str] = &[
    "undefined",
    "null",
    "true",
    "false",
    "arguments",
    "wasm",
    "WASM_VECTOR_LEN",
    "getStringFromWasm0",
    "passStringToWasm0",
    "getDataViewMemory0",
    "isLikeNone",
    "debugString",
    "addToExternrefTable0",
    "takeFromExternrefTable0",
    "handleError",
    "console",
    "Math",
    "Date",
    "performance",
    "alert",
];

/// Members of the global namespaces the grader provides.
const GLOBAL_MEMBERS: &[(&str, &[&str])] = &[
    (
        "console",
        &["log", "info", "warn", "error", "debug", "time", "timeEnd"],
    ),
    ("Math", &["random"]),
    ("Date", &["now"]),
    ("performance", &["now"]),
    (
        "wasm",
        &[
            "__wbindgen_malloc",
            "__wbindgen_realloc",
            "__wbindgen_free",
            "__wbindgen_externrefs",
            "__externref_table_alloc",
            "__externref_table_dealloc",
            "__wbindgen_exn_store",
        ],
    ),
];

/// Members of values (errors, dates, the data view, the externref table) the grader provides.
const VALUE_MEMBERS: &[&str] = &[
    "stack",
    "message",
    "name",
    "getTime",
    "set",
    "get",
    "setInt32",
    "setUint32",
    "setFloat64",
    "setFloat32",
    "setUint8",
    "getInt32",
];

const CONSTRUCTORS: &[&str] = &["Error", "Date"];

impl Glue {
    /// Reads the imports out of the glue's `__wbg_get_imports` function. A glue without one
    /// (or without any imports) gives an empty `Glue`.
    pub fn parse(js: &str) -> Glue {
        let Some(start) = js.find("function __wbg_get_imports") else {
            return Glue::default();
        };
        let Ok(tokens) = syntax::tokenize(function_source(&js[start..])) else {
            return Glue::default();
        };
        let mut glue = Glue::default();
        // `const import0 = { __proto__: null, NAME: function(…) {…}, … };` and later
        // `return { __proto__: null, "./x_bg.js": import0 };`
        let mut objects: BTreeMap<String, BTreeMap<String, Import>> = BTreeMap::new();
        let mut at = 0;
        while at + 3 < tokens.len() {
            let decl =
                matches!(&tokens[at], Token::Ident(w) if w == "const" || w == "let" || w == "var");
            if let (true, Token::Ident(name), Token::Punct("="), Token::Punct("{")) =
                (decl, &tokens[at + 1], &tokens[at + 2], &tokens[at + 3])
            {
                let mut p = Parser::new(&tokens);
                p.seek(at + 3);
                if let Some(entries) = import_object(&mut p) {
                    objects.insert(name.clone(), entries);
                    at = p.position();
                    continue;
                }
            }
            if matches!(&tokens[at], Token::Ident(w) if w == "return")
                && tokens[at + 1] == Token::Punct("{")
            {
                let mut p = Parser::new(&tokens);
                p.seek(at + 1);
                if let Ok(Expr::Object(fields)) = p.expr() {
                    for (key, value) in fields {
                        if let Expr::Ident(var) = value
                            && let Some(entries) = objects.remove(&var)
                        {
                            glue.module.get_or_insert(key);
                            glue.imports.extend(entries);
                        }
                    }
                }
            }
            at += 1;
        }
        glue
    }

    /// What an import needs that the grader does not provide, as JavaScript a student can
    /// recognise (`arg0.getElementById(…)`, `window`). Empty: the grader can run it.
    pub fn needs(&self, name: &str) -> Option<&[String]> {
        match self.imports.get(name)? {
            Import::Defined { needs, .. } | Import::Unreadable { needs, .. } => Some(needs),
        }
    }

    /// What the glue says an import does, as one line of JavaScript.
    pub fn text(&self, name: &str) -> Option<String> {
        match self.imports.get(name)? {
            Import::Defined { def, .. } => Some(syntax::body_text(&def.body)),
            Import::Unreadable { why, .. } => Some(format!("(unreadable: {why})")),
        }
    }

    pub fn function(&self, name: &str) -> Option<Arc<FuncDef>> {
        match self.imports.get(name)? {
            Import::Defined { def, .. } => Some(def.clone()),
            Import::Unreadable { .. } => None,
        }
    }
}

/// The source of the function starting at `src`, up to its closing brace.
fn function_source(src: &str) -> &str {
    let mut depth = 0usize;
    let mut seen = false;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in src.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '{' => {
                depth += 1;
                seen = true;
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if seen && depth == 0 {
                    return &src[..=i];
                }
            }
            _ => {}
        }
    }
    src
}

/// Parses `{ key: function(…) {…}, … }`, keeping entries that do not parse as unreadable.
/// `None` when the object holds anything but functions (it is not an import object).
fn import_object(p: &mut Parser<'_>) -> Option<BTreeMap<String, Import>> {
    if !p.eat("{") {
        return None;
    }
    let mut entries = BTreeMap::new();
    loop {
        if p.eat("}") {
            return Some(entries);
        }
        let key = p.key()?;
        let start = p.position();
        match p.expr() {
            Ok(Expr::Function(def)) => {
                let needs = needs_of(&def);
                entries.insert(key, Import::Defined { def, needs });
            }
            Ok(_) if key == "__proto__" => {}
            Ok(_) => return None,
            Err(why) => {
                p.seek(start);
                p.skip_value();
                let needs = vec![format!("code the grader cannot read ({why})")];
                entries.insert(key, Import::Unreadable { why, needs });
            }
        }
        if !p.eat(",") {
            return p.eat("}").then_some(entries);
        }
    }
}

/// What a glue function uses beyond what the grader provides.
fn needs_of(def: &FuncDef) -> Vec<String> {
    let mut needs = Vec::new();
    let mut scope: Vec<String> = def.params.clone();
    walk_stmts(&def.body, &mut scope, &mut needs);
    // A closure handed to JavaScript (`Closure::new`, for `requestAnimationFrame` or an event
    // listener) is made by glue helpers and mangled Rust names: say so once.
    if let Some(closure) = needs
        .iter()
        .find(|n| n.starts_with("makeMutClosure") || n.starts_with("makeClosure"))
    {
        return vec![closure.clone()];
    }
    // The glue's own view helpers only matter when nothing else is missing.
    let helpers = |n: &String| n.contains("FromWasm0") || n.starts_with("_ZN");
    if needs.iter().any(|n| !helpers(n)) {
        needs.retain(|n| !helpers(n));
    }
    needs
}

fn walk_stmts(stmts: &[Stmt], scope: &mut Vec<String>, needs: &mut Vec<String>) {
    for s in stmts {
        match s {
            Stmt::Decl(name, init) => {
                if let Some(e) = init {
                    walk(e, scope, needs);
                }
                scope.push(name.clone());
            }
            Stmt::Expr(e) | Stmt::Throw(e) | Stmt::Return(Some(e)) => walk(e, scope, needs),
            Stmt::Return(None) => {}
            Stmt::If(c, a, b) => {
                walk(c, scope, needs);
                walk_stmts(a, scope, needs);
                walk_stmts(b, scope, needs);
            }
            Stmt::Try {
                body,
                catch,
                finally,
            } => {
                walk_stmts(body, scope, needs);
                if let Some((name, stmts)) = catch {
                    scope.push(name.clone());
                    walk_stmts(stmts, scope, needs);
                }
                walk_stmts(finally, scope, needs);
            }
        }
    }
}

fn walk(e: &Expr, scope: &mut Vec<String>, needs: &mut Vec<String>) {
    fn need(needs: &mut Vec<String>, what: String) {
        if !needs.contains(&what) {
            needs.push(what);
        }
    }
    match e {
        Expr::Num(_) | Expr::Str(_) => {}
        Expr::Ident(name) => {
            if !scope.contains(name) && !GLOBALS.contains(&name.as_str()) {
                need(needs, name.clone());
            }
        }
        Expr::Member(object, member) => {
            if let Expr::Ident(ns) = &**object
                && !scope.contains(ns)
            {
                match GLOBAL_MEMBERS.iter().find(|(n, _)| n == ns) {
                    Some((_, members)) if members.contains(&member.as_str()) => {}
                    // `document.getElementById`, `crypto.getRandomValues`, `Math.sin`...
                    _ => need(needs, show(e)),
                }
            } else {
                walk(object, scope, needs);
                if !VALUE_MEMBERS.contains(&member.as_str()) {
                    need(needs, show(e));
                }
            }
        }
        Expr::Call(callee, args) => {
            let before = needs.len();
            walk(callee, scope, needs);
            // Name the call, not just the function: `document.getElementById(…)`.
            let callee_text = show(callee);
            if needs.len() > before && needs.last() == Some(&callee_text) {
                let last = needs.len() - 1;
                needs[last] = format!("{callee_text}(…)");
            }
            for a in args {
                walk(a, scope, needs);
            }
        }
        Expr::New(class, args) => {
            if !CONSTRUCTORS.contains(&class.as_str()) {
                need(needs, format!("new {class}(…)"));
            }
            for a in args {
                walk(a, scope, needs);
            }
        }
        Expr::Unary(_, a) => walk(a, scope, needs),
        Expr::Binary(op, a, b) => {
            if *op == "instanceof" {
                need(needs, show(e));
            } else {
                walk(a, scope, needs);
                walk(b, scope, needs);
            }
        }
        Expr::Cond(a, b, c) => {
            walk(a, scope, needs);
            walk(b, scope, needs);
            walk(c, scope, needs);
        }
        Expr::Assign(name, value) => {
            if !scope.contains(name) && name != "WASM_VECTOR_LEN" {
                need(needs, name.clone());
            }
            walk(value, scope, needs);
        }
        Expr::Function(def) => {
            let mut inner = scope.clone();
            inner.extend(def.params.iter().cloned());
            walk_stmts(&def.body, &mut inner, needs);
        }
        Expr::Object(fields) => {
            for (_, v) in fields {
                walk(v, scope, needs);
            }
        }
    }
}

/// An expression as short JavaScript, arguments elided.
fn show(e: &Expr) -> String {
    match e {
        Expr::Num(n) => number_to_string(*n),
        Expr::Str(s) => format!("{s:?}"),
        Expr::Ident(i) => i.clone(),
        Expr::Member(o, m) => format!("{}.{m}", show(o)),
        Expr::Call(c, _) => format!("{}(…)", show(c)),
        Expr::New(c, _) => format!("new {c}(…)"),
        Expr::Binary(op, a, b) => format!("{} {op} {}", show(a), show(b)),
        _ => "…".into(),
    }
}

#[cfg(test)]
mod tests;
