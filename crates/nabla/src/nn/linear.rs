use super::{Init, Module};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// A fully connected layer: `y = x·Wᵀ + b` with `W` of shape `[out, in]` and `b` of shape
/// `[out]`, as PyTorch's `nn.Linear` stores them. Row i of `W` holds neuron i's weights w, so
/// neuron i computes z = w·x + b_i.
#[derive(Clone, Debug)]
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Var,
    /// `[out_features]`.
    pub bias: Var,
}

impl Linear {
    /// A layer with weights drawn by `init` and zero biases (PyTorch's default initialiser,
    /// [`Init::TorchDefault`], also draws the biases from U(±1/√in), as PyTorch does).
    pub fn new(in_features: usize, out_features: usize, init: Init, rng: &mut Rng) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::param(
                "layer size",
                format!("a linear layer needs at least one input and one output, got {in_features} → {out_features}"),
            ));
        }
        let mut w = Tensor::zeros(&[out_features, in_features]);
        init.fill(w.data_mut(), in_features, out_features, rng);
        let mut b = Tensor::zeros(&[out_features]);
        if init == Init::TorchDefault {
            init.fill(b.data_mut(), in_features, out_features, rng);
        }
        Ok(Linear {
            weight: Var::parameter(w),
            bias: Var::parameter(b),
        })
    }

    /// A layer from explicit weights `[out, in]` and biases `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Tensor) -> Result<Self> {
        if weight.rank() != 2 || bias.rank() != 1 || bias.shape()[0] != weight.shape()[0] {
            return Err(Error::ShapeMismatch {
                op: "Linear::from_tensors",
                lhs: weight.shape().to_vec(),
                rhs: bias.shape().to_vec(),
            });
        }
        Ok(Linear {
            weight: Var::parameter(weight),
            bias: Var::parameter(bias),
        })
    }

    /// Number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.value().shape()[1]
    }

    /// Number of outputs (neurons).
    pub fn out_features(&self) -> usize {
        self.weight.value().shape()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> Result<Var> {
        let xs = x.shape();
        if xs.len() != 2 || xs[1] != self.in_features() {
            return Err(Error::ShapeMismatch {
                op: "Linear::forward (input vs weight)",
                lhs: xs,
                rhs: self.weight.shape(),
            });
        }
        x.matmul(&self.weight.transpose()?)?.add(&self.bias)
    }

    fn named_parameters(&self) -> Vec<(String, Var)> {
        vec![
            ("weight".into(), self.weight.clone()),
            ("bias".into(), self.bias.clone()),
        ]
    }
}
