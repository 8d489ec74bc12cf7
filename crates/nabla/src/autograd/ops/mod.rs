//! Differentiable operations: one family per file, forward and derivative side by side.
//!
//! Each operation is a method on [`Var`](super::Var) that computes its value with the tensor
//! kernels and records a small struct implementing [`Backward`](super::Backward). Operations
//! whose operand shapes can disagree return [`Result`](crate::Result).

mod arith;
mod index;
mod linalg;
mod reduce;
mod softmax;
mod unary;

use crate::{Element, Result, Tensor};

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
