use serde::{Deserialize, Serialize};

use super::batch::{each_row, elementwise_rows};
use super::module::check_lengths;
use super::{Backprop, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::ops::activation as act;
use crate::{Element, Error, Result};

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

    /// a = act(z) for one value, in f32 or f64 (the functions of [`crate::ops::activation`]).
    #[inline(always)]
    pub fn apply<E: Element>(&self, z: E) -> E {
        match *self {
            Activation::Identity => z,
            Activation::Sigmoid => act::sigmoid(z),
            Activation::Tanh => act::tanh(z),
            Activation::Relu => act::relu(z),
            Activation::LeakyRelu { alpha } => act::leaky_relu(z, E::from_f64(alpha as f64)),
        }
    }

    /// act′(z) expressed through the output a = act(z) (valid for every variant here, since
    /// leaky ReLU's alpha is in [0, 1)).
    #[inline(always)]
    pub fn derivative_from_output<E: Element>(&self, a: E) -> E {
        match *self {
            Activation::Identity => E::ONE,
            Activation::Sigmoid => act::sigmoid_derivative_from_output(a),
            Activation::Tanh => act::tanh_derivative_from_output(a),
            Activation::Relu => act::relu_derivative(a),
            Activation::LeakyRelu { alpha } => {
                act::leaky_relu_derivative(a, E::from_f64(alpha as f64))
            }
        }
    }

    /// Run `pass` with this activation's function, chosen once: the loop inside `pass` is
    /// compiled for each variant and has no match per element.
    pub(crate) fn with_function<E: Element>(&self, pass: impl ElementwisePass<E>) {
        match *self {
            Activation::Identity => pass.run(|z| z),
            Activation::Relu => pass.run(act::relu),
            Activation::Sigmoid => pass.run(act::sigmoid),
            Activation::Tanh => pass.run(act::tanh),
            Activation::LeakyRelu { alpha } => {
                let alpha = E::from_f64(alpha as f64);
                pass.run(move |z| act::leaky_relu(z, alpha))
            }
        }
    }

    /// Run `pass` with act′ as a function of the output a (see
    /// [`Activation::derivative_from_output`]), chosen once.
    pub(crate) fn with_derivative_from_output<E: Element>(&self, pass: impl ElementwisePass<E>) {
        match *self {
            Activation::Identity => pass.run(|_| E::ONE),
            Activation::Relu => pass.run(act::relu_derivative),
            Activation::Sigmoid => pass.run(act::sigmoid_derivative_from_output),
            Activation::Tanh => pass.run(act::tanh_derivative_from_output),
            Activation::LeakyRelu { alpha } => {
                let alpha = E::from_f64(alpha as f64);
                pass.run(move |a| act::leaky_relu_derivative(a, alpha))
            }
        }
    }

    /// The chain rule through this activation for `rows` rows of `len` values: ∂E/∂z =
    /// ∂E/∂a · act′, act′ read from the output a (`y`); the rows shared among threads when
    /// they are enough work. The backward pass of [`ActivationLayer`], and of the activation
    /// half of a fused linear → activation op.
    pub(crate) fn chain_from_output<E: Element>(
        &self,
        dy: &[E],
        y: &[E],
        dx: &mut [E],
        rows: usize,
        len: usize,
    ) {
        struct Chain<'a, E>(&'a mut [E], &'a [E], &'a [E], usize, usize);
        impl<E: Element> ElementwisePass<E> for Chain<'_, E> {
            fn run(self, derivative: impl Fn(E) -> E + Sync) {
                let Chain(dx, dy, y, rows, len) = self;
                let (rows, len) = elementwise_rows(rows, len);
                each_row(rows, len, (dx, len), |s, dx| {
                    let (dy, y) = (&dy[s * len..][..len], &y[s * len..][..len]);
                    for ((d, &g), &a) in dx.iter_mut().zip(dy).zip(y) {
                        *d = g * derivative(a);
                    }
                });
            }
        }
        self.with_derivative_from_output(Chain(dx, dy, y, rows, len));
    }

    /// v ← act(v + bias) for each row of `bias.len()` values (the fused linear → activation
    /// output pass).
    pub(crate) fn apply_rows_with_bias<E: Element>(&self, v: &mut [E], bias: &[E]) {
        struct Rows<'a, E>(&'a mut [E], &'a [E]);
        impl<E: Element> ElementwisePass<E> for Rows<'_, E> {
            fn run(self, f: impl Fn(E) -> E + Sync) {
                for row in self.0.chunks_exact_mut(self.1.len()) {
                    for (o, &b) in row.iter_mut().zip(self.1) {
                        *o = f(*o + b);
                    }
                }
            }
        }
        self.with_function(Rows(v, bias));
    }

    /// v ← act(v + bias[i]) over each plane i of `v.len() / bias.len()` values (a
    /// convolution's channels).
    pub(crate) fn apply_planes_with_bias<E: Element>(&self, v: &mut [E], bias: &[E]) {
        struct Planes<'a, E>(&'a mut [E], &'a [E]);
        impl<E: Element> ElementwisePass<E> for Planes<'_, E> {
            fn run(self, f: impl Fn(E) -> E + Sync) {
                let plane = self.0.len() / self.1.len().max(1);
                for (o, &b) in self.0.chunks_exact_mut(plane.max(1)).zip(self.1) {
                    o.iter_mut().for_each(|v| *v = f(*v + b));
                }
            }
        }
        self.with_function(Planes(v, bias));
    }

    /// act′(z) from the input z.
    pub fn derivative<E: Element>(&self, z: E) -> E {
        self.derivative_from_output(self.apply(z))
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
    /// as `(z, act(z), act′(z))`, for plots of the activation and its derivative: the same
    /// functions the layers use, in f64, so the kinks follow the training convention
    /// (ReLU′(0) = 0, leaky ReLU′(0) = alpha). `n = 0` gives no points and `n = 1` the point
    /// `lo`.
    ///
    /// ```
    /// use nabla::nn::Activation;
    /// let curve = Activation::Sigmoid.curve(-1.0, 1.0, 3);
    /// assert_eq!(curve[1], (0.0, 0.5, 0.25));
    /// ```
    pub fn curve(&self, lo: f64, hi: f64, n: usize) -> Vec<(f64, f64, f64)> {
        let steps = n.saturating_sub(1).max(1) as f64;
        (0..n)
            .map(|i| {
                let z = lo + (hi - lo) * i as f64 / steps;
                (z, self.apply(z), self.derivative(z))
            })
            .collect()
    }

    /// Apply through the autograd graph (the independent route tests compare layers with).
    pub fn forward_var<E: Element>(&self, x: &Var<E>) -> Var<E> {
        match *self {
            Activation::Identity => x.clone(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu { alpha } => x.leaky_relu(E::from_f64(alpha as f64)),
        }
    }
}

/// An elementwise loop that takes the function to apply as a generic argument, so that
/// [`Activation::with_function`] can choose the function once per pass.
pub(crate) trait ElementwisePass<E> {
    /// Run the loop with `f`.
    fn run(self, f: impl Fn(E) -> E + Sync);
}

/// An activation function as a module of its own (it takes an index in [`super::Sequential`],
/// as in PyTorch, and has no parameters; its configuration is the [`Activation`] it applies): a = act(z) elementwise, and backward
/// ∂E/∂z = ∂E/∂a · act′(z), with act′ read from the stored output a.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivationLayer(pub Activation);

impl<E: Element> Module<E> for ActivationLayer {
    /// The activation as the graph op of the same name (for second derivatives).
    fn forward_graph(&self, x: &Var<E>, _params: &[Var<E>]) -> Option<Result<Var<E>>> {
        Some(Ok(self.0.forward_var(x)))
    }

    fn spec(&self) -> LayerSpec {
        LayerSpec::Activation { activation: self.0 }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        self.0.validate()?;
        Ok(input.to_vec())
    }

    fn forward(&self, x: &[E], y: &mut [E], _scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("activation forward", x, y, pass)?;
        let n = pass.rows * pass.input_len();
        let (x, y) = (&x[..n], &mut y[..n]);
        struct Map<'a, E>(&'a [E], &'a mut [E]);
        impl<E: Element> ElementwisePass<E> for Map<'_, E> {
            fn run(self, f: impl Fn(E) -> E + Sync) {
                self.1.iter_mut().zip(self.0).for_each(|(o, &v)| *o = f(v));
            }
        }
        match self.0 {
            Activation::Identity => y.copy_from_slice(x),
            a => a.with_function(Map(x, y)),
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, y, dy, dx, _) = grads.checked("activation backward", pass)?;
        let Some(dx) = dx else { return Ok(()) };
        self.0
            .chain_from_output(dy, y, dx, pass.rows, pass.input_len());
        Ok(())
    }

    fn activation(&self) -> Option<Activation> {
        Some(self.0)
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(*self))
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
