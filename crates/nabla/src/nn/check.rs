//! Checking a network's gradients: the engine's backward pass, run in f64 on an f64 copy of
//! the network (the same layer code), against central finite differences of the f64 loss (an
//! independent route: only forward passes), and the engine in f32 (what training uses)
//! against the f64 gradient. Errors are measured as in [`crate::autograd::gradcheck`]:
//! `|a − b| / max(1, |a|, |b|)`.
//!
//! At kinks the rules of the layers apply (relu′(0) = 0, leaky relu′(0) = alpha); a
//! pre-activation within `eps` of a kink can make the finite difference disagree, which is
//! vanishingly rare with real-valued data.

use super::{Sequential, Workspace};
use crate::loss::{Loss, Targets};
use crate::{Error, Result, Tensor};

/// The outcome for one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorCheck {
    /// Parameter name (`0.weight`, ...).
    pub name: String,
    /// Elements compared with finite differences (all, or an evenly spaced sample).
    pub checked: usize,
    /// Elements in the tensor.
    pub total: usize,
    /// Largest error of the backward pass in f64 against central differences.
    pub f64_vs_numeric: f64,
    /// Largest error of the backward pass in f32 against the one in f64 (every element).
    pub f32_vs_f64: f64,
}

fn rel_error(a: f64, b: f64) -> f64 {
    let r = (a - b).abs() / 1f64.max(a.abs()).max(b.abs());
    if r.is_nan() {
        f64::INFINITY
    } else {
        r
    }
}

/// Check every parameter tensor of `net` on the batch `x` (`rows × inputs`) with `targets`
/// and `loss`: finite differences of step `eps` in f64 against the f64 backward pass for up to
/// `max_per_tensor` evenly spaced elements per tensor (all when the tensor is smaller), and the
/// f32 backward pass against the f64 one for every element.
///
/// The check runs in `net`'s current mode; put it in evaluation mode first (dropout would make
/// the loss random). The network's gradient slots are overwritten.
pub fn check_gradients(
    net: &Sequential,
    x: &[f32],
    rows: usize,
    targets: Targets<'_>,
    loss: Loss,
    eps: f64,
    max_per_tensor: usize,
) -> Result<Vec<TensorCheck>> {
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::param(
            "eps",
            format!("{eps} must be positive and finite"),
        ));
    }
    let inputs = net.input_size();
    if rows == 0 || x.len() != rows * inputs {
        return Err(Error::ShapeMismatch {
            op: "check_gradients (batch vs network inputs)",
            lhs: vec![rows, inputs],
            rhs: vec![x.len()],
        });
    }
    let outputs = net.output_size();
    // The same network in f64, with the targets in f64.
    let net64 = net.to_f64()?;
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let values64: Vec<f64>;
    let targets64 = match targets {
        Targets::Classes(c) => Targets::Classes(c),
        Targets::Values(v) => {
            values64 = v.iter().map(|&v| v as f64).collect();
            Targets::Values(&values64[..])
        }
    };
    let mut ws64 = Workspace::new(&net64, rows)?;
    net64.zero_grad();
    net64.loss_backward(&mut ws64, &x64, rows, targets64, loss)?;
    let params64 = net64.named_parameters();
    let analytic: Vec<Tensor<f64>> = params64
        .iter()
        .map(|(_, p)| p.grad().unwrap_or_else(|| Tensor::zeros(&p.shape())))
        .collect();
    // The f32 gradient.
    let named = net.named_parameters();
    for (_, p) in &named {
        p.zero_grad();
    }
    let mut ws = Workspace::new(net, rows)?;
    net.loss_backward(&mut ws, x, rows, targets, loss)?;
    // Finite differences: forward passes only.
    let mut grad_scratch = vec![0.0f64; rows * outputs];
    let mut eval = |ws64: &mut Workspace<f64>| -> Result<f64> {
        let out = net64.forward_batch(ws64, &x64, rows)?;
        loss.value_and_grad(out, rows, outputs, targets64, &mut grad_scratch)
    };
    let mut out = Vec::with_capacity(named.len());
    for (i, (name, p)) in named.iter().enumerate() {
        let total = analytic[i].len();
        let checked = total.min(max_per_tensor.max(1));
        let mut worst_fd = 0.0f64;
        let p64 = &params64[i].1;
        for s in 0..checked {
            let j = s * total / checked;
            let x0 = p64.value().data()[j];
            p64.value_mut().data_mut()[j] = x0 + eps;
            let plus = eval(&mut ws64)?;
            p64.value_mut().data_mut()[j] = x0 - eps;
            let minus = eval(&mut ws64)?;
            p64.value_mut().data_mut()[j] = x0;
            let numeric = (plus - minus) / (2.0 * eps);
            worst_fd = worst_fd.max(rel_error(analytic[i].data()[j], numeric));
        }
        let single = p.grad().unwrap_or_else(|| Tensor::zeros(&p.shape()));
        let worst_f32 = single
            .data()
            .iter()
            .zip(analytic[i].data())
            .map(|(&f, &a)| rel_error(f as f64, a))
            .fold(0.0f64, f64::max);
        out.push(TensorCheck {
            name: name.clone(),
            checked,
            total,
            f64_vs_numeric: worst_fd,
            f32_vs_f64: worst_f32,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, MlpConfig};

    fn batch() -> (Vec<f32>, Vec<u32>) {
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
        (x, vec![0, 2, 1, 2, 0, 1])
    }

    #[test]
    fn all_losses_and_activations_agree() {
        let (x, classes) = batch();
        for (act, loss, outputs) in [
            (Activation::Tanh, Loss::CrossEntropy, 3),
            (Activation::Sigmoid, Loss::Mse, 3),
            (Activation::Relu, Loss::Sse, 3),
            (Activation::LeakyRelu { alpha: 0.1 }, Loss::BceWithLogits, 3),
        ] {
            let mut net = Sequential::mlp(
                &MlpConfig::new(4, [5, 3], outputs)
                    .with_activation(act)
                    .with_seed(9),
            )
            .unwrap();
            net.set_training(false);
            let checks =
                check_gradients(&net, &x, 6, Targets::Classes(&classes), loss, 1e-6, 1000).unwrap();
            assert_eq!(checks.len(), 6);
            for c in &checks {
                assert_eq!(c.checked, c.total);
                assert!(c.f64_vs_numeric < 1e-6, "{act:?} {loss:?} {c:?}");
                assert!(c.f32_vs_f64 < 1e-4, "{act:?} {loss:?} {c:?}");
            }
        }
    }

    #[test]
    fn samples_elements_and_rejects_bad_input() {
        let (x, classes) = batch();
        let mut net = Sequential::mlp(
            &MlpConfig::new(4, [5], 3)
                .with_activation(Activation::Tanh)
                .with_seed(2),
        )
        .unwrap();
        net.set_training(false);
        let t = Targets::Classes(&classes);
        let checks = check_gradients(&net, &x, 6, t, Loss::CrossEntropy, 1e-6, 3).unwrap();
        let checked: Vec<usize> = checks.iter().map(|c| c.checked).collect();
        let totals: Vec<usize> = checks.iter().map(|c| c.total).collect();
        assert_eq!(checked, [3, 3, 3, 3]);
        assert_eq!(totals, [20, 5, 15, 3]);
        assert!(checks.iter().all(|c| c.f64_vs_numeric < 1e-6));
        assert!(check_gradients(&net, &x[..5], 6, t, Loss::Mse, 1e-6, 5).is_err());
        assert!(check_gradients(&net, &x, 6, t, Loss::Mse, 0.0, 5).is_err());
    }
}
