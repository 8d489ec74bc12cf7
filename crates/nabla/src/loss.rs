//! Loss functions on [`Var`]s, each a scalar (rank-0) value with a fused derivative rule.
//!
//! Every loss checks its shapes and indices and returns an error rather than panicking.
//! `bce_with_logits` and `cross_entropy` take raw scores (logits) and are stable for logits of
//! any finite size: no `exp` of a large positive number is ever evaluated.

use crate::autograd::{Backward, Var};
use crate::{Element, Error, Result, Tensor};

fn same_shape<E: Element>(op: &'static str, a: &Tensor<E>, b: &Tensor<E>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: a.shape().to_vec(),
            rhs: b.shape().to_vec(),
        });
    }
    Ok(())
}

/// Σ (y − t)² (or its mean, when `scale` = 1/n): ∂/∂y = 2·scale·(y − t), ∂/∂t = −∂/∂y.
struct SquaredErrorBackward<E> {
    name: &'static str,
    scale: E,
}

impl<E: Element> Backward<E> for SquaredErrorBackward<E> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let factor = g.item()? * (E::ONE + E::ONE) * self.scale;
        let d_pred = inputs[0].zip_map(inputs[1], |y, t| factor * (y - t))?;
        let d_target = if needs[1] { Some(d_pred.neg()) } else { None };
        Ok(vec![Some(d_pred), d_target])
    }
}

fn squared_error<E: Element>(
    name: &'static str,
    pred: &Var<E>,
    target: &Var<E>,
    mean: bool,
) -> Result<Var<E>> {
    let (y, t) = (pred.value(), target.value());
    same_shape(name, &y, &t)?;
    let total = y
        .data()
        .iter()
        .zip(t.data())
        .fold(E::ZERO, |acc, (&y, &t)| acc + (y - t) * (y - t));
    let scale = if mean {
        E::ONE / E::from_f64(y.len() as f64)
    } else {
        E::ONE
    };
    if mean && y.is_empty() {
        return Err(Error::Shape {
            op: name,
            shape: y.shape().to_vec(),
            msg: "mean over no elements".into(),
        });
    }
    drop((y, t));
    let rule = SquaredErrorBackward { name, scale };
    Ok(Var::from_op(
        Tensor::scalar(total * scale),
        rule,
        vec![pred.clone(), target.clone()],
    ))
}

/// Sum of squared errors Σ (y − t)² over all elements; `pred` and `target` must have the same
/// shape. Gradient 2(y − t) for `pred` (and −2(y − t) for `target`, if it requires gradients).
pub fn sse<E: Element>(pred: &Var<E>, target: &Var<E>) -> Result<Var<E>> {
    squared_error("sse", pred, target, false)
}

/// Mean squared error Σ (y − t)² / n over all n elements; same shapes required, n > 0.
/// Gradient 2(y − t)/n.
pub fn mse<E: Element>(pred: &Var<E>, target: &Var<E>) -> Result<Var<E>> {
    squared_error("mse", pred, target, true)
}

struct BceWithLogitsBackward;

impl<E: Element> Backward<E> for BceWithLogitsBackward {
    fn name(&self) -> &'static str {
        "bce_with_logits"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        let (x, t) = (inputs[0], inputs[1]);
        let scale = g.item()? / E::from_f64(x.len() as f64);
        // ∂/∂x = (σ(x) − t)/n; ∂/∂t = −x/n.
        let d_logits = if needs[0] {
            Some(x.sigmoid().zip_map(t, |s, t| scale * (s - t))?)
        } else {
            None
        };
        let d_targets = if needs[1] {
            Some(x.mul_scalar(-scale))
        } else {
            None
        };
        Ok(vec![d_logits, d_targets])
    }
}

/// Binary cross-entropy on logits, averaged over all n elements:
/// mean of −[t·ln σ(x) + (1 − t)·ln(1 − σ(x))], computed stably as
/// `max(x, 0) − x·t + ln(1 + e^{−|x|})`. `logits` and `targets` must have the same shape
/// (targets are usually in [0, 1]; they are not checked). Gradient (σ(x) − t)/n for the logits,
/// −x/n for the targets.
pub fn bce_with_logits<E: Element>(logits: &Var<E>, targets: &Var<E>) -> Result<Var<E>> {
    let (x, t) = (logits.value(), targets.value());
    same_shape("bce_with_logits", &x, &t)?;
    if x.is_empty() {
        return Err(Error::Shape {
            op: "bce_with_logits",
            shape: x.shape().to_vec(),
            msg: "mean over no elements".into(),
        });
    }
    let total = x
        .data()
        .iter()
        .zip(t.data())
        .fold(E::ZERO, |acc, (&x, &t)| {
            acc + x.max(E::ZERO) - x * t + (-x.abs()).exp().ln_1p()
        });
    let value = Tensor::scalar(total / E::from_f64(x.len() as f64));
    drop((x, t));
    Ok(Var::from_op(
        value,
        BceWithLogitsBackward,
        vec![logits.clone(), targets.clone()],
    ))
}

struct CrossEntropyBackward<E: Element> {
    classes: Vec<usize>,
    softmax: Tensor<E>,
}

impl<E: Element> Backward<E> for CrossEntropyBackward<E> {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        _inputs: &[&Tensor<E>],
        _out: &Tensor<E>,
        _needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        // ∂L/∂logits = (softmax − onehot)/n.
        let n = self.classes.len();
        let c = self.softmax.shape()[1];
        let scale = g.item()? / E::from_f64(n as f64);
        let mut d = self.softmax.mul_scalar(scale);
        let data = d.data_mut();
        for (i, &k) in self.classes.iter().enumerate() {
            data[i * c + k] -= scale;
        }
        Ok(vec![Some(d)])
    }
}

/// Softmax cross-entropy of `[n, c]` logits against class indices, averaged over the batch:
/// `(1/n) Σ_i −log_softmax(logits_i)[classes[i]]`. Stable for logits like ±1e4. Errors unless
/// the logits are 2-D with n ≥ 1 rows and c ≥ 1 columns, `classes.len() == n`, and each class
/// is below c. Gradient (softmax − onehot)/n.
pub fn cross_entropy<E: Element>(logits: &Var<E>, classes: &[usize]) -> Result<Var<E>> {
    let x = logits.value();
    if x.rank() != 2 || x.shape()[0] == 0 || x.shape()[1] == 0 {
        return Err(Error::Shape {
            op: "cross_entropy",
            shape: x.shape().to_vec(),
            msg: "expected logits of shape [batch ≥ 1, classes ≥ 1]".into(),
        });
    }
    let log_probs = x.log_softmax(1)?;
    let picked = log_probs.select_by_index(classes).map_err(|e| match e {
        Error::ShapeMismatch { lhs, rhs, .. } => Error::ShapeMismatch {
            op: "cross_entropy",
            lhs,
            rhs,
        },
        Error::Shape { shape, msg, .. } => Error::Shape {
            op: "cross_entropy",
            shape,
            msg: format!("class {msg}"),
        },
        other => other,
    })?;
    let n = E::from_f64(classes.len() as f64);
    let value = Tensor::scalar(-picked.sum_all().item()? / n);
    drop(x);
    let rule = CrossEntropyBackward {
        classes: classes.to_vec(),
        softmax: log_probs.exp(),
    };
    Ok(Var::from_op(value, rule, vec![logits.clone()]))
}
