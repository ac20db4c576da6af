//! Grades in the formats CI systems and course platforms read: Gradescope and Exercism
//! `results.json`, JUnit XML, a gradebook CSV, GitHub workflow annotations and a step summary.
//!
//! Pure functions from [`Report`]s to text; the caller decides where the text goes. Submission
//! names, guest output and compiler messages come from students, so every format escapes for
//! its own syntax, and hidden scenarios stay hidden wherever a student may read the result.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::report::{CheckResult, Failure, Report, ScenarioReport, Status, Timings};
use crate::spec::Spec;

/// Whether hidden scenarios' names, steps, failures and logs may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HiddenDetails {
    /// A student may read the result: a hidden scenario shows only whether it passed.
    #[default]
    Withhold,
    /// Only instructors read the result.
    Reveal,
}

impl HiddenDetails {
    fn shows(self, scenario_hidden: bool) -> bool {
        !scenario_hidden || self == HiddenDetails::Reveal
    }
}

/// When Gradescope shows a result or a test to the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Hidden,
    AfterDueDate,
    AfterPublished,
    Visible,
}

/// How Gradescope renders an `output` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputFormat {
    /// Markdown; evidence goes in fenced code blocks so student text cannot format the page.
    #[default]
    Md,
    Text,
}

/// Choices for a Gradescope `results.json`.
#[derive(Debug, Clone)]
pub struct GradescopeOptions {
    /// The assignment's total on Gradescope; every score is scaled to it. `None` keeps the
    /// exercises' own points.
    pub max_score: Option<f64>,
    pub output_format: OutputFormat,
    /// The whole result's visibility.
    pub visibility: Visibility,
    /// The autograder's stdout; the grade never depends on it.
    pub stdout_visibility: Visibility,
    /// The visibility of every hidden scenario's test.
    pub hidden_visibility: Visibility,
    /// Whether a hidden scenario's test names and explains it once it becomes visible.
    pub hidden_details: HiddenDetails,
    /// Seconds; `None` sums the reports' timings.
    pub execution_time: Option<f64>,
}

impl Default for GradescopeOptions {
    fn default() -> GradescopeOptions {
        GradescopeOptions {
            max_score: None,
            output_format: OutputFormat::Md,
            visibility: Visibility::Visible,
            stdout_visibility: Visibility::Hidden,
            hidden_visibility: Visibility::AfterPublished,
            hidden_details: HiddenDetails::Withhold,
            execution_time: None,
        }
    }
}

/// A report with the spec it was graded against. The spec names the scenarios a failed
/// preflight kept from running, so each still appears as a failed test worth its points.
#[derive(Debug, Clone, Copy)]
pub struct Graded<'a> {
    pub report: &'a Report,
    pub spec: Option<&'a Spec>,
}

impl<'a> Graded<'a> {
    pub fn new(report: &'a Report, spec: &'a Spec) -> Graded<'a> {
        Graded {
            report,
            spec: Some(spec),
        }
    }
}

#[derive(Serialize)]
struct GradescopeResults {
    score: f64,
    execution_time: f64,
    output: String,
    output_format: OutputFormat,
    visibility: Visibility,
    stdout_visibility: Visibility,
    tests: Vec<GradescopeTest>,
}

#[derive(Serialize)]
struct GradescopeTest {
    score: f64,
    max_score: f64,
    status: &'static str,
    name: String,
    number: String,
    output: String,
    output_format: OutputFormat,
    tags: Vec<String>,
    visibility: Visibility,
}

/// Gradescope's `results.json` for one submission graded against one or more exercises: one
/// test per scenario, named `exercise › scenario`.
pub fn gradescope(graded: &[Graded<'_>], options: &GradescopeOptions) -> String {
    let possible: f64 = graded.iter().map(|g| g.report.possible).sum();
    let earned: f64 = graded.iter().map(|g| g.report.earned).sum();
    let scale = match options.max_score {
        Some(max) if possible > 0.0 => max / possible,
        _ => 1.0,
    };
    let format = options.output_format;
    let mut tests = Vec::new();
    for (e, g) in graded.iter().enumerate() {
        let report = g.report;
        let test = |s: usize, name: String, hidden: bool, points: f64, earned: f64| {
            let visibility = if hidden {
                options.hidden_visibility
            } else {
                Visibility::Visible
            };
            GradescopeTest {
                score: round(earned * scale),
                max_score: round(points * scale),
                status: "failed",
                name: format!("{} › {name}", report.exercise),
                number: format!("{}.{}", e + 1, s + 1),
                output: String::new(),
                output_format: format,
                tags: vec![report.exercise.clone()],
                visibility,
            }
        };
        let preflight = preflight_failures(report);
        if report.scenarios.is_empty() && !preflight.is_empty() {
            let mut why =
                String::from("did not run: the submission failed a check before any scenario\n\n");
            for (check, f) in &preflight {
                why.push_str(&failure_text(check, f));
            }
            let why = output(format, None, &why);
            let verdicts = preflight.iter().map(|(_, f)| f.verdict.name().to_owned());
            let planned = g.spec.map_or(&[][..], |s| &s.scenarios[..]);
            if planned.is_empty() {
                let mut t = test(0, preflight[0].0.to_owned(), false, report.possible, 0.0);
                t.output = why;
                t.tags.extend(verdicts);
                tests.push(t);
            } else {
                let verdicts: Vec<String> = verdicts.collect();
                for (s, planned) in planned.iter().enumerate() {
                    let name =
                        scenario_name(planned.hidden, s, &planned.name, options.hidden_details);
                    let mut t = test(s, name, planned.hidden, planned.points, 0.0);
                    // The student's own compile error is no secret of the hidden scenario.
                    t.output = why.clone();
                    t.tags.extend(verdicts.iter().cloned());
                    tests.push(t);
                }
            }
            continue;
        }
        for (s, scenario) in report.scenarios.iter().enumerate() {
            let shown = options.hidden_details.shows(scenario.hidden);
            let name = scenario_name(scenario.hidden, s, &scenario.name, options.hidden_details);
            let mut t = test(s, name, scenario.hidden, scenario.points, scenario.earned);
            if scenario.passed() {
                t.status = "passed";
            }
            if shown {
                let heading = if scenario.passed() {
                    "passed"
                } else {
                    "failed"
                };
                t.output = output(format, Some(heading), &scenario_text(scenario, true));
                t.tags
                    .extend(scenario_failures(scenario).map(|(_, f)| f.verdict.name().to_owned()));
            } else {
                t.output = hidden_outcome(scenario.passed()).to_owned();
            }
            tests.push(t);
        }
    }
    let results = GradescopeResults {
        score: round(earned * scale),
        execution_time: options.execution_time.unwrap_or_else(|| {
            round_to(
                graded
                    .iter()
                    .map(|g| total(&g.report.timings))
                    .sum::<Duration>()
                    .as_secs_f64(),
                1e3,
            )
        }),
        output: gradescope_summary(graded, options),
        output_format: format,
        visibility: options.visibility,
        stdout_visibility: options.stdout_visibility,
        tests,
    };
    serde_json::to_string_pretty(&results).expect("results serialize")
}

/// One line per exercise, counting only what the student may see.
fn gradescope_summary(graded: &[Graded<'_>], options: &GradescopeOptions) -> String {
    let mut out = String::new();
    for g in graded {
        let report = g.report;
        let exercise = match options.output_format {
            OutputFormat::Md => format!("- {}", code_span(&report.exercise)),
            OutputFormat::Text => report.exercise.clone(),
        };
        let preflight = preflight_failures(report);
        if let Some((check, f)) = preflight.first()
            && report.scenarios.is_empty()
        {
            let first = f.message.lines().next().unwrap_or_default();
            let _ = writeln!(out, "{exercise}: no scenario ran, {check} failed: {first}");
        } else {
            let _ = writeln!(out, "{exercise}: {}", scenario_counts(report, options));
        }
        for note in &report.notes {
            match options.output_format {
                OutputFormat::Md => {
                    let _ = writeln!(out, "  - note: {}", markdown_cell(note));
                }
                OutputFormat::Text => {
                    let _ = writeln!(out, "  note: {}", strip_controls(note));
                }
            }
        }
    }
    out
}

/// How many scenarios passed, counting only those the student may see.
fn scenario_counts(report: &Report, options: &GradescopeOptions) -> String {
    let shown: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| options.hidden_details.shows(s.hidden))
        .collect();
    let passed = shown.iter().filter(|s| s.passed()).count();
    let hidden = report.scenarios.len() - shown.len();
    let mut parts = Vec::new();
    if !shown.is_empty() {
        parts.push(format!(
            "{passed} of {} {} passed",
            shown.len(),
            plural(shown.len())
        ));
    }
    if hidden > 0 {
        parts.push(format!(
            "{hidden} hidden {}, graded separately",
            plural(hidden)
        ));
    }
    if parts.is_empty() {
        parts.push("no scenarios".to_owned());
    }
    parts.join("; ")
}

#[derive(Serialize)]
struct ExercismResults {
    version: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    tests: Vec<ExercismTest>,
}

#[derive(Serialize)]
struct ExercismTest {
    name: String,
    status: &'static str,
    message: Option<String>,
    output: Option<String>,
    test_code: String,
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "scenario" } else { "scenarios" }
}

/// The most output Exercism shows for one test.
pub const EXERCISM_OUTPUT_CHARS: usize = 500;

/// Exercism's test-runner `results.json` (version 3): `error` when nothing could run, else one
/// test per scenario in the exercise's order.
pub fn exercism(report: &Report) -> String {
    let preflight = preflight_failures(report);
    let results = if !preflight.is_empty() || report.scenarios.is_empty() {
        let message = if preflight.is_empty() {
            "the exercise has no scenarios to run".to_owned()
        } else {
            preflight
                .iter()
                .map(|(check, f)| failure_text(check, f))
                .collect::<String>()
        };
        ExercismResults {
            version: 3,
            status: "error",
            message: Some(message),
            tests: Vec::new(),
        }
    } else {
        let tests = report
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| exercism_test(i, s))
            .collect();
        ExercismResults {
            version: 3,
            status: if report.passed() { "pass" } else { "fail" },
            message: None,
            tests,
        }
    };
    serde_json::to_string_pretty(&results).expect("results serialize")
}

fn exercism_test(i: usize, s: &ScenarioReport) -> ExercismTest {
    let status = if s.passed() { "pass" } else { "fail" };
    if s.hidden {
        return ExercismTest {
            name: format!("hidden test {}", i + 1),
            status,
            message: (!s.passed()).then(|| hidden_outcome(false).to_owned()),
            output: None,
            test_code: "// a hidden test: its code is not shown".to_owned(),
        };
    }
    let message: String = scenario_failures(s)
        .map(|(check, f)| failure_text(check, f))
        .collect();
    let logs = logs_text(s);
    ExercismTest {
        name: s.name.clone(),
        status,
        message: (!message.is_empty()).then_some(message),
        output: (!logs.is_empty()).then(|| truncate(&logs, EXERCISM_OUTPUT_CHARS)),
        test_code: s
            .steps
            .iter()
            .map(|step| format!("{};", step.text))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// JUnit XML for many submissions: one `<testsuite>` per submission and exercise, one
/// `<testcase>` per scenario, or per failed preflight check when no scenario ran. A testcase's
/// `time` is the suite's run time shared out by fuel: the grader does not time scenarios apart.
pub fn junit(reports: &[(String, Report)], hidden: HiddenDetails) -> String {
    let mut suites = String::new();
    let (mut all_tests, mut all_failures, mut all_time) = (0, 0, Duration::ZERO);
    for (submission, report) in reports {
        let classname = format!("{submission}.{}", report.exercise);
        let mut cases = String::new();
        let mut tests = 0;
        let mut failures = 0;
        if report.scenarios.is_empty() {
            for (check, f) in preflight_failures(report) {
                tests += 1;
                failures += 1;
                let _ = writeln!(
                    cases,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"0.000\">\n      {}\n    </testcase>",
                    xml(&classname),
                    xml(&format!("preflight: {check}")),
                    junit_failure(f, &failure_text(check, f)),
                );
            }
        }
        let fuel: u64 = report.scenarios.iter().map(|s| s.fuel_used).sum();
        let count = report.scenarios.len().max(1) as f64;
        for (i, s) in report.scenarios.iter().enumerate() {
            tests += 1;
            let share = if fuel > 0 {
                s.fuel_used as f64 / fuel as f64
            } else {
                1.0 / count
            };
            let time = report.timings.run.as_secs_f64() * share;
            let shown = hidden.shows(s.hidden);
            let name = scenario_name(s.hidden, i, &s.name, hidden);
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\"",
                xml(&classname),
                xml(&name)
            );
            let first = scenario_failures(s).next();
            let logs = logs_text(s);
            if first.is_none() && (logs.is_empty() || !shown) {
                cases.push_str("/>\n");
                continue;
            }
            cases.push_str(">\n");
            if let Some((_, f)) = first {
                failures += 1;
                let element = if shown {
                    junit_failure(f, &scenario_text(s, false))
                } else {
                    format!(
                        "<failure message=\"{}\" type=\"hidden\"/>",
                        xml(hidden_outcome(false))
                    )
                };
                let _ = writeln!(cases, "      {element}");
            }
            if shown && !logs.is_empty() {
                let _ = writeln!(cases, "      <system-out>{}</system-out>", xml(&logs));
            }
            cases.push_str("    </testcase>\n");
        }
        let time = total(&report.timings);
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">\n{cases}  </testsuite>\n",
            xml(&format!("{submission} › {}", report.exercise)),
            time.as_secs_f64(),
        );
        all_tests += tests;
        all_failures += failures;
        all_time += time;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wasm-course\" tests=\"{all_tests}\" failures=\"{all_failures}\" errors=\"0\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        all_time.as_secs_f64()
    )
}

fn junit_failure(first: &Failure, text: &str) -> String {
    format!(
        "<failure message=\"{}\" type=\"{}\">{}</failure>",
        xml(&first.message),
        first.verdict.name(),
        xml(text)
    )
}

/// One line of a gradebook: a submission's grade for one exercise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradebookRow {
    pub submission: String,
    pub exercise: String,
    pub earned: f64,
    pub possible: f64,
    pub percent: f64,
    /// The first failure's verdict name, or `pass`; hidden scenarios count too, since a
    /// gradebook is for instructors.
    pub verdict: String,
}

impl GradebookRow {
    pub fn new(submission: impl Into<String>, report: &Report) -> GradebookRow {
        GradebookRow {
            submission: submission.into(),
            exercise: report.exercise.clone(),
            earned: report.earned,
            possible: report.possible,
            percent: report.percent(),
            verdict: report.verdict().name().to_owned(),
        }
    }
}

/// The gradebook as RFC 4180 CSV (CRLF line ends, a header row), safe to open in a
/// spreadsheet: a text cell that would start a formula gets a leading `'`.
pub fn gradebook_csv(rows: &[GradebookRow]) -> String {
    let mut out = String::from("submission,exercise,earned,possible,percent,verdict\r\n");
    for row in rows {
        let _ = write!(
            out,
            "{},{},{},{},{:.1},{}\r\n",
            csv_text(&row.submission),
            csv_text(&row.exercise),
            row.earned,
            row.possible,
            row.percent,
            csv_text(&row.verdict),
        );
    }
    out
}

/// A text cell: defused for spreadsheets, then quoted if it holds a separator, quote or line end.
fn csv_text(cell: &str) -> String {
    let mut cell = cell.to_owned();
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.insert(0, '\'');
    }
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// GitHub workflow commands, one `::error` line per failed check, with `file` and `line` when
/// the failure points into the student's `src/`. `submission_dir` is the submission's folder
/// relative to the repository root (e.g. `submissions/alice`), or empty.
pub fn github_annotations(
    submission_dir: &str,
    report: &Report,
    hidden: HiddenDetails,
) -> Vec<String> {
    let mut out = Vec::new();
    for (check, f) in preflight_failures(report) {
        let title = format!("{}: {check} [{}]", report.exercise, f.verdict.name());
        out.push(annotation(
            submission_dir,
            &title,
            f,
            &failure_text(check, f),
        ));
    }
    for (i, s) in report.scenarios.iter().enumerate() {
        if !hidden.shows(s.hidden) {
            if !s.passed() {
                let title = format!("{} › hidden scenario {}", report.exercise, i + 1);
                out.push(format!(
                    "::error title={}::{}",
                    escape_property(&title),
                    escape_data(hidden_outcome(false))
                ));
            }
            continue;
        }
        for (check, f) in scenario_failures(s) {
            let title = format!("{} › {}: {}", report.exercise, s.name, f.verdict.name());
            out.push(annotation(
                submission_dir,
                &title,
                f,
                &failure_text(check, f),
            ));
        }
    }
    out
}

fn annotation(submission_dir: &str, title: &str, f: &Failure, message: &str) -> String {
    let mut properties = String::new();
    if let Some((file, line, col)) = f.location.as_deref().and_then(source_location) {
        let dir = submission_dir.trim_end_matches('/');
        let file = if dir.is_empty() {
            file.to_owned()
        } else {
            format!("{dir}/{file}")
        };
        let _ = write!(properties, "file={},line={line},", escape_property(&file));
        if let Some(col) = col {
            let _ = write!(properties, "col={col},");
        }
    }
    format!(
        "::error {properties}title={}::{}",
        escape_property(title),
        escape_data(message.trim_end())
    )
}

/// `src/lib.rs:12`, `src/lib.rs:12:5` or `src/lib.rs:7:9, during step 2 (…)` as file, line and
/// column; anything else is not a place in the student's source.
fn source_location(location: &str) -> Option<(&str, u32, Option<u32>)> {
    if !location.starts_with("src/") {
        return None;
    }
    let (file, rest) = location.split_once(':')?;
    let number = |s: &str| -> (Option<u32>, usize) {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        (s[..end].parse().ok(), end)
    };
    let (line, end) = number(rest);
    let col = rest[end..].strip_prefix(':').and_then(|r| number(r).0);
    Some((file, line?, col))
}

/// A workflow command's message: `%`, CR and LF encoded.
fn escape_data(s: &str) -> String {
    strip_controls(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as a message, and `:` and `,` too.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A markdown table for `$GITHUB_STEP_SUMMARY`, one row per gradebook row, then a count.
pub fn step_summary(rows: &[GradebookRow]) -> String {
    let mut out = String::from(
        "| submission | exercise | score | percent | verdict |\n| --- | --- | ---: | ---: | --- |\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {}/{} | {:.0}% | {} |",
            markdown_cell(&row.submission),
            markdown_cell(&row.exercise),
            row.earned,
            row.possible,
            row.percent,
            markdown_cell(&row.verdict),
        );
    }
    let passed = rows.iter().filter(|r| r.verdict == "pass").count();
    let _ = writeln!(out, "\n{passed} of {} passed", rows.len());
    out
}

/// A table cell that stays one cell of plain text: no line ends, no `|`, no markup or HTML.
fn markdown_cell(s: &str) -> String {
    let mut out = String::new();
    for c in strip_controls(s).chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for XML content or attribute values: markup escaped, line ends kept as character
/// references, and characters XML 1.0 cannot hold (other control characters) dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values normalise raw line ends and tabs to spaces; references survive.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{FFFE}' | '\u{FFFF}' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` on one line, without control characters, cut to `max` characters: for anything
/// untrusted that reaches a log or a terminal outside a report.
pub fn clean_text(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&one_line, max)
}

/// Removes control characters other than tab and line ends: guest output can hold anything.
fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|&c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

fn preflight_failures(report: &Report) -> Vec<(&str, &Failure)> {
    report.preflight.iter().filter_map(check_failure).collect()
}

fn scenario_failures(s: &ScenarioReport) -> impl Iterator<Item = (&str, &Failure)> {
    s.checks.iter().filter_map(check_failure)
}

fn check_failure(c: &CheckResult) -> Option<(&str, &Failure)> {
    c.failure().map(|f| (c.check.name(), f))
}

fn scenario_name(hidden: bool, index: usize, name: &str, details: HiddenDetails) -> String {
    if details.shows(hidden) {
        name.to_owned()
    } else {
        format!("hidden scenario {}", index + 1)
    }
}

fn hidden_outcome(passed: bool) -> &'static str {
    if passed {
        "passed"
    } else {
        "failed (hidden scenarios keep their details to themselves)"
    }
}

/// A failed check as plain text: what broke, where, the evidence and what to try.
fn failure_text(check: &str, f: &Failure) -> String {
    let mut out = format!("{check} [{}]: {}\n", f.verdict.name(), f.message);
    if let Some(at) = &f.location {
        let _ = writeln!(out, "  at {at}");
    }
    for line in f.details.iter().flat_map(|d| d.lines()) {
        let _ = writeln!(out, "  {line}");
    }
    if let Some(hint) = &f.hint {
        let _ = writeln!(out, "  hint: {hint}");
    }
    out
}

/// A scenario as plain text: its steps as they ran, then every check that failed or was
/// skipped, then (when asked) the guest's log.
fn scenario_text(s: &ScenarioReport, with_logs: bool) -> String {
    let mut out = String::from("steps:\n");
    for (n, step) in s.steps.iter().enumerate() {
        let mark = if step.ok { "✔" } else { "✘" };
        let result = step
            .result
            .as_ref()
            .map(|r| format!(" → {r}"))
            .unwrap_or_default();
        let _ = writeln!(out, "  {mark} {}. {}{result}", n + 1, step.text);
    }
    for check in &s.checks {
        match &check.status {
            Status::Pass => {}
            Status::Fail(f) => out.push_str(&failure_text(check.check.name(), f)),
            Status::Skipped { reason } => {
                let _ = writeln!(out, "{}: not checked, {reason}", check.check);
            }
        }
    }
    let logs = logs_text(s);
    if with_logs && !logs.is_empty() {
        out.push_str("your output (log! and console):\n");
        for line in logs.lines() {
            let _ = writeln!(out, "  │ {line}");
        }
    }
    out
}

fn logs_text(s: &ScenarioReport) -> String {
    let mut out = String::new();
    for line in &s.logs {
        out.push_str(&strip_controls(line));
        out.push('\n');
    }
    if s.logs_dropped > 0 {
        let _ = writeln!(out, "… {} more lines not shown", s.logs_dropped);
    }
    out
}

/// An `output` field: plain text, or markdown with the text in a fence no line of it can close.
fn output(format: OutputFormat, heading: Option<&str>, text: &str) -> String {
    let text = strip_controls(text);
    match format {
        OutputFormat::Text => match heading {
            Some(h) => format!("{h}\n{text}"),
            None => text,
        },
        OutputFormat::Md => {
            let fence = "`".repeat(longest_run(&text, '`').max(2) + 1);
            let heading = heading.map(|h| format!("**{h}**\n\n")).unwrap_or_default();
            format!("{heading}{fence}text\n{}\n{fence}\n", text.trim_end())
        }
    }
}

/// A markdown code span that holds `s` whatever backticks it contains.
fn code_span(s: &str) -> String {
    let ticks = "`".repeat(longest_run(s, '`') + 1);
    if s.contains('`') {
        format!("{ticks} {s} {ticks}")
    } else {
        format!("{ticks}{s}{ticks}")
    }
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// At most `max` characters, the last of them saying that the rest was cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    const CUT: &str = "… (output truncated)";
    let keep = max - CUT.chars().count();
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(CUT);
    out
}

fn total(t: &Timings) -> Duration {
    t.build + t.bindgen + t.compile + t.run + t.checks + t.rerun
}

/// Scores to four decimals, so a scaled `0.1 + 0.2` reads `0.3`.
fn round(x: f64) -> f64 {
    round_to(x, 1e4)
}

fn round_to(x: f64, per_unit: f64) -> f64 {
    (x * per_unit).round() / per_unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckName, Verdict};

    // Built from JSON, the way a journal reads reports back, so that fields added to the
    // report types with defaults do not break these tests.
    fn scenario(name: &str, hidden: bool, checks: Vec<CheckResult>) -> ScenarioReport {
        let passed = checks.iter().all(|c| c.failure().is_none());
        serde_json::from_value(serde_json::json!({
            "name": name,
            "hidden": hidden,
            "points": 1.0,
            "earned": if passed { 1.0 } else { 0.0 },
            "steps": [{ "text": "double(2)", "result": "5", "ok": passed }],
            "checks": checks,
            "logs": ["guest \x1b[2J<log> & \u{7}bell"],
            "logs_dropped": 0,
            "fuel_used": 10,
            "pages_before": 17,
            "pages_after": 17,
        }))
        .expect("a scenario report")
    }

    fn wrong() -> CheckResult {
        CheckResult::fail(
            CheckName::Behaviour,
            Failure::new(Verdict::WrongResult, "secret: expected 4, got 5")
                .at("src/lib.rs:3:5, during step 1 (`double(2)`)"),
        )
    }

    fn report(
        preflight: Vec<CheckResult>,
        scenarios: Vec<ScenarioReport>,
        possible: f64,
    ) -> Report {
        let earned: f64 = scenarios.iter().map(|s| s.earned).sum();
        serde_json::from_value(serde_json::json!({
            "exercise": "double",
            "preflight": preflight,
            "scenarios": scenarios,
            "earned": earned,
            "possible": possible,
        }))
        .expect("a report")
    }

    fn graded(scenarios: Vec<ScenarioReport>) -> Report {
        let possible = scenarios.iter().map(|s| s.points).sum();
        report(
            vec![CheckResult::pass(CheckName::Imports)],
            scenarios,
            possible,
        )
    }

    fn compile_error() -> Report {
        let compile = CheckResult::fail(
            CheckName::Compile,
            Failure::new(Verdict::CompileError, "your code does not compile")
                .at("src/lib.rs:5:20")
                .detail("error: expected `;`"),
        );
        report(vec![compile], Vec::new(), 2.0)
    }

    #[test]
    fn xml_escapes_markup_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            xml("a<b>&\"'\t\n\r\u{0}\u{1b}\u{7f}\u{FFFF}é"),
            "a&lt;b&gt;&amp;&quot;&apos;&#9;&#10;&#13;é"
        );
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_text("=1+1"), "'=1+1");
        assert_eq!(csv_text("+1"), "'+1");
        assert_eq!(csv_text("-1"), "'-1");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_text("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
    }

    #[test]
    fn gradebook_has_a_header_and_crlf_rows() {
        let row = GradebookRow {
            submission: "=evil,\"name\"".to_owned(),
            exercise: "ex".to_owned(),
            earned: 1.5,
            possible: 2.0,
            percent: 75.0,
            verdict: "leak".to_owned(),
        };
        assert_eq!(
            gradebook_csv(&[row]),
            "submission,exercise,earned,possible,percent,verdict\r\n\"'=evil,\"\"name\"\"\",ex,1.5,2,75.0,leak\r\n"
        );
    }

    #[test]
    fn workflow_commands_escape_data_and_properties() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a: b, c%"), "a%3A b%2C c%25");
    }

    #[test]
    fn source_locations_are_parsed_from_the_students_src() {
        assert_eq!(
            source_location("src/lib.rs:5"),
            Some(("src/lib.rs", 5, None))
        );
        assert_eq!(
            source_location("src/a/b.rs:7:9, during step 2 (`average(0, 0)`)"),
            Some(("src/a/b.rs", 7, Some(9)))
        );
        assert_eq!(source_location("step 2 (`f(1)`)"), None);
        assert_eq!(source_location("src/lib.rs"), None);
    }

    #[test]
    fn annotations_point_into_the_submission_and_withhold_hidden_failures() {
        let r = graded(vec![
            scenario("visible", false, vec![wrong()]),
            scenario("the secret one", true, vec![wrong()]),
        ]);
        let lines = github_annotations("submissions/alice/", &r, HiddenDetails::Withhold);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with(
                "::error file=submissions/alice/src/lib.rs,line=3,col=5,title=double › visible%3A wrong-result::"
            ),
            "{}",
            lines[0]
        );
        assert!(!lines[1].contains("secret"), "{}", lines[1]);
        assert!(lines.iter().all(|l| !l.contains('\n')));
        let revealed = github_annotations("", &r, HiddenDetails::Reveal);
        assert!(revealed[1].contains("secret"));
        assert!(revealed[1].contains("file=src/lib.rs,"));
    }

    #[test]
    fn step_summary_cells_cannot_break_the_table() {
        let row = GradebookRow {
            submission: "a|b\n<script>".to_owned(),
            exercise: "ex".to_owned(),
            earned: 1.0,
            possible: 2.0,
            percent: 50.0,
            verdict: "leak".to_owned(),
        };
        let table = step_summary(&[row]);
        assert!(
            table.contains("| a\\|b \\<script\\> | ex | 1/2 | 50% | leak |"),
            "{table}"
        );
    }

    #[test]
    fn exercism_withholds_hidden_scenarios_and_truncates_output() {
        let mut visible = scenario("visible", false, vec![wrong()]);
        visible.logs = vec!["x".repeat(600)];
        let r = graded(vec![
            visible,
            scenario("the secret one", true, vec![wrong()]),
        ]);
        let json: serde_json::Value = serde_json::from_str(&exercism(&r)).unwrap();
        assert_eq!(json["version"], 3);
        assert_eq!(json["status"], "fail");
        let tests = json["tests"].as_array().unwrap();
        assert_eq!(tests[0]["test_code"], "double(2);");
        assert_eq!(
            tests[0]["output"].as_str().unwrap().chars().count(),
            EXERCISM_OUTPUT_CHARS
        );
        assert!(!tests[1].to_string().contains("secret"), "{}", tests[1]);
        assert!(tests[1]["output"].is_null());
    }

    #[test]
    fn exercism_reports_an_error_when_nothing_ran() {
        let json: serde_json::Value = serde_json::from_str(&exercism(&compile_error())).unwrap();
        assert_eq!(json["status"], "error");
        assert!(json["message"].as_str().unwrap().contains("expected `;`"));
        assert_eq!(json["tests"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn gradescope_scales_scores_and_hides_hidden_scenarios() {
        let r = graded(vec![
            scenario(
                "visible",
                false,
                vec![CheckResult::pass(CheckName::Behaviour)],
            ),
            scenario("the secret one", true, vec![wrong()]),
        ]);
        let options = GradescopeOptions {
            max_score: Some(10.0),
            ..GradescopeOptions::default()
        };
        let json: serde_json::Value = serde_json::from_str(&gradescope(
            &[Graded {
                report: &r,
                spec: None,
            }],
            &options,
        ))
        .unwrap();
        assert_eq!(json["score"], 5.0);
        let tests = json["tests"].as_array().unwrap();
        assert_eq!(tests[0]["max_score"], 5.0);
        assert_eq!(tests[0]["status"], "passed");
        assert_eq!(tests[1]["status"], "failed");
        assert_eq!(tests[1]["visibility"], "after_published");
        assert_eq!(tests[1]["name"], "double › hidden scenario 2");
        assert!(!json.to_string().contains("secret"), "{json}");
    }

    #[test]
    fn gradescope_fails_every_planned_scenario_when_the_code_does_not_compile() {
        let spec: Spec = toml::from_str(
            "[[scenario]]\nname = \"one\"\nsteps = []\n[[scenario]]\nname = \"two\"\nhidden = true\nsteps = []\n",
        )
        .unwrap();
        let r = compile_error();
        let json: serde_json::Value = serde_json::from_str(&gradescope(
            &[Graded::new(&r, &spec)],
            &GradescopeOptions::default(),
        ))
        .unwrap();
        let tests = json["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[1]["name"], "double › hidden scenario 2");
        assert!(
            tests.iter().all(|t| t["status"] == "failed"
                && t["output"].as_str().unwrap().contains("expected `;`"))
        );
        // Without the spec, one test carries the whole exercise's points.
        let json: serde_json::Value = serde_json::from_str(&gradescope(
            &[Graded {
                report: &r,
                spec: None,
            }],
            &GradescopeOptions::default(),
        ))
        .unwrap();
        assert_eq!(json["tests"][0]["name"], "double › compile");
        assert_eq!(json["tests"][0]["max_score"], 2.0);
    }

    #[test]
    fn markdown_fences_outlast_backticks_in_the_text() {
        let out = output(OutputFormat::Md, None, "```\nescape");
        assert!(out.starts_with("````text\n"), "{out}");
    }
}
