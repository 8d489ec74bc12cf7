//! Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2
//! weight decay, as `torch.optim.SGD`.

use super::{
    check_non_negative, check_unit_interval, forward_to_core, Core, Optimizer, OptimizerState,
};
use crate::autograd::Var;
use crate::{Error, Result};

/// Settings of [`Sgd`]. `Default` gives PyTorch's defaults except the learning rate, which
/// PyTorch requires explicitly: `lr = 1e-2`, `momentum = 0`, `dampening = 0`,
/// `nesterov = false`, `weight_decay = 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate γ, positive and finite.
    pub lr: f64,
    /// Momentum factor μ in `[0, 1)`; 0 turns momentum off.
    pub momentum: f64,
    /// Dampening τ ≥ 0: the gradient enters the momentum buffer with weight `1 − τ` (not on the
    /// first step, where the buffer is set to the gradient).
    pub dampening: f64,
    /// Nesterov momentum; needs `momentum > 0` and `dampening == 0`.
    pub nesterov: bool,
    /// L2 penalty λ ≥ 0, added to the gradient as `λ·θ`.
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-2,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        check_unit_interval("momentum", self.momentum)?;
        check_non_negative("dampening", self.dampening)?;
        check_non_negative("weight decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::param(
                "nesterov",
                format!(
                    "Nesterov momentum requires momentum > 0 and dampening = 0 (got momentum {}, dampening {})",
                    self.momentum, self.dampening
                ),
            ));
        }
        Ok(())
    }
}

/// SGD. For each parameter θ with gradient g, per step:
///
/// ```text
/// g ← g + λθ                                   (if weight_decay λ ≠ 0)
/// if μ ≠ 0:
///     b ← g on the first step, else b ← μb + (1 − τ)g
///     g ← g + μb if nesterov, else g ← b
/// θ ← θ − γg
/// ```
pub struct Sgd {
    core: Core,
    cfg: SgdConfig,
}

impl Sgd {
    /// An SGD optimiser over `params` (leaves). Errors with [`Error::Param`] on an empty list, a
    /// non-leaf, or a setting out of its domain.
    pub fn new(params: Vec<Var<f32>>, cfg: SgdConfig) -> Result<Self> {
        cfg.validate()?;
        let buffers = if cfg.momentum != 0.0 {
            vec!["momentum_buffer"]
        } else {
            vec![]
        };
        Ok(Sgd {
            core: Core::new("sgd", params, cfg.lr, buffers)?,
            cfg,
        })
    }

    /// The settings (with the learning rate the optimiser was built with).
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let lr = self.core.lr() as f32;
        let weight_decay = self.cfg.weight_decay as f32;
        let momentum = self.cfg.momentum as f32;
        let keep = (1.0 - self.cfg.dampening) as f32;
        let nesterov = self.cfg.nesterov;
        self.core.step(|theta, grad, st, first| {
            if momentum == 0.0 {
                for (p, &g) in theta.iter_mut().zip(grad) {
                    let g = if weight_decay != 0.0 {
                        g + weight_decay * *p
                    } else {
                        g
                    };
                    *p += -lr * g;
                }
                return;
            }
            let buf = &mut st.buffers[0];
            for ((p, &g), b) in theta.iter_mut().zip(grad).zip(buf.iter_mut()) {
                let mut g = if weight_decay != 0.0 {
                    g + weight_decay * *p
                } else {
                    g
                };
                *b = if first { g } else { *b * momentum + keep * g };
                g = if nesterov { g + momentum * *b } else { *b };
                *p += -lr * g;
            }
        })
    }

    forward_to_core!(core);

    fn name(&self) -> &'static str {
        "sgd"
    }
}
