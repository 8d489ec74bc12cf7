//! Symbolic calculus on typed expressions.
//!
//! * Numbers are exact: integers and their quotients are rationals (`x/3` stays `x/3`), `pi`,
//!   `e` and `sqrt(2)` stay symbolic; decimals typed as such (`0.25`) are f64.
//! * [`parse`] reads an expression such as `x^2*y + sin(x*y) - 3e-1/z` (grammar in
//!   [`parser`]): numbers, variables `[A-Za-z_][A-Za-z0-9_]*`, `+ - * / ^` (`^` binds tightest
//!   and is right-associative, `-x^2` is `-(x^2)`), parentheses, the constants `pi` and `e`, and
//!   the functions `sin cos tan exp log ln sqrt abs tanh sigmoid relu softplus step sign sinh
//!   cosh asin acos atan asinh acosh atanh sec csc cot log10 log2` (`log` = `ln` = natural
//!   logarithm) and the two-argument `min(u, v)` and `max(u, v)`.
//! * [`Expr::eval`] evaluates in f64; [`Expr::variables`] lists the variables alphabetically.
//! * [`diff`] differentiates symbolically, [`simplify`] rewrites into a polynomial normal form,
//!   [`derivative`] does both, [`gradient`] gives every partial derivative, and
//!   [`diff_with_steps`] also returns the derivation as a list of [`Step`]s.
//! * [`minimize`] runs gradient descent with the symbolic gradient; [`critical`] finds and
//!   classifies the critical points of a one-variable expression on an interval
//!   ([`critical_and_kinks`] also reports the corners where f′ jumps); [`hessian`] gives the
//!   symbolic Hessian and [`stationary_points`] solves ∇f = 0 in several variables, each point
//!   classified by the Hessian's eigenvalues.
//! * [`integrate`] finds antiderivatives by a table of rules, recording each as a step;
//!   [`integrate_definite`] gives F(b) − F(a) exactly, or adaptive Gauss–Kronrod
//!   [`quadrature`] with an error estimate when no rule applies.
//! * [`to_latex`] writes an expression in LaTeX, [`text_to_latex`] a rule's text, and
//!   [`IntegrationStep::to_latex`] a step of an integral.
//! * [`taylor`] gives the Taylor polynomial with exact coefficients, and
//!   [`taylor_remainder_bound`] the Lagrange bound on its error over an interval.
//! * [`Expr::eval_checked`] evaluates with domain errors ([`crate::Error::Domain`]) instead of
//!   NaN and ±∞.
//! * [`to_autograd`] builds the same expression as an autograd graph of [`crate::autograd::Var`]s,
//!   so the symbolic and reverse-mode derivatives can be held to each other.
//!
//! Kinks follow autograd: relu′(0) = step(0) = 0, |u|′(0) = sign(0) = 0, and where the
//! arguments of `min`/`max` tie the derivative is the mean of theirs.
//!
//! ```
//! use nabla::calculus::{derivative, parse};
//! let f = parse("x*(x-1)*(x-2)*(x-3)").unwrap();
//! assert_eq!(derivative(&f, "x").to_string(), "4*x^3 - 18*x^2 + 22*x - 6");
//! ```

mod critical;
mod descent;
mod diff;
mod expr;
mod integrate;
mod latex;
mod number;
pub mod parser;
mod partial_fractions;
mod simplify;
mod stationary;
mod to_autograd;

pub use critical::{
    critical, critical_and_kinks, Critical, CriticalAnalysis, CriticalKind, Kink, GRID_INTERVALS,
};
pub use descent::{minimize, Descent, DescentOptions, DescentStep, Point};
pub use diff::{derivative, diff, diff_with_steps, gradient, tidy, Rule, Step};
pub use expr::{Bindings, Constant, Expr, Func, Func2};
pub use integrate::{
    integrate, integrate_definite, quadrature, substitute, taylor, taylor_remainder_bound,
    Antiderivative, Definite, IntegrationStep, Method, RemainderBound, REMAINDER_SAMPLES,
};
pub use latex::{text_to_latex, to_latex};
pub use parser::parse;
pub use simplify::simplify;
pub use stationary::{
    eval_matrix, hessian, stationary_points, symmetric_eigenvalues, Stationary, StationaryKind,
};
pub use to_autograd::to_autograd;

#[cfg(test)]
mod tests;
