//! Softmax and log-softmax along an axis, stable for large logits (the maximum is subtracted
//! before exponentiating, so ±1e4 give finite results).

use super::{Element, Tensor};
use crate::Result;

impl<E: Element> Tensor<E> {
    /// Apply `f(slice_values, out)` to every 1-D slice along `axis`. Slices are gathered into a
    /// contiguous buffer when `axis` is not the last axis.
    fn map_axis_slices(
        &self,
        op: &'static str,
        axis: usize,
        f: impl Fn(&[E], &mut [E]),
    ) -> Result<Tensor<E>> {
        let (outer, len, inner) = self.axis_layout(op, axis)?;
        let mut data = vec![E::ZERO; self.data.len()];
        if inner == 1 {
            if len > 0 {
                for (src, dst) in self.data.chunks_exact(len).zip(data.chunks_exact_mut(len)) {
                    f(src, dst);
                }
            }
        } else {
            let mut src = vec![E::ZERO; len];
            let mut dst = vec![E::ZERO; len];
            for o in 0..outer {
                for i in 0..inner {
                    let base = o * len * inner + i;
                    for (k, s) in src.iter_mut().enumerate() {
                        *s = self.data[base + k * inner];
                    }
                    f(&src, &mut dst);
                    for (k, &d) in dst.iter().enumerate() {
                        data[base + k * inner] = d;
                    }
                }
            }
        }
        Ok(Tensor {
            shape: self.shape.clone(),
            data,
        })
    }

    /// e^{x_i} / Σ_j e^{x_j} along `axis`, computed as e^{x_i − max} / Σ e^{x_j − max}.
    pub fn softmax(&self, axis: usize) -> Result<Tensor<E>> {
        self.map_axis_slices("softmax", axis, |x, out| {
            crate::ops::softmax::softmax_into(x, out);
        })
    }

    /// ln softmax along `axis`: x_i − max − ln Σ_j e^{x_j − max}.
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor<E>> {
        self.map_axis_slices("log_softmax", axis, |x, out| {
            crate::ops::softmax::log_softmax_into(x, out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_matches_definition_and_survives_huge_logits() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, -1.0, 0.0, 1.0], &[2, 3]).unwrap();
        let s = x.softmax(1).unwrap();
        let denom: f64 = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        assert!((s.data()[0] - 1f64.exp() / denom).abs() < 1e-15);
        // Shift invariance: row 2 is row 1 minus 2.
        for j in 0..3 {
            assert!((s.data()[j] - s.data()[3 + j]).abs() < 1e-15);
        }
        let ls = x.log_softmax(1).unwrap();
        for (a, b) in ls.data().iter().zip(s.data()) {
            assert!((a - b.ln()).abs() < 1e-14);
        }
        // Along axis 0 of the same data: columns.
        let s0 = x.softmax(0).unwrap();
        let want = 1.0 / (1.0 + (-2.0f64).exp());
        assert!((s0.data()[0] - want).abs() < 1e-15);
        let big = Tensor::from_vec(vec![1e4f32, -1e4, 0.0, 1e4], &[4]).unwrap();
        let sb = big.softmax(0).unwrap();
        assert_eq!(sb.data(), &[0.5, 0.0, 0.0, 0.5]);
        let lb = big.log_softmax(0).unwrap();
        assert!(lb.data().iter().all(|v| v.is_finite()));
        assert!((lb.data()[1] - (-2e4 - std::f32::consts::LN_2)).abs() < 1e-2);
        assert!(x.softmax(2).is_err());
    }
}
