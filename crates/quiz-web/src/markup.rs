//! Markdown as HTML for the quiz page: pulldown-cmark's HTML writer, with code blocks given to
//! [`crate::highlight`] (numbered in prompts, as mdbook-quiz numbers them) and raw HTML in the
//! text shown as text, so a quiz file cannot put markup or scripts on the page.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::highlight::code_block;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders Markdown; `numbered` numbers the lines of code blocks (prompts do).
pub fn markdown(text: &str, numbered: bool) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut events: Vec<Event> = Vec::new();
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(text, options) {
        match (&mut code, event) {
            (None, Event::Start(Tag::CodeBlock(kind))) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((info, String::new()));
            }
            (Some((_, body)), Event::Text(t)) => body.push_str(&t),
            (Some((info, body)), Event::End(TagEnd::CodeBlock)) => {
                events.push(Event::Html(CowStr::from(block(info, body, numbered))));
                code = None;
            }
            (_, Event::Html(raw) | Event::InlineHtml(raw)) => events.push(Event::Text(raw)),
            (_, event) => events.push(event),
        }
    }
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out.trim_end().to_string()
}

/// Renders Markdown that sits inside a line (an option, a label): a lone paragraph loses its
/// `<p>`.
pub fn inline_markdown(text: &str) -> String {
    let html = markdown(text, false);
    match html
        .strip_prefix("<p>")
        .and_then(|h| h.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => html,
    }
}

fn block(info: &str, body: &str, numbered: bool) -> String {
    let mut words = info.split([',', ' ']).filter(|w| !w.is_empty());
    let language = words.next().unwrap_or("rust");
    if language == "aquascope" {
        // aquascope hides `#` lines and draws diagrams the page cannot: the code stays.
        let visible: Vec<String> = body
            .lines()
            .map(quiz::model::program_line)
            .filter(|l| !l.hidden)
            .map(|l| l.text)
            .collect();
        return format!(
            "<p class=\"note\">(The book's web version draws a diagram of this program here.)</p>{}",
            code_block(&visible.join("\n"), "rust", numbered)
        );
    }
    code_block(body, language, numbered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_code_and_raw_html() {
        let html = markdown(
            "Is `[1, 2]` *a* slice? <script>alert(1)</script>\n\n```rust\nlet x = 1;\n```",
            true,
        );
        assert!(
            html.starts_with("<p>Is <code>[1, 2]</code> <em>a</em> slice? &lt;script&gt;"),
            "{html}"
        );
        assert!(html.contains("<pre class=\"code numbered\">"), "{html}");
        assert!(!html.contains("<script>"));
        assert_eq!(inline_markdown("`forget`"), "<code>forget</code>");
    }
}
