//! The course on disk: chapters and exercises under `exercises/`, each exercise a folder with an
//! `exercise.toml`, the student's crate (`Cargo.toml`, `src/`), a reference solution and broken
//! variants. This is the only module that knows that layout.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use serde::Deserialize;

use grader::spec::{Exports, ModuleBudget, Scenario, Spec};

/// `exercise.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExerciseFile {
    pub title: String,
    /// The lesson it belongs to, e.g. "21 Wasm Memory Model".
    pub lesson: String,
    /// Markdown shown by `cargo xtask list` and on failure.
    pub statement: String,
    /// Progressive hints, shown one at a time by `cargo xtask hint`.
    #[serde(default)]
    pub hints: Vec<String>,
    #[serde(default)]
    pub exports: Exports,
    #[serde(default)]
    pub scenario: Vec<Scenario>,
    /// Deliberately broken variants and the verdict that must catch each.
    #[serde(default)]
    pub broken: Vec<Broken>,
    /// Mutants of the solution that behave exactly like it, so no scenario can kill them
    /// (`cargo xtask check --mutants`).
    #[serde(default)]
    pub equivalent: Vec<Equivalent>,
    /// The module's size budget.
    #[serde(default)]
    pub budget: ModuleBudget,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivalent {
    /// The mutant's id, as `check --mutants` prints it (`comparison-1a2b3c4d`).
    pub mutant: toml::Spanned<String>,
    /// Why it behaves like the solution.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broken {
    /// A `lib.rs` replacement, relative to the exercise folder.
    pub file: PathBuf,
    /// The verdict (e.g. `leak`) the grader must reach for it.
    pub verdict: String,
}

/// One exercise found on disk.
#[derive(Debug, Clone)]
pub struct Exercise {
    /// `21-wasm-memory/01-copy-in-copy-out`
    pub id: String,
    pub dir: PathBuf,
    pub file: ExerciseFile,
}

impl Exercise {
    pub fn spec(&self) -> Spec {
        Spec {
            exports: self.file.exports.clone(),
            scenarios: self.file.scenario.clone(),
            budget: self.file.budget,
        }
    }

    /// `01-copy-in-copy-out`: what a student types to name it.
    pub fn name(&self) -> &str {
        self.id.split_once('/').map_or(&self.id, |(_, name)| name)
    }

    /// Whether the exercise's `Cargo.toml` says what it shipped with: the same TOML, however
    /// its lines end, it is spaced or commented. A missing or unreadable file does not.
    pub fn manifest_as_shipped(&self) -> bool {
        let parse = |text: &str| text.parse::<toml::Table>().ok();
        let Ok(theirs) = std::fs::read_to_string(self.dir.join("Cargo.toml")) else {
            return false;
        };
        parse(&theirs).is_some_and(|theirs| Some(theirs) == parse(&shipped_manifest(self.name())))
    }

    pub fn chapter(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }

    /// A staging slot name for this exercise and a variant (`student`, `solution`, ...).
    pub fn slot(&self, variant: &str) -> String {
        format!("{}-{variant}", self.id.replace('/', "-"))
    }
}

/// The exercise template's manifest, as this version of the course ships it.
const TEMPLATE_MANIFEST: &str = include_str!("../../exercises/template/Cargo.toml");

/// The `Cargo.toml` an exercise folder named `folder` (`01-copy-in-copy-out`) ships with: the
/// template's, named after the exercise (`copy-in-copy-out`), one folder deeper. `new` writes
/// it, a test keeps every exercise's equal to it, and grading tells the student their
/// `Cargo.toml` was ignored only when theirs differs from it.
pub fn shipped_manifest(folder: &str) -> String {
    let package = package_name(folder);
    let manifest = TEMPLATE_MANIFEST
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("name = \"exercise\"", &format!("name = \"{package}\""))
        .replace(
            "path = \"../../crates/course-guest\"",
            "path = \"../../../crates/course-guest\"",
        );
    format!(
        "# Your crate for this exercise: edit `src/lib.rs`, then run `cargo xtask grade {folder}`.\n{manifest}\n"
    )
}

/// An exercise folder's name without its number: `01-copy-in-copy-out` → `copy-in-copy-out`.
pub fn package_name(folder: &str) -> &str {
    let package = folder.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    if package.is_empty() { folder } else { package }
}

/// The course this run works on, found at run time: the nearest folder at or above the
/// current one that has `exercises/` and `xtask/` (cargo finds the workspace the same way), else
/// the parent of the xtask package cargo says it is running. Never the folder xtask was compiled
/// in: with a shared `CARGO_TARGET_DIR`, or after the course is copied or moved, that is another
/// course's files.
pub fn locate() -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let from_cargo = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    locate_from(&cwd, from_cargo.as_deref())
}

fn is_course(dir: &Path) -> bool {
    exercises_dir(dir).is_dir() && dir.join("xtask").is_dir()
}

fn locate_from(cwd: &Path, manifest_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(root) = cwd.ancestors().find(|d| is_course(d)) {
        return Ok(root.to_path_buf());
    }
    if let Some(root) = manifest_dir.and_then(Path::parent).filter(|d| is_course(d)) {
        return Ok(root.to_path_buf());
    }
    bail!(
        "`{}` is not inside the course: run `cargo xtask` from the course folder (the one with `exercises/` and `xtask/`) or below it",
        cwd.display()
    )
}

/// The checkout these tests were compiled in.
#[cfg(test)]
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the repository")
        .to_path_buf()
}

pub fn exercises_dir(root: &Path) -> PathBuf {
    root.join("exercises")
}

/// Where the grader keeps staged crates, its target directory and module cache.
pub fn work_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("grader")
}

pub fn guest_crate(root: &Path) -> PathBuf {
    root.join("crates/course-guest")
}

/// Every exercise, sorted by id. Each entry is the exercise or the error loading it, so one
/// malformed file does not hide the others.
pub fn discover(root: &Path) -> anyhow::Result<Vec<Result<Exercise, String>>> {
    let mut out = Vec::new();
    let dir = exercises_dir(root);
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading `{}`", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "template"))
        .collect();
    chapters.sort();
    for chapter in chapters {
        let mut exercises: Vec<PathBuf> = std::fs::read_dir(&chapter)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("exercise.toml").is_file())
            .collect();
        exercises.sort();
        for dir in exercises {
            let id = format!(
                "{}/{}",
                chapter.file_name().unwrap().to_string_lossy(),
                dir.file_name().unwrap().to_string_lossy()
            );
            out.push(load(&dir).map(|file| Exercise {
                id,
                dir: dir.clone(),
                file,
            }));
        }
    }
    Ok(out)
}

/// Loads an `exercise.toml`, or returns every authoring error in it at once, each rendered
/// with file:line:col and the source line underlined.
pub fn load(dir: &Path) -> Result<ExerciseFile, String> {
    let path = dir.join("exercise.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Saved on Windows (CRLF), it is the same exercise: TOML allows a multi-line string's line
    // breaks to be read as `\n`, and statements, hints and scripts then read the same, and
    // errors point at the same lines and columns.
    let text = text.replace("\r\n", "\n");
    let errors = lint(dir, &text);
    if !errors.is_empty() {
        let rendered: Vec<String> = errors
            .iter()
            .map(|(span, message)| render(&path, &text, span.clone(), message))
            .collect();
        return Err(rendered.join("\n"));
    }
    toml::from_str(&text).map_err(|e| render(&path, &text, e.span().unwrap_or(0..0), e.message()))
}

type Span = std::ops::Range<usize>;
type Table<'i> = toml::de::DeTable<'i>;
type Item<'i> = toml::Spanned<toml::de::DeValue<'i>>;

const TOP_KEYS: &[&str] = &[
    "title",
    "lesson",
    "statement",
    "hints",
    "exports",
    "scenario",
    "broken",
    "equivalent",
    "budget",
];
const EXPORTS_KEYS: &[&str] = &["functions", "structs"];
const STRUCT_KEYS: &[&str] = &["constructor", "methods"];
use grader::spec::{BUDGET_KEYS, SCENARIO_KEYS, STEP_KEYS};
const BROKEN_KEYS: &[&str] = &["file", "verdict"];
const EQUIVALENT_KEYS: &[&str] = &["mutant", "reason"];

fn get<'a, 'i>(table: &'a Table<'i>, key: &str) -> Option<&'a Item<'i>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v)
}

fn items<'a, 'i>(table: &'a Table<'i>, key: &str) -> Vec<&'a Item<'i>> {
    get(table, key)
        .and_then(|v| v.get_ref().as_array())
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn unknown_keys(table: &Table<'_>, known: &[&str], what: &str, out: &mut Vec<(Span, String)>) {
    for (key, _) in table.iter() {
        let name: &str = key.get_ref();
        if known.contains(&name) {
            continue;
        }
        let close = known
            .iter()
            .copied()
            .filter(|k| strsim::levenshtein(k, name) <= 2)
            .min_by_key(|k| strsim::levenshtein(k, name));
        let help = match close {
            Some(k) => format!("; did you mean `{k}`?"),
            None => format!(
                "; expected one of {}",
                known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        out.push((key.span(), format!("unknown key `{name}` in {what}{help}")));
    }
}

fn deserialize<T: serde::de::DeserializeOwned>(
    item: &Item<'_>,
    out: &mut Vec<(Span, String)>,
) -> Option<T> {
    use serde::de::IntoDeserializer;
    match T::deserialize(item.clone().into_deserializer()) {
        Ok(v) => Some(v),
        Err(e) => {
            out.push((
                e.span().unwrap_or_else(|| item.span()),
                e.message().to_owned(),
            ));
            None
        }
    }
}

/// Every authoring error in an exercise's TOML: syntax, unknown keys, values of the wrong shape,
/// steps that do not fit the exports, and missing files.
fn lint(dir: &Path, text: &str) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    let (doc, syntax) = Table::parse_recoverable(text);
    if !syntax.is_empty() {
        return syntax
            .into_iter()
            .map(|e| (e.span().unwrap_or(0..0), e.message().to_owned()))
            .collect();
    }
    let table = doc.get_ref();
    unknown_keys(table, TOP_KEYS, "the exercise", &mut out);
    for key in ["title", "lesson", "statement"] {
        if get(table, key).is_none() {
            out.push((0..0, format!("missing key `{key}`")));
        }
    }
    if let Some(exports) = get(table, "exports").and_then(|e| e.get_ref().as_table()) {
        unknown_keys(exports, EXPORTS_KEYS, "`[exports]`", &mut out);
        if let Some(structs) = get(exports, "structs").and_then(|s| s.get_ref().as_table()) {
            for (name, s) in structs.iter() {
                if let Some(s) = s.get_ref().as_table() {
                    unknown_keys(
                        s,
                        STRUCT_KEYS,
                        &format!("struct `{}`", name.get_ref()),
                        &mut out,
                    );
                }
            }
        }
    }
    if let Some(budget) = get(table, "budget") {
        if let Some(t) = budget.get_ref().as_table() {
            unknown_keys(t, BUDGET_KEYS, "`[budget]`", &mut out);
        }
        deserialize::<ModuleBudget>(budget, &mut out);
    }
    let exports: Option<Exports> = match get(table, "exports") {
        Some(item) => deserialize(item, &mut out),
        None => Some(Exports::default()),
    };
    let scenario_items = items(table, "scenario");
    let mut scenarios = Vec::new();
    let mut step_spans = Vec::new();
    for item in &scenario_items {
        let Some(t) = item.get_ref().as_table() else {
            continue;
        };
        unknown_keys(t, SCENARIO_KEYS, "a `[[scenario]]`", &mut out);
        let steps = items(t, "steps");
        let mut all_parsed = true;
        for step in &steps {
            let before = out.len();
            if let Some(st) = step.get_ref().as_table() {
                unknown_keys(st, STEP_KEYS, "a step", &mut out);
            }
            // Each step on its own, so one bad step does not hide the next.
            all_parsed &=
                out.len() == before && deserialize::<grader::Step>(step, &mut out).is_some();
        }
        let parsed = if all_parsed {
            deserialize::<Scenario>(item, &mut out)
        } else {
            None
        };
        if let Some(scenario) = parsed {
            scenarios.push(scenario);
            step_spans.push((
                item.span(),
                steps.iter().map(|s| s.span()).collect::<Vec<_>>(),
            ));
        }
    }
    for item in items(table, "broken") {
        if let Some(t) = item.get_ref().as_table() {
            unknown_keys(t, BROKEN_KEYS, "a `[[broken]]`", &mut out);
        }
        if let Some(broken) = deserialize::<Broken>(item, &mut out) {
            if !dir.join(&broken.file).is_file() {
                out.push((
                    item.span(),
                    format!("`{}` does not exist", broken.file.display()),
                ));
            }
            if grader::Verdict::from_name(&broken.verdict).is_none() {
                let names: Vec<&str> = grader::Verdict::ALL.iter().map(|v| v.name()).collect();
                out.push((
                    item.span(),
                    format!(
                        "`{}` is not a verdict; use one of {}",
                        broken.verdict,
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    let mut listed = std::collections::BTreeSet::new();
    for item in items(table, "equivalent") {
        if let Some(t) = item.get_ref().as_table() {
            unknown_keys(t, EQUIVALENT_KEYS, "an `[[equivalent]]`", &mut out);
        }
        if let Some(e) = deserialize::<Equivalent>(item, &mut out) {
            if e.reason.trim().is_empty() {
                out.push((
                    item.span(),
                    "say why the mutant behaves like the solution in `reason`".into(),
                ));
            }
            if !listed.insert(e.mutant.get_ref().clone()) {
                out.push((
                    e.mutant.span(),
                    format!("mutant `{}` is listed twice", e.mutant.get_ref()),
                ));
            }
        }
    }
    for file in ["solution/lib.rs", "starter/lib.rs"] {
        if !dir.join(file).is_file() {
            out.push((0..0, format!("`{file}` is missing beside `exercise.toml`")));
        }
    }
    // The steps against the exports, for every scenario that parsed.
    if let Some(exports) = exports {
        let spec = Spec {
            exports,
            scenarios,
            budget: ModuleBudget::default(),
        };
        for e in spec.validate() {
            let span = match (e.scenario, e.step) {
                (Some(s), Some(st)) => step_spans
                    .get(s)
                    .and_then(|(_, steps)| steps.get(st).cloned()),
                (Some(s), None) => step_spans.get(s).map(|(span, _)| span.clone()),
                _ => get(table, "exports").map(|e| e.span()),
            };
            out.push((span.unwrap_or(0..0), e.message));
        }
    }
    out.sort_by_key(|(span, _)| span.start);
    out
}

/// Renders one error with the source line underlined, as the quiz's diagnostics are (one span
/// renderer for every file a course author writes): `error: message`, then `path:line:col`.
pub fn render(path: &Path, text: &str, span: Span, message: &str) -> String {
    use codespan_reporting::diagnostic::{Diagnostic, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor};
    let file = SimpleFile::new(path.display().to_string(), text);
    let start = text.floor_char_boundary(span.start);
    let end = text.floor_char_boundary(span.end.max(start));
    let diagnostic = Diagnostic::error()
        .with_message(message)
        .with_labels(vec![Label::primary((), start..end)]);
    let mut out = Vec::new();
    let rendered = term::emit(
        &mut termcolor::NoColor::new(&mut out),
        &term::Config::default(),
        &file,
        &diagnostic,
    );
    match rendered {
        Ok(()) => String::from_utf8_lossy(&out).trim_end().to_owned(),
        // The span comes from the same text, so this does not happen; say it on one line.
        Err(_) => format!("{}: error: {message}", path.display()),
    }
}

/// The one exercise a filter names; an error when it names none or several.
pub fn select_one<'a>(all: &'a [Exercise], filter: &str) -> anyhow::Result<&'a Exercise> {
    let chosen = select(all, Some(filter))?;
    match chosen[..] {
        [exercise] => Ok(exercise),
        _ => bail!("`{filter}` matches {} exercises; name one", chosen.len()),
    }
}

/// Exercises matching a filter: empty for all, a chapter (`21`, `21-wasm-memory`), or an
/// exercise (`21-wasm-memory/01-copy-in-copy-out` or `01-copy-in-copy-out`).
pub fn select<'a>(all: &'a [Exercise], filter: Option<&str>) -> anyhow::Result<Vec<&'a Exercise>> {
    let Some(filter) = filter.map(|f| f.trim_end_matches('/')) else {
        return Ok(all.iter().collect());
    };
    let chosen: Vec<&Exercise> = all
        .iter()
        .filter(|e| {
            let (chapter, name) = e.id.split_once('/').unwrap_or((&e.id, ""));
            e.id == filter
                || chapter == filter
                || chapter.split('-').next() == Some(filter)
                || name == filter
                || (filter.contains('/') && e.id.starts_with(filter))
        })
        .collect();
    if chosen.is_empty() {
        match suggestion(all, filter) {
            Some(close) => bail!(
                "no exercise or chapter matches `{filter}`; did you mean `{close}`? `cargo xtask list` shows them all"
            ),
            None => {
                bail!(
                    "no exercise or chapter matches `{filter}`; `cargo xtask list` shows them all"
                )
            }
        }
    }
    Ok(chosen)
}

/// The exercise or chapter name closest to a filter that matched nothing, if one is close: a
/// typo, or a name typed without its number (`copy-in-copy-out`).
fn suggestion(all: &[Exercise], filter: &str) -> Option<String> {
    let filter = filter.to_lowercase();
    let unnumbered = |name: &str| {
        name.trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches('-')
            .to_owned()
    };
    let mut names: Vec<String> = Vec::new();
    for e in all {
        let (chapter, name) = e.id.split_once('/').unwrap_or((&e.id, ""));
        names.extend([e.id.clone(), chapter.to_owned(), name.to_owned()]);
    }
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| !name.is_empty())
        .map(|name| {
            let distance = strsim::levenshtein(&filter, &name)
                .min(strsim::levenshtein(&filter, &unnumbered(&name)));
            (distance, name)
        })
        // A third of the name may be wrong, at least two letters; more is another name.
        .filter(|(distance, name)| *distance <= (unnumbered(name).chars().count() / 3).max(2))
        .min()
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A student's editor builds the exercise with its own `Cargo.toml`; the grader builds
    /// `src/` with the manifest it writes. Both must offer the same crates and features.
    #[test]
    fn every_student_manifest_offers_what_the_grader_builds_with() {
        let root = root();
        let grader_deps: toml::Table =
            toml::from_str(grader::build::TEMPLATE_DEPENDENCIES).unwrap();
        let grader_features: toml::Table =
            toml::from_str(grader::build::TEMPLATE_FEATURES).unwrap();
        let mut manifests = vec![root.join("exercises/template/Cargo.toml")];
        for exercise in discover(&root).unwrap() {
            manifests.push(exercise.unwrap().dir.join("Cargo.toml"));
        }
        assert!(manifests.len() > 6, "found {manifests:?}");
        for path in manifests {
            let manifest: toml::Table =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut deps = manifest["dependencies"].as_table().unwrap().clone();
            assert!(deps.remove("course-guest").is_some(), "{}", path.display());
            assert_eq!(deps, grader_deps, "{}", path.display());
            assert_eq!(
                manifest["features"],
                grader_features["features"],
                "{}",
                path.display()
            );
            assert_eq!(
                manifest["package"]["edition"].as_str(),
                Some("2021"),
                "{}",
                path.display()
            );
        }
        assert!(grader::build::TEMPLATE_DEPENDENCIES.contains(&format!(
            "wasm-bindgen = \"{}\"",
            grader::build::WASM_BINDGEN_VERSION
        )));
    }

    /// Grading says "your `Cargo.toml` was ignored" only when it differs from this.
    #[test]
    fn every_exercise_ships_the_manifest_derived_from_the_template() {
        for exercise in discover(&root()).unwrap() {
            let exercise = exercise.unwrap();
            let path = exercise.dir.join("Cargo.toml");
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                shipped_manifest(exercise.name()),
                "{}",
                path.display()
            );
            assert!(exercise.manifest_as_shipped(), "{}", path.display());
        }
    }

    #[test]
    fn a_manifest_differs_in_meaning_not_in_spacing() {
        let dir = std::env::temp_dir().join(format!("course-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let exercise = Exercise {
            id: "21-wasm-memory/01-copy-in-copy-out".into(),
            dir: dir.clone(),
            file: toml::from_str("title = \"t\"\nlesson = \"l\"\nstatement = \"s\"").unwrap(),
        };
        let shipped = shipped_manifest("01-copy-in-copy-out");
        let check = |text: &str| {
            std::fs::write(dir.join("Cargo.toml"), text).unwrap();
            exercise.manifest_as_shipped()
        };
        assert!(check(&shipped));
        assert!(check(&shipped.replace('\n', "\r\n")));
        assert!(check(&shipped.replace(" = ", "=").replace("# ", "#   ")));
        assert!(!check(&format!("{shipped}rand = \"0.8\"\n")));
        assert!(!check(
            &shipped.replace("\"console\"", "\"console\", \"Window\"")
        ));
        assert!(!check("[package"));
        std::fs::remove_file(dir.join("Cargo.toml")).unwrap();
        assert!(!exercise.manifest_as_shipped());
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn exercise_dir(name: &str, toml: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("course-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["solution", "starter", "broken"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("solution/lib.rs"), "").unwrap();
        std::fs::write(dir.join("starter/lib.rs"), "").unwrap();
        std::fs::write(dir.join("exercise.toml"), toml).unwrap();
        dir
    }

    /// A file saved on Windows is the same exercise: literal strings (`'''`), which TOML keeps
    /// byte for byte, read the same as the original's, and so do every exercise's files.
    #[test]
    fn crlf_line_endings_give_the_same_exercise() {
        let text = "title = \"x\"\nlesson = \"l\"\nstatement = '''\nFirst line.\nSecond line.\n'''\nhints = ['''\na\nb\n''']\n[exports]\nfunctions = [\"fn f() -> u32\"]\n[[scenario]]\nname = \"s\"\nscript = '''\nt.equal(f(), 1);\nt.equal(f(), 1);\n'''\n";
        let mut dirs = vec![exercise_dir("crlf", text)];
        for exercise in discover(&root()).unwrap() {
            dirs.push(exercise.unwrap().dir);
        }
        for (i, dir) in dirs.iter().enumerate() {
            let lf = load(dir).unwrap();
            // The copy has the same broken variants, which `load` checks exist.
            let copy = exercise_dir(&format!("crlf-{i}"), "");
            let text = std::fs::read_to_string(dir.join("exercise.toml")).unwrap();
            std::fs::write(copy.join("exercise.toml"), text.replace('\n', "\r\n")).unwrap();
            for broken in &lf.broken {
                std::fs::write(copy.join(&broken.file), "").unwrap();
            }
            let crlf = load(&copy).unwrap();
            assert!(!format!("{crlf:?}").contains("\\r"), "{crlf:?}");
            assert_eq!(format!("{crlf:?}"), format!("{lf:?}"), "{}", dir.display());
            let _ = std::fs::remove_dir_all(&copy);
        }
    }

    #[test]
    fn an_unknown_name_suggests_the_closest_exercise_or_chapter() {
        let (all, errors) = crate::exercises(&root()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let error = |filter: &str| select(&all, Some(filter)).unwrap_err().to_string();
        for (typed, meant) in [
            ("01-copy-in-copy-ot", "01-copy-in-copy-out"),
            ("copy-in-copy-out", "01-copy-in-copy-out"),
            ("fix-the-leek", "05-fix-the-leak"),
            ("21-wasm-memroy", "21-wasm-memory"),
            (
                "21-wasm-memory/02-zero-copy-bufer",
                "21-wasm-memory/02-zero-copy-buffer",
            ),
        ] {
            assert_eq!(
                error(typed),
                format!(
                    "no exercise or chapter matches `{typed}`; did you mean `{meant}`? `cargo xtask list` shows them all"
                )
            );
        }
        assert_eq!(
            error("quantum-physics"),
            "no exercise or chapter matches `quantum-physics`; `cargo xtask list` shows them all"
        );
    }

    #[test]
    fn the_course_is_found_from_where_it_is_run_not_where_xtask_was_built() {
        let copy = std::env::temp_dir().join(format!("course-locate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&copy);
        let deep = copy.join("exercises/21-wasm-memory/01-copy-in-copy-out/src");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(copy.join("xtask")).unwrap();
        let here = root();
        // From inside a course, that course, whatever cargo says.
        let from_cargo = Some(here.join("xtask"));
        assert_eq!(locate_from(&deep, from_cargo.as_deref()).unwrap(), copy);
        assert_eq!(locate_from(&copy, None).unwrap(), copy);
        // From outside any course, the one cargo runs xtask of.
        let outside = std::env::temp_dir();
        assert_eq!(locate_from(&outside, from_cargo.as_deref()).unwrap(), here);
        let error = locate_from(&outside, None).unwrap_err().to_string();
        assert!(error.contains("is not inside the course"), "{error}");
        let _ = std::fs::remove_dir_all(&copy);
    }

    #[test]
    fn every_authoring_error_is_reported_with_its_line() {
        let dir = exercise_dir(
            "errors",
            r#"title = "x"
lesson = "21"
statment = "typo"

[exports]
functions = ["fn add(a: u32, b: u32) -> u32"]

[[scenario]]
name = "s"
steps = [
  { call = "add", args = [1, 2], expect = 3, tolrance = 0.1 },
  { grow = "two" },
]

[[scenario]]
name = "t"
steps = [
  { call = "ad", args = [1] },
  { read = "v", len = 1 },
]

[[broken]]
file = "broken/missing.rs"
verdict = "leaky"
"#,
        );
        let err = load(&dir).unwrap_err();
        // Each error reads `error: message`, then `┌─ path:line:col`.
        let all: Vec<&str> = err.lines().collect();
        let lines: Vec<String> = all
            .windows(2)
            .filter(|w| w[0].starts_with("error: "))
            .map(|w| format!("{} {}", w[1].trim(), w[0]))
            .collect();
        let has = |at: &str, text: &str| lines.iter().any(|l| l.contains(at) && l.contains(text));
        assert!(has("exercise.toml:1:1", "missing key `statement`"), "{err}");
        assert!(
            has(
                "exercise.toml:3:1",
                "unknown key `statment` in the exercise; did you mean `statement`?"
            ),
            "{err}"
        );
        assert!(
            has(
                "exercise.toml:11:46",
                "unknown key `tolrance` in a step; did you mean `tolerance`?"
            ),
            "{err}"
        );
        assert!(
            has("exercise.toml:18:3", "`ad` is not a declared function"),
            "{err}"
        );
        assert!(has("exercise.toml:19:3", "`v` is not a view"), "{err}");
        assert!(
            has("exercise.toml:22:1", "`broken/missing.rs` does not exist"),
            "{err}"
        );
        assert!(
            has("exercise.toml:22:1", "`leaky` is not a verdict"),
            "{err}"
        );
        assert!(
            err.contains("11 │   { call = \"add\", args = [1, 2], expect = 3, tolrance = 0.1 },"),
            "{err}"
        );
    }

    #[test]
    fn an_equivalent_mutant_needs_a_reason_and_is_listed_once() {
        let dir = exercise_dir(
            "equivalent",
            "title = \"x\"\nlesson = \"l\"\nstatement = \"s\"\n\n[[equivalent]]\nmutant = \"width-1a2b3c4d\"\nreason = \" \"\n\n[[equivalent]]\nmutant = \"width-1a2b3c4d\"\nreason = \"the same\"\n\n[[equivalent]]\nmutant = \"width-00000000\"\nreason = \"r\"\nwhy = \"?\"\n",
        );
        let err = load(&dir).unwrap_err();
        assert!(
            err.contains("say why the mutant behaves like the solution in `reason`"),
            "{err}"
        );
        assert!(err.contains("exercise.toml:5:1"), "{err}");
        assert!(
            err.contains("mutant `width-1a2b3c4d` is listed twice"),
            "{err}"
        );
        assert!(err.contains("exercise.toml:10:10"), "{err}");
        assert!(
            err.contains("unknown key `why` in an `[[equivalent]]`"),
            "{err}"
        );
        assert!(err.contains("exercise.toml:16:1"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_value_names_its_own_step() {
        let dir = exercise_dir(
            "values",
            "title = \"x\"\nlesson = \"l\"\nstatement = \"s\"\n[exports]\nfunctions = [\"fn f()\"]\n[[scenario]]\nname = \"s\"\nsteps = [\n  { call = \"f\" },\n  { grow = \"two\" },\n  { call = \"f\", grow = 1 },\n]\n",
        );
        let err = load(&dir).unwrap_err();
        assert!(err.contains("exercise.toml:10:"), "{err}");
        assert!(err.contains("exercise.toml:11:"), "{err}");
        assert!(err.contains("exactly one of"), "{err}");
    }
}
