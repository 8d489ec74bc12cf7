//! The expression tree, its printer and its evaluator.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::ops::{Add, Div, Mul, Neg, Sub};

use crate::{Error, Result};

/// A named mathematical constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Constant {
    /// π = 3.14159…
    Pi,
    /// Euler's number e = 2.71828…
    E,
}

impl Constant {
    /// The f64 value of the constant.
    pub fn value(self) -> f64 {
        match self {
            Constant::Pi => std::f64::consts::PI,
            Constant::E => std::f64::consts::E,
        }
    }

    /// The name used in the grammar (`pi`, `e`).
    pub fn name(self) -> &'static str {
        match self {
            Constant::Pi => "pi",
            Constant::E => "e",
        }
    }
}

/// A built-in function of one argument.
///
/// `log` and `ln` both parse to [`Func::Ln`], the natural logarithm, which prints as `ln`.
/// [`Func::Step`] and [`Func::Sign`] exist so that the derivatives of `relu` and `abs` can be
/// written down: `step(u)` is 1 for u > 0 and 0 otherwise (so relu'(0) = 0), and `sign(u)` is
/// −1, 0 or 1 (so |u|'(0) = 0). Both are treated as having derivative 0 everywhere (their jumps
/// are ignored, as autograd does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
    Sqrt,
    Abs,
    Tanh,
    Sigmoid,
    Relu,
    Softplus,
    Step,
    Sign,
    Sinh,
    Cosh,
    /// arcsin, on [−1, 1].
    Asin,
    /// arccos, on [−1, 1].
    Acos,
    Atan,
    Asinh,
    /// The inverse of cosh on [1, ∞).
    Acosh,
    /// The inverse of tanh on (−1, 1).
    Atanh,
    /// 1/cos.
    Sec,
    /// 1/sin.
    Csc,
    /// cos/sin.
    Cot,
    /// The base-10 logarithm.
    Log10,
    /// The base-2 logarithm.
    Log2,
}

impl Func {
    /// Every function, for lookup and tests.
    pub const ALL: [Func; 26] = [
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Exp,
        Func::Ln,
        Func::Sqrt,
        Func::Abs,
        Func::Tanh,
        Func::Sigmoid,
        Func::Relu,
        Func::Softplus,
        Func::Step,
        Func::Sign,
        Func::Sinh,
        Func::Cosh,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Asinh,
        Func::Acosh,
        Func::Atanh,
        Func::Sec,
        Func::Csc,
        Func::Cot,
        Func::Log10,
        Func::Log2,
    ];

    /// The printed name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Tanh => "tanh",
            Func::Sigmoid => "sigmoid",
            Func::Relu => "relu",
            Func::Softplus => "softplus",
            Func::Step => "step",
            Func::Sign => "sign",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Atan => "atan",
            Func::Asinh => "asinh",
            Func::Acosh => "acosh",
            Func::Atanh => "atanh",
            Func::Sec => "sec",
            Func::Csc => "csc",
            Func::Cot => "cot",
            Func::Log10 => "log10",
            Func::Log2 => "log2",
        }
    }

    /// Looks a function up by the name written in an expression (`log` is an alias of `ln`).
    pub fn from_name(name: &str) -> Option<Func> {
        if name == "log" {
            return Some(Func::Ln);
        }
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Applies the function to a number in f64.
    pub fn apply(self, u: f64) -> f64 {
        match self {
            Func::Sin => u.sin(),
            Func::Cos => u.cos(),
            Func::Tan => u.tan(),
            Func::Exp => u.exp(),
            Func::Ln => u.ln(),
            Func::Sqrt => u.sqrt(),
            Func::Abs => u.abs(),
            Func::Tanh => crate::ops::activation::tanh(u),
            Func::Sigmoid => sigmoid(u),
            // NaN stays NaN (the library's relu maps it to 0, as a layer must not spread it).
            Func::Relu if u.is_nan() => f64::NAN,
            Func::Relu => crate::ops::activation::relu(u),
            Func::Softplus => crate::ops::activation::softplus(u),
            Func::Step => {
                if u > 0.0 {
                    1.0
                } else if u.is_nan() {
                    f64::NAN
                } else {
                    0.0
                }
            }
            Func::Sign => {
                if u > 0.0 {
                    1.0
                } else if u < 0.0 {
                    -1.0
                } else if u.is_nan() {
                    f64::NAN
                } else {
                    0.0
                }
            }
            Func::Sinh => u.sinh(),
            Func::Cosh => u.cosh(),
            Func::Asin => u.asin(),
            Func::Acos => u.acos(),
            Func::Atan => u.atan(),
            Func::Asinh => u.asinh(),
            Func::Acosh => u.acosh(),
            Func::Atanh => u.atanh(),
            Func::Sec => 1.0 / u.cos(),
            Func::Csc => 1.0 / u.sin(),
            Func::Cot => u.cos() / u.sin(),
            Func::Log10 => u.log10(),
            Func::Log2 => u.log2(),
        }
    }

    /// Why `u` is outside the domain of the function, or `None` when it is inside. Poles are
    /// found to f64 precision: π/2 has no f64, so `tan(pi/2)` is a pole when its argument is
    /// within 4 ulps of k·π + π/2 (where the f64 result is a rounding artefact like 1.6e16),
    /// for |u| up to 2^30.
    pub(crate) fn domain_error(self, u: f64) -> Option<String> {
        let name = self.name();
        let outside = match self {
            Func::Ln | Func::Log10 | Func::Log2 => u <= 0.0,
            Func::Sqrt => u < 0.0,
            Func::Asin | Func::Acos => u.abs() > 1.0,
            Func::Acosh => u < 1.0,
            Func::Atanh => u.abs() >= 1.0,
            Func::Tan | Func::Sec => is_pole(u, true),
            Func::Csc | Func::Cot => is_pole(u, false),
            _ => false,
        };
        if !outside {
            return None;
        }
        Some(match self {
            Func::Ln | Func::Log10 | Func::Log2 => {
                format!("{name} needs a positive argument, got {u}")
            }
            Func::Sqrt => format!("{name} needs a non-negative argument, got {u}"),
            Func::Asin | Func::Acos => format!("{name} needs an argument in [-1, 1], got {u}"),
            Func::Acosh => format!("{name} needs an argument of at least 1, got {u}"),
            Func::Atanh => format!("{name} needs an argument in (-1, 1), got {u}"),
            Func::Tan | Func::Sec => {
                format!("{name} is undefined at an odd multiple of pi/2, got {u}")
            }
            _ => format!("{name} is undefined at a multiple of pi, got {u}"),
        })
    }
}

/// Whether `u` is, to f64 precision, a pole of tan/sec (`odd_half_pi`: at k·π + π/2) or of
/// csc/cot (at k·π): within 4 ulps of it, the distance read off |cos u| or |sin u| (libm
/// reduces the argument exactly, and near a pole that value is the distance to it). 0 is a
/// pole of csc and cot only when exactly 0. Beyond |u| = 2^30 no pole is reported: 4 ulps
/// there are no longer small beside the period, and the f64 value is returned.
fn is_pole(u: f64, odd_half_pi: bool) -> bool {
    if !u.is_finite() || u.abs() > (1u64 << 30) as f64 {
        return false;
    }
    let distance = if odd_half_pi { u.cos() } else { u.sin() }.abs();
    let ulp = f64::from_bits(u.abs().to_bits() + 1) - u.abs();
    distance <= 4.0 * ulp
}

/// A built-in function of two arguments, `min(u, v)` and `max(u, v)`.
///
/// Both are piecewise one of their arguments; where the arguments tie the derivative is the
/// mean of theirs, as for `max(u, v) = (u + v + |u - v|)/2` with |w|′(0) = 0 (and as PyTorch's
/// `maximum` splits the gradient), and [`crate::calculus::critical_and_kinks`] reports a tie
/// where the slope changes sign as a kink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Func2 {
    Min,
    Max,
}

impl Func2 {
    /// Every two-argument function.
    pub const ALL: [Func2; 2] = [Func2::Min, Func2::Max];

    /// The printed name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Func2::Min => "min",
            Func2::Max => "max",
        }
    }

    /// Looks a function up by name.
    pub fn from_name(name: &str) -> Option<Func2> {
        Func2::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Applies the function in f64; NaN in either argument gives NaN.
    pub fn apply(self, u: f64, v: f64) -> f64 {
        if u.is_nan() || v.is_nan() {
            return f64::NAN;
        }
        match self {
            Func2::Min => u.min(v),
            Func2::Max => u.max(v),
        }
    }
}

use crate::ops::activation::sigmoid;

/// A typed expression over named f64 variables.
///
/// Build one with [`crate::calculus::parse`]. Sums and products are n-ary and flat, so a
/// 20 000-term sum is one node with 20 000 children, not a tree 20 000 deep: `a - b` is the sum
/// `[a, -b]`, and `a*b*c` one product of three factors (evaluated left to right, as written).
/// `Display` prints it in the same grammar with as few parentheses as keep its value, so
/// printing and parsing again gives an expression with the same value everywhere.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A finite number literal.
    Num(f64),
    /// `pi` or `e`.
    Const(Constant),
    /// A variable.
    Var(String),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `t1 + t2 + …` (at least two terms); a term `Neg(t)` prints as ` - t`.
    Add(Vec<Expr>),
    /// `f1*f2*…` (at least two factors).
    Mul(Vec<Expr>),
    Div(Box<Expr>, Box<Expr>),
    /// `base ^ exponent`; the exponent may contain variables.
    Pow(Box<Expr>, Box<Expr>),
    /// A built-in function applied to one argument.
    Call(Func, Box<Expr>),
    /// A built-in function of two arguments (`min`, `max`).
    Call2(Func2, Box<Expr>, Box<Expr>),
}

/// Where variable values come from when evaluating: implemented for `HashMap<String, f64>`,
/// `BTreeMap<String, f64>` and slices of `(&str, f64)` pairs.
pub trait Bindings {
    /// The value of `name`, if bound.
    fn value_of(&self, name: &str) -> Option<f64>;
}

impl<S: BuildHasher> Bindings for HashMap<String, f64, S> {
    fn value_of(&self, name: &str) -> Option<f64> {
        self.get(name).copied()
    }
}

impl Bindings for BTreeMap<String, f64> {
    fn value_of(&self, name: &str) -> Option<f64> {
        self.get(name).copied()
    }
}

impl Bindings for [(&str, f64)] {
    fn value_of(&self, name: &str) -> Option<f64> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> Bindings for [(&str, f64); N] {
    fn value_of(&self, name: &str) -> Option<f64> {
        self.as_slice().value_of(name)
    }
}

// Convenience constructors used throughout the calculus module.
impl Expr {
    /// A number.
    pub fn num(v: f64) -> Expr {
        Expr::Num(v)
    }
    /// A variable.
    pub fn var(name: &str) -> Expr {
        Expr::Var(name.to_string())
    }
    /// `f(arg)`.
    pub fn call(f: Func, arg: Expr) -> Expr {
        Expr::Call(f, Box::new(arg))
    }
    /// `a ^ b`.
    pub fn pow(a: Expr, b: Expr) -> Expr {
        Expr::Pow(Box::new(a), Box::new(b))
    }

    /// Evaluates the expression in f64 with the variables taken from `env`.
    ///
    /// Errors with [`Error::Eval`] naming the first variable that has no value. Domain errors
    /// (`ln(-1)`, `1/0`) are not errors: they give NaN or ±∞ as f64 does.
    pub fn eval<B: Bindings + ?Sized>(&self, env: &B) -> Result<f64> {
        Ok(match self {
            Expr::Num(v) => *v,
            Expr::Const(c) => c.value(),
            Expr::Var(name) => env
                .value_of(name)
                .ok_or_else(|| Error::Eval(format!("no value for variable '{name}'")))?,
            Expr::Neg(a) => -a.eval(env)?,
            Expr::Add(terms) => {
                let mut acc = terms[0].eval(env)?;
                for t in &terms[1..] {
                    acc += t.eval(env)?;
                }
                acc
            }
            Expr::Mul(factors) => {
                let mut acc = factors[0].eval(env)?;
                for t in &factors[1..] {
                    acc *= t.eval(env)?;
                }
                acc
            }
            Expr::Div(a, b) => a.eval(env)? / b.eval(env)?,
            Expr::Pow(a, b) => pow_f64(a.eval(env)?, b.eval(env)?),
            Expr::Call(f, a) => f.apply(a.eval(env)?),
            Expr::Call2(f, a, b) => f.apply(a.eval(env)?, b.eval(env)?),
        })
    }

    /// Evaluates like [`Expr::eval`], but a point outside the domain of a function is an error
    /// instead of a NaN or an infinity: [`Error::Domain`] names the innermost subexpression that
    /// is undefined there and why: `ln`, `log`, `log10` and `log2` of a number ≤ 0, `sqrt` of a
    /// negative number, `asin` and `acos` outside [−1, 1], `acosh` below 1, `atanh` outside
    /// (−1, 1), a division by zero, `0^c` for c < 0, a negative number to a non-integer power,
    /// `tan` and `sec` at an odd multiple of π/2, `csc` and `cot` at a multiple of π (poles to
    /// f64 precision: within 4 ulps, since π/2 has no exact f64). Values that are finite in exact arithmetic but overflow f64
    /// (`exp(1000)`) are not domain errors: they come back as ±∞.
    ///
    /// ```
    /// use nabla::calculus::parse;
    /// let f = parse("ln(x) + 1").unwrap();
    /// assert_eq!(f.eval_checked(&[("x", 1.0)]).unwrap(), 1.0);
    /// let err = f.eval_checked(&[("x", -1.0)]).unwrap_err();
    /// assert_eq!(err.to_string(), "ln(x) is undefined: ln needs a positive argument, got -1");
    /// ```
    pub fn eval_checked<B: Bindings + ?Sized>(&self, env: &B) -> Result<f64> {
        let domain = |msg: String| Error::Domain {
            expr: self.to_string(),
            msg,
        };
        Ok(match self {
            Expr::Num(_) | Expr::Const(_) | Expr::Var(_) => self.eval(env)?,
            Expr::Neg(a) => -a.eval_checked(env)?,
            Expr::Add(terms) => {
                let mut acc = terms[0].eval_checked(env)?;
                for t in &terms[1..] {
                    acc += t.eval_checked(env)?;
                }
                acc
            }
            Expr::Mul(factors) => {
                let mut acc = factors[0].eval_checked(env)?;
                for t in &factors[1..] {
                    acc *= t.eval_checked(env)?;
                }
                acc
            }
            Expr::Div(a, b) => {
                let (x, y) = (a.eval_checked(env)?, b.eval_checked(env)?);
                if y == 0.0 {
                    return Err(domain(format!("division by zero ({b} = 0)")));
                }
                x / y
            }
            Expr::Pow(a, b) => {
                let (x, y) = (a.eval_checked(env)?, b.eval_checked(env)?);
                if x == 0.0 && y < 0.0 {
                    return Err(domain(format!("0 to the negative power {y}")));
                }
                if x < 0.0 && y.fract() != 0.0 {
                    return Err(domain(format!(
                        "the negative base {x} to the non-integer power {y}"
                    )));
                }
                pow_f64(x, y)
            }
            Expr::Call(f, a) => {
                let u = a.eval_checked(env)?;
                if let Some(msg) = f.domain_error(u) {
                    return Err(domain(msg));
                }
                f.apply(u)
            }
            Expr::Call2(f, a, b) => f.apply(a.eval_checked(env)?, b.eval_checked(env)?),
        })
    }

    /// The distinct variables of the expression, sorted alphabetically.
    pub fn variables(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        self.collect_variables(&mut set);
        set.into_iter().collect()
    }

    fn collect_variables(&self, set: &mut BTreeSet<String>) {
        match self {
            Expr::Num(_) | Expr::Const(_) => {}
            Expr::Var(name) => {
                set.insert(name.clone());
            }
            Expr::Neg(a) | Expr::Call(_, a) => a.collect_variables(set),
            Expr::Add(items) | Expr::Mul(items) => {
                for t in items {
                    t.collect_variables(set);
                }
            }
            Expr::Div(a, b) | Expr::Pow(a, b) | Expr::Call2(_, a, b) => {
                a.collect_variables(set);
                b.collect_variables(set);
            }
        }
    }

    /// Whether the variable `var` occurs in the expression.
    pub fn depends_on(&self, var: &str) -> bool {
        match self {
            Expr::Num(_) | Expr::Const(_) => false,
            Expr::Var(name) => name == var,
            Expr::Neg(a) | Expr::Call(_, a) => a.depends_on(var),
            Expr::Add(items) | Expr::Mul(items) => items.iter().any(|t| t.depends_on(var)),
            Expr::Div(a, b) | Expr::Pow(a, b) | Expr::Call2(_, a, b) => {
                a.depends_on(var) || b.depends_on(var)
            }
        }
    }

    /// Binding strength used by the printer: 1 sum, 2 product, 3 unary minus, 4 power, 5 atom.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Add(..) => 1,
            Expr::Mul(..) | Expr::Div(..) => 2,
            Expr::Neg(_) => 3,
            Expr::Num(v) if v.is_sign_negative() => 3,
            Expr::Pow(..) => 4,
            Expr::Num(_) | Expr::Const(_) | Expr::Var(_) | Expr::Call(..) | Expr::Call2(..) => 5,
        }
    }

    /// `Some(b)` when the expression is `-b` or a negative number (then `b` is its magnitude).
    fn negated(&self) -> Option<Expr> {
        match self {
            Expr::Neg(b) => Some((**b).clone()),
            Expr::Num(v) if v.is_sign_negative() && *v != 0.0 => Some(Expr::Num(-v)),
            _ => None,
        }
    }
}

/// `a^b` in f64, with `0^0 = 1` as `powf` has.
pub(crate) fn pow_f64(a: f64, b: f64) -> f64 {
    if b.fract() == 0.0 && b.abs() <= i32::MAX as f64 {
        a.powi(b as i32)
    } else {
        a.powf(b)
    }
}

/// Writes a number so that it parses back to the same f64 (non-finite values print as
/// `(1/0)`, `(-1/0)` and `(0/0)`, which evaluate to the same).
pub(crate) fn fmt_number(v: f64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if v.is_nan() {
        write!(f, "(0/0)")
    } else if v.is_infinite() {
        write!(f, "{}", if v > 0.0 { "(1/0)" } else { "(-1/0)" })
    } else if v == 0.0 {
        write!(f, "0")
    } else {
        write!(f, "{v}")
    }
}

struct Paren<'a>(&'a Expr, bool);

impl fmt::Display for Paren<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Num(v) => fmt_number(*v, f),
            Expr::Const(c) => write!(f, "{}", c.name()),
            Expr::Var(name) => write!(f, "{name}"),
            Expr::Neg(a) => {
                // -(a*b) = (-a)*b and -(a/b) = (-a)/b, so products need no parentheses.
                let paren = a.precedence() < 2 || a.precedence() == 3;
                write!(f, "-{}", Paren(a, paren))
            }
            Expr::Add(terms) => {
                write!(f, "{}", terms[0])?;
                for t in &terms[1..] {
                    // a + -b prints as a - b, and a + --b as a + b.
                    let (op, rhs) = match t.negated() {
                        Some(Expr::Neg(m)) => ("+", *m),
                        Some(m) => ("-", m),
                        None => ("+", t.clone()),
                    };
                    let paren = rhs.precedence() < 2 || rhs.precedence() == 3;
                    write!(f, " {op} {}", Paren(&rhs, paren))?;
                }
                Ok(())
            }
            Expr::Mul(factors) => {
                write!(f, "{}", Paren(&factors[0], factors[0].precedence() < 2))?;
                for t in &factors[1..] {
                    write!(f, "*{}", Paren(t, t.precedence() < 4))?;
                }
                Ok(())
            }
            Expr::Div(a, b) => {
                let lp = a.precedence() < 2;
                let rp = b.precedence() < 4;
                write!(f, "{}/{}", Paren(a, lp), Paren(b, rp))
            }
            Expr::Pow(a, b) => {
                let lp = a.precedence() < 5;
                // The exponent is parsed as a unary expression: x^-2 and x^y^z need no parentheses.
                let rp = b.precedence() < 3;
                write!(f, "{}^{}", Paren(a, lp), Paren(b, rp))
            }
            Expr::Call(func, a) => write!(f, "{}({a})", func.name()),
            Expr::Call2(func, a, b) => write!(f, "{}({a}, {b})", func.name()),
        }
    }
}

/// `-a` builds [`Expr::Neg`] (no simplification).
impl Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        Expr::Neg(Box::new(self))
    }
}

/// `a + b` builds a sum (no simplification), extending `a` when it is already a sum, as the
/// parser reads `a + b + c`.
impl Add for Expr {
    type Output = Expr;
    fn add(self, rhs: Expr) -> Expr {
        match self {
            Expr::Add(mut terms) => {
                terms.push(rhs);
                Expr::Add(terms)
            }
            lhs => Expr::Add(vec![lhs, rhs]),
        }
    }
}

/// `a - b` builds the sum `a + (-b)` (no simplification).
impl Sub for Expr {
    type Output = Expr;
    fn sub(self, rhs: Expr) -> Expr {
        Add::add(self, Expr::Neg(Box::new(rhs)))
    }
}

/// `a * b` builds a product (no simplification), extending `a` when it is already a product.
impl Mul for Expr {
    type Output = Expr;
    fn mul(self, rhs: Expr) -> Expr {
        match self {
            Expr::Mul(mut factors) => {
                factors.push(rhs);
                Expr::Mul(factors)
            }
            lhs => Expr::Mul(vec![lhs, rhs]),
        }
    }
}

/// `a / b` builds [`Expr::Div`] (no simplification).
impl Div for Expr {
    type Output = Expr;
    fn div(self, rhs: Expr) -> Expr {
        Expr::Div(Box::new(self), Box::new(rhs))
    }
}
