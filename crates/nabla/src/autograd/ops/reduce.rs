//! Reductions: sum and mean of everything or along one axis, and max along an axis.

use crate::autograd::{Backward, Var};
use crate::{Element, Result, Tensor};

/// Sum of all elements (or their mean when `scale` is 1/n): every input gets `g·scale`.
struct SumAllBackward<E> {
    name: &'static str,
    scale: E,
}

impl<E: Element> Backward<E> for SumAllBackward<E> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(Tensor::full(
            inputs[0].shape(),
            g.item()? * self.scale,
        ))])
    }
}

/// Sum (or mean, via `scale`) along an axis: the gradient is copied back along that axis.
struct SumAxisBackward<E> {
    name: &'static str,
    axis: usize,
    scale: E,
}

impl<E: Element> Backward<E> for SumAxisBackward<E> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let x = inputs[0];
        let mut kept = x.shape().to_vec();
        kept[self.axis] = 1;
        let spread = g.reshape(&kept)?.broadcast_to(x.shape())?;
        Ok(vec![Some(spread.mul_scalar(self.scale))])
    }
}

/// Max along an axis: the whole gradient goes to the position of the maximum (first on ties).
struct MaxAxisBackward {
    axis: usize,
    argmax: Vec<usize>,
}

impl<E: Element> Backward<E> for MaxAxisBackward {
    fn name(&self) -> &'static str {
        "max_axis"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let x = inputs[0];
        let (_outer, len, inner) = x.axis_layout("max_axis", self.axis)?;
        let mut dx = Tensor::zeros(x.shape());
        let out = dx.data_mut();
        for (r, (&k, &gv)) in self.argmax.iter().zip(g.data()).enumerate() {
            let (o, i) = (r / inner, r % inner);
            out[(o * len + k) * inner + i] += gv;
        }
        Ok(vec![Some(dx)])
    }
}

impl<E: Element> Var<E> {
    /// Sum of all elements, as a rank-0 value.
    pub fn sum(&self) -> Var<E> {
        let value = self.value().sum_all();
        let rule = SumAllBackward {
            name: "sum",
            scale: E::ONE,
        };
        Var::from_op(value, rule, vec![self.clone()])
    }

    /// Mean of all elements, as a rank-0 value (NaN for an empty tensor).
    pub fn mean(&self) -> Var<E> {
        let x = self.value();
        let value = x.mean_all();
        let scale = E::ONE / E::from_f64(x.len() as f64);
        drop(x);
        let rule = SumAllBackward {
            name: "mean",
            scale,
        };
        Var::from_op(value, rule, vec![self.clone()])
    }

    /// Sum along `axis` (dropped, or kept with extent 1 when `keepdim`); errors on a bad axis.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let value = self.value().sum_axis(axis, keepdim)?;
        let rule = SumAxisBackward {
            name: "sum_axis",
            axis,
            scale: E::ONE,
        };
        Ok(Var::from_op(value, rule, vec![self.clone()]))
    }

    /// Mean along `axis`; errors on a bad axis.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let x = self.value();
        let value = x.mean_axis(axis, keepdim)?;
        let scale = E::ONE / E::from_f64(x.shape()[axis] as f64);
        drop(x);
        let rule = SumAxisBackward {
            name: "mean_axis",
            axis,
            scale,
        };
        Ok(Var::from_op(value, rule, vec![self.clone()]))
    }

    /// Maximum along `axis`. The gradient flows only to the maximal element of each slice; on
    /// ties, to the **first** one (lowest index), so the subgradient is one-hot. Errors on a bad
    /// or empty axis.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Var<E>> {
        let (value, argmax) = self.value().max_axis_with_indices(axis, keepdim)?;
        Ok(Var::from_op(
            value,
            MaxAxisBackward { axis, argmax },
            vec![self.clone()],
        ))
    }
}
