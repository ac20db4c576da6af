//! The quiz page end to end, in a real headless Chromium: `cargo xtask quiz --web` writes the
//! site, and the chapter 21 page is taken as a student takes it, from `file://`: every question
//! type answered right and wrong, the feedback each gets, progress kept across reloads, retry,
//! give up, passed in full, keyboard-only answering, a phone-width screen, and the exported
//! answers graded by the command line to the page's score. Screenshots of the main states are
//! written to `target/tmp/quiz-web-screenshots/` for a person to look at (nothing compares
//! them).
//!
//! Where Chromium is missing the test says that it did not run; under `CI=true` on Linux (where
//! `.ci/run` installs it) it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use browser::Browser;
use quiz::grade::{choices, question_key};
use quiz::{QuestionKind, Quiz, Response};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

/// Chromium, or `None` after saying the test did not run (a failure under CI on Linux, where
/// `.ci/run` installs it; the browser driver needs Unix).
fn chromium(test: &str) -> Option<PathBuf> {
    if !cfg!(unix) {
        eprintln!("{test}: did not run: the browser driver needs Unix");
        return None;
    }
    match browser::find() {
        Some(path) => Some(path),
        None if std::env::var("CI").is_ok_and(|v| v == "true") && cfg!(target_os = "linux") => {
            panic!(
                "{test}: Chromium is missing, and CI must run the browser tests (`apt-get install chromium`)"
            )
        }
        None => {
            eprintln!(
                "{test}: did not run: no Chromium found (install Debian's `chromium`, or set CHROMIUM)"
            );
            None
        }
    }
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("xtask runs")
}

/// The site, written once by the command line.
fn site() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quiz-web-site");
    let _ = std::fs::remove_dir_all(&out);
    let run = xtask(&["quiz", "--web", out.to_str().unwrap(), "21"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quiz-web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chapter() -> Quiz {
    let source = std::fs::read_to_string(root().join("quizzes/21-wasm-memory.toml")).unwrap();
    quiz::parse(&source)
        .quiz
        .expect("chapter 21's quiz is valid")
}

fn stage(b: &mut Browser) -> String {
    b.eval("document.getElementById('quiz').dataset.stage")
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_stage(b: &mut Browser, expected: &str) {
    let js = format!("document.getElementById('quiz').dataset.stage === {expected:?}");
    if let Err(e) = b.wait_for(&js, WAIT) {
        panic!("{e}; the stage is `{}`", stage(b));
    }
}

fn js(b: &mut Browser, code: &str) -> Value {
    b.eval(code).unwrap_or_else(|e| panic!("{e}"))
}

/// A response to question `index`, right or wrong (a wrong one of the kind a student gives).
fn response(quiz: &Quiz, index: usize, right: bool) -> Response {
    let key = Response::key(&quiz.questions[index]);
    if right {
        return key;
    }
    match (&quiz.questions[index].kind, key) {
        (QuestionKind::MultipleChoice(mc), _) if mc.select_all => {
            Response::Choices(vec![mc.answers[0].clone()])
        }
        (QuestionKind::MultipleChoice(mc), _) => {
            let with_reason = mc.distractors.iter().find(|d| d.feedback.is_some());
            Response::Choices(vec![with_reason.unwrap_or(&mc.distractors[0]).text.clone()])
        }
        (QuestionKind::Numeric(n), _) => Response::Number(n.answer + 1.0),
        (QuestionKind::ShortAnswer(_), _) => Response::Text("SharedArrayBuffer".into()),
        (QuestionKind::Tracing(_), Response::Tracing { compiles: true, .. }) => Response::Tracing {
            compiles: true,
            stdout: Some("65536\nSome(0)".into()),
            line: None,
        },
        (QuestionKind::Tracing(t), Response::Tracing { line, .. }) => Response::Tracing {
            compiles: false,
            stdout: None,
            line: line.map(|l| if l > 1 { l - 1 } else { t.shown_lines().len() }),
        },
        (_, key) => key,
    }
}

/// Fills the form of question `index` with `response` through the page, and submits it.
fn answer(b: &mut Browser, quiz: &Quiz, index: usize, response: &Response) {
    wait_stage(b, &format!("asking {}", index + 1));
    let mut code = String::new();
    match (response, &quiz.questions[index].kind) {
        (Response::Choices(picks), QuestionKind::MultipleChoice(mc)) => {
            let shown = choices(mc, &question_key(quiz, index));
            for pick in picks {
                let at = shown.iter().position(|c| &c.text == pick).unwrap();
                code.push_str(&format!(
                    "document.querySelector('input[name=choice][value=\"{at}\"]').click();"
                ));
            }
        }
        (Response::Text(t), _) => {
            code.push_str(&format!("document.getElementById('text').value = {t:?};"))
        }
        (Response::Number(n), _) => {
            code.push_str(&format!("document.getElementById('number').value = '{n}';"))
        }
        (
            Response::Tracing {
                compiles,
                stdout,
                line,
            },
            _,
        ) => {
            let yes = if *compiles { "yes" } else { "no" };
            code.push_str(&format!(
                "document.querySelector('input[name=compiles][value={yes}]').click();"
            ));
            if let Some(stdout) = stdout {
                code.push_str(&format!(
                    "document.getElementById('stdout').value = {stdout:?};"
                ));
            }
            if let Some(line) = line {
                code.push_str(&format!(
                    "document.getElementById('line').value = '{line}';"
                ));
            }
        }
        other => panic!("no form for {other:?}"),
    }
    code.push_str("document.querySelector('form.answer').requestSubmit(); true");
    js(b, &code);
}

fn score(b: &mut Browser) -> String {
    js(b, "document.querySelector('.score').textContent")
        .as_str()
        .unwrap()
        .to_string()
}

/// Exports the answers through the page and grades them with `cargo xtask quiz --answers`.
fn grade_export(b: &mut Browser, dir: &Path, name: &str) -> Value {
    js(
        b,
        "document.querySelector('[data-action=export]').click(); true",
    );
    let text = b
        .wait_for("document.getElementById('export-text').value", WAIT)
        .unwrap();
    assert_eq!(
        js(b, "document.getElementById('export').hidden"),
        Value::Bool(false)
    );
    let file = dir.join(name);
    std::fs::write(&file, text.as_str().unwrap()).unwrap();
    let run = xtask(&[
        "quiz",
        "21",
        "--answers",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--no-record",
    ]);
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

#[test]
fn chapter_21_page_is_taken_end_to_end_in_chromium() {
    let Some(chromium) = chromium("chapter_21_page_is_taken_end_to_end_in_chromium") else {
        return;
    };
    let quiz = chapter();
    let site = site();
    let shots = screenshots();
    let exports = tempfile::tempdir().unwrap();
    let url = browser::file_url(&site.join("21-wasm-memory.html"));
    let mut b = Browser::launch(&chromium, 1000, 900).unwrap();
    b.navigate(&url).unwrap();
    wait_stage(&mut b, "asking 1");
    b.screenshot(&shots.join("01-question.png")).unwrap();

    // Keyboard only: Tab to the options, arrows to pick, Tab to the button, Enter.
    let first = &quiz.questions[0];
    let QuestionKind::MultipleChoice(mc) = &first.kind else {
        panic!("chapter 21 opens with a multiple-choice question")
    };
    let shown = choices(mc, &question_key(&quiz, 0));
    let right_at = shown.iter().position(|c| c.correct).unwrap();
    let mut tabs = 0;
    while js(&mut b, "document.activeElement.name || ''") != "choice" {
        b.press("Tab", false).unwrap();
        tabs += 1;
        assert!(tabs < 10, "Tab never reached the options");
    }
    let outline = js(
        &mut b,
        "getComputedStyle(document.activeElement).outlineStyle",
    );
    assert_ne!(outline, "none", "keyboard focus is visible");
    // Submitting nothing says what is missing, in a place kept for it: nothing moves.
    let button_top = "document.querySelector('button[type=submit]').getBoundingClientRect().top";
    let before = js(&mut b, button_top);
    js(
        &mut b,
        "document.querySelector('form.answer').requestSubmit(); true",
    );
    assert_eq!(
        js(&mut b, "document.getElementById('message').textContent"),
        "pick an option"
    );
    assert_eq!(
        js(&mut b, button_top),
        before,
        "the message shifted the layout"
    );
    b.screenshot(&shots.join("02-missing-answer.png")).unwrap();
    js(
        &mut b,
        "document.querySelector('input[name=choice]').focus(); true",
    );
    for _ in 0..right_at {
        b.press("ArrowDown", false).unwrap();
    }
    if right_at == 0 {
        b.press("Space", false).unwrap();
    }
    while js(&mut b, "document.activeElement.type || ''") != "submit" {
        b.press("Tab", false).unwrap();
    }
    b.press("Enter", false).unwrap();
    wait_stage(&mut b, "asking 2");
    assert_eq!(
        js(&mut b, "document.activeElement.id"),
        "heading",
        "focus moves to the next question"
    );

    // Attempt 1: one question of each kind wrong (two multiple-choice ones), the rest right.
    let mut wrong_mc = 0;
    let mut planned: Vec<Response> = vec![Response::key(first)];
    for index in 1..quiz.questions.len() {
        let right = match &quiz.questions[index].kind {
            QuestionKind::MultipleChoice(mc) if !mc.select_all => {
                wrong_mc += 1;
                wrong_mc > 2
            }
            _ => false,
        };
        let r = response(&quiz, index, right);
        answer(&mut b, &quiz, index, &r);
        planned.push(r);
        if index == 10 {
            // Progress survives a reload.
            wait_stage(&mut b, "asking 12");
            b.reload().unwrap();
            wait_stage(&mut b, "asking 12");
        }
    }
    wait_stage(&mut b, "review");
    let expected = quiz::grade(
        &quiz,
        &planned.iter().cloned().map(Some).collect::<Vec<_>>(),
    );
    assert!(!expected.passed);
    for result in &expected.questions {
        let class = js(
            &mut b,
            &format!(
                "document.getElementById('result-{}').className",
                result.number
            ),
        );
        let want = if result.correct {
            "result right"
        } else {
            "result wrong"
        };
        assert_eq!(class, want, "question {}", result.number);
    }
    let review = js(&mut b, "document.getElementById('screen').innerText");
    let review = review.as_str().unwrap();
    // Per-option feedback for the wrong picks, as the quiz file words it.
    for (index, q) in quiz.questions.iter().enumerate() {
        if let (QuestionKind::MultipleChoice(mc), Response::Choices(picks)) =
            (&q.kind, &planned[index])
            && !mc.select_all
            && let Some(d) = mc.distractors.iter().find(|d| picks.contains(&d.text))
            && let Some(why) = &d.feedback
        {
            let plain = why.replace('`', "");
            assert!(review.contains(&plain), "feedback `{plain}` missing");
        }
    }
    assert!(review.contains("A right option is missing."));
    assert!(review.contains("The first error is on line"));
    assert!(
        !review.contains("The correct answer is"),
        "answers are shown only once the quiz is over"
    );
    let shown_score = score(&mut b);
    assert!(
        shown_score.contains(&format!(
            "{} of {} points",
            expected.points, expected.max_points
        )),
        "{shown_score}"
    );
    b.screenshot(&shots.join("03-review.png")).unwrap();

    // The exported answers grade to the same score on the command line.
    let graded = grade_export(&mut b, exports.path(), "first.toml");
    assert_eq!(graded["points"], expected.points);
    assert_eq!(graded["passed"], false);
    b.screenshot(&shots.join("04-export.png")).unwrap();

    // The review is kept across a reload too.
    b.reload().unwrap();
    wait_stage(&mut b, "review");

    // Retry: only the wrong ones are asked again; right this time, the quiz is passed in full.
    js(
        &mut b,
        "document.querySelector('[data-action=retry]').click(); true",
    );
    for index in expected.wrong() {
        answer(&mut b, &quiz, index, &response(&quiz, index, true));
    }
    wait_stage(&mut b, "done");
    let done = js(&mut b, "document.getElementById('screen').innerText");
    assert!(done.as_str().unwrap().contains("passed in full"), "{done}");
    assert!(done.as_str().unwrap().contains("Context:"));
    b.screenshot(&shots.join("05-passed.png")).unwrap();
    let graded = grade_export(&mut b, exports.path(), "passed.toml");
    assert_eq!(graded["points"], expected.max_points);
    assert_eq!(graded["passed"], true);

    // Start again, get everything wrong, give up: the answers are shown.
    js(
        &mut b,
        "document.querySelector('[data-action=restart]').click(); true",
    );
    for index in 0..quiz.questions.len() {
        answer(&mut b, &quiz, index, &response(&quiz, index, false));
    }
    wait_stage(&mut b, "review");
    js(
        &mut b,
        "document.querySelector('[data-action=give-up]').click(); true",
    );
    wait_stage(&mut b, "done");
    let gave_up = js(&mut b, "document.getElementById('screen').innerText");
    let gave_up = gave_up.as_str().unwrap();
    assert!(gave_up.contains("not passed"), "{gave_up}");
    assert!(gave_up.contains("The correct answer is"));
    b.screenshot(&shots.join("06-gave-up.png")).unwrap();
    let graded = grade_export(&mut b, exports.path(), "gave-up.toml");
    assert!(score(&mut b).contains(&format!("{} of", graded["points"])));

    // A phone's width: nothing is wider than the screen, code scrolls inside its box.
    js(
        &mut b,
        "document.querySelector('[data-action=restart]').click(); true",
    );
    b.viewport(360, 740, true).unwrap();
    for index in 0..quiz.questions.len() {
        if matches!(quiz.questions[index].kind, QuestionKind::Tracing(_)) {
            wait_stage(&mut b, &format!("asking {}", index + 1));
            break;
        }
        answer(&mut b, &quiz, index, &response(&quiz, index, true));
    }
    let overflow = js(
        &mut b,
        "document.documentElement.scrollWidth <= window.innerWidth",
    );
    assert_eq!(
        overflow,
        Value::Bool(true),
        "the page is wider than a phone"
    );
    let labelled = js(
        &mut b,
        "[...document.querySelectorAll('input, textarea')].every(c => c.labels && c.labels.length > 0)",
    );
    assert_eq!(labelled, Value::Bool(true), "every control has a label");
    b.screenshot(&shots.join("07-phone-tracing.png")).unwrap();
    eprintln!("screenshots in {}", shots.display());
}
