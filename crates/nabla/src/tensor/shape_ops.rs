//! Shape changes: reshape and transpose.

use super::{Element, Tensor};
use crate::{Error, Result};

impl<E: Element> Tensor<E> {
    /// The same elements under a new shape with the same element count.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<E>> {
        let n: usize = shape.iter().product();
        if n != self.data.len() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: self.data.clone(),
        })
    }

    /// Like [`Tensor::reshape`], but one extent may be `-1`, meaning "whatever makes the element
    /// count match". Errors on two `-1`s, other negative extents, or a count that does not divide.
    pub fn reshape_infer(&self, shape: &[isize]) -> Result<Tensor<E>> {
        let bad = |msg: &str| Error::Shape {
            op: "reshape",
            shape: self.shape.clone(),
            msg: format!("{msg} (requested {shape:?})"),
        };
        let mut known = 1usize;
        let mut hole = None;
        for (d, &s) in shape.iter().enumerate() {
            if s == -1 {
                if hole.replace(d).is_some() {
                    return Err(bad("at most one extent may be -1"));
                }
            } else if s < 0 {
                return Err(bad("negative extent"));
            } else {
                known *= s as usize;
            }
        }
        let mut dims: Vec<usize> = shape.iter().map(|&s| s.max(0) as usize).collect();
        if let Some(d) = hole {
            if known == 0 || !self.data.len().is_multiple_of(known) {
                return Err(bad("element count does not divide"));
            }
            dims[d] = self.data.len() / known;
        }
        self.reshape(&dims)
    }

    /// Swap the last two axes (the matrix transpose for 2-D tensors; batched for higher ranks).
    /// Errors on tensors of rank below 2.
    pub fn transpose(&self) -> Result<Tensor<E>> {
        let rank = self.rank();
        if rank < 2 {
            return Err(Error::Shape {
                op: "transpose",
                shape: self.shape.clone(),
                msg: "needs at least 2 axes".into(),
            });
        }
        let (r, c) = (self.shape[rank - 2], self.shape[rank - 1]);
        let mut data = vec![E::ZERO; self.data.len()];
        if r * c > 0 {
            for (src, dst) in self
                .data
                .chunks_exact(r * c)
                .zip(data.chunks_exact_mut(r * c))
            {
                for i in 0..r {
                    for j in 0..c {
                        dst[j * r + i] = src[i * c + j];
                    }
                }
            }
        }
        let mut shape = self.shape.clone();
        shape.swap(rank - 2, rank - 1);
        Ok(Tensor { shape, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_and_transpose() {
        let a = Tensor::from_vec((0..6).map(|x| x as f64).collect(), &[2, 3]).unwrap();
        assert_eq!(a.reshape(&[3, 2]).unwrap().shape(), &[3, 2]);
        assert!(a.reshape(&[4]).is_err());
        assert_eq!(a.reshape_infer(&[-1, 2]).unwrap().shape(), &[3, 2]);
        assert!(a.reshape_infer(&[-1, -1]).is_err());
        assert!(a.reshape_infer(&[-1, 4]).is_err());
        let t = a.transpose().unwrap();
        assert_eq!(t.shape(), &[3, 2]);
        assert_eq!(t.data(), &[0., 3., 1., 4., 2., 5.]);
        assert_eq!(t.transpose().unwrap(), a);
        let b = Tensor::from_vec((0..12).map(|x| x as f64).collect(), &[2, 2, 3]).unwrap();
        let bt = b.transpose().unwrap();
        assert_eq!(bt.shape(), &[2, 3, 2]);
        assert_eq!(bt.data()[6..], [6., 9., 7., 10., 8., 11.]);
        assert!(Tensor::<f64>::zeros(&[3]).transpose().is_err());
    }
}
