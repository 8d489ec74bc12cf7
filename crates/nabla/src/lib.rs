//! # nabla
//!
//! Calculus for neural networks, from the derivative up: f32/f64 tensors, reverse-mode automatic
//! differentiation over any graph of operations, symbolic derivatives of typed expressions, and
//! feedforward networks with the losses, initialisers, optimisers and training loop to fit them.
//!
//! Every failure a caller can cause returns [`Result`] with a typed [`Error`]; a panic inside
//! nabla means a broken internal invariant, that is, a bug.

pub mod autograd;
pub mod calculus;
pub mod data;
pub mod error;
pub mod io;
pub mod loss;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod rng;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};

/// The README's code blocks, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
pub use tensor::{Element, Tensor};
