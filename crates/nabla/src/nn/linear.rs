//! The fully connected layer: forward z = x·Wᵀ + b and its chain rule side by side.

use super::module::check_lengths;
use super::{Backprop, Init, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::tensor::gemm::{matmul_into, Trans};
use crate::{Element, Error, Result, Tensor};

/// Settings of a [`Linear`] layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearConfig {
    /// Inputs per row.
    pub in_features: usize,
    /// Outputs (neurons) per row.
    pub out_features: usize,
    /// How the weights are drawn (default: Xavier/Glorot uniform). Biases start at zero, except
    /// with [`Init::TorchDefault`], which draws them from U(±1/√in) as PyTorch does.
    pub init: Init,
}

impl LinearConfig {
    /// `in_features → out_features` with the default initialiser.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        LinearConfig {
            in_features,
            out_features,
            init: Init::XavierUniform,
        }
    }

    /// Draw the layer's weights with `rng`.
    pub fn init<E: Element>(&self, rng: &mut Rng) -> Result<Linear<E>> {
        let (fan_in, fan_out) = (self.in_features, self.out_features);
        if fan_in == 0 || fan_out == 0 {
            return Err(Error::param(
                "layer size",
                format!("a linear layer needs at least one input and one output, got {fan_in} → {fan_out}"),
            ));
        }
        let mut w = Tensor::<f32>::zeros(&[fan_out, fan_in]);
        self.init.fill(w.data_mut(), fan_in, fan_out, rng);
        let mut b = Tensor::<f32>::zeros(&[fan_out]);
        if self.init == Init::TorchDefault {
            self.init.fill(b.data_mut(), fan_in, fan_out, rng);
        }
        Linear::from_tensors(w.cast(), b.cast())
    }
}

/// A fully connected layer: `y = x·Wᵀ + b` with `W` of shape `[out, in]` and `b` of shape
/// `[out]`, as PyTorch's `nn.Linear` stores them. Row i of `W` holds neuron i's weights w, so
/// neuron i computes z = w·x + b_i.
///
/// Backward, for a batch with δ = ∂E/∂z (`rows × out`): ∂E/∂W = δᵀ·x, ∂E/∂b = Σ_rows δ and
/// ∂E/∂x = δ·W.
#[derive(Clone, Debug)]
pub struct Linear<E: Element = f32> {
    /// `[out_features, in_features]`.
    pub weight: Var<E>,
    /// `[out_features]`.
    pub bias: Var<E>,
}

impl<E: Element> Linear<E> {
    /// A layer with weights drawn by `init` (see [`LinearConfig`]).
    pub fn new(in_features: usize, out_features: usize, init: Init, rng: &mut Rng) -> Result<Self> {
        LinearConfig {
            in_features,
            out_features,
            init,
        }
        .init(rng)
    }

    /// A layer from explicit weights `[out, in]` and biases `[out]`.
    pub fn from_tensors(weight: Tensor<E>, bias: Tensor<E>) -> Result<Self> {
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

impl<E: Element> Module<E> for Linear<E> {
    /// y = x·Wᵀ + b, as graph operations (for second derivatives).
    fn forward_graph(&self, x: &Var<E>, params: &[Var<E>]) -> Option<Result<Var<E>>> {
        let [weight, bias] = params else {
            return Some(Err(Error::Autograd(format!(
                "linear forward_graph: expected the weight and the bias, got {} parameters",
                params.len()
            ))));
        };
        Some(
            weight
                .transpose()
                .and_then(|wt| x.matmul(&wt))
                .and_then(|z| z.add(bias)),
        )
    }

    fn spec(&self) -> LayerSpec {
        LayerSpec::Linear {
            in_features: self.in_features(),
            out_features: self.out_features(),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input.iter().product::<usize>() != self.in_features() || input.len() != 1 {
            return Err(Error::ShapeMismatch {
                op: "linear (input row vs weight [out, in])",
                lhs: input.to_vec(),
                rhs: vec![self.out_features(), self.in_features()],
            });
        }
        Ok(vec![self.out_features()])
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (x, _, dy, dx, _) = grads.checked("linear backward", pass)?;
        let (rows, n_in, n_out) = (pass.rows, self.in_features(), self.out_features());
        let delta = &dy[..rows * n_out];
        {
            let mut gw = self.weight.grad_mut();
            let gw = gw.get_or_insert_with(|| Tensor::zeros(&[n_out, n_in]));
            matmul_into(
                n_out,
                n_in,
                rows,
                delta,
                Trans::Yes,
                x,
                Trans::No,
                gw.data_mut(),
                true,
            );
            let mut gb = self.bias.grad_mut();
            let gb = gb.get_or_insert_with(|| Tensor::zeros(&[n_out]));
            let gb = gb.data_mut();
            for row in delta.chunks_exact(n_out) {
                for (b, &d) in gb.iter_mut().zip(row) {
                    *b += d;
                }
            }
        }
        if let Some(dx) = dx {
            let w = self.weight.value();
            matmul_into(
                rows,
                n_in,
                n_out,
                delta,
                Trans::No,
                w.data(),
                Trans::No,
                &mut dx[..rows * n_in],
                false,
            );
        }
        Ok(())
    }

    fn fuses_activation(&self) -> bool {
        true
    }

    /// z = x·Wᵀ, then z + b and the activation in one pass over the output.
    fn forward(&self, x: &[E], y: &mut [E], _scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        let activation = pass.activation;
        check_lengths("linear forward", x, y, pass)?;
        let (rows, n_in, n_out) = (pass.rows, self.in_features(), self.out_features());
        let w = self.weight.value();
        let b = self.bias.value();
        let y = &mut y[..rows * n_out];
        matmul_into(
            rows,
            n_out,
            n_in,
            x,
            Trans::No,
            w.data(),
            Trans::Yes,
            y,
            false,
        );
        activation.apply_rows_with_bias(y, b.data());
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        vec![("weight", self.weight.clone()), ("bias", self.bias.clone())]
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(Linear::<f64>::from_tensors(
            self.weight.value().cast(),
            self.bias.value().cast(),
        )?))
    }
}
