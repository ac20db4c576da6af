//! Snapshots of the terminal Markdown renderer, one fixture per case it must keep the meaning
//! of (`tests/fixtures/markdown/*.md`, numbered like a prompt when the name ends in
//! `-numbered`), and proofs that pathological nesting renders in linear size without a crash.

use quiz::render::markdown::{MAX_NESTING, Style, render};

/// Fixtures are rendered this wide, narrow enough that wrapping shows.
const WIDTH: usize = 60;

#[test]
fn each_case_keeps_its_meaning() {
    insta::glob!("../fixtures/markdown", "*.md", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let style = Style {
            width: WIDTH,
            line_numbers: stem.ends_with("-numbered"),
        };
        let rendered = render(&text, style);
        for line in rendered.lines() {
            // Prose is wrapped; only a single long word or code may pass the width.
            let words = line.split_whitespace().count();
            assert!(
                line.chars().count() <= WIDTH || words <= 2 || line.contains(" | "),
                "{stem}: line wider than {WIDTH}: {line:?}"
            );
        }
        let mut settings = insta::Settings::clone_current();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_snapshot_suffix(path.file_name().unwrap().to_string_lossy());
        settings.bind(|| insta::assert_snapshot!("markdown", rendered));
    });
}

/// Output that grew with the square of the nesting depth would be far more than this many
/// bytes per byte of input.
const LINEAR: usize = 12;

fn style() -> Style {
    Style {
        width: 80,
        line_numbers: true,
    }
}

#[test]
fn deep_nesting_renders_in_linear_size() {
    let depth = 3000;
    let nested_list: String = (0..depth)
        .map(|i| format!("{}- level {i}\n", "  ".repeat(i)))
        .collect();
    let nested_quotes = format!("{} deep\n", ">".repeat(depth));
    let nested_emphasis = format!("{}x{}", "*_".repeat(depth), "_*".repeat(depth));
    let nested_links = format!("{}x{}", "[".repeat(depth), "](u)".repeat(depth));
    for (input, prose) in [
        (nested_list, true),
        (nested_quotes, true),
        (nested_emphasis, false),
        (nested_links, false),
    ] {
        let out = render(&input, style());
        assert!(
            out.len() <= LINEAR * input.len() + 1000,
            "{} bytes of output for {} of input",
            out.len(),
            input.len()
        );
        // Indentation stops growing; (markers around one word are one long word).
        let widest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(
            !prose || widest <= 80 + 4 * MAX_NESTING,
            "a line of {widest} columns"
        );
    }
}

#[test]
fn nesting_past_the_limit_stops_indenting_but_keeps_markers() {
    let input: String = (0..MAX_NESTING + 3)
        .map(|i| format!("{}- level {i}\n", "  ".repeat(i)))
        .collect();
    insta::assert_snapshot!("markdown-deep-list", render(&input, style()));
}
