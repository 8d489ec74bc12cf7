//! A batch's samples shared among the threads the products use: for layers whose work is one
//! small product (or loop) per sample, the batch is split into a run of samples per thread.

use crate::tensor::gemm::{max_threads, parallel_parts};

/// Work (values touched, or multiply-adds) below which a batch stays on one thread: waking a
/// helper costs about as much as a few microseconds of work.
const PARALLEL_WORK: usize = 1 << 15;

/// The threads a batch of `rows` samples, `work` each, is shared among.
pub(crate) fn threads_for(rows: usize, work: usize) -> usize {
    if rows.saturating_mul(work) < PARALLEL_WORK {
        return 1;
    }
    max_threads().min(rows).max(1)
}

/// `(rows, len)` as the rows an elementwise loop is shared by: the whole batch as one row
/// when it stays on one thread (one loop over every value, no per-row calls).
pub(crate) fn elementwise_rows(rows: usize, len: usize) -> (usize, usize) {
    if threads_for(rows, len) == 1 {
        (1, rows * len)
    } else {
        (rows, len)
    }
}

/// A pointer into a buffer whose disjoint parts the threads of one batch fill.
#[derive(Clone, Copy)]
pub(crate) struct Parts<E>(pub(crate) *mut E);
// SAFETY: every use hands each part a range no other part touches, and `parallel_parts`
// returns only after every part is done.
unsafe impl<E> Sync for Parts<E> {}
unsafe impl<E> Send for Parts<E> {}

impl<E> Parts<E> {
    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// The range lies inside the buffer and no other live slice overlaps it.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &mut [E] {
        // SAFETY: as the caller guarantees.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// The batch split into at most `parts` runs of samples: run `i` is `range(i)`.
#[derive(Clone, Copy)]
pub(crate) struct Split {
    rows: usize,
    chunk: usize,
}

impl Split {
    pub(crate) fn new(rows: usize, parts: usize) -> Self {
        Split {
            rows,
            chunk: rows.div_ceil(parts.max(1)).max(1),
        }
    }
    pub(crate) fn parts(&self) -> usize {
        self.rows.div_ceil(self.chunk)
    }
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        i * self.chunk..((i + 1) * self.chunk).min(self.rows)
    }
}

/// Run `f(s, a_s, b_s)` for every sample `s` of `rows`, with `a_s` and `b_s` sample s's
/// `a_len` and `b_len` values of `a` and `b`; the samples are shared among the threads when
/// there is enough work (`work` per sample).
pub(crate) fn per_sample<A: Send, B: Send>(
    rows: usize,
    work: usize,
    (a, a_len): (&mut [A], usize),
    (b, b_len): (&mut [B], usize),
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    assert!(a.len() >= rows * a_len && b.len() >= rows * b_len);
    let threads = threads_for(rows, work);
    if threads == 1 {
        // Small batches stay on this thread, without the team's hand-off.
        let rows_a = a.chunks_exact_mut(a_len.max(1)).take(rows);
        let mut b_rows = b.chunks_exact_mut(b_len.max(1));
        for (s, a_s) in rows_a.enumerate() {
            f(s, a_s, b_rows.next().unwrap_or(&mut [][..]));
        }
        return;
    }
    let split = Split::new(rows, threads);
    let (a, b) = (Parts(a.as_mut_ptr()), Parts(b.as_mut_ptr()));
    parallel_parts(split.parts(), &|i| {
        for s in split.range(i) {
            // SAFETY: sample s belongs to part i alone, and the assertion above keeps every
            // sample inside the buffers.
            let (a_s, b_s) = unsafe { (a.slice(s * a_len, a_len), b.slice(s * b_len, b_len)) };
            f(s, a_s, b_s);
        }
    });
}

/// [`per_sample`] over one buffer: `f(s, a_s)` for every sample `s`.
pub(crate) fn each_row<A: Send>(
    rows: usize,
    work: usize,
    (a, a_len): (&mut [A], usize),
    f: impl Fn(usize, &mut [A]) + Sync,
) {
    if rows == 1 {
        return f(0, &mut a[..a_len]);
    }
    per_sample(rows, work, (a, a_len), (&mut [0u8; 0][..], 0), |s, a, _| {
        f(s, a)
    });
}

/// Run `f(range)` over `0..len` in one contiguous run per thread when `len` values are enough
/// work to share (elementwise passes over whole buffers: an optimiser's update), else in one
/// run on this thread. The runs are disjoint, and whichever thread runs one, its values are
/// computed by the same operations, so the result does not depend on the thread count.
pub(crate) fn split_values(len: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    let threads = threads_for(len, 1);
    if threads == 1 {
        return f(0..len);
    }
    let split = Split::new(len, threads);
    parallel_parts(split.parts(), &|i| f(split.range(i)));
}
