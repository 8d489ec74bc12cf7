//! Gradient checking: autograd against central finite differences. (to be written)
use super::Var;
use crate::{Element, Result, Tensor};

/// Outcome of [`gradcheck`].
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// Largest relative error over every element of every input.
    pub max_rel_error: f64,
    /// Per input: largest relative error.
    pub per_input: Vec<f64>,
}

/// Compare autograd's gradient of the scalar `f(inputs)` with central finite differences.
pub fn gradcheck<E: Element>(
    _f: impl Fn(&[Var<E>]) -> Result<Var<E>>,
    _inputs: &[Tensor<E>],
    _eps: f64,
) -> Result<GradcheckReport> {
    todo!()
}
