//! The non-interactive answers file: a student's responses written as TOML.
//!
//! Keys are question ids or 1-based question numbers; values depend on the question type:
//!
//! ```toml
//! 1 = "b"                          # multiple choice: the option's letter, as shown to you
//! page-size = "65,536 bytes"       # ... or the option's text; a key may be the question `id`
//! 3 = ["a", "c"]                   # select all that apply: a list
//! 4 = 655360                       # numeric (a string such as "655,360" works too)
//! 5 = "main"                       # short answer
//! 6 = { compiles = true, stdout = "0" }     # tracing, a program that compiles
//! 7 = { compiles = false, line = 11 }       # tracing, a program that does not
//! ```
//!
//! Questions left out count as unanswered. Letters follow the order every student sees (it
//! depends on the quiz alone), and an option's text names it whatever the order.

use toml::Value;

use crate::grade::{Response, choices, letter, question_key};
use crate::model::{QuestionKind, Quiz};

/// Everything wrong with an answers file, all at once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct AnswersError {
    pub problems: Vec<String>,
}

/// Reads an answers file against `quiz`, returning one response per question (`None` where
/// the file has no answer).
pub fn parse_answers(quiz: &Quiz, source: &str) -> Result<Vec<Option<Response>>, AnswersError> {
    let table: toml::Table = toml::from_str(source).map_err(|e| AnswersError {
        problems: vec![format!("invalid TOML: {e}")],
    })?;
    let mut responses = vec![None; quiz.questions.len()];
    let mut problems = Vec::new();
    for (key, value) in &table {
        let Some(index) = find_question(quiz, key) else {
            problems.push(format!(
                "no question `{key}` in this quiz; use a question id or a number from 1 to {}",
                quiz.questions.len()
            ));
            continue;
        };
        if responses[index].is_some() {
            problems.push(format!(
                "question {} is answered twice (as `{key}` and by another key)",
                index + 1
            ));
            continue;
        }
        match response(quiz, index, value) {
            Ok(r) => responses[index] = Some(r),
            Err(problem) => problems.push(format!("question `{key}`: {problem}")),
        }
    }
    if problems.is_empty() {
        Ok(responses)
    } else {
        Err(AnswersError { problems })
    }
}

fn find_question(quiz: &Quiz, key: &str) -> Option<usize> {
    if let Some(i) = quiz
        .questions
        .iter()
        .position(|q| q.id.as_deref() == Some(key))
    {
        return Some(i);
    }
    key.parse::<usize>()
        .ok()
        .filter(|n| (1..=quiz.questions.len()).contains(n))
        .map(|n| n - 1)
}

fn response(quiz: &Quiz, index: usize, value: &Value) -> Result<Response, String> {
    match &quiz.questions[index].kind {
        QuestionKind::ShortAnswer(_) => match value {
            Value::String(s) => Ok(Response::Text(s.clone())),
            Value::Integer(n) => Ok(Response::Text(n.to_string())),
            _ => Err("a short answer is a string, e.g. `\"main\"`".into()),
        },
        QuestionKind::Numeric(_) => match value {
            Value::Integer(n) => Ok(Response::Number(*n as f64)),
            Value::Float(f) => Ok(Response::Number(*f)),
            Value::String(s) => parse_number(s)
                .map(Response::Number)
                .ok_or_else(|| format!("`{s}` is not a number; write e.g. `655360`")),
            _ => Err("a numeric answer is a number, e.g. `655360`".into()),
        },
        QuestionKind::MultipleChoice(mc) => {
            let shown = choices(mc, &question_key(quiz, index));
            let picks: Vec<&str> = match value {
                Value::String(s) => vec![s.as_str()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().ok_or("list only option letters or texts"))
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(
                        "pick an option by its letter (`\"b\"`) or text, or list several".into(),
                    );
                }
            };
            if picks.len() > 1 && !mc.select_all {
                return Err("this question has one answer; pick one option".into());
            }
            let mut texts = Vec::new();
            for pick in picks {
                let found = shown
                    .iter()
                    .position(|c| c.text.trim() == pick.trim())
                    .or_else(|| shown.iter().position(|c| loose(&c.text) == loose(pick)))
                    .or_else(|| {
                        let mut chars = pick.trim().chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) if c.is_ascii_alphabetic() => {
                                let i = usize::from(c.to_ascii_lowercase() as u8 - b'a');
                                (i < shown.len()).then_some(i)
                            }
                            _ => None,
                        }
                    });
                match found {
                    Some(i) => texts.push(shown[i].text.clone()),
                    None => {
                        return Err(format!(
                            "`{pick}` is neither an option's text nor a letter from `a` to `{}`",
                            letter(shown.len().saturating_sub(1))
                        ));
                    }
                }
            }
            Ok(Response::Choices(texts))
        }
        QuestionKind::Tracing(_) => {
            let Value::Table(t) = value else {
                return Err(
                    "a tracing answer is a table, e.g. `{ compiles = true, stdout = \"42\" }`"
                        .into(),
                );
            };
            if let Some(k) = t
                .keys()
                .find(|k| !["compiles", "stdout", "line"].contains(&k.as_str()))
            {
                return Err(format!(
                    "unknown key `{k}`; use `compiles`, `stdout` and `line`"
                ));
            }
            let compiles = t
                .get("compiles")
                .and_then(Value::as_bool)
                .ok_or("say `compiles = true` or `false`")?;
            let stdout = match t.get("stdout") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err("`stdout` is a string".into()),
            };
            let line = match t.get("line") {
                None => None,
                Some(Value::Integer(n)) if *n >= 1 => {
                    Some(usize::try_from(*n).unwrap_or(usize::MAX))
                }
                Some(_) => return Err("`line` is a line number from 1".into()),
            };
            Ok(Response::Tracing {
                compiles,
                stdout,
                line,
            })
        }
    }
}

/// Writes `responses` as an answers file that [`parse_answers`] reads back to the same
/// responses: keyed by question id (or number), options named by their text, unanswered
/// questions left out.
pub fn write_answers(quiz: &Quiz, responses: &[Option<Response>]) -> String {
    let mut table = toml::Table::new();
    for (index, response) in responses.iter().enumerate().take(quiz.questions.len()) {
        let Some(response) = response else { continue };
        let value = match (response, &quiz.questions[index].kind) {
            (Response::Text(t), _) => Value::String(t.clone()),
            (Response::Number(n), _) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                Value::Integer(*n as i64)
            }
            (Response::Number(n), _) => Value::Float(*n),
            (Response::Choices(picks), QuestionKind::MultipleChoice(mc)) if !mc.select_all => {
                Value::String(picks.first().cloned().unwrap_or_default())
            }
            (Response::Choices(picks), _) => {
                Value::Array(picks.iter().cloned().map(Value::String).collect())
            }
            (
                Response::Tracing {
                    compiles,
                    stdout,
                    line,
                },
                _,
            ) => {
                let mut t = toml::Table::new();
                t.insert("compiles".into(), Value::Boolean(*compiles));
                if let Some(stdout) = stdout {
                    t.insert("stdout".into(), Value::String(stdout.clone()));
                }
                if let Some(line) = line {
                    t.insert(
                        "line".into(),
                        Value::Integer(i64::try_from(*line).unwrap_or(i64::MAX)),
                    );
                }
                Value::Table(t)
            }
        };
        table.insert(question_key(quiz, index), value);
    }
    toml::to_string(&table).unwrap_or_default()
}

/// Option text compared loosely: no backticks, case or surrounding space.
fn loose(text: &str) -> String {
    text.replace('`', "").trim().to_lowercase()
}

/// Parses a number written by a person: `655360`, `655,360`, `655_360`, `2.5`.
pub fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' '))
        .collect();
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::grade;
    use crate::load::parse;

    const QUIZ: &str = r#"
[[questions]]
id = "pick"
type = "MultipleChoice"
prompt.prompt = "p"
prompt.distractors = ["`x`", "y"]
prompt.answerIndex = 0
answer.answer = "w"

[[questions]]
type = "Numeric"
prompt.prompt = "n"
answer.answer = 655360

[[questions]]
type = "Tracing"
prompt.program = "fn main() { println!(\"hi\"); }"
answer.doesCompile = true
answer.stdout = "hi"
"#;

    #[test]
    fn letters_texts_ids_and_numbers() {
        let quiz = parse(QUIZ).quiz.unwrap();
        let r = parse_answers(
            &quiz,
            "pick = \"a\"\n2 = \"655,360\"\n3 = { compiles = true, stdout = \"hi\\n\" }\n",
        )
        .unwrap();
        assert!(grade(&quiz, &r).passed);
        let r = parse_answers(&quiz, "1 = \"X\"\n").unwrap();
        assert_eq!(r[0], Some(Response::Choices(vec!["`x`".into()])));
    }

    #[test]
    fn written_answers_read_back_to_the_same_responses() {
        let quiz = parse(QUIZ).quiz.unwrap();
        let responses = vec![
            Some(Response::Choices(vec!["`x`".into()])),
            None,
            Some(Response::Tracing {
                compiles: true,
                stdout: Some("hi\n\"quoted\"".into()),
                line: None,
            }),
        ];
        let text = write_answers(&quiz, &responses);
        assert_eq!(parse_answers(&quiz, &text).unwrap(), responses, "{text}");
        let numbers = [
            Some(Response::Number(2.5)),
            Some(Response::Number(655360.0)),
        ];
        for n in numbers {
            let responses = vec![None, n, None];
            let text = write_answers(&quiz, &responses);
            assert_eq!(parse_answers(&quiz, &text).unwrap(), responses, "{text}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let quiz = parse(QUIZ).quiz.unwrap();
        let err = parse_answers(&quiz, "9 = \"a\"\npick = \"q\"\n3 = 1\n").unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
    }
}
