//! Compiler errors in the student's terms: `src/…` paths, the linker's own error line, and what
//! the course offers instead of rustc's `cargo add` advice.

use super::*;

/// Errors shown in full; the rest are counted.
pub(super) const ERRORS_SHOWN: usize = 3;

/// Bytes of rendered compiler output shown per error.
pub(super) const RENDERED_BYTES: usize = 3_000;

/// Errors kept per crate; later ones are only counted.
pub(super) const ERRORS_KEPT: usize = 16;

impl CompilerError {
    /// The error as the student knows their files: `src/…`, not where the grader staged them.
    pub(super) fn relative(&self) -> CompilerError {
        let Some(root) = self.package_root.as_deref().filter(|r| !r.is_empty()) else {
            return self.clone();
        };
        let strip = |text: &str| crate::paths::from_root(text, root);
        CompilerError {
            message: strip(&self.message),
            location: self.location.as_deref().map(strip),
            rendered: strip(&self.rendered),
            more: self.more,
            package_root: None,
        }
    }
}

pub(super) fn compile_failure(errors: &[CompilerError]) -> Failure {
    let errors: Vec<CompilerError> = errors.iter().map(CompilerError::relative).collect();
    // "aborting due to N previous errors" adds nothing for a student.
    let real: Vec<&CompilerError> = errors
        .iter()
        .filter(|e| !e.message.starts_with("aborting due to") && e.location.is_some())
        .collect();
    let shown = if real.is_empty() {
        errors.iter().collect()
    } else {
        real
    };
    let first = shown[0];
    if first.message.starts_with("linking with") {
        return link_failure(first);
    }
    if let Some(guard) = shown.iter().find(|e| e.message.contains(GUEST_LINK_GUARD)) {
        // The student's last line, counted back from the appended line that needs the guard.
        let last = guard
            .location
            .as_deref()
            .and_then(|l| l.split(':').nth(1)?.parse::<usize>().ok())
            .and_then(|line| line.checked_sub(GUEST_LINK_GUARD_USE))
            .filter(|line| *line > 0);
        let mut f = Failure::new(
            Verdict::CompileError,
            "your code does not compile: `src/lib.rs` ends with an attribute that no item follows",
        );
        if let Some(line) = last {
            f = f.at(format!("src/lib.rs:{line}"));
        }
        return f.hint(
            "an attribute such as `#[cfg(...)]` applies to the item after it: put that item after it, or remove the attribute (rustc says \"expected item after attributes\" for it in your own crate too)",
        );
    }
    let mut f = if first.message.contains("#[global_allocator]")
        && first.message.contains("course_guest")
    {
        Failure::new(
            Verdict::CompileError,
            "your code does not compile: it declares a `#[global_allocator]`, and the grader supplies its own",
        )
        .hint(
            "the grader links a counting allocator (from its `course_guest` crate) into your module to check how it uses memory: remove your `#[global_allocator]` and its `static`, and your memory is still allocated as usual",
        )
    } else {
        Failure::new(
            Verdict::CompileError,
            format!("your code does not compile: {}", first.message),
        )
        .hint(
            shown
                .iter()
                .any(|e| e.rendered.contains("if you wanted to use a crate named"))
                .then(|| {
                    format!(
                        "use only the course's crates: {}; {BUILDS_ITS_OWN}",
                        offered_crates()
                    )
                })
                .or_else(|| web_sys_hint(&shown))
                .unwrap_or_else(|| {
                    "fix the first error first: later ones are often caused by it".to_owned()
                }),
        )
    };
    if let Some(loc) = &first.location {
        f = f.at(loc.clone());
    }
    for e in shown.iter().take(ERRORS_SHOWN) {
        let mut text = without_cargo_add(e.rendered.trim_end());
        if text.len() > RENDERED_BYTES {
            text.truncate(text.floor_char_boundary(RENDERED_BYTES));
            text.push_str("\n…[cut]");
        }
        f = f.detail(text);
    }
    let more =
        shown.len().saturating_sub(ERRORS_SHOWN) + errors.iter().map(|e| e.more).sum::<usize>();
    if more > 0 {
        f = f.detail(format!("… and {more} more errors"));
    }
    f
}

/// The crates a student's code may use, as code names them: `TEMPLATE_DEPENDENCIES` and the
/// guest crate, with web-sys's features.
pub(super) fn offered_crates() -> String {
    let deps: toml::Table = toml::from_str(TEMPLATE_DEPENDENCIES).unwrap_or_default();
    let mut names: Vec<String> = deps
        .iter()
        .map(|(name, spec)| {
            let name = format!("`{}`", name.replace('-', "_"));
            match spec.get("features").and_then(|f| f.as_array()) {
                Some(features) => {
                    let features: Vec<String> = features
                        .iter()
                        .filter_map(|f| f.as_str())
                        .map(|f| format!("`{f}`"))
                        .collect();
                    format!("{name} (with only its {} feature)", features.join(", "))
                }
                None => name,
            }
        })
        .collect();
    names.push("`course_guest`".to_owned());
    names.join(", ")
}

/// rustc's advice to `cargo add` a crate: the student's `Cargo.toml` is not the one built, so
/// the line says which crates the course offers instead.
pub(super) fn without_cargo_add(rendered: &str) -> String {
    rendered
        .lines()
        .map(
            |line| match line.find("if you wanted to use a crate named") {
                Some(at) if line.contains("cargo add") => format!(
                    "{}`{}` is not one of the crates the course offers (the hint lists them)",
                    &line[..at],
                    backticked(&line[at..]).unwrap_or("it"),
                ),
                _ => line.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first name in backticks.
pub(super) fn backticked(text: &str) -> Option<&str> {
    let start = text.find('`')? + 1;
    let len = text[start..].find('`')?;
    Some(&text[start..start + len])
}

pub(super) const BUILDS_ITS_OWN: &str =
    "the grader builds your `src/` with its own `Cargo.toml`, so changing yours changes nothing";

/// A hint for errors about a part of web-sys the course does not build.
pub(super) fn web_sys_hint(errors: &[&CompilerError]) -> Option<String> {
    let gated = errors.iter().find_map(|e| {
        let at = e.rendered.find("gated behind the `")?;
        e.rendered
            .contains("web-sys")
            .then(|| backticked(&e.rendered[at..]))?
    });
    if gated.is_none() && !errors.iter().any(|e| e.message.contains("`web_sys`")) {
        return None;
    }
    let which = gated.map_or_else(String::new, |f| format!(" (not `{f}`)"));
    Some(format!(
        "`web_sys` is built with only its `console` feature{which}: {BUILDS_ITS_OWN}; the page's APIs (the DOM, canvas) need a browser anyway, and `js_sys` has JavaScript's built-ins"
    ))
}

/// A link error: rustc's note repeats the linker's whole command line (kilobytes) before the
/// linker's own error. Only the latter is shown, with object files named by their crate.
pub(super) fn link_failure(e: &CompilerError) -> Failure {
    let mut lines: Vec<String> = Vec::new();
    let mut keep = false;
    for line in e.rendered.lines() {
        let text = line.trim();
        if let Some(note) = text.strip_prefix("= note:") {
            let note = note.trim();
            keep = note.contains("error:") || note.contains("warning:");
            if keep {
                lines.push(note.to_owned());
            }
        } else if keep && !text.is_empty() && !text.starts_with('=') {
            lines.push(
                text.split(' ')
                    .map(object_name)
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    let first = lines
        .iter()
        .find_map(|l| l.split_once("error: ").map(|(_, what)| what.to_owned()))
        .unwrap_or_else(|| e.message.clone());
    let mut f = Failure::new(
        Verdict::CompileError,
        format!("your code does not link: {first}"),
    );
    for line in lines.iter().take(12) {
        f = f.detail(line.clone());
    }
    if first.starts_with("duplicate symbol") {
        f.hint(
            "two definitions share one name: a function of yours with `#[no_mangle]` or `#[export_name]` has the name of one the grader's `course_guest` or another crate defines; rename it, or drop the attribute (`#[wasm_bindgen]` exports need neither)",
        )
    } else {
        f.hint("the linker could not put your module together: the error above names the symbol")
    }
}

/// A linker's path to an object file, named for a student: `your code`, or the crate it is in.
pub(super) fn object_name(word: &str) -> String {
    if !word.contains('/') {
        return word.to_owned();
    }
    let file = word.rsplit('/').next().unwrap_or(word);
    if let Some(lib) = file.strip_prefix("lib")
        && let Some((name, _)) = lib.split_once('-')
        && file.contains(".rlib")
    {
        return if name == "course_guest" {
            "the grader's `course_guest`".to_owned()
        } else if name.starts_with("submission_") {
            "your code".to_owned()
        } else {
            format!("`{name}`")
        };
    }
    if file.starts_with("submission_") {
        return "your code".to_owned();
    }
    file.to_owned()
}

/// `text` cut a little past `max` bytes (on a character boundary): enough for the renderer to
/// see it was longer, without keeping a flood in memory.
pub(super) fn cut(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max + 4)].to_owned()
}
