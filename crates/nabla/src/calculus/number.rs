//! Exact rationals (i128 over i128, overflow-checked) and the coefficient type of the
//! simplifier: an exact rational, or an f64 where the user typed a decimal.
//!
//! Integers typed in an expression (`3`, `2e3`) and every quotient of them are exact, so `x/3`
//! stays `x/3` and like terms cancel to exactly zero. A decimal that is not an integer (`0.25`)
//! is a float, as the user wrote it, and anything combined with a float is a float. An exact
//! operation that would overflow i128 reports `None`; the simplifier then keeps the expression
//! unsimplified rather than round it.

use std::cmp::Ordering;

/// A rational number `num/den` in lowest terms with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Rational {
    num: i128,
    den: i128,
}

/// The greatest common divisor of |a| and |b|.
pub(crate) fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

/// The integer `n` as a rational, `None` for `i128::MIN` (see [`Rational::new`]).
fn whole(n: i128) -> Option<Rational> {
    (n != i128::MIN).then_some(Rational { num: n, den: 1 })
}

impl Rational {
    pub(crate) const ZERO: Rational = Rational { num: 0, den: 1 };
    pub(crate) const ONE: Rational = Rational { num: 1, den: 1 };

    pub(crate) fn int(n: i128) -> Rational {
        Rational { num: n, den: 1 }
    }

    /// `num/den` reduced; `None` when `den == 0` or on overflow. `i128::MIN` counts as an
    /// overflow: it has no negation, and every rational here has one.
    pub(crate) fn new(num: i128, den: i128) -> Option<Rational> {
        if den == 0 || num == i128::MIN || den == i128::MIN {
            return None;
        }
        let g = gcd(num, den);
        let (mut n, mut d) = (num / g, den / g);
        if d < 0 {
            n = n.checked_neg()?;
            d = d.checked_neg()?;
        }
        Some(Rational { num: n, den: d })
    }

    pub(crate) fn numer(self) -> i128 {
        self.num
    }

    pub(crate) fn denom(self) -> i128 {
        self.den
    }

    pub(crate) fn is_integer(self) -> bool {
        self.den == 1
    }

    pub(crate) fn is_zero(self) -> bool {
        self.num == 0
    }

    pub(crate) fn is_negative(self) -> bool {
        self.num < 0
    }

    /// The exact rational equal to an f64 that is an integer of magnitude at most 2^53.
    pub(crate) fn from_integral_f64(v: f64) -> Option<Rational> {
        if v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0 {
            Some(Rational::int(v as i128))
        } else {
            None
        }
    }

    pub(crate) fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    pub(crate) fn neg(self) -> Option<Rational> {
        Some(Rational {
            num: self.num.checked_neg()?,
            den: self.den,
        })
    }

    pub(crate) fn add(self, o: Rational) -> Option<Rational> {
        if self.den == 1 && o.den == 1 {
            return whole(self.num.checked_add(o.num)?);
        }
        let g = gcd(self.den, o.den);
        let a = self.num.checked_mul(o.den / g)?;
        let b = o.num.checked_mul(self.den / g)?;
        Rational::new(a.checked_add(b)?, self.den.checked_mul(o.den / g)?)
    }

    pub(crate) fn mul(self, o: Rational) -> Option<Rational> {
        if self.den == 1 && o.den == 1 {
            return whole(self.num.checked_mul(o.num)?);
        }
        let g1 = gcd(self.num, o.den).max(1);
        let g2 = gcd(o.num, self.den).max(1);
        Rational::new(
            (self.num / g1).checked_mul(o.num / g2)?,
            (self.den / g2).checked_mul(o.den / g1)?,
        )
    }

    pub(crate) fn recip(self) -> Option<Rational> {
        Rational::new(self.den, self.num)
    }

    /// `self^n` for an integer n (`None` for 0^negative or overflow).
    pub(crate) fn powi(self, n: i128) -> Option<Rational> {
        let base = if n < 0 { self.recip()? } else { self };
        let mut k = n.unsigned_abs();
        let (mut acc, mut b) = (Rational::ONE, base);
        while k > 0 {
            if k & 1 == 1 {
                acc = acc.mul(b)?;
            }
            k >>= 1;
            if k > 0 {
                b = b.mul(b)?;
            }
        }
        Some(acc)
    }

    /// The exact `q`-th root of a non-negative rational, when it is rational.
    pub(crate) fn root(self, q: u32) -> Option<Rational> {
        if self.num < 0 || q == 0 {
            return None;
        }
        let r = |v: i128| -> Option<i128> {
            let guess = (v as f64).powf(1.0 / q as f64).round() as i128;
            (guess.saturating_sub(1)..=guess.saturating_add(1))
                .find(|g| *g >= 0 && g.checked_pow(q) == Some(v))
        };
        Some(Rational {
            num: r(self.num)?,
            den: r(self.den)?,
        })
    }
}

impl PartialOrd for Rational {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Rational {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.den == other.den {
            return self.num.cmp(&other.num);
        }
        match (
            self.num.checked_mul(other.den),
            other.num.checked_mul(self.den),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

/// A coefficient or exponent of the simplifier.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Number {
    Exact(Rational),
    Float(f64),
}

/// `PartialEq`, `Eq` and `PartialOrd` of a type from its `Ord`.
macro_rules! order_from_cmp {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }
        impl Eq for $t {}
        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
    };
}
pub(crate) use order_from_cmp;

order_from_cmp!(Number);
impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Number::Exact(a), Number::Exact(b)) => a.cmp(b),
            (Number::Float(a), Number::Float(b)) => (a + 0.0).total_cmp(&(b + 0.0)),
            (Number::Exact(_), Number::Float(_)) => Ordering::Less,
            (Number::Float(_), Number::Exact(_)) => Ordering::Greater,
        }
    }
}

/// Float results whose magnitude is below this fraction of the operands' are cancellation
/// residue (`0.1 + 0.2 - 0.3`) and are taken as exactly zero.
const FLOAT_CANCELLATION: f64 = 8.0 * f64::EPSILON;

impl Number {
    pub(crate) const ZERO: Number = Number::Exact(Rational::ZERO);
    pub(crate) const ONE: Number = Number::Exact(Rational::ONE);

    pub(crate) fn int(n: i128) -> Number {
        Number::Exact(Rational::int(n))
    }

    /// A typed literal: exact when it is an integer, a float otherwise.
    pub(crate) fn literal(v: f64) -> Number {
        match Rational::from_integral_f64(v) {
            Some(r) => Number::Exact(r),
            None => Number::Float(v + 0.0),
        }
    }

    pub(crate) fn to_f64(self) -> f64 {
        match self {
            Number::Exact(r) => r.to_f64(),
            Number::Float(v) => v,
        }
    }

    pub(crate) fn exact(self) -> Option<Rational> {
        match self {
            Number::Exact(r) => Some(r),
            Number::Float(_) => None,
        }
    }

    pub(crate) fn is_zero(self) -> bool {
        self.to_f64() == 0.0
    }

    pub(crate) fn is_one(self) -> bool {
        matches!(self, Number::Exact(r) if r == Rational::ONE)
            || matches!(self, Number::Float(v) if v == 1.0)
    }

    pub(crate) fn is_negative(self) -> bool {
        self.to_f64() < 0.0
    }

    pub(crate) fn is_integer(self) -> bool {
        match self {
            Number::Exact(r) => r.is_integer(),
            Number::Float(v) => v.fract() == 0.0,
        }
    }

    fn float(v: f64) -> Option<Number> {
        v.is_finite().then_some(Number::Float(v + 0.0))
    }

    pub(crate) fn neg(self) -> Option<Number> {
        match self {
            Number::Exact(r) => r.neg().map(Number::Exact),
            Number::Float(v) => Some(Number::Float(-v + 0.0)),
        }
    }

    pub(crate) fn add(self, o: Number) -> Option<Number> {
        match (self, o) {
            (Number::Exact(a), Number::Exact(b)) => a.add(b).map(Number::Exact),
            _ => {
                let (a, b) = (self.to_f64(), o.to_f64());
                let s = a + b;
                if s.abs() <= FLOAT_CANCELLATION * a.abs().max(b.abs()) {
                    Some(Number::ZERO)
                } else {
                    Number::float(s)
                }
            }
        }
    }

    pub(crate) fn mul(self, o: Number) -> Option<Number> {
        match (self, o) {
            (Number::Exact(a), Number::Exact(b)) => a.mul(b).map(Number::Exact),
            // An exact zero annihilates a float too.
            (Number::Exact(a), _) | (_, Number::Exact(a)) if a.is_zero() => Some(Number::ZERO),
            _ => Number::float(self.to_f64() * o.to_f64()),
        }
    }

    /// `self^e` when it is a number of the same kind: exact for an exact base and an integer
    /// exponent, or a rational exponent whose root is exact (`4^(1/2) = 2`); a float when either
    /// is a float; `None` when the result is not exact (`2^(1/2)`), not real or not finite.
    pub(crate) fn pow(self, e: Number) -> Option<Number> {
        match (self, e) {
            (Number::Exact(b), Number::Exact(r)) => {
                if r.is_integer() {
                    // Keep towers like 2^1000 symbolic instead of overflowing.
                    if r.numer().abs() > 4096 && b.numer().abs() > 1 {
                        return None;
                    }
                    return b.powi(r.numer()).map(Number::Exact);
                }
                let q = u32::try_from(r.denom()).ok()?;
                let root = b.root(q)?;
                root.powi(r.numer()).map(Number::Exact)
            }
            _ => {
                let v = super::expr::pow_f64(self.to_f64(), e.to_f64());
                Number::float(v)
            }
        }
    }
}
