//! Elementwise functions and their derivatives.
//!
//! Conventions at kinks (where the function has no derivative, we pick one value and pin it in
//! tests): `relu'(0) = 0`, `|x|'(0) = 0`, `leaky_relu'(0) = alpha` (the left-hand slope).
//! At other singular points the IEEE result is returned: `ln'(0) = +inf`, `sqrt'(0) = +inf`,
//! `powf` with p < 1 at 0 gives inf.

use super::pointwise_grad;
use crate::autograd::{Backward, Var};
use crate::ops::activation as act;
use crate::{Element, Result, Tensor};

/// A parameter-free elementwise function whose derivative is `derivative(x, y)` with `x` the
/// input and `y = f(x)` the output (whichever is cheaper to use).
struct Pointwise<E> {
    name: &'static str,
    derivative: fn(E, E) -> E,
}

impl<E: Element> Backward<E> for Pointwise<E> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(pointwise_grad(
            g,
            inputs[0],
            out,
            self.derivative,
        )?)])
    }
}

fn two<E: Element>() -> E {
    E::ONE + E::ONE
}

fn exp_derivative<E: Element>(_x: E, y: E) -> E {
    y
}
fn ln_derivative<E: Element>(x: E, _y: E) -> E {
    E::ONE / x
}
fn sqrt_derivative<E: Element>(_x: E, y: E) -> E {
    E::ONE / (two::<E>() * y)
}
/// sign(x), with 0 at 0.
fn abs_derivative<E: Element>(x: E, _y: E) -> E {
    if x > E::ZERO {
        E::ONE
    } else if x < E::ZERO {
        -E::ONE
    } else {
        E::ZERO
    }
}
fn sin_derivative<E: Element>(x: E, _y: E) -> E {
    x.cos()
}
fn cos_derivative<E: Element>(x: E, _y: E) -> E {
    -x.sin()
}
/// tan' = 1 + tan².
fn tan_derivative<E: Element>(_x: E, y: E) -> E {
    E::ONE + y * y
}
/// σ' = σ(1 − σ), from the output.
fn sigmoid_derivative<E: Element>(_x: E, y: E) -> E {
    act::sigmoid_derivative_from_output(y)
}
/// tanh' = 1 − tanh², from the output.
fn tanh_derivative<E: Element>(_x: E, y: E) -> E {
    act::tanh_derivative_from_output(y)
}
/// 1 for x > 0, else 0 (so relu'(0) = 0).
fn relu_derivative<E: Element>(x: E, _y: E) -> E {
    act::relu_derivative(x)
}
/// softplus' = σ(x).
fn softplus_derivative<E: Element>(x: E, _y: E) -> E {
    act::softplus_derivative(x)
}

struct PowfBackward<E> {
    exponent: E,
}

impl<E: Element> Backward<E> for PowfBackward<E> {
    fn name(&self) -> &'static str {
        "powf"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let p = self.exponent;
        // d/dx x^p = p·x^(p−1); for p = 0 the function is the constant 1 (0^0 = 1), so the
        // derivative is 0 everywhere, also at x = 0 where p·x^(p−1) would be 0·∞ = NaN.
        let d = pointwise_grad(g, inputs[0], out, |x, _| {
            if p == E::ZERO {
                E::ZERO
            } else {
                p * x.powf(p - E::ONE)
            }
        })?;
        Ok(vec![Some(d)])
    }
}

struct LeakyReluBackward<E> {
    alpha: E,
}

impl<E: Element> Backward<E> for LeakyReluBackward<E> {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let alpha = self.alpha;
        // 1 for x > 0, alpha for x ≤ 0 (so the derivative at 0 is alpha).
        let d = pointwise_grad(g, inputs[0], out, |x, _| {
            act::leaky_relu_derivative(x, alpha)
        })?;
        Ok(vec![Some(d)])
    }
}

struct PowBackward;

impl<E: Element> Backward<E> for PowBackward {
    fn name(&self) -> &'static str {
        "pow"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let (base, exponent) = (inputs[0], inputs[1]);
        let shape = out.shape();
        let x = base.broadcast_to(shape)?;
        let y = exponent.broadcast_to(shape)?;
        // ∂(x^y)/∂x = y·x^(y−1); ∂(x^y)/∂y = x^y·ln x.
        let dx = if needs[0] {
            let local = y.zip_map(&x, |y, x| y * x.powf(y - E::ONE))?;
            Some(g.mul(&local)?.sum_to_shape(base.shape())?)
        } else {
            None
        };
        let dy = if needs[1] {
            let local = out.zip_map(&x, |o, x| o * x.ln())?;
            Some(g.mul(&local)?.sum_to_shape(exponent.shape())?)
        } else {
            None
        };
        Ok(vec![dx, dy])
    }
}

impl<E: Element> Var<E> {
    fn pointwise(&self, value: Tensor<E>, name: &'static str, derivative: fn(E, E) -> E) -> Var<E> {
        Var::from_op(value, Pointwise { name, derivative }, vec![self.clone()])
    }

    /// x^p for a constant exponent p; derivative p·x^(p−1).
    pub fn powf(&self, p: E) -> Var<E> {
        let value = self.value().powf(p);
        Var::from_op(value, PowfBackward { exponent: p }, vec![self.clone()])
    }

    /// x^y elementwise with both base and exponent differentiable (broadcasting). The exponent's
    /// gradient x^y·ln x needs x > 0 (it is NaN for negative bases and 0·(−inf) = NaN at 0).
    pub fn pow(&self, exponent: &Var<E>) -> Result<Var<E>> {
        let value = self
            .value()
            .zip_broadcast(&exponent.value(), "pow", |x, y| x.powf(y))?;
        Ok(Var::from_op(
            value,
            PowBackward,
            vec![self.clone(), exponent.clone()],
        ))
    }

    /// e^x; derivative e^x.
    pub fn exp(&self) -> Var<E> {
        let value = self.value().exp();
        self.pointwise(value, "exp", exp_derivative)
    }

    /// Natural logarithm; derivative 1/x.
    pub fn ln(&self) -> Var<E> {
        let value = self.value().ln();
        self.pointwise(value, "ln", ln_derivative)
    }

    /// Alias of [`Var::ln`].
    pub fn log(&self) -> Var<E> {
        self.ln()
    }

    /// √x; derivative 1/(2√x).
    pub fn sqrt(&self) -> Var<E> {
        let value = self.value().sqrt();
        self.pointwise(value, "sqrt", sqrt_derivative)
    }

    /// |x|; derivative sign(x), taken as **0 at x = 0**.
    pub fn abs(&self) -> Var<E> {
        let value = self.value().abs();
        self.pointwise(value, "abs", abs_derivative)
    }

    /// sin x; derivative cos x.
    pub fn sin(&self) -> Var<E> {
        let value = self.value().sin();
        self.pointwise(value, "sin", sin_derivative)
    }

    /// cos x; derivative −sin x.
    pub fn cos(&self) -> Var<E> {
        let value = self.value().cos();
        self.pointwise(value, "cos", cos_derivative)
    }

    /// tan x; derivative 1 + tan² x.
    pub fn tan(&self) -> Var<E> {
        let value = self.value().tan();
        self.pointwise(value, "tan", tan_derivative)
    }

    /// Logistic sigmoid σ(x) (stable for large |x|); derivative σ(1 − σ).
    pub fn sigmoid(&self) -> Var<E> {
        let value = self.value().sigmoid();
        self.pointwise(value, "sigmoid", sigmoid_derivative)
    }

    /// tanh x; derivative 1 − tanh² x.
    pub fn tanh(&self) -> Var<E> {
        let value = self.value().tanh();
        self.pointwise(value, "tanh", tanh_derivative)
    }

    /// max(x, 0); derivative 1 for x > 0 and 0 otherwise, so **relu'(0) = 0**.
    pub fn relu(&self) -> Var<E> {
        let value = self.value().relu();
        self.pointwise(value, "relu", relu_derivative)
    }

    /// x for x > 0, alpha·x otherwise; derivative 1 for x > 0 and alpha otherwise, so
    /// **leaky_relu'(0) = alpha**.
    pub fn leaky_relu(&self, alpha: E) -> Var<E> {
        let value = self.value().leaky_relu(alpha);
        Var::from_op(value, LeakyReluBackward { alpha }, vec![self.clone()])
    }

    /// ln(1 + e^x) (stable); derivative σ(x).
    pub fn softplus(&self) -> Var<E> {
        let value = self.value().softplus();
        self.pointwise(value, "softplus", softplus_derivative)
    }
}
