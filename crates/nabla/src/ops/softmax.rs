//! Softmax and log-softmax of one row, stable for logits of any finite size: the row's maximum
//! is subtracted before exponentiating, so e^x never overflows.
//!
//! ∂ log softmax(z)_k / ∂z_j = [j = k] − softmax(z)_j, which is why softmax followed by the
//! negative log-likelihood has the gradient softmax(z) − onehot (see [`crate::loss`]).

use crate::Element;

/// ln Σ_j e^{z_j}, computed as m + ln Σ_j e^{z_j − m} with m = max z. `−inf` for an empty row.
#[inline]
pub fn log_sum_exp<E: Element>(z: &[E]) -> E {
    let Some(&first) = z.first() else {
        return E::from_f64(f64::NEG_INFINITY);
    };
    let m = z.iter().fold(first, |m, &v| m.max(v));
    let total = z.iter().fold(E::ZERO, |acc, &v| acc + (v - m).exp());
    m + total.ln()
}

/// softmax(z) into `out` (same length): e^{z_i − m} / Σ_j e^{z_j − m}, the sum and the
/// division in f64 (so f32 probabilities are as close as f32 allows). Returns ln Σ_j e^{z_j}
/// (the log-sum-exp).
#[inline]
pub fn softmax_into<E: Element>(z: &[E], out: &mut [E]) -> E {
    let (m, ln_sum) = softmax_parts(z, out);
    m + ln_sum
}

/// [`softmax_into`], returning the row maximum m and ln Σ_j e^{z_j − m} apart, so that a
/// log-probability ln softmax(z)_k = (z_k − m) − ln Σ keeps its precision for large logits.
#[inline]
pub fn softmax_parts<E: Element>(z: &[E], out: &mut [E]) -> (E, E) {
    let Some(&first) = z.first() else {
        return (E::from_f64(f64::NEG_INFINITY), E::ZERO);
    };
    let m = z.iter().fold(first, |m, &v| m.max(v));
    let mut total = 0.0f64;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = (v - m).exp();
        total += o.to_f64();
    }
    for o in out.iter_mut() {
        *o = E::from_f64(o.to_f64() / total);
    }
    (m, E::from_f64(total.ln()))
}

/// log softmax(z) into `out`: z_i − log_sum_exp(z).
#[inline]
pub fn log_softmax_into<E: Element>(z: &[E], out: &mut [E]) {
    let shift = log_sum_exp(z);
    for (o, &v) in out.iter_mut().zip(z) {
        *o = v - shift;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_huge_logits() {
        let z = [1e4f32, 0.0, -1e4];
        let mut p = [0.0f32; 3];
        let lse = softmax_into(&z, &mut p);
        assert_eq!(p, [1.0, 0.0, 0.0]);
        assert_eq!(lse, 1e4);
        let z = [0.5f64, -1.0, 2.0];
        let mut p = [0.0; 3];
        softmax_into(&z, &mut p);
        let direct: f64 = z.iter().map(|v| v.exp()).sum();
        for (pi, zi) in p.iter().zip(z) {
            assert!((pi - zi.exp() / direct).abs() < 1e-15);
        }
        assert!((log_sum_exp(&z) - direct.ln()).abs() < 1e-15);
        let mut l = [0.0; 3];
        log_softmax_into(&z, &mut l);
        assert!((l[2] - (2.0 - direct.ln())).abs() < 1e-15);
    }
}
