//! Reads quiz TOML into a [`Quiz`], collecting every problem as a [`Diagnostic`] with its span.
//!
//! The file is parsed into spanned TOML values first and then walked by hand, rather than
//! deserialised with serde, so that one run reports all problems instead of the first.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, Rule, line_col};
use crate::model::{
    Distractor, FORMAT_VERSION, MultipleChoice, Numeric, PassRule, Question, QuestionKind,
    ResponseKind, ShortAnswer, Tracing, TracingSpans,
};

/// The result of reading one quiz: the quiz when there were no errors, and every diagnostic
/// (warnings may come with a usable quiz).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub quiz: Option<crate::Quiz>,
    pub diagnostics: Vec<Diagnostic>,
}

const TOP_KEYS: &[&str] = &["format_version", "title", "pass", "multipart", "questions"];
const PASS_KEYS: &[&str] = &["min_percent"];
const QUESTION_KEYS: &[&str] = &[
    "type",
    "id",
    "multipart",
    "prompt",
    "answer",
    "context",
    "promptExplanation",
    "points",
];
const QUESTION_TYPES: &[&str] = &["ShortAnswer", "MultipleChoice", "Tracing", "Numeric"];
const EDITIONS: &[&str] = &["2015", "2018", "2021", "2024"];

/// Reads and validates quiz source text. Never fails: problems come back as diagnostics.
pub fn parse(source: &str) -> Parsed {
    let (root, errors) = DeTable::parse_recoverable(source);
    let mut cx = Cx {
        source,
        diagnostics: Vec::new(),
        our_format: false,
    };
    for error in &errors {
        let span = error.span().unwrap_or(0..0);
        cx.diagnostics.push(
            Diagnostic::error(
                Rule::TomlSyntax,
                span,
                format!("invalid TOML: {}", error.message().trim_end_matches('.')),
            )
            .with_label("here")
            .with_help("fix the TOML syntax; every other check runs once the file parses"),
        );
    }
    if !errors.is_empty() {
        return Parsed {
            quiz: None,
            diagnostics: cx.diagnostics,
        };
    }
    let quiz = cx.quiz(root.get_ref());
    let has_errors = cx.diagnostics.iter().any(Diagnostic::is_error);
    cx.diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Parsed {
        quiz: if has_errors { None } else { quiz },
        diagnostics: cx.diagnostics,
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

struct Cx<'s> {
    source: &'s str,
    diagnostics: Vec<Diagnostic>,
    /// The file declares `format_version`: our additions that change how a program is read
    /// (hidden `#` lines) apply.
    our_format: bool,
}

impl Cx<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn quiz(&mut self, root: &DeTable<'_>) -> Option<crate::Quiz> {
        self.check_keys(root, "", TOP_KEYS, "a quiz file");

        let format_version = root
            .get("format_version")
            .and_then(|v| self.integer(v, "format_version"));
        if let (Some(version), Some(value)) = (format_version, root.get("format_version"))
            && version != FORMAT_VERSION
        {
            self.push(
                Diagnostic::error(
                    Rule::UnsupportedFormatVersion,
                    value.span(),
                    format!("unsupported `format_version` {version}"),
                )
                .with_label("this crate reads version 1")
                .with_help(format!("set `format_version = {FORMAT_VERSION}`")),
            );
        }
        self.our_format = format_version.is_some();
        let title = root.get("title").and_then(|v| self.string(v, "title"));
        let pass = root.get("pass").map(|v| self.pass(v)).unwrap_or_default();
        let multipart = self.multipart(root.get("multipart"));

        let questions_value = root.get("questions");
        let questions: Vec<Question> = match questions_value {
            None => Vec::new(),
            Some(value) => match value.get_ref().as_array() {
                Some(array) => array
                    .iter()
                    .enumerate()
                    .filter_map(|(i, q)| self.question(i + 1, q))
                    .collect(),
                None => {
                    self.wrong_type(value, "questions", "an array of tables (`[[questions]]`)");
                    return None;
                }
            },
        };
        let array_len = questions_value
            .and_then(|v| v.get_ref().as_array())
            .map_or(0, |a| a.len());
        if array_len == 0 {
            let span = questions_value.map_or(0..0, Spanned::span);
            self.push(
                Diagnostic::error(Rule::EmptyQuiz, span, "the quiz has no questions")
                    .with_label("no `[[questions]]` here")
                    .with_help("add at least one `[[questions]]` table"),
            );
        }
        self.check_ids(&questions);
        self.check_multipart(root, &multipart, &questions);
        Some(crate::Quiz {
            format_version,
            title,
            pass,
            multipart,
            questions,
        })
    }

    fn pass(&mut self, value: &Value<'_>) -> PassRule {
        let Some(table) = self.table(value, "pass") else {
            return PassRule::default();
        };
        self.check_keys(table, "pass.", PASS_KEYS, "`pass`");
        let mut rule = PassRule::default();
        if let Some(v) = table.get("min_percent")
            && let Some(percent) = self.number(v, "pass.min_percent")
        {
            if (0.0..=100.0).contains(&percent) {
                rule.min_percent = percent;
            } else {
                self.push(
                    Diagnostic::error(Rule::InvalidValue, v.span(), "`pass.min_percent` must be between 0 and 100")
                        .with_label(format!("{percent} is out of range"))
                        .with_help("write a percentage such as `80`, or leave it out to require every question"),
                );
            }
        }
        rule
    }

    fn multipart(&mut self, value: Option<&Value<'_>>) -> BTreeMap<String, String> {
        let mut parts = BTreeMap::new();
        let Some(table) = value.and_then(|v| self.table(v, "multipart")) else {
            return parts;
        };
        for (key, value) in table.iter() {
            if let Some(text) = self.string(value, &format!("multipart.{}", key.get_ref())) {
                parts.insert(key.get_ref().to_string(), text);
            }
        }
        parts
    }

    fn check_ids(&mut self, questions: &[Question]) {
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for question in questions {
            let Some(id) = question.id.as_deref() else {
                continue;
            };
            let span = question.id_span.clone().unwrap_or(question.span.clone());
            if let Some(first) = seen.get(id) {
                let (line, _) = line_col(self.source, first.start);
                self.push(
                    Diagnostic::error(
                        Rule::DuplicateId,
                        span,
                        format!("duplicate question id `{id}`"),
                    )
                    .with_label("used again here")
                    .with_related(first.clone(), "first used here")
                    .with_help(format!(
                        "give this question an id other than the one on line {line}"
                    )),
                );
            } else {
                seen.insert(id, span);
            }
        }
    }

    fn check_multipart(
        &mut self,
        root: &DeTable<'_>,
        parts: &BTreeMap<String, String>,
        questions: &[Question],
    ) {
        for question in questions {
            let Some(key) = question.multipart.as_deref() else {
                continue;
            };
            if !parts.contains_key(key) {
                let span = question
                    .multipart_span
                    .clone()
                    .unwrap_or(question.span.clone());
                let mut d = Diagnostic::error(
                    Rule::UnknownMultipartKey,
                    span,
                    format!("unknown multipart key `{key}`"),
                )
                .with_label("not a key of the top-level `[multipart]` table");
                d = match suggest(key, parts.keys().map(String::as_str)) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => {
                        d.with_help(format!("add `{key} = \"\"\"...\"\"\"` under `[multipart]`"))
                    }
                };
                self.push(d);
            }
        }
        let Some(table) = root.get("multipart").and_then(|v| v.get_ref().as_table()) else {
            return;
        };
        for (key, _) in table.iter() {
            if !questions
                .iter()
                .any(|q| q.multipart.as_deref() == Some(key.get_ref().as_ref()))
            {
                self.push(
                    Diagnostic::warning(
                        Rule::UnusedMultipartKey,
                        key.span(),
                        format!("multipart key `{}` is used by no question", key.get_ref()),
                    )
                    .with_label("never referenced")
                    .with_help(format!(
                        "set `multipart = \"{}\"` on its questions, or remove it",
                        key.get_ref()
                    )),
                );
            }
        }
    }

    fn question(&mut self, number: usize, value: &Value<'_>) -> Option<Question> {
        let span = self.question_span(value.span());
        let table = self.table(value, &format!("questions[{}]", number - 1))?;
        self.check_keys(table, "", QUESTION_KEYS, &format!("question {number}"));
        let header = self.header_span(&span);

        let id = table.get("id").and_then(|v| self.string(v, "id"));
        let multipart = table
            .get("multipart")
            .and_then(|v| self.string(v, "multipart"));
        let context = table.get("context").and_then(|v| self.string(v, "context"));
        let prompt_explanation = table
            .get("promptExplanation")
            .and_then(|v| self.boolean(v, "promptExplanation"));
        let points = match table.get("points") {
            None => Some(1),
            Some(v) => match self.integer(v, "points") {
                Some(p) if p >= 1 => u32::try_from(p).ok(),
                Some(p) => {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            "`points` must be at least 1",
                        )
                        .with_label(format!("{p} points"))
                        .with_help(
                            "give the question 1 or more points, or leave `points` out for 1",
                        ),
                    );
                    None
                }
                None => None,
            },
        };

        let type_value = self.require(table, "type", number, &header)?;
        let type_name = self.string(type_value, "type")?;
        if !QUESTION_TYPES.contains(&type_name.as_str()) {
            let mut d = Diagnostic::error(
                Rule::UnknownQuestionType,
                type_value.span(),
                format!("unknown question type `{type_name}`"),
            )
            .with_label("not a question type");
            d = match suggest(&type_name, QUESTION_TYPES.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("use `ShortAnswer`, `MultipleChoice`, `Tracing` or `Numeric`"),
            };
            self.push(d);
            return None;
        }
        let prompt = self
            .require(table, "prompt", number, &header)
            .and_then(|v| self.table(v, "prompt"));
        let answer = self
            .require(table, "answer", number, &header)
            .and_then(|v| self.table(v, "answer"));
        let (prompt, answer) = (prompt?, answer?);
        let at = Where {
            number,
            header: &header,
        };
        let kind = match type_name.as_str() {
            "ShortAnswer" => self.short_answer(prompt, answer, &at),
            "MultipleChoice" => self.multiple_choice(prompt, answer, &at),
            "Tracing" => self.tracing(prompt, answer, &at),
            _ => self.numeric(prompt, answer, &at),
        }?;
        Some(Question {
            id,
            multipart,
            points: points?,
            context,
            prompt_explanation: prompt_explanation.unwrap_or(false),
            kind,
            span,
            id_span: table.get("id").map(Spanned::span),
            multipart_span: table.get("multipart").map(Spanned::span),
        })
    }

    fn short_answer(
        &mut self,
        prompt: &DeTable<'_>,
        answer: &DeTable<'_>,
        at: &Where<'_>,
    ) -> Option<QuestionKind> {
        self.check_keys(
            prompt,
            "prompt.",
            &["prompt", "response"],
            "a `ShortAnswer` prompt",
        );
        self.check_keys(
            answer,
            "answer.",
            &["answer", "alternatives"],
            "a `ShortAnswer` answer",
        );
        let text = self.required_text(prompt, "prompt", "prompt.prompt", at);
        let response = match prompt.get("response") {
            None => Some(ResponseKind::Short),
            Some(v) => match self.string(v, "prompt.response")?.as_str() {
                "short" => Some(ResponseKind::Short),
                "long" => Some(ResponseKind::Long),
                "code" => Some(ResponseKind::Code),
                other => {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            format!("unknown `prompt.response` `{other}`"),
                        )
                        .with_label("not a response kind")
                        .with_help("use `\"short\"`, `\"long\"` or `\"code\"`"),
                    );
                    None
                }
            },
        };
        let key = self.required_text(answer, "answer", "answer.answer", at);
        let alternatives = match answer.get("alternatives") {
            None => Some(Vec::new()),
            Some(v) => self
                .string_list(v, "answer.alternatives")
                .map(|l| l.into_iter().map(|(s, _)| s).collect()),
        };
        Some(QuestionKind::ShortAnswer(ShortAnswer {
            prompt: text?,
            response: response?,
            answer: key?,
            alternatives: alternatives?,
        }))
    }

    fn multiple_choice(
        &mut self,
        prompt: &DeTable<'_>,
        answer: &DeTable<'_>,
        at: &Where<'_>,
    ) -> Option<QuestionKind> {
        self.check_keys(
            prompt,
            "prompt.",
            &["prompt", "distractors", "answerIndex", "sortAnswers"],
            "a `MultipleChoice` prompt",
        );
        self.check_keys(answer, "answer.", &["answer"], "a `MultipleChoice` answer");
        let text = self.required_text(prompt, "prompt", "prompt.prompt", at);

        let answers = self
            .require_in(answer, "answer", "answer.answer", at)
            .and_then(|v| {
                let select_all = v.get_ref().is_array();
                let list = self.string_or_list(v, "answer.answer")?;
                if list.is_empty() {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            "`answer.answer` lists no answer",
                        )
                        .with_label("empty list")
                        .with_help("list at least one right option"),
                    );
                    return None;
                }
                Some((list, select_all))
            });

        let distractors = self
            .require_in(prompt, "distractors", "prompt.distractors", at)
            .and_then(|v| {
                let Some(array) = v.get_ref().as_array() else {
                    self.wrong_type(
                        v,
                        "prompt.distractors",
                        "an array of strings or `{ text, feedback }` tables",
                    );
                    return None;
                };
                let mut out = Vec::new();
                let mut ok = true;
                for item in array.iter() {
                    match self.distractor(item) {
                        Some(d) => out.push(d),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            });

        let answer_index = prompt.get("answerIndex").and_then(|v| {
            let index = self.integer(v, "prompt.answerIndex")?;
            Some((
                usize::try_from(index).unwrap_or(usize::MAX),
                index,
                v.span(),
            ))
        });
        let sort_answers = prompt
            .get("sortAnswers")
            .and_then(|v| Some((self.boolean(v, "prompt.sortAnswers")?, v.span())));

        let ((answers, select_all), distractors) = (answers?, distractors?);
        let answers_text: Vec<String> = answers.iter().map(|(s, _)| s.clone()).collect();

        // Semantic checks, all of them, before giving up.
        let mut ok = text.is_some();
        for (i, (d, span)) in distractors.iter().enumerate() {
            // Doubtful but valid in mdbook-quiz (picking either copy is picking the answer's
            // text, so it counts as right): warnings, as are the duplicates below.
            if let Some(j) = answers_text.iter().position(|a| same_option(a, &d.text)) {
                self.push(
                    Diagnostic::warning(
                        Rule::AnswerInDistractors,
                        span.clone(),
                        "a right answer is repeated among the distractors",
                    )
                    .with_label("this distractor is also an answer")
                    .with_related(answers[j].1.clone(), "the answer")
                    .with_help("remove it from `prompt.distractors`, or reword one of them"),
                );
            }
            if let Some((_, first)) = distractors[..i]
                .iter()
                .find(|(e, _)| same_option(&e.text, &d.text))
            {
                self.push(
                    Diagnostic::warning(
                        Rule::DuplicateOption,
                        span.clone(),
                        "this distractor is listed twice",
                    )
                    .with_label("repeated")
                    .with_related(first.clone(), "first listed here")
                    .with_help("remove one of them"),
                );
            }
        }
        for (i, (a, span)) in answers.iter().enumerate() {
            if let Some((_, first)) = answers[..i].iter().find(|(b, _)| same_option(a, b)) {
                self.push(
                    Diagnostic::warning(
                        Rule::DuplicateOption,
                        span.clone(),
                        "this answer is listed twice",
                    )
                    .with_label("repeated")
                    .with_related(first.clone(), "first listed here")
                    .with_help("remove one of them"),
                );
            }
        }
        if let Some((index, raw, span)) = &answer_index
            && *index > distractors.len()
        {
            ok = false;
            self.push(
                Diagnostic::error(
                    Rule::AnswerIndexOutOfRange,
                    span.clone(),
                    format!("`prompt.answerIndex` {raw} is out of range"),
                )
                .with_label(format!("there are {} distractors", distractors.len()))
                .with_help(format!(
                    "use an index from 0 (answer first) to {} (answer last)",
                    distractors.len()
                )),
            );
        }
        // mdbook-quiz refuses both keys together, whatever `sortAnswers` says.
        if let (Some((_, _, index_span)), Some((_, sort_span))) = (&answer_index, &sort_answers) {
            ok = false;
            self.push(
                Diagnostic::error(
                    Rule::AnswerIndexWithSortAnswers,
                    sort_span.clone(),
                    "`prompt.sortAnswers` cannot be used with `prompt.answerIndex`",
                )
                .with_label("sorting here")
                .with_related(index_span.clone(), "conflicts with the fixed answer position here")
                .with_help("keep only one: `answerIndex` pins where the answer goes, `sortAnswers` orders all options by text"),
            );
        }
        if !ok {
            return None;
        }
        Some(QuestionKind::MultipleChoice(MultipleChoice {
            prompt: text?,
            answers: answers_text,
            select_all,
            distractors: distractors.into_iter().map(|(d, _)| d).collect(),
            answer_index: answer_index.map(|(i, _, _)| i),
            sort_answers: sort_answers.is_some_and(|(b, _)| b),
        }))
    }

    fn distractor(&mut self, item: &Value<'_>) -> Option<(Distractor, Range<usize>)> {
        match item.get_ref() {
            DeValue::String(text) => {
                self.non_empty(text, item.span(), "a distractor")?;
                Some((
                    Distractor {
                        text: text.to_string(),
                        feedback: None,
                    },
                    item.span(),
                ))
            }
            DeValue::Table(table) => {
                self.check_keys(
                    table,
                    "distractor.",
                    &["text", "feedback"],
                    "a distractor table",
                );
                let text = match table.get("text") {
                    Some(v) => self.string(v, "text"),
                    None => {
                        self.push(
                            Diagnostic::error(
                                Rule::MissingKey,
                                item.span(),
                                "distractor table without `text`",
                            )
                            .with_label("no `text` key")
                            .with_help("write it as `{ text = \"...\", feedback = \"...\" }`"),
                        );
                        None
                    }
                };
                let feedback = table
                    .get("feedback")
                    .and_then(|v| self.string(v, "feedback"));
                let span = table.get("text").map_or(item.span(), Spanned::span);
                let text = text?;
                self.non_empty(&text, span.clone(), "a distractor")?;
                Some((Distractor { text, feedback }, span))
            }
            _ => {
                self.wrong_type(
                    item,
                    "distractor",
                    "a string or a `{ text, feedback }` table",
                );
                None
            }
        }
    }

    fn tracing(
        &mut self,
        prompt: &DeTable<'_>,
        answer: &DeTable<'_>,
        at: &Where<'_>,
    ) -> Option<QuestionKind> {
        self.check_keys(
            prompt,
            "prompt.",
            &["program", "edition"],
            "a `Tracing` prompt",
        );
        self.check_keys(
            answer,
            "answer.",
            &["doesCompile", "stdout", "lineNumber", "gradeLineNumber"],
            "a `Tracing` answer",
        );
        let program_value = self.require_in(prompt, "program", "prompt.program", at);
        let program = program_value.and_then(|v| self.string(v, "prompt.program"));
        let edition = match prompt.get("edition") {
            None => Some(None),
            Some(v) => self.string(v, "prompt.edition").and_then(|e| {
                if EDITIONS.contains(&e.as_str()) {
                    Some(Some(e))
                } else {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            format!("unknown Rust edition `{e}`"),
                        )
                        .with_label("not an edition")
                        .with_help("use `\"2015\"`, `\"2018\"`, `\"2021\"` or `\"2024\"`"),
                    );
                    None
                }
            }),
        };
        let compiles_value = self.require_in(answer, "doesCompile", "answer.doesCompile", at);
        let does_compile = compiles_value.and_then(|v| self.boolean(v, "answer.doesCompile"));
        let stdout = answer
            .get("stdout")
            .map(|v| (self.string(v, "answer.stdout"), v.span()));
        let line_number = answer
            .get("lineNumber")
            .map(|v| (self.integer(v, "answer.lineNumber"), v.span()));
        let grade_line_number = answer
            .get("gradeLineNumber")
            .and_then(|v| self.boolean(v, "answer.gradeLineNumber"))
            .unwrap_or(false);
        let (program, does_compile, edition) = (program?, does_compile?, edition?);
        let compiles_span = compiles_value.map_or(0..0, Spanned::span);
        let program_span = program_value.map_or(0..0, Spanned::span);

        let mut ok = true;
        if does_compile {
            if let Some((_, span)) = &line_number {
                // mdbook-quiz ignores it; it only matters when graded.
                let d = if grade_line_number {
                    ok = false;
                    Diagnostic::error(
                        Rule::TracingKeyShape,
                        span.clone(),
                        "`answer.lineNumber` given for a program that compiles",
                    )
                } else {
                    Diagnostic::warning(
                        Rule::TracingKeyShape,
                        span.clone(),
                        "`answer.lineNumber` given for a program that compiles is ignored",
                    )
                };
                self.push(
                    d.with_label("only programs that fail to compile have an error line")
                        .with_related(compiles_span.clone(), "the key says it compiles")
                        .with_help(
                            "remove `answer.lineNumber`, or set `answer.doesCompile = false`",
                        ),
                );
            }
            if stdout.is_none() {
                ok = false;
                self.push(
                    Diagnostic::error(
                        Rule::TracingKeyShape,
                        compiles_span.clone(),
                        "`answer.stdout` missing for a program that compiles",
                    )
                    .with_label("the key says it compiles")
                    .with_help(
                        "add `answer.stdout` with what the program prints (`\"\"` for nothing)",
                    ),
                );
            }
        } else {
            if let Some((_, span)) = &stdout {
                ok = false;
                self.push(
                    Diagnostic::error(
                        Rule::TracingKeyShape,
                        span.clone(),
                        "`answer.stdout` given for a program that does not compile",
                    )
                    .with_label("a program that fails to compile prints nothing")
                    .with_related(compiles_span.clone(), "the key says it does not compile")
                    .with_help("remove `answer.stdout`, or set `answer.doesCompile = true`"),
                );
            }
            if grade_line_number && line_number.is_none() {
                self.push(
                    Diagnostic::warning(
                        Rule::TracingKeyShape,
                        compiles_span.clone(),
                        "`answer.gradeLineNumber` without an `answer.lineNumber` to grade",
                    )
                    .with_label("the key says it does not compile")
                    .with_help("add `answer.lineNumber` with the line of the first compiler error"),
                );
            }
        }
        let mut tracing = Tracing {
            program,
            hidden_lines: self.our_format,
            edition,
            does_compile,
            stdout: stdout.as_ref().and_then(|(s, _)| s.clone()),
            line_number: None,
            grade_line_number,
            spans: TracingSpans {
                program: program_span.clone(),
                does_compile: compiles_span,
                stdout: stdout.as_ref().map(|(_, span)| span.clone()),
                line_number: line_number.as_ref().map(|(_, span)| span.clone()),
            },
        };
        let shown = tracing.shown_lines().len();
        if shown == 0 {
            // Hiding every line is our addition's mistake; an empty program as written is one
            // mdbook-quiz accepts (the student sees an empty snippet).
            let hidden = !tracing.program.trim().is_empty();
            let d = if hidden {
                ok = false;
                Diagnostic::error(
                    Rule::EmptyText,
                    program_span,
                    "every line of the program is hidden",
                )
                .with_label("students would see no program")
                .with_help(
                    "show at least the lines the question is about: remove their leading `#`",
                )
            } else {
                Diagnostic::warning(Rule::EmptyText, program_span, "the program is empty")
                    .with_label("students would see no program")
                    .with_help("write the program the question is about")
            };
            self.push(d);
        }
        if let Some((Some(line), span)) = &line_number {
            match usize::try_from(*line) {
                Ok(n) if (1..=shown).contains(&n) => tracing.line_number = Some(n),
                _ => {
                    // Only a graded line must be a line of the program.
                    let d = if grade_line_number {
                        ok = false;
                        Diagnostic::error(
                            Rule::InvalidValue,
                            span.clone(),
                            format!("`answer.lineNumber` {line} is not a line of the program"),
                        )
                    } else {
                        Diagnostic::warning(
                            Rule::InvalidValue,
                            span.clone(),
                            format!("`answer.lineNumber` {line} is not a line of the program"),
                        )
                    };
                    self.push(
                        d.with_label(format!("the program shows {shown} lines"))
                            .with_help(
                                "count the lines as shown from 1, skipping hidden `#` lines",
                            ),
                    );
                }
            }
        } else if line_number.is_some() {
            ok = false;
        }
        if stdout.as_ref().is_some_and(|(s, _)| s.is_none()) {
            ok = false;
        }
        ok.then_some(QuestionKind::Tracing(tracing))
    }

    fn numeric(
        &mut self,
        prompt: &DeTable<'_>,
        answer: &DeTable<'_>,
        at: &Where<'_>,
    ) -> Option<QuestionKind> {
        self.check_keys(prompt, "prompt.", &["prompt", "unit"], "a `Numeric` prompt");
        self.check_keys(
            answer,
            "answer.",
            &["answer", "tolerance"],
            "a `Numeric` answer",
        );
        let text = self.required_text(prompt, "prompt", "prompt.prompt", at);
        let unit = prompt
            .get("unit")
            .and_then(|v| self.string(v, "prompt.unit"));
        let value = self
            .require_in(answer, "answer", "answer.answer", at)
            .and_then(|v| {
                let n = self.number(v, "answer.answer")?;
                if n.is_finite() {
                    Some(n)
                } else {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            "`answer.answer` must be a finite number",
                        )
                        .with_label("not finite")
                        .with_help("write the expected number, e.g. `655360`"),
                    );
                    None
                }
            });
        let tolerance = match answer.get("tolerance") {
            None => Some(0.0),
            Some(v) => self.number(v, "answer.tolerance").and_then(|t| {
                if t >= 0.0 && t.is_finite() {
                    Some(t)
                } else {
                    self.push(
                        Diagnostic::error(
                            Rule::InvalidValue,
                            v.span(),
                            "`answer.tolerance` must be zero or more",
                        )
                        .with_label(format!("{t} is negative or not finite"))
                        .with_help(
                            "write the largest accepted distance from the answer, e.g. `0.5`",
                        ),
                    );
                    None
                }
            }),
        };
        Some(QuestionKind::Numeric(Numeric {
            prompt: text?,
            answer: value?,
            tolerance: tolerance?,
            unit,
        }))
    }

    // ---- typed accessors; each reports its own problem and returns `None` ----

    fn check_keys(&mut self, table: &DeTable<'_>, prefix: &str, allowed: &[&str], what: &str) {
        for (key, _) in table.iter() {
            let name = key.get_ref();
            if allowed.contains(&name.as_ref()) {
                continue;
            }
            // mdbook-quiz ignores keys it does not know, so a file it accepts loads here too;
            // the key is most likely a typo, which the warning names.
            let mut d = Diagnostic::warning(
                Rule::UnknownKey,
                key.span(),
                format!("unknown key `{prefix}{name}` is ignored"),
            )
            .with_label(format!("not a key of {what}"));
            d = match suggest(name, allowed.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{prefix}{s}`?")),
                None => d.with_help(format!(
                    "remove it, or use one of the keys here: {}",
                    allowed
                        .iter()
                        .map(|k| format!("`{prefix}{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            self.push(d);
        }
    }

    fn require<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
        number: usize,
        header: &Range<usize>,
    ) -> Option<&'t Value<'i>> {
        let at = Where { number, header };
        self.require_in(table, key, key, &at)
    }

    fn require_in<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
        path: &str,
        at: &Where<'_>,
    ) -> Option<&'t Value<'i>> {
        let value = table.get(key);
        if value.is_none() {
            self.push(
                Diagnostic::error(
                    Rule::MissingKey,
                    at.header.clone(),
                    format!("question {} has no `{path}`", at.number),
                )
                .with_label("in this question")
                .with_help(format!("add `{path} = ...`")),
            );
        }
        value
    }

    fn required_text(
        &mut self,
        table: &DeTable<'_>,
        key: &str,
        path: &str,
        at: &Where<'_>,
    ) -> Option<String> {
        let value = self.require_in(table, key, path, at)?;
        let text = self.string(value, path)?;
        self.non_empty(&text, value.span(), &format!("`{path}`"))?;
        Some(text)
    }

    /// Empty text is doubtful but valid (mdbook-quiz accepts it): a warning, never a failure.
    fn non_empty(&mut self, text: &str, span: Range<usize>, what: &str) -> Option<()> {
        if text.trim().is_empty() {
            self.push(
                Diagnostic::warning(Rule::EmptyText, span, format!("{what} is empty"))
                    .with_label("empty text")
                    .with_help("write the text, or remove the entry"),
            );
        }
        Some(())
    }

    fn wrong_type(&mut self, value: &Value<'_>, path: &str, expected: &str) {
        self.push(
            Diagnostic::error(
                Rule::WrongType,
                value.span(),
                format!(
                    "`{path}` must be {expected}, not {}",
                    article(value.get_ref().type_str())
                ),
            )
            .with_label(format!("expected {expected}"))
            .with_help(format!("write `{path}` as {expected}")),
        );
    }

    fn string(&mut self, value: &Value<'_>, path: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(value, path, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value<'_>, path: &str) -> Option<bool> {
        let b = value.get_ref().as_bool();
        if b.is_none() {
            self.wrong_type(value, path, "a boolean (`true` or `false`)");
        }
        b
    }

    fn integer(&mut self, value: &Value<'_>, path: &str) -> Option<i64> {
        let n = value
            .get_ref()
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok());
        if n.is_none() {
            self.wrong_type(value, path, "an integer");
        }
        n
    }

    fn number(&mut self, value: &Value<'_>, path: &str) -> Option<f64> {
        let v = value.get_ref();
        #[allow(clippy::cast_precision_loss)]
        let n = v
            .as_integer()
            .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok())
            .map(|i| i as f64)
            .or_else(|| v.as_float().and_then(|f| f.as_str().parse::<f64>().ok()));
        if n.is_none() {
            self.wrong_type(value, path, "a number");
        }
        n
    }

    fn table<'t, 'i>(&mut self, value: &'t Value<'i>, path: &str) -> Option<&'t DeTable<'i>> {
        let t = value.get_ref().as_table();
        if t.is_none() {
            self.wrong_type(value, path, "a table");
        }
        t
    }

    fn string_list(
        &mut self,
        value: &Value<'_>,
        path: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(value, path, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in array.iter() {
            match self.string(item, path) {
                Some(s) => out.push((s, item.span())),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn string_or_list(
        &mut self,
        value: &Value<'_>,
        path: &str,
    ) -> Option<Vec<(String, Range<usize>)>> {
        match value.get_ref() {
            DeValue::String(s) => {
                self.non_empty(s, value.span(), &format!("`{path}`"))?;
                Some(vec![(s.to_string(), value.span())])
            }
            DeValue::Array(_) => self.string_list(value, path),
            _ => {
                self.wrong_type(value, path, "a string or an array of strings");
                None
            }
        }
    }

    /// The span of a `[[questions]]` element, widened back to its header line when the parser
    /// reports only the body.
    fn question_span(&self, span: Range<usize>) -> Range<usize> {
        let before = &self.source[..span.start.min(self.source.len())];
        match before.rfind("[[questions]]") {
            Some(start) if before[start..].trim_end().lines().count() <= 1 => start..span.end,
            _ => span,
        }
    }

    /// The first line of a question, where "missing key" problems are reported.
    fn header_span(&self, question: &Range<usize>) -> Range<usize> {
        let text = self.source.get(question.clone()).unwrap_or("");
        let first = text.find('\n').unwrap_or(text.len());
        question.start..question.start + first
    }
}

/// Where a question is, for "missing key" problems.
struct Where<'a> {
    number: usize,
    header: &'a Range<usize>,
}

/// Two options are the same when they differ only in surrounding whitespace.
fn same_option(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
}

fn article(type_name: &str) -> String {
    let vowel = type_name.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {type_name}", if vowel { "an" } else { "a" })
}

/// The closest known name, if close enough to be a likely typo.
fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(source: &str) -> Vec<Rule> {
        parse(source).diagnostics.iter().map(|d| d.rule).collect()
    }

    #[test]
    fn plain_mdbook_quiz_loads() {
        let parsed = parse(
            "[[questions]]\ntype = \"MultipleChoice\"\nprompt.prompt = \"pick\"\nprompt.distractors = [\"a\", \"b\"]\nanswer.answer = \"c\"\n",
        );
        assert_eq!(parsed.diagnostics, vec![]);
        let quiz = parsed.quiz.unwrap();
        assert_eq!(quiz.questions.len(), 1);
        assert_eq!(quiz.pass.min_percent, 100.0);
    }

    #[test]
    fn problems_are_collected_not_stopped_at() {
        let found = rules(
            "[[questions]]\ntype = \"MultipleChoice\"\nprompt.prompt = \"pick\"\nprompt.distractors = [\"a\", \"c\"]\nprompt.answerIndex = 9\nanswer.answer = \"c\"\nanswer.extra = 1\n",
        );
        assert_eq!(
            found,
            vec![
                Rule::AnswerInDistractors,
                Rule::AnswerIndexOutOfRange,
                Rule::UnknownKey
            ]
        );
    }

    #[test]
    fn typos_get_a_suggestion() {
        let parsed = parse("[[questions]]\ntype = \"MultipleChoise\"\n");
        assert!(
            parsed.diagnostics[0].notes[0].contains("`MultipleChoice`"),
            "{:?}",
            parsed.diagnostics
        );
    }

    #[test]
    fn empty_file_is_an_empty_quiz() {
        assert_eq!(rules(""), vec![Rule::EmptyQuiz]);
    }
}
