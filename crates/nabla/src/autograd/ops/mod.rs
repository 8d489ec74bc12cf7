//! Differentiable operations: one family per file, forward and derivative side by side.
//!
//! Each operation is a method on [`Var`](super::Var) that computes its value with the tensor
//! kernels and records its derivative as a closure beside it (through `Var::unary_op` or
//! `Var::binary_op`, which wrap the closure as a [`Backward`](super::Backward) rule). Operations
//! whose operand shapes can disagree return [`Result`](crate::Result).

mod arith;
mod index;
mod linalg;
mod reduce;
mod softmax;
mod unary;

use super::{Rule, Var};
use crate::{Element, Result, Tensor};

/// `Some(grad())` when the input needs a gradient, else `None` without computing it.
fn grad_if<E: Element>(
    needed: bool,
    grad: impl FnOnce() -> Result<Tensor<E>>,
) -> Result<Option<Tensor<E>>> {
    if needed {
        grad().map(Some)
    } else {
        Ok(None)
    }
}

impl<E: Element> Var<E> {
    /// Records a one-input op: `dx(g, x, y)` is ∂L/∂x from ∂L/∂y = `g`, the input `x` and the
    /// output `y`.
    pub(crate) fn unary_op(
        &self,
        value: Tensor<E>,
        name: &'static str,
        dx: impl Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
    ) -> Var<E> {
        let rule = Rule::new(name, move |g, inputs, y, _needs| {
            Ok(vec![Some(dx(g, inputs[0], y)?)])
        });
        Var::from_op(value, rule, vec![self.clone()])
    }

    /// Records a two-input op `y = self ∘ other`: `da(g, a, b, y)` and `db(g, a, b, y)` are
    /// ∂L/∂a and ∂L/∂b, each computed only when that input needs a gradient.
    pub(crate) fn binary_op(
        &self,
        other: &Var<E>,
        value: Tensor<E>,
        name: &'static str,
        da: impl Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
        db: impl Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
    ) -> Var<E> {
        let rule = Rule::new(name, move |g, inputs, y, needs| {
            let (a, b) = (inputs[0], inputs[1]);
            Ok(vec![
                grad_if(needs[0], || da(g, a, b, y))?,
                grad_if(needs[1], || db(g, a, b, y))?,
            ])
        });
        Var::from_op(value, rule, vec![self.clone(), other.clone()])
    }
}

/// `g ⊙ f(x, y)` elementwise for three same-shaped tensors: the usual shape of a pointwise
/// derivative (`x` the input, `y` the output).
pub(crate) fn pointwise_grad<E: Element>(
    g: &Tensor<E>,
    x: &Tensor<E>,
    y: &Tensor<E>,
    f: impl Fn(E, E) -> E,
) -> Result<Tensor<E>> {
    let data = g
        .data()
        .iter()
        .zip(x.data())
        .zip(y.data())
        .map(|((&g, &x), &y)| g * f(x, y))
        .collect();
    Tensor::from_vec(data, x.shape())
}
