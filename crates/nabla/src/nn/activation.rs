use serde::{Deserialize, Serialize};

use super::Module;
use crate::autograd::Var;
use crate::{Error, Result};

/// An elementwise activation function a = act(z).
///
/// Kinks: ReLU′(0) = 0 and leaky ReLU′(0) = alpha (the left-hand derivative at the kink), the
/// same convention as the autograd ops.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Activation {
    /// a = z.
    Identity,
    /// The logistic function a = 1 / (1 + e^−z); σ′(z) = a(1 − a), at most 0.25.
    Sigmoid,
    /// a = tanh z; tanh′(z) = 1 − a².
    Tanh,
    /// a = max(z, 0); derivative 1 for z > 0, 0 for z ≤ 0.
    Relu,
    /// a = z for z > 0, alpha·z otherwise; derivative 1 for z > 0, alpha for z ≤ 0.
    LeakyRelu { alpha: f32 },
}

impl Activation {
    /// Parse a CLI-style name: `identity`, `sigmoid`, `tanh`, `relu`, `leaky_relu` (alpha 0.01).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "identity" | "linear" | "none" => Activation::Identity,
            "sigmoid" | "logistic" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" | "leaky-relu" | "leakyrelu" => Activation::LeakyRelu { alpha: 0.01 },
            other => {
                return Err(Error::param(
                    "activation",
                    format!("unknown activation '{other}' (expected identity, sigmoid, tanh, relu or leaky_relu)"),
                ))
            }
        })
    }

    /// The CLI-style name.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
        }
    }

    /// Check parameters (leaky ReLU needs 0 ≤ alpha < 1 so that the derivative can be read
    /// from the output's sign).
    pub fn validate(&self) -> Result<()> {
        if let Activation::LeakyRelu { alpha } = *self {
            if !(0.0..1.0).contains(&alpha) {
                return Err(Error::param(
                    "leaky_relu alpha",
                    format!("{alpha} is outside [0, 1)"),
                ));
            }
        }
        Ok(())
    }

    /// a = act(z) for one value.
    #[inline(always)]
    pub fn apply(&self, z: f32) -> f32 {
        match *self {
            Activation::Identity => z,
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Relu => {
                if z > 0.0 {
                    z
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if z > 0.0 {
                    z
                } else {
                    alpha * z
                }
            }
        }
    }

    /// act′(z) expressed through the output a = act(z) (valid for every variant here).
    #[inline(always)]
    pub fn derivative_from_output(&self, a: f32) -> f32 {
        match *self {
            Activation::Identity => 1.0,
            Activation::Sigmoid => a * (1.0 - a),
            Activation::Tanh => 1.0 - a * a,
            Activation::Relu => {
                if a > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { alpha } => {
                if a > 0.0 {
                    1.0
                } else {
                    alpha
                }
            }
        }
    }

    /// Whether an output value counts as saturated for diagnostics: sigmoid/tanh within 0.01 of
    /// a bound, ReLU exactly 0.
    #[inline(always)]
    pub fn is_saturated(&self, a: f32) -> bool {
        match *self {
            Activation::Sigmoid => !(0.01..=0.99).contains(&a),
            Activation::Tanh => a.abs() >= 0.99,
            Activation::Relu => a == 0.0,
            Activation::LeakyRelu { .. } => a <= 0.0,
            Activation::Identity => false,
        }
    }

    /// Apply through the autograd graph.
    pub fn forward_var(&self, x: &Var) -> Result<Var> {
        match *self {
            Activation::Identity => Ok(x.clone()),
            Activation::Sigmoid => Ok(x.sigmoid()),
            Activation::Tanh => Ok(x.tanh()),
            Activation::Relu => Ok(x.relu()),
            Activation::LeakyRelu { alpha } => Ok(x.leaky_relu(alpha)),
        }
    }
}

/// An activation function as a module of its own (it takes an index in [`super::Sequential`],
/// as in PyTorch, and has no parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationLayer(pub Activation);

impl Module for ActivationLayer {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.0.forward_var(x)
    }

    fn named_parameters(&self) -> Vec<(String, Var)> {
        vec![]
    }
}
