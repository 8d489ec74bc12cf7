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

    /// The arg-max of every output (an input offset within the row, exact in f32 below 2²⁴).
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
        each_row(pass.rows, n_in, (dx, n_in), |s, dx| {
            dx.fill(E::ZERO);
            let (dy, arg) = (&dy[s * n_out..][..n_out], &scratch[s * n_out..][..n_out]);
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
/// window's four values read from two row slices instead of an inner loop per window.
fn max_pool_2x2<E: Element>(
    xs: &[E],
    (c, h, w, oh, ow): (usize, usize, usize, usize, usize),
    y: &mut [E],
    arg: &mut [E],
) {
    for ci in 0..c {
        let plane = &xs[ci * h * w..(ci + 1) * h * w];
        for oy in 0..oh {
            let (r0, r1) = (2 * oy * w, (2 * oy + 1) * w);
            let (top, bottom) = (&plane[r0..r0 + 2 * ow], &plane[r1..r1 + 2 * ow]);
            let out = (ci * oh + oy) * ow;
            let (y_row, arg_row) = (&mut y[out..out + ow], &mut arg[out..out + ow]);
            for ox in 0..ow {
                let candidates = [
                    (top[2 * ox], r0 + 2 * ox),
                    (top[2 * ox + 1], r0 + 2 * ox + 1),
                    (bottom[2 * ox], r1 + 2 * ox),
                    (bottom[2 * ox + 1], r1 + 2 * ox + 1),
                ];
                let (mut max, mut best) = candidates[0];
                for &(v, at) in &candidates[1..] {
                    let greater = v > max;
                    best = if greater { at } else { best };
                    max = if greater { v } else { max };
                }
                y_row[ox] = max;
                arg_row[ox] = E::from_f64((ci * h * w + best) as f64);
            }
        }
    }
}
