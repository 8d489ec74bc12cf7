//! Elementwise functions and their derivatives.
//!
//! Conventions at kinks (where the function has no derivative, we pick one value and pin it in
//! tests): `relu'(0) = 0`, `|x|'(0) = 0`, `leaky_relu'(0) = alpha` (the left-hand slope).
//! At other singular points the IEEE result is returned: `ln'(0) = +inf`, `sqrt'(0) = +inf`,
//! `powf` with p < 1 at 0 gives inf.

use super::{pointwise_grad, pointwise_grad_graph};
use crate::autograd::Var;
use crate::ops::activation as act;
use crate::{Element, Result, Tensor};

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
/// tensor kernel of the same name computes its value), its derivative from the input `x` and
/// the output `y = f(x)` as numbers (whichever is cheaper: what the first-order walk runs), and
/// after `;` the same derivative as graph operations on the nodes `x` and `y` (what second
/// derivatives run and differentiate again). A table so that each op reads as its function
/// beside its derivative, not as one more copy of the same eight-line method.
macro_rules! pointwise_ops {
    ($($(#[doc = $doc:literal])* $name:ident: |$x:ident, $y:ident| $derivative:expr; $graph:expr;)*) => {
        impl<E: Element> Var<E> {
            $(
                $(#[doc = $doc])*
                pub fn $name(&self) -> Var<E> {
                    let value = self.value().$name();
                    self.unary_op(
                        value,
                        stringify!($name),
                        (
                            |g, x, y| pointwise_grad(g, x, y, |$x: E, $y: E| $derivative),
                            |g, $x, $y| pointwise_grad_graph(g, $graph),
                        ),
                    )
                }
            )*
        }
    };
}

/// A constant of the graph holding `f` of each element of `x`: the local derivative of an op
/// that is piecewise linear, whose own derivative is 0 (away from its kinks).
fn piecewise_constant<E: Element>(x: &Var<E>, f: impl Fn(E) -> E) -> Result<Var<E>> {
    Ok(Var::constant(x.value().map(f)))
}

pointwise_ops! {
    /// e^x; derivative e^x.
    exp: |_x, y| y; Ok(y.clone());
    /// Natural logarithm; derivative 1/x.
    ln: |x, _y| E::ONE / x; Ok(x.powf(-E::ONE));
    /// √x; derivative 1/(2√x).
    sqrt: |_x, y| E::ONE / (two::<E>() * y); Ok(y.powf(-E::ONE).mul_scalar(E::ONE / two::<E>()));
    /// |x|; derivative sign(x), taken as **0 at x = 0**.
    abs: |x, _y| sign(x); piecewise_constant(x, sign);
    /// sin x; derivative cos x.
    sin: |x, _y| x.cos(); Ok(x.cos());
    /// cos x; derivative −sin x.
    cos: |x, _y| -x.sin(); Ok(x.sin().neg());
    /// tan x; derivative 1 + tan² x.
    tan: |_x, y| E::ONE + y * y; Ok(y.mul(y)?.add_scalar(E::ONE));
    /// arcsin x on [−1, 1]; derivative 1/√(1 − x²) (+inf at ±1).
    asin: |x, _y| E::ONE / (E::ONE - x * x).sqrt(); Ok(x.mul(x)?.neg().add_scalar(E::ONE).powf(-E::ONE / two::<E>()));
    /// arccos x on [−1, 1]; derivative −1/√(1 − x²) (−inf at ±1).
    acos: |x, _y| -E::ONE / (E::ONE - x * x).sqrt(); Ok(x.mul(x)?.neg().add_scalar(E::ONE).powf(-E::ONE / two::<E>()).neg());
    /// arctan x; derivative 1/(1 + x²).
    atan: |x, _y| E::ONE / (E::ONE + x * x); Ok(x.mul(x)?.add_scalar(E::ONE).powf(-E::ONE));
    /// Logistic sigmoid σ(x) (stable for large |x|); derivative σ(1 − σ), from the output.
    sigmoid: |_x, y| act::sigmoid_derivative_from_output(y); y.mul(&y.neg().add_scalar(E::ONE));
    /// tanh x; derivative 1 − tanh² x, from the output.
    tanh: |_x, y| act::tanh_derivative_from_output(y); Ok(y.mul(y)?.neg().add_scalar(E::ONE));
    /// max(x, 0); derivative 1 for x > 0 and 0 otherwise, so **relu'(0) = 0**; second
    /// derivative 0.
    relu: |x, _y| act::relu_derivative(x); piecewise_constant(x, act::relu_derivative);
    /// ln(1 + e^x) (stable); derivative σ(x).
    softplus: |x, _y| act::softplus_derivative(x); Ok(x.sigmoid());
}

impl<E: Element> Var<E> {
    /// x^p for a constant exponent p; derivative p·x^(p−1).
    pub fn powf(&self, p: E) -> Var<E> {
        let value = self.value().powf(p);
        // For p = 0 the function is the constant 1 (0^0 = 1), so the derivative is 0
        // everywhere, also at x = 0 where p·x^(p−1) would be 0·∞ = NaN.
        self.unary_op(
            value,
            "powf",
            (
                move |g, x, y| {
                    pointwise_grad(g, x, y, |x, _| {
                        if p == E::ZERO {
                            E::ZERO
                        } else {
                            p * x.powf(p - E::ONE)
                        }
                    })
                },
                move |g, x, _y| {
                    if p == E::ZERO {
                        Ok(Var::constant(Tensor::zeros(&x.shape())))
                    } else {
                        g.mul(&x.powf(p - E::ONE).mul_scalar(p))
                    }
                },
            ),
        )
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
            (
                |g, base, exponent, out| {
                    let x = base.broadcast_to(out.shape())?;
                    let y = exponent.broadcast_to(out.shape())?;
                    let local = y.zip_map(&x, |y, x| y * x.powf(y - E::ONE))?;
                    g.mul(&local)?.sum_to_shape(base.shape())
                },
                |g, base, exponent, _out| {
                    let local = exponent.mul(&base.pow(&exponent.sub_scalar(E::ONE))?)?;
                    g.mul(&local)?.sum_to_shape(&base.shape())
                },
            ),
            (
                |g, base, exponent, out| {
                    let x = base.broadcast_to(out.shape())?;
                    let local = out.zip_map(&x, |o, x| o * x.ln())?;
                    g.mul(&local)?.sum_to_shape(exponent.shape())
                },
                |g, base, exponent, out| {
                    let local = out.mul(&base.ln())?;
                    g.mul(&local)?.sum_to_shape(&exponent.shape())
                },
            ),
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
        let slope = move |x| act::leaky_relu_derivative(x, alpha);
        self.unary_op(
            value,
            "leaky_relu",
            (
                move |g, x, y| pointwise_grad(g, x, y, |x, _| slope(x)),
                move |g, x, _y| pointwise_grad_graph(g, piecewise_constant(x, slope)),
            ),
        )
    }
}
