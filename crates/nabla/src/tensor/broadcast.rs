//! NumPy-style broadcasting: combining two shapes, applying a binary kernel over broadcast
//! operands, and the reduction that undoes a broadcast (needed to send gradients back).
//!
//! Shapes are aligned at their last axis; a missing leading axis counts as extent 1, and an
//! extent of 1 stretches to match the other operand. `[2, 3]` with `[3]` gives `[2, 3]`;
//! `[2, 1]` with `[1, 4]` gives `[2, 4]`; `[2, 3]` with `[2]` is an error.

use super::{Element, Tensor};
use crate::{Error, Result};

/// The shape two operands broadcast to, or [`Error::ShapeMismatch`] (op "broadcast") naming
/// both shapes.
///
/// ```
/// use nabla::tensor::broadcast_shapes;
/// assert_eq!(broadcast_shapes(&[2, 1], &[1, 4]).unwrap(), vec![2, 4]);
/// assert!(broadcast_shapes(&[2, 3], &[2]).is_err());
/// ```
pub fn broadcast_shapes(lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    broadcast_shapes_for("broadcast", lhs, rhs)
}

/// [`broadcast_shapes`] with the operation named in the error.
pub fn broadcast_shapes_for(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut out = vec![0; rank];
    for (d, slot) in out.iter_mut().enumerate() {
        let l = extent_from_right(lhs, rank - 1 - d);
        let r = extent_from_right(rhs, rank - 1 - d);
        *slot = if l == r || r == 1 {
            l
        } else if l == 1 {
            r
        } else {
            return Err(Error::ShapeMismatch {
                op,
                lhs: lhs.to_vec(),
                rhs: rhs.to_vec(),
            });
        };
    }
    Ok(out)
}

/// Extent of the axis `k` places from the last (1 for axes the shape does not have).
fn extent_from_right(shape: &[usize], k: usize) -> usize {
    if k < shape.len() {
        shape[shape.len() - 1 - k]
    } else {
        1
    }
}

/// Row-major strides of `src` as read when broadcast to `out` (which has rank ≥ `src`'s):
/// one stride per axis of `out`, 0 on axes that `src` stretches or lacks.
pub(crate) fn broadcast_strides(src: &[usize], out: &[usize]) -> Vec<usize> {
    let offset = out.len() - src.len();
    let mut strides = vec![0; out.len()];
    let mut step = 1;
    for d in (0..src.len()).rev() {
        if src[d] != 1 {
            strides[d + offset] = step;
        }
        step *= src[d];
    }
    strides
}

/// Whether `small` equals the trailing axes of `big` (so `big` is a stack of `small`-sized rows).
fn is_trailing_suffix(small: &[usize], big: &[usize]) -> bool {
    small.len() <= big.len() && big[big.len() - small.len()..] == *small
}

/// Call `f(out_offset, a_offset, b_offset)` at the start of every innermost row of `out_shape`,
/// where the offsets are those of element 0 of that row in each (broadcast) operand.
fn for_each_row(
    out_shape: &[usize],
    a_strides: &[usize],
    b_strides: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let rank = out_shape.len();
    let inner = out_shape[rank - 1];
    let rows: usize = out_shape[..rank - 1].iter().product();
    let mut index = vec![0usize; rank.saturating_sub(1)];
    let (mut a_off, mut b_off) = (0usize, 0usize);
    for row in 0..rows {
        f(row * inner, a_off, b_off);
        // Advance the multi-index over the outer axes, odometer style.
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            a_off += a_strides[d];
            b_off += b_strides[d];
            if index[d] < out_shape[d] {
                break;
            }
            a_off -= a_strides[d] * out_shape[d];
            b_off -= b_strides[d] * out_shape[d];
            index[d] = 0;
        }
    }
}

impl<E: Element> Tensor<E> {
    /// Apply `f` elementwise to `self` and `other` broadcast together. `op` names the
    /// operation in a shape error. Fast paths: equal shapes, a one-element operand, and an
    /// operand that matches the trailing axes of the other (row broadcast, `[m, n]` with `[n]`).
    pub fn zip_broadcast(
        &self,
        other: &Tensor<E>,
        op: &'static str,
        f: impl Fn(E, E) -> E,
    ) -> Result<Tensor<E>> {
        if self.shape == other.shape {
            let data = self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect();
            return Ok(Tensor {
                shape: self.shape.clone(),
                data,
            });
        }
        let shape = broadcast_shapes_for(op, &self.shape, &other.shape)?;
        let n: usize = shape.iter().product();
        if other.data.len() == 1 && self.data.len() == n {
            let b = other.data[0];
            let data = self.data.iter().map(|&a| f(a, b)).collect();
            return Ok(Tensor { shape, data });
        }
        if self.data.len() == 1 && other.data.len() == n {
            let a = self.data[0];
            let data = other.data.iter().map(|&b| f(a, b)).collect();
            return Ok(Tensor { shape, data });
        }
        if n == 0 {
            return Ok(Tensor {
                shape,
                data: vec![],
            });
        }
        let mut data = Vec::with_capacity(n);
        if shape == self.shape && is_trailing_suffix(&other.shape, &self.shape) {
            let width = other.data.len();
            for row in self.data.chunks_exact(width) {
                data.extend(row.iter().zip(&other.data).map(|(&a, &b)| f(a, b)));
            }
            return Ok(Tensor { shape, data });
        }
        if shape == other.shape && is_trailing_suffix(&self.shape, &other.shape) {
            let width = self.data.len();
            for row in other.data.chunks_exact(width) {
                data.extend(self.data.iter().zip(row).map(|(&a, &b)| f(a, b)));
            }
            return Ok(Tensor { shape, data });
        }
        let a_strides = broadcast_strides(&self.shape, &shape);
        let b_strides = broadcast_strides(&other.shape, &shape);
        let inner = shape[shape.len() - 1];
        let (sa, sb) = (a_strides[shape.len() - 1], b_strides[shape.len() - 1]);
        for_each_row(&shape, &a_strides, &b_strides, |_, a0, b0| {
            for j in 0..inner {
                data.push(f(self.data[a0 + j * sa], other.data[b0 + j * sb]));
            }
        });
        Ok(Tensor { shape, data })
    }

    /// `self` broadcast up to `shape` (copied out). Errors ([`Error::ShapeMismatch`]) if
    /// `self.shape()` does not broadcast to exactly `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<E>> {
        if self.shape == shape {
            return Ok(self.clone());
        }
        if shape.len() < self.shape.len()
            || broadcast_shapes_for("broadcast_to", &self.shape, shape)? != shape
        {
            return Err(Error::ShapeMismatch {
                op: "broadcast_to",
                lhs: self.shape.clone(),
                rhs: shape.to_vec(),
            });
        }
        let n: usize = shape.iter().product();
        if n == 0 {
            return Ok(Tensor {
                shape: shape.to_vec(),
                data: vec![],
            });
        }
        let strides = broadcast_strides(&self.shape, shape);
        let rank = shape.len();
        let (inner, step) = (shape[rank - 1], strides[rank - 1]);
        let mut data = Vec::with_capacity(n);
        for_each_row(shape, &strides, &strides, |_, s0, _| {
            data.extend((0..inner).map(|j| self.data[s0 + j * step]));
        });
        Ok(Tensor {
            shape: shape.to_vec(),
            data,
        })
    }

    /// Sum `self` down to `shape`, the reduction that undoes broadcasting `shape` up to
    /// `self.shape()`: every axis that broadcasting stretched or added is summed. This is how a
    /// gradient flows back through a broadcast operand.
    ///
    /// Errors ([`Error::ShapeMismatch`]) if `shape` does not broadcast to `self.shape()`.
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor<E>> {
        if self.shape == shape {
            return Ok(self.clone());
        }
        let mismatch = || Error::ShapeMismatch {
            op: "sum_to_shape",
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        if shape.len() > self.shape.len() {
            return Err(mismatch());
        }
        if broadcast_shapes_for("sum_to_shape", shape, &self.shape)? != self.shape {
            return Err(mismatch());
        }
        let n: usize = shape.iter().product();
        let mut out = vec![E::ZERO; n];
        if self.data.is_empty() {
            return Ok(Tensor {
                shape: shape.to_vec(),
                data: out,
            });
        }
        if n == 1 {
            out[0] = self.data.iter().fold(E::ZERO, |acc, &x| acc + x);
        } else if is_trailing_suffix(shape, &self.shape) {
            for row in self.data.chunks_exact(n) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o += x;
                }
            }
        } else {
            let dst_strides = broadcast_strides(shape, &self.shape);
            let rank = self.shape.len();
            let inner = self.shape[rank - 1];
            let sd = dst_strides[rank - 1];
            let data = &self.data;
            for_each_row(&self.shape, &dst_strides, &dst_strides, |src0, d0, _| {
                for j in 0..inner {
                    out[d0 + j * sd] += data[src0 + j];
                }
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(
            broadcast_shapes_for("t", &[2, 3], &[3]).unwrap(),
            vec![2, 3]
        );
        assert_eq!(
            broadcast_shapes_for("t", &[4, 1, 3], &[2, 1]).unwrap(),
            vec![4, 2, 3]
        );
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap(), vec![2, 2]);
        let err = broadcast_shapes_for("add", &[2, 3], &[2]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[2]"),
            "{msg}"
        );
    }

    #[test]
    fn general_broadcast_matches_index_arithmetic() {
        // a: [3, 1, 2], b: [4, 1] -> [3, 4, 2]; out[i,j,k] = a[i,0,k] * 10 + b[j,0]
        let a = Tensor::from_vec((0..6).map(|x| x as f64).collect(), &[3, 1, 2]).unwrap();
        let b = Tensor::from_vec(vec![100.0, 200.0, 300.0, 400.0], &[4, 1]).unwrap();
        let c = a.zip_broadcast(&b, "t", |x, y| x * 10.0 + y).unwrap();
        assert_eq!(c.shape(), &[3, 4, 2]);
        for i in 0..3 {
            for j in 0..4 {
                for k in 0..2 {
                    let want = (i * 2 + k) as f64 * 10.0 + (j + 1) as f64 * 100.0;
                    assert_eq!(c.data()[(i * 4 + j) * 2 + k], want);
                }
            }
        }
        // Reversed operand order takes the same general path.
        let d = b.zip_broadcast(&a, "t", |y, x| x * 10.0 + y).unwrap();
        assert_eq!(c, d);
    }

    #[test]
    fn sum_to_shape_undoes_broadcast() {
        let g = Tensor::from_vec((1..=24).map(|x| x as f64).collect(), &[2, 3, 4]).unwrap();
        // Sum over axis 1 keeping it: [2, 1, 4].
        let s = g.sum_to_shape(&[2, 1, 4]).unwrap();
        for i in 0..2 {
            for k in 0..4 {
                let want: f64 = (0..3).map(|j| g.data()[(i * 3 + j) * 4 + k]).sum();
                assert_eq!(s.data()[i * 4 + k], want);
            }
        }
        // Row suffix and full reduction.
        let r = g.sum_to_shape(&[4]).unwrap();
        assert_eq!(r.data()[0], 1.0 + 5.0 + 9.0 + 13.0 + 17.0 + 21.0);
        assert_eq!(g.sum_to_shape(&[]).unwrap().item().unwrap(), 300.0);
        assert_eq!(g.sum_to_shape(&[1, 1]).unwrap().shape(), &[1, 1]);
        assert!(g.sum_to_shape(&[3]).is_err());
        assert!(g.sum_to_shape(&[1, 2, 3, 4]).is_err());
        // broadcast_to then sum_to_shape multiplies by the number of copies.
        let small = Tensor::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap();
        let big = small.broadcast_to(&[3, 2, 4]).unwrap();
        assert_eq!(big.data()[..8], [1., 1., 1., 1., 2., 2., 2., 2.]);
        assert_eq!(big.sum_to_shape(&[2, 1]).unwrap().data(), &[12.0, 24.0]);
        assert!(small.broadcast_to(&[3]).is_err());
    }
}
