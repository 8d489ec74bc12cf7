//! Partial fractions of a rational function of one variable with exact coefficients.
//!
//! A quotient of polynomials N/D (rational coefficients, no other symbols) whose denominator
//! factors over the rationals into linear factors (x − r)^k and quadratics without rational
//! roots (x² + p·x + s)^k, is split as
//!
//! ```text
//! N/D = Q + Σ_r Σ_{j≤k} A_rj/(x − r)^j + Σ_q Σ_{j≤k} (B_qj·x + C_qj)/(x² + p·x + s)^j
//! ```
//!
//! (Q the polynomial part; the A, B and C are found by solving the linear system that equates
//! the coefficients of the remainder R with those of the sum over D), which integrates term by
//! term: A·ln|x − r| and −A/((j − 1)(x − r)^(j−1)); for a quadratic without real roots,
//! B/2·ln(x² + p·x + s) + (C − B·p/2)/k·atan((x + p/2)/k), k = √(s − p²/4), and for its powers
//! −B/(2(j − 1)q^(j−1)) plus the reduction formula for ∫ dx/q^j; for a quadratic with
//! irrational real roots −p/2 ± m (m = √(p²/4 − s)), B/2·ln|q| +
//! (C − B·p/2)/(2m)·ln|(x + p/2 − m)/(x + p/2 + m)|. Quadratic factors are found when what
//! is left after the rational roots is a quadratic, a quartic that splits into two rational
//! quadratics, or has repeated factors that gcd(P, P′) finds. Other denominators (`x^4 + 1`,
//! a product of three distinct quadratics, a repeated quadratic with real roots) are not
//! handled (the caller then says that no rule applies). Every operation is exact in i128; an
//! overflow gives `None` as well.

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

/// `N/D = polynomial + Σ linear + Σ quadratic`, see the module documentation.
struct Decomposition {
    polynomial: Polynomial,
    /// `(A, r, k)` for each term A/(x − r)^k.
    linear: Vec<(Rational, Rational, u32)>,
    /// `(B, C, p, s, k)` for each term (B·x + C)/(x² + p·x + s)^k, the quadratic without
    /// rational roots.
    quadratic: Vec<(Rational, Rational, Rational, Rational, u32)>,
}

/// `x² + p·x + s` as a polynomial.
fn quadratic_poly(p: Rational, s: Rational) -> Polynomial {
    Polynomial::new(vec![s, p, Rational::ONE])
}

/// The monic quadratic factors (with repetition) of a monic `poly` without rational roots,
/// when it is a product of quadratics over the rationals that this finds: a quadratic, a
/// quartic split as (x² + a·x + b)(x² + c·x + d), and repeated factors through gcd(P, P′).
fn quadratic_factors(poly: &Polynomial, depth: usize) -> Option<Vec<(Rational, Rational)>> {
    if depth > 8 {
        return None;
    }
    match poly.degree() {
        0 => return Some(Vec::new()),
        2 => return Some(vec![(poly.coefficient(1), poly.coefficient(0))]),
        _ => {}
    }
    if poly.degree() % 2 == 1 {
        return None;
    }
    let repeated = poly.gcd(&poly.derivative()?)?;
    if repeated.degree() > 0 {
        let mut out = quadratic_factors(&repeated, depth + 1)?;
        out.extend(quadratic_factors(&poly.div_exact(&repeated)?, depth + 1)?);
        return Some(out);
    }
    if poly.degree() != 4 {
        return None;
    }
    let (a0, a1, a2, a3) = (
        poly.coefficient(0),
        poly.coefficient(1),
        poly.coefficient(2),
        poly.coefficient(3),
    );
    if a0.numer().abs() > MAX_ROOT_SEARCH || a0.denom() > MAX_ROOT_SEARCH {
        return None;
    }
    for top in divisors(a0.numer().abs()) {
        for bottom in divisors(a0.denom()) {
            for b in [Rational::new(top, bottom)?, Rational::new(-top, bottom)?] {
                let d = a0.mul(b.recip()?)?;
                let (a, c) = if d != b {
                    // a + c = a3 and a·d + b·c = a1 give a = (a1 − b·a3)/(d − b).
                    let a = a1.add(b.mul(a3)?.neg()?)?.mul(d.add(b.neg()?)?.recip()?)?;
                    (a, a3.add(a.neg()?)?)
                } else {
                    // b = d: a1 = b·a3, and a, c are the roots of t² − a3·t + (a2 − 2b).
                    if a1 != b.mul(a3)? {
                        continue;
                    }
                    let product = a2.add(b.mul(Rational::int(-2))?)?;
                    let disc = a3.mul(a3)?.add(product.mul(Rational::int(-4))?)?;
                    if disc.is_negative() {
                        continue;
                    }
                    let Some(root) = disc.root(2) else { continue };
                    let half = Rational::new(1, 2)?;
                    (a3.add(root)?.mul(half)?, a3.add(root.neg()?)?.mul(half)?)
                };
                let candidate = quadratic_poly(a, b).mul(&quadratic_poly(c, d))?;
                if candidate == *poly {
                    return Some(vec![(a, b), (c, d)]);
                }
            }
        }
    }
    None
}

/// Solves the square system `m · u = rhs` exactly (Gaussian elimination), `None` when it is
/// singular or overflows.
fn solve(mut m: Vec<Vec<Rational>>, mut rhs: Vec<Rational>) -> Option<Vec<Rational>> {
    let n = rhs.len();
    for col in 0..n {
        let pivot = (col..n).find(|&r| !m[r][col].is_zero())?;
        m.swap(col, pivot);
        rhs.swap(col, pivot);
        let inv = m[col][col].recip()?;
        for row in 0..n {
            if row == col || m[row][col].is_zero() {
                continue;
            }
            let f = m[row][col].mul(inv)?.neg()?;
            let pivot_row = m[col].clone();
            for (cell, p) in m[row].iter_mut().zip(&pivot_row).skip(col) {
                *cell = cell.add(p.mul(f)?)?;
            }
            rhs[row] = rhs[row].add(rhs[col].mul(f)?)?;
        }
    }
    (0..n).map(|k| rhs[k].mul(m[k][k].recip()?)).collect()
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
            quadratic: Vec::new(),
        });
    }
    // R/D = (R/lead)/(monic D).
    let lead_inverse = denominator.lead().recip()?;
    let monic = denominator.scale(lead_inverse)?;
    let remainder = remainder.scale(lead_inverse)?;
    let mut rest = monic.clone();
    let mut linear_factors = Vec::new();
    for r in rational_roots(&monic)? {
        let factor = Polynomial::linear(r)?;
        let mut k = 0;
        while let Some(q) = rest.div_exact(&factor) {
            rest = q;
            k += 1;
        }
        linear_factors.push((r, k));
    }
    let mut quadratic_factors_k: Vec<(Rational, Rational, u32)> = Vec::new();
    for (p, s) in quadratic_factors(&rest, 0)? {
        match quadratic_factors_k
            .iter_mut()
            .find(|(p2, s2, _)| *p2 == p && *s2 == s)
        {
            Some(entry) => entry.2 += 1,
            None => quadratic_factors_k.push((p, s, 1)),
        }
    }
    // A repeated quadratic with real (irrational) roots is not integrated here.
    for &(p, s, k) in &quadratic_factors_k {
        let discriminant = p.mul(p)?.add(s.mul(Rational::int(-4))?)?;
        if k > 1 && !discriminant.is_negative() {
            return None;
        }
    }
    // One unknown per coefficient: A_{r,j} for (x − r)^j and B, C for each q^j; the basis
    // polynomial of each is D/(x − r)^j, or x·D/q^j and D/q^j.
    let mut basis = Vec::new();
    for &(r, k) in &linear_factors {
        let mut power = Polynomial::one();
        for _ in 0..k {
            power = power.mul(&Polynomial::linear(r)?)?;
            basis.push(monic.div_exact(&power)?);
        }
    }
    for &(p, s, k) in &quadratic_factors_k {
        let mut power = Polynomial::one();
        for _ in 0..k {
            power = power.mul(&quadratic_poly(p, s))?;
            let cofactor = monic.div_exact(&power)?;
            basis.push(cofactor.mul(&Polynomial::new(vec![Rational::ZERO, Rational::ONE]))?);
            basis.push(cofactor);
        }
    }
    let n = monic.degree();
    if basis.len() != n {
        return None;
    }
    let matrix: Vec<Vec<Rational>> = (0..n)
        .map(|row| basis.iter().map(|b| b.coefficient(row)).collect())
        .collect();
    let rhs: Vec<Rational> = (0..n).map(|row| remainder.coefficient(row)).collect();
    let mut unknowns = solve(matrix, rhs)?.into_iter();
    let mut linear = Vec::new();
    for &(r, k) in &linear_factors {
        for j in 1..=k {
            let a = unknowns.next()?;
            if !a.is_zero() {
                linear.push((a, r, j));
            }
        }
    }
    let mut quadratic = Vec::new();
    for &(p, s, k) in &quadratic_factors_k {
        for j in 1..=k {
            let (b, c) = (unknowns.next()?, unknowns.next()?);
            if !(b.is_zero() && c.is_zero()) {
                quadratic.push((b, c, p, s, j));
            }
        }
    }
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

/// `sqrt(r)` for a rational r > 0 as `sqrt(n·d)/d`, so that the simplifier takes the square
/// factors out.
fn sqrt_of(r: Rational) -> Option<Expr> {
    let (n, d) = (r.numer(), r.denom());
    Some(Expr::div(
        Expr::call(Func::Sqrt, Expr::Num(n.checked_mul(d)? as f64)),
        Expr::Num(d as f64),
    ))
}

/// `e^k` (just `e` for k = 1).
fn power(e: Expr, k: u32) -> Expr {
    if k == 1 {
        e
    } else {
        Expr::pow(e, Expr::Num(k as f64))
    }
}

/// ∫ dx/q^k for q = u² + a² (u = x + p/2, a² > 0), by the reduction
/// I_k = u/(2a²(k − 1)q^(k−1)) + (2k − 3)/(2a²(k − 1))·I_(k−1), I_1 = atan(u/a)/a.
fn reduction(u: &Expr, q: &Expr, a_squared: Rational, k: u32) -> Option<Expr> {
    if k == 1 {
        let a = sqrt_of(a_squared)?;
        return Some(Expr::div(
            Expr::call(Func::Atan, Expr::div(u.clone(), a.clone())),
            a,
        ));
    }
    let scale = a_squared.mul(Rational::int(2 * (k as i128 - 1)))?.recip()?;
    let first = number(scale) * Expr::div(u.clone(), power(q.clone(), k - 1));
    let second =
        number(scale.mul(Rational::int(2 * k as i128 - 3))?) * reduction(u, q, a_squared, k - 1)?;
    Some(first + second)
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
    for (a, r, k) in d.linear {
        let shifted = Polynomial::linear(r)?.to_expr(&x);
        if k == 1 {
            out.push(FractionTerm {
                term: Expr::div(number(a), shifted.clone()),
                antiderivative: number(a) * Expr::call(Func::Ln, Expr::call(Func::Abs, shifted)),
                rule: "log: ∫ A/(x - r) dx = A*ln|x - r|".into(),
            });
        } else {
            let coefficient = a.mul(Rational::int(1 - k as i128).recip()?)?;
            out.push(FractionTerm {
                term: Expr::div(number(a), power(shifted.clone(), k)),
                antiderivative: number(coefficient)
                    * Expr::div(Expr::Num(1.0), power(shifted, k - 1)),
                rule: "power: ∫ A/(x - r)^k dx = -A/((k - 1)*(x - r)^(k - 1))".into(),
            });
        }
    }
    for (b, c, p, s, k) in d.quadratic {
        let q = quadratic_poly(p, s).to_expr(&x);
        let top = Polynomial::new(vec![c, b]).to_expr(&x);
        let half = Rational::new(1, 2)?;
        let half_p = p.mul(half)?;
        // (B·x + C) = B/2·(2x + p) + (C − B·p/2).
        let log_part = b.mul(half)?;
        let rest_part = c.add(b.mul(half_p)?.neg()?)?;
        let shifted = Polynomial::new(vec![half_p, Rational::ONE]).to_expr(&x);
        // k² = s − p²/4: positive when q has no real roots.
        let k_squared = s.add(half_p.mul(half_p)?.neg()?)?;
        let mut anti = Vec::new();
        let rule;
        if k_squared.is_negative() {
            // Real irrational roots x = −p/2 ± m, m = √(p²/4 − s) (k = 1 only, see decompose).
            let m = sqrt_of(k_squared.neg()?)?;
            if !log_part.is_zero() {
                anti.push(
                    number(log_part) * Expr::call(Func::Ln, Expr::call(Func::Abs, q.clone())),
                );
            }
            if !rest_part.is_zero() {
                let ratio = Expr::div(shifted.clone() - m.clone(), shifted + m.clone());
                anti.push(Expr::div(
                    number(rest_part.mul(half)?)
                        * Expr::call(Func::Ln, Expr::call(Func::Abs, ratio)),
                    m,
                ));
            }
            rule = "ln: ∫ (B*x + C)/(x^2 + p*x + s) dx = B/2*ln|x^2 + p*x + s| \
                    + (C - B*p/2)/(2*m)*ln|(x + p/2 - m)/(x + p/2 + m)|, m = sqrt(p^2/4 - s)"
                .to_string();
        } else if k == 1 {
            if !log_part.is_zero() {
                anti.push(number(log_part) * Expr::call(Func::Ln, q.clone()));
            }
            if !rest_part.is_zero() {
                anti.push(number(rest_part) * reduction(&shifted, &q, k_squared, 1)?);
            }
            rule = "ln and arctangent: ∫ (B*x + C)/(x^2 + p*x + s) dx = B/2*ln(x^2 + p*x + s) \
                    + (C - B*p/2)/k*atan((x + p/2)/k), k = sqrt(s - p^2/4)"
                .to_string();
        } else {
            if !log_part.is_zero() {
                let coefficient = log_part.mul(Rational::int(1 - k as i128).recip()?)?;
                anti.push(number(coefficient) * Expr::div(Expr::Num(1.0), power(q.clone(), k - 1)));
            }
            if !rest_part.is_zero() {
                anti.push(number(rest_part) * reduction(&shifted, &q, k_squared, k)?);
            }
            rule = "reduction: ∫ (B*x + C)/q^n dx = -B/(2*(n - 1)*q^(n - 1)) + (C - B*p/2)*I_n, \
                    q = u^2 + a^2, u = x + p/2, a^2 = s - p^2/4, \
                    I_n = u/(2*a^2*(n - 1)*q^(n - 1)) + (2*n - 3)/(2*a^2*(n - 1))*I_(n - 1), \
                    I_1 = atan(u/a)/a"
                .to_string();
        }
        out.push(FractionTerm {
            term: Expr::div(top, power(q, k)),
            antiderivative: sum(anti),
            rule,
        });
    }
    Some(out)
}
