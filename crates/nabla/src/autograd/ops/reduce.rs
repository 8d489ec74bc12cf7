//! Reductions: sum and mean of everything or along one axis, and max along an axis.

use super::rule_twice;
use crate::autograd::Var;
use crate::{Element, Result, Tensor};

impl<E: Element> Var<E> {
    /// Sum of all elements (or their mean when `scale` is 1/n): every input gets `g·scale`.
    fn sum_all_op(&self, value: Tensor<E>, name: &'static str, scale: E) -> Var<E> {
        self.unary_op(
            value,
            name,
            (
                move |g, x, _y| Ok(Tensor::full(x.shape(), g.item()? * scale)),
                move |g, x, _y| Ok(g.broadcast_to(&x.shape())?.mul_scalar(scale)),
            ),
        )
    }

    /// Sum (or mean, via `scale`) along an axis: the gradient is copied back along that axis.
    fn sum_axis_op(&self, value: Tensor<E>, name: &'static str, axis: usize, scale: E) -> Var<E> {
        self.unary_op(
            value,
            name,
            rule_twice!(|g, x, _y| {
                let mut kept = x.shape().to_vec();
                kept[axis] = 1;
                let spread = g.reshape(&kept)?.broadcast_to(&x.shape())?;
                Ok(spread.mul_scalar(scale))
            }),
        )
    }

    /// Sum of all elements, as a rank-0 value.
    pub fn sum(&self) -> Var<E> {
        let value = self.value().sum_all();
        self.sum_all_op(value, "sum", E::ONE)
    }

    /// Mean of all elements, as a rank-0 value (NaN for an empty tensor).
    pub fn mean(&self) -> Var<E> {
        let x = self.value();
        let value = x.mean_all();
        let scale = E::ONE / E::from_f64(x.len() as f64);
        drop(x);
        self.sum_all_op(value, "mean", scale)
    }

    /// Sum along `axis` (dropped, or kept with extent 1 when `keepdim`); errors on a bad axis.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let value = self.value().sum_axis(axis, keepdim)?;
        Ok(self.sum_axis_op(value, "sum_axis", axis, E::ONE))
    }

    /// Mean along `axis`; errors on a bad axis.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let x = self.value();
        let value = x.mean_axis(axis, keepdim)?;
        let scale = E::ONE / E::from_f64(x.shape()[axis] as f64);
        drop(x);
        Ok(self.sum_axis_op(value, "mean_axis", axis, scale))
    }

    /// Maximum along `axis`. The gradient flows only to the maximal element of each slice; on
    /// ties, to the **first** one (lowest index), so the subgradient is one-hot. Errors on a bad
    /// or empty axis.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let (value, argmax) = self.value().max_axis_with_indices(axis, keepdim)?;
        // The whole gradient goes to the position of the maximum: a one-hot scatter on
        // tensors, and on the graph the gradient spread along the axis times the constant
        // one-hot mask (so the second derivative is 0, max being piecewise linear).
        Ok(self.unary_op(
            value,
            "max_axis",
            (
                move |g, x, _y| {
                    let mut dx = Tensor::zeros(x.shape());
                    scatter_at_max(&mut dx, x, axis, &argmax, g.data())?;
                    Ok(dx)
                },
                move |g, x, _y| {
                    let x = x.value();
                    let (_, argmax) = x.max_axis_with_indices(axis, true)?;
                    let mut mask = Tensor::zeros(x.shape());
                    let ones = vec![E::ONE; argmax.len()];
                    scatter_at_max(&mut mask, &x, axis, &argmax, &ones)?;
                    let mut kept = x.shape().to_vec();
                    kept[axis] = 1;
                    let spread = g.reshape(&kept)?.broadcast_to(x.shape())?;
                    spread.mul(&Var::constant(mask))
                },
            ),
        ))
    }

    /// `self` summed down to `shape` (the reduction that undoes broadcasting `shape` up to
    /// `self`'s shape); errors unless `shape` broadcasts to it. Its derivative broadcasts the
    /// gradient back up, and that one's sums it down again, so both have derivatives of every
    /// order.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Var<E>> {
        if self.value().shape() == shape {
            return Ok(self.clone());
        }
        let value = self.value().sum_to_shape(shape)?;
        Ok(self.unary_op(
            value,
            "sum_to_shape",
            rule_twice!(|g, x, _y| g.broadcast_to(&x.shape())),
        ))
    }

    /// `self` broadcast up to `shape` (NumPy rules); errors unless it broadcasts to exactly
    /// `shape`. Its derivative sums the gradient back down to `self`'s shape.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var<E>> {
        if self.value().shape() == shape {
            return Ok(self.clone());
        }
        let value = self.value().broadcast_to(shape)?;
        Ok(self.unary_op(
            value,
            "broadcast_to",
            rule_twice!(|g, x, _y| g.sum_to_shape(&x.shape())),
        ))
    }
}

/// Adds `values[r]` at the position `argmax[r]` of slice `r` along `axis` of `out` (shaped like
/// `x`).
fn scatter_at_max<E: Element>(
    out: &mut Tensor<E>,
    x: &Tensor<E>,
    axis: usize,
    argmax: &[usize],
    values: &[E],
) -> Result<()> {
    let (_outer, len, inner) = x.axis_layout("max_axis", axis)?;
    let out = out.data_mut();
    for (r, (&k, &v)) in argmax.iter().zip(values).enumerate() {
        let (o, i) = (r / inner, r % inner);
        out[(o * len + k) * inner + i] += v;
    }
    Ok(())
}
