//! Optimisers that move parameters against their gradients, and learning-rate schedules.
//!
//! Every optimiser follows the update rule PyTorch documents for its namesake in `torch.optim`,
//! computed in `f32` in the same order of operations as PyTorch's single-tensor
//! (`foreach=False`) implementation, so that trajectories agree to float rounding:
//!
//! - [`Sgd`]: plain, momentum (with dampening), Nesterov momentum, L2 weight decay;
//! - [`Adam`] (optionally AMSGrad) with L2 weight decay, and [`AdamW`] with decoupled decay;
//! - [`RmsProp`], optionally centred and with momentum;
//! - [`Rprop`] (iRPROP−, `torch.optim.Rprop`) and [`Lbfgs`] (`torch.optim.LBFGS`, optionally
//!   with the strong-Wolfe line search), the two trainers for small full-batch problems;
//! - [`Quickprop`], Fahlman's quickprop as FANN implements it.
//!
//! L-BFGS evaluates the loss several times per step: [`Optimizer::step_with_objective`] hands
//! it an [`Objective`] that recomputes the loss and gradients at the parameters' current values
//! (the trainer passes one over the current batch); every other optimiser ignores it and takes
//! one step from the gradients already in the slots. [`Rprop`], [`Lbfgs`] and [`Quickprop`] are
//! generic over the element type (`f32` for training, `f64` for reference checks); the
//! [`Optimizer`] trait, and so checkpoints, are for `f32` parameters.
//!
//! Parameters are [`Var<f32>`] leaves. [`Optimizer::step`] reads each parameter's gradient slot
//! ([`Var::grad_ref`]) and updates its value in place ([`Var::value_mut`]); nothing is recorded
//! in the graph. A parameter whose gradient slot is empty (`None`, no backward pass reached it
//! yet) is skipped entirely, its state untouched, as in PyTorch. State buffers are allocated the
//! first time a parameter is updated and reused afterwards: a steady-state step allocates nothing.
//!
//! [`Optimizer::state`] captures everything needed to resume bit-identically (step counts,
//! learning rate, every buffer) as an [`OptimizerState`], which serialises with serde.
//!
//! Learning-rate schedules live in [`schedule`].

mod adam;
mod lbfgs;
mod quickprop;
mod rmsprop;
mod rprop;
pub mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig, LineSearch};
pub use quickprop::{Quickprop, QuickpropConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use schedule::LrSchedule;
pub use sgd::{Sgd, SgdConfig};

use serde::{Deserialize, Serialize};

use crate::autograd::Var;
use crate::tensor::Element;
use crate::{Error, Result};

/// The function an optimiser minimises, for optimisers that evaluate it several times per step
/// (L-BFGS, like the `closure` of `torch.optim.LBFGS.step`).
///
/// [`Objective::evaluate`] must set every parameter's gradient slot to ∂loss/∂θ at the
/// parameters' current values (replacing, not adding to, what was there) and return the loss.
/// Any closure `FnMut() -> Result<f64>` is an objective.
pub trait Objective {
    /// The loss at the parameters' current values, with their gradients in the slots.
    fn evaluate(&mut self) -> Result<f64>;
}

impl<F: FnMut() -> Result<f64>> Objective for F {
    fn evaluate(&mut self) -> Result<f64> {
        self()
    }
}

/// What every optimiser offers: a step, gradient zeroing, the learning rate, and its state.
pub trait Optimizer {
    /// Update every parameter that has a gradient, in place, from that gradient and the
    /// optimiser's state. Parameters without a gradient (empty slot) are skipped.
    ///
    /// Errors (before changing anything) if a gradient's shape differs from its parameter's, or
    /// if the learning rate set with [`Optimizer::set_learning_rate`] is not positive and finite.
    fn step(&mut self) -> Result<()>;

    /// One step for an optimiser that may re-evaluate the objective within it (L-BFGS).
    /// `loss` is the objective's value at the current parameters, whose gradients are already
    /// in the slots; `objective` recomputes both after the optimiser has moved the parameters.
    ///
    /// The default ignores both and calls [`Optimizer::step`]: one update from the gradients in
    /// the slots, as every optimiser but L-BFGS takes.
    fn step_with_objective(&mut self, loss: f64, objective: &mut dyn Objective) -> Result<()> {
        let _ = (loss, objective);
        self.step()
    }

    /// Set every parameter's gradient to zero, keeping the gradient buffers (empty slots stay
    /// empty).
    fn zero_grad(&mut self);

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Change the learning rate (for schedules). A value that is not positive and finite makes
    /// the next [`Optimizer::step`] fail with [`Error::Param`].
    fn set_learning_rate(&mut self, lr: f64);

    /// Everything needed to resume this optimiser bit-identically.
    fn state(&self) -> OptimizerState;

    /// Restore a state captured by [`Optimizer::state`] from an optimiser of the same kind and
    /// configuration over parameters of the same shapes. Checks the kind, the number of
    /// parameters, each shape and each buffer; the error names the first mismatch and nothing is
    /// changed when it fails.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;

    /// Short name of the algorithm (`"sgd"`, `"adam"`, `"adamw"`, `"rmsprop"`, `"rprop"`,
    /// `"lbfgs"`, `"quickprop"`).
    fn name(&self) -> &'static str;
}

/// The [`Optimizer`] methods that every optimiser here hands to its [`Core`] (given as the
/// field path from `self`), written once; each optimiser writes only `step` and `name`.
macro_rules! forward_to_core {
    ($($core:ident).+) => {
        fn zero_grad(&mut self) {
            self.$($core).+.zero_grad();
        }

        fn learning_rate(&self) -> f64 {
            self.$($core).+.lr()
        }

        fn set_learning_rate(&mut self, lr: f64) {
            self.$($core).+.set_lr(lr);
        }

        fn state(&self) -> OptimizerState {
            self.$($core).+.state()
        }

        fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
            self.$($core).+.load_state(state)
        }
    };
}
use forward_to_core;

/// `new` and `config` of an optimiser generic over the element type whose state is a
/// [`Core`] of per-parameter buffers (`$buffer` names) and whose settings are `cfg`, and its
/// [`Optimizer`] implementation for `f32` (the type's own `step`, the rest from the core).
macro_rules! core_optimizer {
    ($ty:ident, $config:ident, $kind:literal, [$($buffer:literal),*]) => {
        impl<E: Element> $ty<E> {
            #[doc = concat!("A ", $kind, " optimiser over `params` (leaves). Errors with")]
            /// [`Error::Param`] on an empty list, a non-leaf, or a setting out of its domain.
            pub fn new(params: Vec<Var<E>>, cfg: $config) -> Result<Self> {
                cfg.validate()?;
                Ok($ty {
                    core: Core::new($kind, params, cfg.lr, vec![$($buffer),*])?,
                    cfg,
                })
            }

            /// The settings (with the learning rate the optimiser was built with).
            pub fn config(&self) -> &$config {
                &self.cfg
            }
        }

        impl Optimizer for $ty<f32> {
            fn step(&mut self) -> Result<()> {
                $ty::step(self)
            }

            forward_to_core!(core);

            fn name(&self) -> &'static str {
                $kind
            }
        }
    };
}
use core_optimizer;

/// A snapshot of an optimiser, serialisable with serde (for checkpoints).
///
/// Buffers are named `"<parameter index>.<buffer>"`, e.g. `"0.exp_avg"`, `"1.momentum_buffer"`,
/// in parameter order; a parameter that has never been updated has no buffers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// The optimiser's [`Optimizer::name`].
    pub kind: String,
    /// Number of calls to [`Optimizer::step`] so far.
    pub step: u64,
    /// Learning rate at the time of the snapshot.
    pub lr: f64,
    /// Shape of each parameter, in order.
    pub shapes: Vec<Vec<usize>>,
    /// Number of updates each parameter has received (drives Adam's bias correction).
    pub param_steps: Vec<u64>,
    /// Named state buffers, parameter by parameter.
    pub buffers: Vec<(String, Vec<f32>)>,
    /// Named scalars of optimisers whose state is not per parameter (L-BFGS: its step length,
    /// previous loss and iteration counts), in double precision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scalars: Vec<(String, f64)>,
}

impl OptimizerState {
    /// The buffers as `(name, elements)` pairs, e.g. to store them as extra tensors.
    pub fn buffers(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.buffers.iter().map(|(n, d)| (n.as_str(), d.as_slice()))
    }

    /// Serialise to JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self)
            .map_err(|e| Error::param("optimizer state", format!("cannot serialise: {e}")))
    }

    /// Parse a state written by [`OptimizerState::to_json`].
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::param("optimizer state", format!("cannot parse: {e}")))
    }
}

/// Per-parameter state: how many updates it has had and its buffers (empty until the first).
#[derive(Clone, Debug)]
pub(crate) struct ParamState<E: Element = f32> {
    pub(crate) step: u64,
    pub(crate) buffers: Vec<Vec<E>>,
}

impl<E: Element> Default for ParamState<E> {
    fn default() -> Self {
        ParamState {
            step: 0,
            buffers: Vec::new(),
        }
    }
}

/// What all optimisers share: the parameters, the learning rate, step counts and buffers.
pub(crate) struct Core<E: Element = f32> {
    kind: &'static str,
    params: Vec<Var<E>>,
    lr: f64,
    steps_taken: u64,
    buffer_names: Vec<&'static str>,
    states: Vec<ParamState<E>>,
}

impl<E: Element> Core<E> {
    /// Check the parameter list and the learning rate; `buffer_names` lists the buffers each
    /// parameter needs under this configuration.
    pub(crate) fn new(
        kind: &'static str,
        params: Vec<Var<E>>,
        lr: f64,
        buffer_names: Vec<&'static str>,
    ) -> Result<Self> {
        if params.is_empty() {
            return Err(Error::param(
                "params",
                format!("{kind} got an empty parameter list"),
            ));
        }
        for (i, p) in params.iter().enumerate() {
            if !p.is_leaf() {
                return Err(Error::param(
                    "params",
                    format!(
                        "parameter {i} is the result of an operation ({}), not a leaf",
                        p.op_name()
                    ),
                ));
            }
        }
        check_lr(lr)?;
        let states = vec![ParamState::default(); params.len()];
        Ok(Core {
            kind,
            params,
            lr,
            steps_taken: 0,
            buffer_names,
            states,
        })
    }

    pub(crate) fn lr(&self) -> f64 {
        self.lr
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    pub(crate) fn zero_grad(&mut self) {
        for p in &self.params {
            p.zero_grad();
        }
    }

    /// Run one step: validate, then call `update(value, grad, state, first)` for every parameter
    /// with a gradient, after allocating its buffers (zeroed) on its first update. `first` is
    /// true on that first update. The state's `step` is already incremented when `update` runs.
    pub(crate) fn step(
        &mut self,
        mut update: impl FnMut(&mut [E], &[E], &mut ParamState<E>, bool),
    ) -> Result<()> {
        check_lr(self.lr)?;
        self.check_gradient_shapes()?;
        for (p, st) in self.params.iter().zip(self.states.iter_mut()) {
            let grad = p.grad_ref();
            let Some(g) = grad.as_ref() else {
                continue;
            };
            let mut value = p.value_mut();
            let first = st.step == 0;
            if first {
                st.buffers = self
                    .buffer_names
                    .iter()
                    .map(|_| vec![E::ZERO; g.len()])
                    .collect();
            }
            st.step += 1;
            update(value.data_mut(), g.data(), st, first);
        }
        self.steps_taken += 1;
        Ok(())
    }

    /// The parameters, in order.
    pub(crate) fn params(&self) -> &[Var<E>] {
        &self.params
    }

    /// Calls to [`Core::step`] so far (or as set by [`Core::count_step`]).
    pub(crate) fn steps_taken(&self) -> u64 {
        self.steps_taken
    }

    /// Set the step count and learning rate from a saved state (optimisers whose buffers
    /// are not per parameter restore those themselves).
    pub(crate) fn restore_counts(&mut self, steps: u64, lr: f64) {
        self.steps_taken = steps;
        self.lr = lr;
    }

    /// Count one step of an optimiser that does not go through [`Core::step`].
    pub(crate) fn count_step(&mut self) {
        self.steps_taken += 1;
    }

    /// Errors if a gradient's shape differs from its parameter's.
    pub(crate) fn check_gradient_shapes(&self) -> Result<()> {
        let mismatch = self.params.iter().find_map(|p| {
            let (value, grad) = (p.value(), p.grad_ref());
            let g = grad.as_ref()?;
            (g.shape() != value.shape()).then(|| (value.shape().to_vec(), g.shape().to_vec()))
        });
        match mismatch {
            Some((lhs, rhs)) => Err(Error::ShapeMismatch {
                op: "optimizer step (parameter vs gradient)",
                lhs,
                rhs,
            }),
            None => Ok(()),
        }
    }
}

impl Core<f32> {
    pub(crate) fn state(&self) -> OptimizerState {
        let mut buffers = Vec::new();
        for (i, st) in self.states.iter().enumerate() {
            for (name, buf) in self.buffer_names.iter().zip(&st.buffers) {
                buffers.push((format!("{i}.{name}"), buf.clone()));
            }
        }
        OptimizerState {
            kind: self.kind.to_string(),
            step: self.steps_taken,
            lr: self.lr,
            shapes: self.params.iter().map(|p| p.shape()).collect(),
            param_steps: self.states.iter().map(|s| s.step).collect(),
            buffers,
            scalars: Vec::new(),
        }
    }

    /// Check what every optimiser's state must agree on: the kind, the number and shapes of
    /// the parameters, one step count per parameter, the learning rate.
    pub(crate) fn check_state_header(&self, state: &OptimizerState) -> Result<()> {
        let bad = |msg: String| Error::param("optimizer state", msg);
        if state.kind != self.kind {
            return Err(bad(format!(
                "state was saved by a {:?} optimiser, this one is {:?}",
                state.kind, self.kind
            )));
        }
        let n = self.params.len();
        if state.shapes.len() != n {
            return Err(bad(format!(
                "state has {} parameters, the optimiser has {n}",
                state.shapes.len()
            )));
        }
        if state.param_steps.len() != n {
            return Err(bad(format!(
                "state has {} parameter step counts for {n} parameters",
                state.param_steps.len()
            )));
        }
        for (i, (p, shape)) in self.params.iter().zip(&state.shapes).enumerate() {
            if p.shape() != *shape {
                return Err(bad(format!(
                    "parameter {i} has shape {:?} but the state was saved for shape {shape:?}",
                    p.shape()
                )));
            }
        }
        if !state.lr.is_finite() || state.lr <= 0.0 {
            return Err(bad(format!(
                "learning rate {} is not positive and finite",
                state.lr
            )));
        }
        Ok(())
    }

    pub(crate) fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let bad = |msg: String| Error::param("optimizer state", msg);
        self.check_state_header(state)?;
        let n = self.params.len();
        // Rebuild every parameter's buffers; only commit once all are checked.
        let mut found: Vec<Vec<Option<Vec<f32>>>> = vec![vec![None; self.buffer_names.len()]; n];
        for (name, data) in &state.buffers {
            let (index, buffer) = name
                .split_once('.')
                .and_then(|(i, b)| i.parse::<usize>().ok().map(|i| (i, b)))
                .ok_or_else(|| bad(format!("buffer name {name:?} is not <index>.<buffer>")))?;
            if index >= n {
                return Err(bad(format!(
                    "buffer {name:?} refers to parameter {index}, the optimiser has {n}"
                )));
            }
            let Some(slot) = self.buffer_names.iter().position(|b| *b == buffer) else {
                return Err(bad(format!(
                    "buffer {name:?} is not used by this {} configuration (expected {:?})",
                    self.kind, self.buffer_names
                )));
            };
            let expected: usize = state.shapes[index].iter().product();
            if data.len() != expected {
                return Err(bad(format!(
                    "buffer {name:?} has {} elements, parameter {index} has {expected}",
                    data.len()
                )));
            }
            if found[index][slot].replace(data.clone()).is_some() {
                return Err(bad(format!("buffer {name:?} appears twice")));
            }
        }
        let mut states = Vec::with_capacity(n);
        for (i, (bufs, &step)) in found.into_iter().zip(&state.param_steps).enumerate() {
            let present = bufs.iter().filter(|b| b.is_some()).count();
            if step == 0 {
                if present != 0 {
                    return Err(bad(format!(
                        "parameter {i} has buffers but a step count of 0"
                    )));
                }
                states.push(ParamState::default());
            } else {
                if present != bufs.len() {
                    let missing: Vec<&str> = self
                        .buffer_names
                        .iter()
                        .zip(&bufs)
                        .filter(|(_, b)| b.is_none())
                        .map(|(name, _)| *name)
                        .collect();
                    return Err(bad(format!(
                        "parameter {i} was updated {step} times but has no buffer {missing:?}"
                    )));
                }
                states.push(ParamState {
                    step,
                    buffers: bufs.into_iter().flatten().collect(),
                });
            }
        }
        self.states = states;
        self.steps_taken = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

fn check_lr(lr: f64) -> Result<()> {
    check_positive("learning rate", lr)
}

/// Check `0 <= value < 1` (momentum, betas, alpha).
pub(crate) fn check_unit_interval(name: &str, value: f64) -> Result<()> {
    if !(0.0..1.0).contains(&value) {
        return Err(Error::param(name, format!("{value} must be in [0, 1)")));
    }
    Ok(())
}

/// Check `value >= 0` and finite (weight decay, dampening).
pub(crate) fn check_non_negative(name: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 {
        return Err(Error::param(
            name,
            format!("{value} must be non-negative and finite"),
        ));
    }
    Ok(())
}

/// Check `value > 0` and finite (learning rate, eps, gamma).
pub(crate) fn check_positive(name: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value <= 0.0 {
        return Err(Error::param(
            name,
            format!("{value} must be positive and finite"),
        ));
    }
    Ok(())
}

/// PyTorch's `lerp_(end, weight)`, element by element: `start + w·(end − start)` for `|w| < ½`,
/// otherwise `end − (end − start)·(1 − w)` (the form `torch.lerp` uses, more accurate near 1).
#[inline]
pub(crate) fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

/// `with_lr(lr)` on each optimiser's settings: that learning rate, PyTorch's defaults for the
/// rest (`Adam::new(params, AdamConfig::with_lr(0.01))`).
macro_rules! settings_with_lr {
    ($($settings:ty),*) => {
        $(impl $settings {
            /// These settings with learning rate `lr` and every other field at its default.
            pub fn with_lr(lr: f64) -> Self {
                Self { lr, ..Self::default() }
            }
        })*
    };
}
settings_with_lr!(
    AdamConfig,
    AdamWConfig,
    LbfgsConfig,
    QuickpropConfig,
    RmsPropConfig,
    RpropConfig,
    SgdConfig
);
