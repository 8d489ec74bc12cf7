//! Checking a network's gradients three ways: the f64 autograd graph against central finite
//! differences, and the fused f32 path (what training uses) against the f64 autograd gradient.
//!
//! The f64 network is rebuilt from the f32 weights: each Linear computes x·Wᵀ + b with
//! [`Var<f64>`] operations, each activation its autograd op, dropout is the identity (the
//! check runs in evaluation mode), and the loss comes from [`crate::loss`]. Errors are measured
//! as in [`crate::autograd::gradcheck`]: `|a − b| / max(1, |a|, |b|)`.
//!
//! At kinks the rules of the ops apply (relu′(0) = 0, leaky relu′(0) = alpha); a
//! pre-activation within `eps` of a kink can make the finite difference disagree, which is
//! vanishingly rare with real-valued data.

use super::{Activation, FusedLoss, Layer, Module, Sequential, Targets, Workspace};
use crate::autograd::{no_grad, Var};
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
    /// Largest error of the f64 autograd gradient against central differences.
    pub autograd_vs_numeric: f64,
    /// Largest error of the fused f32 gradient against the f64 autograd gradient (every
    /// element).
    pub fused_vs_autograd: f64,
}

fn rel_error(a: f64, b: f64) -> f64 {
    let r = (a - b).abs() / 1f64.max(a.abs()).max(b.abs());
    if r.is_nan() {
        f64::INFINITY
    } else {
        r
    }
}

fn to_f64(t: &Tensor) -> Result<Tensor<f64>> {
    Tensor::from_vec(t.data().iter().map(|&v| v as f64).collect(), t.shape())
}

/// The f64 forward pass and loss of `net` with the given parameter values (one per
/// `named_parameters` entry, in order).
fn loss_f64(
    net: &Sequential,
    params: &[Var<f64>],
    x: &Var<f64>,
    targets: &Targets<'_>,
    loss: FusedLoss,
    rows: usize,
) -> Result<Var<f64>> {
    let mut h = x.clone();
    let mut k = 0;
    for layer in net.layers() {
        match layer {
            Layer::Linear(_) => {
                let (w, b) = (&params[k], &params[k + 1]);
                k += 2;
                h = h.matmul(&w.transpose()?)?.add(b)?;
            }
            Layer::Activation(a) => {
                h = match a.0 {
                    Activation::Identity => h,
                    Activation::Sigmoid => h.sigmoid(),
                    Activation::Tanh => h.tanh(),
                    Activation::Relu => h.relu(),
                    Activation::LeakyRelu { alpha } => h.leaky_relu(alpha as f64),
                }
            }
            Layer::Dropout(_) => {}
        }
    }
    let outputs = net.output_size().unwrap_or(1);
    let target_values = || -> Result<Var<f64>> {
        let mut t = Vec::with_capacity(rows * outputs);
        match targets {
            Targets::Values(v) => t.extend(v.iter().map(|&v| v as f64)),
            Targets::Classes(c) => {
                for &k in c.iter() {
                    if outputs == 1 {
                        t.push(k as f64);
                    } else {
                        t.extend((0..outputs).map(|j| if j == k as usize { 1.0 } else { 0.0 }));
                    }
                }
            }
        }
        Ok(Var::constant(Tensor::from_vec(t, &[rows, outputs])?))
    };
    match loss {
        FusedLoss::Sse => crate::loss::sse(&h, &target_values()?),
        FusedLoss::Mse => crate::loss::mse(&h, &target_values()?),
        FusedLoss::BceWithLogits => crate::loss::bce_with_logits(&h, &target_values()?),
        FusedLoss::CrossEntropy => match targets {
            Targets::Classes(c) => {
                let classes: Vec<usize> = c.iter().map(|&k| k as usize).collect();
                crate::loss::cross_entropy(&h, &classes)
            }
            Targets::Values(_) => Err(Error::param("loss", "cross-entropy needs class targets")),
        },
    }
}

/// Check every parameter tensor of `net` on the batch `x` (`rows × inputs`) with `targets`
/// and `loss`: finite differences of step `eps` in f64 against f64 autograd for up to
/// `max_per_tensor` evenly spaced elements per tensor (all when the tensor is smaller), and the
/// fused f32 gradient against f64 autograd for every element.
///
/// Put the network in evaluation mode first (dropout would make the fused loss random).
/// The network's gradient slots are overwritten.
pub fn check_gradients(
    net: &Sequential,
    x: &[f32],
    rows: usize,
    targets: Targets<'_>,
    loss: FusedLoss,
    eps: f64,
    max_per_tensor: usize,
) -> Result<Vec<TensorCheck>> {
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::param(
            "eps",
            format!("{eps} must be positive and finite"),
        ));
    }
    let inputs = net.input_size().unwrap_or(0);
    if rows == 0 || x.len() != rows * inputs {
        return Err(Error::ShapeMismatch {
            op: "check_gradients (batch vs network inputs)",
            lhs: vec![rows, inputs],
            rhs: vec![x.len()],
        });
    }
    let named = net.named_parameters();
    // f64 autograd gradient.
    let params64: Vec<Var<f64>> = named
        .iter()
        .map(|(_, p)| to_f64(&p.value()).map(Var::parameter))
        .collect::<Result<_>>()?;
    let x64 = Var::constant(Tensor::from_vec(
        x.iter().map(|&v| v as f64).collect(),
        &[rows, inputs],
    )?);
    let value = loss_f64(net, &params64, &x64, &targets, loss, rows)?;
    value.backward()?;
    let analytic: Vec<Tensor<f64>> = params64
        .iter()
        .map(|p| p.grad().unwrap_or_else(|| Tensor::zeros(&p.shape())))
        .collect();
    // Fused f32 gradient.
    for (_, p) in &named {
        p.zero_grad();
    }
    let mut ws = Workspace::new(net, rows)?;
    net.loss_backward_fused(&mut ws, x, rows, targets, loss)?;
    // Finite differences on constants.
    let mut work: Vec<Tensor<f64>> = params64.iter().map(|p| p.value().clone()).collect();
    let eval = |values: &[Tensor<f64>]| -> Result<f64> {
        no_grad(|| {
            let vars: Vec<Var<f64>> = values.iter().map(|t| Var::constant(t.clone())).collect();
            loss_f64(net, &vars, &x64, &targets, loss, rows)?
                .value()
                .item()
        })
    };
    let mut out = Vec::with_capacity(named.len());
    for (i, (name, p)) in named.iter().enumerate() {
        let total = analytic[i].len();
        let checked = total.min(max_per_tensor.max(1));
        let mut worst_fd = 0.0f64;
        for s in 0..checked {
            let j = s * total / checked;
            let x0 = work[i].data()[j];
            work[i].data_mut()[j] = x0 + eps;
            let plus = eval(&work)?;
            work[i].data_mut()[j] = x0 - eps;
            let minus = eval(&work)?;
            work[i].data_mut()[j] = x0;
            let numeric = (plus - minus) / (2.0 * eps);
            worst_fd = worst_fd.max(rel_error(analytic[i].data()[j], numeric));
        }
        let fused = p.grad().unwrap_or_else(|| Tensor::zeros(&p.shape()));
        let worst_fused = fused
            .data()
            .iter()
            .zip(analytic[i].data())
            .map(|(&f, &a)| rel_error(f as f64, a))
            .fold(0.0f64, f64::max);
        out.push(TensorCheck {
            name: name.clone(),
            checked,
            total,
            autograd_vs_numeric: worst_fd,
            fused_vs_autograd: worst_fused,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;

    fn batch() -> (Vec<f32>, Vec<u32>) {
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect();
        (x, vec![0, 2, 1, 2, 0, 1])
    }

    #[test]
    fn all_losses_and_activations_agree() {
        let (x, classes) = batch();
        for (act, loss, outputs) in [
            (Activation::Tanh, FusedLoss::CrossEntropy, 3),
            (Activation::Sigmoid, FusedLoss::Mse, 3),
            (Activation::Relu, FusedLoss::Sse, 3),
            (
                Activation::LeakyRelu { alpha: 0.1 },
                FusedLoss::BceWithLogits,
                3,
            ),
        ] {
            let mut net = Sequential::mlp(&MlpConfig {
                inputs: 4,
                hidden: vec![5, 3],
                outputs,
                activation: act,
                seed: 9,
                ..MlpConfig::default()
            })
            .unwrap();
            net.set_training(false);
            let checks =
                check_gradients(&net, &x, 6, Targets::Classes(&classes), loss, 1e-6, 1000).unwrap();
            assert_eq!(checks.len(), 6);
            for c in &checks {
                assert_eq!(c.checked, c.total);
                assert!(c.autograd_vs_numeric < 1e-6, "{act:?} {loss:?} {c:?}");
                assert!(c.fused_vs_autograd < 1e-4, "{act:?} {loss:?} {c:?}");
            }
        }
    }

    #[test]
    fn samples_elements_and_rejects_bad_input() {
        let (x, classes) = batch();
        let mut net = Sequential::mlp(&MlpConfig {
            inputs: 4,
            hidden: vec![5],
            outputs: 3,
            activation: Activation::Tanh,
            seed: 2,
            ..MlpConfig::default()
        })
        .unwrap();
        net.set_training(false);
        let t = Targets::Classes(&classes);
        let checks = check_gradients(&net, &x, 6, t, FusedLoss::CrossEntropy, 1e-6, 3).unwrap();
        let checked: Vec<usize> = checks.iter().map(|c| c.checked).collect();
        let totals: Vec<usize> = checks.iter().map(|c| c.total).collect();
        assert_eq!(checked, [3, 3, 3, 3]);
        assert_eq!(totals, [20, 5, 15, 3]);
        assert!(checks.iter().all(|c| c.autograd_vs_numeric < 1e-6));
        assert!(check_gradients(&net, &x[..5], 6, t, FusedLoss::Mse, 1e-6, 5).is_err());
        assert!(check_gradients(&net, &x, 6, t, FusedLoss::Mse, 0.0, 5).is_err());
    }
}
