use serde::{Deserialize, Serialize};

use super::{Activation, ActivationLayer, Dropout, Init, Linear, Module};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// One module of a [`Sequential`].
#[derive(Debug)]
pub enum Layer {
    Linear(Linear),
    Activation(ActivationLayer),
    Dropout(Dropout),
}

impl Layer {
    fn as_module(&self) -> &dyn Module {
        match self {
            Layer::Linear(l) => l,
            Layer::Activation(a) => a,
            Layer::Dropout(d) => d,
        }
    }
}

/// Modules applied one after another. Parameter names follow PyTorch's `nn.Sequential`
/// state dict: every module, activations and dropout included, takes an index, and a linear
/// layer at index i owns `i.weight` and `i.bias`.
#[derive(Debug, Default)]
pub struct Sequential {
    layers: Vec<Layer>,
    training: bool,
}

/// The shape of a feedforward network: `inputs → hidden[0] → … → outputs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Number of input features.
    pub inputs: usize,
    /// Width of each hidden layer.
    pub hidden: Vec<usize>,
    /// Number of outputs (classes, one logit, or regression targets).
    pub outputs: usize,
    /// Activation of the hidden layers.
    pub activation: Activation,
    /// Activation of the output layer (identity for logits and regression).
    pub output_activation: Activation,
    /// Dropout probability after each hidden activation (0 = none).
    pub dropout: f32,
    /// Weight initialiser; `None` picks [`Init::default_for`] the activation.
    pub init: Option<Init>,
    /// Seed for initial weights and dropout masks.
    pub seed: u64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            inputs: 1,
            hidden: vec![],
            outputs: 1,
            activation: Activation::Relu,
            output_activation: Activation::Identity,
            dropout: 0.0,
            init: None,
            seed: 0,
        }
    }
}

impl Sequential {
    /// An empty stack in training mode.
    pub fn new() -> Self {
        Sequential {
            layers: vec![],
            training: true,
        }
    }

    /// Append a module.
    pub fn push(&mut self, layer: Layer) {
        self.layers.push(layer);
    }

    /// Builder form of [`Sequential::push`].
    pub fn with(mut self, layer: Layer) -> Self {
        self.push(layer);
        self
    }

    /// A feedforward network: Linear, activation (and dropout) per hidden layer, then the
    /// output Linear and, unless identity, the output activation.
    pub fn mlp(cfg: &MlpConfig) -> Result<Self> {
        cfg.activation.validate()?;
        cfg.output_activation.validate()?;
        if cfg.inputs == 0 || cfg.outputs == 0 || cfg.hidden.contains(&0) {
            return Err(Error::param(
                "architecture",
                format!(
                    "every layer needs at least one unit (inputs {}, hidden {:?}, outputs {})",
                    cfg.inputs, cfg.hidden, cfg.outputs
                ),
            ));
        }
        if !(0.0..1.0).contains(&cfg.dropout) {
            return Err(Error::param(
                "dropout",
                format!("{} is outside [0, 1)", cfg.dropout),
            ));
        }
        let mut rng = Rng::new(cfg.seed);
        let hidden_init = cfg.init.unwrap_or(Init::default_for(cfg.activation));
        let out_init = cfg.init.unwrap_or(Init::default_for(cfg.output_activation));
        let mut seq = Sequential::new();
        let mut fan_in = cfg.inputs;
        for &h in &cfg.hidden {
            seq.push(Layer::Linear(Linear::new(
                fan_in,
                h,
                hidden_init,
                &mut rng,
            )?));
            seq.push(Layer::Activation(ActivationLayer(cfg.activation)));
            if cfg.dropout > 0.0 {
                let seed =
                    cfg.seed ^ (0xD40_u64 + seq.layers.len() as u64).wrapping_mul(0x9E37_79B9);
                seq.push(Layer::Dropout(Dropout::new(cfg.dropout, seed)?));
            }
            fan_in = h;
        }
        seq.push(Layer::Linear(Linear::new(
            fan_in,
            cfg.outputs,
            out_init,
            &mut rng,
        )?));
        if cfg.output_activation != Activation::Identity {
            seq.push(Layer::Activation(ActivationLayer(cfg.output_activation)));
        }
        Ok(seq)
    }

    /// The modules in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The modules in order, mutable.
    pub fn layers_mut(&mut self) -> &mut [Layer] {
        &mut self.layers
    }

    /// Whether the network is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Input width (of the first linear layer).
    pub fn input_size(&self) -> Option<usize> {
        self.layers.iter().find_map(|l| match l {
            Layer::Linear(l) => Some(l.in_features()),
            _ => None,
        })
    }

    /// Output width (of the last linear layer).
    pub fn output_size(&self) -> Option<usize> {
        self.layers.iter().rev().find_map(|l| match l {
            Layer::Linear(l) => Some(l.out_features()),
            _ => None,
        })
    }

    /// The linear layers with their module index.
    pub fn linear_layers(&self) -> Vec<(usize, &Linear)> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match l {
                Layer::Linear(lin) => Some((i, lin)),
                _ => None,
            })
            .collect()
    }

    /// A copy of every parameter by name, in PyTorch state-dict order.
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.named_parameters()
            .into_iter()
            .map(|(n, v)| (n, v.value().clone()))
            .collect()
    }

    /// Replace every parameter from `(name, tensor)` pairs. Every parameter of the network must
    /// be present with its exact shape and no extra names are allowed; the error names the first
    /// mismatch.
    pub fn load_state_dict(&self, tensors: &[(String, Tensor)]) -> Result<()> {
        let params = self.named_parameters();
        for (name, _) in tensors {
            if !params.iter().any(|(n, _)| n == name) {
                return Err(Error::Model {
                    path: String::new(),
                    msg: format!(
                        "unexpected tensor '{name}' (the network has {})",
                        params
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        for (name, var) in &params {
            let Some((_, t)) = tensors.iter().find(|(n, _)| n == name) else {
                return Err(Error::Model {
                    path: String::new(),
                    msg: format!("missing tensor '{name}'"),
                });
            };
            if t.shape() != var.value().shape() {
                return Err(Error::Model {
                    path: String::new(),
                    msg: format!(
                        "tensor '{name}' has shape {:?} but the network needs {:?}",
                        t.shape(),
                        var.value().shape()
                    ),
                });
            }
        }
        for (name, var) in &params {
            let (_, t) = tensors
                .iter()
                .find(|(n, _)| n == name)
                .expect("checked above");
            var.value_mut().data_mut().copy_from_slice(t.data());
        }
        Ok(())
    }

    /// States of the dropout generators, in layer order (for checkpoints).
    pub fn dropout_rng_states(&self) -> Vec<[u64; 4]> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Dropout(d) => Some(d.rng_state()),
                _ => None,
            })
            .collect()
    }

    /// Restore the states from [`Sequential::dropout_rng_states`].
    pub fn set_dropout_rng_states(&self, states: &[[u64; 4]]) -> Result<()> {
        let drops: Vec<&Dropout> = self
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Dropout(d) => Some(d),
                _ => None,
            })
            .collect();
        if drops.len() != states.len() {
            return Err(Error::param(
                "dropout states",
                format!("{} states for {} dropout layers", states.len(), drops.len()),
            ));
        }
        for (d, s) in drops.iter().zip(states) {
            d.set_rng_state(*s);
        }
        Ok(())
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.as_module().forward(&h)?;
        }
        Ok(h)
    }

    fn named_parameters(&self) -> Vec<(String, Var)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            for (n, v) in l.as_module().named_parameters() {
                out.push((format!("{i}.{n}"), v));
            }
        }
        out
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for l in &mut self.layers {
            if let Layer::Dropout(d) = l {
                d.set_training_flag(training);
            }
        }
    }
}
