//! Lexer and recursive-descent parser for typed expressions.
//!
//! Grammar (lowest binding first):
//!
//! ```text
//! sum     := product (('+' | '-') product)*
//! product := unary (('*' | '/') unary)*
//! unary   := '-' unary | power
//! power   := primary ('^' unary)?          // right-associative; x^-2 = x^(-2)
//! primary := number | name | name '(' sum ')' | name '(' sum ',' sum ')' | '(' sum ')'
//! ```
//!
//! So `-x^2` is `-(x^2)`, `2^3^2` is `2^(3^2)` and `x^-2` is `x^(-2)`. Names `pi` and `e` are
//! the constants; a name followed by `(` must be a known function: `min` and `max` take two
//! arguments separated by `,`, the others one.

use super::expr::{Constant, Expr, Func, Func2};
use std::ops::{Div, Neg};

use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Op(char),
    LParen,
    RParen,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number {v}"),
            Tok::Name(n) => format!("'{n}'"),
            Tok::Op(c) => format!("'{c}'"),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::End => "end of input".into(),
        }
    }
}

/// A token with its 1-based column (counted in characters).
struct Spanned {
    tok: Tok,
    column: usize,
}

fn parse_error(input: &str, column: usize, msg: impl Into<String>) -> Error {
    Error::Parse {
        input: input.to_string(),
        column,
        msg: msg.into(),
    }
}

fn lex(input: &str) -> Result<Vec<Spanned>> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            // An exponent only if digits follow: `2e` is the number 2 then the name e.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value: f64 = text
                .parse()
                .map_err(|_| parse_error(input, column, format!("malformed number '{text}'")))?;
            if !value.is_finite() {
                return Err(parse_error(
                    input,
                    column,
                    format!("number '{text}' is too large for f64"),
                ));
            }
            out.push(Spanned {
                tok: Tok::Num(value),
                column,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Spanned {
                tok: Tok::Name(chars[start..i].iter().collect()),
                column,
            });
            continue;
        }
        let tok = match c {
            '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            _ => {
                return Err(parse_error(
                    input,
                    column,
                    format!("unexpected character '{c}'"),
                ))
            }
        };
        out.push(Spanned { tok, column });
        i += 1;
    }
    out.push(Spanned {
        tok: Tok::End,
        column: chars.len() + 1,
    });
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    toks: Vec<Spanned>,
    pos: usize,
    depth: usize,
}

/// Nesting limit, so that hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn column(&self) -> usize {
        self.toks[self.pos].column
    }

    fn bump(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    fn error(&self, msg: impl Into<String>) -> Error {
        parse_error(self.input, self.column(), msg)
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// A chain `t1 ± t2 ± …` becomes one flat [`Expr::Add`] (`a - b` is the term `-b`), so a
    /// long sum is built and later walked without recursion.
    fn sum(&mut self) -> Result<Expr> {
        self.enter()?;
        let mut terms = vec![self.product()?];
        while let Tok::Op(op @ ('+' | '-')) = *self.peek() {
            self.bump();
            let rhs = self.product()?;
            terms.push(if op == '+' { rhs } else { Expr::neg(rhs) });
        }
        self.depth -= 1;
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr::Add(terms)
        })
    }

    /// A chain of `*` becomes one flat [`Expr::Mul`]; `/` divides everything to its left.
    fn product(&mut self) -> Result<Expr> {
        fn close(mut factors: Vec<Expr>) -> Expr {
            if factors.len() == 1 {
                factors.pop().expect("one factor")
            } else {
                Expr::Mul(factors)
            }
        }
        let mut factors = vec![self.unary()?];
        while let Tok::Op(op @ ('*' | '/')) = *self.peek() {
            self.bump();
            let rhs = self.unary()?;
            if op == '*' {
                factors.push(rhs);
            } else {
                let lhs = close(std::mem::take(&mut factors));
                factors.push(Expr::div(lhs, rhs));
            }
        }
        Ok(close(factors))
    }

    fn unary(&mut self) -> Result<Expr> {
        if *self.peek() == Tok::Op('-') {
            self.enter()?;
            self.bump();
            let operand = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::neg(operand));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr> {
        let base = self.primary()?;
        if *self.peek() == Tok::Op('^') {
            self.enter()?;
            self.bump();
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::pow(base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr> {
        let column = self.column();
        match self.peek().clone() {
            Tok::Num(v) => {
                self.bump();
                Ok(Expr::Num(v))
            }
            Tok::Name(name) => {
                self.bump();
                if *self.peek() == Tok::LParen {
                    if let Some(func) = Func2::from_name(&name) {
                        self.bump();
                        let first = self.sum()?;
                        if *self.peek() != Tok::Comma {
                            return Err(self.error(format!(
                                "{name} takes two arguments: expected ',' after the first, found {}",
                                self.peek().describe()
                            )));
                        }
                        self.bump();
                        let second = self.sum()?;
                        self.expect_close(&format!("after the second argument of {name}"))?;
                        return Ok(Expr::Call2(func, Box::new(first), Box::new(second)));
                    }
                    let Some(func) = Func::from_name(&name) else {
                        return Err(parse_error(
                            self.input,
                            column,
                            format!("unknown function '{name}'"),
                        ));
                    };
                    self.bump();
                    let arg = self.sum()?;
                    self.expect_close(&format!("after the argument of {name}"))?;
                    return Ok(Expr::call(func, arg));
                }
                if Func::from_name(&name).is_some() || Func2::from_name(&name).is_some() {
                    return Err(parse_error(
                        self.input,
                        column,
                        format!("function '{name}' needs an argument in parentheses"),
                    ));
                }
                Ok(match name.as_str() {
                    "pi" => Expr::Const(Constant::Pi),
                    "e" => Expr::Const(Constant::E),
                    _ => Expr::Var(name),
                })
            }
            Tok::LParen => {
                self.bump();
                let inner = self.sum()?;
                self.expect_close("to close '('")?;
                Ok(inner)
            }
            Tok::Op(op) => {
                let previous = if self.pos > 0 {
                    format!(" after {}", self.toks[self.pos - 1].tok.describe())
                } else {
                    String::new()
                };
                Err(self.error(format!("expected an expression{previous}, found '{op}'")))
            }
            Tok::RParen => Err(self.error("expected an expression, found ')'")),
            Tok::Comma => Err(self.error("expected an expression, found ','")),
            Tok::End if self.pos == 0 => Err(self.error("empty expression")),
            Tok::End => Err(self.error("unexpected end of input, expected an expression")),
        }
    }

    fn expect_close(&mut self, context: &str) -> Result<()> {
        if *self.peek() == Tok::RParen {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!(
                "expected ')' {context}, found {}",
                self.peek().describe()
            )))
        }
    }
}

/// Parses an expression in the grammar described in the [module documentation](self).
///
/// Errors with [`Error::Parse`] carrying the input, the 1-based column of the offending
/// character and a message: `x^^2` (column 3), `sin(` (column 5, end of input), `foo(x)`
/// (unknown function, column 1), trailing text, empty input, unbalanced parentheses.
pub fn parse(input: &str) -> Result<Expr> {
    let toks = lex(input)?;
    let mut parser = Parser {
        input,
        toks,
        pos: 0,
        depth: 0,
    };
    let expr = parser.sum()?;
    match parser.peek() {
        Tok::End => Ok(expr),
        Tok::RParen => Err(parser.error("unmatched ')'")),
        tok => Err(parser.error(format!(
            "unexpected {} after a complete expression",
            tok.describe()
        ))),
    }
}
