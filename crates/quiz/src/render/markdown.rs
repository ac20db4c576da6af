//! Markdown for a terminal, keeping what the text means: inline code as written (brackets and
//! all), emphasis as `*` and `**`, quotes behind `>`, nested lists indented, links with their
//! address, and code blocks as mdbook-quiz shows them (trimmed, numbered in prompts, with its
//! `` `[` ``…`` ]` `` highlights underlined by `^`). An aquascope block keeps its code and says
//! that its diagram is left out. Prose is wrapped to the width asked for.
//!
//! One pass over the parser's events; every output line costs at most [`MAX_NESTING`]
//! containers' worth of prefix, so deeply nested input renders in time and space linear in
//! its size.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use unicode_width::UnicodeWidthStr;

/// How the code blocks of a text are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Columns to wrap prose at.
    pub width: usize,
    /// Number the lines of code blocks (mdbook-quiz does in prompts).
    pub line_numbers: bool,
}

/// Quotes and list items nested deeper than this add no more indentation (their markers still
/// show), so a pathological prompt cannot make output grow with the square of its depth.
pub const MAX_NESTING: usize = 8;

/// Prose is never wrapped narrower than this, however deep it is nested.
const MIN_TEXT_WIDTH: usize = 24;

/// Renders `text` as plain terminal text.
pub fn render(text: &str, style: Style) -> String {
    let mut r = Renderer {
        style,
        out: String::new(),
        containers: Vec::new(),
        started: 0,
        inline: String::new(),
        need_blank: false,
        code: None,
        links: Vec::new(),
        lists: Vec::new(),
        table: None,
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(text, options) {
        r.event(event);
    }
    r.flush();
    r.out.truncate(r.out.trim_end().len());
    r.out
}

enum Container {
    Quote,
    Item { marker: String },
}

struct CodeBlock {
    info: String,
    body: String,
}

struct Renderer {
    style: Style,
    out: String,
    containers: Vec<Container>,
    /// Containers below this index have had their first line written (an item shows its
    /// marker on its first line only).
    started: usize,
    /// The prose of the block being read.
    inline: String,
    /// A blank line goes before the next block.
    need_blank: bool,
    code: Option<CodeBlock>,
    links: Vec<String>,
    /// Each open list: its next number (`None`: bullets), and whether it is loose (its items
    /// hold paragraphs, so a blank line separates them).
    lists: Vec<(Option<u64>, bool)>,
    /// Rows of the table being read, each a list of cells.
    table: Option<Vec<Vec<String>>>,
}

impl Renderer {
    fn event(&mut self, event: Event<'_>) {
        if let Some(code) = &mut self.code {
            match event {
                Event::Text(t) => code.body.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let code = self.code.take().expect("in a code block");
                    self.code_block(&code.info, &code.body);
                    self.need_blank = true;
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.push_inline(&t),
            Event::Code(c) => {
                let fence = if c.contains('`') { "``" } else { "`" };
                let pad = if c.starts_with('`') || c.ends_with('`') {
                    " "
                } else {
                    ""
                };
                let text = format!("{fence}{pad}{c}{pad}{fence}");
                self.push_inline(&text);
            }
            Event::InlineMath(m) | Event::DisplayMath(m) => self.push_inline(&m),
            Event::Html(html) | Event::InlineHtml(html) => {
                let tag = html.trim().to_ascii_lowercase();
                match tag.as_str() {
                    "<sup>" => self.push_inline("^"),
                    "<br>" | "<br/>" | "<br />" => self.push_inline("\n"),
                    // Other markup has no terminal form; its text, if any, comes as text.
                    _ => {}
                }
            }
            Event::FootnoteReference(name) => self.push_inline(&format!("[^{name}]")),
            Event::SoftBreak => self.push_inline(" "),
            Event::HardBreak => self.push_inline("\n"),
            Event::Rule => {
                self.flush();
                self.block_start();
                self.line("----");
                self.need_blank = true;
            }
            Event::TaskListMarker(done) => self.push_inline(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {
                self.flush();
                self.block_start();
                // Only a loose list's items hold paragraphs.
                if matches!(self.containers.last(), Some(Container::Item { .. }))
                    && let Some((_, loose)) = self.lists.last_mut()
                {
                    *loose = true;
                }
            }
            Tag::Heading { level, .. } => {
                self.flush();
                self.block_start();
                let hashes = match level {
                    HeadingLevel::H1 => "#",
                    HeadingLevel::H2 => "##",
                    HeadingLevel::H3 => "###",
                    HeadingLevel::H4 => "####",
                    HeadingLevel::H5 => "#####",
                    HeadingLevel::H6 => "######",
                };
                self.inline = format!("{hashes} ");
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.block_start();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                self.block_start();
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some(CodeBlock {
                    info,
                    body: String::new(),
                });
            }
            Tag::List(first) => {
                self.flush();
                // A list inside an item follows its text directly.
                if !matches!(self.containers.last(), Some(Container::Item { .. })) {
                    self.block_start();
                }
                self.lists.push((first, false));
            }
            Tag::Item => {
                self.flush();
                let marker = match self.lists.last_mut() {
                    Some((Some(n), _)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "- ".to_string(),
                };
                self.containers.push(Container::Item { marker });
            }
            Tag::Emphasis => self.push_inline("*"),
            Tag::Strong => self.push_inline("**"),
            Tag::Strikethrough => self.push_inline("~~"),
            Tag::Link { dest_url, .. } => self.links.push(dest_url.to_string()),
            Tag::Image { dest_url, .. } => {
                self.push_inline("[image: ");
                self.links.push(dest_url.to_string());
            }
            Tag::Table(_) => {
                self.flush();
                self.block_start();
                self.table = Some(Vec::new());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(rows) = &mut self.table {
                    rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.inline.clear(),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) => {
                self.flush();
                self.need_blank = true;
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.pop();
                self.need_blank = true;
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.need_blank = true;
            }
            TagEnd::Item => {
                self.flush();
                self.pop();
                // Items of a tight list follow each other; a loose list's are apart.
                self.need_blank = self.lists.last().is_some_and(|(_, loose)| *loose);
            }
            TagEnd::Emphasis => self.push_inline("*"),
            TagEnd::Strong => self.push_inline("**"),
            TagEnd::Strikethrough => self.push_inline("~~"),
            TagEnd::Link => {
                if let Some(url) = self.links.pop()
                    && !self.inline.ends_with(&url)
                    && !url.starts_with('#')
                {
                    self.push_inline(&format!(" <{url}>"));
                }
            }
            TagEnd::Image => {
                if let Some(url) = self.links.pop() {
                    self.push_inline(&format!(" <{url}>]"));
                }
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline).trim().replace('\n', " ");
                if let Some(row) = self.table.as_mut().and_then(|rows| rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Table => {
                let rows = self.table.take().unwrap_or_default();
                for (i, row) in rows.iter().enumerate() {
                    self.line(&row.join(" | "));
                    if i == 0 {
                        let rule: Vec<String> =
                            row.iter().map(|c| "-".repeat(c.width().max(3))).collect();
                        self.line(&rule.join("-|-"));
                    }
                }
                self.need_blank = true;
            }
            _ => {}
        }
    }

    fn pop(&mut self) {
        self.containers.pop();
        self.started = self.started.min(self.containers.len());
    }

    fn push_inline(&mut self, text: &str) {
        if self.table.is_some() || !text.is_empty() {
            self.inline.push_str(text);
        }
    }

    /// Writes the blank line a block asked for before the next one.
    fn block_start(&mut self) {
        if self.need_blank && !self.out.is_empty() {
            let prefix = self.prefix(true);
            self.out.push_str(prefix.trim_end());
            self.out.push('\n');
        }
        self.need_blank = false;
    }

    /// Writes the prose read so far, wrapped.
    fn flush(&mut self) {
        if self.table.is_some() {
            return;
        }
        let text = std::mem::take(&mut self.inline);
        if text.trim().is_empty() {
            return;
        }
        let available = self
            .style
            .width
            .saturating_sub(self.prefix(false).width())
            .max(MIN_TEXT_WIDTH);
        for paragraph_line in text.trim().split('\n') {
            for line in wrap(paragraph_line, available) {
                self.line(&line);
            }
        }
    }

    /// The prefix of the next line: quote marks and list indentation, an item's marker on its
    /// first line. `blank` leaves markers out (a line between blocks).
    fn prefix(&self, blank: bool) -> String {
        let mut prefix = String::new();
        let depth = self.containers.len();
        for (i, c) in self.containers.iter().enumerate().take(MAX_NESTING) {
            match c {
                Container::Quote => prefix.push_str("> "),
                Container::Item { marker } if i >= self.started && !blank => {
                    prefix.push_str(marker);
                }
                Container::Item { marker } => prefix.push_str(&" ".repeat(marker.width())),
            }
        }
        if depth > MAX_NESTING
            && !blank
            && self.started < depth
            && let Some(Container::Item { marker }) = self.containers.last()
            && !prefix.ends_with(marker.as_str())
        {
            prefix.push_str(marker);
        }
        prefix
    }

    /// Writes one line behind the current prefix.
    fn line(&mut self, text: &str) {
        let prefix = self.prefix(false);
        self.out.push_str(&prefix);
        self.out.push_str(text);
        let end = self.out.trim_end_matches(' ').len();
        self.out.truncate(end);
        self.out.push('\n');
        self.started = self.containers.len();
    }

    fn code_block(&mut self, info: &str, body: &str) {
        let mut words = info.split([',', ' ']).filter(|w| !w.is_empty());
        let language = words.next().unwrap_or("");
        if language == "aquascope" {
            let kinds: Vec<&str> = words
                .filter(|w| matches!(*w, "interpreter" | "permissions" | "stepper"))
                .collect();
            let what = if kinds.is_empty() {
                "aquascope".to_string()
            } else {
                format!("aquascope {}", kinds.join(" and "))
            };
            self.inline = format!(
                "[diagram omitted: the book's web version draws this program's {what} diagram here]"
            );
            self.flush();
            // aquascope hides `#` lines and marks steps with `` `[]` ``; the code itself stays.
            let visible: Vec<String> = body
                .lines()
                .map(crate::model::program_line)
                .filter(|l| !l.hidden)
                .map(|l| l.text)
                .collect();
            let visible = visible.join("\n");
            for line in code_lines(&visible, self.style.line_numbers) {
                self.line(&line);
            }
        } else {
            for line in code_lines(body, self.style.line_numbers) {
                self.line(&line);
            }
        }
    }
}

/// Greedy word wrap to `width` columns; a word longer than a line keeps a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;
    for word in text.split_whitespace() {
        let w = word.width();
        if line_width > 0 && line_width + 1 + w > width {
            lines.push(std::mem::take(&mut line));
            line_width = 0;
        }
        if line_width > 0 {
            line.push(' ');
            line_width += 1;
        }
        line.push_str(word);
        line_width += w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// A code snippet as mdbook-quiz shows it: trimmed, its highlights (`` `[ ``…`` ]` ``) taken
/// out of the text and underlined with `^` on the line below, numbered when asked.
pub fn code_lines(snippet: &str, numbered: bool) -> Vec<String> {
    let (text, marks) = extract_marks(snippet.trim());
    let lines: Vec<&str> = text.split('\n').collect();
    let digits = lines.len().to_string().len();
    let mut out = Vec::with_capacity(lines.len());
    let mut offset = 0;
    let mut marks = marks.into_iter().peekable();
    for (i, line) in lines.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let expanded = line.replace('\t', "    ");
        let gutter = if numbered {
            format!("{:>digits$} | ", i + 1)
        } else {
            "    ".to_string()
        };
        out.push(format!("{gutter}{expanded}").trim_end().to_string());
        // Underline the highlighted parts of this line.
        let (start, end) = (offset, offset + line.len());
        let mut underline = String::new();
        while let Some(&(a, b)) = marks.peek() {
            if a > end {
                break;
            }
            let (from, to) = (a.max(start), b.min(end));
            // A highlight's white space at a line's edge (its line break, its indentation)
            // is not underlined.
            let segment = if to > from {
                &line[from - start..to - start]
            } else {
                ""
            };
            let lead = segment.len() - segment.trim_start().len();
            let (from, to) = (from + lead, from + segment.trim_end().len());
            if to > from {
                let before = line[..from - start].replace('\t', "    ").width();
                let marked = line[from - start..to - start].replace('\t', "    ").width();
                let pad = before.saturating_sub(underline.width());
                underline.push_str(&" ".repeat(pad));
                underline.push_str(&"^".repeat(marked.max(1)));
            }
            if b <= end {
                marks.next();
            } else {
                break;
            }
        }
        if !underline.is_empty() {
            let blank_gutter = if numbered {
                format!("{:>digits$} | ", "")
            } else {
                "    ".to_string()
            };
            out.push(format!("{blank_gutter}{underline}"));
        }
        offset = end + 1;
    }
    out
}

/// mdbook-quiz's highlight syntax: `` `[ `` opens a highlight and `` ]` `` closes it. Returns
/// the text without the marks and the byte ranges highlighted in it (an unclosed highlight
/// runs to the end, as a browser closes an open `<mark>`).
pub fn extract_marks(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len());
    let mut marks = Vec::new();
    let mut open = None;
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("`[") {
            open = Some(out.len());
            rest = after;
        } else if let Some(after) = rest.strip_prefix("]`") {
            if let Some(start) = open.take() {
                marks.push((start, out.len()));
            }
            rest = after;
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if let Some(start) = open {
        marks.push((start, out.len()));
    }
    (out, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_found_and_removed() {
        assert_eq!(
            extract_marks("let `[x]` = `[]`1;"),
            ("let x = 1;".to_string(), vec![(4, 5), (8, 8)])
        );
    }

    #[test]
    fn wrap_keeps_long_words_whole() {
        assert_eq!(wrap("a bb ccccccccc d", 4), ["a bb", "ccccccccc", "d"]);
    }
}
