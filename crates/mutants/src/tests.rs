//! One check per operator on a small source: the mutated snippets it makes, in source order.

use super::*;

/// The mutated lines an operator makes of `source` (only the lines that changed, trimmed).
fn check(operator: Operator, source: &str, expected: &[&str]) {
    let mutants = generate("src/lib.rs", source).unwrap();
    let got: Vec<String> = mutants
        .iter()
        .filter(|m| m.operator == operator)
        .map(|m| {
            let mutated = m.apply(source);
            let old: Vec<&str> = source.lines().collect();
            mutated
                .lines()
                .filter(|l| !old.contains(l))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .collect();
    assert_eq!(got, expected, "{operator}");
}

#[test]
fn arithmetic_operators_are_swapped() {
    check(
        Operator::Arithmetic,
        "fn f(a: u32, b: u32) -> u32 {\n    let c = a * b % 7;\n    -(a + b - c) as u32\n}\n",
        &[
            "let c = a / b % 7;",
            "let c = a * b / 7;",
            "(a + b - c) as u32",
            "-(a - b - c) as u32",
            "-(a + b + c) as u32",
        ],
    );
    check(
        Operator::Arithmetic,
        "fn f(v: &mut f64, k: f64) {\n    *v *= k;\n}\n",
        &["*v /= k;"],
    );
}

#[test]
fn comparison_operators_move_their_boundary() {
    check(
        Operator::Comparison,
        "fn f(a: u32) -> bool {\n    a < 3 || a >= 10 && a != 5\n}\n",
        &[
            "a <= 3 || a >= 10 && a != 5",
            "a < 3 || a > 10 && a != 5",
            "a < 3 || a >= 10 && a == 5",
        ],
    );
}

#[test]
fn boolean_operators_and_literals_are_flipped() {
    check(
        Operator::Boolean,
        "fn f(a: bool, b: bool) -> bool {\n    let x = !a && b;\n    x || true\n}\n",
        &[
            "let x = a && b;",
            "let x = !a || b;",
            "x && true",
            "x || false",
        ],
    );
}

#[test]
fn constants_are_off_by_one() {
    check(
        Operator::Constant,
        "const PAGE: usize = 65_536;\nfn f() -> (u8, f64, f64) {\n    (0u8, 0.0, 2.5)\n}\n",
        &[
            "const PAGE: usize = 65537;",
            "const PAGE: usize = 65535;",
            "(1u8, 0.0, 2.5)",
            "(0u8, 1.0, 2.5)",
            "(0u8, 0.0, 0.0)",
        ],
    );
}

#[test]
fn widths_narrow_in_casts_annotations_turbofish_and_paths_but_not_signatures() {
    check(
        Operator::Width,
        "fn f(data: &[u8]) -> Vec<u32> {\n    let total: u64 = data.iter().map(|&b| u32::from(b)).sum::<u32>() as u64;\n    vec![(total as f64 / 2.0) as u32]\n}\n",
        &[
            "let total: u32 = data.iter().map(|&b| u32::from(b)).sum::<u32>() as u64;",
            "let total: u64 = data.iter().map(|&b| u16::from(b)).sum::<u32>() as u64;",
            "let total: u64 = data.iter().map(|&b| u32::from(b)).sum::<u16>() as u64;",
            "let total: u64 = data.iter().map(|&b| u32::from(b)).sum::<u32>() as u32;",
            "vec![(total as f32 / 2.0) as u32]",
            "vec![(total as f64 / 2.0) as u16]",
        ],
    );
}

#[test]
fn a_result_is_passed_through_a_narrower_type() {
    let source = "fn sum(data: &[u8]) -> u32 {\n    data.iter().map(|&b| u32::from(b)).sum()\n}\nfn mean(&self) -> f64 { self.total / 2.0 }\nfn name() -> String { String::new() }\n";
    let narrowed: Vec<String> = generate("src/lib.rs", source)
        .unwrap()
        .into_iter()
        .filter(|m| m.operator == Operator::Width && m.original.starts_with('{'))
        .map(|m| m.apply(source))
        .collect();
    assert_eq!(
        narrowed,
        [
            "fn sum(data: &[u8]) -> u32 {\n    let value: u32 = {\n    data.iter().map(|&b| u32::from(b)).sum()\n};\n    value as u16 as u32\n}\nfn mean(&self) -> f64 { self.total / 2.0 }\nfn name() -> String { String::new() }\n",
            "fn sum(data: &[u8]) -> u32 {\n    data.iter().map(|&b| u32::from(b)).sum()\n}\nfn mean(&self) -> f64 { let value: f64 = { self.total / 2.0 }; value as f32 as f64 }\nfn name() -> String { String::new() }\n",
        ]
    );
}

#[test]
fn return_values_replace_a_body_with_a_plain_value_of_its_type() {
    let source = "struct S;\nimpl S {\n    fn n(&self) -> usize {\n        self.len() + 1\n    }\n    fn ok(&self) -> bool { false }\n    fn p(&self) -> *const u8 { self.v.as_ptr() }\n    fn s(&self) -> String { self.t.clone() }\n    fn keep(&mut self) { self.x = 1; }\n    fn new() -> S { S }\n    fn pair() -> (u8, u8) { (1, 2) }\n    fn bytes(&self) -> &[u8] { &self.v }\n    fn iter(&self) -> impl Iterator<Item = u8> { self.v.iter().copied() }\n}\n";
    check(
        Operator::ReturnValue,
        source,
        &[
            "0",
            "1",
            "fn ok(&self) -> bool { true }",
            "fn p(&self) -> *const u8 { std::ptr::null() }",
            "fn s(&self) -> String { String::new() }",
            "fn keep(&mut self) {}",
            "fn new() -> S { Default::default() }",
            "fn pair() -> (u8, u8) { Default::default() }",
            "fn bytes(&self) -> &[u8] { &[] }",
        ],
    );
    // The multi-line body is replaced by a block of the same indentation.
    let m = generate("src/lib.rs", source).unwrap();
    let zero = m
        .iter()
        .find(|m| m.operator == Operator::ReturnValue)
        .unwrap();
    assert_eq!(zero.function, "S::n");
    assert_eq!(zero.replacement, "{\n        0\n    }");
}

#[test]
fn statements_with_effects_are_removed_with_their_line_but_logging_is_kept() {
    let source = "fn f(v: &mut Vec<u8>, b: Box<u8>) {\n    v.reserve(8);\n    let n = v.len();\n    drop(b);\n    v[0] += 1; v.fill(0);\n    assert!(n > 0);\n    println!(\"{n}\");\n    web_sys::console::log_1(&n.into());\n    course_guest::log!(\"{n}\");\n}\n";
    let mutants = generate("src/lib.rs", source).unwrap();
    let removed: Vec<(&str, String)> = mutants
        .iter()
        .filter(|m| m.operator == Operator::RemoveStatement)
        .map(|m| (m.original.as_str(), m.apply(source)))
        .collect();
    let originals: Vec<&str> = removed.iter().map(|(o, _)| *o).collect();
    assert_eq!(
        originals,
        [
            "v.reserve(8);",
            "drop(b);",
            "v[0] += 1;",
            "v.fill(0);",
            "assert!(n > 0);"
        ]
    );
    // Alone on its line, the line goes; sharing it, only the statement does.
    assert_eq!(removed[0].1, source.replace("    v.reserve(8);\n", ""),);
    assert_eq!(removed[3].1, source.replace(" v.fill(0);", " "));
}

#[test]
fn sibling_methods_are_swapped() {
    check(
        Operator::SwapMethod,
        "fn f(words: &[&str], word: &str, n: usize) -> usize {\n    let a = words.iter().max_by_key(|w| w.len()).unwrap().chars().count();\n    let b = word.split_whitespace().count().min(n);\n    a + n.div_ceil(64 * 2) + word.len() + words.first().unwrap().len()\n}\n",
        &[
            "let a = words.iter().min_by_key(|w| w.len()).unwrap().chars().count();",
            "let a = words.iter().max_by_key(|w| w.len()).unwrap().len();",
            "let a = words.iter().max_by_key(|w| w.chars().count()).unwrap().chars().count();",
            "let b = word.split(' ').count().min(n);",
            "let b = word.split_whitespace().count().max(n);",
            "a + n / (64 * 2) + word.len() + words.first().unwrap().len()",
            "a + n.div_ceil(64 * 2) + word.chars().count() + words.first().unwrap().len()",
            "a + n.div_ceil(64 * 2) + word.len() + words.last().unwrap().len()",
        ],
    );
}

#[test]
fn capacities_are_zero_or_one_more() {
    check(
        Operator::Capacity,
        "fn f(n: usize) -> Vec<u8> {\n    Vec::with_capacity(n * 2)\n}\n",
        &["Vec::with_capacity(0)", "Vec::with_capacity((n * 2) + 1)"],
    );
}

#[test]
fn loop_bounds_include_or_exclude_their_end() {
    check(
        Operator::LoopBound,
        "fn f(v: &[u8]) {\n    for i in 0..v.len() {}\n    for i in 1..=3 {}\n    let _ = &v[..3];\n    let _ = &v[1..];\n}\n",
        &[
            "for i in 0..=v.len() {}",
            "for i in 1..3 {}",
            "let _ = &v[..=3];",
        ],
    );
}

#[test]
fn vec_macro_bodies_are_mutated_but_attributes_tests_and_discriminants_are_not() {
    let source = "#[repr(u8)]\nenum Cell { Dead = 0, Alive = 1 }\n#[wasm_bindgen(js_name = x)]\npub fn grid(w: usize) -> Vec<u8> {\n    vec![0; w * 4]\n}\n#[cfg(test)]\nmod tests {\n    fn t() { assert_eq!(1 + 1, 2); }\n}\n";
    let mutants = generate("src/lib.rs", source).unwrap();
    let changes: Vec<String> = mutants
        .iter()
        .filter(|m| m.operator != Operator::ReturnValue)
        .map(|m| format!("{} → {}", m.original, m.replacement))
        .collect();
    assert_eq!(changes, ["0 → 1", "w * 4 → w / 4", "4 → 5", "4 → 3"],);
}

#[test]
fn ids_survive_unrelated_lines_moving_and_change_with_the_code() {
    let source = "fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\nfn sub(a: u32, b: u32) -> u32 {\n    a - b\n}\n";
    let ids = |s: &str| -> Vec<(String, String)> {
        generate("src/lib.rs", s)
            .unwrap()
            .into_iter()
            .map(|m| (m.describe().split_once(": ").unwrap().1.to_owned(), m.id))
            .collect()
    };
    let before = ids(source);
    let moved = ids(&format!(
        "// a comment\n\n{}",
        source.replace("\n\n", "\n\n\n\n")
    ));
    assert_eq!(before, moved);
    // Reformatting keeps ids; the same text in another function has another id.
    let reformatted = ids(&source.replace("a + b", "a  +  b"));
    assert_eq!(
        before.iter().map(|(_, id)| id).collect::<Vec<_>>(),
        reformatted.iter().map(|(_, id)| id).collect::<Vec<_>>()
    );
    let all: std::collections::BTreeSet<&String> = before.iter().map(|(_, id)| id).collect();
    assert_eq!(all.len(), before.len(), "{before:?}");
    assert!(before.iter().all(|(_, id)| {
        let (op, hex) = id.rsplit_once('-').unwrap();
        Operator::ALL.iter().any(|o| o.name() == op) && hex.len() == 8
    }));
}

#[test]
fn identical_mutants_are_generated_once() {
    // The capacity operator's `0` and the constant operator's `1 → 0` make the same text.
    let source = "fn f() -> Vec<u8> {\n    Vec::with_capacity(1)\n}\n";
    let mutants = generate("src/lib.rs", source).unwrap();
    let texts: Vec<String> = mutants.iter().map(|m| m.apply(source)).collect();
    let zero = source.replace("(1)", "(0)");
    assert_eq!(
        texts.iter().filter(|t| **t == zero).count(),
        1,
        "{texts:#?}"
    );
    let unique: std::collections::BTreeSet<&String> = texts.iter().collect();
    assert_eq!(unique.len(), texts.len());
    assert!(texts.iter().all(|t| t != source));
}

#[test]
fn a_diff_is_one_hunk_with_context() {
    let source = "fn f(a: u32) -> u32 {\n    let b = 1;\n    let c = 2;\n    let d = 3;\n    a + b + c + d\n}\n";
    let m = generate("src/lib.rs", source)
        .unwrap()
        .into_iter()
        .find(|m| m.original == "a + b + c + d")
        .unwrap();
    assert_eq!(
        m.diff(source),
        "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -2,5 +2,5 @@\n     let b = 1;\n     let c = 2;\n     let d = 3;\n-    a + b + c + d\n+    a + b + c - d\n }\n"
    );
    assert_eq!(m.line, 5);
    assert_eq!(m.column, 5);
    assert_eq!(
        m.describe(),
        "src/lib.rs:5:5 in `f`: replace `a + b + c + d` with `a + b + c - d`"
    );
}

#[test]
fn a_file_that_does_not_parse_is_an_error_with_its_position() {
    let err = generate("src/lib.rs", "fn f() {\n    let x = ;\n}\n").unwrap_err();
    assert_eq!((err.line, err.column), (2, 13), "{err}");
    assert!(err.to_string().starts_with("src/lib.rs:2:13: "), "{err}");
}
