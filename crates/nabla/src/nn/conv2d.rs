//! 2-D convolution as PyTorch's `nn.Conv2d` computes it (cross-correlation), forward and
//! backward side by side, through the GEMM: each sample's input patches are laid out as the
//! columns of a matrix (im2col), so that
//!
//! - forward:  y = W·col + b, with W the `[out, in·kh·kw]` weight matrix;
//! - backward: ∂E/∂W += δ·colᵀ, ∂E/∂b += Σ δ over positions, ∂E/∂col = Wᵀ·δ, and ∂E/∂x is
//!   ∂E/∂col added back to the input positions each column came from (col2im).
//!
//! Zero padding contributes nothing and receives no gradient.

use super::module::check_lengths;
use super::{Backprop, Init, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::tensor::gemm::{matmul_into, Trans};
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
        let mut b = Tensor::<f32>::zeros(&[self.out_channels]);
        if self.init == Init::TorchDefault {
            self.init.fill(b.data_mut(), fan_in, fan_out, rng);
        }
        Conv2d::from_tensors(w.cast(), b.cast(), self.stride, self.padding)
    }
}

/// A 2-D convolution over `[channels, height, width]` rows, weights `[out, in, kh, kw]` and
/// biases `[out]` as PyTorch stores them.
#[derive(Clone, Debug)]
pub struct Conv2d<E: Element = f32> {
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: Var<E>,
    /// `[out_channels]`.
    pub bias: Var<E>,
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

    /// The input index feeding column-matrix entry (row `r`, position `(oy, ox)`), or `None`
    /// in the zero padding.
    #[inline(always)]
    fn source(&self, ci: usize, ky: usize, kx: usize, oy: usize, ox: usize) -> Option<usize> {
        let y = (oy * self.stride[0] + ky).checked_sub(self.padding[0])?;
        let x = (ox * self.stride[1] + kx).checked_sub(self.padding[1])?;
        (y < self.h && x < self.w).then_some((ci * self.h + y) * self.w + x)
    }

    /// Lay one sample's windows out as columns: `col[(ci·kh + ky)·kw + kx][oy·ow + ox]`.
    fn im2col<E: Element>(&self, x: &[E], col: &mut [E]) {
        let p = self.p();
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = &mut col[((ci * self.kh + ky) * self.kw + kx) * p..][..p];
                    for oy in 0..self.oh {
                        for ox in 0..self.ow {
                            row[oy * self.ow + ox] = match self.source(ci, ky, kx, oy, ox) {
                                Some(i) => x[i],
                                None => E::ZERO,
                            };
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`Geometry::im2col`]: add each column entry to the input it came from.
    fn col2im<E: Element>(&self, col: &[E], dx: &mut [E]) {
        let p = self.p();
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = &col[((ci * self.kh + ky) * self.kw + kx) * p..][..p];
                    for oy in 0..self.oh {
                        for ox in 0..self.ow {
                            if let Some(i) = self.source(ci, ky, kx, oy, ox) {
                                dx[i] += row[oy * self.ow + ox];
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<E: Element> Conv2d<E> {
    /// A layer from explicit weights `[out, in, kh, kw]` and biases `[out]`.
    pub fn from_tensors(
        weight: Tensor<E>,
        bias: Tensor<E>,
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Result<Self> {
        if weight.rank() != 4 || bias.rank() != 1 || bias.shape()[0] != weight.shape()[0] {
            return Err(Error::ShapeMismatch {
                op: "Conv2d::from_tensors (weight [out, in, kh, kw] vs bias [out])",
                lhs: weight.shape().to_vec(),
                rhs: bias.shape().to_vec(),
            });
        }
        if stride.contains(&0) {
            return Err(Error::param("conv2d", "the stride must be at least 1"));
        }
        Ok(Conv2d {
            weight: Var::parameter(weight),
            bias: Var::parameter(bias),
            stride,
            padding,
        })
    }

    fn dims(&self) -> [usize; 4] {
        let s = self.weight.shape();
        [s[0], s[1], s[2], s[3]]
    }

    fn geometry(&self, input: &[usize]) -> Result<Geometry> {
        let [o, c, kh, kw] = self.dims();
        let bad = || Error::ShapeMismatch {
            op: "conv2d (input row [channels, height, width] vs weight [out, in, kh, kw])",
            lhs: input.to_vec(),
            rhs: vec![o, c, kh, kw],
        };
        let &[ci, h, w] = input else {
            return Err(bad());
        };
        let (hp, wp) = (h + 2 * self.padding[0], w + 2 * self.padding[1]);
        if ci != c || hp < kh || wp < kw {
            return Err(bad());
        }
        Ok(Geometry {
            c,
            h,
            w,
            kh,
            kw,
            oh: (hp - kh) / self.stride[0] + 1,
            ow: (wp - kw) / self.stride[1] + 1,
            stride: self.stride,
            padding: self.padding,
        })
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
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        let g = self.geometry(input)?;
        Ok(vec![self.dims()[0], g.oh, g.ow])
    }

    /// Room for one sample's column matrix and its gradient.
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        self.geometry(pass.input)
            .map(|g| 2 * g.k() * g.p())
            .unwrap_or(0)
    }

    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("conv2d forward", x, y, pass)?;
        let g = self.geometry(pass.input)?;
        let (k, p, o) = (g.k(), g.p(), self.dims()[0]);
        let col = &mut scratch[..k * p];
        let w = self.weight.value();
        let b = self.bias.value();
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        for s in 0..pass.rows {
            g.im2col(&x[s * n_in..(s + 1) * n_in], col);
            let ys = &mut y[s * n_out..(s + 1) * n_out];
            matmul_into(o, p, k, w.data(), Trans::No, col, Trans::No, ys, false);
            for (plane, &bv) in ys.chunks_exact_mut(p).zip(b.data()) {
                plane.iter_mut().for_each(|v| *v += bv);
            }
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (x, _, dy, mut dx, scratch) = grads.checked("conv2d backward", pass)?;
        let g = self.geometry(pass.input)?;
        let (k, p, o) = (g.k(), g.p(), self.dims()[0]);
        let (col, dcol) = scratch[..2 * k * p].split_at_mut(k * p);
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let w = self.weight.value();
        let mut gw = self.weight.grad_mut();
        let gw = gw.get_or_insert_with(|| Tensor::zeros(w.shape()));
        let mut gb = self.bias.grad_mut();
        let gb = gb.get_or_insert_with(|| Tensor::zeros(&[o]));
        for s in 0..pass.rows {
            let delta = &dy[s * n_out..(s + 1) * n_out];
            g.im2col(&x[s * n_in..(s + 1) * n_in], col);
            matmul_into(
                o,
                k,
                p,
                delta,
                Trans::No,
                col,
                Trans::Yes,
                gw.data_mut(),
                true,
            );
            for (b, plane) in gb.data_mut().iter_mut().zip(delta.chunks_exact(p)) {
                *b += plane.iter().fold(E::ZERO, |acc, &v| acc + v);
            }
            if let Some(dx) = dx.as_deref_mut() {
                matmul_into(k, p, o, w.data(), Trans::Yes, delta, Trans::No, dcol, false);
                let dxs = &mut dx[s * n_in..(s + 1) * n_in];
                dxs.iter_mut().for_each(|v| *v = E::ZERO);
                g.col2im(dcol, dxs);
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(Conv2d::<f64>::from_tensors(
            self.weight.value().cast(),
            self.bias.value().cast(),
            self.stride,
            self.padding,
        )?))
    }
}
