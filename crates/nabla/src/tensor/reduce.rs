//! Reductions: over all elements or along one axis.

use super::{Element, Tensor};
use crate::{Error, Result};

impl<E: Element> Tensor<E> {
    /// View the tensor as `[outer, len, inner]` around `axis`: (outer, len, inner).
    pub(crate) fn axis_layout(
        &self,
        op: &'static str,
        axis: usize,
    ) -> Result<(usize, usize, usize)> {
        if axis >= self.rank() {
            return Err(Error::Axis {
                op,
                axis,
                rank: self.rank(),
            });
        }
        let outer = self.shape[..axis].iter().product();
        let inner = self.shape[axis + 1..].iter().product();
        Ok((outer, self.shape[axis], inner))
    }

    /// The shape after reducing `axis` (kept as extent 1 if `keepdim`).
    pub(crate) fn reduced_shape(&self, axis: usize, keepdim: bool) -> Vec<usize> {
        let mut s = self.shape.clone();
        if keepdim {
            s[axis] = 1;
        } else {
            s.remove(axis);
        }
        s
    }

    /// Sum of all elements, as a rank-0 tensor (0 for an empty tensor).
    pub fn sum_all(&self) -> Tensor<E> {
        Tensor::scalar(self.data.iter().fold(E::ZERO, |acc, &x| acc + x))
    }

    /// Mean of all elements, as a rank-0 tensor (NaN for an empty tensor: 0/0).
    pub fn mean_all(&self) -> Tensor<E> {
        let n = E::from_f64(self.data.len() as f64);
        Tensor::scalar(self.sum_all().data[0] / n)
    }

    /// Sum along `axis`; the axis is dropped, or kept with extent 1 when `keepdim`.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<E>> {
        let (outer, len, inner) = self.axis_layout("sum_axis", axis)?;
        let mut data = vec![E::ZERO; outer * inner];
        for o in 0..outer {
            let dst = &mut data[o * inner..(o + 1) * inner];
            for k in 0..len {
                let src = &self.data[(o * len + k) * inner..(o * len + k + 1) * inner];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        Ok(Tensor {
            shape: self.reduced_shape(axis, keepdim),
            data,
        })
    }

    /// Mean along `axis` (NaN where the axis is empty).
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<E>> {
        let s = self.sum_axis(axis, keepdim)?;
        let n = E::from_f64(self.shape[axis] as f64);
        Ok(s.map(|x| x / n))
    }

    /// Maximum along `axis` and, for each result element, the index along `axis` where it was
    /// found (row-major over the reduced shape). Ties go to the **first** index; NaN never wins a
    /// comparison (a NaN-only slice reports its first element). Errors on an empty axis.
    pub fn max_axis_with_indices(
        &self,
        axis: usize,
        keepdim: bool,
    ) -> Result<(Tensor<E>, Vec<usize>)> {
        let (outer, len, inner) = self.axis_layout("max_axis", axis)?;
        if len == 0 {
            return Err(Error::Shape {
                op: "max_axis",
                shape: self.shape.clone(),
                msg: format!("axis {axis} is empty"),
            });
        }
        let mut best = vec![E::ZERO; outer * inner];
        let mut idx = vec![0usize; outer * inner];
        for o in 0..outer {
            let base = o * len * inner;
            best[o * inner..(o + 1) * inner].copy_from_slice(&self.data[base..base + inner]);
            for k in 1..len {
                let src = &self.data[base + k * inner..base + (k + 1) * inner];
                let bests = &mut best[o * inner..(o + 1) * inner];
                let idxs = &mut idx[o * inner..(o + 1) * inner];
                for ((b, i), &s) in bests.iter_mut().zip(idxs.iter_mut()).zip(src) {
                    if s > *b || (b.is_nan_elem() && !s.is_nan_elem()) {
                        *b = s;
                        *i = k;
                    }
                }
            }
        }
        Ok((
            Tensor {
                shape: self.reduced_shape(axis, keepdim),
                data: best,
            },
            idx,
        ))
    }

    /// Maximum along `axis` (see [`Tensor::max_axis_with_indices`] for ties and NaN).
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<E>> {
        Ok(self.max_axis_with_indices(axis, keepdim)?.0)
    }

    /// Index of the maximum along `axis` for each element of the reduced shape, row-major;
    /// ties go to the first index.
    pub fn argmax_axis(&self, axis: usize) -> Result<Vec<usize>> {
        Ok(self.max_axis_with_indices(axis, false)?.1)
    }
}

/// NaN test through `PartialEq` (the element trait has no `is_nan`).
trait NanTest {
    fn is_nan_elem(&self) -> bool;
}

impl<E: Element> NanTest for E {
    #[inline(always)]
    #[allow(clippy::eq_op)]
    fn is_nan_elem(&self) -> bool {
        self != self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_reductions_match_hand_sums() {
        // [2, 3, 2] with values 0..12.
        let t = Tensor::from_vec((0..12).map(|x| x as f64).collect(), &[2, 3, 2]).unwrap();
        assert_eq!(t.sum_all().item().unwrap(), 66.0);
        assert_eq!(t.mean_all().item().unwrap(), 5.5);
        let s1 = t.sum_axis(1, false).unwrap();
        assert_eq!(s1.shape(), &[2, 2]);
        assert_eq!(
            s1.data(),
            &[0. + 2. + 4., 1. + 3. + 5., 6. + 8. + 10., 7. + 9. + 11.]
        );
        assert_eq!(t.sum_axis(2, true).unwrap().shape(), &[2, 3, 1]);
        assert_eq!(t.sum_axis(0, false).unwrap().data()[0], 6.0);
        assert_eq!(t.mean_axis(1, false).unwrap().data(), &[2., 3., 8., 9.]);
        assert!(matches!(
            t.sum_axis(3, false),
            Err(Error::Axis {
                axis: 3,
                rank: 3,
                ..
            })
        ));
    }

    #[test]
    fn max_ties_go_to_first_index() {
        let t = Tensor::from_vec(vec![1.0f64, 5.0, 5.0, 2.0, -1.0, -3.0], &[2, 3]).unwrap();
        let (m, i) = t.max_axis_with_indices(1, false).unwrap();
        assert_eq!(m.data(), &[5.0, 2.0]);
        assert_eq!(i, vec![1, 0]);
        assert_eq!(t.argmax_axis(0).unwrap(), vec![1, 0, 0]);
        assert_eq!(t.max_axis(0, true).unwrap().shape(), &[1, 3]);
        assert!(Tensor::<f64>::zeros(&[2, 0]).max_axis(1, false).is_err());
    }
}
