//! Per-row selection (one entry per row of a `[n, c]` value), as used by cross-entropy.

use crate::autograd::{Backward, Var};
use crate::{Element, Result, Tensor};

struct SelectByIndexBackward {
    indices: Vec<usize>,
}

impl<E: Element> Backward<E> for SelectByIndexBackward {
    fn name(&self) -> &'static str {
        "select_by_index"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        // Each picked entry gets its row's gradient; every other entry gets 0.
        Ok(vec![Some(
            g.scatter_by_index(&self.indices, inputs[0].shape()[1])?,
        )])
    }
}

impl<E: Element> Var<E> {
    /// From a `[n, c]` value, `[n]` with `out[i] = self[i, indices[i]]`. Errors unless `self` is
    /// 2-D, there are `n` indices, and each is below `c`.
    pub fn select_by_index(&self, indices: &[usize]) -> Result<Var<E>> {
        let value = self.value().select_by_index(indices)?;
        let rule = SelectByIndexBackward {
            indices: indices.to_vec(),
        };
        Ok(Var::from_op(value, rule, vec![self.clone()]))
    }
}
