//! Inverted dropout, forward and backward side by side.

use std::cell::RefCell;

use super::module::check_lengths;
use super::{Backprop, LayerSpec, Module, Pass};
use crate::rng::Rng;
use crate::{Element, Error, Result};

/// Settings of a [`Dropout`] layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutConfig {
    /// Probability of zeroing each input in training mode, in [0, 1) (default 0.5, as
    /// PyTorch's `nn.Dropout`).
    pub p: f32,
    /// Seed of the layer's own mask generator (default 0).
    pub seed: u64,
}

impl Default for DropoutConfig {
    fn default() -> Self {
        DropoutConfig { p: 0.5, seed: 0 }
    }
}

impl DropoutConfig {
    /// The layer; errors unless 0 ≤ p < 1.
    pub fn init(&self) -> Result<Dropout> {
        Dropout::new(self.p, self.seed)
    }
}

/// Inverted dropout: in training mode each input is zeroed with probability `p` and the
/// survivors are scaled by 1/(1 − p), so evaluation needs no rescaling; in evaluation mode it is
/// the identity. Masks come from the layer's own seeded generator and are kept (in the
/// workspace's scratch room) for the backward pass, which multiplies ∂E/∂y by the same mask.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    rng: RefCell<Rng>,
}

impl Dropout {
    /// A dropout layer with drop probability `p` in [0, 1).
    pub fn new(p: f32, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::param("dropout", format!("{p} is outside [0, 1)")));
        }
        Ok(Dropout {
            p,
            rng: RefCell::new(Rng::new(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Fill `mask` with 0 or 1/(1 − p).
    pub fn draw_mask<E: Element>(&self, mask: &mut [E]) {
        let keep = 1.0 - self.p;
        let scale = E::from_f64((1.0 / keep) as f64);
        let mut rng = self.rng.borrow_mut();
        for m in mask {
            *m = if rng.next_f32() < keep {
                scale
            } else {
                E::ZERO
            };
        }
    }

    fn active(&self, pass: &Pass<'_>) -> bool {
        pass.training && self.p > 0.0
    }
}

impl<E: Element> Module<E> for Dropout {
    fn spec(&self) -> LayerSpec {
        LayerSpec::Dropout { p: self.p }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        Ok(input.to_vec())
    }

    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        if self.p > 0.0 {
            pass.rows * pass.input_len()
        } else {
            0
        }
    }

    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("dropout forward", x, y, pass)?;
        let n = pass.rows * pass.input_len();
        let (x, y) = (&x[..n], &mut y[..n]);
        if self.active(pass) {
            let mask = &mut scratch[..n];
            self.draw_mask(mask);
            for ((o, &a), &m) in y.iter_mut().zip(x).zip(mask.iter()) {
                *o = a * m;
            }
        } else {
            y.copy_from_slice(x);
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, scratch) = grads.checked("dropout backward", pass)?;
        let Some(dx) = dx else { return Ok(()) };
        let n = pass.rows * pass.input_len();
        let (dy, dx) = (&dy[..n], &mut dx[..n]);
        if self.active(pass) {
            for ((d, &g), &m) in dx.iter_mut().zip(dy).zip(&scratch[..n]) {
                *d = g * m;
            }
        } else {
            dx.copy_from_slice(dy);
        }
        Ok(())
    }

    fn rng_state(&self) -> Option<[u64; 4]> {
        Some(self.rng.borrow().state())
    }

    fn set_rng_state(&self, state: [u64; 4]) {
        *self.rng.borrow_mut() = Rng::from_state(state);
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        let copy = Dropout {
            p: self.p,
            rng: RefCell::new(self.rng.borrow().clone()),
        };
        Ok(Box::new(copy))
    }
}
