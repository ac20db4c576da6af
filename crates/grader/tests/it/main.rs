//! The grader's integration tests, driven by fixtures.
//!
//! Each folder `tests/fixtures/<verdict>/<name>/` is a submission (a crate's `src/`, or a
//! `module.wat`/`module.wasm`) with the `scenario.toml` it is graded against. The first folder
//! level is the verdict the report must reach; the rendered report is an insta snapshot.

mod matrix;
mod memmap;
mod node;
mod results;
mod shims;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use grader::{Grader, GraderOptions, Render, Report, Spec, Submission, Verdict};

fn options() -> GraderOptions {
    let guest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../course-guest");
    GraderOptions::new(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grader"),
        guest,
    )
}

fn grader() -> &'static Grader {
    static GRADER: OnceLock<Grader> = OnceLock::new();
    GRADER.get_or_init(|| Grader::new(options()).expect("grader starts"))
}

fn fixture(dir: &Path) -> (Spec, Submission) {
    let spec_path = dir.join("scenario.toml");
    let spec: Spec = toml::from_str(&std::fs::read_to_string(&spec_path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
    let submission = if dir.join("src").is_dir() {
        Submission::Crate(dir.to_path_buf())
    } else if dir.join("module.wat").exists() {
        Submission::Module(dir.join("module.wat"))
    } else {
        Submission::Module(dir.join("module.wasm"))
    };
    (spec, submission)
}

fn slot(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    let verdict = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
    format!("fixture-{verdict}-{name}")
}

fn grade(dir: &Path) -> Report {
    let (spec, submission) = fixture(dir);
    grader()
        .grade(&slot(dir), &slot(dir), &submission, &spec)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// `text` as a regular expression that matches exactly it.
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

fn render(report: &Report) -> String {
    report.render(Render {
        color: false,
        show_hidden: true,
    })
}

/// Grades every `<verdict>/<name>/` folder under `tests/<group>/` and asserts its verdict,
/// snapshotting each report.
fn every_folder_gets_its_verdict(group: &str) {
    let mut wrong = Vec::new();
    // Paths of this checkout differ from machine to machine.
    let here = regex_escape(env!("CARGO_MANIFEST_DIR"));
    let pattern = format!("../{group}");
    let mut filters = grader::report::MACHINE_DEPENDENT.to_vec();
    filters.push((here.as_str(), "[grader]"));
    insta::with_settings!({ filters => filters, prepend_module_to_snapshot => false }, {
        insta::glob!(&pattern, "*/*/scenario.toml", |path| {
            let dir = path.parent().unwrap();
            let expected_name = dir.parent().unwrap().file_name().unwrap().to_str().unwrap();
            let expected = Verdict::from_name(expected_name)
                .unwrap_or_else(|| panic!("fixture folder `{expected_name}` is not a verdict name"));
            let report = grade(dir);
            if report.verdict() != expected {
                wrong.push(format!("{}: expected {expected:?}, got {:?}\n{}", dir.display(), report.verdict(), render(&report)));
            }
            insta::assert_snapshot!(render(&report));
        });
    });
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_fixture_gets_the_verdict_its_folder_names() {
    every_folder_gets_its_verdict("fixtures");
}

/// Submissions that try to switch off, fake or slip past the memory checks.
#[test]
fn every_cheat_gets_the_verdict_its_folder_names() {
    every_folder_gets_its_verdict("cheats");
}

#[test]
fn a_module_over_its_budget_runs_its_scenarios_but_earns_nothing() {
    let grader = grader();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/module-over-budget/parses-floats");
    let (mut spec, submission) = fixture(&dir);
    let report = grader
        .grade("over", &slot(&dir), &submission, &spec)
        .unwrap();
    assert_eq!(report.verdict(), Verdict::ModuleOverBudget);
    assert!(
        report.scenarios.iter().all(|s| s.passed()),
        "{}",
        render(&report)
    );
    assert_eq!(report.earned, 0.0);
    assert!(!report.passed());
    // The same module without a budget earns its points.
    spec.budget = Default::default();
    let report = grader
        .grade("over", &slot(&dir), &submission, &spec)
        .unwrap();
    assert_eq!(report.earned, report.possible, "{}", render(&report));
}

#[test]
fn every_verdict_but_timeout_has_a_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let missing: Vec<&str> = Verdict::ALL
        .into_iter()
        .filter(|v| {
            *v != Verdict::Timeout
                && !root.join(v.name()).is_dir()
                && !root.join("../cheats").join(v.name()).is_dir()
        })
        .map(Verdict::name)
        .collect();
    assert!(
        missing.is_empty(),
        "verdicts without a fixture folder: {missing:?}"
    );
}

#[test]
fn a_loop_that_outlasts_the_wall_clock_is_a_timeout() {
    let mut options = options();
    options.limits.wall_time = Duration::from_millis(200);
    let grader = Grader::new(options).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/too-slow/infinite-loop");
    let (mut spec, submission) = fixture(&dir);
    // So much fuel that only the wall clock can stop it.
    spec.scenarios[0].fuel = u64::MAX / 2;
    let report = grader
        .grade("timeout", &slot(&dir), &submission, &spec)
        .unwrap();
    assert_eq!(report.verdict(), Verdict::Timeout, "{}", render(&report));
}

#[test]
fn grading_twice_gives_identical_reports_and_a_warm_build() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pass/copy-and-view");
    let first = grade(&dir);
    let second = grade(&dir);
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );
    assert!(
        second.timings.build_fresh,
        "an unchanged crate must not be recompiled"
    );
    assert!(second.passed());
    assert_eq!(second.percent(), 100.0);
}

/// The report's leak, which must be located at `location`.
fn leak_at<'r>(report: &'r Report, location: &str) -> &'r grader::Failure {
    let leak = report
        .failures()
        .find(|f| f.verdict == Verdict::Leak)
        .expect("a leak");
    assert_eq!(
        leak.location.as_deref(),
        Some(location),
        "{}",
        render(report)
    );
    leak
}

#[test]
fn a_leak_is_traced_to_the_students_source_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/leak/mem-forget");
    let report = grade(&dir);
    let leak = leak_at(&report, "src/lib.rs:5");
    assert!(
        leak.details
            .iter()
            .any(|d| d.contains("100 bytes") && d.contains("checksum")),
        "{:?}",
        leak.details
    );
}

#[test]
fn a_batch_member_s_leak_is_located_from_the_module_graded_without_a_second_build() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/leak/mem-forget");
    let (spec, _) = fixture(&dir);
    let intake = grader::intake::take(&dir, None, &grader::intake::Caps::default()).unwrap();
    let member = grader::build::Member {
        id: format!("lines{}", std::process::id()),
        files: intake.files.clone(),
    };
    let built = grader()
        .build_batch(
            "leak-lines",
            &[member],
            2,
            &grader::build::Isolation::default(),
            grader::build::BATCH_PROFILE,
        )
        .unwrap()
        .pop()
        .unwrap()
        .expect("the fixture builds");
    assert!(grader::bindgen::has_line_tables(&built.wasm));
    // Only the student's compile units are left for wasm-bindgen to rewrite: std's DWARF, most
    // of the module's, is not carried into the module whose lines are read.
    let root = built.source_root.to_string_lossy().replace('\\', "/");
    let cut = grader::dwarf::student_units(&built.wasm, &root).expect("std's units are cut");
    let whole = grader::bindgen::process(&built.wasm, true, false).unwrap();
    let student = grader::bindgen::process(&cut, true, false).unwrap();
    assert!(
        student.wasm.len() * 4 < whole.wasm.len(),
        "{} bytes with the student's units, {} with all",
        student.wasm.len(),
        whole.wasm.len()
    );
    // A grader that cannot build anything (its guest crate is missing): the line can only
    // come from the module.
    let no_builds = Grader::new(GraderOptions::new(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grader-without-builds"),
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-guest-crate"),
    ))
    .unwrap();
    let report = no_builds
        .grade(
            "leak-lines",
            "leak-lines",
            &Submission::Built { intake, built },
            &spec,
        )
        .unwrap();
    leak_at(&report, "src/lib.rs:5");
}

#[test]
fn a_scenario_that_names_an_unknown_export_is_a_harness_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wrong-result/off-by-one");
    let (mut spec, submission) = fixture(&dir);
    spec.scenarios[0]
        .steps
        .push(grader::Step::Call(grader::Step::call(
            "nonexistent",
            vec![],
        )));
    let err = grader()
        .grade("x", &slot(&dir), &submission, &spec)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`nonexistent` is not a declared function"),
        "{err}"
    );
}

#[test]
fn guest_output_is_capped_and_cannot_drive_the_terminal() {
    // 60 log lines, each starting with an ANSI "clear screen" escape.
    let wat = r#"(module
      (import "wasm_course" "on_log" (func $log (param i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "\1b[2Jcleared")
      (func (export "chatter") (local $i i32)
        (loop $again
          (call $log (i32.const 16) (i32.const 11))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 60))))))"#;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chatter.wat");
    std::fs::write(&path, wat).unwrap();
    let spec: Spec = toml::from_str(
        "[exports]\nfunctions = [\"fn chatter()\"]\n[[scenario]]\nname = \"chatter\"\nchecks = [\"growth\"]\nsteps = [{ call = \"chatter\" }]\n",
    )
    .unwrap();
    let report = grader()
        .grade("chatter", "chatter", &Submission::Module(path), &spec)
        .unwrap();
    let scenario = &report.scenarios[0];
    assert_eq!(scenario.logs.len(), grader::run::LOG_LINES);
    assert_eq!(scenario.logs_dropped, 60 - grader::run::LOG_LINES);
    assert!(
        scenario
            .logs
            .iter()
            .all(|l| !l.contains('\x1b') && l.ends_with("[2Jcleared")),
        "{:?}",
        scenario.logs[0]
    );
    assert!(!render(&report).contains('\x1b'));
}
