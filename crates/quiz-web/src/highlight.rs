//! Code blocks as HTML: tokens classed for colour (rustc's own lexer, `ra_ap_rustc_lexer`, which
//! also reads JavaScript's comments, strings, numbers and words well enough to colour them),
//! mdbook-quiz's `` `[ ``…`` ]` `` highlights as `<mark>`, and line numbers that are not part
//! of the text a reader selects or a screen reader reads.

use ra_ap_rustc_lexer::{FrontmatterAllowed, TokenKind, tokenize};

use crate::markup::escape;

/// Keywords of Rust (strict and reserved, as written in quiz programs).
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];

/// Keywords of JavaScript, for `js` blocks.
const JS_KEYWORDS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "null",
    "of",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "yield",
];

/// The colour class of a byte of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    Keyword,
    Literal,
    Number,
    Comment,
    Macro,
    Type,
    Lifetime,
}

impl Class {
    fn css(self) -> Option<&'static str> {
        Some(match self {
            Class::Plain => return None,
            Class::Keyword => "kw",
            Class::Literal => "st",
            Class::Number => "nu",
            Class::Comment => "co",
            Class::Macro => "ma",
            Class::Type => "ty",
            Class::Lifetime => "lt",
        })
    }
}

/// A code block as HTML: `<pre class="code">` with one `.line` per line, numbered when asked.
/// `language` is the block's info string's first word (`rust`, `js`, or anything: only `js`
/// and `javascript` change the keywords, and `text` turns colour off).
pub fn code_block(snippet: &str, language: &str, numbered: bool) -> String {
    let (text, marks) =
        quiz::render::markdown::extract_marks(snippet.trim_matches('\n').trim_end());
    let text = text.replace("\r\n", "\n");
    let classes = classify(&text, language);
    let mut marked = vec![false; text.len()];
    for (a, b) in marks {
        for m in marked.iter_mut().take(b.min(text.len())).skip(a) {
            *m = true;
        }
    }
    let mut out = format!(
        "<pre class=\"code{}\"><code>",
        if numbered { " numbered" } else { "" }
    );
    let mut offset = 0;
    for (number, line) in text.split('\n').enumerate() {
        out.push_str("<span class=\"line\">");
        if numbered {
            out.push_str(&format!(
                "<span class=\"ln\" aria-hidden=\"true\" data-n=\"{}\"></span>",
                number + 1
            ));
        }
        let end = offset + line.len();
        let mut at = offset;
        while at < end {
            let (class, mark) = (classes[at], marked[at]);
            let mut run_end = at + 1;
            while run_end < end && classes[run_end] == class && marked[run_end] == mark {
                run_end += 1;
            }
            while !text.is_char_boundary(run_end) {
                run_end += 1;
            }
            let piece = escape(&text[at..run_end]);
            let piece = match class.css() {
                Some(css) => format!("<span class=\"{css}\">{piece}</span>"),
                None => piece,
            };
            if mark {
                out.push_str(&format!("<mark>{piece}</mark>"));
            } else {
                out.push_str(&piece);
            }
            at = run_end;
        }
        // Each line is a block of its own: a line break between them would show as a blank line.
        out.push_str("</span>");
        offset = end + 1;
    }
    out.push_str("</code></pre>");
    out
}

/// The class of every byte of `text`.
fn classify(text: &str, language: &str) -> Vec<Class> {
    let mut classes = vec![Class::Plain; text.len()];
    if matches!(
        language,
        "text" | "txt" | "plain" | "console" | "sh" | "shell"
    ) {
        return classes;
    }
    let keywords = if matches!(language, "js" | "javascript" | "ts" | "typescript") {
        JS_KEYWORDS
    } else {
        RUST_KEYWORDS
    };
    let tokens: Vec<(TokenKind, usize, usize)> = {
        let mut at = 0;
        tokenize(text, FrontmatterAllowed::No)
            .map(|t| {
                let start = at;
                at += t.len as usize;
                (t.kind, start, at)
            })
            .collect()
    };
    let next_significant = |i: usize| {
        tokens[i + 1..]
            .iter()
            .find(|(k, _, _)| *k != TokenKind::Whitespace)
            .map(|(k, _, _)| *k)
    };
    for (i, &(kind, start, end)) in tokens.iter().enumerate() {
        let word = &text[start..end];
        let class = match kind {
            TokenKind::LineComment { .. } | TokenKind::BlockComment { .. } => Class::Comment,
            TokenKind::Literal { kind, .. } => match kind {
                ra_ap_rustc_lexer::LiteralKind::Int { .. }
                | ra_ap_rustc_lexer::LiteralKind::Float { .. } => Class::Number,
                _ => Class::Literal,
            },
            TokenKind::Lifetime { .. } => Class::Lifetime,
            TokenKind::Ident | TokenKind::RawIdent => {
                if keywords.contains(&word) {
                    Class::Keyword
                } else if next_significant(i) == Some(TokenKind::Bang) && keywords == RUST_KEYWORDS
                {
                    Class::Macro
                } else if word.starts_with(|c: char| c.is_ascii_uppercase()) {
                    Class::Type
                } else {
                    Class::Plain
                }
            }
            _ => Class::Plain,
        };
        for c in &mut classes[start..end] {
            *c = class;
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_tokens_are_classed_and_lines_numbered() {
        let html = code_block(
            "fn main() {\n    println!(\"{}\", 1); // hi\n}\n",
            "rust",
            true,
        );
        assert!(html.starts_with("<pre class=\"code numbered\"><code><span class=\"line\"><span class=\"ln\" aria-hidden=\"true\" data-n=\"1\"></span><span class=\"kw\">fn</span> main() {</span>"), "{html}");
        assert!(html.contains("<span class=\"ma\">println</span>!(<span class=\"st\">&quot;{}&quot;</span>, <span class=\"nu\">1</span>); <span class=\"co\">// hi</span>"), "{html}");
        assert_eq!(html.matches("class=\"line\"").count(), 3);
    }

    #[test]
    fn highlights_become_marks_and_javascript_has_its_keywords() {
        let html = code_block("const `[view]` = new Uint8Array(buf);", "js", false);
        assert!(html.contains("<span class=\"kw\">const</span> <mark>view</mark> = <span class=\"kw\">new</span> <span class=\"ty\">Uint8Array</span>(buf);"), "{html}");
        assert!(!html.contains("data-n"));
        let escaped = code_block("a < b && c", "text", false);
        assert!(escaped.contains("a &lt; b &amp;&amp; c"), "{escaped}");
    }
}
