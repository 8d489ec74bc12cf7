//! iRPROP− (resilient backpropagation without weight backtracking), as `torch.optim.Rprop`.

use super::{check_positive, core_optimizer, forward_to_core, Core, Optimizer, OptimizerState};
use crate::autograd::Var;
use crate::tensor::Element;
use crate::{Error, Result};

/// Settings of [`Rprop`]; `Default` gives PyTorch's defaults: `lr = 1e-2` (the initial step
/// size), `etas = (0.5, 1.2)`, `step_sizes = (1e-6, 50)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RpropConfig {
    /// Initial step size of every weight, positive and finite. It is read once, when a
    /// parameter is first updated: after that each weight's step size adapts on its own, so a
    /// learning-rate schedule has no effect (as in PyTorch).
    pub lr: f64,
    /// (η−, η+): factors that shrink and grow a step size, `0 < η− < 1 < η+`.
    pub etas: (f64, f64),
    /// (Δmin, Δmax): bounds of every step size, `0 ≤ Δmin ≤ Δmax`, finite.
    pub step_sizes: (f64, f64),
}

impl Default for RpropConfig {
    fn default() -> Self {
        RpropConfig {
            lr: 1e-2,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
        }
    }
}

impl RpropConfig {
    /// Check every setting (the learning rate is checked by the optimiser).
    pub fn validate(&self) -> Result<()> {
        let (minus, plus) = self.etas;
        if !(minus > 0.0 && minus < 1.0 && plus > 1.0 && plus.is_finite()) {
            return Err(Error::param(
                "etas",
                format!("({minus}, {plus}) must satisfy 0 < eta- < 1 < eta+ (finite)"),
            ));
        }
        let (lo, hi) = self.step_sizes;
        if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo <= hi) {
            return Err(Error::param(
                "step sizes",
                format!("({lo}, {hi}) must satisfy 0 <= min <= max (finite)"),
            ));
        }
        check_positive("learning rate", self.lr)
    }
}

/// iRPROP− (Igel & Hüsken 2000), PyTorch's `Rprop`: each weight keeps its own step size Δ and
/// moves by Δ against the sign of its gradient; only signs are used, never magnitudes.
///
/// Per step, element by element, with the gradient g and the gradient g₋ kept from the
/// previous step (0 at first, Δ starts at `lr`):
///
/// ```text
/// g·g₋ > 0:  Δ ← min(Δ·η+, Δmax)             (same sign: accelerate)
/// g·g₋ < 0:  Δ ← max(Δ·η−, Δmin),  g ← 0     (sign flipped: slow down, skip this update)
/// g·g₋ = 0:  Δ unchanged (then clamped to [Δmin, Δmax])
/// θ ← θ − sign(g)·Δ,   g₋ ← g
/// ```
///
/// Setting g to 0 after a sign change is the "−" of iRPROP−: the next step then counts as a
/// fresh start for that weight. The full-batch gradient is what RPROP was designed for; with
/// mini-batches the signs are noisy.
///
/// Generic over the element type: [`Optimizer`] (and so the trainer and checkpoints) is
/// implemented for `f32`; `Rprop<f64>` offers the same [`Rprop::step`] for reference checks.
pub struct Rprop<E: Element = f32> {
    core: Core<E>,
    cfg: RpropConfig,
}

core_optimizer!(Rprop, RpropConfig, "rprop", ["prev", "step_size"]);

impl<E: Element> Rprop<E> {
    /// One iRPROP− update of every parameter with a gradient (see the type's documentation).
    pub fn step(&mut self) -> Result<()> {
        let initial = E::from_f64(self.core.lr());
        let eta_minus = E::from_f64(self.cfg.etas.0);
        let eta_plus = E::from_f64(self.cfg.etas.1);
        let min = E::from_f64(self.cfg.step_sizes.0);
        let max = E::from_f64(self.cfg.step_sizes.1);
        self.core.step(|theta, grad, st, first| {
            let (prev, step_size) = st.buffers.split_at_mut(1);
            let (prev, step_size) = (&mut prev[0], &mut step_size[0]);
            if first {
                step_size.fill(initial);
            }
            for (((p, &g), gp), delta) in theta
                .iter_mut()
                .zip(grad)
                .zip(prev.iter_mut())
                .zip(step_size.iter_mut())
            {
                // The sign of the product, as PyTorch takes it (an underflow to 0 counts as 0).
                let same = g * *gp;
                let factor = if same > E::ZERO {
                    eta_plus
                } else if same < E::ZERO {
                    eta_minus
                } else {
                    E::ONE
                };
                let d = (*delta * factor).max(min).min(max);
                *delta = d;
                let g = if same < E::ZERO { E::ZERO } else { g };
                if g > E::ZERO {
                    *p -= d;
                } else if g < E::ZERO {
                    *p += d;
                }
                *gp = g;
            }
        })
    }
}
