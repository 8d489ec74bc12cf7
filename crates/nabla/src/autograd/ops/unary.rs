//! Elementwise functions and their derivatives.
//!
//! Conventions at kinks (where the function has no derivative, we pick one value and pin it in
//! tests): `relu'(0) = 0`, `|x|'(0) = 0`, `leaky_relu'(0) = alpha` (the left-hand slope).
//! At other singular points the IEEE result is returned: `ln'(0) = +inf`, `sqrt'(0) = +inf`,
//! `powf` with p < 1 at 0 gives inf.

use super::pointwise_grad;
use crate::autograd::Var;
use crate::ops::activation as act;
use crate::{Element, Result};

fn two<E: Element>() -> E {
    E::ONE + E::ONE
}

/// sign(x), with 0 at 0.
fn sign<E: Element>(x: E) -> E {
    if x > E::ZERO {
        E::ONE
    } else if x < E::ZERO {
        -E::ONE
    } else {
        E::ZERO
    }
}

/// Writes the parameter-free elementwise methods from a table: each entry is the method (the
/// tensor kernel of the same name computes its value) and its derivative from the input `x`
/// and the output `y = f(x)`, whichever is cheaper. A table so that each op reads as its
/// function beside its derivative, not as one more copy of the same eight-line method.
macro_rules! pointwise_ops {
    ($($(#[doc = $doc:literal])* $name:ident: |$x:ident, $y:ident| $derivative:expr;)*) => {
        impl<E: Element> Var<E> {
            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> Var<E> {
                    let value = self.value().$name();
                    self.unary_op(value, stringify!($name), |g, x, y| {
                        pointwise_grad(g, x, y, |$x: E, $y: E| $derivative)
                    })
                }
            )*
        }
    };
}

pointwise_ops! {
    /// e^x; derivative e^x.
    exp: |_x, y| y;
    /// Natural logarithm; derivative 1/x.
    ln: |x, _y| E::ONE / x;
    /// √x; derivative 1/(2√x).
    sqrt: |_x, y| E::ONE / (two::<E>() * y);
    /// |x|; derivative sign(x), taken as **0 at x = 0**.
    abs: |x, _y| sign(x);
    /// sin x; derivative cos x.
    sin: |x, _y| x.cos();
    /// cos x; derivative −sin x.
    cos: |x, _y| -x.sin();
    /// tan x; derivative 1 + tan² x.
    tan: |_x, y| E::ONE + y * y;
    /// arcsin x on [−1, 1]; derivative 1/√(1 − x²) (+inf at ±1).
    asin: |x, _y| E::ONE / (E::ONE - x * x).sqrt();
    /// arccos x on [−1, 1]; derivative −1/√(1 − x²) (−inf at ±1).
    acos: |x, _y| -E::ONE / (E::ONE - x * x).sqrt();
    /// arctan x; derivative 1/(1 + x²).
    atan: |x, _y| E::ONE / (E::ONE + x * x);
    /// Logistic sigmoid σ(x) (stable for large |x|); derivative σ(1 − σ), from the output.
    sigmoid: |_x, y| act::sigmoid_derivative_from_output(y);
    /// tanh x; derivative 1 − tanh² x, from the output.
    tanh: |_x, y| act::tanh_derivative_from_output(y);
    /// max(x, 0); derivative 1 for x > 0 and 0 otherwise, so **relu'(0) = 0**.
    relu: |x, _y| act::relu_derivative(x);
    /// ln(1 + e^x) (stable); derivative σ(x).
    softplus: |x, _y| act::softplus_derivative(x);
}

impl<E: Element> Var<E> {
    /// x^p for a constant exponent p; derivative p·x^(p−1).
    pub fn powf(&self, p: E) -> Var<E> {
        let value = self.value().powf(p);
        self.unary_op(value, "powf", move |g, x, y| {
            // For p = 0 the function is the constant 1 (0^0 = 1), so the derivative is 0
            // everywhere, also at x = 0 where p·x^(p−1) would be 0·∞ = NaN.
            pointwise_grad(g, x, y, |x, _| {
                if p == E::ZERO {
                    E::ZERO
                } else {
                    p * x.powf(p - E::ONE)
                }
            })
        })
    }

    /// x^y elementwise with both base and exponent differentiable (broadcasting). The exponent's
    /// gradient x^y·ln x needs x > 0 (it is NaN for negative bases and 0·(−inf) = NaN at 0).
    pub fn pow(&self, exponent: &Var<E>) -> Result<Var<E>> {
        let value = self
            .value()
            .zip_broadcast(&exponent.value(), "pow", |x, y| x.powf(y))?;
        // ∂(x^y)/∂x = y·x^(y−1); ∂(x^y)/∂y = x^y·ln x, on the operands broadcast to the output.
        Ok(self.binary_op(
            exponent,
            value,
            "pow",
            |g, base, exponent, out| {
                let x = base.broadcast_to(out.shape())?;
                let y = exponent.broadcast_to(out.shape())?;
                let local = y.zip_map(&x, |y, x| y * x.powf(y - E::ONE))?;
                g.mul(&local)?.sum_to_shape(base.shape())
            },
            |g, base, exponent, out| {
                let x = base.broadcast_to(out.shape())?;
                let local = out.zip_map(&x, |o, x| o * x.ln())?;
                g.mul(&local)?.sum_to_shape(exponent.shape())
            },
        ))
    }

    /// Alias of [`Var::ln`].
    pub fn log(&self) -> Var<E> {
        self.ln()
    }

    /// x for x > 0, alpha·x otherwise; derivative 1 for x > 0 and alpha otherwise, so
    /// **leaky_relu'(0) = alpha**.
    pub fn leaky_relu(&self, alpha: E) -> Var<E> {
        let value = self.value().leaky_relu(alpha);
        self.unary_op(value, "leaky_relu", move |g, x, y| {
            pointwise_grad(g, x, y, |x, _| act::leaky_relu_derivative(x, alpha))
        })
    }
}
