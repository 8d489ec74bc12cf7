//! Elementwise arithmetic between tensors (with broadcasting) and with scalars.

use super::{Element, Tensor};
use crate::Result;

impl<E: Element> Tensor<E> {
    /// `self + other`, broadcasting NumPy-style; [`crate::Error::ShapeMismatch`] if the shapes
    /// do not broadcast.
    pub fn add(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        self.zip_broadcast(other, "add", |a, b| a + b)
    }

    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        self.zip_broadcast(other, "sub", |a, b| a - b)
    }

    /// `self * other` elementwise, broadcasting.
    pub fn mul(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        self.zip_broadcast(other, "mul", |a, b| a * b)
    }

    /// `self / other` elementwise, broadcasting (IEEE semantics: x/0 is ±inf or NaN).
    pub fn div(&self, other: &Tensor<E>) -> Result<Tensor<E>> {
        self.zip_broadcast(other, "div", |a, b| a / b)
    }

    /// `self + s` for every element.
    pub fn add_scalar(&self, s: E) -> Tensor<E> {
        self.map(|x| x + s)
    }

    /// `self - s` for every element.
    pub fn sub_scalar(&self, s: E) -> Tensor<E> {
        self.add_scalar(-s)
    }

    /// `self * s` for every element.
    pub fn mul_scalar(&self, s: E) -> Tensor<E> {
        self.map(|x| x * s)
    }

    /// `self / s` for every element.
    pub fn div_scalar(&self, s: E) -> Tensor<E> {
        self.map(|x| x / s)
    }

    /// Elementwise `f(self, other)` for two tensors of exactly the same shape (no broadcasting).
    pub fn zip_map(&self, other: &Tensor<E>, f: impl Fn(E, E) -> E) -> Result<Tensor<E>> {
        if self.shape != other.shape {
            return Err(crate::Error::ShapeMismatch {
                op: "zip_map",
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        Ok(Tensor {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), s).unwrap()
    }

    #[test]
    fn arithmetic_with_each_fast_path() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let row = t(&[10., 20., 30.], &[3]);
        assert_eq!(a.add(&row).unwrap().data(), &[11., 22., 33., 14., 25., 36.]);
        assert_eq!(row.sub(&a).unwrap().data(), &[9., 18., 27., 6., 15., 24.]);
        let col = t(&[2., 4.], &[2, 1]);
        assert_eq!(a.div(&col).unwrap().data(), &[0.5, 1., 1.5, 1., 1.25, 1.5]);
        let s = Tensor::scalar(3.0);
        assert_eq!(a.mul(&s).unwrap().data(), &[3., 6., 9., 12., 15., 18.]);
        assert_eq!(s.sub(&a).unwrap().data(), &[2., 1., 0., -1., -2., -3.]);
        assert_eq!(a.mul(&a).unwrap().data(), &[1., 4., 9., 16., 25., 36.]);
        let err = a.add(&t(&[1., 2.], &[2])).unwrap_err().to_string();
        assert!(
            err.contains("add") && err.contains("[2, 3]") && err.contains("[2]"),
            "{err}"
        );
        assert_eq!(a.sub_scalar(1.0).data(), &[0., 1., 2., 3., 4., 5.]);
        assert_eq!(a.div_scalar(2.0).data()[1], 1.0);
    }
}
