//! LaTeX for expressions: `\frac`, `\sqrt`, `\sin`, `\left| \right|`, powers in braces.

use super::expr::{Constant, Expr, Func, Func2};

/// Binding strength, as in the plain printer: 1 sum, 2 product, 3 minus, 4 power, 5 atom.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Add(_) => 1,
        Expr::Mul(_) => 2,
        Expr::Neg(_) => 3,
        Expr::Num(v) if v.is_sign_negative() => 3,
        Expr::Pow(..) => 4,
        // A fraction is a closed box in LaTeX.
        Expr::Div(..)
        | Expr::Num(_)
        | Expr::Const(_)
        | Expr::Var(_)
        | Expr::Call(..)
        | Expr::Call2(..) => 5,
    }
}

fn paren(e: &Expr, wrap: bool) -> String {
    if wrap {
        format!("\\left({}\\right)", to_latex(e))
    } else {
        to_latex(e)
    }
}

fn variable(name: &str) -> String {
    match name.find(|c: char| c.is_ascii_digit()) {
        _ if name.len() == 1 => name.to_string(),
        Some(i) if i > 0 && name[i..].chars().all(|c| c.is_ascii_digit()) => {
            format!("{}_{{{}}}", variable(&name[..i]), &name[i..])
        }
        _ => format!("\\mathrm{{{name}}}"),
    }
}

/// The expression in LaTeX math mode, for pasting between `$ … $`.
///
/// ```
/// use nabla::calculus::{parse, to_latex};
/// assert_eq!(to_latex(&parse("x^2/3 + sqrt(x)*sin(2*x)").unwrap()),
///            "\\frac{x^{2}}{3} + \\sqrt{x} \\sin\\left(2 x\\right)");
/// ```
pub fn to_latex(e: &Expr) -> String {
    match e {
        Expr::Num(v) => super::expr::Expr::Num(*v).to_string(),
        Expr::Const(Constant::Pi) => "\\pi".into(),
        Expr::Const(Constant::E) => "e".into(),
        Expr::Var(name) => variable(name),
        Expr::Neg(a) => format!("-{}", paren(a, precedence(a) < 2 || precedence(a) == 3)),
        Expr::Add(terms) => {
            let mut out = to_latex(&terms[0]);
            for t in &terms[1..] {
                match t {
                    Expr::Neg(m) => {
                        let wrap = precedence(m) < 2 || precedence(m) == 3;
                        out.push_str(&format!(" - {}", paren(m, wrap)));
                    }
                    Expr::Num(v) if *v < 0.0 => out.push_str(&format!(" - {}", -v)),
                    other => {
                        let wrap = precedence(other) < 2 || precedence(other) == 3;
                        out.push_str(&format!(" + {}", paren(other, wrap)));
                    }
                }
            }
            out
        }
        Expr::Mul(factors) => {
            let mut out = paren(&factors[0], precedence(&factors[0]) < 2);
            for f in &factors[1..] {
                let text = paren(f, precedence(f) < 4);
                let joiner = if text.starts_with(|c: char| c.is_ascii_digit()) {
                    " \\cdot "
                } else {
                    " "
                };
                out.push_str(joiner);
                out.push_str(&text);
            }
            out
        }
        Expr::Div(a, b) => format!("\\frac{{{}}}{{{}}}", to_latex(a), to_latex(b)),
        Expr::Pow(a, b) => format!(
            "{}^{{{}}}",
            paren(a, precedence(a) < 5 || matches!(**a, Expr::Div(..))),
            to_latex(b)
        ),
        Expr::Call(f, a) => {
            let inner = to_latex(a);
            match f {
                Func::Sqrt => format!("\\sqrt{{{inner}}}"),
                Func::Abs => format!("\\left|{inner}\\right|"),
                Func::Sin
                | Func::Cos
                | Func::Tan
                | Func::Exp
                | Func::Ln
                | Func::Tanh
                | Func::Sinh
                | Func::Cosh
                | Func::Sec
                | Func::Csc
                | Func::Cot => {
                    format!("\\{}\\left({inner}\\right)", f.name())
                }
                Func::Asin => format!("\\arcsin\\left({inner}\\right)"),
                Func::Acos => format!("\\arccos\\left({inner}\\right)"),
                Func::Atan => format!("\\arctan\\left({inner}\\right)"),
                Func::Asinh => format!("\\operatorname{{arsinh}}\\left({inner}\\right)"),
                Func::Acosh => format!("\\operatorname{{arcosh}}\\left({inner}\\right)"),
                Func::Atanh => format!("\\operatorname{{artanh}}\\left({inner}\\right)"),
                Func::Log10 => format!("\\log_{{10}}\\left({inner}\\right)"),
                Func::Log2 => format!("\\log_{{2}}\\left({inner}\\right)"),
                other => format!("\\operatorname{{{}}}\\left({inner}\\right)", other.name()),
            }
        }
        Expr::Call2(f, a, b) => {
            let name = match f {
                Func2::Min => "\\min",
                Func2::Max => "\\max",
            };
            format!("{name}\\left({}, {}\\right)", to_latex(a), to_latex(b))
        }
    }
}

/// Plain text (a rule such as `power: ∫ u^n du = u^(n+1)/(n+1)`) as LaTeX in typewriter type,
/// `\texttt{…}`, with the characters LaTeX treats specially escaped and `∫` as `\int`; it can
/// stand in math mode or in text.
pub fn text_to_latex(text: &str) -> String {
    let mut out = String::from("\\texttt{");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '%' | '&' | '#' | '$' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '^' => out.push_str("\\^{}"),
            '~' => out.push_str("\\~{}"),
            '|' => out.push_str("\\textbar{}"),
            '<' => out.push_str("\\textless{}"),
            '>' => out.push_str("\\textgreater{}"),
            '∫' => out.push_str("\\ensuremath{\\int}"),
            other => out.push(other),
        }
    }
    out.push('}');
    out
}
