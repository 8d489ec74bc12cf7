//! f32 products with hand-written AVX2+FMA kernels, chosen at run time when the CPU has them.
//!
//! The blocked product follows the usual BLIS layout: for each `NC`-wide column block and
//! `KC`-deep slice, B is packed into `NR`-wide panels (they stay in L2/L3); A is read in place
//! six rows at a time, or packed into six-row panels when it is transposed or its rows are
//! 2 KiB-strided; a 6×16 register-tiled micro-kernel (12 ymm accumulators, one broadcast and
//! two FMAs per element of A) sweeps the panels. Each thread's packing buffers are allocated
//! once at their largest size, so products allocate nothing. Vector shapes (one row of output,
//! or rank-1 updates) have their own memory-bound loops, on which the blocked kernel would
//! waste 5/6 of its work.
//!
//! Large products are split between threads by columns (or rows, when they are the larger
//! side) through [`super::pool`], which is also allocation-free.

use std::cell::RefCell;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::pool;

const MR: usize = 6;
const NR: usize = 16;
const KC: usize = 256;
const MC: usize = 144;
const NC: usize = 2048;

/// Multiply-adds below which a product stays on one thread.
pub(crate) const PARALLEL_WORK: usize = 1 << 19;

/// Whether this CPU runs the AVX2+FMA kernels (checked once). Setting the environment
/// variable `NABLA_GEMM_FALLBACK=1` turns them off (for comparisons and tests of the fallback).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::env::var_os("NABLA_GEMM_FALLBACK").is_none_or(|v| v.is_empty() || v == "0")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A read-only matrix view: element (i, j) is at `ptr + i·rs + j·cs`.
#[derive(Clone, Copy)]
struct View {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

impl View {
    #[inline(always)]
    unsafe fn at(&self, i: usize, j: usize) -> f32 {
        // SAFETY: callers stay inside the extents the view was built for.
        unsafe { *self.ptr.offset(i as isize * self.rs + j as isize * self.cs) }
    }

    #[inline(always)]
    fn shifted(&self, i: usize, j: usize) -> View {
        View {
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..*self
        }
    }
}

/// Raw pointers made shareable between the threads of one product; every thread touches a
/// disjoint part of `c`.
#[derive(Clone, Copy)]
struct Shared {
    a: View,
    b: View,
    c: *mut f32,
}
// SAFETY: see the type's doc; the pool joins every thread before the product returns.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// Largest packing buffers any product needs (plus alignment padding): each thread's buffers
/// are allocated at this size on first use, so no later product, whatever its shape or
/// whichever thread runs it, allocates.
const PACK_A_LEN: usize = MC * KC + 16;
const PACK_B_LEN: usize = NC * KC + 16;

/// Allocate this thread's packing buffers now (helpers do it when they start).
pub(crate) fn reserve_buffers() {
    PACK_A.with(|b| reserve(&mut b.borrow_mut(), PACK_A_LEN));
    PACK_B.with(|b| reserve(&mut b.borrow_mut(), PACK_B_LEN));
}

fn reserve(buf: &mut Vec<f32>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
}

thread_local! {
    static PACK_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACK_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `c (+)= a'·b'` for f32 with `a'` `m × k` (element (i,p) at `a[i·ars + p·acs]`), `b'` `k × n`
/// (element (p,j) at `b[p·brs + j·bcs]`) and row-major `c` (`ldc = n`).
///
/// # Safety
/// [`available`] must be true, and every slice must cover the extents and strides given.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    (ars, acs): (isize, isize),
    b: &[f32],
    (brs, bcs): (isize, isize),
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
) {
    let sh = Shared {
        a: View {
            ptr: a.as_ptr(),
            rs: ars,
            cs: acs,
        },
        b: View {
            ptr: b.as_ptr(),
            rs: brs,
            cs: bcs,
        },
        c: c.as_mut_ptr(),
    };
    let ldc = n;
    let work = m * n * k;
    // A vector product (m = 1) is memory-bound: splitting it lets each core stream its part
    // of B from its own cache, so it pays off from smaller sizes.
    let threads = if work >= PARALLEL_WORK || (m == 1 && work >= PARALLEL_WORK / 8) {
        threads
    } else {
        1
    };
    // Split the larger output side into NR-aligned parts, one per thread.
    let split_cols = n >= m || m == 1;
    let side = if split_cols { n } else { m };
    let parts = threads.min(side.div_ceil(NR)).max(1);
    let chunk = side.div_ceil(parts).div_ceil(NR) * NR;
    let sh = &sh; // captured whole: the closure must not capture the raw pointers alone
    let part = move |t: usize| {
        let lo = (t * chunk).min(side);
        let hi = ((t + 1) * chunk).min(side);
        if lo >= hi {
            return;
        }
        // SAFETY: parts cover disjoint column (or row) ranges of c inside its extents.
        unsafe {
            if split_cols {
                serial(
                    m,
                    hi - lo,
                    k,
                    sh.a,
                    sh.b.shifted(0, lo),
                    sh.c.add(lo),
                    ldc,
                    accumulate,
                );
            } else {
                serial(
                    hi - lo,
                    n,
                    k,
                    sh.a.shifted(lo, 0),
                    sh.b,
                    sh.c.add(lo * ldc),
                    ldc,
                    accumulate,
                );
            }
        }
    };
    pool::run(threads, parts, &part);
}

/// One thread's product.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn serial(
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    // SAFETY (all branches): forwarded caller guarantees; available() was checked.
    unsafe {
        if k == 1 {
            return outer(m, n, a, b, c, ldc, accumulate);
        }
        if m == 1 {
            if b.cs != 1 && b.rs == 1 {
                return row_times_transposed(n, k, a, b, c, accumulate);
            }
            return row_times_matrix(n, k, a, b, c, accumulate);
        }
        blocked(m, n, k, a, b, c, ldc, accumulate)
    }
}

#[allow(clippy::too_many_arguments)]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn blocked(
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    // A is read in place when its rows are contiguous; it is packed into MR-tall panels when
    // it is transposed (the six values of one step would sit in six cache lines) or when its
    // row stride is a multiple of 2 KiB (the six row streams would then fight over the same
    // cache sets: square n = 512, 1024, ... measured slower in place).
    let pack = a.cs != 1 || (a.rs >= 512 && a.rs % 512 == 0);
    reserve_buffers();
    PACK_A.with(|pa| {
        PACK_B.with(|pb| {
            let mut pb = pb.borrow_mut();
            let pb = aligned(&mut pb, NC.min(n.div_ceil(NR) * NR) * k.min(KC));
            let mut pa = pa.borrow_mut();
            let pa = aligned(
                &mut pa,
                if pack {
                    MC.min(m.div_ceil(MR) * MR) * k.min(KC)
                } else {
                    0
                },
            );
            let mut jc = 0;
            while jc < n {
                let nc = NC.min(n - jc);
                // Equal depth slices (784 = 4 × 196 rather than 3 × 256 + 16): a thin last
                // slice would pay a full load/store of C for little work.
                let kstep = k.div_ceil(k.div_ceil(KC));
                let mut pc = 0;
                while pc < k {
                    let kc = kstep.min(k - pc);
                    let load_c = accumulate || pc > 0;
                    // SAFETY: the view covers rows pc..pc+kc and columns jc..jc+nc.
                    unsafe { pack_b(kc, nc, b.shifted(pc, jc), pb) };
                    let mut ic = 0;
                    while ic < m {
                        let mc = MC.min(m - ic);
                        if pack {
                            // SAFETY: the view covers rows ic..ic+mc and columns pc..pc+kc.
                            unsafe { pack_a(mc, kc, a.shifted(ic, pc), pa) };
                        }
                        let mut jr = 0;
                        while jr < nc {
                            let nr = NR.min(nc - jr);
                            // SAFETY: the packed panel holds kc·NR values.
                            let bp = unsafe { pb.as_ptr().add(jr * kc) };
                            let mut ir = 0;
                            while ir < mc {
                                let mr = MR.min(mc - ir);
                                // A is read in place (rows ic+ir.., columns pc..); the kernel only
                                // touches its mr valid rows.
                                let ap = if pack {
                                    View {
                                        ptr: pa[ir * kc..].as_ptr(),
                                        rs: 1,
                                        cs: MR as isize,
                                    }
                                } else {
                                    a.shifted(ic + ir, pc)
                                };
                                // SAFETY: the tile (mr × nr) lies inside c.
                                unsafe {
                                    let cp = c.add((ic + ir) * ldc + jc + jr);
                                    kernel_6x16(kc, ap, bp, cp, ldc, mr, nr, load_c)
                                };
                                ir += MR;
                            }
                            jr += NR;
                        }
                        ic += mc;
                    }
                    pc += kc;
                }
                jc += nc;
            }
        })
    })
}

/// Pack `mc × kc` of A into MR-tall panels (zero-padded): panel q holds rows q·MR.. as
/// `[p][r]`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn pack_a(mc: usize, kc: usize, a: View, dst: &mut [f32]) {
    for (q, panel) in dst[..mc.div_ceil(MR) * MR * kc]
        .chunks_exact_mut(MR * kc)
        .enumerate()
    {
        let i0 = q * MR;
        let rows = MR.min(mc - i0);
        if a.rs == 1 && rows == MR {
            for (p, dst) in panel.chunks_exact_mut(MR).enumerate() {
                // SAFETY: column p, rows i0..i0+MR are inside the view (contiguous).
                let src = unsafe { std::slice::from_raw_parts(a.shifted(i0, p).ptr, MR) };
                dst.copy_from_slice(src);
            }
        } else {
            for r in 0..MR {
                for p in 0..kc {
                    // SAFETY: row i0 + r < mc, column p < kc are inside the view.
                    panel[p * MR + r] = if r < rows {
                        unsafe { a.at(i0 + r, p) }
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// `len` values of `buf` starting on a 64-byte boundary (so that the kernel's 32-byte loads
/// never straddle cache lines); `buf` has the size [`reserve_buffers`] gives.
fn aligned(buf: &mut [f32], len: usize) -> &mut [f32] {
    let offset = buf.as_ptr().align_offset(64).min(16);
    &mut buf[offset..offset + len]
}

/// Pack `kc × nc` of B into NR-wide panels (zero-padded): panel q holds columns q·NR.. as
/// `[p][j]`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn pack_b(kc: usize, nc: usize, b: View, dst: &mut [f32]) {
    for (q, panel) in dst[..nc.div_ceil(NR) * NR * kc]
        .chunks_exact_mut(NR * kc)
        .enumerate()
    {
        let j0 = q * NR;
        let cols = NR.min(nc - j0);
        if b.rs == 1 && cols == NR && kc >= 8 {
            // B stored transposed (columns contiguous): 8×8 transposes in registers.
            // SAFETY: columns j0..j0+NR, rows 0..kc are inside the view; available() holds.
            unsafe { pack_b_transposed(kc, b.shifted(0, j0), panel) };
        } else if b.cs == 1 && cols == NR {
            for p in 0..kc {
                // SAFETY: row p, columns j0..j0+NR are inside the view.
                let src = unsafe { std::slice::from_raw_parts(b.shifted(p, j0).ptr, NR) };
                panel[p * NR..(p + 1) * NR].copy_from_slice(src);
            }
        } else {
            for j in 0..NR {
                if j < cols {
                    for p in 0..kc {
                        // SAFETY: as above.
                        panel[p * NR + j] = unsafe { b.at(p, j0 + j) };
                    }
                } else {
                    (0..kc).for_each(|p| panel[p * NR + j] = 0.0);
                }
            }
        }
    }
}

/// One full NR-wide panel of a B whose columns are contiguous (`b(p, j) = ptr[p + j·cs]`):
/// 8 × 8 blocks are loaded along p, transposed in registers and stored along j.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b_transposed(kc: usize, b: View, panel: &mut [f32]) {
    let kv = kc / 8 * 8;
    let out = panel.as_mut_ptr();
    for half in 0..2 {
        let cols = [0, 1, 2, 3, 4, 5, 6, 7].map(|j| b.ptr.offset((half * 8 + j) as isize * b.cs));
        let mut p = 0;
        while p < kv {
            let r = cols.map(|c| _mm256_loadu_ps(c.add(p)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let o = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (q, v) in o.iter().enumerate() {
                _mm256_storeu_ps(out.add((p + q) * NR + half * 8), *v);
            }
            p += 8;
        }
        for p in kv..kc {
            for (j, c) in cols.iter().enumerate() {
                *out.add(p * NR + half * 8 + j) = *c.add(p);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_b_transposed(_: usize, _: View, _: &mut [f32]) {
    unreachable!("available() is false off x86_64")
}

/// The 6×16 micro-kernel: `c[0..mr][0..nr] (+)= Σ_p a[p][0..6] ⊗ b[p][0..16]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_6x16(
    kc: usize,
    a: View,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    load_c: bool,
) {
    let mut acc = [_mm256_setzero_ps(); 12];
    // Rows past mr re-read the last valid row; their results are never stored.
    let rows = [0, 1, 2, 3, 4, 5].map(|r: usize| a.ptr.offset(r.min(mr - 1) as isize * a.rs));
    let cs = a.cs;
    for p in 0..kc {
        let b0 = _mm256_loadu_ps(b.add(p * NR));
        let b1 = _mm256_loadu_ps(b.add(p * NR + 8));
        let off = p as isize * cs;
        for r in 0..MR {
            let av = _mm256_broadcast_ss(&*rows[r].offset(off));
            acc[2 * r] = _mm256_fmadd_ps(av, b0, acc[2 * r]);
            acc[2 * r + 1] = _mm256_fmadd_ps(av, b1, acc[2 * r + 1]);
        }
    }
    if mr == MR && nr == NR {
        for r in 0..MR {
            let cr = c.add(r * ldc);
            let (mut lo, mut hi) = (acc[2 * r], acc[2 * r + 1]);
            if load_c {
                lo = _mm256_add_ps(lo, _mm256_loadu_ps(cr));
                hi = _mm256_add_ps(hi, _mm256_loadu_ps(cr.add(8)));
            }
            _mm256_storeu_ps(cr, lo);
            _mm256_storeu_ps(cr.add(8), hi);
        }
    } else {
        let mut tile = [0f32; MR * NR];
        for r in 0..MR {
            _mm256_storeu_ps(tile.as_mut_ptr().add(r * NR), acc[2 * r]);
            _mm256_storeu_ps(tile.as_mut_ptr().add(r * NR + 8), acc[2 * r + 1]);
        }
        for r in 0..mr {
            let cr = c.add(r * ldc);
            for j in 0..nr {
                let v = tile[r * NR + j];
                *cr.add(j) = if load_c { *cr.add(j) + v } else { v };
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_6x16(
    _kc: usize,
    _a: View,
    _b: *const f32,
    _c: *mut f32,
    _ldc: usize,
    _mr: usize,
    _nr: usize,
    _load_c: bool,
) {
    unreachable!("available() is false off x86_64")
}

/// One output row from B stored transposed (`b'(p, j) = b[j·bcs + p]`, rows of the stored
/// matrix contiguous): `c[j] (+)= a · b_row_j`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_times_transposed(n: usize, k: usize, a: View, b: View, c: *mut f32, acc: bool) {
    let x = a.ptr; // a' is 1 × k: contiguous whichever way it is stored when m = 1 ...
    let xs = a.cs; // ... unless it was given with a column stride
    let stride = b.cs as usize;
    let hsum = |v: __m256| -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    };
    let xat = |p: usize| *x.offset(p as isize * xs);
    let kv = if xs == 1 { k / 8 * 8 } else { 0 };
    // Eight dot products at a time: eight weight rows stream in parallel, which keeps enough
    // loads in flight when the weights come from L3.
    const R: usize = 8;
    let mut j = 0;
    while j < n {
        let rows = R.min(n - j);
        let mut s = [_mm256_setzero_ps(); R];
        let w = [0, 1, 2, 3, 4, 5, 6, 7].map(|r: usize| b.ptr.add((j + r.min(rows - 1)) * stride));
        let mut p = 0;
        while p < kv {
            let xv = _mm256_loadu_ps(x.add(p));
            for r in 0..R {
                s[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r].add(p)), xv, s[r]);
            }
            p += 8;
        }
        for r in 0..rows {
            let mut t = hsum(s[r]);
            for q in kv..k {
                t = (*w[r].add(q)).mul_add(xat(q), t);
            }
            let out = c.add(j + r);
            *out = if acc { *out + t } else { t };
        }
        j += R;
    }
}

/// One output row from B stored as is (`b'(p, j) = b[p·brs + j·bcs]`): `c (+)= Σ_p a[p]·b_row_p`,
/// 64 outputs held in registers per sweep over p.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_times_matrix(n: usize, k: usize, a: View, b: View, c: *mut f32, acc: bool) {
    let mut j = 0;
    if b.cs == 1 {
        while j + 64 <= n {
            let mut s = [_mm256_setzero_ps(); 8];
            if acc {
                for (q, v) in s.iter_mut().enumerate() {
                    *v = _mm256_loadu_ps(c.add(j + 8 * q));
                }
            }
            for p in 0..k {
                let av = _mm256_set1_ps(a.at(0, p));
                let row = b.ptr.offset(p as isize * b.rs).add(j);
                for (q, v) in s.iter_mut().enumerate() {
                    *v = _mm256_fmadd_ps(av, _mm256_loadu_ps(row.add(8 * q)), *v);
                }
            }
            for (q, v) in s.iter().enumerate() {
                _mm256_storeu_ps(c.add(j + 8 * q), *v);
            }
            j += 64;
        }
    }
    for jj in j..n {
        let mut t = if acc { *c.add(jj) } else { 0.0 };
        for p in 0..k {
            t = a.at(0, p).mul_add(b.at(p, jj), t);
        }
        *c.add(jj) = t;
    }
}

/// Rank-1 product (k = 1): `c[i][j] (+)= a(i, 0)·b(0, j)`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn outer(m: usize, n: usize, a: View, b: View, c: *mut f32, ldc: usize, acc: bool) {
    for i in 0..m {
        let ai = a.at(i, 0);
        let row = std::slice::from_raw_parts_mut(c.add(i * ldc), n);
        if b.cs == 1 {
            let bs = std::slice::from_raw_parts(b.ptr, n);
            if acc {
                for (cv, &bv) in row.iter_mut().zip(bs) {
                    *cv = ai.mul_add(bv, *cv);
                }
            } else {
                for (cv, &bv) in row.iter_mut().zip(bs) {
                    *cv = ai * bv;
                }
            }
        } else {
            for (j, cv) in row.iter_mut().enumerate() {
                let v = ai * b.at(0, j);
                *cv = if acc { *cv + v } else { v };
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn row_times_transposed(_: usize, _: usize, _: View, _: View, _: *mut f32, _: bool) {
    unreachable!("available() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn row_times_matrix(_: usize, _: usize, _: View, _: View, _: *mut f32, _: bool) {
    unreachable!("available() is false off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn outer(_: usize, _: usize, _: View, _: View, _: *mut f32, _: usize, _: bool) {
    unreachable!("available() is false off x86_64")
}
