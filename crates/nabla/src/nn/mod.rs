//! Neural-network building blocks: the [`Module`] trait every layer implements, [`Linear`]
//! layers, activation modules, [`Dropout`], [`Sequential`] with its [`Workspace`], the
//! serialisable [`LayerSpec`], and weight initialisers.
//!
//! A neuron computes z = w·x + b and a = act(z); a [`Linear`] layer is a row of neurons sharing
//! their input, and a [`Sequential`] stacks layers into input, hidden and output layers.
//!
//! There is one engine: each module's forward pass and its chain-rule backward pass live side
//! by side in its file, and [`Sequential`] runs them in order (forward) and in reverse order
//! (backward) over a [`Workspace`] of preallocated buffers. Training, evaluation, prediction,
//! gradient checks ([`check`]), explanations and the drawn graph ([`graph`]) all go through
//! it, in f32 or (for checks and explanations) f64. A layer of your own is one type
//! implementing [`Module`].

mod activation;
mod arch;
pub(crate) mod batch;
mod batchnorm;
mod cascade;
pub mod check;
mod conv2d;
mod dropout;
mod flatten;
pub mod graph;
mod init;
mod linear;
mod module;
mod pool;
mod sequential;
mod spec;

pub use activation::{Activation, ActivationLayer};
pub use arch::{shape_text, Architecture, MAX_LAYER_VALUES};
pub use batchnorm::{BatchNorm, BatchNormConfig};
pub use cascade::{Cascade, CASCADE_TENSORS};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dropout::{Dropout, DropoutConfig};
pub use flatten::Flatten;
pub use init::Init;
pub use linear::{Linear, LinearConfig};
pub use module::{Backprop, Module, Pass};
pub use pool::{AvgPool2d, MaxPool2d};
pub use sequential::{MlpConfig, Sequential, Workspace};
pub use spec::{build_layer, BuildContext, LayerBuilder, LayerRegistry, LayerSpec};
