//! n-dimensional, row-major tensors of `f32` (the default) or `f64`.
//!
//! Tensors know nothing of gradients: this module holds storage, shapes, broadcasting and the
//! numeric kernels. The autograd module builds the chain rule on top.

mod binary;
mod broadcast;
mod element;
pub mod gemm;
mod index;
mod matmul;
mod reduce;
mod shape_ops;
mod softmax;
mod unary;

pub use broadcast::{broadcast_shapes, broadcast_shapes_for};
pub use element::Element;

use crate::{Error, Result};

/// A dense, row-major n-dimensional array. A rank-0 tensor (shape `[]`) holds one scalar.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<E: Element = f32> {
    shape: Vec<usize>,
    data: Vec<E>,
}

impl<E: Element> Tensor<E> {
    /// Build a tensor from its elements in row-major order and its shape.
    ///
    /// ```
    /// let t = nabla::Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    /// assert_eq!(t.shape(), &[2, 3]);
    /// ```
    pub fn from_vec(data: Vec<E>, shape: &[usize]) -> Result<Self> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(Error::Shape {
                op: "from_vec",
                shape: shape.to_vec(),
                msg: format!("{} elements given for {n} slots", data.len()),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data,
        })
    }

    /// A rank-0 tensor holding `v`.
    pub fn scalar(v: E) -> Self {
        Tensor {
            shape: vec![],
            data: vec![v],
        }
    }

    /// A tensor of the given shape filled with `v`.
    pub fn full(shape: &[usize], v: E) -> Self {
        Tensor {
            shape: shape.to_vec(),
            data: vec![v; shape.iter().product()],
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, E::ZERO)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, E::ONE)
    }

    /// The shape (one extent per axis).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// `(rows, columns)` of a 2-D tensor; otherwise an [`Error::Shape`] for `op` that says
    /// "expected {what}".
    pub(crate) fn dims_2d(&self, op: &'static str, what: &str) -> Result<(usize, usize)> {
        if self.rank() != 2 {
            return Err(Error::Shape {
                op,
                shape: self.shape.clone(),
                msg: format!("expected {what}"),
            });
        }
        Ok((self.shape[0], self.shape[1]))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[E] {
        &self.data
    }

    /// The elements in row-major order, mutable.
    pub fn data_mut(&mut self) -> &mut [E] {
        &mut self.data
    }

    /// Take the elements out.
    pub fn into_vec(self) -> Vec<E> {
        self.data
    }

    /// Split into shape and elements.
    pub fn into_parts(self) -> (Vec<usize>, Vec<E>) {
        (self.shape, self.data)
    }

    /// The single element of a one-element tensor.
    pub fn item(&self) -> Result<E> {
        if self.data.len() != 1 {
            return Err(Error::Shape {
                op: "item",
                shape: self.shape.clone(),
                msg: "item() needs exactly one element".into(),
            });
        }
        Ok(self.data[0])
    }

    /// Convert every element to another element type.
    pub fn cast<F: Element>(&self) -> Tensor<F> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&x| F::from_f64(x.to_f64())).collect(),
        }
    }
}
