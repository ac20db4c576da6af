//! Just enough JavaScript syntax to read the bodies wasm-bindgen writes for its imports:
//! declarations, assignments, calls, member access, `new`, `typeof`, comparisons, the
//! conditional operator, `try`/`finally`, `throw` and `return`. Anything else is a syntax
//! error, and the import it belongs to is one the grader cannot run.

use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    Num(f64),
    Str(String),
    Punct(&'static str),
}

/// Longest first, so `===` wins over `==` and `=`.
const PUNCTS: &[&str] = &[
    ">>>", "===", "!==", "...", "==", "!=", "<=", ">=", "&&", "||", ">>", "<<", "=>", "(", ")",
    "{", "}", "[", "]", ",", ";", ".", "?", ":", "=", "!", "+", "-", "*", "/", "%", "<", ">", "&",
    "|",
];

pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if src[i..].starts_with("/*") {
            i = src[i + 2..]
                .find("*/")
                .map(|n| i + 2 + n + 2)
                .ok_or("an unclosed comment")?;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$')
            {
                i += 1;
            }
            out.push(Token::Ident(src[start..i].to_owned()));
        } else if c.is_ascii_digit() {
            let start = i;
            if src[i..].starts_with("0x") || src[i..].starts_with("0X") {
                i += 2;
                while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    i += 1;
                }
                let n = u64::from_str_radix(&src[start + 2..i], 16).map_err(|e| e.to_string())?;
                out.push(Token::Num(n as f64));
            } else {
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                let n = src[start..i].parse::<f64>().map_err(|e| e.to_string())?;
                out.push(Token::Num(n));
            }
        } else if c == b'\'' || c == b'"' || c == b'`' {
            let (s, end) = string_literal(src, i)?;
            out.push(Token::Str(s));
            i = end;
        } else if let Some(p) = PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            out.push(Token::Punct(p));
            i += p.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character `{ch}`"));
        }
    }
    Ok(out)
}

fn string_literal(src: &str, start: usize) -> Result<(String, usize), String> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((out, start + 1 + at + 1)),
            '$' if quote == '`' && src[start + 1 + at..].starts_with("${") => {
                return Err("a template literal with substitutions".into());
            }
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(c @ ('\\' | '\'' | '"' | '`')) => out.push(c),
                Some(c) => return Err(format!("the escape `\\{c}`")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("an unclosed string".into())
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Num(f64),
    Str(String),
    Ident(String),
    Member(Box<Expr>, String),
    Call(Box<Expr>, Vec<Expr>),
    New(String, Vec<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Assign(String, Box<Expr>),
    Function(Arc<FuncDef>),
    Object(Vec<(String, Expr)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stmt {
    Decl(String, Option<Expr>),
    Expr(Expr),
    Return(Option<Expr>),
    Throw(Expr),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    Try {
        body: Vec<Stmt>,
        catch: Option<(String, Vec<Stmt>)>,
        finally: Vec<Stmt>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FuncDef {
    pub(crate) params: Vec<String>,
    pub(crate) body: Vec<Stmt>,
}

pub(crate) struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
}

type Parsed<T> = Result<T, String>;

impl<'t> Parser<'t> {
    pub(crate) fn new(tokens: &'t [Token]) -> Parser<'t> {
        Parser { tokens, at: 0 }
    }

    pub(crate) fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(q)) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(i)) if i == w)
    }

    pub(crate) fn eat(&mut self, p: &str) -> bool {
        let yes = self.is(p);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect(&mut self, p: &str) -> Parsed<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(format!("expected `{p}`, found {}", self.found()))
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "the end".into(),
            Some(Token::Ident(i)) => format!("`{i}`"),
            Some(Token::Num(n)) => format!("`{n}`"),
            Some(Token::Str(s)) => format!("{s:?}"),
            Some(Token::Punct(p)) => format!("`{p}`"),
        }
    }

    fn ident(&mut self) -> Parsed<String> {
        match self.peek() {
            Some(Token::Ident(i)) => {
                let i = i.clone();
                self.at += 1;
                Ok(i)
            }
            _ => Err(format!("expected a name, found {}", self.found())),
        }
    }

    pub(crate) fn block(&mut self) -> Parsed<Vec<Stmt>> {
        self.expect("{")?;
        let mut out = Vec::new();
        while !self.eat("}") {
            if self.done() {
                return Err("an unclosed block".into());
            }
            out.push(self.statement()?);
        }
        Ok(out)
    }

    fn body_or_statement(&mut self) -> Parsed<Vec<Stmt>> {
        if self.is("{") {
            self.block()
        } else {
            Ok(vec![self.statement()?])
        }
    }

    pub(crate) fn statement(&mut self) -> Parsed<Stmt> {
        let stmt = if self.eat_word("const") || self.eat_word("let") || self.eat_word("var") {
            let name = self.ident()?;
            let init = if self.eat("=") {
                Some(self.expr()?)
            } else {
                None
            };
            Stmt::Decl(name, init)
        } else if self.eat_word("return") {
            if self.is(";") || self.is("}") {
                Stmt::Return(None)
            } else {
                Stmt::Return(Some(self.expr()?))
            }
        } else if self.eat_word("throw") {
            Stmt::Throw(self.expr()?)
        } else if self.eat_word("if") {
            self.expect("(")?;
            let cond = self.expr()?;
            self.expect(")")?;
            let then = self.body_or_statement()?;
            let otherwise = if self.eat_word("else") {
                self.body_or_statement()?
            } else {
                Vec::new()
            };
            return Ok(Stmt::If(cond, then, otherwise));
        } else if self.eat_word("try") {
            let body = self.block()?;
            let catch = if self.eat_word("catch") {
                self.expect("(")?;
                let name = self.ident()?;
                self.expect(")")?;
                Some((name, self.block()?))
            } else {
                None
            };
            let finally = if self.eat_word("finally") {
                self.block()?
            } else {
                Vec::new()
            };
            return Ok(Stmt::Try {
                body,
                catch,
                finally,
            });
        } else {
            Stmt::Expr(self.expr()?)
        };
        self.eat(";");
        Ok(stmt)
    }

    pub(crate) fn expr(&mut self) -> Parsed<Expr> {
        let left = self.conditional()?;
        if self.eat("=") {
            let Expr::Ident(name) = left else {
                return Err("only a name can be assigned to".into());
            };
            return Ok(Expr::Assign(name, Box::new(self.expr()?)));
        }
        Ok(left)
    }

    fn conditional(&mut self) -> Parsed<Expr> {
        let cond = self.binary(0)?;
        if self.eat("?") {
            let then = self.expr()?;
            self.expect(":")?;
            let otherwise = self.expr()?;
            return Ok(Expr::Cond(
                Box::new(cond),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        Ok(cond)
    }

    fn binary(&mut self, level: usize) -> Parsed<Expr> {
        const LEVELS: &[&[&str]] = &[
            &["||"],
            &["&&"],
            &["===", "!==", "==", "!="],
            &["<", ">", "<=", ">=", "instanceof"],
            &[">>>", ">>", "<<"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut left = self.binary(level + 1)?;
        loop {
            let op = ops.iter().find(|op| {
                if **op == "instanceof" {
                    self.is_word("instanceof")
                } else {
                    self.is(op)
                }
            });
            let Some(op) = op else { break };
            self.at += 1;
            let right = self.binary(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Parsed<Expr> {
        for op in ["!", "-", "+"] {
            if self.eat(op) {
                return Ok(Expr::Unary(op, Box::new(self.unary()?)));
            }
        }
        if self.eat_word("typeof") {
            return Ok(Expr::Unary("typeof", Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Parsed<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                e = Expr::Member(Box::new(e), self.ident()?);
            } else if self.is("(") {
                e = Expr::Call(Box::new(e), self.arguments()?);
            } else {
                return Ok(e);
            }
        }
    }

    fn arguments(&mut self) -> Parsed<Vec<Expr>> {
        self.expect("(")?;
        let mut args = Vec::new();
        while !self.eat(")") {
            args.push(self.expr()?);
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(args)
    }

    fn primary(&mut self) -> Parsed<Expr> {
        match self.peek().cloned() {
            Some(Token::Num(n)) => {
                self.at += 1;
                Ok(Expr::Num(n))
            }
            Some(Token::Str(s)) => {
                self.at += 1;
                Ok(Expr::Str(s))
            }
            Some(Token::Punct("(")) => {
                self.at += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Token::Punct("{")) => self.object(),
            Some(Token::Ident(word)) if word == "new" => {
                self.at += 1;
                let class = self.ident()?;
                let args = if self.is("(") {
                    self.arguments()?
                } else {
                    Vec::new()
                };
                Ok(Expr::New(class, args))
            }
            Some(Token::Ident(word)) if word == "function" => {
                self.at += 1;
                if matches!(self.peek(), Some(Token::Ident(_))) {
                    self.at += 1;
                }
                let def = self.function_rest()?;
                Ok(Expr::Function(Arc::new(def)))
            }
            Some(Token::Ident(word)) => {
                self.at += 1;
                Ok(Expr::Ident(word))
            }
            _ => Err(format!("unexpected {}", self.found())),
        }
    }

    /// `(params) { body }`, after `function` and its name.
    pub(crate) fn function_rest(&mut self) -> Parsed<FuncDef> {
        self.expect("(")?;
        let mut params = Vec::new();
        while !self.eat(")") {
            params.push(self.ident()?);
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        let body = self.block()?;
        Ok(FuncDef { params, body })
    }

    fn object(&mut self) -> Parsed<Expr> {
        self.expect("{")?;
        let mut fields = Vec::new();
        while !self.eat("}") {
            let key = match self.peek().cloned() {
                Some(Token::Ident(k) | Token::Str(k)) => {
                    self.at += 1;
                    k
                }
                _ => return Err(format!("expected a key, found {}", self.found())),
            };
            self.expect(":")?;
            fields.push((key, self.expr()?));
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        Ok(Expr::Object(fields))
    }

    /// Skips one value in an object literal (up to the `,` or `}` that ends it), for entries
    /// that do not parse: returns the tokens skipped.
    pub(crate) fn skip_value(&mut self) -> &'t [Token] {
        let start = self.at;
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            match t {
                Token::Punct("(" | "{" | "[") => depth += 1,
                Token::Punct(")" | "}" | "]") if depth == 0 => break,
                Token::Punct(")" | "}" | "]") => depth -= 1,
                Token::Punct(",") if depth == 0 => break,
                _ => {}
            }
            self.at += 1;
        }
        &self.tokens[start..self.at]
    }

    /// An object key and its `:`.
    pub(crate) fn key(&mut self) -> Option<String> {
        let key = match self.peek()? {
            Token::Ident(k) | Token::Str(k) => k.clone(),
            _ => return None,
        };
        self.at += 1;
        self.eat(":").then_some(key)
    }

    pub(crate) fn position(&self) -> usize {
        self.at
    }

    pub(crate) fn seek(&mut self, at: usize) {
        self.at = at;
    }
}

/// An expression as JavaScript source, on one line.
pub(crate) fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Num(n) => super::value::number_to_string(*n),
        Expr::Str(s) => format!("'{s}'"),
        Expr::Ident(i) => i.clone(),
        Expr::Member(o, m) => format!("{}.{m}", expr_text(o)),
        Expr::Call(c, args) => format!("{}({})", expr_text(c), list(args)),
        Expr::New(c, args) => format!("new {c}({})", list(args)),
        Expr::Unary("typeof", a) => format!("typeof {}", expr_text(a)),
        Expr::Unary(op, a) => format!("{op}{}", expr_text(a)),
        Expr::Binary(op, a, b) => format!("{} {op} {}", operand(a), operand(b)),
        Expr::Cond(c, a, b) => format!("{} ? {} : {}", operand(c), operand(a), operand(b)),
        Expr::Assign(n, v) => format!("{n} = {}", expr_text(v)),
        Expr::Function(def) => format!(
            "function({}) {{ {} }}",
            def.params.join(", "),
            body_text(&def.body)
        ),
        Expr::Object(_) => "{…}".into(),
    }
}

fn operand(e: &Expr) -> String {
    match e {
        Expr::Binary(..) | Expr::Cond(..) | Expr::Assign(..) => format!("({})", expr_text(e)),
        _ => expr_text(e),
    }
}

fn list(args: &[Expr]) -> String {
    args.iter().map(expr_text).collect::<Vec<_>>().join(", ")
}

/// A function body as JavaScript on one line, without the glue's bookkeeping for deferred
/// frees (`let deferred0_0; deferred0_0 = arg0;`).
pub(crate) fn body_text(body: &[Stmt]) -> String {
    let bookkeeping = |name: &str| name.starts_with("deferred");
    let mut parts = Vec::new();
    for s in body {
        match s {
            Stmt::Decl(name, None) if bookkeeping(name) => {}
            Stmt::Expr(Expr::Assign(name, _)) if bookkeeping(name) => {}
            Stmt::Decl(name, Some(e)) => parts.push(format!("const {name} = {}", expr_text(e))),
            Stmt::Decl(name, None) => parts.push(format!("let {name}")),
            Stmt::Expr(e) => parts.push(expr_text(e)),
            Stmt::Return(Some(e)) => parts.push(format!("return {}", expr_text(e))),
            Stmt::Return(None) => parts.push("return".into()),
            Stmt::Throw(e) => parts.push(format!("throw {}", expr_text(e))),
            Stmt::If(c, a, b) if b.is_empty() => {
                parts.push(format!("if ({}) {{ {} }}", expr_text(c), body_text(a)));
            }
            Stmt::If(c, a, b) => parts.push(format!(
                "if ({}) {{ {} }} else {{ {} }}",
                expr_text(c),
                body_text(a),
                body_text(b)
            )),
            Stmt::Try {
                body,
                catch,
                finally,
            } => {
                let mut t = format!("try {{ {} }}", body_text(body));
                if let Some((name, handler)) = catch {
                    t.push_str(&format!(" catch ({name}) {{ {} }}", body_text(handler)));
                }
                if !finally.is_empty() {
                    t.push_str(&format!(" finally {{ {} }}", body_text(finally)));
                }
                parts.push(t);
            }
        }
    }
    parts.join("; ")
}

/// Parses one function body's source, for tests.
#[cfg(test)]
pub(crate) fn parse_function(src: &str) -> Parsed<FuncDef> {
    let tokens = tokenize(src)?;
    let mut p = Parser::new(&tokens);
    if !p.eat_word("function") {
        return Err("expected `function`".into());
    }
    p.function_rest()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_deferred_free_body() {
        let f = parse_function(
            "function(arg0, arg1) {
                let deferred0_0;
                try { deferred0_0 = arg0; console.error(getStringFromWasm0(arg0, arg1)); }
                finally { wasm.__wbindgen_free(deferred0_0, arg1, 1); }
            }",
        )
        .unwrap();
        assert_eq!(f.params, ["arg0", "arg1"]);
        assert_eq!(f.body.len(), 2);
        let Stmt::Try { body, finally, .. } = &f.body[1] else {
            panic!("a try statement")
        };
        assert_eq!(body.len(), 2);
        assert_eq!(finally.len(), 1);
    }

    #[test]
    fn precedence_follows_javascript() {
        let f = parse_function(
            "function(arg0) { return typeof arg0 === 'undefined' ? 0xFFFFFF : arg0 >>> 0 + 1; }",
        )
        .unwrap();
        let Stmt::Return(Some(Expr::Cond(cond, then, otherwise))) = &f.body[0] else {
            panic!("a conditional: {f:?}")
        };
        assert!(matches!(**cond, Expr::Binary("===", _, _)));
        assert_eq!(**then, Expr::Num(16777215.0));
        // `+` binds tighter than `>>>`
        assert!(
            matches!(&**otherwise, Expr::Binary(">>>", _, r) if matches!(**r, Expr::Binary("+", _, _)))
        );
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(tokenize("x = `a ${b}`").is_err());
        assert!(parse_function("function() { for (;;) {} }").is_err());
        assert!(parse_function("function() { a[0] = 1; }").is_err());
    }
}
