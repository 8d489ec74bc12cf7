//! Softmax and log-softmax along an axis.

use super::rule_twice;
use crate::autograd::Var;
use crate::{Element, Result};

impl<E: Element> Var<E> {
    /// Softmax along `axis` (stable for large logits); errors on a bad axis.
    pub fn softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = self.value().softmax(axis)?;
        // y = softmax(x): dx_i = y_i (g_i − Σ_j g_j y_j), the sum along the axis.
        Ok(self.unary_op(
            value,
            "softmax",
            rule_twice!(|g, _x, y| {
                let dot = g.mul(y)?.sum_axis(axis, true)?;
                y.mul(&g.sub(&dot)?)
            }),
        ))
    }

    /// Log-softmax along `axis` (stable for large logits); errors on a bad axis.
    pub fn log_softmax(&self, axis: usize) -> Result<Var<E>> {
        let value = self.value().log_softmax(axis)?;
        // y = log_softmax(x): dx_i = g_i − softmax_i · Σ_j g_j, with softmax = e^y.
        Ok(self.unary_op(
            value,
            "log_softmax",
            rule_twice!(|g, _x, y| {
                let total = g.sum_axis(axis, true)?;
                g.sub(&y.exp().mul(&total)?)
            }),
        ))
    }
}
