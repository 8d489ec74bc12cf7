//! 2-D convolution as PyTorch's `nn.Conv2d` computes it (cross-correlation), forward and
//! backward side by side, through the GEMM: each sample's input patches are laid out as the
//! columns of a matrix (im2col), so that
//!
//! - forward:  y = W·col + b, with W the `[out, in·kh·kw]` weight matrix;
//! - backward: ∂E/∂W += δ·colᵀ, ∂E/∂b += Σ δ over positions, ∂E/∂col = Wᵀ·δ, and ∂E/∂x is
//!   ∂E/∂col added back to the input positions each column came from (col2im).
//!
//! Zero padding contributes nothing and receives no gradient.

use super::batch::{threads_for, Parts, Split};
use super::module::check_lengths;
use super::{Backprop, Init, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::tensor::gemm::{
    matmul_into, matmul_packed_lhs, pack_lhs, packed_lhs_len, parallel_parts, Trans,
};
use crate::{Element, Error, Result, Tensor};

/// Settings of a [`Conv2d`] layer (`[height, width]` pairs; PyTorch's defaults stride 1,
/// padding 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv2dConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels (filters) of the output.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Step between windows (default `[1, 1]`).
    pub stride: [usize; 2],
    /// Zero rows/columns added on each side (default `[0, 0]`).
    pub padding: [usize; 2],
    /// Whether the layer adds a learned bias per output channel (default true).
    pub bias: bool,
    /// Initialiser of the weights, with fan-in = in·kh·kw (default Kaiming uniform with a = √5,
    /// PyTorch's, as [`Init::TorchDefault`] — which also draws the biases from U(±1/√fan_in)).
    pub init: Init,
}

impl Conv2dConfig {
    /// `in → out` channels with a square `kernel`, stride 1, no padding, PyTorch's initialiser.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel: [kernel, kernel],
            stride: [1, 1],
            padding: [0, 0],
            bias: true,
            init: Init::TorchDefault,
        }
    }

    /// Draw the layer's weights with `rng`.
    pub fn init<E: Element>(&self, rng: &mut Rng) -> Result<Conv2d<E>> {
        let [kh, kw] = self.kernel;
        if self.in_channels == 0 || self.out_channels == 0 || kh == 0 || kw == 0 {
            return Err(Error::param(
                "conv2d",
                format!(
                    "channels and kernel sizes must be at least 1 (in {}, out {}, kernel {kh}×{kw})",
                    self.in_channels, self.out_channels
                ),
            ));
        }
        if self.stride.contains(&0) {
            return Err(Error::param("conv2d", "the stride must be at least 1"));
        }
        let fan_in = self.in_channels * kh * kw;
        let fan_out = self.out_channels * kh * kw;
        let mut w = Tensor::<f32>::zeros(&[self.out_channels, self.in_channels, kh, kw]);
        self.init.fill(w.data_mut(), fan_in, fan_out, rng);
        let b = self.bias.then(|| {
            let mut b = Tensor::<f32>::zeros(&[self.out_channels]);
            if self.init == Init::TorchDefault {
                self.init.fill(b.data_mut(), fan_in, fan_out, rng);
            }
            b.cast()
        });
        Conv2d::from_tensors(w.cast(), b, self.stride, self.padding)
    }
}

/// A 2-D convolution over `[channels, height, width]` rows, weights `[out, in, kh, kw]` and
/// biases `[out]` as PyTorch stores them.
#[derive(Clone, Debug)]
pub struct Conv2d<E: Element = f32> {
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: Var<E>,
    /// `[out_channels]`, unless the layer has no bias.
    pub bias: Option<Var<E>>,
    stride: [usize; 2],
    padding: [usize; 2],
}

/// Where one sample's windows lie.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: [usize; 2],
    padding: [usize; 2],
}

impl Geometry {
    /// Rows of the column matrix (in·kh·kw).
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Columns of the column matrix (output positions).
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Values of one sample's column matrix: the measure of a sample's work.
    fn work(&self) -> usize {
        self.k() * self.p()
    }

    /// Visit every run of one column-matrix row that lies on one output row: `f(out, src, lo,
    /// hi)` with `out` the run's first index in the column matrix (`ow` entries) and, unless
    /// the whole run is in the zero padding, `src` the input index that output column `lo`
    /// reads; entries `lo..hi` read inputs `src + (ox − lo)·stride`, the rest are padding.
    #[inline(always)]
    fn runs(&self, mut f: impl FnMut(usize, Option<usize>, usize, usize)) {
        let p = self.p();
        let ([sy, sx], [py, px]) = (self.stride, self.padding);
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = ((ci * self.kh + ky) * self.kw + kx) * p;
                    // Output columns whose input column ox·sx + kx − px lies in 0..w.
                    let lo = px.saturating_sub(kx).div_ceil(sx).min(self.ow);
                    let hi = (self.w + px)
                        .saturating_sub(kx)
                        .div_ceil(sx)
                        .clamp(lo, self.ow);
                    for oy in 0..self.oh {
                        let out = row + oy * self.ow;
                        let y = (oy * sy + ky).checked_sub(py).filter(|&y| y < self.h);
                        match y {
                            Some(y) if lo < hi => {
                                let x0 = lo * sx + kx - px;
                                f(out, Some((ci * self.h + y) * self.w + x0), lo, hi)
                            }
                            _ => f(out, None, 0, 0),
                        }
                    }
                }
            }
        }
    }

    /// Lay one sample's windows out as columns: `col[(ci·kh + ky)·kw + kx][oy·ow + ox]`.
    fn im2col<E: Element>(&self, x: &[E], col: &mut [E]) {
        let (ow, sx) = (self.ow, self.stride[1]);
        self.runs(|out, src, lo, hi| {
            let run = &mut col[out..out + ow];
            let Some(src) = src else {
                run.fill(E::ZERO);
                return;
            };
            run[..lo].fill(E::ZERO);
            run[hi..].fill(E::ZERO);
            if sx == 1 {
                run[lo..hi].copy_from_slice(&x[src..src + hi - lo]);
            } else {
                for (j, v) in run[lo..hi].iter_mut().enumerate() {
                    *v = x[src + j * sx];
                }
            }
        });
    }

    /// The adjoint of [`Geometry::im2col`]: add each column entry to the input it came from.
    fn col2im<E: Element>(&self, col: &[E], dx: &mut [E]) {
        let sx = self.stride[1];
        self.runs(|out, src, lo, hi| {
            let Some(src) = src else { return };
            let run = &col[out + lo..out + hi];
            if sx == 1 {
                for (d, &v) in dx[src..src + hi - lo].iter_mut().zip(run) {
                    *d += v;
                }
            } else {
                for (j, &v) in run.iter().enumerate() {
                    dx[src + j * sx] += v;
                }
            }
        });
    }
}

impl<E: Element> Conv2d<E> {
    /// A layer from explicit weights `[out, in, kh, kw]` and biases `[out]` (`None`: no bias).
    pub fn from_tensors(
        weight: Tensor<E>,
        bias: Option<Tensor<E>>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Self> {
        let bias_fits = bias
            .as_ref()
            .is_none_or(|b| b.rank() == 1 && Some(&b.shape()[0]) == weight.shape().first());
        if weight.rank() != 4 || !bias_fits {
            return Err(Error::ShapeMismatch {
                op: "Conv2d::from_tensors (weight [out, in, kh, kw] vs bias [out])",
                lhs: weight.shape().to_vec(),
                rhs: bias.map(|b| b.shape().to_vec()).unwrap_or_default(),
            });
        }
        if stride.contains(&0) {
            return Err(Error::param("conv2d", "the stride must be at least 1"));
        }
        Ok(Conv2d {
            weight: Var::parameter(weight),
            bias: bias.map(Var::parameter),
            stride,
            padding,
        })
    }

    fn dims(&self) -> [usize; 4] {
        let s = self.weight.shape();
        [s[0], s[1], s[2], s[3]]
    }

    /// One thread's scratch room: a column matrix, its gradient, and ∂E/∂W and ∂E/∂b.
    fn part_len(&self, g: &Geometry) -> usize {
        let o = self.dims()[0];
        2 * g.k() * g.p() + o * g.k() + o
    }

    /// Room for the weights packed once per batch for the products: W for forward's W·col,
    /// Wᵀ for backward's Wᵀ·δ (0 when products take no packed operand: f64).
    fn packed_len(&self, g: &Geometry) -> usize {
        let (o, k) = (self.dims()[0], g.k());
        packed_lhs_len::<E>(o, k).max(packed_lhs_len::<E>(k, o))
    }

    /// The scratch room of one part and the batch's split into parts, as many as the scratch
    /// holds after the packed weights.
    fn split(&self, g: &Geometry, rows: usize, scratch: usize) -> Result<(usize, Split)> {
        let part_len = self.part_len(g);
        let scratch = scratch.saturating_sub(self.packed_len(g));
        let parts = (scratch / part_len.max(1)).min(threads_for(rows, g.work()));
        if parts == 0 {
            return Err(Error::ShapeMismatch {
                op: "conv2d (scratch room vs one sample's column matrix)",
                lhs: vec![scratch],
                rhs: vec![part_len],
            });
        }
        Ok((part_len, Split::new(rows, parts)))
    }

    fn geometry(&self, input: &[usize]) -> Result<Geometry> {
        geometry(input, self.dims(), self.stride, self.padding)
    }
}

/// Σ of `v` in sixteen interleaved partial sums (lane j adds v[j], v[j + 16], ...), added
/// pairwise at the end, then the tail: a loop the compiler vectorises, where one running sum
/// waits on every addition. The order is fixed, so the bits do not depend on the thread count.
fn lane_sum<E: Element>(v: &[E]) -> E {
    let mut acc = [E::ZERO; 16];
    let chunks = v.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let mut width = 16;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            acc[j] += acc[j + width];
        }
    }
    tail.iter().fold(acc[0], |s, &x| s + x)
}

/// Where the windows of a `[o, c, kh, kw]` kernel lie on an `input` row `[c, h, w]`, with the
/// padded sizes computed without overflow (an error, like a kernel larger than the padded map).
fn geometry(
    input: &[usize],
    [o, c, kh, kw]: [usize; 4],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<Geometry> {
    let bad = || Error::ShapeMismatch {
        op: "conv2d (input row [channels, height, width] vs weight [out, in, kh, kw])",
        lhs: input.to_vec(),
        rhs: vec![o, c, kh, kw],
    };
    let &[ci, h, w] = input else {
        return Err(bad());
    };
    let padded = |n: usize, p: usize| p.checked_mul(2).and_then(|p| p.checked_add(n));
    let (Some(hp), Some(wp)) = (padded(h, padding[0]), padded(w, padding[1])) else {
        return Err(bad());
    };
    if ci != c || hp < kh || wp < kw || stride.contains(&0) {
        return Err(bad());
    }
    Ok(Geometry {
        c,
        h,
        w,
        kh,
        kw,
        oh: (hp - kh) / stride[0] + 1,
        ow: (wp - kw) / stride[1] + 1,
        stride,
        padding,
    })
}

impl Conv2dConfig {
    /// The settings a [`LayerSpec::Conv2d`] describes, with `init` (`None` for another layer).
    pub fn from_spec(spec: &LayerSpec, init: Init) -> Option<Self> {
        let &LayerSpec::Conv2d {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            bias,
        } = spec
        else {
            return None;
        };
        Some(Conv2dConfig {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            bias,
            init,
        })
    }

    /// The `[out, oh, ow]` map this layer makes of an `input` row `[in, h, w]`, worked out
    /// from the settings alone (no weight is allocated): an error when the input is not such a
    /// row or the kernel is larger than the padded map.
    pub fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let [kh, kw] = self.kernel;
        let dims = [self.out_channels, self.in_channels, kh, kw];
        let g = geometry(input, dims, self.stride, self.padding)?;
        Ok(vec![self.out_channels, g.oh, g.ow])
    }
}

impl<E: Element> Module<E> for Conv2d<E> {
    fn spec(&self) -> LayerSpec {
        let [o, c, kh, kw] = self.dims();
        LayerSpec::Conv2d {
            in_channels: c,
            out_channels: o,
            kernel: [kh, kw],
            stride: self.stride,
            padding: self.padding,
            bias: self.bias.is_some(),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let g = self.geometry(input)?;
        Ok(vec![self.dims()[0], g.oh, g.ow])
    }

    /// Room for the packed weights, then, for each thread of a batch, for one sample's column
    /// matrix and its gradient and for the thread's share of ∂E/∂W and ∂E/∂b.
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        self.geometry(pass.input)
            .map(|g| self.packed_len(&g) + threads_for(pass.rows, g.work()) * self.part_len(&g))
            .unwrap_or(0)
    }

    fn fuses_activation(&self) -> bool {
        true
    }

    /// Per sample y = W·col + b, with the bias and the activation in one pass over the output;
    /// the samples of a batch are shared among the threads.
    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        let activation = pass.activation;
        check_lengths("conv2d forward", x, y, pass)?;
        let g = self.geometry(pass.input)?;
        let (k, p, o) = (g.k(), g.p(), self.dims()[0]);
        let (part_len, split) = self.split(&g, pass.rows, scratch.len())?;
        let w = self.weight.value();
        let b = self.bias.as_ref().map(|b| b.value());
        // Without a bias: one zero added to the whole output.
        let zero = [E::ZERO];
        let (w, b) = (w.data(), b.as_ref().map_or(&zero[..], |b| b.data()));
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        // W packed once for every sample's product.
        let (packed, scratch) = scratch.split_at_mut(self.packed_len(&g));
        pack_lhs(o, k, w, Trans::No, packed);
        let packed = &*packed;
        let (ys, scratch) = (Parts(y.as_mut_ptr()), Parts(scratch.as_mut_ptr()));
        parallel_parts(split.parts(), &|i| {
            let rows = split.range(i);
            // SAFETY: part i alone owns its samples' outputs and its scratch room.
            let (y, col) = unsafe {
                (
                    ys.slice(rows.start * n_out, rows.len() * n_out),
                    scratch.slice(i * part_len, k * p),
                )
            };
            for (s, ys) in rows.zip(y.chunks_exact_mut(n_out)) {
                g.im2col(&x[s * n_in..(s + 1) * n_in], col);
                let w = (w, Trans::No, packed);
                matmul_packed_lhs(o, p, k, w, col, Trans::No, ys, false);
                activation.apply_planes_with_bias(ys, b);
            }
        });
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (x, _, dy, dx, scratch) = grads.checked("conv2d backward", pass)?;
        let g = self.geometry(pass.input)?;
        let (k, p, o) = (g.k(), g.p(), self.dims()[0]);
        let (part_len, split) = self.split(&g, pass.rows, scratch.len())?;
        let w = self.weight.value();
        let w = w.data();
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        // Wᵀ packed once for every sample's ∂E/∂col.
        let (packed, scratch) = scratch.split_at_mut(self.packed_len(&g));
        if dx.is_some() {
            pack_lhs(k, o, w, Trans::Yes, packed);
        }
        let packed = &*packed;
        let dxs = dx.map(|d| Parts(d.as_mut_ptr()));
        let room = Parts(scratch.as_mut_ptr());
        parallel_parts(split.parts(), &|i| {
            let rows = split.range(i);
            // SAFETY: part i alone owns its scratch room and its samples' ∂E/∂x.
            let part = unsafe { room.slice(i * part_len, part_len) };
            let (col, rest) = part.split_at_mut(k * p);
            let (dcol, rest) = rest.split_at_mut(k * p);
            let (gw, gb) = rest.split_at_mut(o * k);
            gw.fill(E::ZERO);
            gb.fill(E::ZERO);
            for s in rows {
                let delta = &dy[s * n_out..(s + 1) * n_out];
                g.im2col(&x[s * n_in..(s + 1) * n_in], col);
                // ∂E/∂W += δ·colᵀ, ∂E/∂b += Σ δ over positions.
                matmul_into(o, k, p, delta, Trans::No, col, Trans::Yes, gw, true);
                for (b, plane) in gb.iter_mut().zip(delta.chunks_exact(p)) {
                    *b += lane_sum(plane);
                }
                if let Some(dxs) = dxs {
                    // ∂E/∂col = Wᵀ·δ, added back to the inputs (col2im).
                    let wt = (w, Trans::Yes, packed);
                    matmul_packed_lhs(k, p, o, wt, delta, Trans::No, dcol, false);
                    // SAFETY: sample s belongs to part i alone.
                    let dx = unsafe { dxs.slice(s * n_in, n_in) };
                    dx.fill(E::ZERO);
                    g.col2im(dcol, dx);
                }
            }
        });
        // The threads' shares, added in part order (the same figures whichever thread ran
        // which part).
        let mut gw = self.weight.grad_mut();
        let gw = gw.get_or_insert_with(|| Tensor::zeros(&self.dims()));
        let mut gb = self.bias.as_ref().map(|b| b.grad_mut());
        let mut gb = gb
            .as_mut()
            .map(|g| g.get_or_insert_with(|| Tensor::zeros(&[o])));
        for i in 0..split.parts() {
            let part = &scratch[i * part_len + 2 * k * p..(i + 1) * part_len];
            let (pw, pb) = part.split_at(o * k);
            for (a, &v) in gw.data_mut().iter_mut().zip(pw) {
                *a += v;
            }
            if let Some(gb) = gb.as_mut() {
                for (a, &v) in gb.data_mut().iter_mut().zip(pb) {
                    *a += v;
                }
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        let bias = self.bias.iter().map(|b| ("bias", b.clone()));
        std::iter::once(("weight", self.weight.clone()))
            .chain(bias)
            .collect()
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(Conv2d::<f64>::from_tensors(
            self.weight.value().cast(),
            self.bias.as_ref().map(|b| b.value().cast()),
            self.stride,
            self.padding,
        )?))
    }
}
