//! Data-parallel training: the sums the trainer takes over processes, and how a batch is cut
//! into shards.
//!
//! A run on N processes ("ranks", for example under `mpirun -np N`) cuts every global
//! mini-batch into N contiguous shards, rank r taking shard r ([`shard_bounds`]). Each rank
//! computes the loss and gradient of its shard with the means taken over the whole batch
//! ([`crate::nn::Sequential::loss_backward_of_share`]), the trainer sums the gradients over
//! the ranks through a [`Collective`], and every rank applies the same optimiser step to the
//! same weights.
//!
//! A single process reproduces such a run with [`super::TrainConfig::shards`]: it computes
//! the shards one after another and adds their f32 gradients in shard order. With two shards
//! the sum of two numbers is the same in either order, so one process with 2 shards and
//! `mpirun -np 2` give the same weights bit for bit. With more, the MPI library chooses the
//! order of its additions (a ring, a tree), which decides the last bits of each sum: runs
//! with the same number of processes on the same library repeat bit for bit and equal the
//! shard-order sum to rounding. (Summing in f64 would take the order out, at twice the bytes
//! on the network; the f32 sum was chosen for the bytes.)
//!
//! Without shards (the default, one process), a batch's gradient is summed over all its rows
//! in one pass; cutting it in two changes the order of the f32 additions, which changes
//! each weight's gradient in its last bit or so. Training amplifies such differences (a ReLU
//! whose input is near 0 takes the other side; Adam turns a tiny gradient into a full step),
//! so after a few hundred steps the weights of a 1-shard and a 2-shard run differ visibly
//! though neither is more exact than the other.

use std::marker::PhantomData;
use std::ops::Range;

use crate::{Error, Result};

/// Sums over the processes of a data-parallel run. Every process calls each method at the
/// same point of its run, with buffers of the same length; afterwards every process holds
/// the same sums.
pub trait Collective {
    /// This process's index, 0 ≤ rank < size.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replace `buf` by its element-wise sum over the processes.
    fn sum_f32(&self, buf: &mut [f32]) -> Result<()>;
    /// Replace `buf` by its element-wise sum over the processes.
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()>;
    /// Time spent in the sums so far and their number, where the implementation keeps
    /// count (it includes the wait for the slowest process).
    fn time_in_sums(&self) -> Option<(std::time::Duration, u64)> {
        None
    }

    /// Sum `send` into `recv` part by part while `work` produces the parts: `work` fills each
    /// part through [`Parts::post`], from the end of the buffer down, and an implementation
    /// may start summing a part as soon as it is posted (MPI: `MPI_Iallreduce`), overlapping
    /// the communication with the rest of `work`. When it returns, `recv` holds the sums of
    /// every element (parts never posted are summed last). The default posts nothing early:
    /// it runs `work`, then sums the whole buffer.
    fn sum_in_parts(
        &self,
        send: &mut [f32],
        recv: &mut [f32],
        work: &mut dyn FnMut(&mut Parts<'_>) -> Result<()>,
    ) -> Result<()> {
        check_lengths(send, recv)?;
        let mut ignore = |_: *const f32, _: Range<usize>| Ok(());
        work(&mut Parts::new(send, &mut ignore))?;
        recv.copy_from_slice(send);
        self.sum_f32(recv)
    }
}

pub(crate) fn check_lengths(send: &[f32], recv: &[f32]) -> Result<()> {
    if send.len() != recv.len() {
        return Err(Error::param(
            "sum in parts",
            format!("buffers of {} and {} values", send.len(), recv.len()),
        ));
    }
    Ok(())
}

/// The send buffer of [`Collective::sum_in_parts`], filled part by part.
pub struct Parts<'b> {
    base: *mut f32,
    /// Start of the lowest part posted so far.
    low: usize,
    start: &'b mut dyn FnMut(*const f32, Range<usize>) -> Result<()>,
    _buf: PhantomData<&'b mut [f32]>,
}

impl<'b> Parts<'b> {
    /// The parts of `send`; `start(base, range)` is told of each part posted (`base` points at
    /// `send[0]`; the part's values stay untouched until the sum returns).
    pub(crate) fn new(
        send: &'b mut [f32],
        start: &'b mut dyn FnMut(*const f32, Range<usize>) -> Result<()>,
    ) -> Self {
        Parts {
            base: send.as_mut_ptr(),
            low: send.len(),
            start,
            _buf: PhantomData,
        }
    }

    /// Fill `range` of the send buffer with `fill` and post it. Parts are posted from the end
    /// of the buffer down, without overlapping.
    pub fn post(&mut self, range: Range<usize>, fill: impl FnOnce(&mut [f32])) -> Result<()> {
        if range.start > range.end || range.end > self.low {
            return Err(Error::param(
                "sum in parts",
                format!(
                    "part {range:?} is not below the parts already posted (from {})",
                    self.low
                ),
            ));
        }
        // SAFETY: range.end ≤ low ≤ the buffer's length, and no part at or above `low` is touched again:
        // this part is disjoint from the ones being summed.
        let part = unsafe {
            std::slice::from_raw_parts_mut(self.base.add(range.start), range.end - range.start)
        };
        fill(part);
        self.low = range.start;
        (self.start)(self.base, range)
    }

    /// The start of the lowest part posted (the buffer's length before any).
    pub fn posted_from(&self) -> usize {
        self.low
    }
}

/// The one-process "collective": rank 0 of 1, and every sum is the value itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&self, _buf: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn sum_f64(&self, _buf: &mut [f64]) -> Result<()> {
        Ok(())
    }
}

/// Rows `lo..hi` of shard `s` of `shards` in a batch of `rows` rows: contiguous, in order,
/// sizes differing by at most one (a shard is empty when the batch has fewer rows than
/// shards).
pub fn shard_bounds(rows: usize, shards: usize, s: usize) -> (usize, usize) {
    debug_assert!(shards > 0 && s < shards);
    (s * rows / shards, (s + 1) * rows / shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_order() {
        for rows in 0..40 {
            for shards in 1..9 {
                let mut next = 0;
                for s in 0..shards {
                    let (lo, hi) = shard_bounds(rows, shards, s);
                    assert_eq!(lo, next, "rows {rows}, shards {shards}, shard {s}");
                    assert!(hi >= lo && hi - lo <= rows / shards + 1);
                    next = hi;
                }
                assert_eq!(next, rows);
            }
        }
    }
}
