//! The Hessian, and stationary points of an expression in several variables: ∇f = 0 solved by
//! Newton's method from a grid of starts, each point classified by the Hessian's eigenvalues.

use std::fmt;

use super::descent::Point;
use super::diff::derivative;
use super::expr::Expr;
use crate::{Error, Result};

/// The symbolic Hessian of `expr`: its variables (alphabetical) and the matrix of simplified
/// second partial derivatives, `h[i][j]` = ∂²f/∂vᵢ∂vⱼ (the mixed partials are computed once and
/// mirrored, as they are equal wherever f is twice continuously differentiable).
///
/// ```
/// use nabla::calculus::{hessian, parse};
/// let (vars, h) = hessian(&parse("x^2*y - y^3").unwrap());
/// assert_eq!(vars, ["x", "y"]);
/// assert_eq!(h[0][0].to_string(), "2*y");
/// assert_eq!(h[0][1].to_string(), "2*x");
/// assert_eq!(h[1][1].to_string(), "-6*y");
/// ```
pub fn hessian(expr: &Expr) -> (Vec<String>, Vec<Vec<Expr>>) {
    let vars = expr.variables();
    let first: Vec<Expr> = vars.iter().map(|v| derivative(expr, v)).collect();
    let n = vars.len();
    let mut h = vec![vec![Expr::Num(0.0); n]; n];
    for i in 0..n {
        for j in i..n {
            let d = derivative(&first[i], &vars[j]);
            h[j][i] = d.clone();
            h[i][j] = d;
        }
    }
    (vars, h)
}

/// A symbolic matrix evaluated at a point.
pub fn eval_matrix(m: &[Vec<Expr>], point: &Point) -> Result<Vec<Vec<f64>>> {
    m.iter()
        .map(|row| row.iter().map(|e| e.eval(point)).collect())
        .collect()
}

/// The eigenvalues of a symmetric matrix, ascending (cyclic Jacobi rotations).
pub fn symmetric_eigenvalues(m: &[Vec<f64>]) -> Vec<f64> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        let scale: f64 = (0..n).map(|i| a[i][i] * a[i][i]).sum::<f64>() + off;
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (row_p, row_q) = (a[p].clone(), a[q].clone());
                for (k, (apk, aqk)) in row_p.iter().zip(&row_q).enumerate() {
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
            }
        }
    }
    let mut eig: Vec<f64> = (0..n).map(|i| a[i][i]).collect();
    eig.sort_by(f64::total_cmp);
    eig
}

/// What the Hessian says about a stationary point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StationaryKind {
    /// Every eigenvalue > 0.
    Minimum,
    /// Every eigenvalue < 0.
    Maximum,
    /// Eigenvalues of both signs.
    Saddle,
    /// An eigenvalue ≈ 0 and no two of opposite signs: the second derivatives cannot tell.
    Degenerate,
}

impl StationaryKind {
    /// `minimum`, `maximum`, `saddle` or `degenerate`.
    pub fn name(self) -> &'static str {
        match self {
            StationaryKind::Minimum => "minimum",
            StationaryKind::Maximum => "maximum",
            StationaryKind::Saddle => "saddle",
            StationaryKind::Degenerate => "degenerate",
        }
    }

    /// The kind given by eigenvalues; |λ| ≤ 1e-8·max(1, max|λ|) counts as 0.
    pub fn from_eigenvalues(eigenvalues: &[f64]) -> StationaryKind {
        let big = eigenvalues.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        let tol = 1e-8 * big;
        let pos = eigenvalues.iter().filter(|&&v| v > tol).count();
        let neg = eigenvalues.iter().filter(|&&v| v < -tol).count();
        if pos > 0 && neg > 0 {
            StationaryKind::Saddle
        } else if pos == eigenvalues.len() {
            StationaryKind::Minimum
        } else if neg == eigenvalues.len() {
            StationaryKind::Maximum
        } else {
            StationaryKind::Degenerate
        }
    }
}

impl fmt::Display for StationaryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A point where ∇f = 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Stationary {
    pub point: Point,
    /// f at the point.
    pub value: f64,
    pub kind: StationaryKind,
    /// The Hessian at the point, rows and columns in the variables' order.
    pub hessian: Vec<Vec<f64>>,
    /// Its eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
}

/// Solves `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-14 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..n {
            let k = a[row][col] / a[col][col];
            let pivot_row = a[col].clone();
            for (x, y) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= k * y;
            }
            b[row] -= k * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Starts per variable: about 400 starts in all, at least 3 and at most 20 per variable.
fn starts_per_variable(n: usize) -> usize {
    ((400f64).powf(1.0 / n as f64).floor() as usize).clamp(3, 20)
}

/// Finds the stationary points (∇f = 0) of `expr` in the box given by `ranges` (one
/// `(variable, low, high)` per variable of the expression), sorted by position.
///
/// Newton's method on the gradient, x ← x − H(x)⁻¹∇f(x) with the symbolic Hessian, runs from
/// the centres of a grid of cells over the box (about 400 starts in all); a run counts when it
/// ends inside the box with ‖∇f‖∞ ≤ 1e-10·(1 + |f|) and a Newton step ≤ 1e-10 of the box's
/// diameter (or ∇f exactly 0). Points closer than 1e-6 of the box's
/// diameter are merged. Each point is classified by the eigenvalues of the Hessian there
/// ([`StationaryKind::from_eigenvalues`]). Stationary points where the Hessian is singular are
/// found only when Newton's steps reach them (x⁴ + y⁴ at the origin: reached, degenerate).
///
/// Errors with [`Error::Param`] for a missing, unknown, repeated or empty range, or an
/// expression without variables.
pub fn stationary_points(expr: &Expr, ranges: &[(String, f64, f64)]) -> Result<Vec<Stationary>> {
    let vars = expr.variables();
    if vars.is_empty() {
        return Err(Error::param(
            "expression",
            "it has no variable, so it is constant (every point is stationary)",
        ));
    }
    let mut bounds = Vec::with_capacity(vars.len());
    for v in &vars {
        let mut found = ranges.iter().filter(|(name, _, _)| name == v);
        let Some(&(_, lo, hi)) = found.next() else {
            return Err(Error::param(
                "ranges",
                format!("no range for variable '{v}'"),
            ));
        };
        if found.next().is_some() {
            return Err(Error::param("ranges", format!("'{v}' is given twice")));
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(Error::param(
                "ranges",
                format!("{v} = {lo}..{hi}: bounds must be finite with the start below the end"),
            ));
        }
        bounds.push((lo, hi));
    }
    if let Some((name, _, _)) = ranges.iter().find(|(n, _, _)| !vars.contains(n)) {
        return Err(Error::param(
            "ranges",
            format!("'{name}' is not a variable of the expression"),
        ));
    }
    let n = vars.len();
    let gradient: Vec<Expr> = vars.iter().map(|v| derivative(expr, v)).collect();
    let (_, h) = hessian(expr);
    let to_point = |x: &[f64]| -> Point { vars.iter().cloned().zip(x.iter().copied()).collect() };
    let eval_vec = |es: &[Expr], p: &Point| -> Vec<f64> {
        es.iter().map(|e| e.eval(p).unwrap_or(f64::NAN)).collect()
    };
    let diameter = bounds
        .iter()
        .map(|(lo, hi)| (hi - lo) * (hi - lo))
        .sum::<f64>()
        .sqrt();
    let k = starts_per_variable(n);
    let total = k.pow(n as u32);
    let mut found: Vec<Vec<f64>> = Vec::new();
    for index in 0..total {
        let mut rest = index;
        let mut x: Vec<f64> = bounds
            .iter()
            .map(|(lo, hi)| {
                let i = rest % k;
                rest /= k;
                lo + (hi - lo) * (i as f64 + 0.5) / k as f64
            })
            .collect();
        let mut converged = false;
        for _ in 0..200 {
            let p = to_point(&x);
            let g = eval_vec(&gradient, &p);
            let value = expr.eval(&p).unwrap_or(f64::NAN);
            if g.iter().any(|v| !v.is_finite()) || !value.is_finite() {
                break;
            }
            let small_gradient =
                g.iter().fold(0.0f64, |m, v| m.max(v.abs())) <= 1e-10 * (1.0 + value.abs());
            if g.iter().all(|v| *v == 0.0) {
                converged = true;
                break;
            }
            let Ok(hm) = eval_matrix(&h, &p) else { break };
            let Some(step) = solve(hm, g) else {
                // A singular Hessian: accept the point only if the gradient vanishes there.
                converged = small_gradient;
                break;
            };
            for (xi, si) in x.iter_mut().zip(&step) {
                *xi -= si;
            }
            if x.iter().any(|v| !v.is_finite()) {
                break;
            }
            // Newton's step has shrunk to nothing: quadratic convergence at a regular point,
            // geometric at a degenerate one (x^4), both end here.
            if small_gradient && step.iter().fold(0.0f64, |m, v| m.max(v.abs())) <= 1e-10 * diameter
            {
                converged = true;
                break;
            }
        }
        let inside = x
            .iter()
            .zip(&bounds)
            .all(|(v, (lo, hi))| *v >= lo - 1e-9 * (hi - lo) && *v <= hi + 1e-9 * (hi - lo));
        if !(converged && inside) {
            continue;
        }
        let close = |a: &Vec<f64>| {
            a.iter()
                .zip(&x)
                .map(|(p, q)| (p - q) * (p - q))
                .sum::<f64>()
                .sqrt()
                <= 1e-6 * diameter
        };
        if !found.iter().any(close) {
            found.push(x);
        }
    }
    found.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(p, q)| p.total_cmp(q))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    found
        .into_iter()
        .map(|x| {
            // Rounding residue of an exact zero (1e-17) prints as 0.
            let x: Vec<f64> = x
                .iter()
                .map(|v| if v.abs() <= 1e-12 * diameter { 0.0 } else { *v })
                .collect();
            let point = to_point(&x);
            let hessian = eval_matrix(&h, &point)?;
            let eigenvalues = symmetric_eigenvalues(&hessian);
            Ok(Stationary {
                value: expr.eval(&point)?,
                kind: StationaryKind::from_eigenvalues(&eigenvalues),
                point,
                hessian,
                eigenvalues,
            })
        })
        .collect()
}
