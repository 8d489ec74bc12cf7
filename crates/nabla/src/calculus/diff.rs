//! Symbolic differentiation, with an optional record of the rules applied.

use std::fmt;

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::expr::{Constant, Expr, Func, Func2};
use super::latex::{text_to_latex, to_latex};
use super::simplify::{
    forget_orders, simplify, simplify_budget, simplify_sharing, work_done, Memo,
};

// ---- constructors that drop 0/1 identities and fold numbers, without expanding anything ----

fn is_num(e: &Expr, v: f64) -> bool {
    matches!(e, Expr::Num(x) if *x == v)
}

fn tidy_neg(a: Expr) -> Expr {
    match a {
        Expr::Num(v) => Expr::Num(-v),
        Expr::Neg(inner) => *inner,
        other => Expr::neg(other),
    }
}

/// A sum without zero terms (a single term stands alone).
fn tidy_sum(terms: Vec<Expr>) -> Expr {
    let mut kept: Vec<Expr> = terms.into_iter().filter(|t| !is_num(t, 0.0)).collect();
    match kept.len() {
        0 => Expr::Num(0.0),
        1 => kept.pop().expect("one term"),
        _ => Expr::Add(kept),
    }
}

fn tidy_add(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x + y),
        _ => tidy_sum(vec![a, b]),
    }
}

fn tidy_sub(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x - y),
        _ if is_num(&b, 0.0) => a,
        _ if is_num(&a, 0.0) => tidy_neg(b),
        _ => tidy_sum(vec![a, tidy_neg(b)]),
    }
}

/// A product without factors 1, 0 if a factor is 0, and a factor −1 as a minus sign.
fn tidy_product(factors: Vec<Expr>) -> Expr {
    let mut negative = false;
    let mut kept = Vec::with_capacity(factors.len());
    for f in factors {
        if is_num(&f, 0.0) {
            return Expr::Num(0.0);
        }
        if is_num(&f, 1.0) {
            continue;
        }
        if is_num(&f, -1.0) {
            negative = !negative;
            continue;
        }
        kept.push(f);
    }
    let body = match kept.len() {
        0 => Expr::Num(1.0),
        1 => kept.pop().expect("one factor"),
        _ => Expr::Mul(kept),
    };
    if negative {
        tidy_neg(body)
    } else {
        body
    }
}

fn tidy_mul(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        (Expr::Num(x), Expr::Num(y)) => Expr::Num(x * y),
        _ => tidy_product(vec![a, b]),
    }
}

fn tidy_div(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        _ if is_num(&a, 0.0) => Expr::Num(0.0),
        _ if is_num(&b, 1.0) => a,
        _ => Expr::div(a, b),
    }
}

fn tidy_pow(a: Expr, b: Expr) -> Expr {
    match (&a, &b) {
        _ if is_num(&b, 1.0) => a,
        _ if is_num(&b, 0.0) => Expr::Num(1.0),
        _ => Expr::pow(a, b),
    }
}

/// Rebuilds `expr` dropping the identities `0 + u`, `u - 0`, `1 * u`, `0 * u`, `u / 1`, `u^1`,
/// `u^0` and folding operations on two numbers, but expanding nothing. Used for the readable
/// intermediate forms in derivation [`Step`]s.
pub fn tidy(expr: &Expr) -> Expr {
    match expr {
        Expr::Num(_) | Expr::Const(_) | Expr::Var(_) => expr.clone(),
        Expr::Neg(a) => tidy_neg(tidy(a)),
        Expr::Add(terms) => tidy_sum(terms.iter().map(tidy).collect()),
        Expr::Mul(factors) => tidy_product(factors.iter().map(tidy).collect()),
        Expr::Div(a, b) => tidy_div(tidy(a), tidy(b)),
        Expr::Pow(a, b) => tidy_pow(tidy(a), tidy(b)),
        Expr::Call(f, a) => Expr::call(*f, tidy(a)),
        Expr::Call2(f, a, b) => Expr::Call2(*f, Box::new(tidy(a)), Box::new(tidy(b))),
    }
}

/// The differentiation rule applied at one node of the expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// d/dx c = 0 (numbers, `pi`, `e`, and variables other than x).
    Constant,
    /// d/dx x = 1.
    Variable,
    /// (−u)′ = −u′.
    Negation,
    /// (u + v)′ = u′ + v′.
    Sum,
    /// (u − v)′ = u′ − v′.
    Difference,
    /// (u·v)′ = u′·v + u·v′.
    Product,
    /// (u/v)′ = (u′·v − u·v′)/v².
    Quotient,
    /// (u^c)′ = c·u^(c−1)·u′ for an exponent c that does not depend on x.
    Power,
    /// (a^v)′ = a^v·ln(a)·v′ for a base a that does not depend on x.
    Exponential,
    /// (u^v)′ = u^v·(v′·ln(u) + v·u′/u).
    GeneralPower,
    /// (f(u))′ = f′(u)·u′ for a built-in function f.
    Chain(Func),
    /// max(u, v)′ = (u′ + v′ + sign(u − v)·(u′ − v′))/2: the derivative of the selected
    /// argument, and the mean of the two where they tie (min alike, with the sign flipped).
    Select(Func2),
    /// ln(u·v/w)′ = u′/u + v′/v − w′/w, ln(u^c)′ = c·u′/u, ln(exp(u))′ = u′: the logarithm of
    /// a product, quotient or power differentiated factor by factor (valid wherever the
    /// logarithm is defined, whatever the signs of the factors).
    LogProduct,
}

impl Rule {
    /// A short name of the rule, e.g. `product`, `chain (sigmoid)`.
    pub fn name(&self) -> String {
        match self {
            Rule::Constant => "constant".into(),
            Rule::Variable => "variable".into(),
            Rule::Negation => "negation".into(),
            Rule::Sum => "sum".into(),
            Rule::Difference => "difference".into(),
            Rule::Product => "product".into(),
            Rule::Quotient => "quotient".into(),
            Rule::Power => "power".into(),
            Rule::Exponential => "exponential".into(),
            Rule::GeneralPower => "general power".into(),
            Rule::Chain(f) => format!("chain ({})", f.name()),
            Rule::Select(f) => format!("{} (selected argument)", f.name()),
            Rule::LogProduct => "log of a product".into(),
        }
    }

    /// The rule as a formula, e.g. `(u*v)' = u'*v + u*v'`.
    pub fn formula(&self) -> &'static str {
        match self {
            Rule::Constant => "c' = 0",
            Rule::Variable => "x' = 1",
            Rule::Negation => "(-u)' = -u'",
            Rule::Sum => "(u + v)' = u' + v'",
            Rule::Difference => "(u - v)' = u' - v'",
            Rule::Product => "(u*v)' = u'*v + u*v'",
            Rule::Quotient => "(u/v)' = (u'*v - u*v')/v^2",
            Rule::Power => "(u^c)' = c*u^(c - 1)*u'",
            Rule::Exponential => "(a^v)' = a^v*ln(a)*v'",
            Rule::GeneralPower => "(u^v)' = u^v*(v'*ln(u) + v*u'/u)",
            Rule::LogProduct => {
                "ln(u*v/w)' = u'/u + v'/v - w'/w, ln(u^c)' = c*u'/u, ln(exp(u))' = u'"
            }
            Rule::Chain(f) => match f {
                Func::Sin => "sin(u)' = cos(u)*u'",
                Func::Cos => "cos(u)' = -sin(u)*u'",
                Func::Tan => "tan(u)' = (1 + tan(u)^2)*u'",
                Func::Exp => "exp(u)' = exp(u)*u'",
                Func::Ln => "ln(u)' = u'/u",
                Func::Sqrt => "sqrt(u)' = u'/(2*sqrt(u))",
                Func::Abs => "abs(u)' = sign(u)*u'  (sign(0) = 0)",
                Func::Tanh => "tanh(u)' = (1 - tanh(u)^2)*u'",
                Func::Sigmoid => "sigmoid(u)' = sigmoid(u)*(1 - sigmoid(u))*u'",
                Func::Relu => "relu(u)' = step(u)*u'  (step(0) = 0)",
                Func::Softplus => "softplus(u)' = sigmoid(u)*u'",
                Func::Step => "step(u)' = 0  (jump at 0 ignored)",
                Func::Sign => "sign(u)' = 0  (jump at 0 ignored)",
                Func::Sinh => "sinh(u)' = cosh(u)*u'",
                Func::Cosh => "cosh(u)' = sinh(u)*u'",
                Func::Asin => "asin(u)' = u'/sqrt(1 - u^2)",
                Func::Acos => "acos(u)' = -u'/sqrt(1 - u^2)",
                Func::Atan => "atan(u)' = u'/(u^2 + 1)",
                Func::Asinh => "asinh(u)' = u'/sqrt(u^2 + 1)",
                Func::Acosh => "acosh(u)' = u'/sqrt(u^2 - 1)",
                Func::Atanh => "atanh(u)' = u'/(1 - u^2)",
                Func::Sec => "sec(u)' = sec(u)*tan(u)*u'",
                Func::Csc => "csc(u)' = -csc(u)*cot(u)*u'",
                Func::Cot => "cot(u)' = -csc(u)^2*u'",
                Func::Log10 => "log10(u)' = u'/(u*ln(10))",
                Func::Log2 => "log2(u)' = u'/(u*ln(2))",
            },
            Rule::Select(Func2::Max) => {
                "max(u, v)' = (u' + v' + sign(u - v)*(u' - v'))/2  (the mean at a tie)"
            }
            Rule::Select(Func2::Min) => {
                "min(u, v)' = (u' + v' - sign(u - v)*(u' - v'))/2  (the mean at a tie)"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// One step of a derivation: `rule` applied to `expr` gives `derivative`.
///
/// In `derivative` the derivatives of the operands are already written in simplified form, and
/// 0/1 identities are dropped, but nothing is expanded, so the rule stays visible. The last step
/// of [`diff_with_steps`] has `rule` `None`: it is the expansion and collection of the whole
/// derivative (`expr` the unsimplified derivative, `derivative` the simplified one).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The rule applied, or `None` for the final simplification.
    pub rule: Option<Rule>,
    /// The subexpression differentiated (for the last step: the raw derivative).
    pub expr: Expr,
    /// Its derivative.
    pub derivative: Expr,
    /// Nesting depth of `expr` in the original expression (0 for the whole expression).
    pub depth: usize,
}

impl Step {
    /// The rule name, `simplify` for the final step.
    pub fn rule_name(&self) -> String {
        match &self.rule {
            Some(r) => r.name(),
            None => "simplify".into(),
        }
    }
}

impl Step {
    /// The step in LaTeX, for pasting between `$ … $`: indented by `\quad` per level,
    /// `\frac{\partial}{\partial x} \left[u\right] = u'`, then the rule's name in typewriter
    /// type; the final step reads `raw = simplified \qquad \texttt{expand and collect}`.
    ///
    /// ```
    /// use nabla::calculus::{diff_with_steps, parse};
    /// let (_, steps) = diff_with_steps(&parse("sin(x)").unwrap(), "x");
    /// assert_eq!(
    ///     steps[0].to_latex("x"),
    ///     "\\frac{\\partial}{\\partial x} \\left[\\sin\\left(x\\right)\\right] = \\cos\\left(x\\right) \\qquad \\texttt{chain (sin)}"
    /// );
    /// ```
    pub fn to_latex(&self, var: &str) -> String {
        let Some(rule) = &self.rule else {
            // The last step: the raw derivative, expanded and collected.
            return format!(
                "{} = {} \\qquad {}",
                to_latex(&self.expr),
                to_latex(&self.derivative),
                text_to_latex("expand and collect")
            );
        };
        let name = rule.name();
        format!(
            "{}\\frac{{\\partial}}{{\\partial {}}} \\left[{}\\right] = {} \\qquad {}",
            "\\quad ".repeat(self.depth),
            to_latex(&Expr::var(var)),
            to_latex(&self.expr),
            to_latex(&self.derivative),
            text_to_latex(&name)
        )
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(
                f,
                "{:indent$}{}: ({})' = {}",
                "",
                rule.name(),
                self.expr,
                self.derivative,
                indent = 2 * self.depth
            ),
            None => write!(f, "collect: {} = {}", self.expr, self.derivative),
        }
    }
}

struct Differ<'a> {
    var: &'a str,
    steps: Option<Vec<Step>>,
    /// Work the simplifications of the operands' derivatives shown in the steps may still
    /// spend (see [`simplify`]); once it is spent, the rest are shown as derived.
    display_budget: u64,
    /// The work those simplifications have spent (past the budget by at most the last one's
    /// overshoot).
    display_spent: u64,
    /// What those simplifications share.
    memo: Memo,
}

impl Differ<'_> {
    /// Returns the (tidied, unexpanded) derivative of `e`; records steps in pre-order.
    fn d(&mut self, e: &Expr, depth: usize) -> Expr {
        self.d_both(e, depth).0
    }

    /// [`Self::d`], together with the derivative written with simplified operand derivatives.
    fn d_both(&mut self, e: &Expr, depth: usize) -> (Expr, Expr) {
        let slot = self.steps.as_mut().map(|steps| {
            steps.push(Step {
                rule: None,
                expr: e.clone(),
                derivative: Expr::Num(0.0),
                depth,
            });
            steps.len() - 1
        });
        let (rule, raw, shown) = self.rule_for(e, depth + 1);
        if let (Some(slot), Some(steps)) = (slot, self.steps.as_mut()) {
            steps[slot].rule = Some(rule);
            steps[slot].derivative = shown.clone();
        }
        (raw, shown)
    }

    /// Child derivative: the raw form for computing, the simplified one for showing.
    fn child(&mut self, e: &Expr, depth: usize) -> (Expr, Expr) {
        let (raw, written) = self.d_both(e, depth);
        let shown = if self.steps.is_some() {
            let start = work_done();
            let shown = simplify_sharing(&written, &mut self.display_budget, Some(&mut self.memo));
            self.display_spent += work_done().wrapping_sub(start);
            shown.unwrap_or_else(|| raw.clone())
        } else {
            raw.clone()
        };
        (raw, shown)
    }

    /// Returns (rule, raw derivative, derivative written with simplified operand derivatives).
    fn rule_for(&mut self, e: &Expr, depth: usize) -> (Rule, Expr, Expr) {
        let var = self.var;
        if !e.depends_on(var) {
            return (Rule::Constant, Expr::Num(0.0), Expr::Num(0.0));
        }
        // Builds the derivative twice from the same formula: with raw operand derivatives and
        // with simplified ones.
        macro_rules! both {
            ($rule:expr, |$($d:ident),*| $body:expr) => {{
                let build = |$($d: Expr),*| $body;
                let raw = build($($d.0.clone()),*);
                let shown = build($($d.1),*);
                ($rule, raw, shown)
            }};
        }
        match e {
            Expr::Num(_) | Expr::Const(_) => (Rule::Constant, Expr::Num(0.0), Expr::Num(0.0)),
            Expr::Var(_) => (Rule::Variable, Expr::Num(1.0), Expr::Num(1.0)),
            Expr::Neg(a) => {
                let da = self.child(a, depth);
                both!(Rule::Negation, |da| tidy_neg(da))
            }
            Expr::Add(terms) => {
                if self.steps.is_some() && terms.len() <= BINARY_STEPS {
                    // Shown as a chain of binary sums, as written: ((a + b) - c)' = …
                    let (prefix, last) = split_last(terms, Expr::Add);
                    let da = self.child(&prefix, depth);
                    if let Expr::Neg(u) = last {
                        let db = self.child(u, depth);
                        return both!(Rule::Difference, |da, db| tidy_sub(da, db));
                    }
                    let db = self.child(last, depth);
                    return both!(Rule::Sum, |da, db| tidy_add(da, db));
                }
                let ds: Vec<(Expr, Expr)> = terms
                    .iter()
                    .filter(|t| t.depends_on(var))
                    .map(|t| self.child(t, depth))
                    .collect();
                let raw = tidy_sum(ds.iter().map(|d| d.0.clone()).collect());
                let shown = tidy_sum(ds.into_iter().map(|d| d.1).collect());
                (Rule::Sum, raw, shown)
            }
            Expr::Mul(factors) => {
                if self.steps.is_some() && factors.len() <= BINARY_STEPS {
                    // Shown as a chain of binary products, as written: ((a*b)*c)' = …
                    let (prefix, last) = split_last(factors, Expr::Mul);
                    let da = self.child(&prefix, depth);
                    let db = self.child(last, depth);
                    let (a, b) = (prefix.clone(), last.clone());
                    return both!(Rule::Product, |da, db| tidy_add(
                        tidy_mul(da, b.clone()),
                        tidy_mul(a.clone(), db)
                    ));
                }
                let factors = collect_equal_factors(factors);
                let dependent: Vec<usize> = (0..factors.len())
                    .filter(|&i| factors[i].depends_on(var))
                    .collect();
                let mut raw_terms = Vec::with_capacity(dependent.len());
                let mut shown_terms = Vec::with_capacity(dependent.len());
                for &i in &dependent {
                    let (raw, shown) = self.child(&factors[i], depth);
                    let with = |d: Expr| {
                        let mut fs = factors.clone();
                        fs[i] = d;
                        tidy_product(fs)
                    };
                    raw_terms.push(with(raw));
                    if self.steps.is_some() {
                        shown_terms.push(with(shown));
                    }
                }
                let raw = tidy_sum(raw_terms);
                let shown = if self.steps.is_some() {
                    tidy_sum(shown_terms)
                } else {
                    raw.clone()
                };
                (Rule::Product, raw, shown)
            }
            Expr::Div(a, b) => {
                let da = self.child(a, depth);
                let db = self.child(b, depth);
                let (a, b) = ((**a).clone(), (**b).clone());
                if !b.depends_on(var) {
                    // (u/c)' = u'/c
                    return both!(Rule::Quotient, |da, db| {
                        let _ = db;
                        tidy_div(da, b.clone())
                    });
                }
                both!(Rule::Quotient, |da, db| tidy_div(
                    tidy_sub(tidy_mul(da, b.clone()), tidy_mul(a.clone(), db)),
                    Expr::pow(b.clone(), Expr::Num(2.0))
                ))
            }
            Expr::Pow(u, v) => {
                let (u, v) = ((**u).clone(), (**v).clone());
                if !v.depends_on(var) {
                    let du = self.child(&u, depth);
                    let lowered = match &v {
                        Expr::Num(c) => Expr::Num(c - 1.0),
                        other => tidy_sub(other.clone(), Expr::Num(1.0)),
                    };
                    return both!(Rule::Power, |du| tidy_mul(
                        tidy_mul(v.clone(), tidy_pow(u.clone(), lowered.clone())),
                        du
                    ));
                }
                if !u.depends_on(var) && simplify(&u) == Expr::Num(0.0) {
                    // 0^v is 0 wherever it is defined (v > 0): its derivative is 0, not
                    // 0*ln(0)*v' = NaN.
                    return (Rule::Exponential, Expr::Num(0.0), Expr::Num(0.0));
                }
                if !u.depends_on(var) {
                    let dv = self.child(&v, depth);
                    let ln_u = match &u {
                        Expr::Const(Constant::E) => Expr::Num(1.0),
                        other => Expr::call(Func::Ln, other.clone()),
                    };
                    let whole = e.clone();
                    return both!(Rule::Exponential, |dv| tidy_mul(
                        tidy_mul(whole.clone(), ln_u.clone()),
                        dv
                    ));
                }
                let du = self.child(&u, depth);
                let dv = self.child(&v, depth);
                let whole = e.clone();
                both!(Rule::GeneralPower, |du, dv| tidy_mul(
                    whole.clone(),
                    tidy_add(
                        tidy_mul(dv, Expr::call(Func::Ln, u.clone())),
                        tidy_mul(v.clone(), tidy_div(du, u.clone()))
                    )
                ))
            }
            Expr::Call(Func::Ln, a) if splits_under_log(a) => {
                let mut parts = Vec::new();
                log_parts(a, 1.0, var, &mut parts);
                let mut raw_terms = Vec::new();
                let mut shown_terms = Vec::new();
                for part in parts {
                    match part {
                        LogPart::Exp(v) => {
                            let (raw, shown) = self.child(&v, depth);
                            raw_terms.push(raw);
                            shown_terms.push(shown);
                        }
                        LogPart::Factor(u, k) => {
                            let (raw, shown) = self.child(&u, depth);
                            let build = |d: Expr| {
                                let q = tidy_div(d, u.clone());
                                if k == 1.0 {
                                    q
                                } else {
                                    tidy_mul(Expr::Num(k), q)
                                }
                            };
                            raw_terms.push(build(raw));
                            shown_terms.push(build(shown));
                        }
                    }
                }
                (Rule::LogProduct, tidy_sum(raw_terms), tidy_sum(shown_terms))
            }
            Expr::Call(f, a) => {
                let du = self.child(a, depth);
                let u = (**a).clone();
                let outer = outer_derivative(*f, &u);
                let rule = Rule::Chain(*f);
                match outer {
                    Outer::Times(g) => both!(rule, |du| tidy_mul(g.clone(), du)),
                    Outer::Over(g) => both!(rule, |du| tidy_div(du, g.clone())),
                    Outer::MinusOver(g) => both!(rule, |du| tidy_neg(tidy_div(du, g.clone()))),
                }
            }
            Expr::Call2(f, a, b) => {
                let da = self.child(a, depth);
                let db = self.child(b, depth);
                let sign = Expr::call(Func::Sign, Expr::sub((**a).clone(), (**b).clone()));
                let f = *f;
                both!(Rule::Select(f), |da, db| {
                    let branch = tidy_mul(sign.clone(), tidy_sub(da.clone(), db.clone()));
                    let both = tidy_add(da, db);
                    let top = match f {
                        Func2::Max => tidy_add(both, branch),
                        Func2::Min => tidy_sub(both, branch),
                    };
                    tidy_div(top, Expr::Num(2.0))
                })
            }
        }
    }
}

/// The simplifications shown in the steps of all the partial derivatives of an expression
/// may spend this many times what a [`simplify`] of the expression may.
const STEPS_BUDGET_FACTOR: u64 = 4;

/// Sums and products up to this many operands are differentiated in `--steps` as chains of
/// binary operations, as written (so each partial product gets its own step); longer ones in
/// one n-ary step.
const BINARY_STEPS: usize = 16;

/// `(op(items[..n-1]), items[n-1])` for n ≥ 2 (the prefix alone when n = 2).
fn split_last(items: &[Expr], op: fn(Vec<Expr>) -> Expr) -> (Expr, &Expr) {
    let (last, prefix) = items.split_last().expect("at least two operands");
    let prefix = if prefix.len() == 1 {
        prefix[0].clone()
    } else {
        op(prefix.to_vec())
    };
    (prefix, last)
}

/// Equal factors of a long product joined into powers (`x*x*…*x` → `x^1000`), so that the
/// product rule has one term per distinct factor; short products are left as written.
fn collect_equal_factors(factors: &[Expr]) -> Vec<Expr> {
    if factors.len() <= 8 {
        return factors.to_vec();
    }
    let mut order: Vec<(Expr, usize)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for f in factors {
        let key = f.to_string();
        match index.get(&key) {
            Some(&i) => order[i].1 += 1,
            None => {
                index.insert(key, order.len());
                order.push((f.clone(), 1));
            }
        }
    }
    order
        .into_iter()
        .map(|(f, n)| {
            if n == 1 {
                f
            } else {
                Expr::pow(f, Expr::Num(n as f64))
            }
        })
        .collect()
}

/// A factor of the argument of a logarithm: `u^k`, or `exp(v)` (whose log is v).
enum LogPart {
    Factor(Expr, f64),
    Exp(Expr),
}

/// Whether ln(u) is worth differentiating factor by factor: u is a product, quotient, power
/// with a constant exponent, or exp.
fn splits_under_log(u: &Expr) -> bool {
    match u {
        Expr::Mul(_) | Expr::Div(..) => true,
        Expr::Pow(_, e) => e.variables().is_empty(),
        Expr::Call(Func::Exp, _) => true,
        Expr::Neg(a) => splits_under_log(a),
        _ => false,
    }
}

/// The factors of `u` that depend on `var`, with their exponents (times `k`).
fn log_parts(u: &Expr, k: f64, var: &str, out: &mut Vec<LogPart>) {
    if !u.depends_on(var) {
        return;
    }
    match u {
        Expr::Mul(factors) => {
            for f in factors {
                log_parts(f, k, var, out);
            }
        }
        Expr::Div(a, b) => {
            log_parts(a, k, var, out);
            log_parts(b, -k, var, out);
        }
        Expr::Neg(a) => log_parts(a, k, var, out),
        Expr::Pow(base, e) if !e.depends_on(var) => match e.eval(&[] as &[(&str, f64)]) {
            Ok(c) if c.is_finite() && c.fract() == 0.0 => log_parts(base, k * c, var, out),
            _ => out.push(LogPart::Factor(u.clone(), k)),
        },
        Expr::Call(Func::Exp, v) if k == 1.0 => out.push(LogPart::Exp((**v).clone())),
        _ => out.push(LogPart::Factor(u.clone(), k)),
    }
}

/// f′(u), as a factor to multiply u′ by or a divisor of u′ (with a minus sign).
enum Outer {
    Times(Expr),
    Over(Expr),
    MinusOver(Expr),
}

fn outer_derivative(f: Func, u: &Expr) -> Outer {
    let call = |g: Func| Expr::call(g, u.clone());
    let one = || Expr::Num(1.0);
    let square = |e: Expr| Expr::pow(e, Expr::Num(2.0));
    let root = |e: Expr| Expr::call(Func::Sqrt, e);
    match f {
        Func::Sin => Outer::Times(call(Func::Cos)),
        Func::Cos => Outer::Times(Expr::neg(call(Func::Sin))),
        Func::Tan => Outer::Times(Expr::add(one(), square(call(Func::Tan)))),
        Func::Exp => Outer::Times(call(Func::Exp)),
        Func::Ln => Outer::Over(u.clone()),
        Func::Sqrt => Outer::Over(Expr::mul(Expr::Num(2.0), call(Func::Sqrt))),
        Func::Abs => Outer::Times(call(Func::Sign)),
        Func::Tanh => Outer::Times(Expr::sub(one(), square(call(Func::Tanh)))),
        Func::Sigmoid => Outer::Times(Expr::mul(
            call(Func::Sigmoid),
            Expr::sub(one(), call(Func::Sigmoid)),
        )),
        Func::Relu => Outer::Times(call(Func::Step)),
        Func::Softplus => Outer::Times(call(Func::Sigmoid)),
        Func::Step | Func::Sign => Outer::Times(Expr::Num(0.0)),
        Func::Sinh => Outer::Times(call(Func::Cosh)),
        Func::Cosh => Outer::Times(call(Func::Sinh)),
        Func::Asin => Outer::Over(root(one() - square(u.clone()))),
        Func::Acos => Outer::MinusOver(root(one() - square(u.clone()))),
        Func::Atan => Outer::Over(square(u.clone()) + one()),
        Func::Asinh => Outer::Over(root(square(u.clone()) + one())),
        Func::Acosh => Outer::Over(root(square(u.clone()) - one())),
        Func::Atanh => Outer::Over(one() - square(u.clone())),
        Func::Sec => Outer::Times(Expr::mul(call(Func::Sec), call(Func::Tan))),
        Func::Csc => Outer::Times(Expr::neg(Expr::mul(call(Func::Csc), call(Func::Cot)))),
        Func::Cot => Outer::Times(Expr::neg(square(call(Func::Csc)))),
        Func::Log10 => Outer::Over(Expr::mul(u.clone(), Expr::call(Func::Ln, Expr::Num(10.0)))),
        Func::Log2 => Outer::Over(Expr::mul(u.clone(), Expr::call(Func::Ln, Expr::Num(2.0)))),
    }
}

/// The derivative of `expr` with respect to `var`, by the rules listed in [`Rule`], with 0/1
/// identities dropped but nothing expanded. Pass it to [`simplify`] (or call
/// [`derivative`]) for the polynomial normal form.
///
/// At kinks the one-sided convention of autograd is used: relu′(0) = step(0) = 0 and
/// |u|′(0) = sign(0) = 0; `step` and `sign` themselves have derivative 0. Where the arguments
/// of `min`/`max` tie, the derivative is the mean of theirs (see [`Rule::Select`]).
pub fn diff(expr: &Expr, var: &str) -> Expr {
    Differ {
        var,
        steps: None,
        display_budget: 0,
        display_spent: 0,
        memo: Memo::default(),
    }
    .d(expr, 0)
}

/// `simplify(diff(expr, var))`: the derivative in polynomial normal form.
pub fn derivative(expr: &Expr, var: &str) -> Expr {
    simplify(&diff(expr, var))
}

/// The simplified partial derivative of `expr` for each of its variables (alphabetical order).
pub fn gradient(expr: &Expr) -> Vec<(String, Expr)> {
    expr.variables()
        .into_iter()
        .map(|v| {
            let d = derivative(expr, &v);
            (v, d)
        })
        .collect()
}

/// The simplified derivative together with the derivation: one [`Step`] per node of `expr`
/// in pre-order (a node's rule comes before the rules for its operands, indented by `depth`),
/// and a final step (`rule == None`) that expands and collects the derivative.
///
/// The operands' derivatives in the steps are shown simplified as long as those
/// simplifications stay within their share of four times the work bound [`simplify`] has for
/// `expr`: the share of one variable of `expr`, so that the steps of every partial derivative
/// (`nabla grad --steps`) together spend at most that, however many variables there are. A
/// derivation that would spend more (a power tower dozens of levels deep, whose steps repeat
/// the tower at every level) shows the rest as derived, so the steps cost about as much as the
/// derivative.
pub fn diff_with_steps(expr: &Expr, var: &str) -> (Expr, Vec<Step>) {
    let (result, steps, _) = diff_with_steps_spending(expr, var);
    (result, steps)
}

/// The work a derivation's shown simplifications may spend: the share of one variable of
/// [`STEPS_BUDGET_FACTOR`] times the bound of a [`simplify`] of `expr`.
fn steps_display_budget(expr: &Expr) -> u64 {
    let variables = expr.variables().len().max(1) as u64;
    STEPS_BUDGET_FACTOR.saturating_mul(simplify_budget(expr)) / variables
}

/// [`diff_with_steps`], with the work its shown simplifications spent (within
/// [`steps_display_budget`], but for the overshoot of the one that ran out).
pub(crate) fn diff_with_steps_spending(expr: &Expr, var: &str) -> (Expr, Vec<Step>, u64) {
    let allowed = steps_display_budget(expr);
    let mut differ = Differ {
        var,
        steps: Some(Vec::new()),
        display_budget: allowed,
        display_spent: 0,
        memo: Memo::default(),
    };
    let raw = differ.d(expr, 0);
    let mut steps = differ.steps.take().unwrap_or_default();
    let mut budget = simplify_budget(&raw);
    let result =
        simplify_sharing(&raw, &mut budget, Some(&mut differ.memo)).unwrap_or_else(|| tidy(&raw));
    forget_orders();
    steps.push(Step {
        rule: None,
        expr: raw,
        derivative: result.clone(),
        depth: 0,
    });
    (result, steps, differ.display_spent)
}
