//! Simplification to a polynomial normal form.
//!
//! [`simplify`] rewrites an expression as a sum of monomials `c * a1^k1 * a2^k2 * …` whose atoms
//! `a_i` are variables, the constants `pi` and `e`, or subterms that are not polynomial:
//! function calls (`sin(x)`, `exp(x*y)`, with their arguments simplified in turn), powers with a
//! non-constant exponent (`x^y`), and sums kept whole because they are raised to a negative or
//! fractional power (`1/(x + 1)`, `(x + 1)^0.5`). Products of sums are expanded, positive integer
//! powers of sums are expanded, like terms are collected and numbers are folded.
//!
//! Term order (applied to every printed sum): higher total degree first (the sum of the exponents
//! of all non-constant atoms), then lexicographic: atoms are ordered `pi`, `e`, variables
//! alphabetically, functions, powers, kept sums; the first atom whose exponent differs decides,
//! the larger exponent first. So `x^2*y + x*y*z + z^2`, `2*x*y + y*z`, `4*x^3 - 18*x^2 + 22*x - 6`.
//! Within a monomial the number comes first, then atoms in the same atom order; atoms with
//! negative exponents go to a denominator (`2*x/y^2`). Negative coefficients print as ` - `.
//!
//! Identities used: `u^0 = 1`, `u/u = 1` for a single monomial `u`, `x^a * x^b = x^(a+b)`,
//! `(x^a)^n = x^(a*n)` for integer `n` only (so `(x^2)^0.5` stays, as it equals `|x|`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::expr::{pow_f64, Constant, Expr, Func};

/// An f64 with a total order, so that it can be part of a map key.
#[derive(Debug, Clone, Copy)]
struct Real(f64);

impl Real {
    fn new(v: f64) -> Real {
        // Identify -0.0 with 0.0.
        Real(v + 0.0)
    }
}

impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for Real {}
impl PartialOrd for Real {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Real {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// An indivisible factor of a monomial. The derived order is the atom order documented above.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Const(Constant),
    Var(String),
    Func(Func, Box<Poly>),
    /// `base ^ exponent` where the exponent is not a number.
    Pow(Box<Poly>, Box<Poly>),
    /// A polynomial kept whole (raised to a power in the monomial that holds it).
    Group(Box<Poly>),
}

/// Atom → exponent (never zero).
type Monomial = BTreeMap<Atom, Real>;

/// Monomial → coefficient (never zero). The empty monomial is the constant term.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Poly {
    terms: BTreeMap<Monomial, Real>,
}

/// Above this many terms in a product, factors are kept unexpanded.
const EXPANSION_LIMIT: usize = 4096;
/// Largest integer power of a sum that is expanded.
const MAX_EXPANDED_POWER: f64 = 32.0;

impl Poly {
    fn constant(c: f64) -> Poly {
        let mut p = Poly::default();
        if c != 0.0 {
            p.terms.insert(Monomial::new(), Real::new(c));
        }
        p
    }

    fn atom(a: Atom) -> Poly {
        Poly::atom_pow(a, 1.0)
    }

    fn atom_pow(a: Atom, exponent: f64) -> Poly {
        let mut m = Monomial::new();
        m.insert(a, Real::new(exponent));
        let mut p = Poly::default();
        p.terms.insert(m, Real(1.0));
        p
    }

    fn as_constant(&self) -> Option<f64> {
        match self.terms.len() {
            0 => Some(0.0),
            1 => {
                let (m, c) = self.terms.iter().next()?;
                m.is_empty().then_some(c.0)
            }
            _ => None,
        }
    }

    fn single_term(&self) -> Option<(&Monomial, f64)> {
        if self.terms.len() == 1 {
            self.terms.iter().next().map(|(m, c)| (m, c.0))
        } else {
            None
        }
    }

    fn add_term(&mut self, m: Monomial, c: f64) {
        if c == 0.0 {
            return;
        }
        let entry = self.terms.entry(m);
        match entry {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(Real::new(c));
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let sum = o.get().0 + c;
                if sum == 0.0 {
                    o.remove();
                } else {
                    *o.get_mut() = Real::new(sum);
                }
            }
        }
    }

    fn add(mut self, other: &Poly) -> Poly {
        for (m, c) in &other.terms {
            self.add_term(m.clone(), c.0);
        }
        self
    }

    fn scale(self, k: f64) -> Poly {
        let mut out = Poly::default();
        for (m, c) in self.terms {
            out.add_term(m, c.0 * k);
        }
        out
    }

    fn mul(&self, other: &Poly) -> Poly {
        if self.terms.len() * other.terms.len() > EXPANSION_LIMIT {
            let mut m = Monomial::new();
            multiply_into(&mut m, &Atom::Group(Box::new(self.clone())), 1.0);
            multiply_into(&mut m, &Atom::Group(Box::new(other.clone())), 1.0);
            let mut out = Poly::default();
            out.add_term(m, 1.0);
            return out;
        }
        let mut out = Poly::default();
        for (ma, ca) in &self.terms {
            for (mb, cb) in &other.terms {
                let mut m = ma.clone();
                for (atom, e) in mb {
                    multiply_into(&mut m, atom, e.0);
                }
                out.add_term(m, ca.0 * cb.0);
            }
        }
        out
    }

    fn recip_of_monomial(m: &Monomial, c: f64) -> Poly {
        let mut inv = Monomial::new();
        for (atom, e) in m {
            inv.insert(atom.clone(), Real::new(-e.0));
        }
        let mut out = Poly::default();
        out.add_term(inv, 1.0 / c);
        out
    }

    fn div(&self, other: &Poly) -> Poly {
        match other.single_term() {
            Some((m, c)) if c.is_finite() && (1.0 / c).is_finite() => {
                self.mul(&Poly::recip_of_monomial(m, c))
            }
            _ => self.mul(&Poly::atom_pow(Atom::Group(Box::new(other.clone())), -1.0)),
        }
    }

    fn pow(&self, exponent: &Poly) -> Poly {
        let Some(n) = exponent.as_constant() else {
            if self.as_constant() == Some(1.0) {
                return Poly::constant(1.0);
            }
            return Poly::atom(Atom::Pow(
                Box::new(self.clone()),
                Box::new(exponent.clone()),
            ));
        };
        if n == 0.0 {
            return Poly::constant(1.0);
        }
        if n == 1.0 {
            return self.clone();
        }
        if let Some(k) = self.as_constant() {
            let r = pow_f64(k, n);
            if r.is_finite() {
                return Poly::constant(r);
            }
            return Poly::atom_pow(Atom::Group(Box::new(self.clone())), n);
        }
        let integer = n.fract() == 0.0 && n.abs() <= 1e9;
        if let Some((m, c)) = self.single_term() {
            if integer {
                let coef = pow_f64(c, n);
                if coef.is_finite() && coef != 0.0 {
                    let mut out_m = Monomial::new();
                    for (atom, e) in m {
                        out_m.insert(atom.clone(), Real::new(e.0 * n));
                    }
                    let mut out = Poly::default();
                    out.add_term(out_m, coef);
                    return out;
                }
            } else if c == 1.0 && m.len() == 1 {
                let (atom, e) = m.iter().next().expect("one atom");
                if e.0 == 1.0 {
                    return Poly::atom_pow(atom.clone(), n);
                }
            }
        } else if integer && n > 0.0 && n <= MAX_EXPANDED_POWER {
            let mut acc = Poly::constant(1.0);
            let mut base = self.clone();
            let mut k = n as u32;
            while k > 0 {
                if k & 1 == 1 {
                    acc = acc.mul(&base);
                }
                k >>= 1;
                if k > 0 {
                    base = base.mul(&base);
                }
            }
            return acc;
        }
        Poly::atom_pow(Atom::Group(Box::new(self.clone())), n)
    }

    fn call(func: Func, arg: Poly) -> Poly {
        if let Some(k) = arg.as_constant() {
            let r = func.apply(k);
            // Fold only exact results (sin(0) = 0, exp(0) = 1, sqrt(4) = 2, abs(-3) = 3, …).
            if r.is_finite() && r.fract() == 0.0 {
                return Poly::constant(r);
            }
        }
        if func == Func::Ln && arg == Poly::atom(Atom::Const(Constant::E)) {
            return Poly::constant(1.0);
        }
        Poly::atom(Atom::Func(func, Box::new(arg)))
    }
}

fn multiply_into(m: &mut Monomial, atom: &Atom, e: f64) {
    match m.get_mut(atom) {
        Some(existing) => {
            let sum = existing.0 + e;
            if sum == 0.0 {
                m.remove(atom);
            } else {
                *existing = Real::new(sum);
            }
        }
        None => {
            m.insert(atom.clone(), Real::new(e));
        }
    }
}

fn to_poly(expr: &Expr) -> Poly {
    match expr {
        Expr::Num(v) => Poly::constant(*v),
        Expr::Const(c) => Poly::atom(Atom::Const(*c)),
        Expr::Var(name) => Poly::atom(Atom::Var(name.clone())),
        Expr::Neg(a) => to_poly(a).scale(-1.0),
        Expr::Add(a, b) => to_poly(a).add(&to_poly(b)),
        Expr::Sub(a, b) => to_poly(a).add(&to_poly(b).scale(-1.0)),
        Expr::Mul(a, b) => to_poly(a).mul(&to_poly(b)),
        Expr::Div(a, b) => to_poly(a).div(&to_poly(b)),
        Expr::Pow(a, b) => to_poly(a).pow(&to_poly(b)),
        Expr::Call(f, a) => Poly::call(*f, to_poly(a)),
    }
}

fn degree(m: &Monomial) -> f64 {
    m.iter()
        .filter(|(a, _)| !matches!(a, Atom::Const(_)))
        .map(|(_, e)| e.0)
        .sum()
}

/// The printing order of two monomials: `Less` means `a` prints first.
fn term_order(a: &Monomial, b: &Monomial) -> Ordering {
    let by_degree = degree(b).total_cmp(&degree(a));
    if by_degree != Ordering::Equal {
        return by_degree;
    }
    let atoms: BTreeSet<&Atom> = a.keys().chain(b.keys()).collect();
    for atom in atoms {
        let ea = a.get(atom).map_or(0.0, |e| e.0);
        let eb = b.get(atom).map_or(0.0, |e| e.0);
        let ord = eb.total_cmp(&ea);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn atom_to_expr(atom: &Atom) -> Expr {
    match atom {
        Atom::Const(c) => Expr::Const(*c),
        Atom::Var(name) => Expr::Var(name.clone()),
        Atom::Func(f, arg) => Expr::call(*f, from_poly(arg)),
        Atom::Pow(base, exponent) => Expr::pow(from_poly(base), from_poly(exponent)),
        Atom::Group(p) => from_poly(p),
    }
}

fn factor(atom: &Atom, e: f64) -> Expr {
    let base = atom_to_expr(atom);
    if e == 1.0 {
        base
    } else {
        Expr::pow(base, Expr::Num(e))
    }
}

fn product(factors: Vec<Expr>) -> Option<Expr> {
    factors.into_iter().reduce(Expr::mul)
}

/// A monomial with a positive coefficient `c`.
fn term_to_expr(m: &Monomial, c: f64) -> Expr {
    let mut numerator = Vec::new();
    let mut denominator = Vec::new();
    for (atom, e) in m {
        if e.0 > 0.0 {
            numerator.push(factor(atom, e.0));
        } else {
            denominator.push(factor(atom, -e.0));
        }
    }
    if c != 1.0 || numerator.is_empty() {
        numerator.insert(0, Expr::Num(c));
    }
    let top = product(numerator).expect("numerator has a factor");
    match product(denominator) {
        Some(bottom) => Expr::div(top, bottom),
        None => top,
    }
}

fn from_poly(p: &Poly) -> Expr {
    let mut terms: Vec<(&Monomial, f64)> = p.terms.iter().map(|(m, c)| (m, c.0)).collect();
    terms.sort_by(|a, b| term_order(a.0, b.0));
    let mut out: Option<Expr> = None;
    for (m, c) in terms {
        let magnitude = term_to_expr(m, c.abs());
        let negative = c < 0.0;
        out = Some(match out {
            None if negative => match magnitude {
                Expr::Num(v) => Expr::Num(-v),
                other => Expr::neg(other),
            },
            None => magnitude,
            Some(acc) if negative => Expr::sub(acc, magnitude),
            Some(acc) => Expr::add(acc, magnitude),
        });
    }
    out.unwrap_or(Expr::Num(0.0))
}

/// Rewrites `expr` in polynomial normal form (see the [module documentation](self)).
///
/// The result has the same value as `expr` wherever both are defined; it may be defined at more
/// points (`x/x` becomes `1`).
pub fn simplify(expr: &Expr) -> Expr {
    from_poly(&to_poly(expr))
}
