//! The memory map of fixture submissions: the terminal drawing is a snapshot, and the SVG is
//! well-formed XML whose rectangles carry exactly the regions' and blocks' addresses and sizes.

use std::path::Path;

use grader::memmap::{self, MemoryMap, PAGE, PageOrigin, RegionKind};

use super::grade;

/// The map at the end of the fixture's scenario `scenario` (counted from 0).
fn map(fixture: &str, scenario: usize) -> MemoryMap {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let report = grade(&dir);
    report.scenarios[scenario]
        .memory
        .clone()
        .unwrap_or_else(|| panic!("`{fixture}` has no memory map"))
}

/// Static data's size moves with the toolchain's standard library; the snapshot keeps the shape.
fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ filters => vec![
        (r"0x[0-9a-f]{8}", "[address]"),
        (r"(?m)^(  \[address\]‥\[address\]) +[0-9.]+ (bytes|KiB|MiB)  static data", "$1  [size]  static data"),
        (r"(?m)^(  \[address\]‥\[address\]) +[0-9.]+ (bytes|KiB|MiB)  (zeroed statics|unused)", "$1  [size]  $3"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn the_map_of_a_leak_marks_the_leaked_block_and_its_site() {
    let map = map("leak/mem-forget", 0);
    let leaked: Vec<_> = map.leaked().collect();
    assert_eq!(leaked.len(), 1);
    assert_eq!(leaked[0].size, 100);
    assert_eq!(
        leaked[0].site.location.as_deref(),
        Some("src/lib.rs:5"),
        "the leak's site comes from the detailed re-run"
    );
    snapshot(
        "memmap-leak-mem-forget",
        &memmap::render_text(&map, 100, false),
    );
}

#[test]
fn the_map_of_a_passing_submission_tells_the_hosts_pages_from_the_programs() {
    // The scenario whose host grows memory by two pages.
    let map = map("pass/copy-and-view", 1);
    assert_eq!(map.leaked().count(), 0);
    assert_eq!(map.pages_from(PageOrigin::Host), 2);
    assert_eq!(map.pages.last(), Some(&PageOrigin::Host));
    snapshot(
        "memmap-pass-copy-and-view",
        &memmap::render_text(&map, 100, false),
    );
}

#[test]
fn the_layout_is_rusts_stack_then_static_data_then_heap() {
    let map = map("leak/mem-forget", 0);
    let kinds: Vec<RegionKind> = map.regions.iter().map(|r| r.kind).collect();
    assert_eq!(kinds.first(), Some(&RegionKind::Stack));
    assert_eq!(kinds.last(), Some(&RegionKind::Heap));
    let stack = &map.regions[0];
    assert_eq!(stack.start, 0);
    assert_eq!(Some(stack.end), map.stack_pointer.map(u64::from));
    assert!(kinds.contains(&RegionKind::Data), "{kinds:?}");
    // Regions cover memory exactly, in order.
    assert_eq!(map.regions.last().unwrap().end, map.bytes);
    for pair in map.regions.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
    }
    // Every live block lies in the heap.
    let heap = map.regions.last().unwrap();
    for b in &map.blocks {
        assert!(
            u64::from(b.ptr) >= heap.start && b.end() <= heap.end,
            "{b:?}"
        );
    }
}

fn attr(node: roxmltree::Node, name: &str) -> u64 {
    node.attribute(name)
        .unwrap_or_else(|| panic!("`{name}` missing on {node:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("`{name}` on {node:?}: {e}"))
}

fn float(node: roxmltree::Node, name: &str) -> f64 {
    node.attribute(name).unwrap().parse().unwrap()
}

/// Checks that the SVG draws every region and block of `map` to scale, at its addresses.
fn check_svg(map: &MemoryMap) {
    let svg = memmap::render_svg(map);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(attr(root, "data-bytes"), map.bytes);
    let row_px = float(root, "data-row-px");
    let left = float(root, "data-left-px");
    let scale = row_px / PAGE as f64;
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    };
    // A rect lies in one page row, at its offset in the page and as wide as its bytes.
    let check_rect = |n: roxmltree::Node| {
        let (s, e) = (attr(n, "data-start"), attr(n, "data-end"));
        assert!(s < e && s / PAGE == (e - 1) / PAGE, "{n:?}");
        let x = float(n, "x");
        let w = float(n, "width");
        assert!(
            (x - (left + (s % PAGE) as f64 * scale)).abs() < 0.01,
            "{n:?}"
        );
        assert!((w - (e - s) as f64 * scale).abs() < 0.01, "{n:?}");
        (s, e)
    };
    // Each region is drawn as page-sized pieces and elided runs of pages that, together,
    // cover exactly its bytes.
    for (i, region) in map.regions.iter().enumerate() {
        let mut spans: Vec<(u64, u64)> = doc
            .descendants()
            .filter(|n| n.attribute("data-region") == Some(i.to_string().as_str()))
            .map(|n| {
                if has_class(&n, "elided") {
                    (attr(n, "data-start"), attr(n, "data-end"))
                } else {
                    assert!(has_class(&n, region.kind.name()), "{n:?}");
                    check_rect(n)
                }
            })
            .collect();
        spans.sort_unstable();
        assert_eq!(spans.first().map(|s| s.0), Some(region.start), "{region:?}");
        assert_eq!(spans.last().map(|s| s.1), Some(region.end), "{region:?}");
        for pair in spans.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "{region:?} has a hole");
        }
    }
    // Each block, leaked ones marked as such.
    let drawn: Vec<(u64, u64, bool)> = doc
        .descendants()
        .filter(|n| has_class(n, "block"))
        .map(|n| {
            check_rect(n);
            (
                attr(n, "data-ptr"),
                attr(n, "data-size"),
                has_class(&n, "leaked"),
            )
        })
        .collect();
    let expected: Vec<(u64, u64, bool)> = map
        .blocks
        .iter()
        .map(|b| (u64::from(b.ptr), u64::from(b.size), b.leaked))
        .collect();
    let mut unique = drawn.clone();
    unique.dedup();
    assert_eq!(unique, expected);
    // Each page has a row or lies in an elided run, and says who grew it.
    for (page, origin) in map.pages.iter().enumerate() {
        let row = doc
            .descendants()
            .find(|n| has_class(n, "page") && attr(*n, "data-page") == page as u64);
        match row {
            Some(row) => assert_eq!(row.attribute("data-origin"), Some(&*format!("{origin:?}"))),
            None => assert!(
                doc.descendants().any(|n| has_class(&n, "elided")
                    && attr(n, "data-start") <= page as u64 * PAGE
                    && attr(n, "data-end") > page as u64 * PAGE),
                "page {page} is not drawn"
            ),
        }
    }
}

#[test]
fn the_svg_draws_regions_and_blocks_at_their_addresses_to_scale() {
    for (fixture, scenario) in [
        ("leak/mem-forget", 0),
        ("pass/copy-and-view", 0),
        ("pass/copy-and-view", 1),
        ("growth-over-budget/copies-everything", 0),
    ] {
        check_svg(&map(fixture, scenario));
    }
}
