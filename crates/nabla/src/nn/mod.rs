//! Neural-network building blocks: the [`Module`] trait, [`Linear`] layers, activation
//! modules, [`Dropout`], [`Sequential`], and weight initialisers.
//!
//! A neuron computes z = w·x + b and a = act(z); a [`Linear`] layer is a row of neurons sharing
//! their input, and a [`Sequential`] stacks layers into input, hidden and output layers.
//!
//! Every module runs two ways. [`Module::forward`] records the autograd graph, so any
//! composition is differentiated by the general chain rule. [`Sequential`] also has a fused path
//! ([`fused`]) for the common Linear → activation → dropout stacks: forward and backward with
//! preallocated buffers, no graph and no allocation per step. Tests hold the two routes to the
//! same gradients.

mod activation;
pub mod check;
mod dropout;
pub mod fused;
mod init;
mod linear;
mod sequential;

pub use activation::{Activation, ActivationLayer};
pub use dropout::Dropout;
pub use fused::{FusedLoss, Targets, Workspace};
pub use init::Init;
pub use linear::Linear;
pub use sequential::{Layer, MlpConfig, Sequential};

use crate::autograd::Var;
use crate::Result;

/// A differentiable building block with named parameters.
pub trait Module {
    /// Apply the module to a batch `x` of shape `[batch, features]`, recording the graph.
    fn forward(&self, x: &Var) -> Result<Var>;

    /// The parameters with their names, in a stable order (PyTorch state-dict names for
    /// [`Sequential`]: `0.weight`, `0.bias`, ...).
    fn named_parameters(&self) -> Vec<(String, Var)>;

    /// The parameters without names.
    fn parameters(&self) -> Vec<Var> {
        self.named_parameters()
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Switch between training (dropout active) and evaluation behaviour.
    fn set_training(&mut self, _training: bool) {}

    /// Zero every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value().len()).sum()
    }
}
