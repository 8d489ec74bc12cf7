//! Plain gradient descent on an expression, with the symbolic gradient.

use std::collections::BTreeMap;

use super::diff::derivative;
use super::expr::Expr;
use crate::{Error, Result};

/// A point: variable name → value.
pub type Point = BTreeMap<String, f64>;

/// Settings of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DescentOptions {
    /// Learning rate (step size) `lr` in x ← x − lr·∇f(x); must be finite and positive.
    pub lr: f64,
    /// Most updates to make.
    pub max_steps: usize,
    /// Stop when the gradient norm or the last step's norm is below this; must be ≥ 0.
    pub tol: f64,
}

impl Default for DescentOptions {
    /// `lr = 0.05`, `max_steps = 10000`, `tol = 1e-10`.
    fn default() -> Self {
        DescentOptions {
            lr: 0.05,
            max_steps: 10_000,
            tol: 1e-10,
        }
    }
}

/// The state of the descent before one update.
#[derive(Debug, Clone, PartialEq)]
pub struct DescentStep {
    /// Number of updates made before this state (0 for the starting point).
    pub step: usize,
    /// Where the descent is.
    pub point: Point,
    /// f at `point`.
    pub value: f64,
    /// ∇f at `point`, per variable.
    pub gradient: Point,
}

/// The result of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Descent {
    /// Every state visited: `steps[k]` is the state before update k+1, and the last entry is the
    /// final state (so `steps.len() == iterations + 1`).
    pub steps: Vec<DescentStep>,
    /// The final point.
    pub point: Point,
    /// f at the final point.
    pub value: f64,
    /// Number of updates made.
    pub iterations: usize,
    /// Whether the gradient norm or the step norm fell below `tol` (false: `max_steps` reached).
    pub converged: bool,
}

fn norm(values: impl Iterator<Item = f64>) -> f64 {
    values.map(|v| v * v).sum::<f64>().sqrt()
}

/// Minimises `expr` by plain gradient descent x ← x − lr·∇f(x) from `from`, using the
/// simplified symbolic partial derivatives.
///
/// Stops with `converged = true` when ‖∇f‖ < tol or the last step's norm lr·‖∇f‖ < tol, and with
/// `converged = false` after `max_steps` updates. `from` must give a value to every variable of
/// `expr` and to nothing else. Errors: [`Error::Param`] for a bad `lr`/`tol` or a missing/unknown
/// variable in `from`; [`Error::Eval`] naming the step when the value or the gradient becomes
/// non-finite (divergence, or leaving the domain as in `ln(x)` at x ≤ 0).
pub fn minimize(expr: &Expr, from: &Point, options: &DescentOptions) -> Result<Descent> {
    if !(options.lr.is_finite() && options.lr > 0.0) {
        return Err(Error::param(
            "learning rate",
            format!("{} (must be finite and positive)", options.lr),
        ));
    }
    if options.tol.is_nan() || options.tol < 0.0 {
        return Err(Error::param(
            "tolerance",
            format!("{} (must be at least 0)", options.tol),
        ));
    }
    let variables = expr.variables();
    for v in &variables {
        if !from.contains_key(v) {
            return Err(Error::param(
                "starting point",
                format!("no value for variable '{v}'"),
            ));
        }
    }
    for name in from.keys() {
        if !variables.contains(name) {
            return Err(Error::param(
                "starting point",
                format!("'{name}' is not a variable of the expression"),
            ));
        }
    }
    if let Some((name, v)) = from.iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::param(
            "starting point",
            format!("{name} = {v} is not finite"),
        ));
    }
    let partials: Vec<(String, Expr)> = variables
        .iter()
        .map(|v| (v.clone(), derivative(expr, v)))
        .collect();

    let mut point = from.clone();
    let mut steps = Vec::new();
    let mut last_step_norm = f64::INFINITY;
    let mut k = 0;
    let converged = loop {
        let value = expr.eval(&point)?;
        let mut gradient = Point::new();
        for (v, d) in &partials {
            gradient.insert(v.clone(), d.eval(&point)?);
        }
        if !value.is_finite() || gradient.values().any(|g| !g.is_finite()) {
            let shown: Vec<String> = point.iter().map(|(n, x)| format!("{n} = {x}")).collect();
            return Err(Error::Eval(format!(
                "gradient descent diverged at step {k}: value {value}, gradient {:?} at ({})",
                gradient.values().collect::<Vec<_>>(),
                shown.join(", ")
            )));
        }
        let gradient_norm = norm(gradient.values().copied());
        steps.push(DescentStep {
            step: k,
            point: point.clone(),
            value,
            gradient: gradient.clone(),
        });
        if gradient_norm < options.tol || last_step_norm < options.tol {
            break true;
        }
        if k == options.max_steps {
            break false;
        }
        for (v, g) in &gradient {
            if let Some(x) = point.get_mut(v) {
                *x -= options.lr * g;
            }
        }
        last_step_norm = options.lr * gradient_norm;
        k += 1;
    };
    let last = steps.last().expect("at least the starting state");
    Ok(Descent {
        point: last.point.clone(),
        value: last.value,
        iterations: k,
        converged,
        steps,
    })
}
