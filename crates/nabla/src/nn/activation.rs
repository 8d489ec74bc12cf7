use serde::{Deserialize, Serialize};

use super::Module;
use crate::autograd::Var;
use crate::{Error, Result, Tensor};

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

    /// `n` evenly spaced points z from `lo` to `hi` (both included) with act(z) and act′(z),
    /// as `(z, act(z), act′(z))`, for plots of the activation and its derivative.
    ///
    /// Both come from the autograd op of the activation, in f64: the value from its forward
    /// kernel and the derivative from its backward rule, so the kinks follow the same
    /// convention as training (ReLU′(0) = 0, leaky ReLU′(0) = alpha). `n = 0` gives no points
    /// and `n = 1` the point `lo`.
    ///
    /// ```
    /// use nabla::nn::Activation;
    /// let curve = Activation::Sigmoid.curve(-1.0, 1.0, 3);
    /// assert_eq!(curve[1], (0.0, 0.5, 0.25));
    /// ```
    pub fn curve(&self, lo: f64, hi: f64, n: usize) -> Vec<(f64, f64, f64)> {
        if n == 0 {
            return vec![];
        }
        let steps = n.saturating_sub(1).max(1) as f64;
        let z: Vec<f64> = (0..n).map(|i| lo + (hi - lo) * i as f64 / steps).collect();
        let input = Var::parameter(Tensor::from_vec(z.clone(), &[n]).expect("one value per point"));
        let output = match *self {
            Activation::Identity => input.clone(),
            Activation::Sigmoid => input.sigmoid(),
            Activation::Tanh => input.tanh(),
            Activation::Relu => input.relu(),
            Activation::LeakyRelu { alpha } => input.leaky_relu(f64::from(alpha)),
        };
        // Elementwise, so ∂(Σ act(z))/∂z_i = act′(z_i).
        let grads = output
            .backward_with(Tensor::full(&[n], 1.0))
            .expect("the output depends on the parameter and has its shape");
        let slope = grads.get(&input).expect("the input is on the path").data();
        let value = output.value();
        z.iter()
            .zip(value.data())
            .zip(slope)
            .map(|((&z, &a), &d)| (z, a, d))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 5] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
    ];

    #[test]
    fn curve_derivative_matches_central_differences() {
        let h = 1e-5;
        for act in ALL {
            // 400 points on [−5, 5] avoid z = 0 exactly, so every point is smooth.
            let curve = act.curve(-5.0, 5.0, 400);
            assert_eq!(curve.len(), 400);
            assert_eq!((curve[0].0, curve[399].0), (-5.0, 5.0));
            for &(z, a, d) in &curve {
                let value = |z: f64| act.curve(z, z, 1)[0].1;
                assert_eq!(value(z), a, "{act:?} at {z}");
                let numeric = (value(z + h) - value(z - h)) / (2.0 * h);
                assert!(
                    (numeric - d).abs() < 1e-8,
                    "{act:?} at {z}: act′ {d} vs central difference {numeric}"
                );
            }
        }
    }

    #[test]
    fn curve_values_and_kinks() {
        let at = |act: Activation, z: f64| act.curve(z, z, 1)[0];
        assert_eq!(at(Activation::Relu, 0.0), (0.0, 0.0, 0.0), "ReLU′(0) = 0");
        let alpha = f64::from(0.1f32);
        assert_eq!(
            at(Activation::LeakyRelu { alpha: 0.1 }, 0.0).2,
            alpha,
            "leaky ReLU′(0) = α"
        );
        assert_eq!(
            at(Activation::LeakyRelu { alpha: 0.1 }, -2.0).1,
            -2.0 * alpha
        );
        let (_, a, d) = at(Activation::Sigmoid, 2.0);
        assert!((a - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
        assert!((d - a * (1.0 - a)).abs() < 1e-15);
        let (_, a, d) = at(Activation::Tanh, 0.5);
        assert_eq!(a, 0.5f64.tanh());
        assert!((d - (1.0 - a * a)).abs() < 1e-15);
        assert_eq!(at(Activation::Identity, 3.0), (3.0, 3.0, 1.0));
        assert!(Activation::Tanh.curve(0.0, 1.0, 0).is_empty());
    }
}
