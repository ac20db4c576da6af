//! Mutants of a Rust source file: small, plausible bugs (an operator swapped, a constant off by
//! one, a narrower integer, a statement removed, a sibling method called instead), each found
//! with a real parser and made by replacing one span of the original text, so the mutated file
//! differs from the original only where the bug is and its diff reads like a student's edit.
//!
//! Pure functions from text to data: [`generate`] lists the mutants of a file, [`Mutant::apply`]
//! makes its source, [`Mutant::diff`] its unified diff. Nothing here builds or runs code.
//!
//! A mutant's id is `<operator>-<8 hex digits>`: the start of the SHA-256 of the file's name,
//! the operator, the enclosing function's path (`Universe::tick`), the mutated text with its
//! whitespace collapsed (for a return value, the function's signature instead of its body),
//! the replacement, and how many identical mutations come before it in the same function. No
//! line number or byte offset goes in, so an id stays the same when unrelated lines move, and
//! changes when the code it mutates changes.

#![warn(unreachable_pub)]

mod diff;
mod operators;

use std::fmt;
use std::ops::Range;

use sha2::{Digest, Sha256};

/// A kind of mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `+` ↔ `-`, `*` ↔ `/`, `%` → `/`, bitwise and shift operators, their assignments, and a
    /// unary `-` dropped.
    Arithmetic,
    /// `<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`.
    Comparison,
    /// `&&` ↔ `||`, a `!` dropped, `true` ↔ `false`.
    Boolean,
    /// An integer constant one more or one less (`0` becomes `1`), a float constant `0.0` ↔
    /// `1.0`.
    Constant,
    /// An integer or float type one width narrower (`u32` → `u16`, `f64` → `f32`) in a cast,
    /// a `let` annotation, a turbofish or a path such as `u32::from`, and a function's result
    /// passed through the narrower type before it is returned (a sum accumulated in a `u16`
    /// wraps the same way).
    Width,
    /// A function's body replaced by a plain value of its return type (`0`, `true`, `false`,
    /// `0.0`, `String::new()`, `Vec::new()`, `""`, `&[]`, `None`, a null pointer, nothing, or
    /// else `Default::default()`).
    ReturnValue,
    /// A call, method call, macro or assignment statement removed (a `drop`, a `free`, a
    /// `reserve`, a `fill`, a counter's increment); printing and logging are kept.
    RemoveStatement,
    /// A sibling method instead: `min` ↔ `max`, the `_by`/`_by_key` families, `first` ↔
    /// `last`, `find` ↔ `rfind`, `len()` ↔ `chars().count()`, `split_whitespace()` →
    /// `split(' ')`, `div_ceil(n)` → `/ n`, wrapping ↔ saturating arithmetic.
    SwapMethod,
    /// `with_capacity(n)` asked for `0` or `n + 1`.
    Capacity,
    /// A range's end included or excluded: `a..b` ↔ `a..=b`.
    LoopBound,
}

impl Operator {
    pub const ALL: [Operator; 10] = [
        Operator::Arithmetic,
        Operator::Comparison,
        Operator::Boolean,
        Operator::Constant,
        Operator::Width,
        Operator::ReturnValue,
        Operator::RemoveStatement,
        Operator::SwapMethod,
        Operator::Capacity,
        Operator::LoopBound,
    ];

    /// The name used in ids and reports.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Arithmetic => "arithmetic",
            Operator::Comparison => "comparison",
            Operator::Boolean => "boolean",
            Operator::Constant => "constant",
            Operator::Width => "width",
            Operator::ReturnValue => "return-value",
            Operator::RemoveStatement => "remove-statement",
            Operator::SwapMethod => "swap-method",
            Operator::Capacity => "capacity",
            Operator::LoopBound => "loop-bound",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One mutant: a span of the original file and what replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutant {
    /// Stable across unrelated edits; see the crate documentation for the rule.
    pub id: String,
    pub operator: Operator,
    /// The file's name as given to [`generate`], e.g. `src/lib.rs`.
    pub file: String,
    /// The enclosing function, `Type::method` or `function`; empty at the top level.
    pub function: String,
    /// Bytes of the original text replaced.
    pub span: Range<usize>,
    /// 1-based line and column (in characters) where the span starts.
    pub line: usize,
    pub column: usize,
    /// The original text of the span and its replacement.
    pub original: String,
    pub replacement: String,
}

impl Mutant {
    /// The mutated source: `source` with the span replaced. A statement removed on a line of
    /// its own takes its line with it.
    pub fn apply(&self, source: &str) -> String {
        let range = diff::widened(source, self.span.clone(), &self.replacement);
        let mut out = String::with_capacity(source.len() + self.replacement.len());
        out.push_str(&source[..range.start]);
        out.push_str(&self.replacement);
        out.push_str(&source[range.end..]);
        out
    }

    /// The unified diff from `source` to the mutant, with three lines of context, between
    /// `a/FILE` and `b/FILE`.
    pub fn diff(&self, source: &str) -> String {
        diff::unified(&self.file, source, &self.apply(source))
    }

    /// One line for a person: `src/lib.rs:12:9 in `add`: replace `a + b` with `a - b``.
    pub fn describe(&self) -> String {
        let short = |s: &str| {
            let one: String = collapse(s);
            if one.chars().count() > 60 {
                format!("{}…", one.chars().take(59).collect::<String>())
            } else {
                one
            }
        };
        let what = if self.replacement.trim().is_empty() {
            format!("remove `{}`", short(&self.original))
        } else {
            format!(
                "replace `{}` with `{}`",
                short(&self.original),
                short(&self.replacement)
            )
        };
        let within = if self.function.is_empty() {
            String::new()
        } else {
            format!(" in `{}`", self.function)
        };
        format!(
            "{}:{}:{}{within}: {what}",
            self.file, self.line, self.column
        )
    }
}

/// A file that does not parse as Rust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every mutant of `source` (the file named `file`), in source order, with no two making the
/// same mutated text and none making the original.
pub fn generate(file: &str, source: &str) -> Result<Vec<Mutant>, ParseError> {
    let parsed = syn::parse_file(source).map_err(|e| {
        let start = e.span().start();
        ParseError {
            file: file.to_owned(),
            line: start.line,
            column: start.column + 1,
            message: e.to_string(),
        }
    })?;
    let mut raw = operators::collect(source, &parsed);
    raw.sort_by_key(|r| (r.span.start, r.span.end));
    let mut seen_text = std::collections::HashSet::new();
    let mut occurrences: std::collections::HashMap<String, usize> = Default::default();
    let mut out = Vec::new();
    for r in raw {
        let original = source[r.span.clone()].to_owned();
        let mut mutant = Mutant {
            id: String::new(),
            operator: r.operator,
            file: file.to_owned(),
            function: r.function,
            span: r.span.clone(),
            line: 0,
            column: 0,
            original,
            replacement: r.replacement,
        };
        let mutated = mutant.apply(source);
        if mutated == source || !seen_text.insert(mutated) {
            continue;
        }
        let before = &source[..r.span.start];
        mutant.line = before.matches('\n').count() + 1;
        mutant.column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        let subject = r.subject.unwrap_or_else(|| mutant.original.clone());
        let key = [
            file,
            mutant.operator.name(),
            &mutant.function,
            &collapse(&subject),
            &collapse(&mutant.replacement),
        ]
        .join("\u{0}");
        let n = occurrences.entry(key.clone()).or_default();
        let digest = Sha256::digest(format!("{key}\u{0}{n}").as_bytes());
        *n += 1;
        let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        mutant.id = format!("{}-{hex}", mutant.operator.name());
        out.push(mutant);
    }
    Ok(out)
}

/// Whitespace runs as one space, so reformatting does not change an id.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
