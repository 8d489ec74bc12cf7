//! Per-row selection (one entry per row of a `[n, c]` value), as used by cross-entropy, and its
//! counterpart, the scatter of one value per row into a `[n, c]` zero matrix. Each is the
//! other's derivative, so both have derivatives of every order.

use crate::autograd::{Backward, Var};
use crate::{Element, Result, Tensor};

/// The rule of [`Var::select_by_index`]: the indices are kept once, for both forms.
struct Select {
    indices: Vec<usize>,
}

impl<E: Element> Backward<E> for Select {
    fn name(&self) -> &'static str {
        "select_by_index"
    }

    // Each picked entry gets its row's gradient; every other entry gets 0.
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _output: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(
            g.scatter_by_index(&self.indices, inputs[0].shape()[1])?,
        )])
    }

    fn backward_graph(
        &self,
        g: &Var<E>,
        inputs: &[Var<E>],
        _output: &Var<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Var<E>>>> {
        Ok(vec![Some(
            g.scatter_by_index(&self.indices, inputs[0].shape()[1])?,
        )])
    }
}

/// The rule of [`Var::scatter_by_index`]: row `i` of the gradient sends back its entry at
/// `indices[i]`.
struct Scatter {
    indices: Vec<usize>,
}

impl<E: Element> Backward<E> for Scatter {
    fn name(&self) -> &'static str {
        "scatter_by_index"
    }

    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _output: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        Ok(vec![Some(g.select_by_index(&self.indices)?)])
    }

    fn backward_graph(
        &self,
        g: &Var<E>,
        _inputs: &[Var<E>],
        _output: &Var<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Var<E>>>> {
        Ok(vec![Some(g.select_by_index(&self.indices)?)])
    }
}

impl<E: Element> Var<E> {
    /// From a `[n, c]` value, `[n]` with `out[i] = self[i, indices[i]]`. Errors unless `self` is
    /// 2-D, there are `n` indices, and each is below `c`.
    pub fn select_by_index(&self, indices: &[usize]) -> Result<Var<E>> {
        let value = self.value().select_by_index(indices)?;
        let rule = Select {
            indices: indices.to_vec(),
        };
        Ok(Var::from_op(value, rule, vec![self.clone()]))
    }

    /// From a `[n]` value, a `[n, columns]` value of zeros with `self[i]` at `(i, indices[i])`.
    /// Errors unless `self` is 1-D with one index per entry, each below `columns`.
    pub fn scatter_by_index(&self, indices: &[usize], columns: usize) -> Result<Var<E>> {
        let value = self.value().scatter_by_index(indices, columns)?;
        let rule = Scatter {
            indices: indices.to_vec(),
        };
        Ok(Var::from_op(value, rule, vec![self.clone()]))
    }
}
