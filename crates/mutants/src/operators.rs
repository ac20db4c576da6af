//! The mutation operators: one walk over the parsed file that notes, for every node an
//! operator applies to, the span it replaces and the replacement text, built from the
//! original text around it so formatting and comments survive.
//!
//! What is never mutated: attributes, items under `#[cfg(test)]` and `#[test]` functions, enum
//! discriminants, types in signatures, fields and other item positions (a narrower field or
//! parameter rarely compiles), and macro bodies other than `vec![...]`'s.

use std::ops::Range;

use proc_macro2::Span;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{BinOp, Expr, Lit, ReturnType, Stmt, Type, UnOp};

use crate::Operator;

/// A mutation before it gets its id.
pub(crate) struct Raw {
    pub(crate) operator: Operator,
    pub(crate) function: String,
    pub(crate) span: Range<usize>,
    pub(crate) replacement: String,
    /// What the id is derived from when it is not the replaced text.
    pub(crate) subject: Option<String>,
}

pub(crate) fn collect(source: &str, file: &syn::File) -> Vec<Raw> {
    let mut walker = Walker {
        source,
        path: Vec::new(),
        out: Vec::new(),
    };
    walker.visit_file(file);
    walker.out
}

struct Walker<'s> {
    source: &'s str,
    /// The enclosing `impl` type and functions.
    path: Vec<String>,
    out: Vec<Raw>,
}

fn range(span: Span) -> Range<usize> {
    span.byte_range()
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        path.is_ident("test")
            || (path.is_ident("cfg")
                && a.parse_args::<syn::Ident>()
                    .is_ok_and(|ident| ident == "test"))
    })
}

/// The narrower type a width mutation gives a primitive, if any.
fn narrower(name: &str) -> Option<&'static str> {
    Some(match name {
        "u128" => "u64",
        "u64" => "u32",
        "u32" => "u16",
        "u16" => "u8",
        // `usize` is 32 bits on wasm32: `u32` would be the same type's width.
        "usize" => "u16",
        "i128" => "i64",
        "i64" => "i32",
        "i32" => "i16",
        "i16" => "i8",
        "isize" => "i16",
        "f64" => "f32",
        _ => return None,
    })
}

const INTEGERS: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
];

/// Sibling methods: called with the same arguments, a plausible slip for one another.
const SIBLINGS: &[(&str, &str)] = &[
    ("min", "max"),
    ("max", "min"),
    ("min_by_key", "max_by_key"),
    ("max_by_key", "min_by_key"),
    ("min_by", "max_by"),
    ("max_by", "min_by"),
    ("first", "last"),
    ("last", "first"),
    ("first_mut", "last_mut"),
    ("last_mut", "first_mut"),
    ("find", "rfind"),
    ("rfind", "find"),
    ("position", "rposition"),
    ("rposition", "position"),
    ("capacity", "len"),
    ("wrapping_add", "saturating_add"),
    ("saturating_add", "wrapping_add"),
    ("wrapping_sub", "saturating_sub"),
    ("saturating_sub", "wrapping_sub"),
    ("wrapping_mul", "saturating_mul"),
    ("saturating_mul", "wrapping_mul"),
];

impl Walker<'_> {
    fn text(&self, span: Range<usize>) -> &str {
        &self.source[span]
    }

    fn push(&mut self, operator: Operator, span: Range<usize>, replacement: String) {
        self.push_with(operator, span, replacement, None);
    }

    fn push_with(
        &mut self,
        operator: Operator,
        span: Range<usize>,
        replacement: String,
        subject: Option<String>,
    ) {
        // A span the parser could not place (a call-site span) is never replaced.
        if span.start >= span.end || span.end > self.source.len() {
            return;
        }
        self.out.push(Raw {
            operator,
            function: self.path.join("::"),
            span,
            replacement,
            subject,
        });
    }

    /// `whole` with the part at `part` replaced by `with`.
    fn splice(&self, whole: &Range<usize>, part: &Range<usize>, with: &str) -> String {
        format!(
            "{}{with}{}",
            &self.source[whole.start..part.start],
            &self.source[part.end..whole.end]
        )
    }

    fn widths(&mut self, ty: &Type) {
        match ty {
            Type::Path(p) if p.qself.is_none() => {
                if let Some(ident) = p.path.get_ident()
                    && let Some(narrow) = narrower(&ident.to_string())
                {
                    self.push(Operator::Width, range(ident.span()), narrow.to_owned());
                }
                for segment in &p.path.segments {
                    self.generic_widths(&segment.arguments);
                }
            }
            Type::Reference(r) => self.widths(&r.elem),
            Type::Slice(s) => self.widths(&s.elem),
            Type::Array(a) => self.widths(&a.elem),
            Type::Tuple(t) => t.elems.iter().for_each(|e| self.widths(e)),
            Type::Paren(p) => self.widths(&p.elem),
            _ => {}
        }
    }

    fn generic_widths(&mut self, arguments: &syn::PathArguments) {
        if let syn::PathArguments::AngleBracketed(args) = arguments {
            for arg in &args.args {
                if let syn::GenericArgument::Type(ty) = arg {
                    self.widths(ty);
                }
            }
        }
    }

    fn binary(&mut self, node: &syn::ExprBinary) {
        use BinOp::*;
        let (operator, with) = match node.op {
            Add(_) => (Operator::Arithmetic, "-"),
            Sub(_) => (Operator::Arithmetic, "+"),
            Mul(_) => (Operator::Arithmetic, "/"),
            Div(_) => (Operator::Arithmetic, "*"),
            Rem(_) => (Operator::Arithmetic, "/"),
            BitAnd(_) => (Operator::Arithmetic, "|"),
            BitOr(_) => (Operator::Arithmetic, "&"),
            BitXor(_) => (Operator::Arithmetic, "|"),
            Shl(_) => (Operator::Arithmetic, ">>"),
            Shr(_) => (Operator::Arithmetic, "<<"),
            AddAssign(_) => (Operator::Arithmetic, "-="),
            SubAssign(_) => (Operator::Arithmetic, "+="),
            MulAssign(_) => (Operator::Arithmetic, "/="),
            DivAssign(_) => (Operator::Arithmetic, "*="),
            RemAssign(_) => (Operator::Arithmetic, "/="),
            BitAndAssign(_) => (Operator::Arithmetic, "|="),
            BitOrAssign(_) => (Operator::Arithmetic, "&="),
            BitXorAssign(_) => (Operator::Arithmetic, "|="),
            ShlAssign(_) => (Operator::Arithmetic, ">>="),
            ShrAssign(_) => (Operator::Arithmetic, "<<="),
            Lt(_) => (Operator::Comparison, "<="),
            Le(_) => (Operator::Comparison, "<"),
            Gt(_) => (Operator::Comparison, ">="),
            Ge(_) => (Operator::Comparison, ">"),
            Eq(_) => (Operator::Comparison, "!="),
            Ne(_) => (Operator::Comparison, "=="),
            And(_) => (Operator::Boolean, "||"),
            Or(_) => (Operator::Boolean, "&&"),
            _ => return,
        };
        let whole = range(node.span());
        let op = range(node.op.span());
        let replacement = self.splice(&whole, &op, with);
        self.push(operator, whole, replacement);
    }

    fn literal(&mut self, lit: &Lit) {
        match lit {
            Lit::Int(int) => {
                let Ok(value) = int.base10_parse::<u128>() else {
                    return;
                };
                let suffix = int.suffix();
                let span = range(int.span());
                let mut values = vec![value.wrapping_add(1)];
                if value > 0 {
                    values.push(value - 1);
                }
                for v in values {
                    self.push(Operator::Constant, span.clone(), format!("{v}{suffix}"));
                }
            }
            Lit::Float(float) => {
                let Ok(value) = float.base10_parse::<f64>() else {
                    return;
                };
                let suffix = float.suffix();
                let with = if value == 0.0 { "1.0" } else { "0.0" };
                self.push(
                    Operator::Constant,
                    range(float.span()),
                    format!("{with}{suffix}"),
                );
            }
            Lit::Bool(b) => {
                let with = if b.value { "false" } else { "true" };
                self.push(Operator::Boolean, range(b.span()), with.to_owned());
            }
            _ => {}
        }
    }

    fn method_call(&mut self, node: &syn::ExprMethodCall) {
        let whole = range(node.span());
        let name = node.method.to_string();
        let ident = range(node.method.span());
        let from_method = ident.start..whole.end;
        let args = node.args.len();
        if let Some((_, sibling)) = SIBLINGS.iter().find(|(m, _)| *m == name) {
            let replacement = self.splice(&whole, &ident, sibling);
            self.push(Operator::SwapMethod, whole.clone(), replacement);
        }
        let receiver = range(node.receiver.span());
        match (name.as_str(), args) {
            ("split_whitespace", 0) => {
                let replacement = self.splice(&whole, &from_method, "split(' ')");
                self.push(Operator::SwapMethod, whole, replacement);
            }
            ("div_ceil", 1) => {
                let arg = &node.args[0];
                let arg_text = self.text(range(arg.span()));
                let arg_text = if matches!(arg, Expr::Path(_) | Expr::Lit(_)) {
                    arg_text.to_owned()
                } else {
                    format!("({arg_text})")
                };
                let replacement = format!("{} / {arg_text}", self.text(receiver));
                self.push(Operator::SwapMethod, whole, replacement);
            }
            ("count", 0) => {
                if let Expr::MethodCall(inner) = &*node.receiver
                    && inner.method == "chars"
                    && inner.args.is_empty()
                {
                    let text = range(inner.receiver.span());
                    let replacement = format!("{}.len()", self.text(text));
                    self.push(Operator::SwapMethod, whole, replacement);
                }
            }
            // Only on a plain variable: `self.items.len()` is most often a `Vec`, which has no
            // `chars`, and the mutant would not compile.
            ("len", 0) if matches!(&*node.receiver, Expr::Path(p) if p.path.get_ident().is_some_and(|i| i != "self")) =>
            {
                let replacement = self.splice(&whole, &from_method, "chars().count()");
                self.push(Operator::SwapMethod, whole, replacement);
            }
            _ => {}
        }
    }

    /// Whether removing a statement is a plausible bug: calls and assignments, but not
    /// printing or logging, whose removal no scenario should have to notice.
    fn removable(stmt: &Stmt) -> bool {
        let logging = |path: &syn::Path| {
            path.segments.last().is_some_and(|s| {
                let name = s.ident.to_string();
                name.starts_with("log")
                    || matches!(
                        name.as_str(),
                        "print" | "println" | "eprint" | "eprintln" | "dbg"
                    )
            })
        };
        match stmt {
            Stmt::Expr(Expr::Macro(m), Some(_)) => !logging(&m.mac.path),
            Stmt::Expr(Expr::Call(call), Some(_)) => {
                !matches!(&*call.func, Expr::Path(p) if logging(&p.path))
            }
            Stmt::Macro(m) => m.semi_token.is_some() && !logging(&m.mac.path),
            Stmt::Expr(expr, Some(_)) => match expr {
                Expr::MethodCall(_) | Expr::Assign(_) => true,
                Expr::Binary(b) => matches!(
                    b.op,
                    BinOp::AddAssign(_)
                        | BinOp::SubAssign(_)
                        | BinOp::MulAssign(_)
                        | BinOp::DivAssign(_)
                        | BinOp::RemAssign(_)
                        | BinOp::BitAndAssign(_)
                        | BinOp::BitOrAssign(_)
                        | BinOp::BitXorAssign(_)
                        | BinOp::ShlAssign(_)
                        | BinOp::ShrAssign(_)
                ),
                _ => false,
            },
            _ => false,
        }
    }

    /// Plain values of a return type: the ones every such type has, else its default.
    fn plain_values(output: &ReturnType) -> Vec<&'static str> {
        let ty = match output {
            ReturnType::Default => return vec![""],
            ReturnType::Type(_, ty) => &**ty,
        };
        match ty {
            Type::Tuple(t) if t.elems.is_empty() => vec![""],
            Type::Ptr(p) if p.mutability.is_some() => vec!["std::ptr::null_mut()"],
            Type::Ptr(_) => vec!["std::ptr::null()"],
            Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")) => {
                vec!["\"\""]
            }
            Type::Path(p) if p.qself.is_none() => {
                let Some(last) = p.path.segments.last() else {
                    return vec![];
                };
                let name = last.ident.to_string();
                match name.as_str() {
                    "bool" => vec!["true", "false"],
                    "f32" | "f64" => vec!["0.0", "1.0"],
                    n if INTEGERS.contains(&n) => vec!["0", "1"],
                    "String" => vec!["String::new()"],
                    "Vec" => vec!["Vec::new()"],
                    "Option" => vec!["None"],
                    // A struct of the course's own has a default only if it derives one; a
                    // mutant of one that does not is unviable, and says so.
                    _ => vec!["Default::default()"],
                }
            }
            Type::Reference(r) if matches!(&*r.elem, Type::Slice(_)) => vec!["&[]"],
            Type::Tuple(_) | Type::Array(_) => vec!["Default::default()"],
            _ => vec![],
        }
    }

    fn return_values(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let whole = range(block.span());
        if whole.start >= whole.end {
            return;
        }
        let line_start = self.source[..whole.start].rfind('\n').map_or(0, |i| i + 1);
        let indent: String = self.source[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let multiline = self.text(whole.clone()).contains('\n');
        let subject = self.text(range(sig.span())).to_owned();
        // The result computed, then kept in a narrower type: what accumulating in a `u16`
        // or computing in `f32` comes to.
        if let ReturnType::Type(_, ty) = &sig.output
            && let Type::Path(p) = &**ty
            && let Some(ident) = p.path.get_ident()
            && let Some(narrow) = narrower(&ident.to_string())
        {
            let original = self.text(whole.clone());
            let body = if multiline {
                format!(
                    "{{\n{indent}    let value: {ident} = {original};\n{indent}    value as {narrow} as {ident}\n{indent}}}"
                )
            } else {
                format!("{{ let value: {ident} = {original}; value as {narrow} as {ident} }}")
            };
            self.push_with(
                Operator::Width,
                whole.clone(),
                body,
                Some(format!("{subject} as {narrow}")),
            );
        }
        for value in Self::plain_values(&sig.output) {
            let body = match (value, multiline) {
                ("", _) => "{}".to_owned(),
                (v, true) => format!("{{\n{indent}    {v}\n{indent}}}"),
                (v, false) => format!("{{ {v} }}"),
            };
            self.push_with(
                Operator::ReturnValue,
                whole.clone(),
                body,
                Some(subject.clone()),
            );
        }
    }

    /// `vec![elem; len]` and `vec![a, b, c]`: their expressions are mutated like any other.
    fn vec_macro(&mut self, mac: &syn::Macro) {
        if !mac.path.is_ident("vec") {
            return;
        }
        struct Repeat(Expr, Expr);
        impl syn::parse::Parse for Repeat {
            fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
                let elem = input.parse()?;
                input.parse::<syn::Token![;]>()?;
                Ok(Repeat(elem, input.parse()?))
            }
        }
        if let Ok(Repeat(elem, len)) = mac.parse_body::<Repeat>() {
            self.visit_expr(&elem);
            self.visit_expr(&len);
        } else if let Ok(list) =
            mac.parse_body_with(Punctuated::<Expr, syn::Token![,]>::parse_terminated)
        {
            list.iter().for_each(|e| self.visit_expr(e));
        }
    }
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}

    fn visit_item_mod(&mut self, node: &'ast syn::ItemMod) {
        if !is_test(&node.attrs) {
            visit::visit_item_mod(self, node);
        }
    }

    fn visit_item_impl(&mut self, node: &'ast syn::ItemImpl) {
        if is_test(&node.attrs) {
            return;
        }
        let name = match &*node.self_ty {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .map_or_else(String::new, |s| s.ident.to_string()),
            _ => String::new(),
        };
        self.path.push(name);
        for item in &node.items {
            self.visit_impl_item(item);
        }
        self.path.pop();
    }

    fn visit_item_fn(&mut self, node: &'ast syn::ItemFn) {
        if is_test(&node.attrs) {
            return;
        }
        self.path.push(node.sig.ident.to_string());
        self.return_values(&node.sig, &node.block);
        self.visit_block(&node.block);
        self.path.pop();
    }

    fn visit_impl_item_fn(&mut self, node: &'ast syn::ImplItemFn) {
        if is_test(&node.attrs) {
            return;
        }
        self.path.push(node.sig.ident.to_string());
        self.return_values(&node.sig, &node.block);
        self.visit_block(&node.block);
        self.path.pop();
    }

    fn visit_item_const(&mut self, node: &'ast syn::ItemConst) {
        self.path.push(node.ident.to_string());
        self.visit_expr(&node.expr);
        self.path.pop();
    }

    fn visit_item_static(&mut self, node: &'ast syn::ItemStatic) {
        self.path.push(node.ident.to_string());
        self.visit_expr(&node.expr);
        self.path.pop();
    }

    // Discriminants are the enum's layout: a mutant of one seldom compiles and is never a
    // plausible slip.
    fn visit_variant(&mut self, _: &'ast syn::Variant) {}

    // Types are mutated only where `widths` is called (casts, `let`, turbofish, paths).
    fn visit_type(&mut self, _: &'ast Type) {}

    fn visit_block(&mut self, node: &'ast syn::Block) {
        for stmt in &node.stmts {
            if Self::removable(stmt) {
                let span = range(stmt.span());
                let subject = self.text(span.clone()).to_owned();
                self.push_with(
                    Operator::RemoveStatement,
                    span,
                    String::new(),
                    Some(subject),
                );
            }
            self.visit_stmt(stmt);
        }
    }

    fn visit_local(&mut self, node: &'ast syn::Local) {
        if let syn::Pat::Type(typed) = &node.pat {
            self.widths(&typed.ty);
        }
        visit::visit_local(self, node);
    }

    fn visit_expr_binary(&mut self, node: &'ast syn::ExprBinary) {
        self.binary(node);
        visit::visit_expr_binary(self, node);
    }

    fn visit_expr_unary(&mut self, node: &'ast syn::ExprUnary) {
        let operator = match node.op {
            UnOp::Not(_) => Operator::Boolean,
            UnOp::Neg(_) => Operator::Arithmetic,
            _ => {
                visit::visit_expr_unary(self, node);
                return;
            }
        };
        let whole = range(node.span());
        let inner = self.text(range(node.expr.span())).to_owned();
        self.push(operator, whole, inner);
        visit::visit_expr_unary(self, node);
    }

    fn visit_expr_lit(&mut self, node: &'ast syn::ExprLit) {
        self.literal(&node.lit);
    }

    fn visit_expr_cast(&mut self, node: &'ast syn::ExprCast) {
        self.widths(&node.ty);
        visit::visit_expr_cast(self, node);
    }

    fn visit_expr_path(&mut self, node: &'ast syn::ExprPath) {
        // `u32::from(b)`, `f64::EPSILON`: the type a value is made in.
        if node.qself.is_none() && node.path.segments.len() >= 2 {
            let first = &node.path.segments[0];
            if let Some(narrow) = narrower(&first.ident.to_string()) {
                self.push(
                    Operator::Width,
                    range(first.ident.span()),
                    narrow.to_owned(),
                );
            }
        }
        for segment in &node.path.segments {
            self.generic_widths(&segment.arguments);
        }
    }

    fn visit_expr_method_call(&mut self, node: &'ast syn::ExprMethodCall) {
        self.method_call(node);
        if let Some(turbofish) = &node.turbofish {
            for arg in &turbofish.args {
                if let syn::GenericArgument::Type(ty) = arg {
                    self.widths(ty);
                }
            }
        }
        visit::visit_expr_method_call(self, node);
    }

    fn visit_expr_call(&mut self, node: &'ast syn::ExprCall) {
        // `Vec::with_capacity(n)`, `String::with_capacity(n)`.
        if let Expr::Path(p) = &*node.func
            && p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "with_capacity")
            && node.args.len() == 1
        {
            let arg = range(node.args[0].span());
            let text = self.text(arg.clone()).to_owned();
            let whole = range(node.span());
            let zero = self.splice(&whole, &arg, "0");
            self.push(Operator::Capacity, whole.clone(), zero);
            let more = if matches!(node.args[0], Expr::Path(_) | Expr::Lit(_)) {
                format!("{text} + 1")
            } else {
                format!("({text}) + 1")
            };
            let more = self.splice(&whole, &arg, &more);
            self.push(Operator::Capacity, whole, more);
        }
        visit::visit_expr_call(self, node);
    }

    fn visit_expr_range(&mut self, node: &'ast syn::ExprRange) {
        if node.end.is_some() {
            let whole = range(node.span());
            let limits = range(node.limits.span());
            let with = match node.limits {
                syn::RangeLimits::HalfOpen(_) => "..=",
                syn::RangeLimits::Closed(_) => "..",
            };
            let replacement = self.splice(&whole, &limits, with);
            self.push(Operator::LoopBound, whole, replacement);
        }
        visit::visit_expr_range(self, node);
    }

    fn visit_macro(&mut self, node: &'ast syn::Macro) {
        self.vec_macro(node);
    }
}
