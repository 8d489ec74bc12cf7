//! The losses as autograd graph ops: each a scalar (rank-0) value whose derivative rule reuses
//! the gradient its kernel in [`super`] computed with the value.
//!
//! Every loss checks its shapes and indices and returns an error rather than panicking.
//! `bce_with_logits` and `cross_entropy` take raw scores (logits) and are stable for logits of
//! any finite size: no `exp` of a large positive number is ever evaluated.

use crate::autograd::{Rule, Var};
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

/// ∂loss/∂target from (prediction, ∂loss/∂prediction, target).
type TargetGrad<E> = fn(&Tensor<E>, &Tensor<E>, &Tensor<E>) -> Result<Tensor<E>>;

/// The loss node: `value` with ∂loss/∂prediction (`grad`) computed by the kernel beside it;
/// the rule scales `grad` by the incoming gradient. `target_grad` gives ∂loss/∂target when a
/// second input (the target) needs one. `graph` is the same derivative as graph operations,
/// which second derivatives differentiate again.
fn kernel_loss<E: Element>(
    name: &'static str,
    value: E,
    grad: Tensor<E>,
    target_grad: TargetGrad<E>,
    graph: impl Fn(&Var<E>, &[Var<E>], &[bool]) -> Result<Vec<Option<Var<E>>>> + 'static,
    inputs: Vec<Var<E>>,
) -> Var<E> {
    let rule = Rule::new(name, move |g: &Tensor<E>, inputs, _out, needs| {
        let g = g.item()?;
        let mut grads = vec![Some(grad.mul_scalar(g))];
        if inputs.len() > 1 {
            grads.push(if needs[1] {
                Some(target_grad(inputs[0], &grad, inputs[1])?.mul_scalar(g))
            } else {
                None
            });
        }
        Ok(grads)
    })
    .with_graph(
        move |g: &Var<E>, inputs: &[Var<E>], _out: &Var<E>, needs: &[bool]| graph(g, inputs, needs),
    );
    Var::from_op(Tensor::scalar(value), rule, inputs)
}

/// ∂loss/∂prediction = `local`·g and ∂loss/∂target = `target_local`·g as graph nodes, each only
/// where needed: the shape of every loss's graph rule.
fn graph_grads<E: Element>(
    g: &Var<E>,
    needs: &[bool],
    local: impl FnOnce() -> Result<Var<E>>,
    target_local: impl FnOnce() -> Result<Var<E>>,
) -> Result<Vec<Option<Var<E>>>> {
    let mut grads = vec![if needs[0] {
        Some(local()?.mul(g)?)
    } else {
        None
    }];
    if needs.len() > 1 {
        grads.push(if needs[1] {
            Some(target_local()?.mul(g)?)
        } else {
            None
        });
    }
    Ok(grads)
}

/// A mean needs at least one element.
fn nonempty<E: Element>(op: &'static str, x: &Tensor<E>) -> Result<()> {
    if x.is_empty() {
        return Err(Error::Shape {
            op,
            shape: x.shape().to_vec(),
            msg: "mean over no elements".into(),
        });
    }
    Ok(())
}

fn no_target_grad<E: Element>(_: &Tensor<E>, _: &Tensor<E>, _: &Tensor<E>) -> Result<Tensor<E>> {
    Err(Error::Autograd("this loss has no target".into()))
}

fn squared_error<E: Element>(
    name: &'static str,
    pred: &Var<E>,
    target: &Var<E>,
    mean: bool,
) -> Result<Var<E>> {
    let (y, t) = (pred.value(), target.value());
    same_shape(name, &y, &t)?;
    if mean {
        nonempty(name, &y)?;
    }
    let mut grad = Tensor::zeros(y.shape());
    let total = super::squared_error(
        y.data(),
        (1, 1),
        y.len(),
        super::Targets::Values(t.data()),
        grad.data_mut(),
        mean,
    );
    let scale = E::from_f64(if mean { 2.0 / y.len() as f64 } else { 2.0 });
    drop((y, t));
    // ∂/∂y = scale·(y − t) and ∂/∂t = −∂/∂y.
    let d_pred = move |i: &[Var<E>]| Ok(i[0].sub(&i[1])?.mul_scalar(scale));
    Ok(kernel_loss(
        name,
        total,
        grad,
        |_, d_pred, _| Ok(d_pred.neg()),
        move |g, i, needs| graph_grads(g, needs, || d_pred(i), || Ok(d_pred(i)?.neg())),
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

/// Binary cross-entropy on logits, averaged over all n elements:
/// mean of −[t·ln σ(x) + (1 − t)·ln(1 − σ(x))], computed stably as
/// `max(x, 0) − x·t + ln(1 + e^{−|x|})`. `logits` and `targets` must have the same shape
/// (targets are usually in [0, 1]; they are not checked). Gradient (σ(x) − t)/n for the logits,
/// −x/n for the targets.
pub fn bce_with_logits<E: Element>(logits: &Var<E>, targets: &Var<E>) -> Result<Var<E>> {
    let (x, t) = (logits.value(), targets.value());
    same_shape("bce_with_logits", &x, &t)?;
    nonempty("bce_with_logits", &x)?;
    let mut grad = Tensor::zeros(x.shape());
    let value = super::bce(
        x.data(),
        (1, 1),
        x.len(),
        super::Targets::Values(t.data()),
        grad.data_mut(),
    );
    let inv_n = E::ONE / E::from_f64(x.len() as f64);
    drop((x, t));
    // ∂/∂x = (σ(x) − t)/n and ∂/∂t = −x/n.
    Ok(kernel_loss(
        "bce_with_logits",
        value,
        grad,
        |x, _, _| Ok(x.mul_scalar(-E::ONE / E::from_f64(x.len() as f64))),
        move |g, i, needs| {
            graph_grads(
                g,
                needs,
                || Ok(i[0].sigmoid().sub(&i[1])?.mul_scalar(inv_n)),
                || Ok(i[0].mul_scalar(-inv_n)),
            )
        },
        vec![logits.clone(), targets.clone()],
    ))
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
    let (n, c) = (x.shape()[0], x.shape()[1]);
    if classes.len() != n {
        return Err(Error::ShapeMismatch {
            op: "cross_entropy",
            lhs: x.shape().to_vec(),
            rhs: vec![classes.len()],
        });
    }
    if let Some(&bad) = classes.iter().find(|&&k| k >= c) {
        return Err(Error::Shape {
            op: "cross_entropy",
            shape: x.shape().to_vec(),
            msg: format!("class index {bad} is out of range for {c} classes"),
        });
    }
    let mut grad = Tensor::zeros(x.shape());
    let rows = classes.len();
    let value =
        super::softmax_cross_entropy(x.data(), c, classes.iter().copied(), rows, grad.data_mut());
    drop(x);
    // ∂/∂x = (softmax(x) − onehot)/n; the classes are kept for this graph form only.
    let classes = classes.to_vec();
    let inv_n = E::ONE / E::from_f64(n as f64);
    Ok(kernel_loss(
        "cross_entropy",
        value,
        grad,
        no_target_grad,
        move |g, i, needs| {
            graph_grads(
                g,
                needs,
                || {
                    let onehot = Tensor::full(&[n], E::ONE).scatter_by_index(&classes, c)?;
                    Ok(i[0]
                        .softmax(1)?
                        .sub(&Var::constant(onehot))?
                        .mul_scalar(inv_n))
                },
                || Err(Error::Autograd("this loss has no target".into())),
            )
        },
        vec![logits.clone()],
    ))
}
