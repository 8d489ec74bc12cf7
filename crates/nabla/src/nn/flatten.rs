//! Flatten, as `torch.nn.Flatten()` (start_dim 1): a `[c, h, w]` row becomes `[c·h·w]`. The
//! values do not move (rows are stored row-major either way), so forward and backward are
//! copies.

use super::module::check_lengths;
use super::{Backprop, LayerSpec, Module, Pass};
use crate::{Element, Result};

/// Flattens each row to one dimension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<E: Element> Module<E> for Flatten {
    fn spec(&self) -> LayerSpec {
        LayerSpec::Flatten
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(vec![input.iter().product()])
    }

    fn forward(&self, x: &[E], y: &mut [E], _scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("flatten forward", x, y, pass)?;
        let n = pass.rows * pass.input_len();
        y[..n].copy_from_slice(&x[..n]);
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, _) = grads.checked("flatten backward", pass)?;
        if let Some(dx) = dx {
            let n = pass.rows * pass.input_len();
            dx[..n].copy_from_slice(&dy[..n]);
        }
        Ok(())
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(*self))
    }
}
