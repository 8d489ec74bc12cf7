//! Critical points of a one-variable expression on an interval.

use std::fmt;

use super::diff::derivative;
use super::expr::Expr;
use crate::{Error, Result};

/// What kind of critical point f′(x) = 0 is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalKind {
    /// f″ > 0, or f′ changes sign from − to +.
    Minimum,
    /// f″ < 0, or f′ changes sign from + to −.
    Maximum,
    /// f″ = 0 and f′ keeps its sign (a stationary inflection point, like x³ at 0).
    Inflection,
}

impl CriticalKind {
    /// `minimum`, `maximum` or `inflection`.
    pub fn name(self) -> &'static str {
        match self {
            CriticalKind::Minimum => "minimum",
            CriticalKind::Maximum => "maximum",
            CriticalKind::Inflection => "inflection",
        }
    }
}

impl fmt::Display for CriticalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A point where f′(x) = 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Critical {
    pub x: f64,
    /// f(x).
    pub value: f64,
    pub kind: CriticalKind,
}

/// A point where f′ jumps across 0 without being 0 (|x| at 0, relu-like corners): f is not
/// differentiable there, so it is not a stationary point, but it may still be an extremum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kink {
    pub x: f64,
    /// f(x).
    pub value: f64,
    /// f′ just left of x (the left derivative).
    pub left_derivative: f64,
    /// f′ just right of x (the right derivative).
    pub right_derivative: f64,
}

impl Kink {
    /// `Minimum` when f′ goes from − to +, `Maximum` from + to −, `None` otherwise.
    pub fn extremum(&self) -> Option<CriticalKind> {
        if self.left_derivative < 0.0 && self.right_derivative > 0.0 {
            Some(CriticalKind::Minimum)
        } else if self.left_derivative > 0.0 && self.right_derivative < 0.0 {
            Some(CriticalKind::Maximum)
        } else {
            None
        }
    }
}

/// The stationary points and the kinks of a one-variable expression on an interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CriticalAnalysis {
    /// Points where f′(x) = 0, sorted by x.
    pub points: Vec<Critical>,
    /// Points where f′ changes sign by a jump (f′ undefined), sorted by x.
    pub kinks: Vec<Kink>,
}

/// Number of grid intervals on which f′ is sampled.
pub const GRID_INTERVALS: usize = 10_000;
/// Width to which roots are refined.
const ROOT_TOL: f64 = 1e-12;

/// A root of `g` in `[lo, hi]`, where g(lo) and g(hi) have opposite signs: Newton steps using
/// `dg`, falling back to bisection whenever a step would leave the bracket.
fn safeguarded_newton(g: &dyn Fn(f64) -> f64, dg: &dyn Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    let (g_lo, g_hi) = (g(lo), g(hi));
    if g_lo == 0.0 {
        return lo;
    }
    if g_hi == 0.0 {
        return hi;
    }
    // `neg` is the end where g < 0, `pos` where g > 0.
    let (mut neg, mut pos) = if g_lo < 0.0 { (lo, hi) } else { (hi, lo) };
    let mut x = 0.5 * (lo + hi);
    for _ in 0..500 {
        let gx = g(x);
        if gx == 0.0 || gx.is_nan() {
            return x;
        }
        if gx < 0.0 {
            neg = x;
        } else {
            pos = x;
        }
        let tol = ROOT_TOL * x.abs().max(1.0);
        if (pos - neg).abs() <= tol {
            return 0.5 * (pos + neg);
        }
        let newton = x - gx / dg(x);
        let (a, b) = if neg < pos { (neg, pos) } else { (pos, neg) };
        if newton.is_finite() && newton > a && newton < b {
            if (newton - x).abs() <= tol {
                return newton;
            }
            x = newton;
        } else {
            x = 0.5 * (neg + pos);
        }
    }
    x
}

/// Finds the critical points (f′(x) = 0) of a one-variable expression in `[a, b]`, sorted by x.
///
/// f′ is sampled on [`GRID_INTERVALS`] equal intervals. Roots are taken from grid points where
/// f′ is exactly 0, from intervals where f′ changes sign, and from double roots where f′ touches
/// 0 without changing sign (a local minimum of |f′| on the grid where f″ changes sign and f′ is
/// ~0 at the root of f″). Each is refined to 1e-12 with Newton's method on f′ (using the symbolic
/// f″), safeguarded by bisection, and duplicates are merged. The kind comes from the sign of f″,
/// or, where f″ ≈ 0, from the signs of f′ one grid step to either side (no sign change:
/// inflection). Points where f′ is not finite are skipped. Two critical points closer than the
/// grid spacing that cancel each other's sign change may be missed.
///
/// Errors with [`Error::Param`] when `a >= b`, either bound is not finite, or the expression has
/// no variable or more than one.
pub fn critical(expr: &Expr, a: f64, b: f64) -> Result<Vec<Critical>> {
    Ok(critical_and_kinks(expr, a, b)?.points)
}

/// As [`critical`], and the sign changes of f′ that are jumps, not zeros, are returned as
/// [`Kink`]s instead of being dropped: `abs(x)` on [−1, 2] has no stationary point and a kink
/// at 0 (f′ jumps from −1 to 1, a minimum). A root r of f′ is a jump when f′ at r ± 1e-8·(b − a)
/// is still more than half of f′ at r ± 1e-6·(b − a) on both sides (at a zero of a continuous
/// f′ it shrinks with the distance). Kinks where f′ jumps without changing sign are not
/// searched for.
pub fn critical_and_kinks(expr: &Expr, a: f64, b: f64) -> Result<CriticalAnalysis> {
    if !(a.is_finite() && b.is_finite()) {
        return Err(Error::param(
            "interval",
            format!("{a}..{b}: bounds must be finite"),
        ));
    }
    if a >= b {
        return Err(Error::param(
            "interval",
            format!("{a}..{b}: the start must be below the end"),
        ));
    }
    let variables = expr.variables();
    let var = match variables.as_slice() {
        [v] => v.clone(),
        [] => {
            return Err(Error::param(
                "expression",
                "it has no variable, so it is constant (every point is critical)",
            ))
        }
        many => {
            return Err(Error::param(
                "expression",
                format!(
                    "critical points need exactly one variable, found {}",
                    many.join(", ")
                ),
            ))
        }
    };
    let d1 = derivative(expr, &var);
    let d2 = derivative(&d1, &var);
    let d3 = derivative(&d2, &var);
    let at = |e: &Expr, x: f64| e.eval(&[(var.as_str(), x)]).unwrap_or(f64::NAN);
    let f = |x: f64| at(expr, x);
    let f1 = |x: f64| at(&d1, x);
    let f2 = |x: f64| at(&d2, x);
    let f3 = |x: f64| at(&d3, x);

    let n = GRID_INTERVALS;
    let h = (b - a) / n as f64;
    let xs: Vec<f64> = (0..=n)
        .map(|i| if i == n { b } else { a + h * i as f64 })
        .collect();
    let g: Vec<f64> = xs.iter().map(|&x| f1(x)).collect();
    let g2: Vec<f64> = xs.iter().map(|&x| f2(x)).collect();
    let max_abs = |v: &[f64]| {
        v.iter()
            .filter(|x| x.is_finite())
            .fold(1.0f64, |m, x| m.max(x.abs()))
    };
    let touch_tol = 1e-9 * max_abs(&g);
    let flat_tol = 1e-9 * max_abs(&g2);

    let mut roots = Vec::new();
    for i in 0..=n {
        if g[i] == 0.0 {
            roots.push(xs[i]);
        }
    }
    for i in 0..n {
        if g[i].is_finite() && g[i + 1].is_finite() && g[i] * g[i + 1] < 0.0 {
            roots.push(safeguarded_newton(&f1, &f2, xs[i], xs[i + 1]));
        }
    }
    for i in 1..n {
        let (l, m, r) = (g[i - 1], g[i], g[i + 1]);
        let same_sign = (l > 0.0 && m > 0.0 && r > 0.0) || (l < 0.0 && m < 0.0 && r < 0.0);
        if same_sign && m.abs() <= l.abs() && m.abs() <= r.abs() {
            let (sl, sr) = (g2[i - 1], g2[i + 1]);
            if sl.is_finite() && sr.is_finite() && sl * sr < 0.0 {
                let x = safeguarded_newton(&f2, &f3, xs[i - 1], xs[i + 1]);
                if f1(x).abs() <= touch_tol {
                    roots.push(x);
                }
            }
        }
    }
    roots.retain(|x| x.is_finite() && *x >= a && *x <= b);
    roots.sort_by(f64::total_cmp);
    roots.dedup_by(|x, y| (*x - *y).abs() <= 1e-9 * x.abs().max(1.0));

    let far = 1e-6 * (b - a);
    let near = 1e-8 * (b - a);
    let mut analysis = CriticalAnalysis::default();
    for mut x in roots {
        let (l1, l2, r1, r2) = (f1(x - far), f1(x - near), f1(x + far), f1(x + near));
        let jump = l1 != 0.0
            && r1 != 0.0
            && l2.abs() > 0.5 * l1.abs()
            && r2.abs() > 0.5 * r1.abs()
            && l1.signum() != r1.signum();
        if jump {
            // The jump is located to the root tolerance; a corner at 0 is reported at 0.
            if x.abs() <= ROOT_TOL * (b - a).max(1.0) && a <= 0.0 && b >= 0.0 {
                x = 0.0;
            }
            analysis.kinks.push(Kink {
                x,
                value: f(x),
                left_derivative: l2,
                right_derivative: r2,
            });
            continue;
        }
        let curvature = f2(x);
        let kind = if curvature > flat_tol {
            CriticalKind::Minimum
        } else if curvature < -flat_tol {
            CriticalKind::Maximum
        } else {
            let (left, right) = (f1(x - h), f1(x + h));
            if left < 0.0 && right > 0.0 {
                CriticalKind::Minimum
            } else if left > 0.0 && right < 0.0 {
                CriticalKind::Maximum
            } else {
                CriticalKind::Inflection
            }
        };
        analysis.points.push(Critical {
            x,
            value: f(x),
            kind,
        });
    }
    Ok(analysis)
}
