//! Per-row selection (one entry per row of a `[n, c]` value), as used by cross-entropy.

use crate::autograd::Var;
use crate::{Element, Result};

impl<E: Element> Var<E> {
    /// From a `[n, c]` value, `[n]` with `out[i] = self[i, indices[i]]`. Errors unless `self` is
    /// 2-D, there are `n` indices, and each is below `c`.
    pub fn select_by_index(&self, indices: &[usize]) -> Result<Var<E>> {
        let value = self.value().select_by_index(indices)?;
        let indices = indices.to_vec();
        // Each picked entry gets its row's gradient; every other entry gets 0.
        Ok(self.unary_op(value, "select_by_index", move |g, x, _y| {
            g.scatter_by_index(&indices, x.shape()[1])
        }))
    }
}
