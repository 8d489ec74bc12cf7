//! Max pooling over 2-D windows, forward and backward side by side.
//!
//! Forward keeps, for every output, the position of the maximum of its window; backward sends
//! each output's gradient to that position alone (∂max/∂x is 1 at the arg-max, 0 elsewhere).
//! **Ties:** the first maximum in row-major window order (top row first, then left to right)
//! wins, so its input receives the whole gradient.

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

    /// The arg-max of every output (an input offset within the row, exact in f32 below 2²⁴).
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        pass.rows * pass.output_len()
    }

    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("maxpool2d forward", x, y, pass)?;
        let (c, h, w, oh, ow) = self.dims(pass.input)?;
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        let [kh, kw] = self.kernel;
        for s in 0..pass.rows {
            let xs = &x[s * n_in..(s + 1) * n_in];
            for ci in 0..c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let (y0, x0) = (oy * self.stride[0], ox * self.stride[1]);
                        let mut best = (ci * h + y0) * w + x0;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let i = (ci * h + y0 + ky) * w + x0 + kx;
                                // Strictly greater: the first maximum wins a tie.
                                if xs[i] > xs[best] {
                                    best = i;
                                }
                            }
                        }
                        let o = s * n_out + (ci * oh + oy) * ow + ox;
                        y[o] = xs[best];
                        scratch[o] = E::from_f64(best as f64);
                    }
                }
            }
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let Backprop {
            x,
            y,
            dy,
            dx,
            scratch,
        } = grads;
        check_lengths("maxpool2d backward", x, y, pass)?;
        let Some(dx) = dx else { return Ok(()) };
        let (n_in, n_out) = (pass.input_len(), pass.output_len());
        dx[..pass.rows * n_in].iter_mut().for_each(|v| *v = E::ZERO);
        for s in 0..pass.rows {
            for o in 0..n_out {
                let at = scratch[s * n_out + o].to_f64() as usize;
                dx[s * n_in + at] += dy[s * n_out + o];
            }
        }
        Ok(())
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(*self))
    }
}
