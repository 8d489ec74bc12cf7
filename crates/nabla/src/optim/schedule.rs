//! Learning-rate schedules, stepped once per epoch like PyTorch's `torch.optim.lr_scheduler`.
//!
//! A schedule is a pure function of the base learning rate and the epoch number:
//! [`LrSchedule::lr_at`]`(base_lr, epoch)`, with epoch 0 the first epoch. Each variant uses the
//! closed form of its PyTorch namesake, so a schedule can be evaluated at any epoch without
//! replaying the previous ones (useful when resuming from a checkpoint).

use serde::{Deserialize, Serialize};

use super::Optimizer;
use crate::{Error, Result};

/// How the learning rate changes from epoch to epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    /// Always the base rate (the default).
    #[default]
    Constant,
    /// `base · gammaʲ` with `j = ⌊epoch / step_size⌋` (PyTorch `StepLR`).
    StepDecay {
        /// Epochs between decays, at least 1.
        step_size: usize,
        /// Factor applied at each decay, positive and finite.
        gamma: f64,
    },
    /// `base · gamma^epoch` (PyTorch `ExponentialLR`).
    Exponential {
        /// Factor per epoch, positive and finite.
        gamma: f64,
    },
    /// `eta_min + (base − eta_min)(1 + cos(π·epoch / t_max)) / 2` (PyTorch
    /// `CosineAnnealingLR`, closed form). Reaches `eta_min` at `epoch = t_max`; beyond it the
    /// cosine continues, rising again towards `base` at `2·t_max`, exactly as PyTorch's.
    CosineAnnealing {
        /// Half period in epochs, at least 1.
        t_max: usize,
        /// Lowest rate, non-negative and finite.
        eta_min: f64,
    },
    /// Linear warm-up from `base · start_factor` at epoch 0 to `base` at epoch `warmup_epochs`
    /// (PyTorch `LinearLR` with `end_factor = 1`), then `then` with its epochs counted from
    /// the end of the warm-up (PyTorch `SequentialLR`): at epoch `e ≥ warmup_epochs` the rate is
    /// `then.lr_at(base, e − warmup_epochs)`.
    LinearWarmup {
        /// Length of the warm-up in epochs, at least 1.
        warmup_epochs: usize,
        /// Fraction of the base rate at epoch 0, in `(0, 1]`.
        start_factor: f64,
        /// The schedule after the warm-up.
        then: Box<LrSchedule>,
    },
}

impl LrSchedule {
    /// Check every setting (recursively); errors with [`Error::Param`].
    pub fn validate(&self) -> Result<()> {
        match self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::StepDecay { step_size, gamma } => {
                if *step_size == 0 {
                    return Err(Error::param("step_size", "must be at least 1"));
                }
                check_gamma(*gamma)
            }
            LrSchedule::Exponential { gamma } => check_gamma(*gamma),
            LrSchedule::CosineAnnealing { t_max, eta_min } => {
                if *t_max == 0 {
                    return Err(Error::param("t_max", "must be at least 1"));
                }
                if !eta_min.is_finite() || *eta_min < 0.0 {
                    return Err(Error::param(
                        "eta_min",
                        format!("{eta_min} must be non-negative and finite"),
                    ));
                }
                Ok(())
            }
            LrSchedule::LinearWarmup {
                warmup_epochs,
                start_factor,
                then,
            } => {
                if *warmup_epochs == 0 {
                    return Err(Error::param("warmup_epochs", "must be at least 1"));
                }
                if !(*start_factor > 0.0 && *start_factor <= 1.0) {
                    return Err(Error::param(
                        "start_factor",
                        format!("{start_factor} must be in (0, 1]"),
                    ));
                }
                then.validate()
            }
        }
    }

    /// The learning rate for `epoch` (0 = first epoch) given the base rate.
    pub fn lr_at(&self, base_lr: f64, epoch: usize) -> f64 {
        match self {
            LrSchedule::Constant => base_lr,
            LrSchedule::StepDecay { step_size, gamma } => {
                let decays = epoch / (*step_size).max(1);
                base_lr * gamma.powf(decays as f64)
            }
            LrSchedule::Exponential { gamma } => base_lr * gamma.powf(epoch as f64),
            LrSchedule::CosineAnnealing { t_max, eta_min } => {
                let phase = std::f64::consts::PI * epoch as f64 / (*t_max).max(1) as f64;
                eta_min + (base_lr - eta_min) * (1.0 + phase.cos()) / 2.0
            }
            LrSchedule::LinearWarmup {
                warmup_epochs,
                start_factor,
                then,
            } => {
                if epoch < *warmup_epochs {
                    let progress = epoch as f64 / *warmup_epochs as f64;
                    base_lr * (start_factor + (1.0 - start_factor) * progress)
                } else {
                    then.lr_at(base_lr, epoch - warmup_epochs)
                }
            }
        }
    }

    /// Set `optimizer`'s learning rate to [`LrSchedule::lr_at`]`(base_lr, epoch)` and return it.
    pub fn apply(&self, optimizer: &mut dyn Optimizer, base_lr: f64, epoch: usize) -> f64 {
        let lr = self.lr_at(base_lr, epoch);
        optimizer.set_learning_rate(lr);
        lr
    }
}

fn check_gamma(gamma: f64) -> Result<()> {
    super::check_positive("gamma", gamma)
}
