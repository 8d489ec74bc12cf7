//! Batch normalisation, as PyTorch's `nn.BatchNorm1d` (rows of `[features]`) and
//! `nn.BatchNorm2d` (rows of `[channels, height, width]`) compute it, forward and backward side
//! by side. Per channel c, over the batch (and the positions of a 2-D row):
//!
//! - training: x̂ = (x − μ_B)/√(σ²_B + ε) with the batch mean and biased variance, y = γ·x̂ + β,
//!   and the running statistics move by `momentum`: r ← (1 − m)·r + m·stat, with the unbiased
//!   variance (n/(n − 1)·σ²_B) for `running_var`, as PyTorch does;
//! - evaluation: x̂ = (x − running_mean)/√(running_var + ε).
//!
//! Backward in training mode, with n values per channel:
//! ∂E/∂x = γ/√(σ²_B + ε) · (δ − mean(δ) − x̂·mean(δ·x̂)), ∂E/∂γ = Σ δ·x̂, ∂E/∂β = Σ δ;
//! in evaluation mode the statistics are constants and ∂E/∂x = γ/√(running_var + ε) · δ.

use super::module::check_lengths;
use super::{Backprop, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::{Element, Error, Result, Tensor};

/// Settings of a [`BatchNorm`] layer (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Channels (features for 1-D rows).
    pub channels: usize,
    /// Added to the variance (default 1e-5).
    pub eps: f64,
    /// Weight of the newest batch in the running statistics (default 0.1).
    pub momentum: f64,
}

impl BatchNormConfig {
    /// `channels` with eps 1e-5 and momentum 0.1.
    pub fn new(channels: usize) -> Self {
        BatchNormConfig {
            channels,
            eps: 1e-5,
            momentum: 0.1,
        }
    }

    /// The layer: γ = 1, β = 0, running mean 0, running variance 1.
    pub fn init<E: Element>(&self) -> Result<BatchNorm<E>> {
        let eps_ok = self.eps.is_finite() && self.eps > 0.0;
        if self.channels == 0 || !eps_ok || !(0.0..=1.0).contains(&self.momentum) {
            return Err(Error::param(
                "batchnorm",
                format!(
                    "needs channels ≥ 1, eps > 0 and momentum in [0, 1] (got {}, {}, {})",
                    self.channels, self.eps, self.momentum
                ),
            ));
        }
        let c = self.channels;
        Ok(BatchNorm {
            weight: Var::parameter(Tensor::ones(&[c])),
            bias: Var::parameter(Tensor::zeros(&[c])),
            running_mean: Var::constant(Tensor::zeros(&[c])),
            running_var: Var::constant(Tensor::ones(&[c])),
            num_batches_tracked: Var::constant(Tensor::scalar(E::ZERO)),
            eps: self.eps,
            momentum: self.momentum,
        })
    }
}

/// Batch normalisation over the channel axis (the first of a row's shape). State-dict names
/// as in PyTorch: `weight` (γ), `bias` (β), and the buffers `running_mean`, `running_var`,
/// `num_batches_tracked`.
#[derive(Clone, Debug)]
pub struct BatchNorm<E: Element = f32> {
    /// γ, `[channels]`.
    pub weight: Var<E>,
    /// β, `[channels]`.
    pub bias: Var<E>,
    /// Running mean, `[channels]`.
    pub running_mean: Var<E>,
    /// Running (unbiased) variance, `[channels]`.
    pub running_var: Var<E>,
    /// Training batches seen (a scalar).
    pub num_batches_tracked: Var<E>,
    eps: f64,
    momentum: f64,
}

impl<E: Element> BatchNorm<E> {
    fn channels(&self) -> usize {
        self.weight.value().len()
    }

    /// (channels, values per channel in one row) of a row shape.
    fn layout(&self, input: &[usize]) -> Result<(usize, usize)> {
        match input {
            [c, rest @ ..] if *c == self.channels() && rest.len() <= 2 => {
                Ok((*c, rest.iter().product()))
            }
            _ => Err(Error::ShapeMismatch {
                op: "batchnorm (input row [channels] or [channels, h, w] vs channels)",
                lhs: input.to_vec(),
                rhs: vec![self.channels()],
            }),
        }
    }
}

impl<E: Element> Module<E> for BatchNorm<E> {
    fn spec(&self) -> LayerSpec {
        LayerSpec::BatchNorm {
            channels: self.channels(),
            eps: self.eps,
            momentum: self.momentum,
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.layout(input)?;
        Ok(input.to_vec())
    }

    /// x̂ of the batch, then 1/√(σ² + ε) per channel.
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        pass.rows * pass.input_len() + self.channels()
    }

    #[allow(clippy::needless_range_loop)] // ch indexes several per-channel slices
    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("batchnorm forward", x, y, pass)?;
        let (c, hw) = self.layout(pass.input)?;
        let (rows, len) = (pass.rows, pass.input_len());
        let n = rows * hw;
        let (xhat, inv_std) = scratch[..rows * len + c].split_at_mut(rows * len);
        let (gamma, beta) = (self.weight.value(), self.bias.value());
        if pass.training && n < 2 {
            return Err(Error::param(
                "batchnorm",
                format!("training needs more than one value per channel, got {n}"),
            ));
        }
        let mut running_mean = self.running_mean.value_mut();
        let mut running_var = self.running_var.value_mut();
        for ch in 0..c {
            let values =
                || (0..rows).flat_map(move |r| (0..hw).map(move |k| r * len + ch * hw + k));
            let (mean, var) = if pass.training {
                let mean = values().map(|i| x[i].to_f64()).sum::<f64>() / n as f64;
                let var = values()
                    .map(|i| (x[i].to_f64() - mean).powi(2))
                    .sum::<f64>()
                    / n as f64;
                let m = self.momentum;
                let rm = &mut running_mean.data_mut()[ch];
                *rm = E::from_f64((1.0 - m) * rm.to_f64() + m * mean);
                let rv = &mut running_var.data_mut()[ch];
                let unbiased = var * n as f64 / (n - 1) as f64;
                *rv = E::from_f64((1.0 - m) * rv.to_f64() + m * unbiased);
                (mean, var)
            } else {
                (
                    running_mean.data()[ch].to_f64(),
                    running_var.data()[ch].to_f64(),
                )
            };
            let inv = 1.0 / (var + self.eps).sqrt();
            inv_std[ch] = E::from_f64(inv);
            let (g, b) = (gamma.data()[ch], beta.data()[ch]);
            for i in values() {
                let h = E::from_f64((x[i].to_f64() - mean) * inv);
                xhat[i] = h;
                y[i] = g * h + b;
            }
        }
        if pass.training {
            let mut t = self.num_batches_tracked.value_mut();
            let d = t.data_mut();
            d[0] += E::ONE;
        }
        Ok(())
    }

    #[allow(clippy::needless_range_loop)] // ch indexes several per-channel slices
    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, scratch) = grads.checked("batchnorm backward", pass)?;
        let (c, hw) = self.layout(pass.input)?;
        let (rows, len) = (pass.rows, pass.input_len());
        let n = (rows * hw) as f64;
        let (xhat, inv_std) = scratch[..rows * len + c].split_at_mut(rows * len);
        let gamma = self.weight.value();
        let mut gw = self.weight.grad_mut();
        let gw = gw.get_or_insert_with(|| Tensor::zeros(&[c]));
        let mut gb = self.bias.grad_mut();
        let gb = gb.get_or_insert_with(|| Tensor::zeros(&[c]));
        let mut dx = dx;
        for ch in 0..c {
            let values =
                || (0..rows).flat_map(move |r| (0..hw).map(move |k| r * len + ch * hw + k));
            let sum_dy: f64 = values().map(|i| dy[i].to_f64()).sum();
            let sum_dy_xhat: f64 = values().map(|i| dy[i].to_f64() * xhat[i].to_f64()).sum();
            gw.data_mut()[ch] += E::from_f64(sum_dy_xhat);
            gb.data_mut()[ch] += E::from_f64(sum_dy);
            if let Some(dx) = dx.as_deref_mut() {
                let scale = gamma.data()[ch].to_f64() * inv_std[ch].to_f64();
                for i in values() {
                    let d = if pass.training {
                        dy[i].to_f64() - sum_dy / n - xhat[i].to_f64() * sum_dy_xhat / n
                    } else {
                        dy[i].to_f64()
                    };
                    dx[i] = E::from_f64(scale * d);
                }
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }

    fn buffers(&self) -> Vec<(&'static str, Var<E>)> {
        vec![
            ("running_mean", self.running_mean.clone()),
            ("running_var", self.running_var.clone()),
            ("num_batches_tracked", self.num_batches_tracked.clone()),
        ]
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(BatchNorm::<f64> {
            weight: Var::parameter(self.weight.value().cast()),
            bias: Var::parameter(self.bias.value().cast()),
            running_mean: Var::constant(self.running_mean.value().cast()),
            running_var: Var::constant(self.running_var.value().cast()),
            num_batches_tracked: Var::constant(self.num_batches_tracked.value().cast()),
            eps: self.eps,
            momentum: self.momentum,
        }))
    }
}
