//! Softmax and log-softmax along an axis.

use crate::autograd::{Backward, Var};
use crate::{Element, Result, Tensor};

struct SoftmaxBackward {
    axis: usize,
}

impl<E: Element> Backward<E> for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        y: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        // y = softmax(x): dx_i = y_i (g_i − Σ_j g_j y_j), the sum along the axis.
        let dot = g.mul(y)?.sum_axis(self.axis, true)?;
        Ok(vec![Some(y.mul(&g.sub(&dot)?)?)])
    }
}

struct LogSoftmaxBackward {
    axis: usize,
}

impl<E: Element> Backward<E> for LogSoftmaxBackward {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        y: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        // y = log_softmax(x): dx_i = g_i − softmax_i · Σ_j g_j, with softmax = e^y.
        let total = g.sum_axis(self.axis, true)?;
        Ok(vec![Some(g.sub(&y.exp().mul(&total)?)?)])
    }
}

impl<E: Element> Var<E> {
    /// Softmax along `axis` (stable for large logits); errors on a bad axis.
    pub fn softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = self.value().softmax(axis)?;
        Ok(Var::from_op(
            value,
            SoftmaxBackward { axis },
            vec![self.clone()],
        ))
    }

    /// Log-softmax along `axis` (stable for large logits); errors on a bad axis.
    pub fn log_softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = self.value().log_softmax(axis)?;
        Ok(Var::from_op(
            value,
            LogSoftmaxBackward { axis },
            vec![self.clone()],
        ))
    }
}
