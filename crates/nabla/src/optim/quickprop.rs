//! Fahlman's quickprop, with the update rule, defaults and safeguards of FANN
//! (`fann_update_weights_quickprop` in FANN's `fann_train.c`).

use super::{check_positive, core_optimizer, forward_to_core, Core, Optimizer, OptimizerState};
use crate::autograd::Var;
use crate::tensor::Element;
use crate::{Error, Result};

/// Settings of [`Quickprop`]; `Default` gives FANN's defaults: `lr = 0.7`, `decay = -1e-4`,
/// `mu = 1.75`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuickpropConfig {
    /// Learning rate ε of the gradient-descent term (FANN's `learning_rate`), positive.
    pub lr: f64,
    /// FANN's `quickprop_decay`, added as `decay·θ` to the slope (the negative gradient):
    /// negative values shrink the weights (−1e-4 is an L2 penalty of 1e-4 on the mean
    /// gradient). Finite and ≤ 0.
    pub decay: f64,
    /// Maximum growth factor μ > 0 of a step over the previous one (FANN's `quickprop_mu`).
    pub mu: f64,
}

impl Default for QuickpropConfig {
    fn default() -> Self {
        QuickpropConfig {
            lr: 0.7,
            decay: -1e-4,
            mu: 1.75,
        }
    }
}

impl QuickpropConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        if !self.decay.is_finite() || self.decay > 0.0 {
            return Err(Error::param(
                "quickprop decay",
                format!(
                    "{} must be finite and <= 0 (negative values shrink the weights)",
                    self.decay
                ),
            ));
        }
        check_positive("quickprop mu", self.mu)?;
        check_positive("learning rate", self.lr)
    }
}

/// Steps below this size in magnitude count as "no previous step" (FANN's constant).
const STEP_THRESHOLD: f64 = 0.001;
/// FANN clamps every weight to ±1500 after a quickprop update.
const WEIGHT_LIMIT: f64 = 1500.0;

/// Quickprop (Fahlman 1988): each weight fits a parabola through its last two slopes and jumps
/// towards its minimum, bounded by μ times the previous step; FANN's variant.
///
/// With FANN's sign convention, the slope is the *negative* gradient plus the decay term,
/// `s = −g + decay·θ`; per step and element, with the previous step Δ₋ and slope s₋ (both 0
/// at first):
///
/// ```text
/// Δ₋ >  0.001:  Δ = (ε·s if s > 0) + (μ·Δ₋ if s > μ/(1+μ)·s₋, else Δ₋·s/(s₋ − s))
/// Δ₋ < −0.001:  Δ = (ε·s if s < 0) + (μ·Δ₋ if s < μ/(1+μ)·s₋, else Δ₋·s/(s₋ − s))
/// otherwise:    Δ = ε·s                                         (a plain gradient step)
/// θ ← clamp(θ + Δ, −1500, 1500),   Δ₋ ← Δ,   s₋ ← s
/// ```
///
/// **Mean, not sum.** FANN accumulates the slopes as a sum over the batch's rows and uses
/// ε = `learning_rate / rows`; nabla hands every optimiser the gradient of its loss, which is a
/// mean over the rows, and uses ε = `lr`. The gradient-descent term ε·s is therefore the
/// same, and the parabola jump Δ₋·s/(s₋ − s) and the comparisons do not depend on the
/// gradient's scale, so the rule does not depend on the batch size. The one difference is
/// the decay: nabla adds it to the mean slope, FANN to the summed one, so FANN's decay d on a
/// batch of N rows corresponds to nabla's d/N (nabla's default −1e-4 is a fixed L2 penalty
/// whatever the batch size). Like FANN, quickprop is meant for full batches.
///
/// Generic over the element type: [`Optimizer`] (and so the trainer and checkpoints) is
/// implemented for `f32`.
pub struct Quickprop<E: Element = f32> {
    core: Core<E>,
    cfg: QuickpropConfig,
}

core_optimizer!(
    Quickprop,
    QuickpropConfig,
    "quickprop",
    ["prev_step", "prev_slope"]
);

impl<E: Element> Quickprop<E> {
    /// One quickprop update of every parameter with a gradient (see the type's documentation).
    pub fn step(&mut self) -> Result<()> {
        let epsilon = E::from_f64(self.core.lr());
        let decay = E::from_f64(self.cfg.decay);
        let mu = E::from_f64(self.cfg.mu);
        // FANN computes μ/(1+μ) in double precision from the single-precision μ.
        let shrink = E::from_f64(mu.to_f64() / (1.0 + mu.to_f64()));
        let limit = E::from_f64(WEIGHT_LIMIT);
        self.core.step(|theta, grad, st, _first| {
            let (prev_step, prev_slope) = st.buffers.split_at_mut(1);
            let (prev_step, prev_slope) = (&mut prev_step[0], &mut prev_slope[0]);
            for (((w, &g), dp), sp) in theta
                .iter_mut()
                .zip(grad)
                .zip(prev_step.iter_mut())
                .zip(prev_slope.iter_mut())
            {
                let (step_before, slope_before) = (*dp, *sp);
                let slope = -g + decay * *w;
                let mut next = E::ZERO;
                let before = step_before.to_f64();
                if before.abs() > STEP_THRESHOLD {
                    let rising = before > 0.0;
                    // The linear term only while the slope still points the way we moved.
                    if (rising && slope > E::ZERO) || (!rising && slope < E::ZERO) {
                        next += epsilon * slope;
                    }
                    let towards = shrink * slope_before;
                    let too_steep = if rising {
                        slope > towards
                    } else {
                        slope < towards
                    };
                    if too_steep {
                        next += mu * step_before;
                    } else {
                        next += step_before * slope / (slope_before - slope);
                    }
                } else {
                    next += epsilon * slope;
                }
                *dp = next;
                // Written as FANN does, so that a NaN stays NaN (and the trainer sees it).
                let moved = *w + next;
                *w = if moved > limit {
                    limit
                } else if moved < -limit {
                    -limit
                } else {
                    moved
                };
                *sp = slope;
            }
        })
    }
}
