//! Max pooling over 2-D windows, forward and backward side by side.
//!
//! Forward keeps, for every output, the position of the maximum of its window; backward sends
//! each output's gradient to that position alone (∂max/∂x is 1 at the arg-max, 0 elsewhere).
//! **Ties:** the first maximum in row-major window order (top row first, then left to right)
//! wins, so its input receives the whole gradient.

use super::batch::{each_row, per_sample};
use super::module::check_lengths;
use super::{Backprop, LayerSpec, Module, Pass};
use crate::{Element, Error, Result};

/// `MaxPool2d(kernel, stride)` over `[channels, height, width]` rows, no padding; windows that
/// do not fit are dropped, as in PyTorch (`ceil_mode = false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between windows (PyTorch's default: the kernel).
    pub stride: [usize; 2],
}

impl MaxPool2d {
    /// Square windows of `kernel` with stride `kernel`.
    pub fn new(kernel: usize) -> Self {
        MaxPool2d {
            kernel: [kernel, kernel],
            stride: [kernel, kernel],
        }
    }

    fn dims(&self, input: &[usize]) -> Result<(usize, usize, usize, usize, usize)> {
        let bad = |msg: &str| {
            Error::param(
                "maxpool2d",
                format!("{msg} (input row {input:?}, kernel {:?})", self.kernel),
            )
        };
        let &[c, h, w] = input else {
            return Err(bad("needs [channels, height, width] rows"));
        };
        let [kh, kw] = self.kernel;
        if kh == 0 || kw == 0 || self.stride.contains(&0) {
            return Err(bad("kernel and stride must be at least 1"));
        }
        if h < kh || w < kw {
            return Err(bad("the window is larger than the input"));
        }
        Ok((
            c,
            h,
            w,
            (h - kh) / self.stride[0] + 1,
            (w - kw) / self.stride[1] + 1,
        ))
    }
}

impl<E: Element> Module<E> for MaxPool2d {
    fn spec(&self) -> LayerSpec {
        LayerSpec::MaxPool2d {
            kernel: self.kernel,
            stride: self.stride,
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let (c, _, _, oh, ow) = self.dims(input)?;
        Ok(vec![c, oh, ow])
    }

    /// The arg-max of every output: an input offset within the row (exact in f32 below 2²⁴),
    /// or with 2×2 windows and stride 2 the place in the window (0 to 3).
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        pass.rows * pass.output_len()
    }

    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("maxpool2d forward", x, y, pass)?;
        let (c, h, w, oh, ow) = self.dims(pass.input)?;
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let ([kh, kw], [sy, sx]) = (self.kernel, self.stride);
        per_sample(
            pass.rows,
            n_in,
            (y, n_out),
            (scratch, n_out),
            |s, y, arg| {
                let xs = &x[s * n_in..(s + 1) * n_in];
                if [kh, kw, sy, sx] == [2, 2, 2, 2] {
                    return max_pool_2x2(xs, (c, h, w, oh, ow), y, arg);
                }
                for (ci, plane) in xs.chunks_exact(h * w).take(c).enumerate() {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let first = oy * sy * w + ox * sx;
                            let (mut best, mut max) = (first, plane[first]);
                            for ky in 0..kh {
                                let start = first + ky * w;
                                for (kx, &v) in plane[start..start + kw].iter().enumerate() {
                                    // Strictly greater: the first maximum wins a tie. Two
                                    // selects, not a branch: real images make it unpredictable.
                                    let greater = v > max;
                                    best = if greater { start + kx } else { best };
                                    max = if greater { v } else { max };
                                }
                            }
                            let o = (ci * oh + oy) * ow + ox;
                            y[o] = max;
                            arg[o] = E::from_f64((ci * h * w + best) as f64);
                        }
                    }
                }
            },
        );
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, scratch) = grads.checked("maxpool2d backward", pass)?;
        let Some(dx) = dx else { return Ok(()) };
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let dims = self.dims(pass.input)?;
        let two_by_two = [self.kernel, self.stride] == [[2, 2], [2, 2]];
        each_row(pass.rows, n_in, (dx, n_in), |s, dx| {
            let (dy, arg) = (&dy[s * n_out..][..n_out], &scratch[s * n_out..][..n_out]);
            if two_by_two {
                return max_unpool_2x2(dy, arg, dims, dx);
            }
            dx.fill(E::ZERO);
            for (&g, &at) in dy.iter().zip(arg) {
                dx[at.to_f64() as usize] += g;
            }
        });
        Ok(())
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(*self))
    }
}

/// `AvgPool2d(kernel, stride)` over `[channels, height, width]` rows, no padding: each output
/// is the mean of its window, so backward gives every input of the window 1/(kh·kw) of the
/// output's gradient (overlapping windows add up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between windows (PyTorch's default: the kernel).
    pub stride: [usize; 2],
}

impl AvgPool2d {
    /// Square windows of `kernel` with stride `kernel`.
    pub fn new(kernel: usize) -> Self {
        AvgPool2d {
            kernel: [kernel, kernel],
            stride: [kernel, kernel],
        }
    }

    fn as_max(&self) -> MaxPool2d {
        MaxPool2d {
            kernel: self.kernel,
            stride: self.stride,
        }
    }

    /// Visit every (output index, input index) pair of one row's windows.
    fn windows(&self, input: &[usize], mut visit: impl FnMut(usize, usize)) -> Result<()> {
        let (c, h, w, oh, ow) = self.as_max().dims(input)?;
        let [kh, kw] = self.kernel;
        for ci in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = (ci * oh + oy) * ow + ox;
                    let (y0, x0) = (oy * self.stride[0], ox * self.stride[1]);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            visit(o, (ci * h + y0 + ky) * w + x0 + kx);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<E: Element> Module<E> for AvgPool2d {
    fn spec(&self) -> LayerSpec {
        LayerSpec::AvgPool2d {
            kernel: self.kernel,
            stride: self.stride,
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let (c, _, _, oh, ow) = self.as_max().dims(input)?;
        Ok(vec![c, oh, ow])
    }

    fn forward(&self, x: &[E], y: &mut [E], _scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("avgpool2d forward", x, y, pass)?;
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let scale = E::ONE / E::from_f64((self.kernel[0] * self.kernel[1]) as f64);
        let y = &mut y[..pass.rows * n_out];
        y.iter_mut().for_each(|v| *v = E::ZERO);
        for s in 0..pass.rows {
            let (xs, ys) = (&x[s * n_in..], &mut y[s * n_out..(s + 1) * n_out]);
            self.windows(pass.input, |o, i| ys[o] += xs[i])?;
            ys.iter_mut().for_each(|v| *v *= scale);
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, _) = grads.checked("avgpool2d backward", pass)?;
        let Some(dx) = dx else { return Ok(()) };
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let scale = E::ONE / E::from_f64((self.kernel[0] * self.kernel[1]) as f64);
        dx[..pass.rows * n_in].iter_mut().for_each(|v| *v = E::ZERO);
        for s in 0..pass.rows {
            let (gs, dxs) = (&dy[s * n_out..], &mut dx[s * n_in..(s + 1) * n_in]);
            self.windows(pass.input, |o, i| dxs[i] += gs[o] * scale)?;
        }
        Ok(())
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(*self))
    }
}

/// Max-pooling of one sample with 2×2 windows and stride 2 (the common case): the generic
/// loop's result and tie rule (the first maximum in row-major window order wins), with the
/// window's four values read from two row slices instead of an inner loop per window, and the
/// arg-max kept compactly as its place in the window (0 to 3, top row first) rather than as an
/// input offset: no integer-to-float conversion per output, and [`max_unpool_2x2`] finds the
/// input from the output's own position.
fn max_pool_2x2<E: Element>(
    xs: &[E],
    (c, h, w, oh, ow): (usize, usize, usize, usize, usize),
    y: &mut [E],
    arg: &mut [E],
) {
    let places = window_places::<E>();
    for ci in 0..c {
        let plane = &xs[ci * h * w..(ci + 1) * h * w];
        for oy in 0..oh {
            let (r0, r1) = (2 * oy * w, (2 * oy + 1) * w);
            let (top, bottom) = (&plane[r0..r0 + 2 * ow], &plane[r1..r1 + 2 * ow]);
            let out = (ci * oh + oy) * ow;
            let (y_row, arg_row) = (&mut y[out..out + ow], &mut arg[out..out + ow]);
            let done = simd_pool_row(top, bottom, y_row, arg_row);
            let windows = top[2 * done..]
                .chunks_exact(2)
                .zip(bottom[2 * done..].chunks_exact(2));
            let outputs = y_row[done..].iter_mut().zip(arg_row[done..].iter_mut());
            for ((yv, av), (t, b)) in outputs.zip(windows) {
                let (mut max, mut at) = (t[0], places[0]);
                // Strictly greater, in window order: the first maximum wins a tie. Selects,
                // not branches (real images make them unpredictable).
                for (v, place) in [(t[1], places[1]), (b[0], places[2]), (b[1], places[3])] {
                    let greater = v > max;
                    at = if greater { place } else { at };
                    max = if greater { v } else { max };
                }
                *yv = max;
                *av = at;
            }
        }
    }
}

/// The window places 0, 1, 2, 3 as values.
fn window_places<E: Element>() -> [E; 4] {
    [0.0, 1.0, 2.0, 3.0].map(E::from_f64)
}

/// The backward pass of [`max_pool_2x2`] for one sample: each window's four inputs receive
/// the output's gradient at the arg-max and zero elsewhere (the windows do not overlap, so
/// each input is written once); the last row and column of an odd-sized map, which no window
/// covers, receive zero.
fn max_unpool_2x2<E: Element>(
    dy: &[E],
    arg: &[E],
    (c, h, w, oh, ow): (usize, usize, usize, usize, usize),
    dx: &mut [E],
) {
    if h % 2 == 1 || w % 2 == 1 {
        dx.fill(E::ZERO);
    }
    let places = window_places::<E>();
    for ci in 0..c {
        let plane = &mut dx[ci * h * w..(ci + 1) * h * w];
        for oy in 0..oh {
            let (top, bottom) = plane[2 * oy * w..(2 * oy + 2) * w].split_at_mut(w);
            let out = (ci * oh + oy) * ow;
            let (g_row, arg_row) = (&dy[out..out + ow], &arg[out..out + ow]);
            let done = simd_unpool_row(g_row, arg_row, top, bottom);
            let windows = top[2 * done..]
                .chunks_exact_mut(2)
                .zip(bottom[2 * done..].chunks_exact_mut(2));
            let outputs = g_row[done..].iter().zip(&arg_row[done..]);
            for ((&g, &at), (t, b)) in outputs.zip(windows) {
                let pick = |place: E| if at == place { g } else { E::ZERO };
                t[0] = pick(places[0]);
                t[1] = pick(places[1]);
                b[0] = pick(places[2]);
                b[1] = pick(places[3]);
            }
        }
    }
}

/// Whether the 2×2 rows run on the AVX-512 loops: f32 on the AVX-512 kernel path (chosen only
/// on CPUs with AVX-512F; `NABLA_KERNEL` may choose another).
fn simd_pool<E: Element>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::tensor::gemm::{kernel_path, KernelPath};
        std::any::TypeId::of::<E>() == std::any::TypeId::of::<f32>()
            && kernel_path() == KernelPath::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One output row of [`max_pool_2x2`] sixteen windows at a time (the last group masked) when
/// [`simd_pool`] holds: the same comparisons in the same order (ordered greater-than, so a NaN
/// never wins, as `>`), hence the same values and places. Returns how many outputs it did
/// (all of them, or 0).
fn simd_pool_row<E: Element>(top: &[E], bottom: &[E], y: &mut [E], arg: &mut [E]) -> usize {
    let ow = y.len();
    if !simd_pool::<E>() || ow == 0 {
        return 0;
    }
    assert!(top.len() >= 2 * ow && bottom.len() >= 2 * ow && arg.len() >= ow);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: E is f32 (simd_pool checked it) and AVX-512F is present; the assert bounds
    // every access.
    unsafe {
        pool_row_avx512(
            top.as_ptr() as *const f32,
            bottom.as_ptr() as *const f32,
            y.as_mut_ptr() as *mut f32,
            arg.as_mut_ptr() as *mut f32,
            ow,
        );
    }
    ow
}

/// The masks of a group of `n` ≤ 16 outputs: the outputs, and the two input vectors (2n
/// values) they read.
#[cfg(target_arch = "x86_64")]
fn group_masks(n: usize) -> (u16, u16, u16) {
    let lanes = |k: usize| ((1u32 << k.min(16)) - 1) as u16;
    (lanes(n), lanes(2 * n), lanes((2 * n).saturating_sub(16)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pool_row_avx512(
    top: *const f32,
    bottom: *const f32,
    y: *mut f32,
    arg: *mut f32,
    ow: usize,
) {
    use std::arch::x86_64::*;
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    let places = [0.0f32, 1.0, 2.0, 3.0].map(|v| _mm512_set1_ps(v));
    let mut ox = 0;
    while ox < ow {
        let (m_out, m_lo, m_hi) = group_masks(ow - ox);
        let split = |row: *const f32| {
            let lo = _mm512_maskz_loadu_ps(m_lo, row.add(2 * ox));
            let hi = _mm512_maskz_loadu_ps(m_hi, row.add(2 * ox + 16));
            (
                _mm512_permutex2var_ps(lo, even, hi),
                _mm512_permutex2var_ps(lo, odd, hi),
            )
        };
        let ((t0, t1), (b0, b1)) = (split(top), split(bottom));
        let (mut max, mut at) = (t0, places[0]);
        for (v, place) in [(t1, places[1]), (b0, places[2]), (b1, places[3])] {
            let greater = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, max);
            max = _mm512_mask_mov_ps(max, greater, v);
            at = _mm512_mask_mov_ps(at, greater, place);
        }
        _mm512_mask_storeu_ps(y.add(ox), m_out, max);
        _mm512_mask_storeu_ps(arg.add(ox), m_out, at);
        ox += 16;
    }
}

/// One row of [`max_unpool_2x2`] sixteen windows at a time when [`simd_pool`] holds (the same
/// values: the gradient where the place matches, +0 elsewhere). Returns how many windows it
/// did (all of them, or 0).
fn simd_unpool_row<E: Element>(g: &[E], arg: &[E], top: &mut [E], bottom: &mut [E]) -> usize {
    let ow = g.len();
    if !simd_pool::<E>() || ow == 0 {
        return 0;
    }
    assert!(arg.len() >= ow && top.len() >= 2 * ow && bottom.len() >= 2 * ow);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in simd_pool_row.
    unsafe {
        unpool_row_avx512(
            g.as_ptr() as *const f32,
            arg.as_ptr() as *const f32,
            top.as_mut_ptr() as *mut f32,
            bottom.as_mut_ptr() as *mut f32,
            ow,
        );
    }
    ow
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn unpool_row_avx512(
    g: *const f32,
    arg: *const f32,
    top: *mut f32,
    bottom: *mut f32,
    ow: usize,
) {
    use std::arch::x86_64::*;
    let first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
    let places = [0.0f32, 1.0, 2.0, 3.0].map(|v| _mm512_set1_ps(v));
    let mut ox = 0;
    while ox < ow {
        let (m_out, m_lo, m_hi) = group_masks(ow - ox);
        let gv = _mm512_maskz_loadu_ps(m_out, g.add(ox));
        let av = _mm512_maskz_loadu_ps(m_out, arg.add(ox));
        let pick = |place| _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(av, place), gv);
        let store = |row: *mut f32, left: __m512, right: __m512| {
            let lo = _mm512_permutex2var_ps(left, first, right);
            let hi = _mm512_permutex2var_ps(left, second, right);
            _mm512_mask_storeu_ps(row.add(2 * ox), m_lo, lo);
            _mm512_mask_storeu_ps(row.add(2 * ox + 16), m_hi, hi);
        };
        store(top, pick(places[0]), pick(places[1]));
        store(bottom, pick(places[2]), pick(places[3]));
        ox += 16;
    }
}
