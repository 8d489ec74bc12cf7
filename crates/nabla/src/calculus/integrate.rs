//! Antiderivatives by a table of rules, with the rules applied recorded as steps, definite
//! integrals exactly where an antiderivative is found, and adaptive Gauss–Kronrod quadrature
//! otherwise.

use std::fmt;

use super::diff::derivative;
use super::expr::{Constant, Expr, Func};
use super::latex::{text_to_latex, to_latex};
use super::partial_fractions::partial_fractions;
use super::simplify::simplify;
use crate::{Error, Result};

/// One rule applied: `rule` turned ∫`expr` into `result`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationStep {
    /// The rule's name (`power`, `linearity`, `substitution u = x^2 + 1`, `by parts`, …).
    pub rule: String,
    /// The integrand.
    pub expr: Expr,
    /// Its antiderivative (simplified).
    pub result: Expr,
    /// Nesting depth (0 for the whole integrand).
    pub depth: usize,
}

impl fmt::Display for IntegrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:indent$}{}: ∫ {} = {}",
            "",
            self.rule,
            self.expr,
            self.result,
            indent = 2 * self.depth
        )
    }
}

impl IntegrationStep {
    /// The step in LaTeX, for pasting between `$ … $`: indented by `\quad` per level,
    /// `\int f \, dx = F`, then the rule in typewriter type ([`text_to_latex`]).
    ///
    /// ```
    /// use nabla::calculus::{integrate, parse};
    /// let anti = integrate(&parse("cos(x)").unwrap(), "x").unwrap().unwrap();
    /// assert_eq!(
    ///     anti.steps[0].to_latex("x"),
    ///     "\\int \\cos\\left(x\\right) \\, dx = \\sin\\left(x\\right) \\qquad \\texttt{trig: \\ensuremath{\\int} cos(u) du = sin(u)}"
    /// );
    /// ```
    pub fn to_latex(&self, var: &str) -> String {
        format!(
            "{}\\int {} \\, d{var} = {} \\qquad {}",
            "\\quad ".repeat(self.depth),
            to_latex(&self.expr),
            to_latex(&self.result),
            text_to_latex(&self.rule)
        )
    }
}

/// An antiderivative (without the constant of integration) and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Antiderivative {
    pub result: Expr,
    pub steps: Vec<IntegrationStep>,
}

/// ∫ F(u) du for the outer function of a u-substitution, with the rule's name.
type OuterRule = Box<dyn Fn(&Expr) -> Option<(Expr, String)>>;

struct Integrator<'a> {
    var: &'a str,
    steps: Vec<IntegrationStep>,
}

fn num(v: f64) -> Expr {
    Expr::Num(v)
}

/// The slope `a` when `u = a*x + b` (a ≠ 0 constant), else `None`.
fn linear_slope(u: &Expr, var: &str) -> Option<Expr> {
    let a = derivative(u, var);
    (!a.depends_on(var) && a != num(0.0)).then_some(a)
}

/// ∫ f(u) du for the table's functions of u.
fn table(f: Func, u: &Expr) -> Option<(Expr, &'static str)> {
    let call = |g: Func| Expr::call(g, u.clone());
    let square = || Expr::pow(u.clone(), num(2.0));
    let root = |e: Expr| Expr::call(Func::Sqrt, e);
    Some(match f {
        Func::Exp => (call(Func::Exp), "exp: ∫ exp(u) du = exp(u)"),
        Func::Sin => (-call(Func::Cos), "trig: ∫ sin(u) du = -cos(u)"),
        Func::Cos => (call(Func::Sin), "trig: ∫ cos(u) du = sin(u)"),
        Func::Tan => (
            -Expr::call(Func::Ln, Expr::call(Func::Abs, call(Func::Cos))),
            "trig: ∫ tan(u) du = -ln|cos(u)|",
        ),
        Func::Sqrt => (
            Expr::Div(
                Box::new(
                    num(2.0)
                        * Expr::pow(u.clone(), Expr::Div(Box::new(num(3.0)), Box::new(num(2.0)))),
                ),
                Box::new(num(3.0)),
            ),
            "power: ∫ sqrt(u) du = 2*u^(3/2)/3",
        ),
        Func::Ln => (
            u.clone() * call(Func::Ln) - u.clone(),
            "by parts: ∫ ln(u) du = u*ln(u) - u",
        ),
        Func::Sigmoid => (call(Func::Softplus), "∫ sigmoid(u) du = softplus(u)"),
        Func::Sinh => (call(Func::Cosh), "hyperbolic: ∫ sinh(u) du = cosh(u)"),
        Func::Cosh => (call(Func::Sinh), "hyperbolic: ∫ cosh(u) du = sinh(u)"),
        Func::Tanh => (
            Expr::call(Func::Ln, call(Func::Cosh)),
            "hyperbolic: ∫ tanh(u) du = ln(cosh(u))",
        ),
        Func::Sec => (
            Expr::call(
                Func::Ln,
                Expr::call(Func::Abs, call(Func::Sec) + call(Func::Tan)),
            ),
            "trig: ∫ sec(u) du = ln|sec(u) + tan(u)|",
        ),
        Func::Csc => (
            -Expr::call(
                Func::Ln,
                Expr::call(Func::Abs, call(Func::Csc) + call(Func::Cot)),
            ),
            "trig: ∫ csc(u) du = -ln|csc(u) + cot(u)|",
        ),
        Func::Cot => (
            Expr::call(Func::Ln, Expr::call(Func::Abs, call(Func::Sin))),
            "trig: ∫ cot(u) du = ln|sin(u)|",
        ),
        Func::Asin => (
            u.clone() * call(Func::Asin) + root(num(1.0) - square()),
            "by parts: ∫ asin(u) du = u*asin(u) + sqrt(1 - u^2)",
        ),
        Func::Acos => (
            u.clone() * call(Func::Acos) - root(num(1.0) - square()),
            "by parts: ∫ acos(u) du = u*acos(u) - sqrt(1 - u^2)",
        ),
        Func::Atan => (
            u.clone() * call(Func::Atan) - Expr::call(Func::Ln, square() + num(1.0)) / num(2.0),
            "by parts: ∫ atan(u) du = u*atan(u) - ln(u^2 + 1)/2",
        ),
        Func::Asinh => (
            u.clone() * call(Func::Asinh) - root(square() + num(1.0)),
            "by parts: ∫ asinh(u) du = u*asinh(u) - sqrt(u^2 + 1)",
        ),
        Func::Acosh => (
            u.clone() * call(Func::Acosh) - root(square() - num(1.0)),
            "by parts: ∫ acosh(u) du = u*acosh(u) - sqrt(u^2 - 1)",
        ),
        Func::Atanh => (
            u.clone() * call(Func::Atanh) + Expr::call(Func::Ln, num(1.0) - square()) / num(2.0),
            "by parts: ∫ atanh(u) du = u*atanh(u) + ln(1 - u^2)/2",
        ),
        Func::Log10 => (
            (u.clone() * Expr::call(Func::Ln, u.clone()) - u.clone())
                / Expr::call(Func::Ln, num(10.0)),
            "by parts: ∫ log10(u) du = (u*ln(u) - u)/ln(10)",
        ),
        Func::Log2 => (
            (u.clone() * Expr::call(Func::Ln, u.clone()) - u.clone())
                / Expr::call(Func::Ln, num(2.0)),
            "by parts: ∫ log2(u) du = (u*ln(u) - u)/ln(2)",
        ),
        _ => return None,
    })
}

impl Integrator<'_> {
    fn record(
        &mut self,
        rule: impl Into<String>,
        expr: &Expr,
        result: &Expr,
        depth: usize,
        slot: usize,
    ) {
        self.steps.insert(
            slot,
            IntegrationStep {
                rule: rule.into(),
                expr: expr.clone(),
                result: simplify(result),
                depth,
            },
        );
    }

    /// ∫ e d(var), or `None` when no rule applies.
    fn int(&mut self, e: &Expr, depth: usize) -> Option<Expr> {
        if depth > 64 {
            return None;
        }
        let slot = self.steps.len();
        let (rule, result) = match self.rule(e, depth) {
            Some(found) => found,
            None => {
                // Steps of a rule that failed half-way are not part of the answer.
                self.steps.truncate(slot);
                self.partial_fractions(e, depth)?
            }
        };
        self.record(rule, e, &result, depth, slot);
        Some(result)
    }

    /// A rational function by partial fractions: one step for the split, one per term.
    fn partial_fractions(&mut self, e: &Expr, depth: usize) -> Option<(String, Expr)> {
        let mut terms = partial_fractions(e, self.var)?;
        if terms.len() == 1 {
            let only = terms.pop()?;
            return Some((only.rule, only.antiderivative));
        }
        let mut shown = Vec::with_capacity(terms.len());
        let mut results = Vec::with_capacity(terms.len());
        for t in terms {
            let term = simplify(&t.term);
            let slot = self.steps.len();
            self.record(t.rule, &term, &t.antiderivative, depth + 1, slot);
            shown.push(term);
            results.push(t.antiderivative);
        }
        Some((
            format!("partial fractions: {e} = {}", Expr::Add(shown)),
            Expr::Add(results),
        ))
    }

    fn rule(&mut self, e: &Expr, depth: usize) -> Option<(String, Expr)> {
        let var = self.var;
        let x = Expr::var(var);
        if !e.depends_on(var) {
            return Some(("constant: ∫ c dx = c*x".into(), e.clone() * x));
        }
        match e {
            Expr::Var(_) => Some((
                "power: ∫ x dx = x^2/2".into(),
                Expr::Div(Box::new(Expr::pow(x, num(2.0))), Box::new(num(2.0))),
            )),
            Expr::Neg(a) => Some(("linearity: ∫ -u = -∫ u".into(), -self.int(a, depth + 1)?)),
            Expr::Add(terms) => {
                let mut parts = Vec::new();
                for t in terms {
                    parts.push(self.int(t, depth + 1)?);
                }
                Some(("linearity: ∫ (u + v) = ∫ u + ∫ v".into(), Expr::Add(parts)))
            }
            Expr::Mul(_) | Expr::Div(..) => self.product(e, depth),
            Expr::Pow(base, exponent) => self.power(e, base, exponent),
            Expr::Call(f, u) => {
                let a = linear_slope(u, var)?;
                let (anti, name) = table(*f, u)?;
                if a == num(1.0) && **u == x {
                    return Some((name.into(), anti));
                }
                Some((
                    format!(
                        "linear substitution u = {}: {name}, divided by {a}",
                        simplify(u)
                    ),
                    Expr::Div(Box::new(anti), Box::new(a)),
                ))
            }
            Expr::Num(_) | Expr::Const(_) | Expr::Call2(..) => None,
        }
    }

    fn power(&mut self, e: &Expr, base: &Expr, exponent: &Expr) -> Option<(String, Expr)> {
        let var = self.var;
        if !exponent.depends_on(var) {
            let a = linear_slope(base, var)?;
            let n = simplify(exponent);
            let (anti, name) = if n == num(-1.0) {
                (
                    Expr::call(Func::Ln, Expr::call(Func::Abs, base.clone())),
                    "power: ∫ u^-1 du = ln|u|",
                )
            } else {
                let n1 = simplify(&(n.clone() + num(1.0)));
                (
                    Expr::Div(Box::new(Expr::pow(base.clone(), n1.clone())), Box::new(n1)),
                    "power: ∫ u^n du = u^(n+1)/(n+1)",
                )
            };
            if a == num(1.0) && *base == Expr::var(var) {
                return Some((name.into(), anti));
            }
            return Some((
                format!(
                    "linear substitution u = {}: {name}, divided by {a}",
                    simplify(base)
                ),
                Expr::Div(Box::new(anti), Box::new(a)),
            ));
        }
        if !base.depends_on(var) {
            let a = linear_slope(exponent, var)?;
            let ln_base = match base {
                Expr::Const(Constant::E) => num(1.0),
                other => Expr::call(Func::Ln, other.clone()),
            };
            return Some((
                "exponential: ∫ c^(a*x + b) dx = c^(a*x + b)/(a*ln(c))".into(),
                Expr::Div(Box::new(e.clone()), Box::new(a * ln_base)),
            ));
        }
        None
    }

    /// Products and quotients: constant factors out, then 1/u, u-substitution, by parts.
    fn product(&mut self, e: &Expr, depth: usize) -> Option<(String, Expr)> {
        let var = self.var;
        let mut factors = Vec::new();
        flatten_product(e, 1.0, &mut factors);
        let (constant, dependent): (Vec<_>, Vec<_>) =
            factors.into_iter().partition(|f| !f.depends_on(var));
        let rebuild = |fs: &[Expr]| -> Expr {
            match fs.len() {
                0 => num(1.0),
                1 => fs[0].clone(),
                _ => Expr::Mul(fs.to_vec()),
            }
        };
        let body = rebuild(&dependent);
        let c = simplify(&rebuild(&constant));
        if c != num(1.0) {
            let inner = self.int(&body, depth + 1)?;
            return Some(("linearity: ∫ c*u = c*∫ u".into(), c * inner));
        }
        if dependent.len() == 1 {
            return self.rule(&dependent[0], depth);
        }
        // u-substitution: a factor F(g) whose g′ is, up to a constant, the rest.
        for (i, f) in dependent.iter().enumerate() {
            let (g, outer): (&Expr, OuterRule) = match f {
                Expr::Call(func, g) => {
                    let func = *func;
                    (
                        g,
                        Box::new(move |u: &Expr| table(func, u).map(|(a, n)| (a, n.to_string()))),
                    )
                }
                Expr::Pow(g, n) if !n.depends_on(var) => {
                    let n = simplify(n);
                    (
                        g,
                        Box::new(move |u: &Expr| {
                            if n == num(-1.0) {
                                Some((
                                    Expr::call(Func::Ln, Expr::call(Func::Abs, u.clone())),
                                    "power: ∫ u^-1 du = ln|u|".into(),
                                ))
                            } else {
                                let n1 = simplify(&(n.clone() + num(1.0)));
                                Some((
                                    Expr::Div(
                                        Box::new(Expr::pow(u.clone(), n1.clone())),
                                        Box::new(n1),
                                    ),
                                    "power: ∫ u^n du = u^(n+1)/(n+1)".into(),
                                ))
                            }
                        }),
                    )
                }
                _ => continue,
            };
            if !g.depends_on(var) {
                continue;
            }
            let rest: Vec<Expr> = dependent
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, f)| f.clone())
                .collect();
            let ratio = simplify(&Expr::Div(
                Box::new(rebuild(&rest)),
                Box::new(derivative(g, var)),
            ));
            if ratio.depends_on(var) {
                continue;
            }
            let (anti, name) = outer(g)?;
            return Some((
                format!(
                    "substitution u = {}, du = ({})dx: {name}",
                    simplify(g),
                    derivative(g, var)
                ),
                ratio * anti,
            ));
        }
        // By parts: polynomial × exp/sin/cos of a linear argument, and polynomial × ln.
        if dependent.len() == 2 {
            for (p, h) in [
                (&dependent[0], &dependent[1]),
                (&dependent[1], &dependent[0]),
            ] {
                if !is_polynomial(p, var) {
                    continue;
                }
                if let Expr::Call(Func::Ln, u) = h {
                    // ∫ p*ln(u) = P*ln(u) - ∫ P*u′/u with P = ∫ p.
                    let mut sub = Integrator {
                        var,
                        steps: Vec::new(),
                    };
                    let big_p = simplify(&sub.int(p, 0)?);
                    let rest = simplify(&Expr::Div(
                        Box::new(big_p.clone() * derivative(u, var)),
                        Box::new((**u).clone()),
                    ));
                    let second = self.int(&rest, depth + 1)?;
                    return Some((
                        format!("by parts: u = {h}, dv = ({p})dx"),
                        big_p * (*h).clone() - second,
                    ));
                }
                let trig_or_exp = matches!(
                    h,
                    Expr::Call(
                        Func::Exp | Func::Sin | Func::Cos | Func::Sinh | Func::Cosh,
                        _
                    )
                ) || matches!(h, Expr::Pow(b, _) if !b.depends_on(var));
                if trig_or_exp {
                    // ∫ p*h = p*H - ∫ p′*H with H = ∫ h.
                    let mut sub = Integrator {
                        var,
                        steps: Vec::new(),
                    };
                    let big_h = simplify(&sub.int(h, 0)?);
                    let dp = derivative(p, var);
                    let second = if dp == num(0.0) {
                        num(0.0)
                    } else {
                        self.int(&simplify(&(dp * big_h.clone())), depth + 1)?
                    };
                    return Some((
                        format!("by parts: u = {p}, dv = ({h})dx"),
                        (*p).clone() * big_h - second,
                    ));
                }
            }
        }
        None
    }
}

/// The factors of a product or quotient, denominators as powers −1.
fn flatten_product(e: &Expr, sign: f64, out: &mut Vec<Expr>) {
    match e {
        Expr::Mul(fs) => {
            for f in fs {
                flatten_product(f, sign, out);
            }
        }
        Expr::Div(a, b) => {
            flatten_product(a, sign, out);
            flatten_product(b, -sign, out);
        }
        other if sign < 0.0 => out.push(Expr::pow(other.clone(), num(-1.0))),
        other => out.push(other.clone()),
    }
}

/// Whether `e` is a polynomial in `var` (sums and products of constants and whole powers).
fn is_polynomial(e: &Expr, var: &str) -> bool {
    if !e.depends_on(var) {
        return true;
    }
    match e {
        Expr::Var(_) => true,
        Expr::Neg(a) => is_polynomial(a, var),
        Expr::Add(items) | Expr::Mul(items) => items.iter().all(|t| is_polynomial(t, var)),
        Expr::Div(a, b) => !b.depends_on(var) && is_polynomial(a, var),
        Expr::Pow(b, n) => {
            !n.depends_on(var)
                && matches!(n.eval(&[] as &[(&str, f64)]), Ok(k) if k >= 0.0 && k.fract() == 0.0)
                && is_polynomial(b, var)
        }
        _ => false,
    }
}

/// An antiderivative of `expr` with respect to `var`, by linearity, the power rule
/// (u^−1 → ln|u|), the table (exp, sin, cos, tan, sec, csc, cot, sinh, cosh, tanh, sigmoid,
/// and by parts ln, log10, log2 and the inverse trig and hyperbolic functions), the linear
/// substitution u = ax + b, u-substitution where the inner function's derivative is present
/// up to a constant, integration by parts for a polynomial times exp/sin/cos/sinh/cosh or ln,
/// and partial fractions for a rational function whose denominator has distinct linear
/// factors and at most one irreducible quadratic (`1/(x^2 - 1)`, `1/(x*(x^2 + 1))`,
/// `1/(x^2 + 1)` = atan). The result is checked by differentiating it back at sample points.
/// `Ok(None)` when no rule applies.
///
/// ```
/// use nabla::calculus::{integrate, parse};
/// let f = integrate(&parse("2").unwrap(), "x").unwrap().unwrap();
/// assert_eq!(f.result.to_string(), "2*x");
/// let g = integrate(&parse("x*exp(x)").unwrap(), "x").unwrap().unwrap();
/// assert_eq!(g.result.to_string(), "exp(x)*(x - 1)");
/// ```
pub fn integrate(expr: &Expr, var: &str) -> Result<Option<Antiderivative>> {
    let mut it = Integrator {
        var,
        steps: Vec::new(),
    };
    let Some(raw) = it.int(expr, 0) else {
        return Ok(None);
    };
    let result = simplify(&raw);
    // Differentiate back: F′ must equal f wherever both are finite.
    let check = simplify(&derivative(&result, var));
    let others: Vec<String> = expr.variables().into_iter().filter(|v| v != var).collect();
    let mut agree = 0;
    for k in 0..40 {
        let t = -3.0 + 6.0 * ((k as f64) * 0.618_034).fract();
        let mut point: Vec<(&str, f64)> = vec![(var, t)];
        for (j, o) in others.iter().enumerate() {
            point.push((o.as_str(), 0.5 + 0.25 * j as f64));
        }
        let (a, b) = (expr.eval(point.as_slice())?, check.eval(point.as_slice())?);
        if a.is_finite() && b.is_finite() {
            if (a - b).abs() > 1e-8 * (1.0 + a.abs()) {
                return Err(Error::Eval(format!(
                    "internal check failed: d/d{var} ({result}) = {check} differs from {expr} at {var} = {t}"
                )));
            }
            agree += 1;
        }
    }
    if agree == 0 {
        return Ok(None);
    }
    Ok(Some(Antiderivative {
        result,
        steps: it.steps,
    }))
}

/// How a definite integral was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// F(b) − F(a) from an antiderivative.
    Symbolic,
    /// Adaptive Gauss–Kronrod (7–15) quadrature.
    Numeric,
}

impl Method {
    /// `symbolic` or `numeric`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Symbolic => "symbolic",
            Method::Numeric => "numeric",
        }
    }
}

/// A definite integral.
#[derive(Debug, Clone, PartialEq)]
pub struct Definite {
    pub value: f64,
    /// F(b) − F(a) simplified, when found symbolically (`1/3`, `2`, `e - 1`).
    pub exact: Option<Expr>,
    /// Estimated absolute error (0 for a symbolic value).
    pub error_estimate: f64,
    pub method: Method,
}

/// Replaces every `var` in `e` by `value`.
pub fn substitute(e: &Expr, var: &str, value: &Expr) -> Expr {
    let s = |a: &Expr| substitute(a, var, value);
    match e {
        Expr::Var(name) if name == var => value.clone(),
        Expr::Num(_) | Expr::Const(_) | Expr::Var(_) => e.clone(),
        Expr::Neg(a) => Expr::Neg(Box::new(s(a))),
        Expr::Add(ts) => Expr::Add(ts.iter().map(s).collect()),
        Expr::Mul(fs) => Expr::Mul(fs.iter().map(s).collect()),
        Expr::Div(a, b) => Expr::Div(Box::new(s(a)), Box::new(s(b))),
        Expr::Pow(a, b) => Expr::Pow(Box::new(s(a)), Box::new(s(b))),
        Expr::Call(f, a) => Expr::Call(*f, Box::new(s(a))),
        Expr::Call2(f, a, b) => Expr::Call2(*f, Box::new(s(a)), Box::new(s(b))),
    }
}

const GK_NODES: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
const GK_KRONROD: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
const GK_GAUSS: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

fn gauss_kronrod_15(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    let (c, h) = (0.5 * (a + b), 0.5 * (b - a));
    let (mut kronrod, mut gauss) = (0.0, 0.0);
    for (i, (&node, &wk)) in GK_NODES.iter().zip(&GK_KRONROD).enumerate() {
        let pair = if node == 0.0 {
            f(c)
        } else {
            f(c - h * node) + f(c + h * node)
        };
        kronrod += wk * pair;
        // Gauss nodes are the odd-indexed Kronrod nodes (1, 3, 5, and the centre).
        if i % 2 == 1 {
            gauss += GK_GAUSS[i / 2] * pair;
        }
    }
    (kronrod * h, ((kronrod - gauss) * h).abs())
}

/// ∫ₐᵇ f by adaptive Gauss–Kronrod quadrature to `tol` (absolute): the value and the summed
/// error estimates. Errors when f is not finite at a sample point.
pub fn quadrature(f: &dyn Fn(f64) -> f64, a: f64, b: f64, tol: f64) -> Result<(f64, f64)> {
    let mut stack = vec![(a, b, 0usize)];
    let (mut total, mut error) = (0.0, 0.0);
    while let Some((lo, hi, level)) = stack.pop() {
        let (v, e) = gauss_kronrod_15(f, lo, hi);
        if !v.is_finite() {
            return Err(Error::Eval(format!(
                "the integrand is not finite on [{lo}, {hi}]: improper integrals are not supported"
            )));
        }
        let width = (hi - lo) / (b - a);
        if e <= tol * width.max(1e-12) || level >= 40 {
            total += v;
            error += e;
        } else {
            let mid = 0.5 * (lo + hi);
            stack.push((lo, mid, level + 1));
            stack.push((mid, hi, level + 1));
        }
    }
    Ok((total, error))
}

/// ∫ from `a` to `b` of `expr` d`var`: exact from an antiderivative when one is found and the
/// integrand is finite on a fine grid of [a, b]; otherwise numeric ([`quadrature`], tolerance
/// 1e-10). `a` and `b` are constant expressions (`0`, `pi`, `1/2`). An integrand that is not
/// finite on the interval (an improper integral) is refused with [`Error::Eval`].
pub fn integrate_definite(expr: &Expr, var: &str, a: &Expr, b: &Expr) -> Result<Definite> {
    let others: Vec<String> = expr.variables().into_iter().filter(|v| v != var).collect();
    if !others.is_empty() {
        return Err(Error::param(
            "integrand",
            format!("a definite integral needs values for {}", others.join(", ")),
        ));
    }
    let none: [(&str, f64); 0] = [];
    let (lo, hi) = (a.eval(&none)?, b.eval(&none)?);
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(Error::param(
            "limits",
            "infinite limits (improper integrals) are not supported",
        ));
    }
    let f = |t: f64| expr.eval(&[(var, t)]).unwrap_or(f64::NAN);
    for k in 0..=1000 {
        let t = lo + (hi - lo) * k as f64 / 1000.0;
        if !f(t).is_finite() {
            return Err(Error::Eval(format!(
                "{expr} is not finite at {var} = {t} in [{lo}, {hi}]: improper integrals are not supported"
            )));
        }
    }
    if let Some(anti) = integrate(expr, var)? {
        let exact =
            simplify(&(substitute(&anti.result, var, b) - substitute(&anti.result, var, a)));
        let value = exact.eval(&none)?;
        if value.is_finite() {
            return Ok(Definite {
                value,
                exact: Some(exact),
                error_estimate: 0.0,
                method: Method::Symbolic,
            });
        }
    }
    let (value, error_estimate) = quadrature(&f, lo, hi, 1e-10)?;
    Ok(Definite {
        value,
        exact: None,
        error_estimate,
        method: Method::Numeric,
    })
}

/// The expansion point and order that [`taylor`] and [`taylor_remainder_bound`] accept: a
/// point without variables and an order of at most 30.
fn check_expansion(at: &Expr, order: usize) -> Result<()> {
    if !at.variables().is_empty() {
        return Err(Error::param(
            "expansion point",
            format!("{at} must be a number or a constant expression"),
        ));
    }
    if order > 30 {
        return Err(Error::param("order", format!("{order} (at most 30)")));
    }
    Ok(())
}

/// The Taylor polynomial of `expr` in `var` about `at` (a constant expression) up to degree
/// `order`: Σₖ f⁽ᵏ⁾(at)/k! · (var − at)ᵏ, each coefficient simplified exactly (so `exp(x)` at 0
/// gives `x^3/6 + x^2/2 + x + 1`), and the coefficients themselves, lowest degree first.
///
/// Errors with [`Error::Param`] when `at` has variables or `order` is above 30, and with
/// [`Error::Domain`] when a derivative is undefined at `at` (ln(x) about 0).
///
/// ```
/// use nabla::calculus::{parse, taylor};
/// let (p, _) = taylor(&parse("exp(x)").unwrap(), "x", &parse("0").unwrap(), 3).unwrap();
/// assert_eq!(p.to_string(), "x^3/6 + x^2/2 + x + 1");
/// ```
pub fn taylor(expr: &Expr, var: &str, at: &Expr, order: usize) -> Result<(Expr, Vec<Expr>)> {
    check_expansion(at, order)?;
    let none: [(&str, f64); 0] = [];
    let mut d = expr.clone();
    let mut factorial = 1.0;
    let mut coefficients = Vec::with_capacity(order + 1);
    let mut terms = Vec::with_capacity(order + 1);
    let shift = simplify(&(Expr::var(var) - at.clone()));
    for k in 0..=order {
        if k > 0 {
            d = derivative(&d, var);
            factorial *= k as f64;
        }
        let value = substitute(&d, var, at);
        if expr.variables().iter().all(|v| v == var) {
            value.eval_checked(&none).map_err(|e| match e {
                Error::Domain { expr: _, msg } => Error::Domain {
                    expr: format!("the derivative of order {k} at {var} = {at}"),
                    msg,
                },
                other => other,
            })?;
        }
        let c = simplify(&Expr::Div(Box::new(value), Box::new(num(factorial))));
        terms.push(c.clone() * Expr::pow(shift.clone(), num(k as f64)));
        coefficients.push(c);
    }
    Ok((simplify(&Expr::Add(terms)), coefficients))
}

/// Number of equal intervals on which |f⁽ᴺ⁺¹⁾| is sampled by [`taylor_remainder_bound`].
pub const REMAINDER_SAMPLES: usize = 10_000;
/// Golden-section steps refining the largest sample (each shrinks the bracket by 0.618).
const GOLDEN_STEPS: usize = 80;

/// The Lagrange bound on the error of a Taylor polynomial over an interval, from
/// [`taylor_remainder_bound`].
#[derive(Debug, Clone, PartialEq)]
pub struct RemainderBound {
    /// max|f⁽ᴺ⁺¹⁾| · max|x − a|ᴺ⁺¹ / (N + 1)!: |f(x) − T_N(x)| is at most this on the
    /// interval, as far as the sampled maximum is the true one.
    pub bound: f64,
    /// f⁽ᴺ⁺¹⁾, simplified.
    pub derivative: Expr,
    /// The largest |f⁽ᴺ⁺¹⁾| among the samples: an estimate of the maximum, not a proof.
    pub max_derivative: f64,
    /// Where that largest value was found.
    pub max_derivative_at: f64,
    /// max|x − a| over the interval (at one of its ends).
    pub max_distance: f64,
    /// How many points f⁽ᴺ⁺¹⁾ was evaluated at: [`REMAINDER_SAMPLES`] + 1 equally spaced
    /// ones, both ends included, over the interval joined with the expansion point (where ξ of
    /// the Lagrange form lies), the expansion point itself, and a golden-section search between
    /// the two samples next to the largest.
    pub samples: usize,
}

/// The Lagrange remainder bound of the Taylor polynomial of degree `order` about `at` on the
/// interval [`lo`, `hi`]: for x there, f(x) − T_N(x) = f⁽ᴺ⁺¹⁾(ξ)/(N + 1)! · (x − a)ᴺ⁺¹ with ξ
/// between a and x, so |f(x) − T_N(x)| ≤ max|f⁽ᴺ⁺¹⁾| · max|x − a|ᴺ⁺¹/(N + 1)!.
///
/// The maximum of |f⁽ᴺ⁺¹⁾| is estimated by dense sampling, then refined next to the largest
/// sample (see [`RemainderBound::samples`]); it is not proven: a narrow spike between samples
/// would be missed. `a` may lie outside the interval
/// (ξ then ranges over the interval joined with a).
///
/// Errors with [`Error::Param`] for an empty or non-finite interval, an `at` with variables,
/// an order above 30 or an expression in other variables than `var`, and with
/// [`Error::Domain`] when f or f⁽ᴺ⁺¹⁾ is undefined at a sampled point (ln(x) on an interval
/// reaching 0), naming the point.
///
/// ```
/// use nabla::calculus::{parse, taylor_remainder_bound};
/// // exp(x) to order 2 about 0 on [-1, 1]: max|exp| = e at 1, so the bound is e/3! = e/6.
/// let r = taylor_remainder_bound(&parse("exp(x)").unwrap(), "x", &parse("0").unwrap(), 2, -1.0, 1.0)
///     .unwrap();
/// assert!((r.bound - std::f64::consts::E / 6.0).abs() < 1e-15);
/// ```
pub fn taylor_remainder_bound(
    expr: &Expr,
    var: &str,
    at: &Expr,
    order: usize,
    lo: f64,
    hi: f64,
) -> Result<RemainderBound> {
    if !(lo.is_finite() && hi.is_finite()) || lo >= hi {
        return Err(Error::param(
            "interval",
            format!("{lo}..{hi}: needs finite bounds with the start below the end"),
        ));
    }
    check_expansion(at, order)?;
    if let Some(other) = expr.variables().into_iter().find(|v| v != var) {
        return Err(Error::param(
            "expression",
            format!("a remainder bound needs a value for {other}"),
        ));
    }
    let none: [(&str, f64); 0] = [];
    let a = at.eval_checked(&none)?;
    let mut d = expr.clone();
    for _ in 0..=order {
        d = derivative(&d, var);
    }
    let (from, to) = (lo.min(a), hi.max(a));
    let n = REMAINDER_SAMPLES;
    let points = (0..=n)
        .map(|i| {
            if i == n {
                to
            } else {
                from + (to - from) * i as f64 / n as f64
            }
        })
        .chain(std::iter::once(a));
    let (mut max_derivative, mut max_derivative_at, mut samples) = (0.0f64, a, 0);
    for t in points {
        // f itself must be defined where its error is bounded (ln(x) has a 4th derivative
        // -6/x^4 at x = -1, but no value).
        expr.eval_checked(&[(var, t)]).map_err(|e| match e {
            Error::Domain { expr: inner, msg } => Error::Domain {
                expr: format!("{inner} at {var} = {t}"),
                msg,
            },
            other => other,
        })?;
        let v = d.eval_checked(&[(var, t)]).map_err(|e| match e {
            Error::Domain { expr: _, msg } => Error::Domain {
                expr: format!("the derivative of order {} at {var} = {t}", order + 1),
                msg,
            },
            other => other,
        })?;
        samples += 1;
        if v.abs() > max_derivative || v.is_nan() {
            max_derivative = v.abs();
            max_derivative_at = t;
        }
    }
    // Between the samples around the largest one, |f^(N+1)| may peak higher (sin at pi/2 falls
    // between grid points): golden-section search on that bracket.
    let spacing = (to - from) / n as f64;
    if max_derivative.is_finite() && spacing > 0.0 {
        let size = |t: f64| d.eval(&[(var, t)]).map_or(f64::NAN, f64::abs);
        let (mut left, mut right) = (
            (max_derivative_at - spacing).max(from),
            (max_derivative_at + spacing).min(to),
        );
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..GOLDEN_STEPS {
            let (m1, m2) = (
                right - ratio * (right - left),
                left + ratio * (right - left),
            );
            if size(m1) >= size(m2) {
                right = m2;
            } else {
                left = m1;
            }
        }
        let t = 0.5 * (left + right);
        let v = size(t);
        samples += 2 * GOLDEN_STEPS + 1;
        if v.is_finite() && v > max_derivative {
            (max_derivative, max_derivative_at) = (v, t);
        }
    }
    let max_distance = (lo - a).abs().max((hi - a).abs());
    let factorial: f64 = (1..=order + 1).map(|k| k as f64).product();
    let bound = max_derivative * max_distance.powi(order as i32 + 1) / factorial;
    Ok(RemainderBound {
        bound,
        derivative: d,
        max_derivative,
        max_derivative_at,
        max_distance,
        samples,
    })
}
