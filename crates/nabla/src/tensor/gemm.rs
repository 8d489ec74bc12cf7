//! Matrix multiply on row-major slices.
//!
//! f32 products go through nabla's own kernels (`sgemm`), AVX-512F or AVX2+FMA as the CPU has
//! them ([`KernelPath`], detected at run time; `NABLA_KERNEL=avx512|avx2|generic` forces one):
//! register-tiled and cache-blocked, with vector shapes (batch 1) handled by dedicated loops,
//! threads from a persistent team, and no heap allocation per product, so a training step
//! allocates nothing. Everything else (f64, other CPUs, or the generic path) goes through the
//! `gemm` crate (its own dispatch, AVX-512 kernels enabled).
//!
//! The paths may differ in the last bits of a sum (each adds its products in its own blocking
//! order); one path, one thread count and one seed always give the same bits.
//!
//! Small products are done by a plain loop: below a few thousand multiply-adds any blocked
//! kernel's set-up costs more than the arithmetic, and tiny networks live there. One-row f32
//! products of depth 32 or more are the exception: they take the vector kernels, which sum in
//! registers where the plain loop waits on one running sum. Large products
//! are split across threads; small ones stay on the calling thread.

use std::any::TypeId;

use super::Element;

mod pool;
mod sgemm;

pub use sgemm::{kernel_path, KernelPath};

/// Work (m·n·k multiply-adds) below which a product runs on one thread (`gemm` crate path;
/// the f32 kernels use their own, lower threshold).
const PARALLEL_THRESHOLD: usize = 128 * 128 * 128;
/// Work below which the plain loop beats a blocked kernel's set-up.
const SMALL_THRESHOLD: usize = 4096;
/// From this depth on, an f32 product of one row (m = 1) runs on nabla's vector kernels
/// however small it is.
const VECTOR_DEPTH: usize = 32;

/// The general matrix product of the `gemm` crate for one element type: the fallback behind
/// [`matmul_into`] (f64, CPUs without AVX2 and FMA, or `NABLA_GEMM_FALLBACK=1`).
pub trait Gemm: Sized + Copy + 'static {
    /// C = alpha·C + beta·A·B.
    ///
    /// # Safety
    /// Every pointer must be valid for the extents and strides given (`dst` for writes of an
    /// `m × n` matrix, `lhs` for reads of `m × k`, `rhs` for reads of `k × n`), and `dst` must
    /// not overlap the inputs. [`matmul_into`] checks this for slices.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        n: usize,
        k: usize,
        dst: *mut Self,
        dst_cs: isize,
        dst_rs: isize,
        read_dst: bool,
        lhs: *const Self,
        lhs_cs: isize,
        lhs_rs: isize,
        rhs: *const Self,
        rhs_cs: isize,
        rhs_rs: isize,
        alpha: Self,
        beta: Self,
        threads: usize,
    ) {
        let par = if threads <= 1 {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(threads)
        };
        // SAFETY: the caller guarantees the pointer contract stated on the trait method.
        unsafe {
            gemm::gemm(
                m, n, k, dst, dst_cs, dst_rs, read_dst, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs,
                alpha, beta, false, false, false, par,
            )
        }
    }
}

impl Gemm for f32 {}
impl Gemm for f64 {}

/// Whether an operand is read as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trans {
    /// Use the matrix as stored (row-major `rows × cols`).
    No,
    /// Use its transpose.
    Yes,
}

/// How many threads products may use: `RAYON_NUM_THREADS`-aware rayon pool size.
pub fn max_threads() -> usize {
    rayon::current_num_threads().max(1)
}

/// Run `part(i)` for every `i` in `0..parts` on the threads products use (the caller
/// included), and return when all are done. Products computed inside a part run on that part's
/// thread. Nothing allocates: layers split a batch this way (a part per thread, each with its
/// own scratch room) where one product per sample is too small to split.
pub fn parallel_parts(parts: usize, part: &(dyn Fn(usize) + Sync + '_)) {
    pool::run(max_threads(), parts, part);
}

/// `c = beta_c·c + a'·b'` where `a'` is `m × k` and `b'` is `k × n` after the optional transposes,
/// and `c` is row-major `m × n`. `accumulate = false` overwrites `c`; `true` adds to it.
///
/// `a` is stored row-major as `m × k` (`Trans::No`) or `k × m` (`Trans::Yes`); likewise `b` as
/// `k × n` or `n × k`. Panics if a slice is shorter than its extents say (internal callers check
/// shapes first and return errors to users).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn matmul_into<E: Element>(
    m: usize,
    n: usize,
    k: usize,
    a: &[E],
    ta: Trans,
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    // Tiny products (a small network's layers) take the plain loops inlined at the call, where
    // the layouts are known: no kernel choice, no call. Not one sample's pass through a layer
    // of some depth: the vector kernels sum a row in registers where the plain loop waits on
    // one running sum.
    let vector = TypeId::of::<E>() == TypeId::of::<f32>() && m == 1 && k >= VECTOR_DEPTH;
    if m * n * k <= SMALL_THRESHOLD && m * n * k > 0 && !vector {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        small_matmul((m, n, k), (a, ta), (b, tb), c, accumulate);
        return;
    }
    matmul_on(kernel_path(), m, n, k, a, ta, b, tb, c, accumulate);
}

/// [`matmul_into`] on a given kernel path rather than the process's (tests and benchmarks
/// compare paths with it). Panics if this CPU cannot run `path`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on<E: Element>(
    path: KernelPath,
    m: usize,
    n: usize,
    k: usize,
    a: &[E],
    ta: Trans,
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|x| *x = E::ZERO);
        }
        return;
    }
    let work = m * n * k;
    let own_f32 = TypeId::of::<E>() == TypeId::of::<f32>() && path != KernelPath::Generic;
    if work <= SMALL_THRESHOLD && !(own_f32 && m == 1 && k >= VECTOR_DEPTH) {
        small_matmul((m, n, k), (a, ta), (b, tb), c, accumulate);
        return;
    }
    // (column stride, row stride) of each operand as used in the product.
    let (a_cs, a_rs) = match ta {
        Trans::No => (1isize, k as isize),
        Trans::Yes => (m as isize, 1isize),
    };
    let (b_cs, b_rs) = match tb {
        Trans::No => (1isize, n as isize),
        Trans::Yes => (k as isize, 1isize),
    };
    // The process's own path was checked when it was chosen; another one is checked here
    // (not before the small products above, which use no kernel: tiny networks pay for every
    // instruction).
    assert!(
        path == kernel_path() || path.supported(),
        "this CPU cannot run the {} kernels",
        path.name()
    );
    if own_f32 {
        // SAFETY: E is f32 (same type, checked above), so the casts only restate the type;
        // the asserts above check the extents and that the CPU runs the path.
        unsafe {
            let a32 = std::slice::from_raw_parts(a.as_ptr() as *const f32, a.len());
            let b32 = std::slice::from_raw_parts(b.as_ptr() as *const f32, b.len());
            let c32 = std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, c.len());
            sgemm::sgemm(
                path,
                m,
                n,
                k,
                a32,
                (a_rs, a_cs),
                b32,
                (b_rs, b_cs),
                c32,
                accumulate,
                max_threads(),
            );
        }
        return;
    }
    let threads = if work >= PARALLEL_THRESHOLD {
        max_threads()
    } else {
        1
    };
    // SAFETY: the assertion above checked that each slice holds its extents; the strides
    // chosen here stay inside them, and `c` is a distinct &mut slice.
    unsafe {
        E::gemm_raw(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            E::ONE,
            E::ONE,
            threads,
        );
    }
}

/// Room [`pack_lhs`] takes for an `m × k` left operand of element type `E`: 0 when its
/// products take no packed operand (f64, the generic path, or shapes the blocked kernels do
/// not run).
pub(crate) fn packed_lhs_len<E: Element>(m: usize, k: usize) -> usize {
    packed_lhs_len_on::<E>(kernel_path(), m, k)
}

/// [`packed_lhs_len`] on a given kernel path (tests compare paths with it).
fn packed_lhs_len_on<E: Element>(path: KernelPath, m: usize, k: usize) -> usize {
    if TypeId::of::<E>() != TypeId::of::<f32>() || path == KernelPath::Generic || m < 2 || k < 2 {
        return 0;
    }
    sgemm::packed_a_len(path, m, k)
}

/// Pack the left operand `a'` (`m × k` after `ta`) into `dst` for [`matmul_packed_lhs`], when
/// its products take it packed ([`packed_lhs_len`] > 0; else nothing is done): a layer that
/// multiplies the same weights by every sample of a batch packs them once.
pub(crate) fn pack_lhs<E: Element>(m: usize, k: usize, a: &[E], ta: Trans, dst: &mut [E]) {
    pack_lhs_on(kernel_path(), m, k, a, ta, dst);
}

/// [`pack_lhs`] for a given kernel path. Panics if this CPU cannot run `path`.
fn pack_lhs_on<E: Element>(
    path: KernelPath,
    m: usize,
    k: usize,
    a: &[E],
    ta: Trans,
    dst: &mut [E],
) {
    let len = packed_lhs_len_on::<E>(path, m, k);
    if len == 0 {
        return;
    }
    assert!(a.len() >= m * k && dst.len() >= len);
    assert!(
        path == kernel_path() || path.supported(),
        "this CPU cannot run the {} kernels",
        path.name()
    );
    let strides = match ta {
        Trans::No => (k as isize, 1isize),
        Trans::Yes => (1isize, m as isize),
    };
    // SAFETY: E is f32 (packed_lhs_len_on checked it), so the casts only restate the type;
    // the asserts check the extents and that the path runs on this CPU.
    unsafe {
        let a32 = std::slice::from_raw_parts(a.as_ptr() as *const f32, a.len());
        let d32 = std::slice::from_raw_parts_mut(dst.as_mut_ptr() as *mut f32, dst.len());
        sgemm::pack_a_whole(path, m, k, a32, strides, d32);
    }
}

/// [`matmul_into`] on the calling thread with the left operand also given packed by
/// [`pack_lhs`] (`packed`: its room, [`packed_lhs_len`] values, unused when that is 0 or the
/// product is one for the plain loop, which read `a` itself).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_packed_lhs<E: Element>(
    m: usize,
    n: usize,
    k: usize,
    lhs: (&[E], Trans, &[E]),
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    matmul_packed_lhs_on(kernel_path(), m, n, k, lhs, b, tb, c, accumulate);
}

/// [`matmul_packed_lhs`] on a given kernel path, with `packed` made by [`pack_lhs_on`] for
/// that path. Panics if this CPU cannot run `path`.
#[allow(clippy::too_many_arguments)]
fn matmul_packed_lhs_on<E: Element>(
    path: KernelPath,
    m: usize,
    n: usize,
    k: usize,
    (a, ta, packed): (&[E], Trans, &[E]),
    b: &[E],
    tb: Trans,
    c: &mut [E],
    accumulate: bool,
) {
    let len = packed_lhs_len_on::<E>(path, m, k);
    if len == 0 || n == 0 || m * n * k <= SMALL_THRESHOLD {
        return matmul_on(path, m, n, k, a, ta, b, tb, c, accumulate);
    }
    assert!(packed.len() >= len && b.len() >= k * n && c.len() >= m * n);
    assert!(
        path == kernel_path() || path.supported(),
        "this CPU cannot run the {} kernels",
        path.name()
    );
    let b_strides = match tb {
        Trans::No => (n as isize, 1isize),
        Trans::Yes => (1isize, k as isize),
    };
    // SAFETY: as in pack_lhs; the assert checks the extents, and m, k ≥ 2 (packed_lhs_len).
    unsafe {
        let p32 = std::slice::from_raw_parts(packed.as_ptr() as *const f32, packed.len());
        let b32 = std::slice::from_raw_parts(b.as_ptr() as *const f32, b.len());
        let c32 = std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, c.len());
        sgemm::sgemm_packed_a(path, m, n, k, p32, b32, b_strides, c32, accumulate);
    }
}

/// [`matmul_into`] by a plain loop, for products too small to pay for a blocked kernel.
#[inline]
fn small_matmul<E: Element>(
    (m, n, k): (usize, usize, usize),
    (a, ta): (&[E], Trans),
    (b, tb): (&[E], Trans),
    c: &mut [E],
    accumulate: bool,
) {
    // Every entry of C is summed over p in increasing order, starting from its old value
    // (accumulate) or zero, whichever loop order a layout takes: the four layouts give the same
    // bits. Each loop walks contiguous rows; only Aᵀ·Bᵀ, which no layer asks for, indexes.
    let (c, b) = (&mut c[..m * n], &b[..k * n]);
    if tb == Trans::No && !accumulate {
        c.fill(E::ZERO);
    }
    let axpy = |crow: &mut [E], av: E, brow: &[E]| {
        for (cv, &bv) in crow.iter_mut().zip(brow) {
            *cv += av * bv;
        }
    };
    match (ta, tb) {
        (Trans::No, Trans::No) => {
            for (crow, arow) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
                for (&av, brow) in arow.iter().zip(b.chunks_exact(n)) {
                    axpy(crow, av, brow);
                }
            }
        }
        // Row p of the stored Aᵀ holds a(·, p).
        (Trans::Yes, Trans::No) => {
            for (acol, brow) in a.chunks_exact(m).zip(b.chunks_exact(n)) {
                for (crow, &av) in c.chunks_exact_mut(n).zip(acol) {
                    axpy(crow, av, brow);
                }
            }
        }
        // Row j of the stored Bᵀ holds b(·, j): each entry of C is one dot product.
        (Trans::No, Trans::Yes) => {
            for (crow, arow) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)) {
                for (cv, bcol) in crow.iter_mut().zip(b.chunks_exact(k)) {
                    let mut s = if accumulate { *cv } else { E::ZERO };
                    for (&av, &bv) in arow.iter().zip(bcol) {
                        s += av * bv;
                    }
                    *cv = s;
                }
            }
        }
        (Trans::Yes, Trans::Yes) => {
            for (i, crow) in c.chunks_exact_mut(n).enumerate() {
                for (cv, bcol) in crow.iter_mut().zip(b.chunks_exact(k)) {
                    let mut s = if accumulate { *cv } else { E::ZERO };
                    for (p, &bv) in bcol.iter().enumerate() {
                        s += a[p * m + i] * bv;
                    }
                    *cv = s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sgemm::runnable_paths;
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    fn transpose(r: usize, c: usize, x: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    /// Every kernel path this CPU runs, every layout, overwriting and accumulating, against an
    /// exact reference, with each of m, n and k swept over 1..=130 (the other two odd and
    /// unaligned to any tile) and cubes of odd sizes: every edge of every micro-tile and
    /// packing path is crossed.
    #[test]
    fn every_kernel_path_matches_reference_over_odd_sizes() {
        let mut shapes = Vec::new();
        for d in 1..=130 {
            shapes.extend([(d, 37, 29), (29, d, 37), (37, 29, d)]);
            // One row (one sample through a layer): the vector kernels, every ragged depth,
            // at sizes under and over the plain loop's.
            shapes.extend([(1, 29, d), (1, d, 100), (1, 300, d)]);
        }
        for d in [15, 31, 33, 63, 65, 97, 127, 129, 130] {
            shapes.push((d, d, d));
        }
        let paths = runnable_paths();
        for &(m, n, k) in &shapes {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 7 % 13) as f64) - 6.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| ((i * 5 % 11) as f64) - 5.0).collect();
            let want: Vec<f32> = naive(m, n, k, &a, &b).iter().map(|&v| v as f32).collect();
            let twice: Vec<f32> = want.iter().map(|x| 2.0 * x).collect();
            let f = |v: &Vec<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let (a32, at32) = (f(&a), f(&transpose(m, k, &a)));
            let (b32, bt32) = (f(&b), f(&transpose(k, n, &b)));
            for &path in &paths {
                for (aa, ta) in [(&a32, Trans::No), (&at32, Trans::Yes)] {
                    for (bb, tb) in [(&b32, Trans::No), (&bt32, Trans::Yes)] {
                        let mut c = vec![1.0f32; m * n];
                        matmul_on(path, m, n, k, aa, ta, bb, tb, &mut c, false);
                        assert!(c == want, "{path:?} {m}x{n}x{k} {ta:?} {tb:?}");
                        matmul_on(path, m, n, k, aa, ta, bb, tb, &mut c, true);
                        assert!(c == twice, "{path:?} {m}x{n}x{k} {ta:?} {tb:?} accumulate");
                    }
                }
            }
        }
    }

    /// The same seed and path give the same bits; the paths agree to rounding on products
    /// whose sums are not exact (each path may add in its own order).
    #[test]
    fn kernel_paths_agree_to_rounding_and_repeat_exactly() {
        let (m, n, k) = (150, 300, 1100);
        let a: Vec<f32> = (0..m * k).map(|i| ((i as f32) * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i as f32) * 0.61).cos()).collect();
        let mut reference: Option<Vec<f32>> = None;
        for path in runnable_paths() {
            let run = || {
                let mut c = vec![0.0f32; m * n];
                matmul_on(path, m, n, k, &a, Trans::No, &b, Trans::No, &mut c, false);
                c
            };
            let c = run();
            assert!(c == run(), "{path:?} is not repeatable");
            match &reference {
                None => reference = Some(c),
                Some(r) => {
                    for (x, y) in c.iter().zip(r) {
                        assert!(
                            (x - y).abs() <= 1e-3 * (1.0 + y.abs()),
                            "{path:?}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }

    /// f32 products through every path of the f32 kernels (vector shapes, blocked with and
    /// without packing A, block edges past KC/MC/NC, split by columns and by rows across
    /// threads) against an f64 reference; the operands are small integers, so every sum is
    /// exact in f32 and the comparison is equality.
    #[test]
    fn f32_paths_match_exact_reference() {
        let shapes = [
            (1, 300, 50),
            (1, 2100, 600),
            (100, 80, 1),
            (97, 1, 70),
            (130, 129, 131),
            (7, 2100, 40),
            (250, 20, 300),
            (600, 40, 30),
            (128, 256, 784),
            (13, 600, 520),
            // Past the AVX-512 blocks: two 1050-deep slices, two 168-row blocks of A, two
            // 1024-wide blocks of B.
            (170, 40, 2100),
            (340, 50, 60),
            (20, 1030, 50),
            // Rows 2 KiB apart: the AVX2 path packs A too (its register transposes).
            (20, 40, 512),
            (9, 33, 1031),
            (25, 70, 1024),
        ];
        for &(m, n, k) in &shapes {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 7 % 13) as f64) - 6.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| ((i * 5 % 11) as f64) - 5.0).collect();
            let want: Vec<f32> = naive(m, n, k, &a, &b).iter().map(|&v| v as f32).collect();
            let at = transpose(m, k, &a);
            let bt = transpose(k, n, &b);
            let f = |v: &Vec<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let (a32, at32, b32, bt32) = (f(&a), f(&at), f(&b), f(&bt));
            for (aa, ta) in [(&a32, Trans::No), (&at32, Trans::Yes)] {
                for (bb, tb) in [(&b32, Trans::No), (&bt32, Trans::Yes)] {
                    for path in runnable_paths() {
                        let mut c = vec![1.0f32; m * n];
                        matmul_on(path, m, n, k, aa, ta, bb, tb, &mut c, false);
                        assert!(c == want, "{path:?} {m}x{n}x{k} {ta:?} {tb:?}");
                        matmul_on(path, m, n, k, aa, ta, bb, tb, &mut c, true);
                        let twice: Vec<f32> = want.iter().map(|x| 2.0 * x).collect();
                        assert!(c == twice, "{path:?} {m}x{n}x{k} {ta:?} {tb:?} accumulate");
                    }
                }
            }
        }
    }

    /// Products with the left operand packed once beforehand give the bits of the plain
    /// product, both layouts of each operand, overwriting and accumulating: shapes of the
    /// convolution's products, one past several depth slices and row blocks, odd ones, and
    /// small ones (the plain loop, which reads `a` itself); f64 packs nothing.
    #[test]
    fn packed_left_operand_gives_the_plain_products_bits() {
        let shapes = [
            (64, 576, 288),
            (288, 576, 64),
            (170, 40, 2100),
            (300, 50, 70),
            (7, 33, 5),
            (13, 1, 9),
            (2, 2, 2),
            (3, 5, 4),
        ];
        for path in runnable_paths() {
            for &(m, n, k) in &shapes {
                let a: Vec<f32> = (0..m * k).map(|i| ((i as f32) * 0.37).sin()).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i as f32) * 0.61).cos()).collect();
                let c0: Vec<f32> = (0..m * n).map(|i| ((i as f32) * 0.13).sin()).collect();
                let mut packed = vec![0.0f32; packed_lhs_len_on::<f32>(path, m, k)];
                for ta in [Trans::No, Trans::Yes] {
                    pack_lhs_on(path, m, k, &a, ta, &mut packed);
                    for tb in [Trans::No, Trans::Yes] {
                        for acc in [false, true] {
                            let (mut want, mut got) = (c0.clone(), c0.clone());
                            matmul_on(path, m, n, k, &a, ta, &b, tb, &mut want, acc);
                            let lhs = (&a[..], ta, &packed[..]);
                            matmul_packed_lhs_on(path, m, n, k, lhs, &b, tb, &mut got, acc);
                            let what = format!("{path:?} {m}x{n}x{k} {ta:?} {tb:?} acc {acc}");
                            assert!(got == want, "{what}");
                        }
                    }
                }
            }
        }
        assert_eq!(packed_lhs_len::<f64>(64, 288), 0);
        let (a, b) = (vec![1.0f64; 64 * 288], vec![2.0f64; 288 * 10]);
        let mut c = vec![0.0f64; 64 * 10];
        matmul_packed_lhs(
            64,
            10,
            288,
            (&a, Trans::No, &[]),
            &b,
            Trans::No,
            &mut c,
            false,
        );
        assert!(c.iter().all(|&v| v == 576.0));
    }

    /// Every layout, overwriting and accumulating, in f64 and f32, against the reference:
    /// every shape of the plain small-product loops with m, n, k in 1..=7 and the edge of
    /// SMALL_THRESHOLD, then blocked ones; small integers and halves make every sum exact.
    #[test]
    fn all_transpose_combinations_small_and_large() {
        let mut shapes: Vec<(usize, usize, usize)> = Vec::new();
        for m in 1..=7 {
            for n in 1..=7 {
                for k in 1..=7 {
                    shapes.push((m, n, k));
                }
            }
        }
        shapes.extend([(16, 16, 16), (1, 64, 64), (64, 64, 1), (4, 8, 2), (8, 2, 4)]);
        assert!(shapes.iter().all(|&(m, n, k)| m * n * k <= SMALL_THRESHOLD));
        shapes.extend([(2, 3, 4), (5, 1, 7), (40, 33, 70), (130, 129, 131)]);
        for (m, n, k) in shapes {
            let a: Vec<f64> = (0..m * k).map(|i| ((i * 7 % 13) as f64) - 6.0).collect();
            let b: Vec<f64> = (0..k * n)
                .map(|i| ((i * 5 % 11) as f64) * 0.5 - 2.0)
                .collect();
            let want = naive(m, n, k, &a, &b);
            let (at, bt) = (transpose(m, k, &a), transpose(k, n, &b));
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            for (aa, ta) in [(&a, Trans::No), (&at, Trans::Yes)] {
                for (bb, tb) in [(&b, Trans::No), (&bt, Trans::Yes)] {
                    let mut c = vec![3.0; m * n];
                    matmul_into(m, n, k, aa, ta, bb, tb, &mut c, false);
                    assert_eq!(c, want, "{m}x{n}x{k} {ta:?} {tb:?}");
                    matmul_into(m, n, k, aa, ta, bb, tb, &mut c, true);
                    let twice: Vec<f64> = want.iter().map(|x| 2.0 * x).collect();
                    assert_eq!(c, twice, "{m}x{n}x{k} {ta:?} {tb:?} accumulate");
                    let mut c32 = vec![3.0f32; m * n];
                    matmul_into(m, n, k, &f(aa), ta, &f(bb), tb, &mut c32, false);
                    assert_eq!(c32, f(&want), "f32 {m}x{n}x{k} {ta:?} {tb:?}");
                }
            }
        }
    }
}
