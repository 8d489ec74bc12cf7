use std::cell::RefCell;

use super::Module;
use crate::autograd::Var;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// Inverted dropout: in training mode each input is zeroed with probability `p` and the
/// survivors are scaled by 1/(1 − p), so evaluation needs no rescaling; in evaluation mode it is
/// the identity. Masks come from the layer's own seeded generator.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    training: bool,
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
            training: true,
            rng: RefCell::new(Rng::new(seed)),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Whether masks are drawn (training mode and p > 0).
    pub fn active(&self) -> bool {
        self.training && self.p > 0.0
    }

    /// The generator's state (for checkpoints).
    pub fn rng_state(&self) -> [u64; 4] {
        self.rng.borrow().state()
    }

    /// Restore the generator's state.
    pub fn set_rng_state(&self, s: [u64; 4]) {
        *self.rng.borrow_mut() = Rng::from_state(s);
    }

    /// Fill `mask` with 0 or 1/(1 − p).
    pub fn draw_mask(&self, mask: &mut [f32]) {
        let keep = 1.0 - self.p;
        let scale = 1.0 / keep;
        let mut rng = self.rng.borrow_mut();
        for m in mask {
            *m = if rng.next_f32() < keep { scale } else { 0.0 };
        }
    }

    pub(crate) fn set_training_flag(&mut self, t: bool) {
        self.training = t;
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Result<Var> {
        if !self.active() {
            return Ok(x.clone());
        }
        let shape = x.shape();
        let mut mask = Tensor::zeros(&shape);
        self.draw_mask(mask.data_mut());
        x.mul(&Var::constant(mask))
    }

    fn named_parameters(&self) -> Vec<(String, Var)> {
        vec![]
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
