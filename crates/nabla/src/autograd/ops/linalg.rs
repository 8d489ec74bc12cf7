//! Matrix product, transpose and reshape.

use super::rule_twice;
use crate::autograd::Var;
use crate::tensor::gemm::Trans;
use crate::{Element, Result};

impl<E: Element> Var<E> {
    /// Matrix product `[m, k] · [k, n] → [m, n]`; errors unless both are 2-D with matching
    /// inner extents. Gradients: dA = dC·Bᵀ, dB = Aᵀ·dC.
    pub fn matmul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().matmul(&other.value())?;
        // The transposes are read in place by the kernel.
        Ok(self.binary_op(
            other,
            value,
            "matmul",
            // The graph form spells the transposes out as nodes, so they are differentiated too.
            (
                |g, _a, b, _y| g.matmul_t(Trans::No, b, Trans::Yes),
                |g, _a, b, _y| g.matmul(&b.transpose()?),
            ),
            (
                |g, a, _b, _y| a.matmul_t(Trans::Yes, g, Trans::No),
                |g, a, _b, _y| a.transpose()?.matmul(g),
            ),
        ))
    }

    /// Swap the last two axes (matrix transpose); errors below rank 2.
    pub fn transpose(&self) -> Result<Var<E>> {
        let value = self.value().transpose()?;
        Ok(self.unary_op(value, "transpose", rule_twice!(|g, _x, _y| g.transpose())))
    }

    /// Same elements, new shape (same element count required).
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<E>> {
        let value = self.value().reshape(shape)?;
        Ok(self.unary_op(
            value,
            "reshape",
            rule_twice!(|g, x, _y| g.reshape(&x.shape())),
        ))
    }
}
