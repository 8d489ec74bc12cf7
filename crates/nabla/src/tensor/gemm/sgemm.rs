//! f32 products with hand-written AVX-512F and AVX2+FMA kernels, the path chosen at run time by
//! CPU detection ([`KernelPath`], forced by `NABLA_KERNEL`).
//!
//! The blocked product follows the usual BLIS layout: for each `NC`-wide column block and
//! `KC`-deep slice, B is packed into `NR`-wide panels (they stay in L2/L3) and A into `MR`-tall
//! panels, which a register-tiled micro-kernel sweeps:
//! - AVX-512: a 14×32 tile (28 zmm accumulators, one broadcast and two FMAs per element of A),
//!   A always packed, 1024-deep slices;
//! - AVX2: a 6×16 tile (12 ymm accumulators), A read in place six rows at a time unless it is
//!   transposed or its rows are 2 KiB-strided, 256-deep slices.
//!
//! Each thread's packing buffers are allocated once at their largest size, so products allocate
//! nothing. Vector shapes (one row of output, or rank-1 updates) have their own memory-bound
//! loops, on which a blocked kernel would waste most of its work: AVX2 on both paths, but for
//! a row times a transposed matrix (a layer's forward pass on one sample), which runs in
//! 512-bit registers on the AVX-512 path.
//!
//! Large products are split between threads by columns (or rows, when they are the larger
//! side) through [`super::pool`], which is also allocation-free.

use std::cell::RefCell;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::pool;

/// The AVX2 micro-tile: 6 rows × 16 columns (12 ymm accumulators).
const MR: usize = 6;
const NR: usize = 16;
const KC: usize = 256;
const MC: usize = 144;
const NC: usize = 2048;

/// The AVX-512 micro-tile: 14 rows × 32 columns (28 of the 32 zmm registers accumulate). A is
/// always packed for it (14 in-place row streams would need more address registers than x86
/// has). The depth is long: each tile's load and store of C is what costs most here, and a
/// 1024-deep slice pays it once where 256 paid it four times (measured on Zen 4, n = 1024:
/// 85 GFLOP/s at KC = 128, 94 at 256, 104 at 1024). The packed A block (168 × 1024, 688 KiB) and
/// one B panel (128 KiB) then share a 1 MiB L2.
const MR512: usize = 14;
const NR512: usize = 32;
const KC512: usize = 1024;
const MC512: usize = 14 * 12;
const NC512: usize = 1024;

/// Multiply-adds below which a product stays on one thread.
pub(crate) const PARALLEL_WORK: usize = 1 << 19;

/// Which f32 kernels products run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelPath {
    /// nabla's AVX-512F kernels (x86-64-v4).
    Avx512,
    /// nabla's AVX2+FMA kernels (x86-64-v3).
    Avx2,
    /// No nabla kernel: the `gemm` crate's own run-time dispatch (also used for f64).
    Generic,
}

impl KernelPath {
    /// Every path, fastest first.
    pub const ALL: [KernelPath; 3] = [KernelPath::Avx512, KernelPath::Avx2, KernelPath::Generic];

    /// The name `NABLA_KERNEL` takes and `--version` shows.
    pub fn name(self) -> &'static str {
        match self {
            KernelPath::Avx512 => "avx512",
            KernelPath::Avx2 => "avx2",
            KernelPath::Generic => "generic",
        }
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                KernelPath::Avx512 => {
                    is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx2")
                        && is_x86_feature_detected!("fma")
                }
                KernelPath::Avx2 => {
                    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
                }
                KernelPath::Generic => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == KernelPath::Generic
        }
    }

    /// The fastest path this CPU runs.
    pub fn best() -> KernelPath {
        KernelPath::ALL
            .into_iter()
            .find(|p| p.supported())
            .unwrap_or(KernelPath::Generic)
    }

    /// The path asked for by the environment: `NABLA_KERNEL=avx512|avx2|generic`
    /// (`NABLA_GEMM_FALLBACK=1`, the older switch, means generic), else the best one. A name
    /// that is unknown or that this CPU cannot run is an error that says so.
    pub fn from_env() -> Result<KernelPath, String> {
        if let Some(v) = std::env::var_os("NABLA_KERNEL").filter(|v| !v.is_empty()) {
            let v = v.to_string_lossy();
            let Some(path) = KernelPath::ALL.into_iter().find(|p| p.name() == v) else {
                return Err(format!(
                    "NABLA_KERNEL={v} is not a kernel path; use avx512, avx2 or generic"
                ));
            };
            if !path.supported() {
                return Err(format!(
                    "NABLA_KERNEL={v}: this CPU lacks the instructions that path needs (best here: {})",
                    KernelPath::best().name()
                ));
            }
            return Ok(path);
        }
        if std::env::var_os("NABLA_GEMM_FALLBACK").is_some_and(|v| !v.is_empty() && v != "0") {
            return Ok(KernelPath::Generic);
        }
        Ok(KernelPath::best())
    }
}

/// The path every f32 product of this process takes, fixed at first use: the one
/// [`KernelPath::from_env`] names, or the best one if the environment asks for something this
/// CPU cannot run (the CLI refuses that case before any product runs).
pub fn kernel_path() -> KernelPath {
    static PATH: std::sync::OnceLock<KernelPath> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| KernelPath::from_env().unwrap_or_else(|_| KernelPath::best()))
}

/// The kernel paths this CPU runs, fastest first; the others are named as skipped (the tests
/// of every path run these).
#[cfg(test)]
pub(crate) fn runnable_paths() -> Vec<KernelPath> {
    KernelPath::ALL
        .into_iter()
        .filter(|p| {
            let ok = p.supported();
            if !ok {
                eprintln!("skipped: this CPU cannot run the {} kernels", p.name());
            }
            ok
        })
        .collect()
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
const PACK_A_LEN: usize = max(MC * KC, MC512 * KC512) + 16;
const PACK_B_LEN: usize = max(NC * KC, NC512 * KC512) + 16;

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// A register-tiled micro-kernel and the block sizes that go with it.
trait Micro {
    /// Rows and columns of C one call computes.
    const MR: usize;
    const NR: usize;
    /// Depth of a packed slice, and rows of A per packed block.
    const KC: usize;
    const MC: usize;
    /// Columns of B per packed block.
    const NC: usize;
    /// Whether A is packed whatever its layout.
    const PACK_A: bool;
    /// Whether the vector products (m = 1) run in 512-bit registers.
    const WIDE: bool;

    /// Pack `mc × kc` of A into MR-tall panels, and `kc × nc` of B into NR-wide ones.
    ///
    /// # Safety
    /// The views cover the extents; `dst` holds the padded panels.
    unsafe fn pack_a(mc: usize, kc: usize, a: View, dst: &mut [f32]);
    unsafe fn pack_b(kc: usize, nc: usize, b: View, dst: &mut [f32]);

    /// `c[0..mr][0..nr] (+)= Σ_p a(·, p) ⊗ b[p][0..NR]` over `kc` steps, `b` packed NR wide.
    ///
    /// # Safety
    /// The CPU runs the kernel's instructions; `a` covers MR rows (or `mr`) and `kc` columns,
    /// `b` holds `kc·NR` values, and the `mr × nr` tile of `c` (row stride `ldc`) is writable.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        kc: usize,
        a: View,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        mr: usize,
        nr: usize,
        load_c: bool,
    );
}

/// The AVX2+FMA 6×16 kernel.
struct Avx2Tile;
/// The AVX-512F 14×32 kernel.
struct Avx512Tile;

impl Micro for Avx2Tile {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = KC;
    const MC: usize = MC;
    const NC: usize = NC;
    const PACK_A: bool = false;
    const WIDE: bool = false;

    unsafe fn pack_a(mc: usize, kc: usize, a: View, dst: &mut [f32]) {
        // SAFETY: forwarded; the CPU runs AVX2 on both nabla paths.
        unsafe { pack_a::<MR>(mc, kc, a, dst) }
    }

    unsafe fn pack_b(kc: usize, nc: usize, b: View, dst: &mut [f32]) {
        // SAFETY: as above.
        unsafe { pack_b::<NR>(kc, nc, b, dst) }
    }

    unsafe fn tile(
        kc: usize,
        a: View,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        mr: usize,
        nr: usize,
        load_c: bool,
    ) {
        // SAFETY: forwarded.
        unsafe { kernel_6x16(kc, a, b, c, ldc, mr, nr, load_c) }
    }
}

impl Micro for Avx512Tile {
    const MR: usize = MR512;
    const NR: usize = NR512;
    const KC: usize = KC512;
    const MC: usize = MC512;
    const NC: usize = NC512;
    const PACK_A: bool = true;
    const WIDE: bool = true;

    unsafe fn pack_a(mc: usize, kc: usize, a: View, dst: &mut [f32]) {
        // SAFETY: forwarded; the CPU runs AVX2 on both nabla paths.
        unsafe { pack_a::<MR512>(mc, kc, a, dst) }
    }

    unsafe fn pack_b(kc: usize, nc: usize, b: View, dst: &mut [f32]) {
        // SAFETY: as above.
        unsafe { pack_b::<NR512>(kc, nc, b, dst) }
    }

    unsafe fn tile(
        kc: usize,
        a: View,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        mr: usize,
        nr: usize,
        load_c: bool,
    ) {
        // SAFETY: forwarded; A is packed, so a.ptr holds kc·MR512 values. A partial tile (the
        // last rows of a block: batch 128 = 9 × 14 + 2) runs only as many rows as it has,
        // rounded up to even.
        unsafe {
            match mr {
                13.. => kernel_avx512::<14>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                11..=12 => kernel_avx512::<12>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                9..=10 => kernel_avx512::<10>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                7..=8 => kernel_avx512::<8>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                5..=6 => kernel_avx512::<6>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                3..=4 => kernel_avx512::<4>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
                _ => kernel_avx512::<2>(kc, a.ptr, b, c, ldc, mr, nr, load_c),
            }
        }
    }
}

/// Allocate this thread's packing buffers now (helpers do it when they start).
pub(crate) fn reserve_buffers() {
    PACK_A.with(|b| reserve(&mut b.borrow_mut(), PACK_A_LEN));
    PACK_B.with(|b| reserve(&mut b.borrow_mut(), PACK_B_LEN));
}

fn reserve(buf: &mut Vec<f32>, len: usize) {
    if buf.len() < len {
        // A zeroed allocation takes fresh pages from the system, so only the part that
        // products of this process's shapes touch becomes resident.
        *buf = vec![0.0; len];
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
/// This CPU must run `path`, which is not [`KernelPath::Generic`], and every slice must cover
/// the extents and strides given.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    path: KernelPath,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    strides_a: (isize, isize),
    b: &[f32],
    strides_b: (isize, isize),
    c: &mut [f32],
    accumulate: bool,
    threads: usize,
) {
    let args = (m, n, k, a, strides_a, b, strides_b, c, accumulate, threads);
    // SAFETY: forwarded; the path names the micro-kernel the CPU runs.
    unsafe {
        match path {
            KernelPath::Avx512 => sgemm_with::<Avx512Tile>(args),
            _ => sgemm_with::<Avx2Tile>(args),
        }
    }
}

/// The operands of [`sgemm`], in its order.
type SgemmArgs<'a> = (
    usize,
    usize,
    usize,
    &'a [f32],
    (isize, isize),
    &'a [f32],
    (isize, isize),
    &'a mut [f32],
    bool,
    usize,
);

/// [`sgemm`] on the micro-kernel `K`.
///
/// # Safety
/// As for [`sgemm`], with `K` the path's kernel.
unsafe fn sgemm_with<K: Micro>(
    (m, n, k, a, (ars, acs), b, (brs, bcs), c, accumulate, threads): SgemmArgs<'_>,
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
    // of B from its own cache, so it pays off from smaller sizes (on a Zen 5, a 128 × 256
    // layer on one sample took 1.05 µs on two threads against 1.24 on one).
    let threads = if work >= PARALLEL_WORK || (m == 1 && work >= PARALLEL_WORK / 16) {
        threads
    } else {
        1
    };
    // Split the larger output side into parts of whole tiles, one per thread, as even as
    // whole tiles allow (784 columns: 384 + 400, not 416 + 368).
    let split_cols = n >= m || m == 1;
    let side = if split_cols { n } else { m };
    let align = if split_cols { K::NR } else { K::MR };
    let tiles = side.div_ceil(align);
    let parts = threads.min(tiles).max(1);
    let sh = &sh; // captured whole: the closure must not capture the raw pointers alone
    let part = move |t: usize| {
        let lo = (t * tiles / parts * align).min(side);
        let hi = ((t + 1) * tiles / parts * align).min(side);
        if lo >= hi {
            return;
        }
        // SAFETY: parts cover disjoint column (or row) ranges of c inside its extents.
        unsafe {
            if split_cols {
                serial::<K>(
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
                serial::<K>(
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
unsafe fn serial<K: Micro>(
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    // SAFETY (all branches): forwarded caller guarantees; the CPU runs K's path.
    unsafe {
        if k == 1 {
            return outer(m, n, a, b, c, ldc, accumulate);
        }
        if m == 1 {
            if b.cs != 1 && b.rs == 1 {
                if K::WIDE && a.cs == 1 {
                    return row_times_transposed_512(n, k, a, b, c, accumulate);
                }
                return row_times_transposed(n, k, a, b, c, accumulate);
            }
            return row_times_matrix(n, k, a, b, c, accumulate);
        }
        blocked::<K>(m, n, k, a, b, c, ldc, accumulate, std::ptr::null())
    }
}

/// The depth of each packed slice of a `k`-deep product on kernel `K`: equal slices of at
/// most `K::KC` (784 = 4 × 196 rather than 3 × 256 + 16: a thin last slice would pay a full
/// load/store of C for little work).
fn slice_depth<K: Micro>(k: usize) -> usize {
    k.div_ceil(k.div_ceil(K::KC))
}

/// Values a whole `m × k` A takes packed for `path` ([`pack_a_whole`]): every depth slice of
/// every row, in MR-tall panels.
pub(crate) fn packed_a_len(path: KernelPath, m: usize, k: usize) -> usize {
    match path {
        KernelPath::Avx512 => m.div_ceil(MR512) * MR512 * k,
        _ => m.div_ceil(MR) * MR * k,
    }
}

/// Pack the whole `m × k` A (element (i, p) at `a[i·ars + p·acs]`) for `path` into `dst`
/// (at least [`packed_a_len`] values), as [`sgemm_packed_a`] reads it: for each depth slice
/// (offset `pc`), the slice's panels of all `m` rows at `dst[pc·m̄..]`, `m̄` = m rounded up to
/// MR. A product that reuses one A many times (a convolution's weights, once per sample)
/// then packs it once.
///
/// # Safety
/// This CPU must run `path`, which is not [`KernelPath::Generic`]; `a` covers the extents and
/// strides given.
pub(crate) unsafe fn pack_a_whole(
    path: KernelPath,
    m: usize,
    k: usize,
    a: &[f32],
    (ars, acs): (isize, isize),
    dst: &mut [f32],
) {
    let a = View {
        ptr: a.as_ptr(),
        rs: ars,
        cs: acs,
    };
    // SAFETY: forwarded.
    unsafe {
        match path {
            KernelPath::Avx512 => pack_whole::<Avx512Tile>(m, k, a, dst),
            _ => pack_whole::<Avx2Tile>(m, k, a, dst),
        }
    }
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn pack_whole<K: Micro>(m: usize, k: usize, a: View, dst: &mut [f32]) {
    let (rows, kstep) = (m.div_ceil(K::MR) * K::MR, slice_depth::<K>(k));
    let mut pc = 0;
    while pc < k {
        let kc = kstep.min(k - pc);
        // SAFETY: the view covers rows 0..m and columns pc..pc+kc.
        unsafe {
            K::pack_a(
                m,
                kc,
                a.shifted(0, pc),
                &mut dst[pc * rows..(pc + kc) * rows],
            )
        };
        pc += kc;
    }
}

/// `c (+)= a'·b'` on this thread with A packed whole beforehand by [`pack_a_whole`] (same
/// `path`, `m` and `k`); `b'` and `c` as for [`sgemm`]. The same sums in the same order as
/// [`sgemm`] on one thread for products that take the blocked kernel (`m`, `k` ≥ 2).
///
/// # Safety
/// As for [`sgemm`]; `packed` holds A packed for these extents, and `m, k ≥ 2`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_packed_a(
    path: KernelPath,
    m: usize,
    n: usize,
    k: usize,
    packed: &[f32],
    b: &[f32],
    (brs, bcs): (isize, isize),
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(m >= 2 && k >= 2 && packed.len() >= packed_a_len(path, m, k));
    let a = View {
        ptr: packed.as_ptr(),
        rs: 0,
        cs: 0,
    };
    let b = View {
        ptr: b.as_ptr(),
        rs: brs,
        cs: bcs,
    };
    // SAFETY: forwarded; the packed A matches the kernel's layout.
    unsafe {
        match path {
            KernelPath::Avx512 => blocked::<Avx512Tile>(
                m,
                n,
                k,
                a,
                b,
                c.as_mut_ptr(),
                n,
                accumulate,
                packed.as_ptr(),
            ),
            _ => blocked::<Avx2Tile>(
                m,
                n,
                k,
                a,
                b,
                c.as_mut_ptr(),
                n,
                accumulate,
                packed.as_ptr(),
            ),
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn blocked<K: Micro>(
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    prepacked: *const f32,
) {
    // A is read in place when its rows are contiguous; it is packed into MR-tall panels when
    // it is transposed (the six values of one step would sit in six cache lines) or when its
    // row stride is a multiple of 2 KiB (the six row streams would then fight over the same
    // cache sets: square n = 512, 1024, ... measured slower in place). A prepacked A
    // (`prepacked` not null: [`pack_a_whole`]'s layout) is read from there.
    let pre = !prepacked.is_null();
    let pack = !pre && (K::PACK_A || a.cs != 1 || (a.rs >= 512 && a.rs % 512 == 0));
    let m_rows = m.div_ceil(K::MR) * K::MR;
    let (mr_, nr_, kc_, mc_, nc_) = (K::MR, K::NR, K::KC, K::MC, K::NC);
    reserve_buffers();
    PACK_A.with(|pa| {
        PACK_B.with(|pb| {
            let mut pb = pb.borrow_mut();
            let pb = aligned(&mut pb, nc_.min(n.div_ceil(nr_) * nr_) * k.min(kc_));
            let mut pa = pa.borrow_mut();
            let pa = aligned(
                &mut pa,
                if pack {
                    mc_.min(m.div_ceil(mr_) * mr_) * k.min(kc_)
                } else {
                    0
                },
            );
            let mut jc = 0;
            while jc < n {
                let nc = nc_.min(n - jc);
                let kstep = slice_depth::<K>(k);
                let mut pc = 0;
                while pc < k {
                    let kc = kstep.min(k - pc);
                    let load_c = accumulate || pc > 0;
                    // SAFETY: the view covers rows pc..pc+kc and columns jc..jc+nc.
                    unsafe { K::pack_b(kc, nc, b.shifted(pc, jc), pb) };
                    let mut ic = 0;
                    while ic < m {
                        let mc = mc_.min(m - ic);
                        if pack {
                            // SAFETY: the view covers rows ic..ic+mc and columns pc..pc+kc.
                            unsafe { K::pack_a(mc, kc, a.shifted(ic, pc), pa) };
                        }
                        let mut jr = 0;
                        while jr < nc {
                            let nr = nr_.min(nc - jr);
                            // SAFETY: the packed panel holds kc·nr_ values.
                            let bp = unsafe { pb.as_ptr().add(jr * kc) };
                            let mut ir = 0;
                            while ir < mc {
                                let mr = mr_.min(mc - ir);
                                // A is read in place (rows ic+ir.., columns pc..); the kernel only
                                // touches its mr valid rows.
                                let ap = if pre {
                                    View {
                                        // SAFETY: inside the packed A (slice pc, row ic+ir).
                                        ptr: unsafe { prepacked.add(pc * m_rows + (ic + ir) * kc) },
                                        rs: 1,
                                        cs: mr_ as isize,
                                    }
                                } else if pack {
                                    View {
                                        ptr: pa[ir * kc..].as_ptr(),
                                        rs: 1,
                                        cs: mr_ as isize,
                                    }
                                } else {
                                    a.shifted(ic + ir, pc)
                                };
                                // SAFETY: the tile (mr × nr) lies inside c.
                                unsafe {
                                    let cp = c.add((ic + ir) * ldc + jc + jr);
                                    K::tile(kc, ap, bp, cp, ldc, mr, nr, load_c)
                                };
                                ir += mr_;
                            }
                            jr += nr_;
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

/// Pack `mc × kc` of A into `R`-tall panels (zero-padded): panel q holds rows q·R.. as
/// `[p][r]`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn pack_a<const R: usize>(mc: usize, kc: usize, a: View, dst: &mut [f32]) {
    for (q, panel) in dst[..mc.div_ceil(R) * R * kc]
        .chunks_exact_mut(R * kc)
        .enumerate()
    {
        let i0 = q * R;
        let rows = R.min(mc - i0);
        if a.rs == 1 && rows == R {
            for (p, dst) in panel.chunks_exact_mut(R).enumerate() {
                // SAFETY: column p, rows i0..i0+R are inside the view (contiguous).
                let src = unsafe { std::slice::from_raw_parts(a.shifted(i0, p).ptr, R) };
                dst.copy_from_slice(src);
            }
        } else if a.cs == 1 && rows == R && R <= 16 && kc >= 8 {
            // Rows contiguous: 8 × 8 blocks transposed in registers.
            // SAFETY: rows i0..i0+R, columns 0..kc are inside the view; AVX2 is present.
            unsafe { pack_a_rows::<R>(kc, a.shifted(i0, 0), panel) };
        } else {
            for r in 0..R {
                for p in 0..kc {
                    // SAFETY: row i0 + r < mc, column p < kc are inside the view.
                    panel[p * R + r] = if r < rows {
                        unsafe { a.at(i0 + r, p) }
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// The 8 × 8 transpose of eight rows of eight values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
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
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// One full `R`-tall panel (R ≤ 16) of an A whose rows are contiguous (`a(i, p) = ptr[i·rs +
/// p]`): each group of up to eight rows is loaded eight columns at a time, transposed in
/// registers and stored along r.
///
/// A group of fewer than eight rows is stored eight values wide all the same (masked stores
/// are slow on AMD's cores): the extra values land on the first rows of the next column,
/// which are written afterwards — by the same group's next store when it is the only group,
/// by the lower group otherwise, as the groups run from the last to the first. Only the last
/// column, which has no next one, is stored value by value.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a_rows<const R: usize>(kc: usize, a: View, panel: &mut [f32]) {
    let kv = kc / 8 * 8;
    let out = panel.as_mut_ptr();
    let mut g = (R - 1) / 8 * 8;
    loop {
        let rows = 8.min(R - g);
        let src: [*const f32; 8] =
            std::array::from_fn(|r| a.ptr.offset((g + r.min(rows - 1)) as isize * a.rs));
        let mut p = 0;
        while p < kv {
            let t = transpose8(src.map(|row| _mm256_loadu_ps(row.add(p))));
            for (q, v) in t.iter().enumerate() {
                let at = out.add((p + q) * R + g);
                if rows == 8 || p + q + 1 < kc {
                    _mm256_storeu_ps(at, *v);
                } else {
                    let mut last = [0f32; 8];
                    _mm256_storeu_ps(last.as_mut_ptr(), *v);
                    std::ptr::copy_nonoverlapping(last.as_ptr(), at, rows);
                }
            }
            p += 8;
        }
        for p in kv..kc {
            for (r, row) in src.iter().enumerate().take(rows) {
                *out.add(p * R + g + r) = *row.add(p);
            }
        }
        if g == 0 {
            return;
        }
        g -= 8;
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_a_rows<const R: usize>(_: usize, _: View, _: &mut [f32]) {
    unreachable!("only the generic path runs off x86_64")
}

/// `len` values of `buf` starting on a 64-byte boundary (so that the kernel's 32-byte loads
/// never straddle cache lines); `buf` has the size [`reserve_buffers`] gives.
fn aligned(buf: &mut [f32], len: usize) -> &mut [f32] {
    let offset = buf.as_ptr().align_offset(64).min(16);
    &mut buf[offset..offset + len]
}

/// Pack `kc × nc` of B into NR-wide panels (zero-padded): panel q holds columns q·nr.. as
/// `[p][j]`.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn pack_b<const C: usize>(kc: usize, nc: usize, b: View, dst: &mut [f32]) {
    let nr = C;
    for (q, panel) in dst[..nc.div_ceil(nr) * nr * kc]
        .chunks_exact_mut(nr * kc)
        .enumerate()
    {
        let j0 = q * nr;
        let cols = nr.min(nc - j0);
        if b.rs == 1 && cols == nr && kc >= 8 {
            // B stored transposed (columns contiguous): 8×8 transposes in registers.
            // SAFETY: columns j0..j0+nr, rows 0..kc are inside the view; both nabla paths run AVX2.
            unsafe { pack_b_transposed::<C>(kc, b.shifted(0, j0), panel) };
        } else if b.cs == 1 && cols == nr {
            for p in 0..kc {
                // SAFETY: row p, columns j0..j0+nr are inside the view.
                let src = unsafe { std::slice::from_raw_parts(b.shifted(p, j0).ptr, nr) };
                panel[p * nr..(p + 1) * nr].copy_from_slice(src);
            }
        } else {
            for j in 0..nr {
                if j < cols {
                    for p in 0..kc {
                        // SAFETY: as above.
                        panel[p * nr + j] = unsafe { b.at(p, j0 + j) };
                    }
                } else {
                    (0..kc).for_each(|p| panel[p * nr + j] = 0.0);
                }
            }
        }
    }
}

/// One full NR-wide panel of a B whose columns are contiguous (`b(p, j) = ptr[p + j·cs]`):
/// 8 × 8 blocks are loaded along p, transposed in registers and stored along j.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b_transposed<const C: usize>(kc: usize, b: View, panel: &mut [f32]) {
    let nr = C;
    let kv = kc / 8 * 8;
    let out = panel.as_mut_ptr();
    for half in 0..nr / 8 {
        let cols = [0, 1, 2, 3, 4, 5, 6, 7].map(|j| b.ptr.offset((half * 8 + j) as isize * b.cs));
        let mut p = 0;
        while p < kv {
            let o = transpose8(cols.map(|c| _mm256_loadu_ps(c.add(p))));
            for (q, v) in o.iter().enumerate() {
                _mm256_storeu_ps(out.add((p + q) * nr + half * 8), *v);
            }
            p += 8;
        }
        for p in kv..kc {
            for (j, c) in cols.iter().enumerate() {
                *out.add(p * nr + half * 8 + j) = *c.add(p);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_b_transposed<const C: usize>(_: usize, _: View, _: &mut [f32]) {
    unreachable!("only the generic path runs off x86_64")
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
    unreachable!("only the generic path runs off x86_64")
}

/// The AVX-512 micro-kernel on `M ≤ 14` rows of a packed A (`a[p·14 + r]`):
/// `c[0..mr][0..nr] (+)= Σ_p a[p][0..M] ⊗ b[p][0..32]` with `mr ≤ M`. Partial tiles are stored
/// through lane masks, so no scratch tile is needed.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_avx512<const M: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    load_c: bool,
) {
    let mut acc = [[_mm512_setzero_ps(); 2]; M];
    // C's rows are far apart (often a multiple of 4 KiB, so they share cache sets): fetch
    // them while the products run instead of waiting for them at the end.
    if load_c {
        for r in 0..mr {
            _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(c.add(r * ldc + 16) as *const i8);
        }
    }
    for p in 0..kc {
        let b0 = _mm512_loadu_ps(b.add(p * NR512));
        let b1 = _mm512_loadu_ps(b.add(p * NR512 + 16));
        let ap = a.add(p * MR512);
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = _mm512_set1_ps(*ap.add(r));
            acc[0] = _mm512_fmadd_ps(av, b0, acc[0]);
            acc[1] = _mm512_fmadd_ps(av, b1, acc[1]);
        }
    }
    let lanes = |n: usize| -> __mmask16 { ((1u32 << n.min(16)) - 1) as __mmask16 };
    let (m0, m1) = (lanes(nr), lanes(nr.saturating_sub(16)));
    for (r, acc) in acc.iter().enumerate().take(mr) {
        let cr = c.add(r * ldc);
        let (mut lo, mut hi) = (acc[0], acc[1]);
        if load_c {
            lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m0, cr));
            hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m1, cr.add(16)));
        }
        _mm512_mask_storeu_ps(cr, m0, lo);
        _mm512_mask_storeu_ps(cr.add(16), m1, hi);
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_avx512<const M: usize>(
    _kc: usize,
    _a: *const f32,
    _b: *const f32,
    _c: *mut f32,
    _ldc: usize,
    _mr: usize,
    _nr: usize,
    _load_c: bool,
) {
    unreachable!("only the generic path runs off x86_64")
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

/// [`row_times_transposed`] in 512-bit registers, for a contiguous `a`: sixteen lanes a load,
/// eight weight rows at a time, the ragged end of the rows through a lane mask. The vector
/// product of a layer on one sample is bound by reading its weights (from L2 when they fit):
/// a 64-byte load per FMA halves the instructions of the AVX2 loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn row_times_transposed_512(n: usize, k: usize, a: View, b: View, c: *mut f32, acc: bool) {
    let x = a.ptr;
    let stride = b.cs as usize;
    let kv = k / 16 * 16;
    let tail: __mmask16 = ((1u32 << (k - kv)) - 1) as __mmask16;
    const R: usize = 8;
    let mut j = 0;
    while j < n {
        let rows = R.min(n - j);
        let mut s = [_mm512_setzero_ps(); R];
        // Past the last row, the last row again (its sums are dropped).
        let w = [0, 1, 2, 3, 4, 5, 6, 7].map(|r: usize| b.ptr.add((j + r.min(rows - 1)) * stride));
        let mut p = 0;
        while p < kv {
            let xv = _mm512_loadu_ps(x.add(p));
            for r in 0..R {
                s[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r].add(p)), xv, s[r]);
            }
            p += 16;
        }
        if tail != 0 {
            // Masked-off lanes are neither read nor faulted on.
            let xv = _mm512_maskz_loadu_ps(tail, x.add(kv));
            for r in 0..R {
                let wv = _mm512_maskz_loadu_ps(tail, w[r].add(kv));
                s[r] = _mm512_fmadd_ps(wv, xv, s[r]);
            }
        }
        for (r, sum) in s.iter().enumerate().take(rows) {
            let t = _mm512_reduce_add_ps(*sum);
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
    unreachable!("only the generic path runs off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn row_times_transposed_512(_: usize, _: usize, _: View, _: View, _: *mut f32, _: bool) {
    unreachable!("only the generic path runs off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn row_times_matrix(_: usize, _: usize, _: View, _: View, _: *mut f32, _: bool) {
    unreachable!("only the generic path runs off x86_64")
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn outer(_: usize, _: usize, _: View, _: View, _: *mut f32, _: usize, _: bool) {
    unreachable!("only the generic path runs off x86_64")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Element (i, p) of a view, for the reference product.
    type Elem<'a> = dyn Fn(usize, usize) -> f32 + 'a;

    /// Operands read through row and column strides other than the dense ones (a padded
    /// submatrix, and a transposed view of one), on every kernel path of this CPU, against an
    /// exact reference.
    #[test]
    fn strided_views_on_every_path() {
        let own = runnable_paths()
            .into_iter()
            .filter(|&p| p != KernelPath::Generic);
        for path in own {
            for (m, n, k) in [
                (1, 70, 33),
                (45, 1, 20),
                (31, 77, 1),
                (50, 70, 130),
                (17, 129, 64),
            ] {
                let (pad_a, pad_b) = (5, 3);
                // A stored as an m × (k + pad_a) matrix, and transposed as k × (m + pad_a).
                let a: Vec<f32> = (0..m * (k + pad_a)).map(|i| (i % 9) as f32 - 4.0).collect();
                let at: Vec<f32> = (0..k * (m + pad_a)).map(|i| (i % 9) as f32 - 4.0).collect();
                let b: Vec<f32> = (0..k * (n + pad_b)).map(|i| (i % 7) as f32 - 3.0).collect();
                let a_at = |i: usize, p: usize| a[i * (k + pad_a) + p];
                let at_at = |i: usize, p: usize| at[p * (m + pad_a) + i];
                let b_at = |p: usize, j: usize| b[p * (n + pad_b) + j];
                let views: [(&[f32], (isize, isize), &Elem); 2] = [
                    (&a, ((k + pad_a) as isize, 1), &a_at),
                    (&at, (1, (m + pad_a) as isize), &at_at),
                ];
                for (aa, strides, get) in views {
                    let mut want = vec![0.0f32; m * n];
                    for i in 0..m {
                        for j in 0..n {
                            want[i * n + j] = (0..k).map(|p| get(i, p) * b_at(p, j)).sum();
                        }
                    }
                    let mut c = vec![9.0f32; m * n];
                    // SAFETY: the CPU runs the path; every view stays inside its slice.
                    unsafe {
                        sgemm(
                            path,
                            m,
                            n,
                            k,
                            aa,
                            strides,
                            &b,
                            ((n + pad_b) as isize, 1),
                            &mut c,
                            false,
                            2,
                        )
                    };
                    assert!(c == want, "{path:?} {m}x{n}x{k} strides {strides:?}");
                }
            }
        }
    }
}
