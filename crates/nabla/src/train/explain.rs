//! One example through a network, explained: z and a of every neuron, the loss and ∂E/∂y,
//! δ = ∂E/∂z of every neuron, every parameter's gradient, and ∂E/∂(one weight or bias) as the
//! chain-rule product along every path from the parameter to the loss, summed over the paths.
//!
//! Everything comes from the one engine. [`explain`] runs the network's f64 copy
//! ([`Sequential::to_f64`], in evaluation mode) through [`Sequential::forward_batch`], the loss
//! kernel [`Loss::value_and_grad`] and the backward pass; z, a and δ are read from
//! the [`Workspace`] buffers and the gradients from the parameters. [`Explanation::chain_rule`]
//! then multiplies local derivatives along each path — the weights and
//! [`Activation::derivative_from_output`], the one definition of every act′ — so that the sum
//! over paths can be set beside the engine's gradient (the backward pass never enumerates
//! paths: the two agree because the chain rule holds, not because they share a loop).
//! [`Example::record`] records the same example as an autograd graph with one node per layer
//! ([`Sequential::record`]) and the loss op, for drawing.
//!
//! Explanations cover stacks of linear layers, each followed by at most one activation;
//! dropout is the identity in evaluation mode and is skipped. Other layers are an error.
//!
//! ```
//! use nabla::train::explain::{explain, Example, ParamRef};
//!
//! // The textbook cascade x → (w1, b1) → σ → (w2, b2) → σ with E = ½(t − a2)².
//! let (net, example) = Example::textbook()?;
//! let e = explain(&net, &example)?;
//! let w1 = ParamRef { layer: 0, neuron: 0, input: Some(0) };
//! let chain = e.chain_rule(w1)?;
//! assert_eq!(chain.path_count, 1);
//! assert!((chain.total - chain.gradient).abs() < 1e-15);
//! # Ok::<(), nabla::Error>(())
//! ```

use crate::autograd::Var;
use crate::loss::{bce_with_logits, cross_entropy, mse, sse, Loss, Targets};
use crate::nn::{Activation, ActivationLayer, LayerSpec, Linear, Sequential, Workspace};
use crate::{Element, Error, Result, Tensor};

/// Paths are listed one by one up to this many; above it [`ChainRule::paths`] holds only the
/// largest few.
pub const MAX_LISTED_PATHS: usize = 64;
/// Above this many paths the paths are not enumerated: the total is δ × input.
const MAX_SEARCHED_PATHS: usize = 1_000_000;
/// How many of the largest paths are kept when there are too many to list.
const TOP_PATHS: usize = 5;

/// The textbook error ½ Σ (t − y)² is SSE/2. It is not a training loss, so rather than a second
/// kernel it is the SSE kernel's value and gradient times this ½: the gradient 2(y − t)·½ is
/// y − t exactly, since halving is exact in floating point. The graph form
/// ([`Example::record`]) is the SSE op times the same ½.
const HALF_SSE: f64 = 0.5;

/// The loss of one explained example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExampleLoss {
    /// A training loss (a model is explained with the loss it was trained with).
    Trained(Loss),
    /// ½ Σ (t − y)², the textbook error E (SSE/2, gradient y − t).
    HalfSse,
}

impl From<Loss> for ExampleLoss {
    fn from(loss: Loss) -> Self {
        ExampleLoss::Trained(loss)
    }
}

impl ExampleLoss {
    /// The formula, for printing.
    pub fn formula(self) -> &'static str {
        match self {
            ExampleLoss::HalfSse => "E = ½ Σ (t − y)²",
            ExampleLoss::Trained(Loss::Sse) => "E = Σ (y − t)²",
            ExampleLoss::Trained(Loss::Mse) => "E = (1/K) Σ (y − t)²",
            ExampleLoss::Trained(Loss::BceWithLogits) => {
                "E = (1/K) Σ [max(y,0) − y·t + ln(1 + e^−|y|)]"
            }
            ExampleLoss::Trained(Loss::CrossEntropy) => "E = −ln softmax(y)[c]",
        }
    }

    /// ∂E/∂y_k, for printing.
    pub fn gradient_formula(self) -> &'static str {
        match self {
            ExampleLoss::HalfSse => "∂E/∂y = y − t",
            ExampleLoss::Trained(Loss::Sse) => "∂E/∂y = 2(y − t)",
            ExampleLoss::Trained(Loss::Mse) => "∂E/∂y = 2(y − t)/K",
            ExampleLoss::Trained(Loss::BceWithLogits) => "∂E/∂y = (σ(y) − t)/K",
            ExampleLoss::Trained(Loss::CrossEntropy) => "∂E/∂y = softmax(y) − [k = c]",
        }
    }

    /// The training-loss kernel that computes it and the factor its value and gradient take.
    fn kernel(self) -> (Loss, f64) {
        match self {
            ExampleLoss::Trained(loss) => (loss, 1.0),
            ExampleLoss::HalfSse => (Loss::Sse, HALF_SSE),
        }
    }
}

/// The symbol of an activation in printed formulas: σ, tanh, relu, leaky_relu, id.
pub fn activation_symbol(act: Activation) -> &'static str {
    match act {
        Activation::Identity => "id",
        Activation::Sigmoid => "σ",
        Activation::Tanh => "tanh",
        Activation::Relu => "relu",
        Activation::LeakyRelu { .. } => "leaky_relu",
    }
}

/// act′ as [`Activation::derivative_from_output`] computes it, for printing.
pub fn derivative_formula(act: Activation) -> &'static str {
    match act {
        Activation::Identity => "1",
        Activation::Sigmoid => "a(1 − a)",
        Activation::Tanh => "1 − a²",
        Activation::Relu => "[z > 0]",
        Activation::LeakyRelu { .. } => "1 if z > 0 else α",
    }
}

/// What the example should produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Target values, one per output (regression, BCE, the textbook).
    Values(Vec<f64>),
    /// The class index. With cross-entropy it stays a class; with another loss it is read as
    /// [`Targets::Classes`] reads it: one-hot, or the index itself for a single output.
    Class(usize),
}

/// One example: the input row (already standardised), what it should produce, and the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The input row, one value per network input.
    pub input: Vec<f64>,
    /// The target.
    pub expected: Expected,
    /// The loss E.
    pub loss: ExampleLoss,
}

impl Example {
    /// The two-neuron cascade of the textbook (the `two_neurons` example): x = 1.5,
    /// w1 = 0.8, b1 = 0.1, w2 = −1.2, b2 = 0.3, t = 1, logistic neurons, E = ½(t − a2)². The
    /// network's modules are `0` linear, `1` sigmoid, `2` linear, `3` sigmoid, with the weights
    /// held in f64 (0.8 is the f64 nearest 0.8, not an f32 widened).
    pub fn textbook() -> Result<(Sequential<f64>, Example)> {
        let linear = |w: f64, b: f64| -> Result<Linear<f64>> {
            Linear::from_tensors(
                Tensor::from_vec(vec![w], &[1, 1])?,
                Tensor::from_vec(vec![b], &[1])?,
            )
        };
        let mut net = Sequential::new(&[1])
            .with(linear(0.8, 0.1)?)
            .with(ActivationLayer(Activation::Sigmoid))
            .with(linear(-1.2, 0.3)?)
            .with(ActivationLayer(Activation::Sigmoid));
        net.set_training(false);
        let example = Example {
            input: vec![1.5],
            expected: Expected::Values(vec![1.0]),
            loss: ExampleLoss::HalfSse,
        };
        Ok((net, example))
    }

    /// The target as the loss compares it with `outputs` network outputs.
    fn target_for(&self, outputs: usize) -> Result<Expected> {
        match (&self.expected, self.loss) {
            (Expected::Class(c), ExampleLoss::Trained(Loss::CrossEntropy)) => {
                Ok(Expected::Class(*c))
            }
            (Expected::Class(c), _) => {
                let limit = if outputs == 1 { 2 } else { outputs };
                if *c >= limit {
                    return Err(Error::param(
                        "class index",
                        format!("class {c} is out of range for {outputs} outputs"),
                    ));
                }
                let classes = [*c as u32];
                let targets = Targets::<f64>::Classes(&classes);
                Ok(Expected::Values(
                    (0..outputs).map(|j| targets.value(0, j, outputs)).collect(),
                ))
            }
            (Expected::Values(t), _) => {
                if t.len() != outputs {
                    return Err(Error::ShapeMismatch {
                        op: "explain (target values vs network outputs)",
                        lhs: vec![t.len()],
                        rhs: vec![outputs],
                    });
                }
                Ok(Expected::Values(t.clone()))
            }
        }
    }

    fn check_input(&self, net_inputs: usize) -> Result<()> {
        if self.input.len() != net_inputs {
            return Err(Error::ShapeMismatch {
                op: "explain (input row vs network inputs)",
                lhs: vec![self.input.len()],
                rhs: vec![net_inputs],
            });
        }
        Ok(())
    }

    /// The example as an f64 autograd graph, for drawing: the input `x` (`[1, ...the
    /// network's input shape]`), one
    /// node per layer recorded by [`Sequential::record`] (so every derivative rule is the
    /// layer's own backward pass), the target `t` and the loss op, labelled `E`. Returns the
    /// loss node; call `backward` on it for ∂E/∂node.
    pub fn record<E: Element>(&self, net: &Sequential<E>) -> Result<Var<f64>> {
        let mut net = net.to_f64()?;
        net.set_training(false);
        self.check_input(net.input_size())?;
        let outputs = net.output_size();
        let target = self.target_for(outputs)?;
        let row_shape = [&[1], net.input_shape()].concat();
        let x = Var::constant(Tensor::from_vec(self.input.clone(), &row_shape)?);
        x.set_label("x");
        let y = net.record(&x)?;
        let loss = match target {
            Expected::Class(c) => cross_entropy(&y, &[c])?,
            Expected::Values(t) => {
                let t = Var::constant(Tensor::from_vec(t, &[1, outputs])?);
                t.set_label("t");
                match self.loss {
                    ExampleLoss::Trained(Loss::Sse) => sse(&y, &t)?,
                    ExampleLoss::Trained(Loss::Mse) => mse(&y, &t)?,
                    ExampleLoss::Trained(Loss::BceWithLogits) => bce_with_logits(&y, &t)?,
                    ExampleLoss::Trained(Loss::CrossEntropy) => return Err(needs_class()),
                    ExampleLoss::HalfSse => sse(&y, &t)?.mul_scalar(HALF_SSE),
                }
            }
        };
        loss.set_label("E");
        Ok(loss)
    }
}

fn needs_class() -> Error {
    Error::param("targets", "cross-entropy needs a class index as the target")
}

/// One linear layer of the explained network with the activation after it, and its values on
/// the example.
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronLayer {
    /// Index of the linear module in the [`Sequential`]: its parameters are `{module}.weight`
    /// and `{module}.bias`.
    pub module: usize,
    /// The activation after it (identity when none follows).
    pub activation: Activation,
    /// Inputs of each neuron.
    pub inputs: usize,
    /// `weight[i * inputs + j]`: from input j to neuron i (PyTorch's `[out, in]` layout).
    pub weight: Vec<f64>,
    /// One bias per neuron.
    pub bias: Vec<f64>,
    /// z of each neuron: the linear module's output.
    pub z: Vec<f64>,
    /// a = act(z) of each neuron: the activation module's output (z when none follows).
    pub a: Vec<f64>,
    /// δ = ∂E/∂z of each neuron: the engine's backward buffer of the linear module's output.
    pub delta: Vec<f64>,
    /// ∂E/∂weight, laid out as `weight`.
    pub weight_grad: Vec<f64>,
    /// ∂E/∂bias.
    pub bias_grad: Vec<f64>,
}

impl NeuronLayer {
    /// Number of neurons.
    pub fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// The weight from input `input` to neuron `neuron`.
    pub fn weight(&self, neuron: usize, input: usize) -> f64 {
        self.weight[neuron * self.inputs + input]
    }

    /// act′(z) of neuron `neuron`, from its output a.
    pub fn local_derivative(&self, neuron: usize) -> f64 {
        self.activation.derivative_from_output(self.a[neuron])
    }
}

/// One example through a network: every neuron's z, a and δ, the loss, ∂E/∂y and every
/// parameter's gradient (see [`explain`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    /// The input row.
    pub input: Vec<f64>,
    /// The linear layers in order; the last one's `a` is the output y.
    pub layers: Vec<NeuronLayer>,
    /// The target as the loss compared it (a class only for cross-entropy).
    pub expected: Expected,
    /// Which loss.
    pub loss_kind: ExampleLoss,
    /// E.
    pub loss: f64,
    /// ∂E/∂y_k of each output.
    pub loss_gradient: Vec<f64>,
}

/// One weight or bias of an [`Explanation`]: neuron `neuron` of linear layer `layer` (its
/// position among the linear layers, not its module index); `input` is the weight's input, or
/// `None` for the bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamRef {
    /// Position among the linear layers.
    pub layer: usize,
    /// The neuron.
    pub neuron: usize,
    /// The input j of weight `[neuron, j]`; `None` for the bias.
    pub input: Option<usize>,
}

/// What one factor of a chain-rule product is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorKind {
    /// ∂z/∂w: the value the weight `[neuron, input]` of layer `layer` multiplies (the network
    /// input for layer 0, else a of the layer before).
    Input {
        layer: usize,
        neuron: usize,
        input: usize,
    },
    /// ∂z/∂b = 1 for the bias of neuron `neuron` of layer `layer`.
    Bias { layer: usize, neuron: usize },
    /// act′(z) of neuron `neuron` of layer `layer`.
    Activation { layer: usize, neuron: usize },
    /// ∂z/∂a of the layer before: the weight `[neuron, input]` of layer `layer`.
    Weight {
        layer: usize,
        neuron: usize,
        input: usize,
    },
    /// ∂E/∂y of output `output`.
    Loss { output: usize },
}

/// One factor of a chain-rule product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factor {
    /// Which derivative.
    pub kind: FactorKind,
    /// Its value on the example.
    pub value: f64,
}

/// One path from a parameter to the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The neuron the path passes in each linear layer, from the parameter's layer to the
    /// output layer.
    pub neurons: Vec<usize>,
    /// The factors in order, from ∂z/∂θ to ∂E/∂y.
    pub factors: Vec<Factor>,
    /// Their product.
    pub product: f64,
}

/// ∂E/∂(one parameter), path by path.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainRule {
    /// The parameter.
    pub param: ParamRef,
    /// Its value.
    pub value: f64,
    /// Number of paths from the parameter to the loss (`usize::MAX` when that overflows).
    pub path_count: usize,
    /// Every path when `path_count ≤ MAX_LISTED_PATHS`, else the largest few by |product|
    /// (empty when there are more than a million paths to search).
    pub paths: Vec<Path>,
    /// Whether `paths` holds every path.
    pub listed_all: bool,
    /// The sum of the path products over every path; above a million paths δ × input.
    pub total: f64,
    /// ∂E/∂θ from the engine's backward pass.
    pub gradient: f64,
}

/// The layers an explanation covers: each linear module with the activation module after it.
struct Planned {
    module: usize,
    activation_module: Option<usize>,
    activation: Activation,
}

fn unsupported(msg: impl Into<String>) -> Error {
    Error::param("architecture", msg)
}

fn plan(specs: &[LayerSpec]) -> Result<Vec<Planned>> {
    let mut layers: Vec<Planned> = vec![];
    for (index, spec) in specs.iter().enumerate() {
        match spec {
            LayerSpec::Linear { .. } => layers.push(Planned {
                module: index,
                activation_module: None,
                activation: Activation::Identity,
            }),
            LayerSpec::Activation { activation } => {
                let Some(last) = layers.last_mut() else {
                    return Err(unsupported(
                        "the model starts with an activation; explain needs a linear layer first",
                    ));
                };
                if last.activation_module.is_some() {
                    return Err(unsupported(
                        "the model applies two activations in a row; explain supports Linear → activation stacks",
                    ));
                }
                last.activation = *activation;
                last.activation_module = Some(index);
            }
            // The identity in evaluation mode.
            LayerSpec::Dropout { .. } => {}
            other => {
                return Err(unsupported(format!(
                    "layer {index} is {}; explain supports Linear → activation stacks",
                    other.describe()
                )))
            }
        }
    }
    if layers.is_empty() {
        return Err(unsupported("the model has no linear layer"));
    }
    Ok(layers)
}

/// The values and gradient of a parameter named `name` of a module, in f64.
fn parameter(net: &Sequential<f64>, module: usize, name: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let Some((_, p)) = net.layers()[module]
        .parameters()
        .into_iter()
        .find(|(n, _)| *n == name)
    else {
        return Err(unsupported(format!("layer {module} has no {name}")));
    };
    let value = p.value().data().to_vec();
    let grad = p
        .grad()
        .map_or_else(|| vec![0.0; value.len()], |g| g.data().to_vec());
    Ok((value, grad))
}

/// Runs `example` through the f64 copy of `net` in evaluation mode: the engine's forward pass,
/// the loss, and the engine's backward pass, and returns every neuron's z, a and δ, the loss,
/// ∂E/∂y and every parameter's gradient.
///
/// Errors ([`Error::Param`] named `architecture`) unless the network is a stack of linear
/// layers each followed by at most one activation (dropout is skipped), and when the input or
/// the target does not fit the network.
pub fn explain<E: Element>(net: &Sequential<E>, example: &Example) -> Result<Explanation> {
    let planned = plan(&net.specs())?;
    let mut net = net.to_f64()?;
    net.set_training(false);
    example.check_input(net.input_size())?;
    let outputs = net.output_size();
    let expected = example.target_for(outputs)?;
    let mut ws = Workspace::keeping_every_output(&net, 1)?;
    net.forward_batch(&mut ws, &example.input, 1)?;
    let (kernel, factor) = example.loss.kernel();
    let class;
    let targets = match &expected {
        Expected::Class(c) => {
            class = [u32::try_from(*c)
                .map_err(|_| Error::param("class index", format!("class {c} is out of range")))?];
            Targets::Classes(&class)
        }
        Expected::Values(t) => Targets::Values(t),
    };
    let mut loss_gradient = vec![0.0; outputs];
    let loss =
        factor * kernel.value_and_grad(ws.output(), 1, outputs, targets, &mut loss_gradient)?;
    for g in &mut loss_gradient {
        *g *= factor;
    }
    ws.output_grad_mut().copy_from_slice(&loss_gradient);
    net.zero_grad();
    net.backward_batch(&mut ws, &example.input)?;
    let layers = planned
        .iter()
        .map(|p| {
            let (weight, weight_grad) = parameter(&net, p.module, "weight")?;
            let (bias, bias_grad) = parameter(&net, p.module, "bias")?;
            Ok(NeuronLayer {
                module: p.module,
                activation: p.activation,
                inputs: weight.len() / bias.len().max(1),
                weight,
                bias,
                z: ws.layer_output(p.module).to_vec(),
                a: ws
                    .layer_output(p.activation_module.unwrap_or(p.module))
                    .to_vec(),
                delta: ws.layer_grad(p.module).to_vec(),
                weight_grad,
                bias_grad,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Explanation {
        input: example.input.clone(),
        layers,
        expected,
        loss_kind: example.loss,
        loss,
        loss_gradient,
    })
}

impl Explanation {
    /// The network's output y.
    pub fn output(&self) -> &[f64] {
        self.layers.last().map_or(&[], |l| &l.a)
    }

    /// ∂z/∂θ for the parameter: the input its weight multiplies, or 1 for a bias.
    fn input_of(&self, p: ParamRef) -> f64 {
        p.input.map_or(1.0, |j| {
            if p.layer == 0 {
                self.input[j]
            } else {
                self.layers[p.layer - 1].a[j]
            }
        })
    }

    fn check(&self, p: ParamRef) -> Result<&NeuronLayer> {
        let Some(layer) = self.layers.get(p.layer) else {
            return Err(Error::param(
                "parameter",
                format!(
                    "linear layer {} does not exist ({} linear layers)",
                    p.layer,
                    self.layers.len()
                ),
            ));
        };
        if p.neuron >= layer.outputs() || p.input.is_some_and(|j| j >= layer.inputs) {
            return Err(Error::param(
                "parameter",
                format!(
                    "{p:?} is out of range for module {} ({} neurons, {} inputs)",
                    layer.module,
                    layer.outputs(),
                    layer.inputs
                ),
            ));
        }
        Ok(layer)
    }

    /// Calls `visit` with every path's choice of neuron in each layer after `p.layer`.
    fn for_each_path(&self, p: ParamRef, mut visit: impl FnMut(&[usize])) {
        let widths: Vec<usize> = self.layers[p.layer + 1..]
            .iter()
            .map(NeuronLayer::outputs)
            .collect();
        let mut choice = vec![0usize; widths.len()];
        loop {
            visit(&choice);
            // Odometer increment.
            let mut pos = widths.len();
            loop {
                if pos == 0 {
                    return;
                }
                pos -= 1;
                choice[pos] += 1;
                if choice[pos] < widths[pos] {
                    break;
                }
                choice[pos] = 0;
            }
        }
    }

    /// The product along one path, without recording its factors (for searching many paths).
    fn path_product(&self, p: ParamRef, choice: &[usize]) -> f64 {
        let mut product = self.input_of(p) * self.layers[p.layer].local_derivative(p.neuron);
        let mut prev = p.neuron;
        for (offset, &k) in choice.iter().enumerate() {
            let layer = &self.layers[p.layer + 1 + offset];
            product *= layer.weight(k, prev) * layer.local_derivative(k);
            prev = k;
        }
        product * self.loss_gradient[prev]
    }

    /// One path with its factors.
    fn path(&self, p: ParamRef, choice: &[usize]) -> Path {
        let mut factors = vec![match p.input {
            Some(input) => Factor {
                kind: FactorKind::Input {
                    layer: p.layer,
                    neuron: p.neuron,
                    input,
                },
                value: self.input_of(p),
            },
            None => Factor {
                kind: FactorKind::Bias {
                    layer: p.layer,
                    neuron: p.neuron,
                },
                value: 1.0,
            },
        }];
        let activation = |layer: usize, neuron: usize| Factor {
            kind: FactorKind::Activation { layer, neuron },
            value: self.layers[layer].local_derivative(neuron),
        };
        factors.push(activation(p.layer, p.neuron));
        let mut neurons = vec![p.neuron];
        let mut prev = p.neuron;
        for (offset, &k) in choice.iter().enumerate() {
            let m = p.layer + 1 + offset;
            factors.push(Factor {
                kind: FactorKind::Weight {
                    layer: m,
                    neuron: k,
                    input: prev,
                },
                value: self.layers[m].weight(k, prev),
            });
            factors.push(activation(m, k));
            neurons.push(k);
            prev = k;
        }
        factors.push(Factor {
            kind: FactorKind::Loss { output: prev },
            value: self.loss_gradient[prev],
        });
        let product = factors.iter().map(|f| f.value).product();
        Path {
            neurons,
            factors,
            product,
        }
    }

    /// ∂E/∂(the parameter `p`) as the chain-rule product along every path from it to the loss:
    /// through its neuron's activation, then one neuron of each later layer (its weight and
    /// activation), to ∂E/∂y of one output. Up to [`MAX_LISTED_PATHS`] paths are listed and
    /// summed; up to a million are summed and the five largest kept; beyond that the total is
    /// δ of the parameter's neuron times its input (the δ recursion of the backward pass).
    pub fn chain_rule(&self, p: ParamRef) -> Result<ChainRule> {
        let layer = self.check(p)?;
        let (value, gradient) = match p.input {
            Some(j) => (
                layer.weight(p.neuron, j),
                layer.weight_grad[p.neuron * layer.inputs + j],
            ),
            None => (layer.bias[p.neuron], layer.bias_grad[p.neuron]),
        };
        let path_count = self.layers[p.layer + 1..]
            .iter()
            .try_fold(1usize, |acc, l| acc.checked_mul(l.outputs()))
            .unwrap_or(usize::MAX);
        let listed_all = path_count <= MAX_LISTED_PATHS;
        let mut paths = vec![];
        let total;
        if listed_all {
            self.for_each_path(p, |choice| paths.push(self.path(p, choice)));
            total = paths.iter().map(|q| q.product).sum();
        } else if path_count <= MAX_SEARCHED_PATHS {
            let mut best: Vec<(f64, Vec<usize>)> = vec![];
            let mut sum = 0.0;
            self.for_each_path(p, |choice| {
                let v = self.path_product(p, choice);
                sum += v;
                if best.len() < TOP_PATHS || v.abs() > best[best.len() - 1].0.abs() {
                    best.push((v, choice.to_vec()));
                    best.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
                    best.truncate(TOP_PATHS);
                }
            });
            total = sum;
            paths = best.iter().map(|(_, c)| self.path(p, c)).collect();
        } else {
            total = layer.delta[p.neuron] * self.input_of(p);
        }
        Ok(ChainRule {
            param: p,
            value,
            path_count,
            paths,
            listed_all,
            total,
            gradient,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Dropout, MlpConfig};

    fn mlp(hidden: Vec<usize>, outputs: usize, activation: Activation) -> Sequential {
        Sequential::mlp(
            &MlpConfig::new(3, hidden, outputs)
                .with_activation(activation)
                .with_seed(7),
        )
        .unwrap()
    }

    fn every_param(e: &Explanation) -> Vec<ParamRef> {
        let mut out = vec![];
        for (l, layer) in e.layers.iter().enumerate() {
            for i in 0..layer.outputs() {
                out.push(ParamRef {
                    layer: l,
                    neuron: i,
                    input: None,
                });
                for j in 0..layer.inputs {
                    out.push(ParamRef {
                        layer: l,
                        neuron: i,
                        input: Some(j),
                    });
                }
            }
        }
        out
    }

    #[test]
    fn path_products_sum_to_the_engines_gradient() {
        let x = vec![0.4, -1.3, 0.8];
        for (net, expected, loss) in [
            (
                mlp(vec![4, 3], 3, Activation::Tanh),
                Expected::Class(2),
                Loss::CrossEntropy,
            ),
            (
                mlp(vec![5], 1, Activation::Sigmoid),
                Expected::Class(1),
                Loss::BceWithLogits,
            ),
            (
                mlp(vec![3, 2], 2, Activation::LeakyRelu { alpha: 0.1 }),
                Expected::Values(vec![0.3, -0.7]),
                Loss::Mse,
            ),
            (
                mlp(vec![4], 2, Activation::Relu),
                Expected::Class(0),
                Loss::Sse,
            ),
        ] {
            let example = Example {
                input: x.clone(),
                expected,
                loss: loss.into(),
            };
            let e = explain(&net, &example).unwrap();
            for p in every_param(&e) {
                let c = e.chain_rule(p).unwrap();
                assert!(c.listed_all);
                assert_eq!(c.paths.len(), c.path_count);
                let tol = 1e-12 * (1.0 + c.gradient.abs());
                assert!(
                    (c.total - c.gradient).abs() <= tol,
                    "{loss:?} {p:?}: {} vs {}",
                    c.total,
                    c.gradient
                );
                for path in &c.paths {
                    let product: f64 = path.factors.iter().map(|f| f.value).product();
                    assert_eq!(product, path.product);
                }
            }
            // The engine's gradient equals the f64 graph's (a second route through the same
            // layers, with its own order of work).
            let loss_node = example.record(&net).unwrap();
            loss_node.backward().unwrap();
            assert!((loss_node.value().item().unwrap() - e.loss).abs() < 1e-12);
        }
    }

    #[test]
    fn delta_is_a_finite_difference_of_the_loss_in_z() {
        // z = W·x + b, so moving b by h moves z by h: (E(b + h) − E(b − h)) / 2h is ∂E/∂z.
        let net = mlp(vec![4, 3], 3, Activation::Sigmoid).to_f64().unwrap();
        let example = Example {
            input: vec![0.9, 0.1, -0.5],
            expected: Expected::Class(1),
            loss: Loss::CrossEntropy.into(),
        };
        let e = explain(&net, &example).unwrap();
        let h = 1e-6;
        let mut checked = 0;
        for layer in &e.layers {
            let bias = net.layers()[layer.module].parameters()[1].1.clone();
            for i in 0..layer.outputs() {
                let b = bias.value().data()[i];
                bias.value_mut().data_mut()[i] = b + h;
                let plus = explain(&net, &example).unwrap().loss;
                bias.value_mut().data_mut()[i] = b - h;
                let minus = explain(&net, &example).unwrap().loss;
                bias.value_mut().data_mut()[i] = b;
                let fd = (plus - minus) / (2.0 * h);
                assert!(
                    (fd - layer.delta[i]).abs() < 1e-8,
                    "module {} neuron {i}: {fd} vs {}",
                    layer.module,
                    layer.delta[i]
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 4 + 3 + 3);
        assert!(e.layers[0].delta.iter().any(|d| d.abs() > 1e-4));
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    #[test]
    fn the_textbook_cascade_gives_the_known_figures() {
        let (net, example) = Example::textbook().unwrap();
        let e = explain(&net, &example).unwrap();
        // The figures of the README's `nabla explain`, to the ten digits printed there.
        let near = |a: f64, b: f64| (a - b).abs() < 5e-11;
        assert!(near(e.layers[0].z[0], 1.3));
        assert!(near(e.layers[0].a[0], 0.7858349830));
        assert!(near(e.layers[1].z[0], -0.6430019797));
        assert!(near(e.layers[1].a[0], 0.3445682534));
        assert!(near(e.loss, 0.2147953872));
        assert_eq!(e.loss_kind.formula(), "E = ½ Σ (t − y)²");
        let w1 = e
            .chain_rule(ParamRef {
                layer: 0,
                neuron: 0,
                input: Some(0),
            })
            .unwrap();
        assert_eq!(w1.value, 0.8);
        assert_eq!(w1.path_count, 1);
        let values: Vec<f64> = w1.paths[0].factors.iter().map(|f| f.value).collect();
        for (got, want) in values
            .iter()
            .zip([1.5, 0.1682983625, -1.2, 0.2258409722, -0.6554317466])
        {
            assert!(near(*got, want), "{values:?}");
        }
        assert!(near(w1.total, 0.0448417552));
        assert!((w1.total - 4.484175516961785e-2).abs() < 1e-16);
        // By hand: δ2 = (a2 − t)·a2(1 − a2), δ1 = δ2·w2·a1(1 − a1).
        let (x, t) = (1.5, 1.0);
        let a1 = sigmoid(0.8 * x + 0.1);
        let a2 = sigmoid(-1.2 * a1 + 0.3);
        let delta2 = (a2 - t) * a2 * (1.0 - a2);
        let delta1 = delta2 * -1.2 * a1 * (1.0 - a1);
        assert!((e.layers[1].delta[0] - delta2).abs() < 1e-15);
        assert!((e.layers[0].delta[0] - delta1).abs() < 1e-15);
        assert!((e.loss - 0.5 * (t - a2) * (t - a2)).abs() < 1e-15);
        assert!((e.loss_gradient[0] - (a2 - t)).abs() < 1e-15);
        for (p, hand) in [
            ((0, Some(0)), delta1 * x),
            ((0, None), delta1),
            ((1, Some(0)), delta2 * a1),
            ((1, None), delta2),
        ] {
            let c = e
                .chain_rule(ParamRef {
                    layer: p.0,
                    neuron: 0,
                    input: p.1,
                })
                .unwrap();
            assert!((c.total - hand).abs() < 1e-15, "{p:?}");
            assert!((c.gradient - hand).abs() < 1e-15, "{p:?}");
        }
    }

    #[test]
    fn many_paths_keep_the_largest_and_beyond_a_million_use_delta() {
        // 6 × 5 × 3 = 90 paths from layer 0: summed, the five largest kept.
        let net = mlp(vec![4, 6, 5], 3, Activation::Tanh);
        let example = Example {
            input: vec![0.2, 0.5, -1.0],
            expected: Expected::Class(0),
            loss: Loss::CrossEntropy.into(),
        };
        let e = explain(&net, &example).unwrap();
        let p = ParamRef {
            layer: 0,
            neuron: 1,
            input: Some(2),
        };
        let c = e.chain_rule(p).unwrap();
        assert_eq!(c.path_count, 90);
        assert!(!c.listed_all);
        assert_eq!(c.paths.len(), TOP_PATHS);
        assert!(c
            .paths
            .windows(2)
            .all(|w| w[0].product.abs() >= w[1].product.abs()));
        assert!((c.total - c.gradient).abs() <= 1e-12 * (1.0 + c.gradient.abs()));
        // 40⁴ · 2 paths: not searched; the total is δ × input.
        let net = Sequential::<f64>::mlp(
            &MlpConfig::new(2, [40; 5], 2)
                .with_activation(Activation::Tanh)
                .with_seed(3),
        )
        .unwrap();
        let example = Example {
            input: vec![0.7, -0.2],
            expected: Expected::Values(vec![0.5, 0.1]),
            loss: Loss::Sse.into(),
        };
        let e = explain(&net, &example).unwrap();
        let p = ParamRef {
            layer: 0,
            neuron: 1,
            input: Some(1),
        };
        let c = e.chain_rule(p).unwrap();
        assert!(c.path_count > MAX_SEARCHED_PATHS);
        assert!(c.paths.is_empty());
        assert_eq!(c.total, e.layers[0].delta[1] * e.input[1]);
        assert!((c.total - c.gradient).abs() <= 1e-12 * (1.0 + c.gradient.abs()));
    }

    #[test]
    fn targets_dropout_and_unsupported_architectures() {
        // A class with a loss other than cross-entropy is compared as the loss reads it.
        let example = Example {
            input: vec![0.1, 0.2, 0.3],
            expected: Expected::Class(1),
            loss: Loss::Sse.into(),
        };
        let e = explain(&mlp(vec![2], 3, Activation::Relu), &example).unwrap();
        assert_eq!(e.expected, Expected::Values(vec![0.0, 1.0, 0.0]));
        let e = explain(&mlp(vec![2], 1, Activation::Relu), &example).unwrap();
        assert_eq!(e.expected, Expected::Values(vec![1.0]));
        let bad = Example {
            expected: Expected::Class(3),
            ..example.clone()
        };
        assert!(explain(&mlp(vec![2], 3, Activation::Relu), &bad).is_err());
        let short = Example {
            input: vec![0.1],
            ..example.clone()
        };
        assert!(explain(&mlp(vec![2], 3, Activation::Relu), &short).is_err());

        // Dropout is the identity: the same figures as without it, even in training mode.
        let mut with = Sequential::mlp(
            &MlpConfig::new(3, [4], 3)
                .with_activation(Activation::Tanh)
                .with_dropout(0.5)
                .with_seed(7),
        )
        .unwrap();
        with.set_training(true);
        let without = mlp(vec![4], 3, Activation::Tanh);
        // The same weights, under other names (the dropout module takes an index).
        for (to, from) in without.parameters().iter().zip(with.parameters()) {
            to.set_value(from.value().clone()).unwrap();
        }
        let a = explain(&with, &example).unwrap();
        let b = explain(&without, &example).unwrap();
        assert_eq!(a.loss, b.loss);
        assert_eq!(a.layers[0].delta, b.layers[0].delta);
        assert_eq!(a.layers[0].activation, Activation::Tanh);

        let mut starts = Sequential::<f32>::new(&[3]);
        starts.push(ActivationLayer(Activation::Relu));
        let mut twice = mlp(vec![2], 3, Activation::Relu);
        twice.push(ActivationLayer(Activation::Relu));
        twice.push(ActivationLayer(Activation::Tanh));
        let mut dropout_only = Sequential::<f32>::new(&[3]);
        dropout_only.push(Dropout::new(0.5, 1).unwrap());
        for (net, needle) in [
            (starts, "starts with an activation"),
            (twice, "two activations in a row"),
            (dropout_only, "no linear layer"),
        ] {
            let err = explain(&net, &example).unwrap_err();
            assert!(
                matches!(&err, Error::Param { name, msg } if name == "architecture" && msg.contains(needle)),
                "{err}"
            );
        }
        let e = explain(&mlp(vec![2], 3, Activation::Relu), &example).unwrap();
        assert!(e
            .chain_rule(ParamRef {
                layer: 0,
                neuron: 2,
                input: None
            })
            .is_err());
    }

    #[test]
    fn the_recorded_graph_has_one_node_per_layer_and_the_engines_gradients() {
        let net = mlp(vec![4], 3, Activation::Sigmoid).to_f64().unwrap();
        let example = Example {
            input: vec![0.3, -0.6, 1.1],
            expected: Expected::Class(2),
            loss: Loss::CrossEntropy.into(),
        };
        let e = explain(&net, &example).unwrap();
        let loss = example.record(&net).unwrap();
        assert_eq!(loss.op_name(), "cross_entropy");
        assert_eq!(loss.label().as_deref(), Some("E"));
        // E ← linear (module 2) ← sigmoid ← linear (module 0) ← x, 0.weight, 0.bias.
        let z2 = &loss.inputs()[0];
        let a1 = &z2.inputs()[0];
        let z0 = &a1.inputs()[0];
        assert_eq!(
            [z2.op_name(), a1.op_name(), z0.op_name()],
            ["linear", "sigmoid", "linear"]
        );
        let w0 = &z0.inputs()[1];
        assert_eq!(w0.label().as_deref(), Some("0.weight"));
        loss.backward().unwrap();
        for (g, want) in w0
            .grad()
            .unwrap()
            .data()
            .iter()
            .zip(&e.layers[0].weight_grad)
        {
            assert!((g - want).abs() < 1e-14);
        }
        // The textbook records its ½ SSE as the SSE op halved.
        let (net, example) = Example::textbook().unwrap();
        let loss = example.record(&net).unwrap();
        let e = explain(&net, &example).unwrap();
        assert_eq!(loss.value().item().unwrap(), e.loss);
    }
}
