//! Matrix products of 2-D tensors, through [`super::gemm::matmul_into`].

use super::gemm::{matmul_into, Trans};
use super::{Element, Tensor};
use crate::{Error, Result};

/// (rows, cols) of a 2-D tensor as used after an optional transpose.
fn used_dims<E: Element>(op: &'static str, t: &Tensor<E>, tr: Trans) -> Result<(usize, usize)> {
    let (r, c) = t.dims_2d(op, "a 2-D matrix")?;
    Ok(match tr {
        Trans::No => (r, c),
        Trans::Yes => (c, r),
    })
}

impl<E: Element> Tensor<E> {
    /// Matrix product `[m, k] · [k, n] → [m, n]`. Errors if either operand is not 2-D or the
    /// inner extents differ.
    pub fn matmul(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        self.matmul_t(Trans::No, other, Trans::No)
    }

    /// `op(self) · op(other)` where `op` transposes when asked, without materialising the
    /// transpose: e.g. `a.matmul_t(Trans::Yes, &b, Trans::No)` is `aᵀ·b`.
    pub fn matmul_t(&self, ta: Trans, other: &Tensor<E>, tb: Trans) -> Result<Tensor<E>> {
        let (m, k) = used_dims("matmul", self, ta)?;
        let (k2, n) = used_dims("matmul", other, tb)?;
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        let mut data = vec![E::ZERO; m * n];
        matmul_into(m, n, k, &self.data, ta, &other.data, tb, &mut data, false);
        Ok(Tensor {
            shape: vec![m, n],
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_and_transposed_products_agree_with_hand_values() {
        let a = Tensor::from_vec(vec![1.0f64, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![7.0f64, 8., 9., 10., 11., 12.], &[3, 2]).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[2, 2]);
        assert_eq!(c.data(), &[58., 64., 139., 154.]);
        let at = a.transpose().unwrap();
        assert_eq!(at.matmul_t(Trans::Yes, &b, Trans::No).unwrap(), c);
        let bt = b.transpose().unwrap();
        assert_eq!(a.matmul_t(Trans::No, &bt, Trans::Yes).unwrap(), c);
        let err = a.matmul(&a).unwrap_err().to_string();
        assert!(err.contains("matmul") && err.contains("[2, 3]"), "{err}");
        assert!(a.matmul(&Tensor::zeros(&[3])).is_err());
    }
}
