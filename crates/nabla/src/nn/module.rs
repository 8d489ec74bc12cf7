//! The [`Module`] trait: what every layer offers the one engine.
//!
//! A module computes a batch of outputs from a batch of inputs (`forward`) and, given ∂E/∂output,
//! adds ∂E/∂θ to its parameters' gradient slots and writes ∂E/∂input (`backward`): the chain
//! rule for one link, written beside the function it differentiates. [`super::Sequential`]
//! chains modules; training, evaluation, prediction, gradient checks, `explain` and the drawn
//! graph all run through these two methods, in f32 or f64.
//!
//! Activations are row-major `[rows, ...shape]` slices; `shape` is one row's shape
//! (`[features]` for dense layers). Buffers belong to the caller (a
//! [`super::Workspace`]), so a steady-state step allocates nothing. A module that needs room
//! of its own between its forward and backward passes (a dropout mask, say) asks for it with
//! [`Module::scratch_len`] and gets the same slice in both.

use std::fmt;

use super::{Activation, LayerSpec};
use crate::autograd::Var;
use crate::{Element, Error, Result};

/// Shapes and mode of one pass through one module.
#[derive(Clone, Copy, Debug)]
pub struct Pass<'a> {
    /// Rows in the batch.
    pub rows: usize,
    /// Shape of one input row.
    pub input: &'a [usize],
    /// Shape of one output row (what [`Module::output_shape`] returned).
    pub output: &'a [usize],
    /// Training behaviour (dropout masks) or evaluation behaviour.
    pub training: bool,
    /// The elementwise activation to apply to the output within this pass: set by the engine
    /// only for a layer whose [`Module::fuses_activation`] is true (the fused linear → ReLU
    /// op); [`Activation::Identity`] otherwise, and always in backward passes.
    pub activation: Activation,
}

impl<'a> Pass<'a> {
    /// A pass of `rows` rows from `input`-shaped rows to `output`-shaped ones, with no fused
    /// activation.
    pub fn new(rows: usize, input: &'a [usize], output: &'a [usize], training: bool) -> Self {
        Pass {
            rows,
            input,
            output,
            training,
            activation: Activation::Identity,
        }
    }

    /// Values in one input row.
    #[inline]
    pub fn input_len(&self) -> usize {
        row_len(self.input)
    }
    /// Values in one output row.
    #[inline]
    pub fn output_len(&self) -> usize {
        row_len(self.output)
    }
}

/// Values in one row of shape `shape`: the product of its extents, without a loop for the
/// shapes layers pass (a vector, or channels × height × width), since the engine asks this of
/// every layer on every pass.
#[inline]
pub(crate) fn row_len(shape: &[usize]) -> usize {
    match *shape {
        [n] => n,
        [c, h, w] => c * h * w,
        _ => shape.iter().product(),
    }
}

/// The buffers of one module's backward pass.
#[derive(Debug)]
pub struct Backprop<'a, E> {
    /// The forward pass's input (`rows × input_len`).
    pub x: &'a [E],
    /// The forward pass's output (`rows × output_len`).
    pub y: &'a [E],
    /// ∂E/∂y; the layer may overwrite it.
    pub dy: &'a mut [E],
    /// Where ∂E/∂x goes (`None` for the first layer, whose input needs no gradient).
    pub dx: Option<&'a mut [E]>,
    /// The scratch room the forward pass filled.
    pub scratch: &'a mut [E],
}

impl<'a, E> Backprop<'a, E> {
    /// The parts `(x, y, dy, dx, scratch)`, after checking that `x` and `y` hold the pass's
    /// rows; a short slice is a [`Error::ShapeMismatch`] naming `op`.
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn checked(
        self,
        op: &'static str,
        pass: &Pass<'_>,
    ) -> Result<(
        &'a [E],
        &'a [E],
        &'a mut [E],
        Option<&'a mut [E]>,
        &'a mut [E],
    )> {
        check_lengths(op, self.x, self.y, pass)?;
        Ok((self.x, self.y, self.dy, self.dx, self.scratch))
    }
}

/// A layer of a network: its forward pass, its backward pass (the chain rule for it), its
/// parameters and its serialisable description.
///
/// Implement it for a type of your own and push it into a [`super::Sequential`]: the network
/// then trains with [`crate::train::Trainer`], evaluates, predicts, is gradient-checked and is
/// saved (its [`LayerSpec::Custom`] description plus its parameters) like the built-in layers.
pub trait Module<E: Element = f32>: fmt::Debug + std::any::Any {
    /// The layer's description, from which [`super::build_layer`] (or a
    /// [`super::LayerRegistry`] for custom layers) rebuilds it; parameters travel separately.
    fn spec(&self) -> LayerSpec;

    /// The shape of one output row for one input row of shape `input`; an error names the
    /// shape the layer cannot take.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>>;

    /// Values of scratch room the layer keeps from its forward pass to its backward pass for a
    /// batch (default none).
    fn scratch_len(&self, _pass: &Pass<'_>) -> usize {
        0
    }

    /// Compute `y` (`rows × output_len`) from `x` (`rows × input_len`).
    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()>;

    /// Given the forward pass's `x` and `y` and ∂E/∂y (see [`Backprop`]), **add** ∂E/∂θ to
    /// each parameter's gradient slot and, when `dx` is given, write ∂E/∂x into it.
    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()>;

    /// Whether [`Module::forward`] applies [`Pass::activation`] to its output within its own
    /// pass over it (a fused op of the engine: the linear layer adds its bias and applies the
    /// activation in one pass). Default: no, and the engine then runs the activation layer
    /// after it.
    fn fuses_activation(&self) -> bool {
        false
    }

    /// The parameters with their local names (`weight`, `bias`), in state-dict order.
    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        vec![]
    }

    /// State that is saved with the parameters but not trained (BatchNorm's running
    /// statistics), with its local names, in state-dict order after the parameters.
    fn buffers(&self) -> Vec<(&'static str, Var<E>)> {
        vec![]
    }

    /// The forward pass written with graph operations on `x` (`[rows, ...input shape]`) and
    /// the parameter nodes `params` (in [`Module::parameters`] order), or `None` (the default)
    /// where the layer has no such form. Only second derivatives use it
    /// ([`Var::grad_graph`] through a network recorded with [`super::Sequential::record`]):
    /// they differentiate this form again, while first derivatives keep running the layer's own
    /// [`Module::backward`]. A layer without one answers [`Error::NoDoubleBackward`] there.
    fn forward_graph(&self, x: &Var<E>, params: &[Var<E>]) -> Option<Result<Var<E>>> {
        let _ = (x, params);
        None
    }

    /// The elementwise activation this module applies, if it is one (for diagnostics and
    /// explanations). A module that answers `Some(a)` is exactly `a` elementwise: after a
    /// layer that [fuses an activation](Module::fuses_activation), the engine applies `a` in
    /// that layer's pass and runs its chain rule itself, calling neither this module's
    /// `forward` nor its `backward`.
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// The state of the module's random generator (dropout), for checkpoints.
    fn rng_state(&self) -> Option<[u64; 4]> {
        None
    }

    /// Restore a state from [`Module::rng_state`].
    fn set_rng_state(&self, _state: [u64; 4]) {}

    /// A deep copy in f64 (new parameter leaves holding the same values): how gradient checks
    /// and explanations run the same layer code in double precision.
    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Err(Error::param(
            "layer",
            format!("{} has no f64 version", self.spec().describe()),
        ))
    }
}

/// Shape check shared by layers: `x` and `y` hold `rows` rows of the pass's shapes.
#[inline]
pub(crate) fn check_lengths<E>(op: &'static str, x: &[E], y: &[E], pass: &Pass<'_>) -> Result<()> {
    let (n_in, n_out) = (pass.rows * pass.input_len(), pass.rows * pass.output_len());
    if x.len() < n_in || y.len() < n_out {
        return Err(short_buffers(op, [x.len(), y.len()], [n_in, n_out]));
    }
    Ok(())
}

/// The error of [`check_lengths`], out of the passes' way.
#[cold]
#[inline(never)]
fn short_buffers(op: &'static str, lengths: [usize; 2], needed: [usize; 2]) -> Error {
    Error::ShapeMismatch {
        op,
        lhs: lengths.to_vec(),
        rhs: needed.to_vec(),
    }
}
