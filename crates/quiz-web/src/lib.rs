//! The chapter quiz as a web page. The page's logic is this crate compiled to
//! `wasm32-unknown-unknown`: the `quiz` crate itself (without `verify`) loads, validates and
//! grades, so a page grades exactly as `cargo xtask quiz` does; `page` holds an attempt and
//! turns forms into responses, `screen` renders screens as HTML, `markup` and `highlight`
//! render Markdown and code. The few exports JavaScript calls are below (`QuizPage`); the
//! page's own script only moves HTML in and out and keeps progress in `localStorage`.
//!
//! On the host, [`site`] writes the static site around the built module: one page per
//! chapter quiz, an index, and one script holding the module, which every page loads.

mod highlight;
mod markup;
pub mod page;
mod screen;
pub mod site;

// The exports exist only in the page's module: on the host (xtask, tests) this crate is a
// plain library, and wasm-bindgen is not even compiled.
#[cfg(target_arch = "wasm32")]
mod exports {
    use crate::page;
    use wasm_bindgen::prelude::*;

    /// A chapter quiz on a page, as JavaScript sees it.
    #[wasm_bindgen]
    pub struct QuizPage(page::Page);

    #[wasm_bindgen]
    impl QuizPage {
        /// Loads the quiz `source` (the file `name`.toml) and what the browser kept of an earlier
        /// visit. Throws the quiz's diagnostics, as the terminal shows them, when it is invalid.
        #[wasm_bindgen(constructor)]
        pub fn new(name: &str, source: &str, saved: Option<String>) -> Result<QuizPage, JsError> {
            page::Page::new(name, source, saved.as_deref())
                .map(QuizPage)
                .map_err(|e| JsError::new(&e))
        }

        /// The screen to show, as HTML.
        pub fn screen(&self) -> String {
            self.0.screen()
        }

        /// `asking N`, `review` or `done`.
        pub fn stage(&self) -> String {
            self.0.stage_name()
        }

        /// Answers the question asked with a form's fields, a JSON list of `[name, value]`. Returns
        /// nothing when taken, else a JSON `{ "message", "field" }` saying what is missing.
        pub fn submit(&mut self, fields: &str) -> Option<String> {
            let fields: Vec<(String, String)> = serde_json::from_str(fields).unwrap_or_default();
            self.0.submit(&fields).err().map(|invalid| {
                serde_json::json!({ "message": invalid.message, "field": invalid.field })
                    .to_string()
            })
        }

        pub fn retry(&mut self) {
            self.0.retry();
        }

        #[wasm_bindgen(js_name = giveUp)]
        pub fn give_up(&mut self) {
            self.0.give_up();
        }

        pub fn restart(&mut self) {
            self.0.restart();
        }

        /// What to keep in `localStorage` (JSON).
        pub fn saved(&self) -> String {
            self.0.saved()
        }

        /// The answers so far, as the answers file `cargo xtask quiz --answers` reads.
        pub fn export(&self) -> String {
            self.0.export()
        }
    }
}
