//! The report: each check's verdict, in terms a student understands, and its rendering as text.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a check concluded. `Pass` is the only good one; every other names what broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Refused,
    CompileError,
    InvalidModule,
    MissingExport,
    WrongSignature,
    UnsupportedImport,
    NeedsBrowser,
    WrongResult,
    MissingPanic,
    WrongPanic,
    Panic,
    Thrown,
    TooSlow,
    Timeout,
    OutOfMemory,
    StackOverflow,
    OutOfBounds,
    Trap,
    Leak,
    DoubleFree,
    UnknownFree,
    LayoutMismatch,
    MisalignedAllocation,
    MisalignedView,
    GrowthOverBudget,
    UseAfterFree,
    StaleView,
    ViewOutOfBounds,
    ResultOutOfBounds,
    ForgedAccounting,
    UntrackedMemory,
    HeapOverflow,
    DanglingStackPointer,
    UnexpectedAllocation,
    ZeroSizeAllocation,
    ModuleOverBudget,
    MemoryOverBudget,
    NotRun,
}

impl Verdict {
    /// The kebab-case name, as fixtures and machine-readable output use it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Refused => "refused",
            Verdict::CompileError => "compile-error",
            Verdict::InvalidModule => "invalid-module",
            Verdict::MissingExport => "missing-export",
            Verdict::WrongSignature => "wrong-signature",
            Verdict::UnsupportedImport => "unsupported-import",
            Verdict::NeedsBrowser => "needs-browser",
            Verdict::WrongResult => "wrong-result",
            Verdict::MissingPanic => "missing-panic",
            Verdict::WrongPanic => "wrong-panic",
            Verdict::Panic => "panic",
            Verdict::Thrown => "thrown",
            Verdict::TooSlow => "too-slow",
            Verdict::Timeout => "timeout",
            Verdict::OutOfMemory => "out-of-memory",
            Verdict::StackOverflow => "stack-overflow",
            Verdict::OutOfBounds => "out-of-bounds",
            Verdict::Trap => "trap",
            Verdict::Leak => "leak",
            Verdict::DoubleFree => "double-free",
            Verdict::UnknownFree => "unknown-free",
            Verdict::LayoutMismatch => "layout-mismatch",
            Verdict::MisalignedAllocation => "misaligned-allocation",
            Verdict::MisalignedView => "misaligned-view",
            Verdict::GrowthOverBudget => "growth-over-budget",
            Verdict::UseAfterFree => "use-after-free",
            Verdict::StaleView => "stale-view",
            Verdict::ViewOutOfBounds => "view-out-of-bounds",
            Verdict::ResultOutOfBounds => "result-out-of-bounds",
            Verdict::ForgedAccounting => "forged-accounting",
            Verdict::UntrackedMemory => "untracked-memory",
            Verdict::HeapOverflow => "heap-overflow",
            Verdict::DanglingStackPointer => "dangling-stack-pointer",
            Verdict::UnexpectedAllocation => "unexpected-allocation",
            Verdict::ZeroSizeAllocation => "zero-size-allocation",
            Verdict::ModuleOverBudget => "module-over-budget",
            Verdict::MemoryOverBudget => "memory-over-budget",
            Verdict::NotRun => "not-run",
        }
    }

    pub const ALL: [Verdict; 39] = [
        Verdict::Pass,
        Verdict::Refused,
        Verdict::CompileError,
        Verdict::InvalidModule,
        Verdict::MissingExport,
        Verdict::WrongSignature,
        Verdict::UnsupportedImport,
        Verdict::NeedsBrowser,
        Verdict::WrongResult,
        Verdict::MissingPanic,
        Verdict::WrongPanic,
        Verdict::Panic,
        Verdict::Thrown,
        Verdict::TooSlow,
        Verdict::Timeout,
        Verdict::OutOfMemory,
        Verdict::StackOverflow,
        Verdict::OutOfBounds,
        Verdict::Trap,
        Verdict::Leak,
        Verdict::DoubleFree,
        Verdict::UnknownFree,
        Verdict::LayoutMismatch,
        Verdict::MisalignedAllocation,
        Verdict::MisalignedView,
        Verdict::GrowthOverBudget,
        Verdict::UseAfterFree,
        Verdict::StaleView,
        Verdict::ViewOutOfBounds,
        Verdict::ResultOutOfBounds,
        Verdict::ForgedAccounting,
        Verdict::UntrackedMemory,
        Verdict::HeapOverflow,
        Verdict::DanglingStackPointer,
        Verdict::UnexpectedAllocation,
        Verdict::ZeroSizeAllocation,
        Verdict::ModuleOverBudget,
        Verdict::MemoryOverBudget,
        Verdict::NotRun,
    ];

    pub fn from_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// Why a check failed: what broke, where, and what to try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub verdict: Verdict,
    /// What went wrong, in the student's terms.
    pub message: String,
    /// Where: `src/lib.rs:12`, a function, or the step that showed it.
    pub location: Option<String>,
    /// Further lines of evidence (compiler output, the allocation list...).
    pub details: Vec<String>,
    pub hint: Option<String>,
    /// A compact drawing of linear memory, under a failed leak or growth check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
}

impl Failure {
    pub fn new(verdict: Verdict, message: impl Into<String>) -> Failure {
        Failure {
            verdict,
            message: message.into(),
            location: None,
            details: Vec::new(),
            hint: None,
            map: None,
        }
    }

    pub fn at(mut self, location: impl Into<String>) -> Failure {
        self.location = Some(location.into());
        self
    }

    pub fn detail(mut self, line: impl Into<String>) -> Failure {
        self.details.push(line.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail(Failure),
    /// The check could not be made, and why (e.g. the scenario stopped early). A check that
    /// did not run is never a pass: the scenario earns nothing.
    Skipped {
        reason: String,
    },
}

/// Which check a result is: the steps before any scenario runs, then each scenario's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckName {
    Intake,
    Compile,
    Module,
    Imports,
    Exports,
    Accounting,
    /// The module's size against the exercise's `[budget]`.
    ModuleSize,
    Behaviour,
    Allocator,
    Overflow,
    Alignment,
    /// Host views and returned pointers: use after free, stale views, views past a block or
    /// out of bounds, pointers into a returned stack frame.
    Pointers,
    Growth,
    /// Linear memory's peak size against the scenario's `max_memory_pages`.
    PeakMemory,
    Leaks,
}

impl CheckName {
    /// The kebab-case name reports show and machine-readable output uses.
    pub fn name(self) -> &'static str {
        match self {
            CheckName::Intake => "intake",
            CheckName::Compile => "compile",
            CheckName::Module => "module",
            CheckName::Imports => "imports",
            CheckName::Exports => "exports",
            CheckName::Accounting => "accounting",
            CheckName::ModuleSize => "module-size",
            CheckName::Behaviour => "behaviour",
            CheckName::Allocator => "allocator",
            CheckName::Overflow => "overflow",
            CheckName::Alignment => "alignment",
            CheckName::Pointers => "pointers",
            CheckName::Growth => "growth",
            CheckName::PeakMemory => "peak-memory",
            CheckName::Leaks => "leaks",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One named check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `compile`, `exports`, `behaviour`, `leaks`, `alignment`...
    pub check: CheckName,
    #[serde(flatten)]
    pub status: Status,
}

impl CheckResult {
    pub fn pass(check: CheckName) -> CheckResult {
        CheckResult {
            check,
            status: Status::Pass,
        }
    }

    pub fn fail(check: CheckName, failure: Failure) -> CheckResult {
        CheckResult {
            check,
            status: Status::Fail(failure),
        }
    }

    /// A check that could not run. It is a failure with the `not-run` verdict, so that no
    /// rendering (terminal, JSON, Gradescope, Exercism, JUnit, gradebook) can count it a pass.
    pub fn skipped(check: CheckName, reason: impl Into<String>) -> CheckResult {
        CheckResult::fail(
            check,
            Failure::new(
                Verdict::NotRun,
                format!("could not be checked: {}", reason.into()),
            )
            .hint("a check that did not run earns nothing; fix what stopped it and grade again"),
        )
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.status {
            Status::Fail(f) => Some(f),
            _ => None,
        }
    }

    /// Whether the check ran and passed.
    pub fn passed(&self) -> bool {
        matches!(self.status, Status::Pass)
    }
}

/// A step of the scenario as it ran, for the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    pub text: String,
    pub result: Option<String>,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub name: String,
    pub hidden: bool,
    pub points: f64,
    pub earned: f64,
    pub steps: Vec<StepLine>,
    pub checks: Vec<CheckResult>,
    pub logs: Vec<String>,
    pub logs_dropped: usize,
    /// The seed `Math.random` drew from, when the submission called it: grading again with
    /// this seed replays the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub fuel_used: u64,
    pub pages_before: u64,
    pub pages_after: u64,
    /// Linear memory at the end of the scenario, when the module's layout could be read.
    #[serde(skip)]
    pub memory: Option<crate::memmap::MemoryMap>,
}

impl ScenarioReport {
    /// Every check ran and passed: a check that could not run is not a pass.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckResult::passed)
    }
}

/// How long each step of the pipeline took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub build: Duration,
    pub bindgen: Duration,
    pub compile: Duration,
    pub run: Duration,
    pub checks: Duration,
    /// The detailed re-run that finds a leak's source line, when one was needed.
    pub rerun: Duration,
    /// The end-of-scenario memory checks inside `run`: the red-zone sweep of live blocks and
    /// the walk of the real allocator's heap.
    pub reconcile: Duration,
    /// Whether cargo had anything to compile.
    pub build_fresh: bool,
}

/// The grade of one submission for one exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub exercise: String,
    /// Checks before any scenario runs: compile, module, imports, exports.
    pub preflight: Vec<CheckResult>,
    pub scenarios: Vec<ScenarioReport>,
    pub earned: f64,
    pub possible: f64,
    /// Things the student should know that are not failures (files the grader ignored).
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub timings: Timings,
}

impl Report {
    /// A report with nothing checked yet, out of `possible` points.
    pub fn new(exercise: &str, possible: f64) -> Report {
        Report {
            exercise: exercise.to_owned(),
            preflight: Vec::new(),
            scenarios: Vec::new(),
            earned: 0.0,
            possible,
            notes: Vec::new(),
            timings: Timings::default(),
        }
    }

    /// Every failure, in the order the report shows them.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.preflight
            .iter()
            .chain(self.scenarios.iter().flat_map(|s| &s.checks))
            .filter_map(CheckResult::failure)
    }

    /// The first failure's verdict (a check that could not run is a `NotRun` failure), or
    /// `Pass`.
    pub fn verdict(&self) -> Verdict {
        self.failures().next().map_or(Verdict::Pass, |f| f.verdict)
    }

    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
            && !self.scenarios.is_empty()
            && self.scenarios.iter().all(ScenarioReport::passed)
    }

    pub fn percent(&self) -> f64 {
        if self.possible > 0.0 {
            100.0 * self.earned / self.possible
        } else {
            0.0
        }
    }
}

/// `1 page`, `2 pages`.
pub(crate) fn plural(n: impl TryInto<u64>, what: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// What of a rendered report differs from machine to machine, and what stands in for it in a
/// snapshot: addresses, and a size report's figures (a module's size moves by a few bytes with
/// the checkout's path: a path dependency's metadata hash changes how rustc splits code into
/// units). The size report's shape, origins and functions stay. As `(regex, replacement)`
/// pairs, applied in order.
pub const MACHINE_DEPENDENT: [(&str, &str); 4] = [
    (r"0x[0-9a-f]{3,}", "[address]"),
    (r"(\d+(?:\.\d)? (?:KiB|B)) +\d+\.\d%", "$1 [share]"),
    (r"\d+\.\d KiB", "[size] KiB"),
    (r"\b\d+ B\b", "[size] B"),
];

/// Rendering choices.
#[derive(Debug, Clone, Copy, Default)]
pub struct Render {
    /// ANSI colours.
    pub color: bool,
    /// Show hidden scenarios' details (instructors, CI logs); students see only pass/fail.
    pub show_hidden: bool,
}

struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
}

fn points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

impl Report {
    /// The report as a student reads it in a terminal.
    pub fn render(&self, how: Render) -> String {
        let p = Paint { color: how.color };
        let mut out = String::new();
        let _ = writeln!(out, "{}", p.bold(&format!("grading {}", self.exercise)));
        for note in &self.notes {
            let _ = writeln!(out, "  {} {note}", p.yellow("note:"));
        }
        for check in &self.preflight {
            render_check(&mut out, &p, check, "  ");
        }
        let total = self.scenarios.len();
        for (i, s) in self.scenarios.iter().enumerate() {
            let mark = if s.passed() {
                p.green("✔")
            } else {
                p.red("✘")
            };
            let score = format!("{}/{}", points(s.earned), points(s.points));
            if s.hidden && !how.show_hidden {
                let what = if s.passed() {
                    "passed"
                } else {
                    "failed (hidden scenarios keep their details to themselves)"
                };
                let _ = writeln!(
                    out,
                    "{mark} scenario {}/{total}: hidden test {what}  {}",
                    i + 1,
                    p.dim(&score)
                );
                continue;
            }
            let _ = writeln!(
                out,
                "{mark} scenario {}/{total}: {}  {}",
                i + 1,
                s.name,
                p.dim(&score)
            );
            if s.passed() {
                continue;
            }
            let _ = writeln!(out, "  {}", p.dim("steps:"));
            for (n, step) in s.steps.iter().enumerate() {
                let mark = if step.ok {
                    p.green("✔")
                } else {
                    p.red("✘")
                };
                let result = step
                    .result
                    .as_ref()
                    .map(|r| format!(" → {r}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {mark} {}. {}{}", n + 1, step.text, p.dim(&result));
            }
            for check in &s.checks {
                render_check(&mut out, &p, check, "  ");
            }
            if let Some(seed) = s.seed {
                let _ = writeln!(
                    out,
                    "  {}",
                    p.dim(&format!(
                        "Math.random was seeded with {seed} (`--seed {seed}` replays this run)"
                    ))
                );
            }
            if !s.logs.is_empty() {
                let _ = writeln!(out, "  {}", p.dim("your output (log! and console):"));
                for line in &s.logs {
                    for l in line.lines() {
                        let _ = writeln!(out, "    │ {l}");
                    }
                }
                if s.logs_dropped > 0 {
                    let _ = writeln!(out, "    │ … {} more lines not shown", s.logs_dropped);
                }
            }
        }
        let percent = self.percent();
        let summary = format!(
            "score: {}/{} ({percent:.0}%)",
            points(self.earned),
            points(self.possible)
        );
        let summary = if self.passed() {
            p.green(&summary)
        } else {
            p.yellow(&summary)
        };
        let _ = writeln!(out, "{summary}");
        out
    }
}

fn render_check(out: &mut String, p: &Paint, check: &CheckResult, indent: &str) {
    match &check.status {
        Status::Pass => {}
        Status::Skipped { reason } => {
            let _ = writeln!(
                out,
                "{indent}{} {}",
                p.yellow("?"),
                p.yellow(&format!(
                    "{}: not checked, {reason}; a check that did not run earns nothing",
                    check.check
                ))
            );
        }
        Status::Fail(f) => {
            let _ = writeln!(
                out,
                "{indent}{} {} [{}]: {}",
                p.red("✘"),
                p.bold(check.check.name()),
                f.verdict.name(),
                f.message
            );
            if let Some(at) = &f.location {
                let _ = writeln!(out, "{indent}    at {at}");
            }
            for d in &f.details {
                for line in d.lines() {
                    let _ = writeln!(out, "{indent}    {line}");
                }
            }
            if let Some(map) = &f.map {
                for line in map.lines() {
                    let _ = writeln!(out, "{indent}    {line}");
                }
            }
            if let Some(h) = &f.hint {
                let _ = writeln!(out, "{indent}    {} {h}", p.yellow("hint:"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_round_trip() {
        for v in Verdict::ALL {
            assert_eq!(Verdict::from_name(v.name()), Some(v));
        }
    }
}
