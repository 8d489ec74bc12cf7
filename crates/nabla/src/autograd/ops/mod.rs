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

/// `Some(grad())` when the input needs a gradient, else `None`: the graph form of [`grad_if`].
fn graph_grad_if<E: Element>(
    needed: bool,
    grad: impl FnOnce() -> Result<Var<E>>,
) -> Result<Option<Var<E>>> {
    if needed {
        grad().map(Some)
    } else {
        Ok(None)
    }
}

/// One derivative rule written once and compiled twice: as a closure on tensors (what the
/// first-order walk runs) and as a closure on graph nodes (what second derivatives run, so that
/// its result is on the tape). It works wherever the rule uses only operations that [`Var`]
/// and [`Tensor`] both have under the same name, as most rules do; write shapes as
/// `&x.shape()`, which both accept.
macro_rules! rule_twice {
    (|$($arg:ident),*| $body:expr) => {{
        // `&x.shape()` is a needless borrow for a tensor's `&[usize]`, and needed for a
        // node's `Vec<usize>`.
        #[allow(clippy::needless_borrow)]
        let on_tensors = move |$($arg: &$crate::Tensor<E>),*| $body;
        let on_nodes = move |$($arg: &$crate::autograd::Var<E>),*| $body;
        (on_tensors, on_nodes)
    }};
}
pub(crate) use rule_twice;

impl<E: Element> Var<E> {
    /// Records a one-input op from its rule `(dx, dx_graph)`: `dx(g, x, y)` is ∂L/∂x from
    /// ∂L/∂y = `g`, the input `x` and the output `y`; `dx_graph` is the same rule on the graph's
    /// nodes (`g`, the input node, this op's node), which second derivatives differentiate
    /// again. Usually both come from one text through [`rule_twice!`].
    pub(crate) fn unary_op<D, G>(
        &self,
        value: Tensor<E>,
        name: &'static str,
        (dx, dx_graph): (D, G),
    ) -> Var<E>
    where
        D: Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
        G: Fn(&Var<E>, &Var<E>, &Var<E>) -> Result<Var<E>> + 'static,
    {
        let rule = Rule::new(name, move |g, inputs, y, _needs| {
            Ok(vec![Some(dx(g, inputs[0], y)?)])
        })
        .with_graph(move |g, inputs, y, _needs| Ok(vec![Some(dx_graph(g, &inputs[0], y)?)]));
        Var::from_op(value, rule, vec![self.clone()])
    }

    /// Records a two-input op `y = self ∘ other` from one rule per operand, each a pair as in
    /// [`Var::unary_op`]: `da(g, a, b, y)` is ∂L/∂a, `db(g, a, b, y)` is ∂L/∂b, each computed
    /// only when that input needs a gradient.
    pub(crate) fn binary_op<DA, GA, DB, GB>(
        &self,
        other: &Var<E>,
        value: Tensor<E>,
        name: &'static str,
        (da, da_graph): (DA, GA),
        (db, db_graph): (DB, GB),
    ) -> Var<E>
    where
        DA: Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
        DB: Fn(&Tensor<E>, &Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>> + 'static,
        GA: Fn(&Var<E>, &Var<E>, &Var<E>, &Var<E>) -> Result<Var<E>> + 'static,
        GB: Fn(&Var<E>, &Var<E>, &Var<E>, &Var<E>) -> Result<Var<E>> + 'static,
    {
        let rule = Rule::new(name, move |g, inputs, y, needs| {
            let (a, b) = (inputs[0], inputs[1]);
            Ok(vec![
                grad_if(needs[0], || da(g, a, b, y))?,
                grad_if(needs[1], || db(g, a, b, y))?,
            ])
        })
        .with_graph(move |g, inputs, y, needs| {
            let (a, b) = (&inputs[0], &inputs[1]);
            Ok(vec![
                graph_grad_if(needs[0], || da_graph(g, a, b, y))?,
                graph_grad_if(needs[1], || db_graph(g, a, b, y))?,
            ])
        });
        Var::from_op(value, rule, vec![self.clone(), other.clone()])
    }
}

/// `g ⊙ d` for the local derivative `d` of a pointwise op, as graph operations.
pub(crate) fn pointwise_grad_graph<E: Element>(g: &Var<E>, d: Result<Var<E>>) -> Result<Var<E>> {
    g.mul(&d?)
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
