//! Simplification with exact coefficients, choosing the shortest of a few normal forms.
//!
//! [`simplify`] reads an expression as a sum of monomials `c * a1^k1 * a2^k2 * …` whose
//! coefficients and exponents are exact rationals (or floats, where the user typed a decimal:
//! see [`super::number`]) and whose atoms are variables, `pi`, `e`, function calls (their
//! arguments simplified in turn), powers with a non-constant exponent, and sums kept whole
//! ("groups", such as `(x + 1)` in `1/(x + 1)`). It builds two forms:
//!
//! * **expanded**: products and positive integer powers of sums multiplied out, like terms
//!   collected (`(x + 1)^2 - 1` → `x^2 + 2*x`);
//! * **kept**: sums are multiplied as whole factors, so `(x - y)^3/(x + y)^2` keeps its factors
//!   and `sigmoid(x)*(1 - sigmoid(x))` stays as written; numbers still distribute over sums;
//! * **distributed**: as kept, but a term with a denominator multiplies into a sum
//!   (`(a + b)/c^2` → `a/c^2 + b/c^2`), so that shared factors meet and cancel;
//!
//! and for each, when the terms share a group, a function call or a denominator, the form with
//! that common factor taken out (`3*(x - y)^2/(x + y)^2 - 2*(x - y)^3/(x + y)^3` →
//! `(x - y)^2*(x + 5*y)/(x + y)^3`), and each of these with the double angles
//! (`cos(x)^2 - sin(x)^2` → `cos(2*x)`, `2*sin(x)*cos(x)` → `sin(2*x)`, `cosh(x)^2 +
//! sinh(x)^2` → `cosh(2*x)`) or the quotients `sin/cos = tan`, `cos/sin = cot`,
//! `sinh/cosh = tanh` applied. The one with the fewest printed operations wins (a ` - `
//! is free); on a tie, the earlier in that list (the closer to what was written).
//!
//! Term order (applied to every printed sum): higher total degree first, then lexicographic:
//! atoms are ordered `pi`, `e`, variables alphabetically, functions, powers, groups; the first
//! atom whose exponent differs decides, the larger exponent first. A sum of two terms whose
//! first term is negative prints the positive one first (`1 - tanh(x)^2`). Within a monomial
//! the number comes first; atoms with negative exponents and the denominator of a rational
//! coefficient go below a `/` (`2*x/(3*y^2)`); an exponent 1/2 prints as `sqrt`.
//!
//! Identities used: `u^0 = 1`, `x^a * x^b = x^(a+b)`, `(c*m)^n = c^n*m^n` for integer `n`,
//! `ln(e) = 1`, `ln(e^k) = k`, `ln(exp(u)) = exp(ln(u)) = u`, `sqrt(u)^2 = u`,
//! `sin(u)^2 + cos(u)^2 = 1` and `cosh(u)^2 - sinh(u)^2 = 1` between terms of a sum, exact
//! values of sin, cos, tan, sec, csc and cot at multiples of π/4 and π/6 (`sin(pi/6) = 1/2`,
//! `cos(pi/4) = sqrt(2)/2`, poles stay as written) and of asin, acos and atan at those values
//! (`atan(1) = pi/4`, `acos(-1) = pi`), exact values of functions at exact numbers
//! (`sin(0) = 0`, `sqrt(4) = 2`, `sigmoid(0) = 1/2`), perfect squares and cubes out of roots
//! (`sqrt(12) = 2*sqrt(3)`). `(x^2)^(1/2)` stays, as it equals `|x|`.
//!
//! Cost: every sum and product is walked iteratively over its terms with ordered maps, so a
//! flat 10 000-term sum or product takes O(n log n); function arguments are simplified once per
//! node. When an exact coefficient would overflow i128, the expression is returned tidied but
//! otherwise unsimplified rather than rounded.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::rc::Rc;

use super::diff::tidy;
use super::expr::{Constant, Expr, Func, Func2};
use super::number::{gcd, order_from_cmp, Number, Rational};
use std::ops::{Div, Neg};

/// A printed form carried along with an atom; it takes no part in comparisons.
#[derive(Debug, Clone)]
struct Shown(Rc<Expr>);

order_from_cmp!(Shown);
impl Ord for Shown {
    fn cmp(&self, _: &Self) -> Ordering {
        Ordering::Equal
    }
}

/// A variable's name, allocated once per simplification; two copies of one allocation are
/// equal without comparing their letters.
#[derive(Debug, Clone)]
struct Name(Rc<str>);

order_from_cmp!(Name);
impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        if Rc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

/// An indivisible factor of a monomial. The derived order (the atom order of the module
/// documentation) ignores the printed forms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Atom {
    Const(Constant),
    /// A variable, its name shared by every atom of it in one simplification.
    Var(Name),
    /// A call: the argument's expanded form (the identity) and its best printed form.
    Func(Func, Rc<Poly>, Shown),
    /// `min`/`max`: both arguments' expanded forms, and the printed call.
    Func2(Func2, Rc<Poly>, Rc<Poly>, Shown),
    /// `base ^ exponent` with a non-constant exponent: both expanded, and the printed power.
    Pow(Rc<Poly>, Rc<Poly>, Shown),
    /// A polynomial kept whole: a sum, or a number under a root (`sqrt(2)` is 2 ^ 1/2).
    Group(Rc<Poly>),
}

/// Atom → exponent (never zero), kept as a vector sorted by atom: monomials have few atoms,
/// and are compared and copied far more often than changed, which a flat vector does faster
/// than a tree. Ordered as the map of its pairs would be (lexicographically by pair).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Monomial(Vec<(Atom, Number)>);

impl Monomial {
    fn new() -> Monomial {
        Monomial(Vec::new())
    }

    fn find(&self, atom: &Atom) -> Result<usize, usize> {
        self.0.binary_search_by(|(a, _)| a.cmp(atom))
    }

    fn get(&self, atom: &Atom) -> Option<&Number> {
        self.find(atom).ok().map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, atom: &Atom) -> Option<&mut Number> {
        self.find(atom).ok().map(|i| &mut self.0[i].1)
    }

    fn contains_key(&self, atom: &Atom) -> bool {
        self.find(atom).is_ok()
    }

    /// Sets `atom`'s exponent to `e`.
    fn insert(&mut self, atom: Atom, e: Number) {
        match self.find(&atom) {
            Ok(i) => self.0[i].1 = e,
            Err(i) => self.0.insert(i, (atom, e)),
        }
    }

    fn remove(&mut self, atom: &Atom) {
        if let Ok(i) = self.find(atom) {
            self.0.remove(i);
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether [`Ctx::settle`] could change the term of this monomial: only roots and kept
    /// groups are settled.
    fn needs_settling(&self) -> bool {
        self.keys()
            .any(|a| matches!(a, Atom::Group(_) | Atom::Func(Func::Sqrt, ..)))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&Atom, &Number)> {
        self.0.iter().map(|(a, e)| (a, e))
    }

    fn keys(&self) -> impl Iterator<Item = &Atom> {
        self.0.iter().map(|(a, _)| a)
    }

    fn values(&self) -> impl Iterator<Item = &Number> {
        self.0.iter().map(|(_, e)| e)
    }
}

impl<'m> IntoIterator for &'m Monomial {
    type Item = (&'m Atom, &'m Number);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'m, (Atom, Number)>,
        fn(&'m (Atom, Number)) -> (&'m Atom, &'m Number),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(a, e)| (a, e))
    }
}

/// Monomial → coefficient (never zero). The empty monomial is the constant term.
///
/// Compared by content, with two shortcuts that keep deep arguments cheap to compare: a
/// polynomial is equal to itself without a walk (the arguments of calls and powers are shared,
/// `Rc`, between every atom made from the same argument), and two arguments kept by one
/// simplification are walked once: their order is remembered under their ids. A derivative of
/// a power tower holds every level of the tower many times over, and without the shortcuts each
/// comparison of two levels walked the tower down.
#[derive(Debug, Default)]
struct Poly {
    terms: BTreeMap<Monomial, Number>,
    /// 0, or the id under which [`ORDERS`] remembers this argument's comparisons. A copy gets
    /// 0, as it may be changed.
    id: u64,
}

impl Clone for Poly {
    fn clone(&self) -> Self {
        Poly {
            terms: self.terms.clone(),
            id: 0,
        }
    }
}

impl PartialEq for Poly {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Poly {}

impl PartialOrd for Poly {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Poly {
    fn cmp(&self, other: &Self) -> Ordering {
        if std::ptr::eq(self, other) || (self.id != 0 && self.id == other.id) {
            return Ordering::Equal;
        }
        charge(1);
        if self.id == 0 || other.id == 0 {
            return self.terms.cmp(&other.terms);
        }
        let key = (self.id, other.id);
        if let Some(known) = ORDERS.with(|o| o.borrow().get(&key).copied()) {
            return known;
        }
        let order = self.terms.cmp(&other.terms);
        ORDERS.with(|o| o.borrow_mut().insert(key, order));
        order
    }
}

thread_local! {
    /// The order of two kept arguments of the running simplification, by their ids (emptied
    /// when it ends; ids are never reused).
    static ORDERS: std::cell::RefCell<HashMap<(u64, u64), Ordering>> =
        std::cell::RefCell::new(HashMap::default());
    /// The last id given to a kept argument.
    static LAST_ID: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn next_id() -> u64 {
    LAST_ID.with(|c| {
        let id = c.get() + 1;
        c.set(id);
        id
    })
}

/// The work units [`simplify`] may spend on an expression of n nodes before it gives up and
/// returns the expression tidied (as it does on an overflow): `SIMPLIFY_BUDGET_BASE +
/// SIMPLIFY_BUDGET_PER_NODE * n`. A unit is one node read, one comparison of two distinct
/// polynomials, or one node of a candidate form built; a unit costs about a quarter of a
/// microsecond at worst. The bound is twice what the heaviest expression of the tests needs
/// (the derivative of a product of 10 000 variables, 47 units a node; a 20 000-term sum takes
/// 12), so only an input that does far more work per node than those is cut short. The
/// derivative of a power tower 100 levels deep fits: its cost is in its size, O(depth²).
const SIMPLIFY_BUDGET_BASE: u64 = 1 << 16;
/// See [`SIMPLIFY_BUDGET_BASE`].
const SIMPLIFY_BUDGET_PER_NODE: u64 = 96;

/// The work [`simplify`] may spend on `expr` (see [`SIMPLIFY_BUDGET_BASE`]).
pub(crate) fn simplify_budget(expr: &Expr) -> u64 {
    SIMPLIFY_BUDGET_BASE.saturating_add(SIMPLIFY_BUDGET_PER_NODE.saturating_mul(cost(expr) as u64))
}

thread_local! {
    /// Work units spent by the simplifications of this thread so far (see
    /// [`SIMPLIFY_BUDGET_BASE`]).
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn charge(units: u64) {
    WORK.with(|w| w.set(w.get().wrapping_add(units)));
}

pub(crate) fn work_done() -> u64 {
    WORK.with(|w| w.get())
}

/// Above this many terms in a product, factors are kept unexpanded.
const EXPANSION_LIMIT: usize = 4096;
/// Largest integer power of a sum that is expanded.
const MAX_EXPANDED_POWER: i128 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Multiply everything out.
    Expand,
    /// As `Keep`, but a term with a denominator multiplies into a sum.
    Distribute,
    /// Sums stay factors of every product; only numbers multiply into sums.
    Keep,
}

impl Poly {
    fn constant(c: Number) -> Poly {
        let mut p = Poly::default();
        if !c.is_zero() {
            p.terms.insert(Monomial::new(), c);
        }
        p
    }

    fn atom_pow(a: Atom, exponent: Number) -> Poly {
        let mut m = Monomial::new();
        m.insert(a, exponent);
        let mut p = Poly::default();
        p.terms.insert(m, Number::ONE);
        p
    }

    fn atom(a: Atom) -> Poly {
        Poly::atom_pow(a, Number::ONE)
    }

    fn as_constant(&self) -> Option<Number> {
        match self.terms.len() {
            0 => Some(Number::ZERO),
            1 => {
                let (m, c) = self.terms.iter().next()?;
                m.is_empty().then_some(*c)
            }
            _ => None,
        }
    }

    fn single_term(&self) -> Option<(&Monomial, Number)> {
        if self.terms.len() == 1 {
            self.terms.iter().next().map(|(m, c)| (m, *c))
        } else {
            None
        }
    }
}

/// The state of one top-level [`simplify`] of an expression that lives for `'a`: whether exact
/// arithmetic overflowed, and the simplified arguments of calls and powers already met (keyed
/// by the node's address, as the expression does not change meanwhile). Copies of one
/// subexpression, which derivatives are full of (`d(u^v)` holds `u^v`, `u` and `v` again), are
/// found by their content hash and share the first copy's results: each distinct argument is
/// simplified once.
#[derive(Default)]
struct Ctx<'a> {
    overflow: bool,
    /// The value of the thread's work count past which this simplification gives up.
    give_up_at: u64,
    cache: HashMap<usize, (Rc<Poly>, Rc<Expr>)>,
    /// Content hash → the arguments met with that hash (compared in full on a hit).
    by_content: HashMap<u64, Vec<&'a Expr>>,
    /// Node address → content hash, each node hashed once.
    hashes: HashMap<usize, u64>,
    /// The printed form of `base ^ exponent` for the kept printed forms of a base and an
    /// exponent (by their addresses), built once however often the power occurs.
    shown_powers: HashMap<(usize, usize), Rc<Expr>>,
    /// The arguments earlier simplifications of the same derivation met, when there is one.
    memo: Option<&'a mut Memo>,
    /// The variables' names met so far, each allocated once.
    names: HashMap<&'a str, Rc<str>>,
}

/// The simplified arguments (of calls and powers) that the simplifications of one derivation's
/// steps share, by content hash, with the argument itself to compare in full on a hit. The
/// steps of a derivative repeat the same subexpressions at every level (each level of a power
/// tower shows the tower below it), and each is simplified once for all of them. Results of a
/// simplification that gave up are not kept.
#[derive(Default)]
pub(crate) struct Memo {
    arguments: HashMap<u64, Vec<MemoEntry>>,
}

type MemoEntry = (Expr, Rc<Poly>, Rc<Expr>);

fn address(e: &Expr) -> usize {
    e as *const Expr as usize
}

impl<'a> Ctx<'a> {
    /// A hash of `e`'s content (equal expressions, equal hashes), from its children's.
    fn hash_of(&mut self, e: &'a Expr) -> u64 {
        use std::hash::{Hash, Hasher};
        if let Some(&h) = self.hashes.get(&address(e)) {
            return h;
        }
        let mut hasher = rustc_hash::FxHasher::default();
        std::mem::discriminant(e).hash(&mut hasher);
        match e {
            Expr::Num(v) => v.to_bits().hash(&mut hasher),
            Expr::Const(c) => c.hash(&mut hasher),
            Expr::Var(name) => name.hash(&mut hasher),
            Expr::Neg(a) => self.hash_of(a).hash(&mut hasher),
            Expr::Add(items) | Expr::Mul(items) => {
                items.len().hash(&mut hasher);
                for item in items {
                    self.hash_of(item).hash(&mut hasher);
                }
            }
            Expr::Div(a, b) | Expr::Pow(a, b) => {
                self.hash_of(a).hash(&mut hasher);
                self.hash_of(b).hash(&mut hasher);
            }
            Expr::Call(f, a) => {
                f.hash(&mut hasher);
                self.hash_of(a).hash(&mut hasher);
            }
            Expr::Call2(f, a, b) => {
                f.hash(&mut hasher);
                self.hash_of(a).hash(&mut hasher);
                self.hash_of(b).hash(&mut hasher);
            }
        }
        let h = hasher.finish();
        self.hashes.insert(address(e), h);
        h
    }

    fn checked(&mut self, v: Option<Number>) -> Number {
        v.unwrap_or_else(|| {
            self.overflow = true;
            Number::ZERO
        })
    }

    fn add_term(&mut self, p: &mut Poly, m: Monomial, c: Number) {
        if c.is_zero() {
            return;
        }
        match p.terms.entry(m) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(c);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let sum = o.get().add(c);
                let sum = self.checked(sum);
                if sum.is_zero() {
                    o.remove();
                } else {
                    *o.get_mut() = sum;
                }
            }
        }
    }

    fn add_into(&mut self, p: &mut Poly, other: Poly) {
        if p.terms.is_empty() {
            *p = other;
            return;
        }
        for (m, c) in other.terms {
            self.add_term(p, m, c);
        }
    }

    fn scale(&mut self, p: Poly, k: Number) -> Poly {
        if k.is_one() {
            return p;
        }
        let mut out = Poly::default();
        for (m, c) in p.terms {
            let v = c.mul(k);
            let v = self.checked(v);
            self.add_term(&mut out, m, v);
        }
        out
    }

    /// Multiplies monomial `m` by `atom^e` in place.
    fn multiply_into(&mut self, m: &mut Monomial, atom: &Atom, e: Number) {
        match m.get_mut(atom) {
            Some(existing) => {
                let sum = existing.add(e);
                let sum = self.checked(sum);
                if sum.is_zero() {
                    m.remove(atom);
                } else {
                    *existing = sum;
                }
            }
            None => {
                m.insert(atom.clone(), e);
            }
        }
    }

    /// The term `c * m` as a polynomial: numbers under roots with whole exponents are folded
    /// into `c` (`sqrt(2)^3 = 2*sqrt(2)`), and in the expanded form whole positive powers of
    /// groups are multiplied out.
    fn settle(&mut self, mode: Mode, mut m: Monomial, mut c: Number) -> Poly {
        if !m.needs_settling() {
            let mut out = Poly::default();
            self.add_term(&mut out, m, c);
            return out;
        }
        let mut expand = Vec::new();
        // sqrt(u)^(2k + j) = u^k*sqrt(u)^j (j = 0 or ±1, the sign of the exponent).
        let roots: Vec<(Atom, i128)> = m
            .iter()
            .filter_map(|(a, e)| match a {
                Atom::Func(Func::Sqrt, _, _) => e
                    .exact()
                    .filter(|r| r.is_integer() && r.numer().abs() >= 2)
                    .map(|r| (a.clone(), r.numer())),
                _ => None,
            })
            .collect();
        let mut squares = Vec::new();
        for (atom, e) in roots {
            let Atom::Func(_, key, _) = &atom else {
                continue;
            };
            let k = e / 2;
            if e - 2 * k == 0 {
                m.remove(&atom);
            } else {
                m.insert(atom.clone(), Number::int(e - 2 * k));
            }
            let square = self.pow(mode, (**key).clone(), Number::int(k));
            squares.push(square);
        }
        let numeric: Vec<(Atom, Number)> = m
            .iter()
            .filter(|(a, _)| matches!(a, Atom::Group(p) if p.as_constant().is_some()))
            .map(|(a, e)| (a.clone(), *e))
            .collect();
        for (atom, e) in numeric {
            let (Atom::Group(p), Some(r)) = (&atom, e.exact()) else {
                continue;
            };
            let k = p.as_constant().unwrap_or(Number::ONE);
            let whole = floor(r);
            if whole.is_zero() {
                continue;
            }
            if let Some(v) = k.pow(Number::Exact(whole)) {
                let fraction = r.add(whole.neg().unwrap_or(Rational::ZERO));
                c = self.checked(c.mul(v));
                match fraction {
                    Some(f) if !f.is_zero() => {
                        m.insert(atom.clone(), Number::Exact(f));
                    }
                    _ => {
                        m.remove(&atom);
                    }
                }
            }
        }
        if mode == Mode::Expand {
            let groups: Vec<(Atom, Number)> = m
                .iter()
                .filter(|(a, e)| {
                    matches!(a, Atom::Group(p) if p.terms.len() > 1)
                        && e.exact().is_some_and(|r| {
                            r.is_integer() && r.numer() > 0 && r.numer() <= MAX_EXPANDED_POWER
                        })
                })
                .map(|(a, e)| (a.clone(), *e))
                .collect();
            // Expand only when the whole product stays small (else it was kept on purpose).
            let size: f64 = groups
                .iter()
                .map(|(a, e)| match a {
                    Atom::Group(p) => (p.terms.len() as f64).powf(e.to_f64()),
                    _ => 1.0,
                })
                .product();
            if size <= EXPANSION_LIMIT as f64 {
                for (atom, e) in groups {
                    m.remove(&atom);
                    expand.push((atom, e));
                }
            }
        }
        let mut out = Poly::default();
        self.add_term(&mut out, m, c);
        for (atom, e) in expand {
            let Atom::Group(p) = atom else { continue };
            let power = self.pow(mode, (*p).clone(), e);
            out = self.mul(mode, &out, &power);
        }
        for square in squares {
            out = self.mul(mode, &out, &square);
        }
        out
    }

    /// `sin(u)^2 + cos(u)^2 = 1` and `cosh(u)^2 - sinh(u)^2 = 1` between terms that agree
    /// elsewhere: `c1*m*sin(u)^2 + c2*m*cos(u)^2` (c1, c2 of one sign) becomes `k*m` plus what
    /// is left of the larger, k the coefficient of smaller magnitude.
    fn pythagoras(&mut self, mut p: Poly) -> Poly {
        loop {
            let mut found = None;
            'search: for (m, c) in &p.terms {
                for (a, e) in m {
                    let (hyperbolic, partner) = match a {
                        Atom::Func(Func::Sin, _, _) => (false, Func::Cos),
                        Atom::Func(Func::Cosh, _, _) => (true, Func::Sinh),
                        _ => continue,
                    };
                    if e.exact() != Some(Rational::int(2)) {
                        continue;
                    }
                    let Atom::Func(_, key, shown) = a else {
                        continue;
                    };
                    let mut rest = m.clone();
                    rest.remove(a);
                    let other = Atom::Func(partner, key.clone(), shown.clone());
                    if rest.contains_key(&other) {
                        continue;
                    }
                    let mut pm = rest.clone();
                    pm.insert(other, Number::int(2));
                    let Some((m2, c2)) = p.terms.get_key_value(&pm) else {
                        continue;
                    };
                    if hyperbolic == (c.is_negative() == c2.is_negative()) {
                        continue;
                    }
                    found = Some((m.clone(), *c, m2.clone(), *c2, rest, hyperbolic));
                    break 'search;
                }
            }
            let Some((m1, c1, m2, c2, rest, hyperbolic)) = found else {
                return p;
            };
            let magnitude = |n: Number| if n.is_negative() { n.neg() } else { Some(n) };
            let (a1, a2) = (magnitude(c1), magnitude(c2));
            let (a1, a2) = (self.checked(a1), self.checked(a2));
            // k·(first ± second) is taken out: k = c1 when |c1| ≤ |c2|.
            let k = if a1 <= a2 {
                c1
            } else if hyperbolic {
                let n = c2.neg();
                self.checked(n)
            } else {
                c2
            };
            let left1 = c1.add(k.neg().unwrap_or(k));
            let left1 = self.checked(left1);
            let left2 = if hyperbolic {
                c2.add(k)
            } else {
                c2.add(k.neg().unwrap_or(k))
            };
            let left2 = self.checked(left2);
            if self.overflow {
                return p;
            }
            p.terms.remove(&m1);
            p.terms.remove(&m2);
            self.add_term(&mut p, m1, left1);
            self.add_term(&mut p, m2, left2);
            self.add_term(&mut p, rest, k);
        }
    }

    /// `sin(u)^k/cos(u)^k = tan(u)^k`, `cos(u)^k/sin(u)^k = cot(u)^k` and
    /// `sinh(u)^k/cosh(u)^k = tanh(u)^k` in the terms of `p`, or `None` when none applies.
    fn trig_quotients(&mut self, p: &Poly) -> Option<Poly> {
        let mut out = Poly::default();
        let mut changed = false;
        for (m, c) in &p.terms {
            let mut m = m.clone();
            let pairs: Vec<(Atom, Atom, Number)> = m
                .iter()
                .filter_map(|(a, e)| {
                    let Atom::Func(f, key, shown) = a else {
                        return None;
                    };
                    let partner = match f {
                        Func::Sin => Func::Cos,
                        Func::Sinh => Func::Cosh,
                        _ => return None,
                    };
                    let other = Atom::Func(partner, key.clone(), shown.clone());
                    let e2 = m.get(&other)?;
                    let sum = e.add(*e2)?;
                    (sum.is_zero() && e.is_integer()).then(|| (a.clone(), other, *e))
                })
                .collect();
            for (a, other, e) in pairs {
                let Atom::Func(f, key, shown) = &a else {
                    continue;
                };
                m.remove(&a);
                m.remove(&other);
                let (g, k) = match (f, e.is_negative()) {
                    (Func::Sinh, _) => (Func::Tanh, e),
                    (_, false) => (Func::Tan, e),
                    (_, true) => (Func::Cot, e.neg().unwrap_or(e)),
                };
                self.multiply_into(&mut m, &Atom::Func(g, key.clone(), shown.clone()), k);
                changed = true;
            }
            self.add_term(&mut out, m, *c);
        }
        (changed && !self.overflow).then_some(out)
    }

    /// The double angles `cos(u)^2 - sin(u)^2 = cos(2u)`, `2*sin(u)*cos(u) = sin(2u)`,
    /// `cosh(u)^2 + sinh(u)^2 = cosh(2u)` and `2*sinh(u)*cosh(u) = sinh(2u)` applied to the
    /// terms of `p`, or `None` when none applies.
    fn double_angle(&mut self, p: &Poly) -> Option<Poly> {
        let mut out = p.clone();
        let mut changed = false;
        let keys: Vec<Monomial> = p.terms.keys().cloned().collect();
        for m in keys {
            let Some(&c) = out.terms.get(&m) else {
                continue;
            };
            for (a, e) in &m {
                let (Atom::Func(f, key, shown), Some(r)) = (a, e.exact()) else {
                    continue;
                };
                let (partner, double) = match f {
                    Func::Cos => (Func::Sin, Func::Cos),
                    Func::Cosh => (Func::Sinh, Func::Cosh),
                    _ => continue,
                };
                let other = Atom::Func(partner, key.clone(), shown.clone());
                let mut rest = m.clone();
                rest.remove(a);
                let doubled = self.scale((**key).clone(), Number::int(2));
                let atom2 = Atom::Func(
                    double,
                    Rc::new(doubled.clone()),
                    Shown(Rc::new(from_poly(&doubled))),
                );
                if r == Rational::int(2) && !rest.contains_key(&other) {
                    // c·m·cos² ∓ c·m·sin²: the partner term has coefficient ∓c.
                    let mut pm = rest.clone();
                    pm.insert(other.clone(), Number::int(2));
                    let want = if partner == Func::Sin {
                        c.neg()
                    } else {
                        Some(c)
                    };
                    if out.terms.get(&pm).copied() == want {
                        out.terms.remove(&m);
                        out.terms.remove(&pm);
                        let mut dm = rest.clone();
                        self.multiply_into(&mut dm, &atom2, Number::ONE);
                        self.add_term(&mut out, dm, c);
                        changed = true;
                        break;
                    }
                }
                if r == Rational::ONE && rest.get(&other).is_some_and(|e2| e2.is_one()) {
                    // c·m·sin·cos = c/2·m·sin(2u).
                    let mut dm = rest.clone();
                    dm.remove(&other);
                    let single = if partner == Func::Sin {
                        Func::Sin
                    } else {
                        Func::Sinh
                    };
                    let atom2 = Atom::Func(
                        single,
                        Rc::new(doubled.clone()),
                        Shown(Rc::new(from_poly(&doubled))),
                    );
                    self.multiply_into(&mut dm, &atom2, Number::ONE);
                    let halved = c.mul(Number::Exact(half()));
                    let halved = self.checked(halved);
                    out.terms.remove(&m);
                    self.add_term(&mut out, dm, halved);
                    changed = true;
                    break;
                }
            }
        }
        (changed && !self.overflow).then_some(out)
    }

    fn mul_terms(&mut self, mode: Mode, a: (&Monomial, Number), b: (&Monomial, Number)) -> Poly {
        let (m, c) = self.times(a, b);
        self.settle(mode, m, c)
    }

    /// The product of two terms, before [`Ctx::settle`]: the two monomials merged, their
    /// common atoms' exponents added.
    fn times(&mut self, a: (&Monomial, Number), b: (&Monomial, Number)) -> (Monomial, Number) {
        let (x, y) = (&a.0 .0, &b.0 .0);
        let mut m = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            match x[i].0.cmp(&y[j].0) {
                Ordering::Less => {
                    m.push(x[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    m.push(y[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    let sum = x[i].1.add(y[j].1);
                    let sum = self.checked(sum);
                    if !sum.is_zero() {
                        m.push((x[i].0.clone(), sum));
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        m.extend_from_slice(&x[i..]);
        m.extend_from_slice(&y[j..]);
        let c = a.1.mul(b.1);
        let c = self.checked(c);
        (Monomial(m), c)
    }

    /// `p` as one factor `content * group^1` (the content a positive number taken out).
    fn as_factor(&mut self, mode: Mode, p: &Poly) -> Poly {
        self.group_pow(mode, p, Number::ONE)
    }

    fn mul(&mut self, mode: Mode, a: &Poly, b: &Poly) -> Poly {
        if a.terms.is_empty() || b.terms.is_empty() {
            return Poly::default();
        }
        if let Some(k) = a.as_constant() {
            return self.scale(b.clone(), k);
        }
        if let Some(k) = b.as_constant() {
            return self.scale(a.clone(), k);
        }
        if let (Some(x), Some(y)) = (a.single_term(), b.single_term()) {
            return self.mul_terms(mode, x, y);
        }
        let keep = match mode {
            Mode::Keep => true,
            Mode::Distribute => {
                let divides = |p: &Poly| {
                    p.single_term()
                        .is_some_and(|(m, _)| m.values().any(|e| e.is_negative()))
                };
                !(divides(a) || divides(b))
            }
            Mode::Expand => a.terms.len() * b.terms.len() > EXPANSION_LIMIT,
        };
        if keep {
            let fa = if a.terms.len() > 1 {
                self.as_factor(mode, a)
            } else {
                a.clone()
            };
            let fb = if b.terms.len() > 1 {
                self.as_factor(mode, b)
            } else {
                b.clone()
            };
            if let (Some(x), Some(y)) = (fa.single_term(), fb.single_term()) {
                return self.mul_terms(mode, x, y);
            }
            return Poly::default();
        }
        let mut out = Poly::default();
        for (ma, ca) in &a.terms {
            for (mb, cb) in &b.terms {
                let (m, c) = self.times((ma, *ca), (mb, *cb));
                if m.needs_settling() {
                    let t = self.settle(mode, m, c);
                    self.add_into(&mut out, t);
                } else {
                    self.add_term(&mut out, m, c);
                }
            }
        }
        out
    }

    /// A positive content of `p` (gcd of the numerators over the lcm of the denominators, when
    /// every coefficient is exact) and `p` divided by it.
    fn content(&mut self, p: &Poly) -> (Number, Poly) {
        let mut g: Option<Rational> = None;
        for c in p.terms.values() {
            let Some(r) = c.exact() else {
                return (Number::ONE, p.clone());
            };
            g = Some(match g {
                None => Rational::new(r.numer().abs(), r.denom()).unwrap_or(Rational::ONE),
                Some(g) => rational_gcd(g, r),
            });
        }
        let g = g.unwrap_or(Rational::ONE);
        if g == Rational::ONE {
            return (Number::ONE, p.clone());
        }
        let inv = g.recip().map(Number::Exact);
        let inv = self.checked(inv);
        let scaled = self.scale(p.clone(), inv);
        (Number::Exact(g), scaled)
    }

    /// `p ^ e` for a sum `p` kept whole (or a number): `content^e * group^e`.
    fn group_pow(&mut self, mode: Mode, p: &Poly, e: Number) -> Poly {
        let (content, rest) = if p.as_constant().is_some() {
            (Number::ONE, p.clone())
        } else {
            self.content(p)
        };
        let mut out = Poly::atom_pow(Atom::Group(Rc::new(rest)), e);
        if !content.is_one() {
            let k = self.pow_number(mode, content, e);
            out = self.mul(mode, &out, &k);
        }
        out
    }

    /// `k ^ e` for numbers: exact when it can be, else `k` kept under the power, with the
    /// perfect powers taken out of an integer under a square or cube root (`sqrt(12)` =
    /// `2*sqrt(3)`).
    fn pow_number(&mut self, mode: Mode, k: Number, e: Number) -> Poly {
        if let (Some(kr), Some(er)) = (k.exact(), e.exact()) {
            let q = er.denom();
            if kr.is_integer() && kr.numer() > 1 && (q == 2 || q == 3) && k.pow(e).is_none() {
                let (outside, inside) = take_out_powers(kr.numer(), q as u32);
                if outside > 1 {
                    let mut m = Monomial::new();
                    m.insert(Atom::Group(Rc::new(Poly::constant(Number::int(inside)))), e);
                    let c = Rational::int(outside).powi(er.numer()).map(Number::Exact);
                    let c = self.checked(c);
                    return self.settle(mode, m, c);
                }
            }
        }
        match k.pow(e) {
            Some(v) => Poly::constant(v),
            None if k.exact().is_some() && e.exact().is_some_and(|r| r.is_integer()) => {
                // An exact power that overflows.
                self.overflow = true;
                Poly::default()
            }
            None => {
                let mut m = Monomial::new();
                m.insert(Atom::Group(Rc::new(Poly::constant(k))), e);
                self.settle(mode, m, Number::ONE)
            }
        }
    }

    fn pow(&mut self, mode: Mode, base: Poly, n: Number) -> Poly {
        if n.is_zero() {
            return Poly::constant(Number::ONE);
        }
        if n.is_one() {
            return base;
        }
        if let Some(k) = base.as_constant() {
            if k.is_zero() && !n.is_negative() {
                return Poly::default();
            }
            if k.is_zero() {
                return Poly::atom_pow(Atom::Group(Rc::new(base)), n);
            }
            return self.pow_number(mode, k, n);
        }
        if let Some((m, c)) = base.single_term() {
            if n.is_integer() {
                let coef = c.pow(n);
                let coef = self.checked(coef);
                let mut out_m = Monomial::new();
                for (atom, e) in m {
                    let v = e.mul(n);
                    let v = self.checked(v);
                    out_m.insert(atom.clone(), v);
                }
                return self.settle(mode, out_m, coef);
            }
            if m.len() == 1 && !c.is_negative() {
                let (atom, e) = m.iter().next().expect("one atom");
                if e.is_one() {
                    let k = self.pow_number(mode, c, n);
                    let a = Poly::atom_pow(atom.clone(), n);
                    return self.mul(mode, &k, &a);
                }
            }
            return Poly::atom_pow(Atom::Group(Rc::new(base)), n);
        }
        let whole = n.exact().filter(|r| r.is_integer()).map(|r| r.numer());
        if let Some(k) = whole {
            let small =
                (base.terms.len() as f64).powi(k.clamp(0, 64) as i32) <= EXPANSION_LIMIT as f64;
            if mode == Mode::Expand && k > 0 && k <= MAX_EXPANDED_POWER && small {
                let mut acc = Poly::constant(Number::ONE);
                let mut b = base;
                let mut k = k;
                while k > 0 {
                    if k & 1 == 1 {
                        acc = self.mul(mode, &acc, &b);
                    }
                    k >>= 1;
                    if k > 0 {
                        b = self.mul(mode, &b, &b);
                    }
                }
                return acc;
            }
        }
        self.group_pow(mode, &base, n)
    }

    fn call(&mut self, mode: Mode, func: Func, key: Rc<Poly>, shown: Rc<Expr>) -> Poly {
        if let Some(k) = key.as_constant() {
            if let Some(v) = exact_value(func, k) {
                return Poly::constant(v);
            }
            if let Number::Float(v) = k {
                let r = func.apply(v);
                if r.is_finite() {
                    return Poly::constant(Number::Float(r + 0.0));
                }
            }
            if func == Func::Sqrt && k.exact().is_some_and(|r| !r.is_negative()) {
                return self.pow_number(mode, k, Number::Exact(half()));
            }
        }
        if let Some(v) = self.special_value(func, &key) {
            return v;
        }
        if let Some((m, c)) = key.single_term() {
            if c.is_one() && m.len() == 1 {
                match (func, m.iter().next()) {
                    // ln(exp(u)) = u, exp(ln(u)) = u.
                    (Func::Ln, Some((Atom::Func(Func::Exp, inner, _), e)))
                    | (Func::Exp, Some((Atom::Func(Func::Ln, inner, _), e)))
                        if e.is_one() =>
                    {
                        return (**inner).clone();
                    }
                    // ln(e^k) = k.
                    (Func::Ln, Some((Atom::Const(Constant::E), e))) => {
                        return Poly::constant(*e);
                    }
                    _ => {}
                }
            }
        }
        Poly::atom(Atom::Func(func, key, Shown(shown)))
    }

    /// `sqrt(k)` in the expanded form, for k = 2 or 3.
    fn root_of(&mut self, k: i128) -> Poly {
        self.pow_number(Mode::Expand, Number::int(k), Number::Exact(half()))
    }

    /// sin(q·π) for a rational q whose value is 0, ±1/2, ±√2/2, ±√3/2 or ±1 (q a multiple of
    /// 1/4 or 1/6), in the expanded form.
    fn sin_pi(&mut self, q: Rational) -> Option<Poly> {
        // q mod 2, in [0, 2).
        let twelfths = q.mul(Rational::int(12))?;
        if !twelfths.is_integer() {
            return None;
        }
        let t = twelfths.numer().rem_euclid(24);
        // sin(π − a) = sin(a), sin(π + a) = −sin(a): reduce to t in [0, 6] twelfths.
        let (t, sign) = match t {
            0..=6 => (t, 1),
            7..=12 => (12 - t, 1),
            13..=18 => (t - 12, -1),
            _ => (24 - t, -1),
        };
        let value = match t {
            0 => Poly::default(),
            2 => Poly::constant(Number::Exact(half())),
            3 => {
                let r = self.root_of(2);
                self.scale(r, Number::Exact(half()))
            }
            4 => {
                let r = self.root_of(3);
                self.scale(r, Number::Exact(half()))
            }
            6 => Poly::constant(Number::ONE),
            _ => return None,
        };
        Some(self.scale(value, Number::int(sign)))
    }

    /// Exact values at rational multiples of π (`sin(pi/6) = 1/2`, `cos(pi/4) = sqrt(2)/2`,
    /// `tan(pi/3) = sqrt(3)`) and of the inverse functions at those values
    /// (`atan(1) = pi/4`, `asin(1/2) = pi/6`, `acos(-1) = pi`), and `ln(e) = 1`.
    fn special_value(&mut self, func: Func, key: &Poly) -> Option<Poly> {
        if func == Func::Ln && *key == Poly::atom(Atom::Const(Constant::E)) {
            return Some(Poly::constant(Number::ONE));
        }
        match func {
            Func::Sin | Func::Cos | Func::Tan | Func::Sec | Func::Csc | Func::Cot => {
                let q = pi_multiple(key)?;
                let half_turn = q.add(half())?;
                let (sin, cos) = (self.sin_pi(q)?, self.sin_pi(half_turn)?);
                match func {
                    Func::Sin => Some(sin),
                    Func::Cos => Some(cos),
                    _ => {
                        let (top, bottom) = match func {
                            Func::Tan => (sin, cos),
                            Func::Cot => (cos, sin),
                            Func::Sec => (Poly::constant(Number::ONE), cos),
                            _ => (Poly::constant(Number::ONE), sin),
                        };
                        // At a pole the call stays as written.
                        if bottom.terms.is_empty() {
                            return None;
                        }
                        let inv = self.pow(Mode::Expand, bottom, Number::int(-1));
                        Some(self.mul(Mode::Expand, &top, &inv))
                    }
                }
            }
            Func::Asin | Func::Acos | Func::Atan => {
                // Only numbers and roots of numbers can be such a value.
                let numeric = key.terms.keys().all(|m| {
                    m.keys()
                        .all(|a| matches!(a, Atom::Group(p) if p.as_constant().is_some()))
                });
                if !numeric {
                    return None;
                }
                // The principal angles q·π, q in [−1/2, 1/2], whose sine or tangent is known.
                for twelfths in -6..=6 {
                    let q = Rational::new(twelfths, 12)?;
                    let sin = self.sin_pi(q);
                    let Some(sin) = sin else { continue };
                    let value = if func == Func::Atan {
                        if twelfths.abs() == 6 {
                            continue;
                        }
                        let cos = self.sin_pi(q.add(half())?)?;
                        let inv = self.pow(Mode::Expand, cos, Number::int(-1));
                        self.mul(Mode::Expand, &sin, &inv)
                    } else {
                        sin
                    };
                    if value == *key {
                        // acos(v) = π/2 − asin(v).
                        let angle = if func == Func::Acos {
                            half().add(q.neg()?)?
                        } else {
                            q
                        };
                        return Some(Poly::atom_pow(Atom::Const(Constant::Pi), Number::ONE))
                            .map(|pi| self.scale(pi, Number::Exact(angle)));
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The expanded form of a call's argument (its identity) and its best printed form.
    fn argument(&mut self, e: &'a Expr) -> (Rc<Poly>, Rc<Expr>) {
        let id = address(e);
        if let Some(hit) = self.cache.get(&id) {
            return hit.clone();
        }
        let h = self.hash_of(e);
        let twin = self
            .by_content
            .get(&h)
            .and_then(|met| met.iter().find(|&&t| t == e))
            .map(|&t| address(t));
        if let Some(hit) = twin.and_then(|t| self.cache.get(&t)).cloned() {
            self.cache.insert(id, hit.clone());
            return hit;
        }
        let remembered = self.memo.as_deref().and_then(|memo| {
            let met = memo.arguments.get(&h)?;
            met.iter()
                .find(|(t, _, _)| t == e)
                .map(|(_, key, shown)| (key.clone(), shown.clone()))
        });
        if let Some(hit) = remembered {
            self.cache.insert(id, hit.clone());
            self.by_content.entry(h).or_default().push(e);
            return hit;
        }
        let (mut expanded, best) = self.best(e);
        expanded.id = next_id();
        let out = (Rc::new(expanded), Rc::new(best));
        self.cache.insert(id, out.clone());
        self.by_content.entry(h).or_default().push(e);
        if let Some(memo) = self.memo.as_deref_mut() {
            memo.arguments
                .entry(h)
                .or_default()
                .push((e.clone(), out.0.clone(), out.1.clone()));
        }
        out
    }

    fn read_poly(&mut self, mode: Mode, expr: &'a Expr) -> Poly {
        charge(1);
        if work_done() > self.give_up_at {
            // Out of budget: the caller returns the input tidied, so any value will do.
            self.overflow = true;
            return Poly::default();
        }
        match expr {
            Expr::Num(v) => Poly::constant(Number::literal(*v)),
            Expr::Const(c) => Poly::atom(Atom::Const(*c)),
            Expr::Var(name) => {
                let name = self
                    .names
                    .entry(name.as_str())
                    .or_insert_with(|| Rc::from(name.as_str()))
                    .clone();
                Poly::atom(Atom::Var(Name(name)))
            }
            Expr::Neg(a) => {
                let p = self.read_poly(mode, a);
                self.scale(p, Number::int(-1))
            }
            Expr::Add(terms) => {
                let mut acc = Poly::default();
                for t in terms {
                    let p = self.read_poly(mode, t);
                    self.add_into(&mut acc, p);
                }
                self.pythagoras(acc)
            }
            Expr::Mul(factors) => {
                let mut acc = Poly::constant(Number::ONE);
                for f in factors {
                    let p = self.read_poly(mode, f);
                    acc = self.mul_owned(mode, acc, p);
                }
                acc
            }
            Expr::Div(a, b) => {
                let pa = self.read_poly(mode, a);
                let pb = self.read_poly(mode, b);
                let inv = self.pow(mode, pb, Number::int(-1));
                self.mul(mode, &pa, &inv)
            }
            Expr::Pow(a, b) => {
                let pb = self.read_poly(mode, b);
                if let Some(n) = pb.as_constant() {
                    let pa = self.read_poly(mode, a);
                    return self.pow(mode, pa, n);
                }
                let (base_key, base_shown) = self.argument(a);
                if base_key.as_constant().is_some_and(|k| k.is_one()) {
                    return Poly::constant(Number::ONE);
                }
                let (exp_key, exp_shown) = self.argument(b);
                let shown = self
                    .shown_powers
                    .entry((
                        Rc::as_ptr(&base_shown) as usize,
                        Rc::as_ptr(&exp_shown) as usize,
                    ))
                    .or_insert_with(|| {
                        Rc::new(Expr::pow((*base_shown).clone(), (*exp_shown).clone()))
                    })
                    .clone();
                Poly::atom(Atom::Pow(base_key, exp_key, Shown(shown)))
            }
            Expr::Call(f, a) => {
                let (key, shown) = self.argument(a);
                self.call(mode, *f, key, shown)
            }
            Expr::Call2(f, a, b) => {
                let (key_a, shown_a) = self.argument(a);
                let (key_b, shown_b) = self.argument(b);
                if key_a == key_b {
                    // min(u, u) = max(u, u) = u.
                    return self.read_poly(mode, a);
                }
                if let (Some(u), Some(v)) = (key_a.as_constant(), key_b.as_constant()) {
                    if let Some(chosen) = select_number(*f, u, v) {
                        return Poly::constant(chosen);
                    }
                }
                let shown = Expr::Call2(
                    *f,
                    Box::new((*shown_a).clone()),
                    Box::new((*shown_b).clone()),
                );
                Poly::atom(Atom::Func2(*f, key_a, key_b, Shown(Rc::new(shown))))
            }
        }
    }

    /// `acc * p`, multiplying in place when both are single terms (long products).
    fn mul_owned(&mut self, mode: Mode, mut acc: Poly, p: Poly) -> Poly {
        if acc.terms.len() == 1 && p.terms.len() == 1 {
            let (m, c) = acc.terms.pop_first().expect("one term");
            let (pm, pc) = p.terms.into_iter().next().expect("one term");
            let mut m = m;
            let has_group = pm
                .keys()
                .any(|a| matches!(a, Atom::Group(_) | Atom::Func(Func::Sqrt, ..)));
            for (atom, e) in &pm {
                self.multiply_into(&mut m, atom, *e);
            }
            let c = c.mul(pc);
            let c = self.checked(c);
            if has_group {
                return self.settle(mode, m, c);
            }
            let mut out = Poly::default();
            self.add_term(&mut out, m, c);
            return out;
        }
        self.mul(mode, &acc, &p)
    }

    /// The expanded polynomial of `e` and the best printed form (see the module docs).
    fn best(&mut self, e: &'a Expr) -> (Poly, Expr) {
        let kept = self.read_poly(Mode::Keep, e);
        let distributed = self.read_poly(Mode::Distribute, e);
        let expanded = self.read_poly(Mode::Expand, e);
        // Fewest operations wins; on a tie the earlier form, the closer to what was written.
        // A form is only built when it could win: the printed form of a polynomial of n terms
        // costs at least `least_cost(n)`, and so does its common factor taken out (the cofactor
        // keeps the n terms). The expanded form of a product of powers of sums can have
        // thousands of terms that the kept form does not need.
        let mut best: Option<(usize, Expr)> = None;
        let offer = |best: &mut Option<(usize, Expr)>, c: Expr| {
            let ops = cost(&c);
            // Building a candidate cost about as much as its size.
            charge(ops as u64);
            if best.as_ref().is_none_or(|(o, _)| ops < *o) {
                *best = Some((ops, c));
            }
        };
        let could_win = |best: &Option<(usize, Expr)>, p: &Poly| {
            best.as_ref()
                .is_none_or(|(o, _)| least_cost(p.terms.len()) < *o)
        };
        for p in [&kept, &distributed, &expanded] {
            if could_win(&best, p) {
                offer(&mut best, from_poly(p));
            }
        }
        for p in [&kept, &distributed, &expanded] {
            if could_win(&best, p) {
                if let Some(f) = self.factor_common(p) {
                    offer(&mut best, from_poly(&f));
                }
            }
            for rewritten in [self.double_angle(p), self.trig_quotients(p)]
                .into_iter()
                .flatten()
            {
                if could_win(&best, &rewritten) {
                    offer(&mut best, from_poly(&rewritten));
                }
                if could_win(&best, &rewritten) {
                    if let Some(f) = self.factor_common(&rewritten) {
                        offer(&mut best, from_poly(&f));
                    }
                }
            }
        }
        (expanded, best.map(|b| b.1).unwrap_or(Expr::Num(0.0)))
    }

    /// `p` with the factor its terms share taken out, when that factor holds a group, a call, a
    /// power or a denominator: `common * (Σ term/common)`, the cofactor expanded.
    fn factor_common(&mut self, p: &Poly) -> Option<Poly> {
        if p.terms.len() < 2 {
            return None;
        }
        // The least exponent of each atom over the terms (absent = 0), in one pass.
        let mut terms = p.terms.keys();
        let mut common: Monomial = terms.next()?.clone();
        for m in terms {
            let mut next = Monomial::new();
            for (atom, e) in &common {
                let other = m.get(atom).copied().unwrap_or(Number::ZERO);
                let low = if other < *e { other } else { *e };
                if !low.is_zero() {
                    next.insert(atom.clone(), low);
                }
            }
            for (atom, e) in m {
                if e.is_negative() && !common.contains_key(atom) {
                    next.insert(atom.clone(), *e);
                }
            }
            if next.len() > 64 || next.values().any(|e| e.exact().is_none()) {
                return None;
            }
            common = next;
        }
        let worth = common
            .iter()
            .any(|(a, e)| !matches!(a, Atom::Var(_) | Atom::Const(_)) || e.is_negative());
        if !worth {
            return None;
        }
        let mut sum = Poly::default();
        for (m, c) in &p.terms {
            let mut rest = m.clone();
            for (atom, e) in &common {
                let neg = e.neg();
                let neg = self.checked(neg);
                self.multiply_into(&mut rest, atom, neg);
            }
            let t = self.settle(Mode::Expand, rest, *c);
            self.add_into(&mut sum, t);
        }
        let mut cofactor = self.pythagoras(sum);
        // A cofactor that would print with a leading minus gives its sign to the product.
        let leading_negative = cofactor
            .terms
            .iter()
            .min_by(|a, b| term_order(a.0, b.0))
            .is_some_and(|(_, c)| c.is_negative());
        let sign = if leading_negative {
            cofactor = self.scale(cofactor, Number::int(-1));
            Number::int(-1)
        } else {
            Number::ONE
        };
        let mut out = Poly::default();
        self.add_term(&mut out, common, sign);
        let factor = if cofactor.terms.len() > 1 {
            self.as_factor(Mode::Keep, &cofactor)
        } else {
            cofactor
        };
        Some(self.mul(Mode::Keep, &out, &factor))
    }
}

/// `k = outside^q * inside` with the q-th powers of primes below 10 000 moved outside.
fn take_out_powers(k: i128, q: u32) -> (i128, i128) {
    let (mut outside, mut inside) = (1i128, k);
    let mut d: i128 = 2;
    while d <= 10_000 && d.pow(q) <= inside {
        let dq = d.pow(q);
        while inside % dq == 0 {
            inside /= dq;
            outside *= d;
        }
        d += 1;
    }
    (outside, inside)
}

fn half() -> Rational {
    Rational::new(1, 2).unwrap_or(Rational::ONE)
}

/// The largest integer ≤ r.
fn floor(r: Rational) -> Rational {
    let q = r.numer().div_euclid(r.denom());
    Rational::int(q)
}

fn rational_gcd(a: Rational, b: Rational) -> Rational {
    let n = gcd(a.numer(), b.numer());
    let d = a.denom() / gcd(a.denom(), b.denom());
    match d.checked_mul(b.denom()) {
        Some(l) => Rational::new(n, l).unwrap_or(Rational::ONE),
        None => Rational::ONE,
    }
}

/// k when r = base^k for a whole k (log10(1000) = 3, log2(1/8) = -3).
fn exact_log(r: Rational, base: i128) -> Option<Rational> {
    let k = match integer_log(r, base) {
        Some(k) => k,
        None => -integer_log(r.recip()?, base)?,
    };
    Some(Rational::int(k))
}

/// k when r = base^k for a whole k ≥ 0.
fn integer_log(r: Rational, base: i128) -> Option<i128> {
    if !r.is_integer() || r.numer() < 1 {
        return None;
    }
    let (mut n, mut k) = (r.numer(), 0);
    while n % base == 0 {
        n /= base;
        k += 1;
    }
    (n == 1).then_some(k)
}

/// q when `key` is q·π for an exact rational q (0 included).
fn pi_multiple(key: &Poly) -> Option<Rational> {
    if key.terms.is_empty() {
        return Some(Rational::ZERO);
    }
    let (m, c) = key.single_term()?;
    let pi = Atom::Const(Constant::Pi);
    (m.len() == 1 && m.get(&pi).is_some_and(|e| e.is_one())).then_some(())?;
    c.exact()
}

/// Exact values of functions at exact numbers, where they are rational.
fn exact_value(func: Func, k: Number) -> Option<Number> {
    let r = k.exact()?;
    let zero = r.is_zero();
    let v = match func {
        Func::Sin
        | Func::Tan
        | Func::Tanh
        | Func::Sinh
        | Func::Asin
        | Func::Atan
        | Func::Asinh
        | Func::Atanh
            if zero =>
        {
            Rational::ZERO
        }
        Func::Cos | Func::Exp | Func::Cosh | Func::Sec if zero => Rational::ONE,
        Func::Acos | Func::Acosh if r == Rational::ONE => Rational::ZERO,
        Func::Log10 => exact_log(r, 10)?,
        Func::Log2 => exact_log(r, 2)?,
        Func::Sigmoid if zero => half(),
        Func::Ln if r == Rational::ONE => Rational::ZERO,
        Func::Sqrt => r.root(2)?,
        Func::Abs => {
            if r.is_negative() {
                r.neg()?
            } else {
                r
            }
        }
        Func::Relu => {
            if r.is_negative() {
                Rational::ZERO
            } else {
                r
            }
        }
        Func::Step => {
            if r > Rational::ZERO {
                Rational::ONE
            } else {
                Rational::ZERO
            }
        }
        Func::Sign => Rational::int(match r.cmp(&Rational::ZERO) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }),
        _ => return None,
    };
    Some(Number::Exact(v))
}

/// min/max of two numbers: compared exactly when both are exact, else in f64.
fn select_number(f: Func2, u: Number, v: Number) -> Option<Number> {
    let first = match (u.exact(), v.exact()) {
        (Some(a), Some(b)) => match f {
            Func2::Min => a <= b,
            Func2::Max => a >= b,
        },
        _ => {
            let (a, b) = (u.to_f64(), v.to_f64());
            if a.is_nan() || b.is_nan() {
                return None;
            }
            match f {
                Func2::Min => a <= b,
                Func2::Max => a >= b,
            }
        }
    };
    Some(if first { u } else { v })
}

/// The least [`cost`] of the printed form of a polynomial of n terms ([`from_poly`]: a sum
/// of n terms, each at least one node).
fn least_cost(n: usize) -> usize {
    if n < 2 {
        1
    } else {
        n + 1
    }
}

/// Printed operations: every node counts one, except the minus of a term in a sum.
fn cost(e: &Expr) -> usize {
    match e {
        Expr::Num(_) | Expr::Const(_) | Expr::Var(_) => 1,
        Expr::Neg(a) | Expr::Call(_, a) => 1 + cost(a),
        Expr::Add(terms) => {
            1 + terms
                .iter()
                .map(|t| match t {
                    Expr::Neg(inner) => cost(inner),
                    other => cost(other),
                })
                .sum::<usize>()
        }
        Expr::Mul(factors) => 1 + factors.iter().map(cost).sum::<usize>(),
        Expr::Div(a, b) | Expr::Pow(a, b) | Expr::Call2(_, a, b) => 1 + cost(a) + cost(b),
    }
}

fn degree(m: &Monomial) -> f64 {
    m.iter()
        .filter(|(a, _)| !matches!(a, Atom::Const(_)))
        .map(|(_, e)| e.to_f64())
        .sum()
}

/// The printing order of two monomials: `Less` means `a` prints first.
fn term_order(a: &Monomial, b: &Monomial) -> Ordering {
    degree(b)
        .total_cmp(&degree(a))
        .then_with(|| same_degree_order(a, b))
}

/// [`term_order`] of two monomials of the same degree.
fn same_degree_order(a: &Monomial, b: &Monomial) -> Ordering {
    let mut ia = a.iter().peekable();
    let mut ib = b.iter().peekable();
    // Merge-walk the two sorted atom lists; the first atom whose exponent differs decides.
    loop {
        match (ia.peek(), ib.peek()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return Ordering::Less,
            (None, Some(_)) => return Ordering::Greater,
            (Some((xa, ea)), Some((xb, eb))) => match xa.cmp(xb) {
                Ordering::Less => return Ordering::Less,
                Ordering::Greater => return Ordering::Greater,
                Ordering::Equal => {
                    // Integer exponents (nearly all) compare as integers: below 2^53 their
                    // floats are exact, so the order is the same.
                    let exact = 1i128 << 53;
                    let ord = match (ea.exact(), eb.exact()) {
                        (Some(x), Some(y))
                            if x.is_integer()
                                && y.is_integer()
                                && x.numer().abs() < exact
                                && y.numer().abs() < exact =>
                        {
                            y.numer().cmp(&x.numer())
                        }
                        _ => eb.to_f64().total_cmp(&ea.to_f64()),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                    ia.next();
                    ib.next();
                }
            },
        }
    }
}

/// A number as an expression: integers and floats as literals, `p/q` as a quotient.
fn number_expr(n: Number) -> Expr {
    match n {
        Number::Float(v) => Expr::Num(v),
        Number::Exact(r) if r.is_integer() => Expr::Num(r.numer() as f64),
        Number::Exact(r) => {
            let q = Expr::div(
                Expr::Num(r.numer().abs() as f64),
                Expr::Num(r.denom() as f64),
            );
            if r.is_negative() {
                Expr::neg(q)
            } else {
                q
            }
        }
    }
}

fn atom_to_expr(atom: &Atom) -> Expr {
    match atom {
        Atom::Const(c) => Expr::Const(*c),
        Atom::Var(name) => Expr::Var(name.0.to_string()),
        Atom::Func(f, _, shown) => Expr::call(*f, (*shown.0).clone()),
        Atom::Pow(_, _, shown) | Atom::Func2(_, _, _, shown) => (*shown.0).clone(),
        Atom::Group(p) => from_poly(p),
    }
}

fn factor(atom: &Atom, e: Number) -> Expr {
    let base = atom_to_expr(atom);
    if e.is_one() {
        base
    } else if e.exact() == Some(half()) {
        Expr::call(Func::Sqrt, base)
    } else {
        Expr::pow(base, number_expr(e))
    }
}

fn product(factors: Vec<Expr>) -> Option<Expr> {
    match factors.len() {
        0 => None,
        1 => factors.into_iter().next(),
        _ => Some(Expr::Mul(factors)),
    }
}

/// A monomial with a positive coefficient `c`.
fn term_to_expr(m: &Monomial, c: Number) -> Expr {
    let mut numerator = Vec::new();
    let mut denominator = Vec::new();
    for (atom, e) in m {
        if e.is_negative() {
            let neg = e.neg().unwrap_or(*e);
            denominator.push(factor(atom, neg));
        } else {
            numerator.push(factor(atom, *e));
        }
    }
    match c {
        Number::Exact(r) => {
            if r.numer() != 1 || numerator.is_empty() {
                numerator.insert(0, Expr::Num(r.numer() as f64));
            }
            if r.denom() != 1 {
                denominator.insert(0, Expr::Num(r.denom() as f64));
            }
        }
        Number::Float(v) => {
            if v != 1.0 || numerator.is_empty() {
                numerator.insert(0, Expr::Num(v));
            }
        }
    }
    let top = product(numerator).unwrap_or(Expr::Num(1.0));
    match product(denominator) {
        Some(bottom) => Expr::div(top, bottom),
        None => top,
    }
}

fn from_poly(p: &Poly) -> Expr {
    // Sorted by [`term_order`], each degree computed once.
    let mut keyed: Vec<(&Monomial, Number, f64)> =
        p.terms.iter().map(|(m, c)| (m, *c, degree(m))).collect();
    keyed.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then_with(|| same_degree_order(a.0, b.0))
    });
    let mut terms: Vec<(&Monomial, Number)> = keyed.into_iter().map(|(m, c, _)| (m, c)).collect();
    if terms.len() == 2 && terms[0].1.is_negative() && !terms[1].1.is_negative() {
        terms.swap(0, 1);
    }
    let mut out: Vec<Expr> = Vec::with_capacity(terms.len());
    for (m, c) in terms {
        let negative = c.is_negative();
        let magnitude = term_to_expr(m, if negative { c.neg().unwrap_or(c) } else { c });
        out.push(if negative {
            match magnitude {
                Expr::Num(v) => Expr::Num(-v),
                other => Expr::neg(other),
            }
        } else {
            magnitude
        });
    }
    match out.len() {
        0 => Expr::Num(0.0),
        1 => out.pop().expect("one term"),
        _ => Expr::Add(out),
    }
}

/// Rewrites `expr` in its shortest normal form (see the [module documentation](self)).
///
/// The result has the same value as `expr` wherever both are defined; it may be defined at more
/// points (`x/x` becomes `1`). Coefficients are exact unless the input has decimals.
///
/// An expression whose simplification would take more than a bound on its work (about a
/// million node reads and comparisons, far more than hand-written expressions need) is returned
/// tidied but otherwise as it is, as on an overflow.
pub fn simplify(expr: &Expr) -> Expr {
    let mut budget = simplify_budget(expr);
    simplify_within(expr, &mut budget).unwrap_or_else(|| tidy(expr))
}

/// [`simplify`] spending at most `budget` work units, less what it spent; `None` (and a budget
/// of 0) when it ran out or an exact coefficient overflowed.
pub(crate) fn simplify_within(expr: &Expr, budget: &mut u64) -> Option<Expr> {
    let best = simplify_sharing(expr, budget, None);
    forget_orders();
    best
}

/// [`simplify_within`], sharing the simplified arguments with the other simplifications that
/// use `memo`. Call [`forget_orders`] when done with the memo.
pub(crate) fn simplify_sharing(
    expr: &Expr,
    budget: &mut u64,
    memo: Option<&mut Memo>,
) -> Option<Expr> {
    let start = work_done();
    let mut ctx = Ctx {
        give_up_at: start.saturating_add(*budget),
        memo,
        ..Ctx::default()
    };
    let (_, best) = ctx.best(expr);
    let (overflow, give_up_at) = (ctx.overflow, ctx.give_up_at);
    if overflow {
        // What this simplification added may have been read after it gave up.
        if let Some(memo) = ctx.memo.as_deref_mut() {
            memo.arguments.clear();
        }
    }
    drop(ctx);
    let spent = work_done().wrapping_sub(start);
    *budget = budget.saturating_sub(spent);
    if overflow {
        if work_done() > give_up_at {
            *budget = 0;
        }
        return None;
    }
    Some(best)
}

/// Empties the remembered orders of kept arguments (they stay correct, as ids are never reused,
/// but take memory).
pub(crate) fn forget_orders() {
    ORDERS.with(|o| o.borrow_mut().clear());
}
