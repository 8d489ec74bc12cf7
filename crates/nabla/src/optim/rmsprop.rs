//! RMSprop, optionally centred and with momentum, as `torch.optim.RMSprop`.

use super::{
    check_non_negative, check_positive, check_unit_interval, forward_to_core, lerp, Core,
    Optimizer, OptimizerState,
};
use crate::autograd::Var;
use crate::Result;

/// Settings of [`RmsProp`]; `Default` gives PyTorch's defaults: `lr = 1e-2`, `alpha = 0.99`,
/// `eps = 1e-8`, `weight_decay = 0`, `momentum = 0`, `centered = false`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate γ, positive and finite.
    pub lr: f64,
    /// Smoothing constant α in `[0, 1)` of the squared-gradient average.
    pub alpha: f64,
    /// ε > 0 added to the denominator (after the square root).
    pub eps: f64,
    /// L2 penalty λ ≥ 0, added to the gradient as `λ·θ`.
    pub weight_decay: f64,
    /// Momentum factor μ in `[0, 1)`; 0 turns momentum off.
    pub momentum: f64,
    /// Normalise by an estimate of the gradient's variance (`E[g²] − E[g]²`) instead of `E[g²]`.
    pub centered: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

impl RmsPropConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        check_unit_interval("alpha", self.alpha)?;
        check_positive("eps", self.eps)?;
        check_non_negative("weight decay", self.weight_decay)?;
        check_unit_interval("momentum", self.momentum)
    }
}

/// RMSprop (Hinton). Per step, with gradient g:
///
/// ```text
/// g ← g + λθ                            (if λ ≠ 0)
/// v ← αv + (1 − α)g²
/// centred: ḡ ← ḡ + (1 − α)(g − ḡ),  s ← √(v − ḡ²) + ε;   otherwise s ← √v + ε
/// momentum μ > 0: b ← μb + g/s,  θ ← θ − γb;              otherwise θ ← θ − γg/s
/// ```
///
/// All buffers start at zero.
pub struct RmsProp {
    core: Core,
    cfg: RmsPropConfig,
}

impl RmsProp {
    /// An RMSprop optimiser over `params` (leaves). Errors with [`crate::Error::Param`] on an
    /// empty list, a non-leaf, or a setting out of its domain.
    pub fn new(params: Vec<Var<f32>>, cfg: RmsPropConfig) -> Result<Self> {
        cfg.validate()?;
        let mut buffers = vec!["square_avg"];
        if cfg.momentum > 0.0 {
            buffers.push("momentum_buffer");
        }
        if cfg.centered {
            buffers.push("grad_avg");
        }
        Ok(RmsProp {
            core: Core::new("rmsprop", params, cfg.lr, buffers)?,
            cfg,
        })
    }

    /// The settings (with the learning rate the optimiser was built with).
    pub fn config(&self) -> &RmsPropConfig {
        &self.cfg
    }
}

impl Optimizer for RmsProp {
    fn step(&mut self) -> Result<()> {
        let neg_lr = -(self.core.lr() as f32);
        let weight_decay = self.cfg.weight_decay as f32;
        let alpha = self.cfg.alpha as f32;
        let sq_weight = (1.0 - self.cfg.alpha) as f32;
        let eps = self.cfg.eps as f32;
        let momentum = self.cfg.momentum as f32;
        let use_momentum = self.cfg.momentum > 0.0;
        let centered = self.cfg.centered;
        self.core.step(|theta, grad, st, _first| {
            let (square_avg, rest) = st.buffers.split_at_mut(1);
            let square_avg = &mut square_avg[0];
            let (mut momentum_buf, rest) = if use_momentum {
                let (b, rest) = rest.split_at_mut(1);
                (Some(&mut b[0]), rest)
            } else {
                (None, rest)
            };
            let mut grad_avg = if centered { rest.first_mut() } else { None };
            for (i, (p, &g)) in theta.iter_mut().zip(grad).enumerate() {
                let g = if weight_decay != 0.0 {
                    g + weight_decay * *p
                } else {
                    g
                };
                let v = square_avg[i] * alpha + sq_weight * g * g;
                square_avg[i] = v;
                let avg = match grad_avg.as_mut() {
                    Some(ga) => {
                        let mean = lerp(ga[i], g, sq_weight);
                        ga[i] = mean;
                        (v + -mean * mean).sqrt()
                    }
                    None => v.sqrt(),
                } + eps;
                match momentum_buf.as_mut() {
                    Some(b) => {
                        let nb = b[i] * momentum + g / avg;
                        b[i] = nb;
                        *p += neg_lr * nb;
                    }
                    None => *p += neg_lr * g / avg,
                }
            }
        })
    }

    forward_to_core!(core);

    fn name(&self) -> &'static str {
        "rmsprop"
    }
}
