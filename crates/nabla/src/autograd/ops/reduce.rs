//! Reductions: sum and mean of everything or along one axis, and max along an axis.

use crate::autograd::Var;
use crate::{Element, Result, Tensor};

impl<E: Element> Var<E> {
    /// Sum of all elements (or their mean when `scale` is 1/n): every input gets `g·scale`.
    fn sum_all_op(&self, value: Tensor<E>, name: &'static str, scale: E) -> Var<E> {
        self.unary_op(value, name, move |g, x, _y| {
            Ok(Tensor::full(x.shape(), g.item()? * scale))
        })
    }

    /// Sum (or mean, via `scale`) along an axis: the gradient is copied back along that axis.
    fn sum_axis_op(&self, value: Tensor<E>, name: &'static str, axis: usize, scale: E) -> Var<E> {
        self.unary_op(value, name, move |g, x, _y| {
            let mut kept = x.shape().to_vec();
            kept[axis] = 1;
            let spread = g.reshape(&kept)?.broadcast_to(x.shape())?;
            Ok(spread.mul_scalar(scale))
        })
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
        Ok(self.unary_op(value, "max_axis", move |g, x, _y| {
            // The whole gradient goes to the position of the maximum.
            let (_outer, len, inner) = x.axis_layout("max_axis", axis)?;
            let mut dx = Tensor::zeros(x.shape());
            let out = dx.data_mut();
            for (r, (&k, &gv)) in argmax.iter().zip(g.data()).enumerate() {
                let (o, i) = (r / inner, r % inner);
                out[(o * len + k) * inner + i] += gv;
            }
            Ok(dx)
        }))
    }
}
