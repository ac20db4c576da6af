//! Authoring diagnostics: one per problem found in a quiz file, all collected, rendered like
//! rustc's with `file:line:col` and the source line underlined.

use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// How bad a problem is: errors make the file unusable, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// Every rule the validator checks. The kebab-case name is shown as the diagnostic's code and
/// names the broken fixture that trips it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    NotUtf8,
    TomlSyntax,
    UnknownKey,
    WrongType,
    MissingKey,
    InvalidValue,
    UnsupportedFormatVersion,
    EmptyQuiz,
    UnknownQuestionType,
    DuplicateId,
    EmptyText,
    AnswerInDistractors,
    DuplicateOption,
    AnswerIndexOutOfRange,
    AnswerIndexWithSortAnswers,
    UnknownMultipartKey,
    UnusedMultipartKey,
    TracingKeyShape,
    TracingDoesCompile,
    TracingStdout,
    TracingExitStatus,
    TracingLineNumber,
    TracingUnverified,
}

impl Rule {
    /// Every rule, for tests that want one fixture per rule.
    pub const ALL: &[Rule] = &[
        Rule::NotUtf8,
        Rule::TomlSyntax,
        Rule::UnknownKey,
        Rule::WrongType,
        Rule::MissingKey,
        Rule::InvalidValue,
        Rule::UnsupportedFormatVersion,
        Rule::EmptyQuiz,
        Rule::UnknownQuestionType,
        Rule::DuplicateId,
        Rule::EmptyText,
        Rule::AnswerInDistractors,
        Rule::DuplicateOption,
        Rule::AnswerIndexOutOfRange,
        Rule::AnswerIndexWithSortAnswers,
        Rule::UnknownMultipartKey,
        Rule::UnusedMultipartKey,
        Rule::TracingKeyShape,
        Rule::TracingDoesCompile,
        Rule::TracingStdout,
        Rule::TracingExitStatus,
        Rule::TracingLineNumber,
        Rule::TracingUnverified,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::NotUtf8 => "not-utf8",
            Rule::TomlSyntax => "toml-syntax",
            Rule::UnknownKey => "unknown-key",
            Rule::WrongType => "wrong-type",
            Rule::MissingKey => "missing-key",
            Rule::InvalidValue => "invalid-value",
            Rule::UnsupportedFormatVersion => "unsupported-format-version",
            Rule::EmptyQuiz => "empty-quiz",
            Rule::UnknownQuestionType => "unknown-question-type",
            Rule::DuplicateId => "duplicate-id",
            Rule::EmptyText => "empty-text",
            Rule::AnswerInDistractors => "answer-in-distractors",
            Rule::DuplicateOption => "duplicate-option",
            Rule::AnswerIndexOutOfRange => "answer-index-out-of-range",
            Rule::AnswerIndexWithSortAnswers => "answer-index-with-sort-answers",
            Rule::UnknownMultipartKey => "unknown-multipart-key",
            Rule::UnusedMultipartKey => "unused-multipart-key",
            Rule::TracingKeyShape => "tracing-key-shape",
            Rule::TracingDoesCompile => "tracing-does-compile",
            Rule::TracingStdout => "tracing-stdout",
            Rule::TracingExitStatus => "tracing-exit-status",
            Rule::TracingLineNumber => "tracing-line-number",
            Rule::TracingUnverified => "tracing-unverified",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem in a quiz file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub rule: Rule,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Byte range in the source that the problem is about.
    pub span: Range<usize>,
    /// Short text under the underlined span.
    pub label: String,
    /// Other places that explain the problem (e.g. where a duplicated id was first used).
    pub related: Vec<(Range<usize>, String)>,
    /// Further lines: `help: ...` says how to fix it.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(rule: Rule, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            rule,
            message: message.into(),
            span,
            label: String::new(),
            related: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn warning(rule: Rule, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(rule, span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Points at a second place in the file.
    pub fn with_related(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    /// Adds a `help: ...` line saying how to fix the problem.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.notes.push(format!("help: {}", help.into()));
        self
    }

    /// Adds a `note: ...` line.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(format!("note: {}", note.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column of the start of the span in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..source.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Renders diagnostics for one file, in source order, as rustc does. `file_name` is shown as
/// written; pass a path relative to where the reader stands.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| (d.span.start, d.span.end));
    let mut out = Vec::new();
    for diagnostic in sorted {
        let report = to_report(diagnostic, source);
        let result = if color {
            let mut writer = termcolor::Ansi::new(&mut out);
            term::emit(&mut writer, &config, &file, &report)
        } else {
            let mut writer = termcolor::NoColor::new(&mut out);
            term::emit(&mut writer, &config, &file, &report)
        };
        // Spans come from the same source, so rendering cannot fail; fall back to one line.
        if result.is_err() {
            let (line, col) = diagnostic.line_col(source);
            out.extend(format!("{file_name}:{line}:{col}: {}\n", diagnostic.message).bytes());
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn to_report(diagnostic: &Diagnostic, source: &str) -> Report<()> {
    let report = match diagnostic.severity {
        Severity::Error => Report::error(),
        Severity::Warning => Report::warning(),
    };
    let clamp = |span: &Range<usize>| {
        let start = source.floor_char_boundary(span.start);
        start..source.floor_char_boundary(span.end.max(start))
    };
    let mut labels =
        vec![Label::primary((), clamp(&diagnostic.span)).with_message(&diagnostic.label)];
    for (span, label) in &diagnostic.related {
        labels.push(Label::secondary((), clamp(span)).with_message(label));
    }
    report
        .with_code(diagnostic.rule.name())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(diagnostic.notes.clone())
}

/// One-line summary such as `2 errors, 1 warning`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 9), (2, 3));
    }

    #[test]
    fn renders_file_line_col_and_underline() {
        let src = "[[questions]]\ntype = \"Essay\"\n";
        let d = Diagnostic::error(
            Rule::UnknownQuestionType,
            21..28,
            "unknown question type `Essay`",
        )
        .with_label("not a question type")
        .with_help("use `ShortAnswer`, `MultipleChoice`, `Tracing` or `Numeric`");
        let text = render("q.toml", src, &[d], false);
        assert!(
            text.contains("error[unknown-question-type]: unknown question type `Essay`"),
            "{text}"
        );
        assert!(text.contains("q.toml:2:8"), "{text}");
        assert!(text.contains("^^^^^^^"), "{text}");
    }
}
