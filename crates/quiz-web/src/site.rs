//! The static site: one HTML page per chapter quiz, an index, and [`ENGINE_FILE`], one classic
//! script holding the wasm module in base64 that every page loads. Pages open from any static
//! host and from `file://` (where browsers refuse module scripts from files and `fetch`): each
//! page inlines the wasm-bindgen glue, its own script and the quiz's text, and compiles the
//! module from the bytes the engine script holds.

use base64::Engine as _;

use crate::markup::escape;

/// The script every page loads, holding the module.
pub const ENGINE_FILE: &str = "quiz-engine.js";

const STYLE: &str = include_str!("page.css");
const CONTROLLER: &str = include_str!("controller.js");

/// One chapter quiz of the site.
#[derive(Debug, Clone)]
pub struct Chapter {
    /// The file stem, e.g. `21-wasm-memory`; the page is `NAME.html`.
    pub name: String,
    /// What the index and the page's title say.
    pub title: String,
    /// The quiz file's text, as the page validates and grades it.
    pub source: String,
    pub questions: usize,
}

impl Chapter {
    /// The page's file name.
    pub fn file(&self) -> String {
        format!("{}.html", self.name)
    }
}

/// [`ENGINE_FILE`]'s text: the processed module, in base64.
pub fn engine_script(wasm: &[u8]) -> String {
    format!(
        "// The chapter quizzes' engine: the course's quiz crate compiled to WebAssembly.\nglobalThis.QUIZ_ENGINE_WASM = \"{}\";\n",
        base64::engine::general_purpose::STANDARD.encode(wasm)
    )
}

/// Text placed inside an inline `<script>`: nothing in it can close the element.
fn script_safe(text: &str) -> String {
    text.replace("</script", "<\\/script")
        .replace("<!--", "<\\!--")
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n",
        escape(title)
    )
}

/// A chapter's page. `glue` is wasm-bindgen's JavaScript for the module (`--target web`).
pub fn chapter_page(chapter: &Chapter, glue: &str) -> String {
    // JSON with `<` escaped can sit in a script whatever the quiz says.
    let data = serde_json::json!({ "name": chapter.name, "source": chapter.source })
        .to_string()
        .replace('<', "\\u003c");
    format!(
        "{head}<script src=\"{ENGINE_FILE}\"></script>\n</head>\n<body>\n\
         <header class=\"site\"><a href=\"index.html\">All chapter quizzes</a></header>\n\
         <main id=\"quiz\" class=\"quiz\" data-stage=\"loading\">\n\
         <h1>{title}</h1>\n\
         <div id=\"screen\"><p class=\"loading\">Loading the quiz…</p>\
         <noscript><p>This quiz runs in your browser and needs JavaScript.</p></noscript></div>\n\
         <div class=\"toolbar\"><button type=\"button\" data-action=\"export\">Export my answers</button></div>\n\
         <div id=\"export\" class=\"export\" hidden>\
         <label for=\"export-text\">Your answers, as the file <code>cargo xtask quiz {name} --answers FILE</code> grades</label>\
         <textarea id=\"export-text\" class=\"mono\" rows=\"10\" readonly></textarea>\
         <p><a id=\"export-download\" download=\"{name}.answers.toml\" href=\"#\">Download {name}.answers.toml</a></p></div>\n\
         </main>\n\
         <script type=\"module\">\n{glue}\nconst QUIZ = {data};\n{controller}</script>\n\
         </body>\n</html>\n",
        head = head(&format!("Quiz: {}", chapter.title)),
        title = escape(&chapter.title),
        name = escape(&chapter.name),
        glue = script_safe(glue),
        controller = script_safe(CONTROLLER),
    )
}

/// The index: every chapter's quiz, linked.
pub fn index_page(chapters: &[Chapter]) -> String {
    let mut items = String::new();
    for c in chapters {
        items.push_str(&format!(
            "<li><a href=\"{}\">{}</a> <span class=\"points\">({} questions)</span></li>\n",
            escape(&c.file()),
            escape(&c.title),
            c.questions
        ));
    }
    format!(
        "{head}</head>\n<body>\n<main class=\"quiz\">\n<h1>Chapter quizzes</h1>\n\
         <p>Each quiz runs in your browser, also offline; your answers are kept in this browser \
         until you finish.</p>\n<ul class=\"chapters\">\n{items}</ul>\n</main>\n</body>\n</html>\n",
        head = head("Chapter quizzes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiz_cannot_close_the_script_it_sits_in() {
        let chapter = Chapter {
            name: "21-x".into(),
            title: "A <b>title</b>".into(),
            source: "prompt.prompt = \"</script><script>alert(1)</script>\"".into(),
            questions: 1,
        };
        let page = chapter_page(&chapter, "export function initSync() {}");
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert!(page.contains("<h1>A &lt;b&gt;title&lt;/b&gt;</h1>"));
        assert!(index_page(&[chapter]).contains("<a href=\"21-x.html\">"));
    }
}
