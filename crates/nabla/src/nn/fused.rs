//! The fused training path of a [`Sequential`] made of Linear → activation (→ dropout) stages.
//!
//! Forward computes z = x·Wᵀ + b and a = act(z) in one pass over the output (bias and
//! activation fused after the matrix product); backward computes δ = ∂E/∂a ⊙ act′(z) from the
//! stored outputs, then ∂E/∂W = δᵀ·x, ∂E/∂b = Σ_rows δ and ∂E/∂x = δ·W, exactly the chain rule
//! the autograd graph applies, but with buffers kept in a [`Workspace`] so that a steady-state
//! step allocates nothing. The losses are fused with their gradient for numerical stability
//! (softmax cross-entropy: ∂L/∂z = (softmax(z) − onehot)/batch).
//!
//! Gradients are **added** to each parameter's gradient slot, as autograd does: zero them
//! between steps.

use serde::{Deserialize, Serialize};

use super::{Activation, Layer, Sequential};
use crate::tensor::gemm::{matmul_into, Trans};
use crate::{Error, Result, Tensor};

/// A loss fused with its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusedLoss {
    /// Σ (y − t)² over every output of every row (the textbook sum of squared errors).
    Sse,
    /// Mean of (y − t)² over every output of every row.
    Mse,
    /// Binary cross-entropy on logits, mean over every output: max(z, 0) − z·t + ln(1 + e^−|z|).
    BceWithLogits,
    /// Softmax followed by the negative log-likelihood of the class, mean over the batch.
    CrossEntropy,
}

impl FusedLoss {
    /// Parse a CLI-style name.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "sse" => FusedLoss::Sse,
            "mse" => FusedLoss::Mse,
            "bce" | "bce_with_logits" | "binary_cross_entropy" => FusedLoss::BceWithLogits,
            "cross_entropy" | "ce" | "softmax_cross_entropy" => FusedLoss::CrossEntropy,
            other => {
                return Err(Error::param(
                    "loss",
                    format!("unknown loss '{other}' (expected cross_entropy, bce, sse or mse)"),
                ))
            }
        })
    }

    /// The CLI-style name.
    pub fn name(&self) -> &'static str {
        match self {
            FusedLoss::Sse => "sse",
            FusedLoss::Mse => "mse",
            FusedLoss::BceWithLogits => "bce",
            FusedLoss::CrossEntropy => "cross_entropy",
        }
    }
}

/// Targets of one batch.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a> {
    /// One class index per row (cross-entropy; for BCE with one output, the class 0/1; for
    /// SSE/MSE, a one-hot vector of the outputs, or the index itself when there is one output).
    Classes(&'a [u32]),
    /// `rows × outputs` values, row-major.
    Values(&'a [f32]),
}

impl Targets<'_> {
    fn rows(&self, outputs: usize) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.len() / outputs.max(1),
        }
    }

    /// The target of output `j` of row `i` as a number (one-hot for classes).
    #[inline(always)]
    fn value(&self, i: usize, j: usize, outputs: usize) -> f32 {
        match self {
            Targets::Values(v) => v[i * outputs + j],
            Targets::Classes(c) => {
                if outputs == 1 {
                    c[i] as f32
                } else if c[i] as usize == j {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// Loss of `out` (`rows × outputs`) against `targets`, and ∂loss/∂out written into `grad`.
pub fn loss_and_grad(
    loss: FusedLoss,
    out: &[f32],
    rows: usize,
    outputs: usize,
    targets: Targets<'_>,
    grad: &mut [f32],
) -> Result<f32> {
    if targets.rows(outputs) != rows
        || matches!(targets, Targets::Values(v) if v.len() != rows * outputs)
    {
        return Err(Error::ShapeMismatch {
            op: "loss (outputs vs targets)",
            lhs: vec![rows, outputs],
            rhs: match targets {
                Targets::Classes(c) => vec![c.len()],
                Targets::Values(v) => vec![v.len()],
            },
        });
    }
    if let Targets::Classes(c) = targets {
        let limit = if outputs == 1 { 2 } else { outputs };
        if let Some(bad) = c.iter().find(|&&k| k as usize >= limit) {
            return Err(Error::param(
                "class index",
                format!("class {bad} is out of range for {outputs} outputs"),
            ));
        }
    }
    let out = &out[..rows * outputs];
    let grad = &mut grad[..rows * outputs];
    let n_all = (rows * outputs) as f32;
    let mut total = 0.0f64;
    match loss {
        FusedLoss::Sse | FusedLoss::Mse => {
            let scale = if loss == FusedLoss::Sse {
                2.0
            } else {
                2.0 / n_all
            };
            for i in 0..rows {
                for j in 0..outputs {
                    let d = out[i * outputs + j] - targets.value(i, j, outputs);
                    total += (d * d) as f64;
                    grad[i * outputs + j] = scale * d;
                }
            }
            if loss == FusedLoss::Mse {
                total /= n_all as f64;
            }
        }
        FusedLoss::BceWithLogits => {
            for i in 0..rows {
                for j in 0..outputs {
                    let z = out[i * outputs + j];
                    let t = targets.value(i, j, outputs);
                    let l = z.max(0.0) - z * t + (-z.abs()).exp().ln_1p();
                    total += l as f64;
                    let s = if z >= 0.0 {
                        1.0 / (1.0 + (-z).exp())
                    } else {
                        let e = z.exp();
                        e / (1.0 + e)
                    };
                    grad[i * outputs + j] = (s - t) / n_all;
                }
            }
            total /= n_all as f64;
        }
        FusedLoss::CrossEntropy => {
            let Targets::Classes(classes) = targets else {
                return Err(Error::param(
                    "targets",
                    "cross-entropy needs class indices as targets",
                ));
            };
            if outputs < 2 {
                return Err(Error::param(
                    "loss",
                    "cross-entropy needs at least two outputs (use bce for one logit)",
                ));
            }
            let inv_rows = 1.0 / rows as f32;
            for i in 0..rows {
                let z = &out[i * outputs..(i + 1) * outputs];
                let g = &mut grad[i * outputs..(i + 1) * outputs];
                let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut s = 0.0f32;
                for (gv, &zv) in g.iter_mut().zip(z) {
                    let e = (zv - m).exp();
                    *gv = e;
                    s += e;
                }
                let y = classes[i] as usize;
                total += (s.ln() - (z[y] - m)) as f64;
                let inv_s = 1.0 / s;
                for gv in g.iter_mut() {
                    *gv *= inv_s * inv_rows;
                }
                g[y] -= inv_rows;
            }
            total /= rows as f64;
        }
    }
    Ok(total as f32)
}

#[derive(Clone, Debug)]
struct Stage {
    linear: usize,
    activation: Activation,
    dropout: Option<usize>,
    fan_in: usize,
    width: usize,
}

/// Buffers for the fused path of one network, sized for batches up to `max_batch` rows.
#[derive(Debug)]
pub struct Workspace {
    stages: Vec<Stage>,
    max_batch: usize,
    /// Activation a of each stage (before dropout).
    act: Vec<Vec<f32>>,
    /// Dropout mask of each stage (empty when the stage has none).
    mask: Vec<Vec<f32>>,
    /// Stage output after dropout (empty when the stage has none).
    dropped: Vec<Vec<f32>>,
    /// ∂E/∂(stage output).
    grad: Vec<Vec<f32>>,
    rows: usize,
}

impl Workspace {
    /// Plan the stages of `net` and allocate buffers for batches of up to `max_batch` rows.
    /// Errors if the network is not a chain of Linear → optional activation → optional dropout.
    pub fn new(net: &Sequential, max_batch: usize) -> Result<Self> {
        if max_batch == 0 {
            return Err(Error::param("batch size", "must be at least 1"));
        }
        let stages = plan(net)?;
        let mut ws = Workspace {
            max_batch,
            act: vec![],
            mask: vec![],
            dropped: vec![],
            grad: vec![],
            rows: 0,
            stages,
        };
        for s in &ws.stages {
            let n = max_batch * s.width;
            ws.act.push(vec![0.0; n]);
            ws.grad.push(vec![0.0; n]);
            let d = if s.dropout.is_some() { n } else { 0 };
            ws.mask.push(vec![0.0; d]);
            ws.dropped.push(vec![0.0; d]);
        }
        Ok(ws)
    }

    /// Largest batch the buffers hold.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Number of stages (linear layers).
    pub fn num_stages(&self) -> usize {
        self.stages.len()
    }

    /// Rows of the last forward pass.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Activation values of stage `s` from the last forward pass (`rows × width`), its width,
    /// its activation function and the module index of its linear layer.
    pub fn stage_output(&self, s: usize) -> (&[f32], usize, Activation, usize) {
        let st = &self.stages[s];
        (
            &self.act[s][..self.rows * st.width],
            st.width,
            st.activation,
            st.linear,
        )
    }

    /// The network output of the last forward pass (`rows × outputs`).
    pub fn output(&self) -> &[f32] {
        let last = self.stages.len() - 1;
        let w = self.stages[last].width;
        match self.stages[last].dropout {
            Some(_) => &self.dropped[last][..self.rows * w],
            None => &self.act[last][..self.rows * w],
        }
    }
}

fn plan(net: &Sequential) -> Result<Vec<Stage>> {
    let mut stages: Vec<Stage> = vec![];
    let unsupported = |i: usize, what: &str| {
        Err(Error::param(
            "network",
            format!(
                "the fused path needs Linear → activation → dropout stages; module {i} is {what}"
            ),
        ))
    };
    for (i, layer) in net.layers().iter().enumerate() {
        match layer {
            Layer::Linear(l) => {
                if let Some(prev) = stages.last() {
                    if prev.width != l.in_features() {
                        return Err(Error::ShapeMismatch {
                            op: "Sequential (layer widths)",
                            lhs: vec![prev.width],
                            rhs: vec![l.out_features(), l.in_features()],
                        });
                    }
                }
                stages.push(Stage {
                    linear: i,
                    activation: Activation::Identity,
                    dropout: None,
                    fan_in: l.in_features(),
                    width: l.out_features(),
                });
            }
            Layer::Activation(a) => match stages.last_mut() {
                Some(s) if s.activation == Activation::Identity && s.dropout.is_none() => {
                    a.0.validate()?;
                    s.activation = a.0;
                }
                _ => return unsupported(i, "an activation not directly after a linear layer"),
            },
            Layer::Dropout(_) => match stages.last_mut() {
                Some(s) if s.dropout.is_none() => s.dropout = Some(i),
                _ => return unsupported(i, "a dropout not after a linear layer"),
            },
        }
    }
    if stages.is_empty() {
        return Err(Error::param("network", "the network has no linear layer"));
    }
    Ok(stages)
}

impl Sequential {
    fn linear_at(&self, i: usize) -> &super::Linear {
        match &self.layers()[i] {
            Layer::Linear(l) => l,
            _ => unreachable!("plan() put a linear layer here"),
        }
    }

    fn dropout_at(&self, i: usize) -> &super::Dropout {
        match &self.layers()[i] {
            Layer::Dropout(d) => d,
            _ => unreachable!("plan() put a dropout layer here"),
        }
    }

    /// Forward pass of `rows` rows of `x` (`rows × inputs`, row-major) through the fused path;
    /// returns the outputs (`rows × outputs`). Dropout is active in training mode.
    pub fn forward_fused<'w>(
        &self,
        ws: &'w mut Workspace,
        x: &[f32],
        rows: usize,
    ) -> Result<&'w [f32]> {
        let inputs = ws.stages[0].fan_in;
        if rows == 0 || rows > ws.max_batch || x.len() < rows * inputs {
            return Err(Error::ShapeMismatch {
                op: "forward_fused (input vs workspace)",
                lhs: vec![rows, x.len() / inputs.max(1)],
                rhs: vec![ws.max_batch, inputs],
            });
        }
        ws.rows = rows;
        for s in 0..ws.stages.len() {
            let st = ws.stages[s].clone();
            let lin = self.linear_at(st.linear);
            let w = lin.weight.value();
            let b = lin.bias.value();
            let (before, rest) = ws.act.split_at_mut(s);
            let out = &mut rest[0][..rows * st.width];
            let input: &[f32] = if s == 0 {
                &x[..rows * inputs]
            } else if ws.stages[s - 1].dropout.is_some() {
                &ws.dropped[s - 1][..rows * st.fan_in]
            } else {
                &before[s - 1][..rows * st.fan_in]
            };
            matmul_into(
                rows,
                st.width,
                st.fan_in,
                input,
                Trans::No,
                w.data(),
                Trans::Yes,
                out,
                false,
            );
            bias_activation(out, b.data(), st.activation);
            if let Some(di) = st.dropout {
                let d = self.dropout_at(di);
                let dropped = &mut ws.dropped[s][..rows * st.width];
                if d.active() {
                    let mask = &mut ws.mask[s][..rows * st.width];
                    d.draw_mask(mask);
                    for ((o, &a), &m) in dropped.iter_mut().zip(out.iter()).zip(mask.iter()) {
                        *o = a * m;
                    }
                } else {
                    dropped.copy_from_slice(out);
                    ws.mask[s][..rows * st.width]
                        .iter_mut()
                        .for_each(|m| *m = 1.0);
                }
            }
        }
        Ok(ws.output())
    }

    /// One forward and backward pass on a batch: returns the loss and **adds** ∂loss/∂θ to
    /// every parameter's gradient slot.
    pub fn loss_backward_fused(
        &self,
        ws: &mut Workspace,
        x: &[f32],
        rows: usize,
        targets: Targets<'_>,
        loss: FusedLoss,
    ) -> Result<f32> {
        self.forward_fused(ws, x, rows)?;
        let last = ws.stages.len() - 1;
        let outputs = ws.stages[last].width;
        let value = {
            let out: &[f32] = match ws.stages[last].dropout {
                Some(_) => &ws.dropped[last],
                None => &ws.act[last],
            };
            loss_and_grad(loss, out, rows, outputs, targets, &mut ws.grad[last])?
        };
        self.backward_fused(ws, x)?;
        Ok(value)
    }

    /// Backward pass from ∂E/∂output already in the workspace (see [`Workspace::output_grad_mut`]).
    pub fn backward_fused(&self, ws: &mut Workspace, x: &[f32]) -> Result<()> {
        let rows = ws.rows;
        if rows == 0 {
            return Err(Error::Autograd(
                "backward_fused before a forward pass".into(),
            ));
        }
        for s in (0..ws.stages.len()).rev() {
            let st = ws.stages[s].clone();
            let (grad_before, grad_rest) = ws.grad.split_at_mut(s);
            let delta = &mut grad_rest[0][..rows * st.width];
            if st.dropout.is_some() {
                for (g, &m) in delta.iter_mut().zip(&ws.mask[s][..rows * st.width]) {
                    *g *= m;
                }
            }
            let a = &ws.act[s][..rows * st.width];
            if st.activation != Activation::Identity {
                let act = st.activation;
                for (g, &av) in delta.iter_mut().zip(a) {
                    *g *= act.derivative_from_output(av);
                }
            }
            let input: &[f32] = if s == 0 {
                &x[..rows * st.fan_in]
            } else if ws.stages[s - 1].dropout.is_some() {
                &ws.dropped[s - 1][..rows * st.fan_in]
            } else {
                &ws.act[s - 1][..rows * st.fan_in]
            };
            let lin = self.linear_at(st.linear);
            {
                let mut gw = lin.weight.grad_mut();
                let gw = gw.get_or_insert_with(|| Tensor::zeros(&[st.width, st.fan_in]));
                matmul_into(
                    st.width,
                    st.fan_in,
                    rows,
                    delta,
                    Trans::Yes,
                    input,
                    Trans::No,
                    gw.data_mut(),
                    true,
                );
                let mut gb = lin.bias.grad_mut();
                let gb = gb.get_or_insert_with(|| Tensor::zeros(&[st.width]));
                let gb = gb.data_mut();
                for row in delta.chunks_exact(st.width) {
                    for (b, &d) in gb.iter_mut().zip(row) {
                        *b += d;
                    }
                }
            }
            if s > 0 {
                let w = lin.weight.value();
                let gin = &mut grad_before[s - 1][..rows * st.fan_in];
                matmul_into(
                    rows,
                    st.fan_in,
                    st.width,
                    delta,
                    Trans::No,
                    w.data(),
                    Trans::No,
                    gin,
                    false,
                );
            }
        }
        Ok(())
    }
}

impl Workspace {
    /// ∂E/∂output buffer of the last forward pass (`rows × outputs`), for custom losses: fill
    /// it, then call [`Sequential::backward_fused`].
    pub fn output_grad_mut(&mut self) -> &mut [f32] {
        let last = self.stages.len() - 1;
        let n = self.rows * self.stages[last].width;
        &mut self.grad[last][..n]
    }
}

#[inline]
fn bias_activation(out: &mut [f32], bias: &[f32], act: Activation) {
    let width = bias.len();
    for row in out.chunks_exact_mut(width) {
        match act {
            Activation::Identity => {
                for (o, &b) in row.iter_mut().zip(bias) {
                    *o += b;
                }
            }
            Activation::Relu => {
                for (o, &b) in row.iter_mut().zip(bias) {
                    *o = (*o + b).max(0.0);
                }
            }
            _ => {
                for (o, &b) in row.iter_mut().zip(bias) {
                    *o = act.apply(*o + b);
                }
            }
        }
    }
}
