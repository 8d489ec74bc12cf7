//! Losses: each written once, as a kernel that computes the value and ∂loss/∂output together
//! (the form training needs, stable for outputs of any finite size), in f32 or f64, and as an
//! autograd graph op ([`sse`], [`mse`], [`bce_with_logits`], [`cross_entropy`]) that calls the
//! same kernel.
//!
//! - SSE: Σ (y − t)², ∂/∂y = 2(y − t);
//! - MSE: Σ (y − t)² / n over all n outputs, ∂/∂y = 2(y − t)/n;
//! - BCE on logits, mean over all n outputs: max(z, 0) − z·t + ln(1 + e^−|z|), ∂/∂z = (σ(z) − t)/n;
//! - softmax cross-entropy, mean over the rows: ln Σ e^z − z_class, ∂/∂z = (softmax(z) − onehot)/rows.

mod graph;

pub use graph::{bce_with_logits, cross_entropy, mse, sse};

use serde::{Deserialize, Serialize};

use crate::ops::activation::sigmoid;
use crate::ops::softmax::softmax_parts;
use crate::{Element, Error, Result};

/// The loss a network is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Σ (y − t)² over every output of every row (the textbook sum of squared errors).
    Sse,
    /// Mean of (y − t)² over every output of every row.
    Mse,
    /// Binary cross-entropy on logits, mean over every output: max(z, 0) − z·t + ln(1 + e^−|z|).
    BceWithLogits,
    /// Softmax followed by the negative log-likelihood of the class, mean over the batch.
    CrossEntropy,
}

/// Targets of one batch.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, E: Element = f32> {
    /// One class index per row (cross-entropy; for BCE with one output, the class 0/1; for
    /// SSE/MSE, a one-hot vector of the outputs, or the index itself when there is one output).
    Classes(&'a [u32]),
    /// `rows × outputs` values, row-major.
    Values(&'a [E]),
}

impl<E: Element> Targets<'_, E> {
    fn rows(&self, outputs: usize) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.len() / outputs.max(1),
        }
    }

    /// The target of output `j` of row `i` as a number (one-hot for classes).
    #[inline(always)]
    pub(crate) fn value(&self, i: usize, j: usize, outputs: usize) -> E {
        match self {
            Targets::Values(v) => v[i * outputs + j],
            Targets::Classes(c) => {
                if outputs == 1 {
                    E::from_f64(c[i] as f64)
                } else if c[i] as usize == j {
                    E::ONE
                } else {
                    E::ZERO
                }
            }
        }
    }
}

impl Loss {
    /// Parse a CLI-style name.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "sse" => Loss::Sse,
            "mse" => Loss::Mse,
            "bce" | "bce_with_logits" | "binary_cross_entropy" => Loss::BceWithLogits,
            "cross_entropy" | "ce" | "softmax_cross_entropy" => Loss::CrossEntropy,
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
            Loss::Sse => "sse",
            Loss::Mse => "mse",
            Loss::BceWithLogits => "bce",
            Loss::CrossEntropy => "cross_entropy",
        }
    }

    /// The loss of `out` (`rows × outputs`) against `targets`, with ∂loss/∂out written into
    /// `grad`. Errors when the targets do not fit the outputs.
    pub fn value_and_grad<E: Element>(
        &self,
        out: &[E],
        rows: usize,
        outputs: usize,
        targets: Targets<'_, E>,
        grad: &mut [E],
    ) -> Result<E> {
        self.value_and_grad_of_share(out, rows, rows, outputs, targets, grad)
    }

    /// [`Loss::value_and_grad`] for `rows` rows that are a share of a batch of `of_rows`: the
    /// means are taken over the whole batch, so the shares' values and gradients add up to the
    /// batch's. Each row's gradient is the very number the whole batch gives it (the same
    /// operations on the same operands), which is what lets shards of a batch, on one process
    /// or on several MPI ranks, reproduce the batch's gradient.
    pub fn value_and_grad_of_share<E: Element>(
        &self,
        out: &[E],
        rows: usize,
        of_rows: usize,
        outputs: usize,
        targets: Targets<'_, E>,
        grad: &mut [E],
    ) -> Result<E> {
        if of_rows < rows || of_rows == 0 {
            return Err(Error::param(
                "loss",
                format!("a share of {rows} rows cannot belong to a batch of {of_rows}"),
            ));
        }
        if targets.rows(outputs) != rows
            || matches!(targets, Targets::Values(v) if v.len() != rows * outputs)
            || out.len() < rows * outputs
            || grad.len() < rows * outputs
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
        Ok(match self {
            Loss::Sse => squared_error(out, (rows, of_rows), outputs, targets, grad, false),
            Loss::Mse => squared_error(out, (rows, of_rows), outputs, targets, grad, true),
            Loss::BceWithLogits => bce(out, (rows, of_rows), outputs, targets, grad),
            Loss::CrossEntropy => {
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
                let classes = classes.iter().map(|&k| k as usize);
                softmax_cross_entropy(out, outputs, classes, of_rows, grad)
            }
        })
    }
}

/// `(rows, of_rows)`: the rows given, and the rows of the batch the mean is over.
pub(crate) fn squared_error<E: Element>(
    out: &[E],
    (rows, of_rows): (usize, usize),
    outputs: usize,
    targets: Targets<'_, E>,
    grad: &mut [E],
    mean: bool,
) -> E {
    let n_all = E::from_f64((of_rows * outputs) as f64);
    let two = E::ONE + E::ONE;
    let scale = if mean { two / n_all } else { two };
    let mut total = 0.0f64;
    for i in 0..rows {
        for j in 0..outputs {
            let d = out[i * outputs + j] - targets.value(i, j, outputs);
            total += (d * d).to_f64();
            grad[i * outputs + j] = scale * d;
        }
    }
    if mean {
        total /= n_all.to_f64();
    }
    E::from_f64(total)
}

pub(crate) fn bce<E: Element>(
    out: &[E],
    (rows, of_rows): (usize, usize),
    outputs: usize,
    targets: Targets<'_, E>,
    grad: &mut [E],
) -> E {
    let n_all = E::from_f64((of_rows * outputs) as f64);
    let mut total = 0.0f64;
    for i in 0..rows {
        for j in 0..outputs {
            let z = out[i * outputs + j];
            let t = targets.value(i, j, outputs);
            let l = z.max(E::ZERO) - z * t + (-z.abs()).exp().ln_1p();
            total += l.to_f64();
            grad[i * outputs + j] = (sigmoid(z) - t) / n_all;
        }
    }
    E::from_f64(total / n_all.to_f64())
}

/// Mean over the rows of ln Σ e^z − z_class, with (softmax − onehot)/rows in `grad`.
pub(crate) fn softmax_cross_entropy<E: Element>(
    out: &[E],
    outputs: usize,
    classes: impl ExactSizeIterator<Item = usize>,
    of_rows: usize,
    grad: &mut [E],
) -> E {
    let inv_rows = E::ONE / E::from_f64(of_rows as f64);
    let mut total = 0.0f64;
    for (i, y) in classes.enumerate() {
        let z = &out[i * outputs..(i + 1) * outputs];
        let g = &mut grad[i * outputs..(i + 1) * outputs];
        // softmax(z) and ln Σ e^z, stable for any finite logits (see ops::softmax).
        let (m, ln_sum) = softmax_parts(z, g);
        total += (ln_sum - (z[y] - m)).to_f64();
        for gv in g.iter_mut() {
            *gv *= inv_rows;
        }
        g[y] -= inv_rows;
    }
    E::from_f64(total / of_rows as f64)
}
