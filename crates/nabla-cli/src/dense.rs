//! A feedforward network in f64 for explaining one example: the plain per-neuron forward pass
//! (z and a of every neuron), the loss and its derivative with respect to the outputs, and the
//! same network built as an f64 autograd graph (the independent route that `explain` and
//! `graph` compare against and draw).

use std::path::Path;

use nabla::autograd::Var;
use nabla::data::{load_source, LoadOptions, Target, Task, TaskChoice};
use nabla::io::{load_model, ModelMeta};
use nabla::loss::Loss;
use nabla::nn::{Activation, LayerSpec, Sequential};
use nabla::Tensor;

/// One linear layer and the activation after it.
#[derive(Clone, Debug)]
pub struct DenseLayer {
    /// Index of the linear module in the Sequential (`0` for `0.weight`).
    pub module_index: usize,
    /// `weight[i][j]`: from input j to neuron i (PyTorch's `[out, in]` layout).
    pub weight: Vec<Vec<f64>>,
    pub bias: Vec<f64>,
    pub activation: Activation,
}

/// The loss of one example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// ½ Σ (t − y)², the textbook error E.
    HalfSse,
    /// Σ (y − t)².
    Sse,
    /// (1/K) Σ (y − t)² over the K outputs.
    Mse,
    /// (1/K) Σ [max(y, 0) − y·t + ln(1 + e^−|y|)] on logits y.
    BceWithLogits,
    /// −ln softmax(y)[class].
    CrossEntropy,
}

impl LossKind {
    /// The loss a model was trained with.
    pub fn from_fused(loss: Loss) -> Self {
        match loss {
            Loss::Sse => LossKind::Sse,
            Loss::Mse => LossKind::Mse,
            Loss::BceWithLogits => LossKind::BceWithLogits,
            Loss::CrossEntropy => LossKind::CrossEntropy,
        }
    }

    /// Formula, for printing.
    pub fn formula(self) -> &'static str {
        match self {
            LossKind::HalfSse => "E = ½ Σ (t − y)²",
            LossKind::Sse => "E = Σ (y − t)²",
            LossKind::Mse => "E = (1/K) Σ (y − t)²",
            LossKind::BceWithLogits => "E = (1/K) Σ [max(y,0) − y·t + ln(1 + e^−|y|)]",
            LossKind::CrossEntropy => "E = −ln softmax(y)[c]",
        }
    }

    /// ∂E/∂y_k, for printing.
    pub fn gradient_formula(self) -> &'static str {
        match self {
            LossKind::HalfSse => "∂E/∂y = y − t",
            LossKind::Sse => "∂E/∂y = 2(y − t)",
            LossKind::Mse => "∂E/∂y = 2(y − t)/K",
            LossKind::BceWithLogits => "∂E/∂y = (σ(y) − t)/K",
            LossKind::CrossEntropy => "∂E/∂y = softmax(y) − [k = c]",
        }
    }
}

/// What the example should produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// Target values, one per output (regression, BCE, the textbook).
    Values(Vec<f64>),
    /// The class index (cross-entropy).
    Class(usize),
}

/// A network, its loss, and one example.
#[derive(Clone, Debug)]
pub struct Example {
    pub layers: Vec<DenseLayer>,
    pub loss: LossKind,
    /// The (standardised) input row.
    pub input: Vec<f64>,
    pub expected: Expected,
    /// Input names (features), for printing.
    pub input_names: Vec<String>,
}

/// z and a of every layer, the loss, and ∂E/∂y.
#[derive(Clone, Debug)]
pub struct Forward {
    /// `z[l][i]`: pre-activation of neuron i of layer l.
    pub z: Vec<Vec<f64>>,
    /// `a[l][i]`: activation; `a[l]` for the last layer is the output y.
    pub a: Vec<Vec<f64>>,
    pub loss: f64,
    /// ∂E/∂y_k.
    pub loss_gradient: Vec<f64>,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// act(z) in f64.
pub fn activate(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Identity => z,
        Activation::Sigmoid => sigmoid(z),
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
                alpha as f64 * z
            }
        }
    }
}

/// act′(z) from z and a = act(z) (kinks: ReLU′(0) = 0, leaky ReLU′(0) = α).
pub fn activation_derivative(act: Activation, z: f64, a: f64) -> f64 {
    match act {
        Activation::Identity => 1.0,
        Activation::Sigmoid => a * (1.0 - a),
        Activation::Tanh => 1.0 - a * a,
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::LeakyRelu { alpha } => {
            if z > 0.0 {
                1.0
            } else {
                alpha as f64
            }
        }
    }
}

impl Example {
    /// The two-neuron cascade of the textbook (the `two_neurons` example): x = 1.5,
    /// w1 = 0.8, b1 = 0.1, w2 = −1.2, b2 = 0.3, t = 1, logistic neurons, E = ½(t − a2)².
    pub fn textbook() -> Self {
        Example {
            layers: vec![
                DenseLayer {
                    module_index: 0,
                    weight: vec![vec![0.8]],
                    bias: vec![0.1],
                    activation: Activation::Sigmoid,
                },
                DenseLayer {
                    module_index: 2,
                    weight: vec![vec![-1.2]],
                    bias: vec![0.3],
                    activation: Activation::Sigmoid,
                },
            ],
            loss: LossKind::HalfSse,
            input: vec![1.5],
            expected: Expected::Values(vec![1.0]),
            input_names: vec!["x".into()],
        }
    }

    /// Row `row` (0-based) of `data` through the model at `model`: the model's layers, its loss,
    /// the row standardised with the model's stored standardisation, and the row's target (a
    /// regression target standardised with the model's target standardisation).
    pub fn from_model(model: &Path, data: &str, row: usize) -> Result<Self, String> {
        let (net, meta, _) = load_model(model).map_err(|e| e.to_string())?;
        let layers = dense_layers(&net)?;
        let opts = LoadOptions {
            target: meta.target.clone(),
            task: if meta.task == Task::Regress {
                TaskChoice::Regress
            } else {
                TaskChoice::Classify
            },
            target_required: true,
            class_names: if meta.task == Task::Regress || meta.class_labels.is_empty() {
                None
            } else {
                Some(meta.class_labels.clone())
            },
        };
        let loaded = load_source(data, &opts).map_err(|e| e.to_string())?;
        let ds = loaded.train;
        if row >= ds.len() {
            return Err(format!(
                "--row {row}: {data} has {} rows (0 to {})",
                ds.len(),
                ds.len().saturating_sub(1)
            ));
        }
        let n_in = layers[0].weight.first().map_or(0, |r| r.len());
        if ds.n_features != n_in {
            return Err(format!(
                "{data} has {} features but the model takes {n_in}",
                ds.n_features
            ));
        }
        let mut x = vec![0f32; ds.n_features];
        ds.fill_batch(&[row], &mut x).map_err(|e| e.to_string())?;
        if let Some(s) = &meta.standardization {
            for (j, v) in x.iter_mut().enumerate() {
                let (m, sd) = (s.mean[j], s.std[j]);
                *v = (*v - m) / if sd > 0.0 { sd } else { 1.0 };
            }
        }
        let loss = LossKind::from_fused(meta.loss);
        let n_out = layers.last().map_or(0, |l| l.bias.len());
        let expected = expected_for(&ds.target, row, loss, n_out, &meta)?;
        Ok(Example {
            layers,
            loss,
            input: x.iter().map(|&v| v as f64).collect(),
            expected,
            input_names: ds.feature_names.clone(),
        })
    }

    /// The per-neuron forward pass, the loss and ∂E/∂y.
    pub fn forward(&self) -> Forward {
        let mut z = vec![];
        let mut a: Vec<Vec<f64>> = vec![];
        for layer in &self.layers {
            let prev = a.last().unwrap_or(&self.input);
            let zl: Vec<f64> = layer
                .weight
                .iter()
                .zip(&layer.bias)
                .map(|(row, b)| row.iter().zip(prev).map(|(w, x)| w * x).sum::<f64>() + b)
                .collect();
            let al = zl.iter().map(|&v| activate(layer.activation, v)).collect();
            z.push(zl);
            a.push(al);
        }
        let y = a.last().cloned().unwrap_or_default();
        let k = y.len() as f64;
        let (loss, loss_gradient) = match (&self.expected, self.loss) {
            (Expected::Class(c), _) => {
                let m = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = y.iter().map(|v| (v - m).exp()).sum();
                let log_z = m + sum.ln();
                let grad = y
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v - log_z).exp() - if i == *c { 1.0 } else { 0.0 })
                    .collect();
                (log_z - y[*c], grad)
            }
            (Expected::Values(t), kind) => {
                let pairs = y.iter().zip(t);
                match kind {
                    LossKind::HalfSse => (
                        0.5 * pairs.clone().map(|(y, t)| (t - y) * (t - y)).sum::<f64>(),
                        pairs.map(|(y, t)| y - t).collect(),
                    ),
                    LossKind::Sse => (
                        pairs.clone().map(|(y, t)| (y - t) * (y - t)).sum::<f64>(),
                        pairs.map(|(y, t)| 2.0 * (y - t)).collect(),
                    ),
                    LossKind::Mse => (
                        pairs.clone().map(|(y, t)| (y - t) * (y - t)).sum::<f64>() / k,
                        pairs.map(|(y, t)| 2.0 * (y - t) / k).collect(),
                    ),
                    LossKind::BceWithLogits | LossKind::CrossEntropy => (
                        pairs
                            .clone()
                            .map(|(y, t)| y.max(0.0) - y * t + (-y.abs()).exp().ln_1p())
                            .sum::<f64>()
                            / k,
                        pairs.map(|(y, t)| (sigmoid(*y) - t) / k).collect(),
                    ),
                }
            }
        };
        Forward {
            z,
            a,
            loss,
            loss_gradient,
        }
    }

    /// The network and loss as an f64 autograd graph for this example. Returns the loss node
    /// and each layer's (weight, bias) parameter nodes; nodes are labelled for drawing.
    pub fn autograd(&self) -> Result<AutogradNet, String> {
        let e = |err: nabla::Error| err.to_string();
        let n = self.input.len();
        let x = Var::constant(Tensor::from_vec(self.input.clone(), &[1, n]).map_err(e)?);
        x.set_label("x");
        let mut h = x.clone();
        let mut params = vec![];
        for layer in &self.layers {
            let (out, inp) = (layer.weight.len(), layer.weight[0].len());
            let flat: Vec<f64> = layer.weight.iter().flatten().copied().collect();
            let w = Var::parameter(Tensor::from_vec(flat, &[out, inp]).map_err(e)?);
            w.set_label(format!("{}.weight", layer.module_index));
            let b = Var::parameter(Tensor::from_vec(layer.bias.clone(), &[out]).map_err(e)?);
            b.set_label(format!("{}.bias", layer.module_index));
            let wt = w.transpose().map_err(e)?;
            let z = h.matmul(&wt).map_err(e)?.add(&b).map_err(e)?;
            z.set_label(format!("z{}", layer.module_index));
            h = match layer.activation {
                Activation::Identity => z,
                Activation::Sigmoid => z.sigmoid(),
                Activation::Tanh => z.tanh(),
                Activation::Relu => z.relu(),
                Activation::LeakyRelu { alpha } => z.leaky_relu(alpha as f64),
            };
            if layer.activation != Activation::Identity {
                h.set_label(format!("a{}", layer.module_index));
            }
            params.push((w, b));
        }
        let k = h.shape()[1];
        let loss = match (&self.expected, self.loss) {
            (Expected::Class(c), _) => nabla::loss::cross_entropy(&h, &[*c]).map_err(e)?,
            (Expected::Values(t), kind) => {
                let t = Var::constant(Tensor::from_vec(t.clone(), &[1, k]).map_err(e)?);
                t.set_label("t");
                match kind {
                    LossKind::HalfSse => t.sub(&h).map_err(e)?.powf(2.0).sum().mul_scalar(0.5),
                    LossKind::Sse => nabla::loss::sse(&h, &t).map_err(e)?,
                    LossKind::Mse => nabla::loss::mse(&h, &t).map_err(e)?,
                    _ => nabla::loss::bce_with_logits(&h, &t).map_err(e)?,
                }
            }
        };
        loss.set_label("E");
        Ok(AutogradNet { loss, params })
    }
}

/// The autograd graph of an [`Example`].
pub struct AutogradNet {
    pub loss: Var<f64>,
    /// (weight, bias) per layer.
    pub params: Vec<(Var<f64>, Var<f64>)>,
}

/// The linear layers of a Sequential with the activation that follows each (dropout is
/// skipped: explanations use the network in evaluation mode).
pub fn dense_layers(net: &Sequential) -> Result<Vec<DenseLayer>, String> {
    let mut layers: Vec<DenseLayer> = vec![];
    let mut activated = false;
    for (index, layer) in net.layers().iter().enumerate() {
        match layer.spec() {
            LayerSpec::Linear { .. } => {
                let params = layer.parameters();
                let w = params[0].1.value();
                let (out, inp) = (w.shape()[0], w.shape()[1]);
                let weight = (0..out)
                    .map(|i| (0..inp).map(|j| w.data()[i * inp + j] as f64).collect())
                    .collect();
                let bias = params[1]
                    .1
                    .value()
                    .data()
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                layers.push(DenseLayer {
                    module_index: index,
                    weight,
                    bias,
                    activation: Activation::Identity,
                });
                activated = false;
            }
            LayerSpec::Activation { activation } => {
                let Some(last) = layers.last_mut() else {
                    return Err(
                        "the model starts with an activation; explain needs a linear layer first"
                            .into(),
                    );
                };
                if activated {
                    return Err("the model applies two activations in a row; explain supports Linear → activation stacks".into());
                }
                last.activation = activation;
                activated = true;
            }
            LayerSpec::Dropout { .. } => {}
            other => {
                return Err(format!(
                    "layer {index} is {}; explain supports Linear → activation stacks",
                    other.describe()
                ))
            }
        }
    }
    if layers.is_empty() {
        return Err("the model has no linear layer".into());
    }
    Ok(layers)
}

fn expected_for(
    target: &Target,
    row: usize,
    loss: LossKind,
    n_out: usize,
    meta: &ModelMeta,
) -> Result<Expected, String> {
    match target {
        Target::Classes { labels, .. } => {
            let label = labels[row] as usize;
            match loss {
                LossKind::CrossEntropy => Ok(Expected::Class(label)),
                _ if n_out == 1 => Ok(Expected::Values(vec![label as f64])),
                _ => Ok(Expected::Values(
                    (0..n_out)
                        .map(|k| if k == label { 1.0 } else { 0.0 })
                        .collect(),
                )),
            }
        }
        Target::Values { values, .. } => {
            let mut t = values[row] as f64;
            if let Some(s) = &meta.target_standardization {
                let (m, sd) = (s.mean[0] as f64, s.std[0] as f64);
                t = (t - m) / if sd > 0.0 { sd } else { 1.0 };
            }
            Ok(Expected::Values(vec![t; n_out.max(1)]))
        }
        Target::None => Err("the data has no target column; explain needs the row's target".into()),
    }
}
