//! Gradient checking: autograd's gradients against central finite differences.
//!
//! For each element x_j of each input, the numerical derivative is
//! `(f(x + eps·e_j) − f(x − eps·e_j)) / (2·eps)`, evaluated under [`no_grad`](super::no_grad).
//! Its error against the analytic value `a` is measured as
//!
//! ```text
//! rel = |a − n| / max(1, |a|, |n|)
//! ```
//!
//! i.e. an absolute error for derivatives of magnitude ≤ 1 and a relative one above, so tiny
//! derivatives are not judged by a ratio of rounding noise. Use `f64`: central differences have
//! O(eps²) truncation error, and in `f32` rounding swamps it.

use super::{no_grad, Var};
use crate::{Element, Error, Result, Tensor};

/// Outcome of [`gradcheck`].
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// Largest relative error over every element of every input.
    pub max_rel_error: f64,
    /// Per input: largest relative error.
    pub per_input: Vec<f64>,
    /// Where the largest error occurred: (input, flat element index, analytic, numeric).
    pub worst: Option<(usize, usize, f64, f64)>,
}

impl GradcheckReport {
    /// `Ok` if the largest relative error is at most `tol`; otherwise an
    /// [`Error::Autograd`] naming the worst element and both derivative values.
    pub fn assert_below(&self, tol: f64) -> Result<()> {
        if self.max_rel_error <= tol {
            return Ok(());
        }
        let (input, index, analytic, numeric) = self.worst.unwrap_or((0, 0, f64::NAN, f64::NAN));
        Err(Error::Autograd(format!(
            "gradcheck failed: relative error {:e} > {tol:e} at input {input}, element {index} \
             (analytic {analytic}, numeric {numeric})",
            self.max_rel_error
        )))
    }
}

/// Compare autograd's gradient of the scalar `f(inputs)` with central finite differences of
/// step `eps`, for every element of every input. `f` is called once with the inputs as
/// parameters (then `backward`), and twice per element under `no_grad`.
///
/// Errors if `eps` is not a positive finite number, if `f` fails or does not return a
/// one-element value, or if it returns a value that does not depend on any input.
/// An input that `f` ignores gets an analytic gradient of zero.
pub fn gradcheck<E: Element>(
    f: impl Fn(&[Var<E>]) -> Result<Var<E>>,
    inputs: &[Tensor<E>],
    eps: f64,
) -> Result<GradcheckReport> {
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::param(
            "eps",
            format!("must be positive and finite, got {eps}"),
        ));
    }
    let params: Vec<Var<E>> = inputs.iter().map(|t| Var::parameter(t.clone())).collect();
    let out = f(&params)?;
    out.backward()?;
    let analytic: Vec<Tensor<E>> = params
        .iter()
        .zip(inputs)
        .map(|(p, t)| p.grad().unwrap_or_else(|| Tensor::zeros(t.shape())))
        .collect();

    let eval = |values: &[Tensor<E>]| -> Result<f64> {
        no_grad(|| {
            let vars: Vec<Var<E>> = values.iter().map(|t| Var::constant(t.clone())).collect();
            Ok(f(&vars)?.value().item()?.to_f64())
        })
    };

    let mut report = GradcheckReport {
        max_rel_error: 0.0,
        per_input: vec![0.0; inputs.len()],
        worst: None,
    };
    let mut work: Vec<Tensor<E>> = inputs.to_vec();
    for (i, grad) in analytic.iter().enumerate() {
        for j in 0..inputs[i].len() {
            let x0 = inputs[i].data()[j];
            work[i].data_mut()[j] = E::from_f64(x0.to_f64() + eps);
            let plus = eval(&work)?;
            work[i].data_mut()[j] = E::from_f64(x0.to_f64() - eps);
            let minus = eval(&work)?;
            work[i].data_mut()[j] = x0;
            let numeric = (plus - minus) / (2.0 * eps);
            let a = grad.data()[j].to_f64();
            let rel = (a - numeric).abs() / 1f64.max(a.abs()).max(numeric.abs());
            // A NaN on either side counts as the worst possible error.
            let rel = if rel.is_nan() { f64::INFINITY } else { rel };
            if rel > report.per_input[i] {
                report.per_input[i] = rel;
            }
            if rel > report.max_rel_error || report.worst.is_none() {
                report.max_rel_error = rel;
                report.worst = Some((i, j, a, numeric));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_a_correct_gradient_and_catches_a_wrong_one() {
        let x = Tensor::from_vec(vec![0.3f64, -1.2, 2.0], &[3]).unwrap();
        let good = gradcheck(
            |v| Ok(v[0].mul(&v[0])?.sum()),
            std::slice::from_ref(&x),
            1e-6,
        )
        .unwrap();
        good.assert_below(1e-8).unwrap();
        // exp with a deliberately wrong rule: claim the derivative is 2·e^x.
        let bad = gradcheck(
            |v| {
                let y = v[0].exp();
                let wrong = y.add(
                    &v[0]
                        .exp()
                        .detach()
                        .mul(&v[0])?
                        .sub(&v[0].exp().detach().mul(&v[0].detach())?)?,
                )?;
                Ok(wrong.sum())
            },
            &[x],
            1e-6,
        )
        .unwrap();
        assert!(bad.max_rel_error > 0.1, "{bad:?}");
        assert!(bad.assert_below(1e-6).is_err());
        assert!(gradcheck(|v| Ok(v[0].sum()), &[Tensor::<f64>::zeros(&[1])], 0.0).is_err());
    }
}
