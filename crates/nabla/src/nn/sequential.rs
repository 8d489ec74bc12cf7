//! [`Sequential`]: modules applied one after another, and the [`Workspace`] that holds every
//! intermediate value of a batch so that forward and backward allocate nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::module::row_len;
use super::spec::{build_layer, BuildContext};
use super::{Activation, Backprop, Init, LayerRegistry, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::loss::{Loss, Targets};
use crate::rng::Rng;
use crate::{Element, Error, Result, Tensor};

/// Modules applied one after another. Parameter names follow PyTorch's `nn.Sequential`
/// state dict: every module, activations and dropout included, takes an index, and a linear
/// layer at index i owns `i.weight` and `i.bias`.
///
/// It holds any [`Module`], a user's own included, and knows the shape of one input row, so
/// that it can plan every layer's output shape.
#[derive(Debug)]
pub struct Sequential<E: Element = f32> {
    /// Identifies the layer list a [`Workspace`] was planned for (new on every change).
    id: u64,
    layers: Vec<Box<dyn Module<E>>>,
    input_shape: Vec<usize>,
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
    /// Weight initialiser; `None` picks [`Init::default_for`] the activation after each layer.
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

impl MlpConfig {
    /// `inputs` features, the hidden widths, `outputs`; every other field at its default
    /// (ReLU hidden layers, identity output, no dropout, the activation's initialiser, seed 0).
    /// The `with_*` methods change one field each:
    /// `MlpConfig::new(2, [8], 1).with_activation(Activation::Tanh).with_seed(3)`.
    pub fn new(inputs: usize, hidden: impl Into<Vec<usize>>, outputs: usize) -> Self {
        MlpConfig {
            inputs,
            hidden: hidden.into(),
            outputs,
            ..MlpConfig::default()
        }
    }

    /// The activation of the hidden layers.
    pub fn with_activation(self, activation: Activation) -> Self {
        MlpConfig { activation, ..self }
    }

    /// The activation of the output layer.
    pub fn with_output_activation(self, output_activation: Activation) -> Self {
        MlpConfig {
            output_activation,
            ..self
        }
    }

    /// Dropout probability after each hidden activation.
    pub fn with_dropout(self, dropout: f32) -> Self {
        MlpConfig { dropout, ..self }
    }

    /// The weight initialiser of every Linear layer.
    pub fn with_init(self, init: Init) -> Self {
        MlpConfig {
            init: Some(init),
            ..self
        }
    }

    /// The seed of the initial weights and dropout masks.
    pub fn with_seed(self, seed: u64) -> Self {
        MlpConfig { seed, ..self }
    }

    /// The layer list: Linear, activation (and dropout) per hidden layer, then the output
    /// Linear and, unless identity, the output activation.
    pub fn layer_specs(&self) -> Result<Vec<LayerSpec>> {
        self.activation.validate()?;
        self.output_activation.validate()?;
        if self.inputs == 0 || self.outputs == 0 || self.hidden.contains(&0) {
            return Err(Error::param(
                "architecture",
                format!(
                    "every layer needs at least one unit (inputs {}, hidden {:?}, outputs {})",
                    self.inputs, self.hidden, self.outputs
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::param(
                "dropout",
                format!("{} is outside [0, 1)", self.dropout),
            ));
        }
        let mut specs = vec![];
        let mut fan_in = self.inputs;
        for &h in &self.hidden {
            specs.push(LayerSpec::Linear {
                in_features: fan_in,
                out_features: h,
            });
            specs.push(LayerSpec::Activation {
                activation: self.activation,
            });
            if self.dropout > 0.0 {
                specs.push(LayerSpec::Dropout { p: self.dropout });
            }
            fan_in = h;
        }
        specs.push(LayerSpec::Linear {
            in_features: fan_in,
            out_features: self.outputs,
        });
        if self.output_activation != Activation::Identity {
            specs.push(LayerSpec::Activation {
                activation: self.output_activation,
            });
        }
        Ok(specs)
    }
}

fn next_network_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Seed of the generator of the layer at `index` (dropout) in a network seeded with `seed`.
fn layer_seed(seed: u64, index: usize) -> u64 {
    seed ^ (0xD40_u64 + index as u64).wrapping_mul(0x9E37_79B9)
}

impl<E: Element> Sequential<E> {
    /// An empty stack for input rows of `input_shape` (`&[features]` for dense data), in
    /// training mode.
    pub fn new(input_shape: &[usize]) -> Self {
        Sequential {
            id: next_network_id(),
            layers: vec![],
            input_shape: input_shape.to_vec(),
            training: true,
        }
    }

    /// Append a module.
    pub fn push(&mut self, layer: impl Module<E>) {
        self.push_boxed(Box::new(layer));
    }

    /// Append a boxed module.
    pub fn push_boxed(&mut self, layer: Box<dyn Module<E>>) {
        self.layers.push(layer);
        self.id = next_network_id();
    }

    /// Builder form of [`Sequential::push`].
    pub fn with(mut self, layer: impl Module<E>) -> Self {
        self.push(layer);
        self
    }

    /// A network from built-in layer descriptions. Weights are drawn in layer order from one
    /// generator seeded with `seed`, each linear layer with `init`, or when `None` with
    /// [`Init::default_for`] the activation that follows it; a dropout layer at index i draws
    /// its masks from its own generator seeded from `seed` and i.
    pub fn from_specs(
        input_shape: &[usize],
        specs: &[LayerSpec],
        init: Option<Init>,
        seed: u64,
    ) -> Result<Self> {
        Self::build(input_shape, specs, init, seed, |spec, ctx| {
            build_layer::<E>(spec, ctx)
        })
    }

    fn build(
        input_shape: &[usize],
        specs: &[LayerSpec],
        init: Option<Init>,
        seed: u64,
        mut make: impl FnMut(&LayerSpec, &mut BuildContext<'_>) -> Result<Box<dyn Module<E>>>,
    ) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let mut net = Sequential::new(input_shape);
        for (i, spec) in specs.iter().enumerate() {
            let next_act = specs
                .get(i + 1)
                .and_then(LayerSpec::activation)
                .unwrap_or(Activation::Identity);
            let mut ctx = BuildContext {
                init: init.unwrap_or(Init::default_for(next_act)),
                rng: &mut rng,
                seed: layer_seed(seed, i),
            };
            net.push_boxed(make(spec, &mut ctx)?);
        }
        net.output_shape()?;
        Ok(net)
    }

    /// A feedforward network (see [`MlpConfig::layer_specs`]).
    pub fn mlp(cfg: &MlpConfig) -> Result<Self> {
        Self::from_specs(&[cfg.inputs], &cfg.layer_specs()?, cfg.init, cfg.seed)
    }

    /// The modules in order.
    pub fn layers(&self) -> &[Box<dyn Module<E>>] {
        &self.layers
    }

    /// The modules, taking the network apart.
    pub fn into_layers(self) -> Vec<Box<dyn Module<E>>> {
        self.layers
    }

    /// Every layer's description, in order.
    pub fn specs(&self) -> Vec<LayerSpec> {
        self.layers.iter().map(|l| l.spec()).collect()
    }

    /// The shape of one input row.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Values in one input row.
    pub fn input_size(&self) -> usize {
        row_len(&self.input_shape)
    }

    /// The shape of one row after each layer, in order; an error names the first layer that
    /// cannot take its input.
    pub fn layer_shapes(&self) -> Result<Vec<Vec<usize>>> {
        let mut shape = self.input_shape.clone();
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            shape = l.output_shape(&shape).map_err(|e| match e {
                Error::Param { name, msg } => Error::Param {
                    name,
                    msg: format!("layer {i} ({}): {msg}", l.spec().describe()),
                },
                other => other,
            })?;
            out.push(shape.clone());
        }
        Ok(out)
    }

    /// The shape of one output row.
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        Ok(self
            .layer_shapes()?
            .pop()
            .unwrap_or_else(|| self.input_shape.clone()))
    }

    /// Values in one output row.
    pub fn output_size(&self) -> usize {
        self.output_shape().map(|s| s.iter().product()).unwrap_or(0)
    }

    /// Whether the network is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Switch between training (dropout active) and evaluation behaviour.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    /// The parameters with their state-dict names (`0.weight`, `0.bias`, ...), in order.
    pub fn named_parameters(&self) -> Vec<(String, Var<E>)> {
        self.named(false)
    }

    /// Each layer's parameters (and, with `buffers`, then its buffers) under state-dict names.
    fn named(&self, buffers: bool) -> Vec<(String, Var<E>)> {
        let mut out = vec![];
        for (i, l) in self.layers.iter().enumerate() {
            let extra = if buffers { l.buffers() } else { vec![] };
            for (n, v) in l.parameters().into_iter().chain(extra) {
                out.push((format!("{i}.{n}"), v));
            }
        }
        out
    }

    /// The parameters without names.
    pub fn parameters(&self) -> Vec<Var<E>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Zero every parameter's gradient.
    pub fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.value().len()).sum()
    }

    /// Every parameter and buffer (saved, untrained state such as running statistics) with
    /// its state-dict name, layer by layer: each layer's parameters, then its buffers.
    pub fn named_tensors(&self) -> Vec<(String, Var<E>)> {
        self.named(true)
    }

    /// A copy of every parameter and buffer by name, in PyTorch state-dict order.
    pub fn state_dict(&self) -> Vec<(String, Tensor<E>)> {
        self.named_tensors()
            .into_iter()
            .map(|(n, v)| (n, v.value().clone()))
            .collect()
    }

    /// Replace every parameter from `(name, tensor)` pairs. Every parameter of the network must
    /// be present with its exact shape and no extra names are allowed; the error names the first
    /// mismatch.
    pub fn load_state_dict(&self, tensors: &[(String, Tensor<E>)]) -> Result<()> {
        let params = self.named_tensors();
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
        let mut sources = Vec::with_capacity(params.len());
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
            sources.push(t);
        }
        for ((_, var), t) in params.iter().zip(sources) {
            var.value_mut().data_mut().copy_from_slice(t.data());
        }
        Ok(())
    }

    /// States of the layers' random generators (dropout), in layer order (for checkpoints).
    pub fn dropout_rng_states(&self) -> Vec<[u64; 4]> {
        self.layers.iter().filter_map(|l| l.rng_state()).collect()
    }

    /// Restore the states from [`Sequential::dropout_rng_states`].
    pub fn set_dropout_rng_states(&self, states: &[[u64; 4]]) -> Result<()> {
        let with_rng: Vec<&dyn Module<E>> = self
            .layers
            .iter()
            .filter(|l| l.rng_state().is_some())
            .map(|l| l.as_ref())
            .collect();
        if with_rng.len() != states.len() {
            return Err(Error::param(
                "dropout states",
                format!(
                    "{} states for {} dropout layers",
                    states.len(),
                    with_rng.len()
                ),
            ));
        }
        for (l, s) in with_rng.iter().zip(states) {
            l.set_rng_state(*s);
        }
        Ok(())
    }

    /// A deep copy in f64 running the same layer code (for gradient checks and explanations).
    pub fn to_f64(&self) -> Result<Sequential<f64>> {
        Ok(Sequential {
            id: next_network_id(),
            layers: self
                .layers
                .iter()
                .map(|l| l.to_f64())
                .collect::<Result<_>>()?,
            input_shape: self.input_shape.clone(),
            training: self.training,
        })
    }

    /// Forward pass of `rows` rows of `x` (`rows × input_size`, row-major); returns the
    /// outputs (`rows × output_size`). Every layer's output stays in `ws` for
    /// the backward pass and for inspection ([`Workspace::layer_output`]).
    pub fn forward_batch<'w>(
        &self,
        ws: &'w mut Workspace<E>,
        x: &[E],
        rows: usize,
    ) -> Result<&'w [E]> {
        ws.check(self)?;
        let inputs = self.input_size();
        if rows == 0 || rows > ws.max_batch || x.len() < rows * inputs {
            return Err(Error::ShapeMismatch {
                op: "forward (input rows vs workspace)",
                lhs: vec![rows, x.len() / inputs.max(1)],
                rhs: vec![ws.max_batch, inputs],
            });
        }
        ws.rows = rows;
        let mut i = 0;
        while i < self.layers.len() {
            let layer = &self.layers[i];
            let (before, rest) = ws.outputs.split_at_mut(i);
            let input: &[E] = if i == 0 { x } else { &before[i - 1] };
            let mut pass = layer_pass(&self.input_shape, &ws.shapes, i, rows, self.training);
            // The fused op: layer i and the activation after it in one pass, written where the
            // activation's output goes.
            let fused = ws.fused[i];
            let out = usize::from(fused.is_some());
            pass.activation = fused.unwrap_or(Activation::Identity);
            layer.forward(input, &mut rest[out], &mut ws.scratch[i], &pass)?;
            i += 1 + out;
        }
        Ok(ws.output())
    }

    /// Backward pass of the last forward pass in `ws` (with the same `x`), from ∂E/∂output
    /// already in the workspace (as [`Sequential::loss_backward`] leaves it): every layer's ∂E/∂output lands in `ws`
    /// ([`Workspace::grad`]) and ∂E/∂θ is **added** to every parameter's gradient slot.
    pub(crate) fn backward_batch(&self, ws: &mut Workspace<E>, x: &[E]) -> Result<()> {
        self.backward_batch_with(ws, x, |_| Ok(()))
    }

    /// [`Sequential::backward_batch`], calling `after_layer(i)` as soon as layer `i`'s
    /// backward pass has finished (its parameters' gradients are final), last layer first.
    pub(crate) fn backward_batch_with(
        &self,
        ws: &mut Workspace<E>,
        x: &[E],
        mut after_layer: impl FnMut(usize) -> Result<()>,
    ) -> Result<()> {
        ws.check(self)?;
        let rows = ws.rows;
        if rows == 0 {
            return Err(Error::Autograd("backward before a forward pass".into()));
        }
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let (grad_before, grad_rest) = ws.grads.split_at_mut(i);
            // The activation half of a fused linear → activation op (see `Workspace::new`):
            // the chain rule through the activation the forward pass applied, as its layer's
            // backward does, without a call through the layer.
            if let Some(activation) = i.checked_sub(1).and_then(|j| ws.fused[j]) {
                let len = row_len(&ws.shapes[i]);
                let n = rows * len;
                activation.chain_from_output(
                    &grad_rest[0][..n],
                    &ws.outputs[i][..n],
                    &mut grad_before[i - 1][..n],
                    rows,
                    len,
                );
                after_layer(i)?;
                continue;
            }
            let input: &[E] = if i == 0 { x } else { &ws.outputs[i - 1] };
            let pass = layer_pass(&self.input_shape, &ws.shapes, i, rows, self.training);
            let dx = if i == 0 {
                None
            } else {
                Some(&mut grad_before[i - 1][..])
            };
            let grads = Backprop {
                x: input,
                y: &ws.outputs[i],
                dy: &mut grad_rest[0],
                dx,
                scratch: &mut ws.scratch[i],
            };
            layer.backward(grads, &pass)?;
            after_layer(i)?;
        }
        Ok(())
    }

    /// One forward and backward pass on a batch: returns the loss and **adds** ∂loss/∂θ to
    /// every parameter's gradient slot.
    pub fn loss_backward(
        &self,
        ws: &mut Workspace<E>,
        x: &[E],
        rows: usize,
        targets: Targets<'_, E>,
        loss: Loss,
    ) -> Result<E> {
        self.loss_backward_of_share(ws, x, rows, rows, targets, loss)
    }

    /// [`Sequential::loss_backward`] on `rows` rows that are a share of a batch of `of_rows`
    /// (see [`Loss::value_and_grad_of_share`]): the shares' losses and gradients add up to the
    /// batch's. Layers that reduce over the batch (batch norm) see only the share.
    pub fn loss_backward_of_share(
        &self,
        ws: &mut Workspace<E>,
        x: &[E],
        rows: usize,
        of_rows: usize,
        targets: Targets<'_, E>,
        loss: Loss,
    ) -> Result<E> {
        self.loss_backward_then(ws, x, (rows, of_rows), targets, loss, |_| Ok(()))
    }

    /// [`Sequential::loss_backward_of_share`], calling `after_layer(i)` as soon as layer
    /// `i`'s parameter gradients are final (last layer first): a data-parallel trainer starts
    /// summing them over the processes while the earlier layers' backward passes run.
    pub fn loss_backward_layered(
        &self,
        ws: &mut Workspace<E>,
        x: &[E],
        (rows, of_rows): (usize, usize),
        targets: Targets<'_, E>,
        loss: Loss,
        after_layer: &mut dyn FnMut(usize) -> Result<()>,
    ) -> Result<E> {
        self.loss_backward_then(ws, x, (rows, of_rows), targets, loss, after_layer)
    }

    /// [`Sequential::loss_backward_layered`] with the callback compiled in (the plain
    /// passes' no-op callback costs nothing per layer).
    fn loss_backward_then(
        &self,
        ws: &mut Workspace<E>,
        x: &[E],
        (rows, of_rows): (usize, usize),
        targets: Targets<'_, E>,
        loss: Loss,
        after_layer: impl FnMut(usize) -> Result<()>,
    ) -> Result<E> {
        self.forward_batch(ws, x, rows)?;
        let last = ws.outputs.len() - 1;
        let outputs = row_len(&ws.shapes[last]);
        let value = loss.value_and_grad_of_share(
            &ws.outputs[last],
            rows,
            of_rows,
            outputs,
            targets,
            &mut ws.grads[last],
        )?;
        self.backward_batch_with(ws, x, after_layer)?;
        Ok(value)
    }
}

impl Sequential<f32> {
    /// Rebuild a network whose layers may include custom ones, from their descriptions, with
    /// `registry` supplying the builders of the custom layers.
    pub fn from_specs_with(
        input_shape: &[usize],
        specs: &[LayerSpec],
        init: Option<Init>,
        seed: u64,
        registry: &LayerRegistry,
    ) -> Result<Self> {
        Self::build(input_shape, specs, init, seed, |spec, ctx| {
            registry.build(spec, ctx)
        })
    }
}

/// The pass of layer `i` over `rows` rows: its input is the network's input or layer i − 1's
/// output.
fn layer_pass<'a>(
    input_shape: &'a [usize],
    shapes: &'a [Vec<usize>],
    i: usize,
    rows: usize,
    training: bool,
) -> Pass<'a> {
    Pass::new(
        rows,
        if i == 0 { input_shape } else { &shapes[i - 1] },
        &shapes[i],
        training,
    )
}

/// Buffers for one network's forward and backward passes on batches of up to `max_batch`
/// rows: every layer's output, ∂E/∂(every layer's output), and each layer's scratch room.
/// Made once (for the trainer: once per run), then reused: a steady-state step allocates
/// nothing.
///
/// [`Workspace::new`] fuses a layer that can take it (linear) with the elementwise activation
/// after it: one pass writes act(x·Wᵀ + b) into the activation's output, and the linear
/// layer's own output z is not kept. [`Workspace::keeping_every_output`] keeps every layer's
/// output (for explanations that show z).
#[derive(Debug)]
pub struct Workspace<E: Element = f32> {
    max_batch: usize,
    network: u64,
    /// The input shape and each layer's output shape it was made for.
    input_shape: Vec<usize>,
    shapes: Vec<Vec<usize>>,
    outputs: Vec<Vec<E>>,
    grads: Vec<Vec<E>>,
    scratch: Vec<Vec<E>>,
    /// `Some(activation)` where layer i runs fused with the activation layer i + 1.
    fused: Vec<Option<Activation>>,
    rows: usize,
}

impl<E: Element> Workspace<E> {
    /// Plan the shapes of `net` and allocate buffers for batches of up to `max_batch` rows,
    /// fusing linear → activation pairs.
    pub fn new(net: &Sequential<E>, max_batch: usize) -> Result<Self> {
        let mut ws = Self::keeping_every_output(net, max_batch)?;
        let layers = &net.layers;
        let mut i = 0;
        while i + 1 < layers.len() {
            match layers[i + 1].activation() {
                Some(a) if layers[i].fuses_activation() => {
                    ws.fused[i] = Some(a);
                    i += 2;
                }
                _ => i += 1,
            }
        }
        Ok(ws)
    }

    /// [`Workspace::new`] without fused layers: every layer's output stays readable with
    /// [`Workspace::layer_output`].
    pub fn keeping_every_output(net: &Sequential<E>, max_batch: usize) -> Result<Self> {
        if max_batch == 0 {
            return Err(Error::param("batch size", "must be at least 1"));
        }
        if net.layers.is_empty() {
            return Err(Error::param("network", "the network has no layer"));
        }
        let shapes = net.layer_shapes()?;
        let mut ws = Workspace {
            max_batch,
            network: net.id,
            input_shape: net.input_shape.clone(),
            outputs: vec![],
            grads: vec![],
            scratch: vec![],
            fused: vec![None; net.layers.len()],
            rows: 0,
            shapes,
        };
        for (i, layer) in net.layers.iter().enumerate() {
            let n = max_batch * ws.shapes[i].iter().product::<usize>();
            ws.outputs.push(vec![E::ZERO; n]);
            ws.grads.push(vec![E::ZERO; n]);
            let pass = layer_pass(&ws.input_shape, &ws.shapes, i, max_batch, true);
            ws.scratch.push(vec![E::ZERO; layer.scratch_len(&pass)]);
        }
        Ok(ws)
    }

    /// An error unless the workspace was made for a network of `net`'s shapes.
    fn check(&self, net: &Sequential<E>) -> Result<()> {
        if self.network != net.id {
            return Err(Error::param(
                "workspace",
                "was made for another network (or the network changed since); make one with Workspace::new for this network",
            ));
        }
        Ok(())
    }

    /// Largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Rows of the last forward pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The shape of one row of layer `i`'s output.
    pub fn shape(&self, i: usize) -> &[usize] {
        &self.shapes[i]
    }

    /// Layer `i`'s output from the last forward pass (`rows × its row size`). For a layer
    /// fused with the activation after it (see [`Workspace::new`]) this is not kept: read the
    /// activation's output, or plan with [`Workspace::keeping_every_output`].
    pub fn layer_output(&self, i: usize) -> &[E] {
        let n = self.rows * self.shapes[i].iter().product::<usize>();
        &self.outputs[i][..n]
    }

    /// ∂E/∂(layer `i`'s output) from the last backward pass.
    pub fn layer_grad(&self, i: usize) -> &[E] {
        let n = self.rows * self.shapes[i].iter().product::<usize>();
        &self.grads[i][..n]
    }

    /// Values in one row of the network's output.
    pub fn output_len(&self) -> usize {
        row_len(&self.shapes[self.shapes.len() - 1])
    }

    /// The network output of the last forward pass (`rows × outputs`).
    pub fn output(&self) -> &[E] {
        self.layer_output(self.shapes.len() - 1)
    }

    /// ∂E/∂output of the last forward pass, to be filled before [`Sequential::backward_batch`]
    /// (for a loss that is not a [`Loss`], such as explain's textbook ½·SSE).
    pub(crate) fn output_grad_mut(&mut self) -> &mut [E] {
        let last = self.shapes.len() - 1;
        let n = self.rows * self.shapes[last].iter().product::<usize>();
        &mut self.grads[last][..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{ActivationLayer, Dropout, Linear};

    fn small(seed: u64) -> Sequential {
        Sequential::mlp(&MlpConfig::new(3, [4], 2).with_dropout(0.1).with_seed(seed)).unwrap()
    }

    #[test]
    fn a_workspace_serves_only_its_own_network() {
        let (a, b) = (small(1), small(1));
        let mut ws = Workspace::new(&a, 4).unwrap();
        let x = [0.5f32; 12];
        assert!(a.forward_batch(&mut ws, &x, 4).is_ok());
        let e = b.forward_batch(&mut ws, &x, 4).unwrap_err().to_string();
        assert!(e.contains("another network"), "{e}");
        // Changing the network's layers makes its old workspace unusable too.
        let mut a = a;
        a.push(ActivationLayer(Activation::Tanh));
        assert!(a.forward_batch(&mut ws, &x, 4).is_err());
        assert!(a
            .forward_batch(&mut Workspace::new(&a, 4).unwrap(), &x, 4)
            .is_ok());
    }

    #[test]
    fn fused_linear_activation_gives_the_same_bits_as_the_layers_one_by_one() {
        for act in [
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::LeakyRelu { alpha: 0.1 },
        ] {
            let net = Sequential::mlp(
                &MlpConfig::new(3, [6, 5], 2)
                    .with_activation(act)
                    .with_output_activation(Activation::Sigmoid)
                    .with_seed(4),
            )
            .unwrap();
            let x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.7).sin()).collect();
            let t = [0.0f32, 1.0, 1.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.0, 1.0];
            let run = |mut ws: Workspace| {
                net.zero_grad();
                let l = net
                    .loss_backward(&mut ws, &x, 5, Targets::Values(&t), Loss::Mse)
                    .unwrap();
                let grads: Vec<Vec<f32>> = net
                    .parameters()
                    .iter()
                    .map(|p| p.grad().unwrap().into_vec())
                    .collect();
                (l, ws.output().to_vec(), grads)
            };
            let fused = run(Workspace::new(&net, 5).unwrap());
            let plain = run(Workspace::keeping_every_output(&net, 5).unwrap());
            assert_eq!(fused, plain, "{act:?}");
        }
    }

    #[test]
    fn layers_that_do_not_fit_are_an_error_naming_the_shapes() {
        let mut rng = Rng::new(0);
        let net = Sequential::<f32>::new(&[3])
            .with(Linear::new(3, 4, Init::XavierUniform, &mut rng).unwrap())
            .with(Linear::new(5, 2, Init::XavierUniform, &mut rng).unwrap());
        let e = Workspace::new(&net, 2).unwrap_err().to_string();
        assert!(e.contains("[4]") && e.contains("[2, 5]"), "{e}");
        assert!(Workspace::new(&Sequential::<f32>::new(&[3]), 2).is_err());
        assert!(Workspace::new(&small(0), 0).is_err());
    }

    #[test]
    fn specs_round_trip_through_json_and_rebuild_the_same_shapes() {
        let net = small(3).with(Dropout::new(0.5, 9).unwrap());
        let specs = net.specs();
        let json = serde_json::to_string(&specs).unwrap();
        let back: Vec<LayerSpec> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, specs);
        let rebuilt = Sequential::<f32>::from_specs(&[3], &back, None, 3).unwrap();
        assert_eq!(rebuilt.layer_shapes().unwrap(), net.layer_shapes().unwrap());
        // The same seed draws the same weights as the MLP builder.
        assert_eq!(rebuilt.state_dict(), net.state_dict());
        assert!(json.contains(r#""layer":"linear""#), "{json}");
    }
}
