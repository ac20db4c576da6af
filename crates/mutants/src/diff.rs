//! Splicing a replacement into the original text, and the unified diff of the result. A mutant
//! changes one contiguous region, so the diff is one hunk: the lines both texts share at the
//! start and at the end are context, the rest is the change.

use std::ops::Range;

/// Lines of context around the change.
const CONTEXT: usize = 3;

/// The bytes a replacement takes the place of: the span itself, or, when a span is removed
/// (empty replacement) and nothing else shares its lines, those whole lines.
pub(crate) fn widened(source: &str, span: Range<usize>, replacement: &str) -> Range<usize> {
    if !replacement.is_empty() {
        return span;
    }
    let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[span.end..]
        .find('\n')
        .map_or(source.len(), |i| span.end + i + 1);
    let blank = |s: &str| s.trim().is_empty();
    if blank(&source[line_start..span.start]) && blank(&source[span.end..line_end]) {
        line_start..line_end
    } else {
        span
    }
}

/// The unified diff of two texts that differ in one region, `a/FILE` → `b/FILE`.
pub(crate) fn unified(file: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let start = prefix.saturating_sub(CONTEXT);
    let a_end = (a.len() - suffix + CONTEXT).min(a.len());
    let b_end = (b.len() - suffix + CONTEXT).min(b.len());
    let mut out = format!("--- a/{file}\n+++ b/{file}\n");
    // A range of no lines is written as the line before it, as `diff -u` does.
    let header = |from: usize, to: usize| {
        let len = to - from;
        let first = if len == 0 { from } else { from + 1 };
        format!("{first},{len}")
    };
    out.push_str(&format!(
        "@@ -{} +{} @@\n",
        header(start, a_end),
        header(start, b_end)
    ));
    let line = |out: &mut String, mark: char, text: &str| {
        out.push(mark);
        out.push_str(text.strip_suffix('\n').unwrap_or(text));
        out.push('\n');
    };
    for l in &a[start..prefix] {
        line(&mut out, ' ', l);
    }
    for l in &a[prefix..a.len() - suffix] {
        line(&mut out, '-', l);
    }
    for l in &b[prefix..b.len() - suffix] {
        line(&mut out, '+', l);
    }
    for l in &a[a.len() - suffix..a_end] {
        line(&mut out, ' ', l);
    }
    out
}
