//! The functions networks are made of, each written once with its derivative beside it,
//! generic over `f32`/`f64`: the scalar f and f′, and the slice kernels the layers, the
//! tensors, the autograd graph, the calculus evaluator and `explain` all call.
//!
//! - [`activation`]: sigmoid, tanh, ReLU, leaky ReLU, softplus (and the identity);
//! - [`softmax`]: the stable log-sum-exp, softmax and log-softmax of one row.

pub mod activation;
pub mod softmax;
