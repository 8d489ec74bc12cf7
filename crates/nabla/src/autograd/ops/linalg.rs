//! Matrix product, transpose and reshape.

use crate::autograd::{Backward, Var};
use crate::tensor::gemm::Trans;
use crate::{Element, Result, Tensor};

struct MatmulBackward;

impl<E: Element> Backward<E> for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let (a, b) = (inputs[0], inputs[1]);
        // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC, with the transposes read in place by the kernel.
        let da = if needs[0] {
            Some(g.matmul_t(Trans::No, b, Trans::Yes)?)
        } else {
            None
        };
        let db = if needs[1] {
            Some(a.matmul_t(Trans::Yes, g, Trans::No)?)
        } else {
            None
        };
        Ok(vec![da, db])
    }
}

struct TransposeBackward;

impl<E: Element> Backward<E> for TransposeBackward {
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.transpose()?)])
    }
}

struct ReshapeBackward;

impl<E: Element> Backward<E> for ReshapeBackward {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.reshape(inputs[0].shape())?)])
    }
}

impl<E: Element> Var<E> {
    /// Matrix product `[m, k] · [k, n] → [m, n]`; errors unless both are 2-D with matching
    /// inner extents. Gradients: dA = dC·Bᵀ, dB = Aᵀ·dC.
    pub fn matmul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().matmul(&other.value())?;
        Ok(Var::from_op(
            value,
            MatmulBackward,
            vec![self.clone(), other.clone()],
        ))
    }

    /// Swap the last two axes (matrix transpose); errors below rank 2.
    pub fn transpose(&self) -> Result<Var<E>> {
        let value = self.value().transpose()?;
        Ok(Var::from_op(value, TransposeBackward, vec![self.clone()]))
    }

    /// Same elements, new shape (same element count required).
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<E>> {
        let value = self.value().reshape(shape)?;
        Ok(Var::from_op(value, ReshapeBackward, vec![self.clone()]))
    }
}
