//! CI result formats built from real reports: fixtures graded, then each format snapshotted and
//! parsed back to check its shape.

use std::path::Path;
use std::sync::OnceLock;

use grader::results::{self, GradebookRow, Graded, GradescopeOptions, HiddenDetails, OutputFormat};
use grader::{Report, Spec};

/// Each fixture with whether its scenarios are graded as hidden: the panic is, to show what a
/// student is not told.
const FIXTURES: [(&str, bool); 4] = [
    ("pass/copy-and-view", false),
    ("leak/mem-forget", false),
    ("compile-error/missing-semicolon", false),
    ("panic/divide-by-zero", true),
];

struct Case {
    name: &'static str,
    spec: Spec,
    report: Report,
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        FIXTURES
            .iter()
            .map(|&(name, hidden)| {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(name);
                let (mut spec, submission) = super::fixture(&dir);
                for s in &mut spec.scenarios {
                    s.hidden |= hidden;
                }
                let report = super::grader()
                    .grade(name, &super::slot(&dir), &submission, &spec)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                Case { name, spec, report }
            })
            .collect()
    })
}

/// Snapshot names: `leak/mem-forget` → `leak-mem-forget`.
fn key(name: &str) -> String {
    name.replace('/', "-")
}

macro_rules! scrubbed {
    ($body:block) => {
        insta::with_settings!({
            filters => vec![
                (r"0x[0-9a-f]{3,}", "[address]"),
                (r#"time="[0-9.]+""#, r#"time="[time]""#),
                (r#""execution_time": [0-9.e-]+"#, r#""execution_time": "[time]""#),
            ],
            prepend_module_to_snapshot => false,
        }, $body)
    };
}

fn object<'a>(
    value: &'a serde_json::Value,
    what: &str,
) -> &'a serde_json::Map<String, serde_json::Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"))
}

fn check_gradescope_shape(json: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let top = object(&value, "results");
    for key in ["score", "execution_time"] {
        assert!(top[key].is_number(), "{key}: {}", top[key]);
    }
    for key in ["output", "output_format", "visibility", "stdout_visibility"] {
        assert!(top[key].is_string(), "{key}: {}", top[key]);
    }
    let visibilities = ["hidden", "after_due_date", "after_published", "visible"];
    assert!(visibilities.contains(&top["visibility"].as_str().unwrap()));
    for test in top["tests"].as_array().expect("tests") {
        let test = object(test, "test");
        for key in ["score", "max_score"] {
            assert!(test[key].is_number(), "{key}: {}", test[key]);
        }
        for key in ["name", "number", "output", "output_format", "visibility"] {
            assert!(test[key].is_string(), "{key}: {}", test[key]);
        }
        assert!(["passed", "failed"].contains(&test["status"].as_str().unwrap()));
        assert!(["md", "text"].contains(&test["output_format"].as_str().unwrap()));
        assert!(visibilities.contains(&test["visibility"].as_str().unwrap()));
        assert!(
            test["tags"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.is_string())
        );
    }
    value
}

fn check_exercism_shape(json: &str) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
    let top = object(&value, "results");
    assert_eq!(top["version"], 3);
    let status = top["status"].as_str().unwrap();
    assert!(["pass", "fail", "error"].contains(&status));
    if status == "error" {
        assert!(top["message"].is_string());
    }
    for test in top["tests"].as_array().expect("tests") {
        let test = object(test, "test");
        assert!(test["name"].is_string() && test["test_code"].is_string());
        assert!(["pass", "fail", "error"].contains(&test["status"].as_str().unwrap()));
        assert!(test["message"].is_string() || test["message"].is_null());
        match &test["output"] {
            serde_json::Value::String(s) => assert!(s.chars().count() <= 500),
            other => assert!(other.is_null()),
        }
    }
    value
}

#[test]
fn gradescope_results_for_real_reports() {
    scrubbed!({
        for case in cases() {
            let json = results::gradescope(
                &[Graded::new(&case.report, &case.spec)],
                &GradescopeOptions::default(),
            );
            let value = check_gradescope_shape(&json);
            assert_eq!(
                value["tests"].as_array().unwrap().len(),
                case.spec.scenarios.len(),
                "one test per scenario, even when none ran: {json}"
            );
            if case.spec.scenarios.iter().all(|s| s.hidden) {
                assert!(
                    !json.contains("average"),
                    "a hidden scenario leaked: {json}"
                );
            }
            insta::assert_snapshot!(format!("results-gradescope-{}", key(case.name)), json);
        }
        // One submission graded against every exercise, scaled to 100 points, in plain text.
        let graded: Vec<Graded<'_>> = cases()
            .iter()
            .map(|c| Graded::new(&c.report, &c.spec))
            .collect();
        let options = GradescopeOptions {
            max_score: Some(100.0),
            output_format: OutputFormat::Text,
            ..GradescopeOptions::default()
        };
        let json = results::gradescope(&graded, &options);
        let value = check_gradescope_shape(&json);
        let max: f64 = value["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["max_score"].as_f64().unwrap())
            .sum();
        assert!((max - 100.0).abs() < 1e-6, "{max}");
        insta::assert_snapshot!("results-gradescope-every-exercise", json);
    });
}

#[test]
fn exercism_results_for_real_reports() {
    scrubbed!({
        for case in cases() {
            let json = results::exercism(&case.report);
            let value = check_exercism_shape(&json);
            let expected = match case.report.verdict() {
                grader::Verdict::Pass => "pass",
                grader::Verdict::CompileError => "error",
                _ => "fail",
            };
            assert_eq!(value["status"], expected, "{json}");
            insta::assert_snapshot!(format!("results-exercism-{}", key(case.name)), json);
        }
    });
}

#[test]
fn junit_for_real_reports_is_well_formed() {
    let reports: Vec<(String, Report)> = cases()
        .iter()
        .map(|c| (format!("student <{}> & co", key(c.name)), c.report.clone()))
        .collect();
    scrubbed!({
        for hidden in [HiddenDetails::Reveal, HiddenDetails::Withhold] {
            let xml = results::junit(&reports, hidden);
            let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
            let root = doc.root_element();
            assert_eq!(root.tag_name().name(), "testsuites");
            let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
            assert_eq!(suites.len(), reports.len());
            for (suite, (submission, report)) in suites.iter().zip(&reports) {
                assert_eq!(
                    suite.attribute("name"),
                    Some(format!("{submission} › {}", report.exercise).as_str())
                );
                let cases = suite.children().filter(|n| n.has_tag_name("testcase"));
                let failures = cases
                    .clone()
                    .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
                    .count();
                assert_eq!(
                    suite.attribute("failures"),
                    Some(failures.to_string().as_str())
                );
                for case in cases {
                    assert!(case.attribute("classname").is_some());
                    assert!(case.attribute("name").is_some());
                    assert!(case.attribute("time").unwrap().parse::<f64>().is_ok());
                }
            }
            if hidden == HiddenDetails::Withhold {
                assert!(!xml.contains("average"), "{xml}");
            }
            let name = match hidden {
                HiddenDetails::Reveal => "results-junit-revealed",
                HiddenDetails::Withhold => "results-junit-withheld",
            };
            insta::assert_snapshot!(name, xml);
        }
    });
}

#[test]
fn gradebook_csv_and_step_summary_for_real_reports() {
    let mut rows: Vec<GradebookRow> = cases()
        .iter()
        .map(|c| GradebookRow::new("alice", &c.report))
        .collect();
    rows.push(GradebookRow::new(
        "=HYPERLINK(\"http://evil\",\"click\") | me,\nsecond line",
        &cases()[0].report,
    ));
    let csv = results::gradebook_csv(&rows);
    assert_eq!(csv.matches("\r\n").count(), rows.len() + 1);
    assert!(csv.contains("\"'=HYPERLINK("), "{csv}");
    let summary = results::step_summary(&rows);
    // Every row of the table has the header's five cells, whatever a name holds.
    for line in summary.lines().filter(|l| l.starts_with('|')) {
        let cells = line.replace("\\|", "").matches('|').count();
        assert_eq!(cells, 6, "{line}");
    }
    scrubbed!({
        insta::assert_snapshot!("results-gradebook-csv", csv);
        insta::assert_snapshot!("results-step-summary", summary);
    });
}

#[test]
fn github_annotations_for_real_reports() {
    let mut out = String::new();
    for case in cases() {
        let lines =
            results::github_annotations("submissions/alice", &case.report, HiddenDetails::Withhold);
        assert_eq!(lines.len(), case.report.failures().count().min(lines.len()));
        for line in &lines {
            assert!(line.starts_with("::error "), "{line}");
            assert!(!line.contains('\n') && !line.contains('\r'), "{line}");
            if case.spec.scenarios.iter().all(|s| s.hidden) {
                assert!(!line.contains("average"), "{line}");
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        out.contains("file=submissions/alice/src/lib.rs,line=5,col=20,"),
        "{out}"
    );
    assert!(
        out.contains("file=submissions/alice/src/lib.rs,line=5,title="),
        "{out}"
    );
    scrubbed!({
        insta::assert_snapshot!("results-github-annotations", out);
    });
}
