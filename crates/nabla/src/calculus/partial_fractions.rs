//! Partial fractions of a rational function of one variable with exact coefficients.
//!
//! A quotient of polynomials N/D (rational coefficients, no other symbols) whose denominator
//! factors over the rationals into distinct linear factors and at most one irreducible
//! quadratic is split as
//!
//! ```text
//! N/D = Q + Σ A_i/(x − r_i) + (B·x + C)/(x² + p·x + s)
//! ```
//!
//! (Q the polynomial part, A_i = R(r_i)/D′(r_i) by the cover-up rule for the remainder R, and
//! B·x + C what is left of R over the quadratic), which integrates term by term to
//! `∫Q + Σ A_i·ln|x − r_i| + B/2·ln(x² + p·x + s) + (C − B·p/2)/k·atan((x + p/2)/k)` with
//! k = √(s − p²/4). Repeated factors, irrational roots of a reducible quadratic, and more than
//! one quadratic are not handled (the caller then says that no rule applies). Every operation
//! is exact in i128; an overflow gives `None` as well.

use super::expr::{Expr, Func};
use super::number::Rational;
use std::ops::Div;

/// Highest degree of numerator or denominator taken on (the rational roots are searched by
/// trying the divisors of two coefficients).
const MAX_DEGREE: usize = 12;
/// Largest coefficient whose divisors are tried as rational roots.
const MAX_ROOT_SEARCH: i128 = 1_000_000;

/// A polynomial in one variable with exact coefficients, lowest degree first, without
/// trailing zeros (the zero polynomial has none).
#[derive(Debug, Clone, PartialEq)]
struct Polynomial(Vec<Rational>);

impl Polynomial {
    fn new(mut coefficients: Vec<Rational>) -> Polynomial {
        while coefficients.last().is_some_and(|c| c.is_zero()) {
            coefficients.pop();
        }
        Polynomial(coefficients)
    }

    fn constant(c: Rational) -> Polynomial {
        Polynomial::new(vec![c])
    }

    fn one() -> Polynomial {
        Polynomial::constant(Rational::ONE)
    }

    /// `x − r`.
    fn linear(r: Rational) -> Option<Polynomial> {
        Some(Polynomial::new(vec![r.neg()?, Rational::ONE]))
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The degree (0 for constants, also for the zero polynomial).
    fn degree(&self) -> usize {
        self.0.len().saturating_sub(1)
    }

    fn lead(&self) -> Rational {
        self.0.last().copied().unwrap_or(Rational::ZERO)
    }

    fn coefficient(&self, k: usize) -> Rational {
        self.0.get(k).copied().unwrap_or(Rational::ZERO)
    }

    fn add(&self, other: &Polynomial) -> Option<Polynomial> {
        let n = self.0.len().max(other.0.len());
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            out.push(self.coefficient(k).add(other.coefficient(k))?);
        }
        Some(Polynomial::new(out))
    }

    fn scale(&self, k: Rational) -> Option<Polynomial> {
        let mut out = Vec::with_capacity(self.0.len());
        for c in &self.0 {
            out.push(c.mul(k)?);
        }
        Some(Polynomial::new(out))
    }

    fn sub(&self, other: &Polynomial) -> Option<Polynomial> {
        self.add(&other.scale(Rational::int(-1))?)
    }

    fn mul(&self, other: &Polynomial) -> Option<Polynomial> {
        if self.is_zero() || other.is_zero() {
            return Some(Polynomial(Vec::new()));
        }
        let mut out = vec![Rational::ZERO; self.0.len() + other.0.len() - 1];
        for (i, a) in self.0.iter().enumerate() {
            for (j, b) in other.0.iter().enumerate() {
                out[i + j] = out[i + j].add(a.mul(*b)?)?;
            }
        }
        Some(Polynomial::new(out))
    }

    fn pow(&self, n: u32) -> Option<Polynomial> {
        let mut out = Polynomial::one();
        for _ in 0..n {
            out = out.mul(self)?;
            if out.degree() > MAX_DEGREE {
                return None;
            }
        }
        Some(out)
    }

    /// Quotient and remainder of the division by a non-zero `divisor`.
    fn div_rem(&self, divisor: &Polynomial) -> Option<(Polynomial, Polynomial)> {
        if divisor.is_zero() {
            return None;
        }
        let lead_inverse = divisor.lead().recip()?;
        let mut rest = self.clone();
        let mut quotient = vec![Rational::ZERO; self.0.len().saturating_sub(divisor.degree())];
        while !rest.is_zero() && rest.degree() >= divisor.degree() {
            let shift = rest.degree() - divisor.degree();
            let factor = rest.lead().mul(lead_inverse)?;
            quotient[shift] = factor;
            let mut term = vec![Rational::ZERO; shift];
            term.push(factor);
            rest = rest.sub(&divisor.mul(&Polynomial::new(term))?)?;
        }
        Some((Polynomial::new(quotient), rest))
    }

    /// The exact quotient, `None` when `divisor` does not divide.
    fn div_exact(&self, divisor: &Polynomial) -> Option<Polynomial> {
        let (q, r) = self.div_rem(divisor)?;
        r.is_zero().then_some(q)
    }

    fn eval(&self, x: Rational) -> Option<Rational> {
        let mut acc = Rational::ZERO;
        for c in self.0.iter().rev() {
            acc = acc.mul(x)?.add(*c)?;
        }
        Some(acc)
    }

    fn derivative(&self) -> Option<Polynomial> {
        let mut out = Vec::with_capacity(self.0.len());
        for (k, c) in self.0.iter().enumerate().skip(1) {
            out.push(c.mul(Rational::int(k as i128))?);
        }
        Some(Polynomial::new(out))
    }

    /// The monic greatest common divisor (Euclid's algorithm).
    fn gcd(&self, other: &Polynomial) -> Option<Polynomial> {
        let (mut a, mut b) = (self.clone(), other.clone());
        while !b.is_zero() {
            let (_, r) = a.div_rem(&b)?;
            (a, b) = (b, r);
        }
        a.scale(a.lead().recip()?)
    }

    fn to_expr(&self, x: &Expr) -> Expr {
        let mut terms = Vec::new();
        for (k, c) in self.0.iter().enumerate().rev() {
            if c.is_zero() {
                continue;
            }
            let power = match k {
                0 => None,
                1 => Some(x.clone()),
                _ => Some(Expr::pow(x.clone(), Expr::Num(k as f64))),
            };
            terms.push(match power {
                None => number(*c),
                Some(p) if *c == Rational::ONE => p,
                Some(p) if *c == Rational::int(-1) => -p,
                Some(p) => number(*c) * p,
            });
        }
        sum(terms)
    }
}

/// An exact number as an expression (`3`, `-1/2`).
fn number(r: Rational) -> Expr {
    let magnitude = if r.is_integer() {
        Expr::Num(r.numer().abs() as f64)
    } else {
        Expr::div(
            Expr::Num(r.numer().abs() as f64),
            Expr::Num(r.denom() as f64),
        )
    };
    if r.is_negative() {
        -magnitude
    } else {
        magnitude
    }
}

fn sum(mut terms: Vec<Expr>) -> Expr {
    match terms.len() {
        0 => Expr::Num(0.0),
        1 => terms.pop().unwrap_or(Expr::Num(0.0)),
        _ => Expr::Add(terms),
    }
}

/// `e` as numerator and denominator polynomials in `var`, when it is built from exact
/// numbers, `var`, `+ - * /` and whole powers.
fn rational_function(e: &Expr, var: &str) -> Option<(Polynomial, Polynomial)> {
    let bounded = |p: Polynomial| (p.degree() <= MAX_DEGREE).then_some(p);
    Some(match e {
        Expr::Num(v) => (
            Polynomial::constant(Rational::from_integral_f64(*v)?),
            Polynomial::one(),
        ),
        Expr::Var(name) if name == var => (
            Polynomial::new(vec![Rational::ZERO, Rational::ONE]),
            Polynomial::one(),
        ),
        Expr::Neg(a) => {
            let (n, d) = rational_function(a, var)?;
            (n.scale(Rational::int(-1))?, d)
        }
        Expr::Add(terms) => {
            let (mut n, mut d) = (Polynomial(Vec::new()), Polynomial::one());
            for t in terms {
                let (tn, td) = rational_function(t, var)?;
                n = bounded(n.mul(&td)?.add(&tn.mul(&d)?)?)?;
                d = bounded(d.mul(&td)?)?;
            }
            (n, d)
        }
        Expr::Mul(factors) => {
            let (mut n, mut d) = (Polynomial::one(), Polynomial::one());
            for f in factors {
                let (fnum, fden) = rational_function(f, var)?;
                n = bounded(n.mul(&fnum)?)?;
                d = bounded(d.mul(&fden)?)?;
            }
            (n, d)
        }
        Expr::Div(a, b) => {
            let (an, ad) = rational_function(a, var)?;
            let (bn, bd) = rational_function(b, var)?;
            if bn.is_zero() {
                return None;
            }
            (bounded(an.mul(&bd)?)?, bounded(ad.mul(&bn)?)?)
        }
        Expr::Pow(base, exponent) => {
            let k = match **exponent {
                Expr::Num(k) => k,
                Expr::Neg(ref inner) => match **inner {
                    Expr::Num(k) => -k,
                    _ => return None,
                },
                _ => return None,
            };
            if k.fract() != 0.0 || k.abs() > MAX_DEGREE as f64 {
                return None;
            }
            let (n, d) = rational_function(base, var)?;
            let m = k.abs() as u32;
            if k >= 0.0 {
                (n.pow(m)?, d.pow(m)?)
            } else if n.is_zero() {
                return None;
            } else {
                (d.pow(m)?, n.pow(m)?)
            }
        }
        _ => return None,
    })
}

/// The positive divisors of `n > 0`.
fn divisors(n: i128) -> Vec<i128> {
    let mut out = Vec::new();
    let mut d = 1;
    while d * d <= n {
        if n % d == 0 {
            out.push(d);
            if d * d != n {
                out.push(n / d);
            }
        }
        d += 1;
    }
    out
}

/// The rational roots of `p` (each once), by the rational root theorem.
fn rational_roots(p: &Polynomial) -> Option<Vec<Rational>> {
    // Integer coefficients: multiply by the lcm of the denominators.
    let mut lcm: i128 = 1;
    for c in &p.0 {
        let g = super::number::gcd(lcm, c.denom());
        lcm = lcm.checked_mul(c.denom() / g)?;
    }
    let integer: Vec<i128> =
        p.0.iter()
            .map(|c| c.mul(Rational::int(lcm)).map(|r| r.numer()))
            .collect::<Option<_>>()?;
    let mut roots = Vec::new();
    let lowest = integer.iter().position(|&c| c != 0)?;
    if lowest > 0 {
        roots.push(Rational::ZERO);
    }
    let (c0, cn) = (integer[lowest].abs(), integer.last()?.abs());
    if c0 > MAX_ROOT_SEARCH || cn > MAX_ROOT_SEARCH {
        return None;
    }
    for q in divisors(cn) {
        for d in divisors(c0) {
            for candidate in [Rational::new(d, q)?, Rational::new(-d, q)?] {
                if !roots.contains(&candidate) && p.eval(candidate)?.is_zero() {
                    roots.push(candidate);
                }
            }
        }
    }
    Some(roots)
}

/// `N/D = polynomial + Σ linear + quadratic`, see the module documentation.
struct Decomposition {
    polynomial: Polynomial,
    /// `(A, r)` for each term A/(x − r).
    linear: Vec<(Rational, Rational)>,
    /// `(B, C, p, s)` for (B·x + C)/(x² + p·x + s), irreducible.
    quadratic: Option<(Rational, Rational, Rational, Rational)>,
}

fn decompose(numerator: &Polynomial, denominator: &Polynomial) -> Option<Decomposition> {
    // Cancel common factors first: (x^2 - 1)/(x - 1) is x + 1.
    let common = numerator.gcd(denominator)?;
    let numerator = numerator.div_exact(&common)?;
    let denominator = denominator.div_exact(&common)?;
    let (polynomial, remainder) = numerator.div_rem(&denominator)?;
    if denominator.degree() == 0 {
        return Some(Decomposition {
            polynomial,
            linear: Vec::new(),
            quadratic: None,
        });
    }
    let roots = rational_roots(&denominator)?;
    let mut rest = denominator.scale(denominator.lead().recip()?)?;
    for &r in &roots {
        rest = rest.div_exact(&Polynomial::linear(r)?)?;
    }
    // Distinct roots only: a root left in `rest` is a repeated one.
    for &r in &roots {
        if rest.eval(r)?.is_zero() {
            return None;
        }
    }
    let quadratic_factor = match rest.degree() {
        0 => None,
        2 => {
            let (s, p) = (rest.coefficient(0), rest.coefficient(1));
            // Irreducible over the reals: p² − 4s < 0.
            let discriminant = p.mul(p)?.add(s.mul(Rational::int(-4))?)?;
            if !discriminant.is_negative() {
                return None;
            }
            Some((p, s))
        }
        _ => return None,
    };
    let slope = denominator.derivative()?;
    let mut linear = Vec::with_capacity(roots.len());
    let mut left = remainder.clone();
    for &r in &roots {
        let a = remainder.eval(r)?.mul(slope.eval(r)?.recip()?)?;
        let cofactor = denominator.div_exact(&Polynomial::linear(r)?)?;
        left = left.sub(&cofactor.scale(a)?)?;
        linear.push((a, r));
    }
    let quadratic = match quadratic_factor {
        None if left.is_zero() => None,
        None => return None,
        Some((p, s)) => {
            let q = Polynomial::new(vec![s, p, Rational::ONE]);
            let bx_c = left.div_exact(&denominator.div_exact(&q)?)?;
            if bx_c.degree() > 1 {
                return None;
            }
            Some((bx_c.coefficient(1), bx_c.coefficient(0), p, s))
        }
    };
    Some(Decomposition {
        polynomial,
        linear,
        quadratic,
    })
}

/// One term of a partial-fraction integral: the term, its antiderivative, and the rule.
pub(crate) struct FractionTerm {
    pub(crate) term: Expr,
    pub(crate) antiderivative: Expr,
    pub(crate) rule: String,
}

/// The partial fractions of `e` in `var` and the antiderivative of each, when `e` is a
/// rational function whose denominator factors as the module documentation says.
pub(crate) fn partial_fractions(e: &Expr, var: &str) -> Option<Vec<FractionTerm>> {
    let (numerator, denominator) = rational_function(e, var)?;
    let d = decompose(&numerator, &denominator)?;
    let x = Expr::var(var);
    let mut out = Vec::new();
    if !d.polynomial.is_zero() {
        let mut anti = Vec::new();
        for (k, c) in d.polynomial.0.iter().enumerate() {
            if c.is_zero() {
                continue;
            }
            let up = Rational::int(k as i128 + 1);
            anti.push(
                number(c.mul(up.recip()?)?) * Expr::pow(x.clone(), Expr::Num(k as f64 + 1.0)),
            );
        }
        out.push(FractionTerm {
            term: d.polynomial.to_expr(&x),
            antiderivative: sum(anti),
            rule: "polynomial: ∫ x^n dx = x^(n+1)/(n+1)".into(),
        });
    }
    for (a, r) in d.linear {
        let shifted = Polynomial::linear(r)?.to_expr(&x);
        out.push(FractionTerm {
            term: Expr::div(number(a), shifted.clone()),
            antiderivative: number(a) * Expr::call(Func::Ln, Expr::call(Func::Abs, shifted)),
            rule: "log: ∫ A/(x - r) dx = A*ln|x - r|".into(),
        });
    }
    if let Some((b, c, p, s)) = d.quadratic {
        let q = Polynomial::new(vec![s, p, Rational::ONE]).to_expr(&x);
        let top = Polynomial::new(vec![c, b]).to_expr(&x);
        let half = Rational::new(1, 2)?;
        let half_p = p.mul(half)?;
        // (B·x + C) = B/2·(2x + p) + (C − B·p/2); k² = s − p²/4 > 0.
        let log_part = b.mul(half)?;
        let atan_part = c.add(b.mul(half_p)?.neg()?)?;
        let k_squared = s.add(half_p.mul(half_p)?.neg()?)?;
        // √(n/d) = √(n·d)/d, so that the simplifier takes the square factors out.
        let (n, d) = (k_squared.numer(), k_squared.denom());
        let k = Expr::div(
            Expr::call(Func::Sqrt, Expr::Num(n.checked_mul(d)? as f64)),
            Expr::Num(d as f64),
        );
        let mut anti = Vec::new();
        if !log_part.is_zero() {
            anti.push(number(log_part) * Expr::call(Func::Ln, q.clone()));
        }
        if !atan_part.is_zero() {
            let shifted = Polynomial::new(vec![half_p, Rational::ONE]).to_expr(&x);
            anti.push(Expr::div(
                number(atan_part) * Expr::call(Func::Atan, Expr::div(shifted, k.clone())),
                k,
            ));
        }
        out.push(FractionTerm {
            term: Expr::div(top, q),
            antiderivative: sum(anti),
            rule: "ln and arctangent: ∫ (B*x + C)/(x^2 + p*x + s) dx = B/2*ln(x^2 + p*x + s) \
                   + (C - B*p/2)/k*atan((x + p/2)/k), k = sqrt(s - p^2/4)"
                .into(),
        });
    }
    Some(out)
}
