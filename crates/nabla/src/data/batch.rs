//! Mini-batch orders.

use crate::rng::Rng;
use crate::{Error, Result};

/// Produces each epoch's order of row indices, cut into mini-batches.
///
/// With shuffling on, every epoch starts again from the rows in their given order and applies a
/// Fisher–Yates shuffle drawn from the caller's [`Rng`], so an epoch's order depends only on the
/// generator's state at its start (which a checkpoint can store). The last batch is shorter
/// when the row count is not a multiple of the batch size. No allocation after construction.
#[derive(Clone, Debug)]
pub struct Batcher {
    rows: Vec<usize>,
    order: Vec<usize>,
    batch_size: usize,
    shuffle: bool,
}

impl Batcher {
    /// Batches over rows `0..n_rows`. Errors when `batch_size` is 0.
    pub fn new(n_rows: usize, batch_size: usize, shuffle: bool) -> Result<Self> {
        Self::from_rows((0..n_rows).collect(), batch_size, shuffle)
    }

    /// Batches over the given rows (for instance a training split). Errors when `batch_size`
    /// is 0.
    pub fn from_rows(rows: Vec<usize>, batch_size: usize, shuffle: bool) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::param("batch size", "must be at least 1"));
        }
        Ok(Batcher {
            order: rows.clone(),
            rows,
            batch_size,
            shuffle,
        })
    }

    /// Number of rows per epoch.
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch, counting a final short batch.
    pub fn batches_per_epoch(&self) -> usize {
        self.rows.len().div_ceil(self.batch_size)
    }

    /// Start an epoch: reset the order, shuffle it with `rng` when shuffling is on (the
    /// generator is untouched otherwise), and return the batches.
    pub fn epoch(&mut self, rng: &mut Rng) -> std::slice::Chunks<'_, usize> {
        self.order.copy_from_slice(&self.rows);
        if self.shuffle {
            rng.shuffle(&mut self.order);
        }
        self.order.chunks(self.batch_size)
    }

    /// The order of the current epoch (the given rows before the first call to
    /// [`Batcher::epoch`]).
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}
