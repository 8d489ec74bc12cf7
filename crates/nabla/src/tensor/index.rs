//! Per-row selection from a `[n, c]` tensor (picking each example's class score) and the
//! scatter that sends values back to those positions.

use super::{Element, Tensor};
use crate::{Error, Result};

impl<E: Element> Tensor<E> {
    /// Check that `self` is `[n, c]` and `indices` has `n` entries each below `c`; return (n, c).
    fn check_row_indices(&self, op: &'static str, indices: &[usize]) -> Result<(usize, usize)> {
        let (n, c) = self.dims_2d(op, "a 2-D [rows, columns] tensor")?;
        if indices.len() != n {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: vec![indices.len()],
            });
        }
        if let Some((row, &bad)) = indices.iter().enumerate().find(|(_, &i)| i >= c) {
            return Err(Error::Shape {
                op,
                shape: self.shape.clone(),
                msg: format!("index {bad} in row {row} is out of range for {c} columns"),
            });
        }
        Ok((n, c))
    }

    /// For a `[n, c]` tensor, `out[i] = self[i, indices[i]]`, shape `[n]`. Errors if `self` is
    /// not 2-D, `indices.len() != n`, or an index is `≥ c`.
    pub fn select_by_index(&self, indices: &[usize]) -> Result<Tensor<E>> {
        let (_, c) = self.check_row_indices("select_by_index", indices)?;
        let data = indices
            .iter()
            .enumerate()
            .map(|(i, &j)| self.data[i * c + j])
            .collect();
        Ok(Tensor {
            shape: vec![indices.len()],
            data,
        })
    }

    /// Alias of [`Tensor::select_by_index`].
    pub fn gather_rows(&self, indices: &[usize]) -> Result<Tensor<E>> {
        self.select_by_index(indices)
    }

    /// The counterpart of [`Tensor::select_by_index`]: from `self` of shape `[n]`, a `[n, columns]`
    /// tensor of zeros with `self[i]` at `(i, indices[i])`.
    pub fn scatter_by_index(&self, indices: &[usize], columns: usize) -> Result<Tensor<E>> {
        if self.rank() != 1 {
            return Err(Error::Shape {
                op: "scatter_by_index",
                shape: self.shape.clone(),
                msg: "expected a 1-D tensor of per-row values".into(),
            });
        }
        let mut out = Tensor::zeros(&[self.data.len(), columns]);
        out.check_row_indices("scatter_by_index", indices)?;
        for (i, (&j, &v)) in indices.iter().zip(&self.data).enumerate() {
            out.data[i * columns + j] = v;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_scatter_round_trip() {
        let t = Tensor::from_vec((0..6).map(|x| x as f64).collect(), &[3, 2]).unwrap();
        let s = t.select_by_index(&[1, 0, 1]).unwrap();
        assert_eq!(s.data(), &[1.0, 2.0, 5.0]);
        let back = s.scatter_by_index(&[1, 0, 1], 2).unwrap();
        assert_eq!(back.data(), &[0., 1., 2., 0., 0., 5.]);
        assert!(t.select_by_index(&[0, 2, 1]).is_err());
        assert!(t.select_by_index(&[0, 1]).is_err());
        assert!(s.scatter_by_index(&[0, 1, 2], 2).is_err());
    }
}
