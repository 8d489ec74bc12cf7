//! Second derivatives (double backward): gradients that are themselves values on the tape.
//!
//! [`Var::grad_graph`] runs the chain rule like [`Var::backward`], but through each op's
//! [`Backward::backward_graph`](super::Backward::backward_graph), the op's derivative written
//! with graph operations. The gradients it returns are `Var`s whose graph leads back to the
//! parameters, so differentiating them again gives second derivatives: a Hessian-vector product
//! `H·v = ∇(∇L · v)` costs two backward walks and no n×n matrix
//! ([`hessian_vector_product`]); for small parameter counts [`hessian`] builds the whole
//! matrix, one row per element.
//!
//! The first-order walk ([`Var::backward`]) does not change: it never calls the graph rules, so
//! a training step pays nothing for them. An op whose derivative exists only as a tensor
//! computation (a recorded network layer, a user's [`Rule`](super::Rule) without
//! [`with_graph`](super::Rule::with_graph)) answers [`Error::NoDoubleBackward`] naming it.

use std::collections::{HashMap, HashSet};

use super::{Var, GRAD_ENABLED};
use crate::{Element, Error, Result, Tensor};

/// Largest number of parameter elements [`hessian`] accepts: the matrix has this many squared
/// entries and costs this many backward walks.
pub const MAX_HESSIAN_SIZE: usize = 4096;

/// Switches recording on until dropped (restoring the previous state): the gradients of
/// [`Var::grad_graph`] must be on the tape even when called under [`no_grad`](super::no_grad).
struct RecordingGuard {
    prev: bool,
}

impl RecordingGuard {
    fn new() -> Self {
        RecordingGuard {
            prev: GRAD_ENABLED.with(|g| g.replace(true)),
        }
    }
}

impl Drop for RecordingGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

impl<E: Element> Var<E> {
    /// ∂self/∂x for each `x` in `wrt`, as values **on the tape**: each result is a `Var` whose
    /// graph leads back to the parameters, so it can be differentiated again (a derivative of a
    /// derivative). Nothing is accumulated into any `grad`. `self` must be a one-element value;
    /// each `x` must require gradients (a parameter, or a node computed from one). An `x` that
    /// `self` does not depend on gets a constant zero.
    ///
    /// Errors with [`Error::NoDoubleBackward`] naming the first op on the way that has no
    /// graph form of its derivative.
    ///
    /// ```
    /// use nabla::autograd::Var;
    /// use nabla::Tensor;
    ///
    /// let x = Var::parameter(Tensor::scalar(3.0f64));
    /// let y = x.powf(3.0); // x³
    /// let dy = y.grad_graph(&[x.clone()]).unwrap().remove(0); // 3x² = 27
    /// assert_eq!(dy.value().item().unwrap(), 27.0);
    /// let d2y = dy.grad_graph(&[x.clone()]).unwrap().remove(0); // 6x = 18
    /// assert_eq!(d2y.value().item().unwrap(), 18.0);
    /// ```
    pub fn grad_graph(&self, wrt: &[Var<E>]) -> Result<Vec<Var<E>>> {
        self.grad_graph_since(wrt, 0)
    }

    /// [`Var::grad_graph`] through the nodes created from id `since` on (and the `wrt` nodes)
    /// only: every older node is held fixed, as a constant would be, though results still
    /// depend on it on the tape. A derivative rule that builds its result by differentiating a
    /// graph of its own (a layer's [`Module::forward_graph`](crate::nn::Module::forward_graph))
    /// uses it to take the partial derivative through that graph alone, not through the
    /// incoming gradient's own history.
    pub(crate) fn grad_graph_since(&self, wrt: &[Var<E>], since: u64) -> Result<Vec<Var<E>>> {
        let shape = self.shape();
        if shape.iter().product::<usize>() != 1 {
            return Err(Error::Autograd(format!(
                "grad_graph needs a one-element output, got shape {shape:?}"
            )));
        }
        if let Some(i) = wrt.iter().position(|x| !x.requires_grad()) {
            return Err(Error::Autograd(format!(
                "grad_graph: input {i} does not require gradients (make it a parameter)"
            )));
        }
        let _recording = RecordingGuard::new();
        let zeros = || -> Vec<Var<E>> {
            wrt.iter()
                .map(|x| Var::constant(Tensor::zeros(&x.shape())))
                .collect()
        };
        if !self.requires_grad() {
            return Ok(zeros());
        }
        // The nodes that need gradients, as in `backward`, in creation order.
        let mut nodes: Vec<Var<E>> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::from([self.id()]);
        let targets: HashSet<u64> = wrt.iter().map(Var::id).collect();
        let mut stack = vec![self.clone()];
        while let Some(v) = stack.pop() {
            if let Some(g) = &v.0.grad_fn {
                for inp in &g.inputs {
                    let inside = inp.id() >= since || targets.contains(&inp.id());
                    if inside && inp.requires_grad() && seen.insert(inp.id()) {
                        stack.push(inp.clone());
                    }
                }
            }
            nodes.push(v);
        }
        nodes.sort_unstable_by_key(Var::id);
        // Only paths that end at some `x` are walked, so an op off those paths (say, a layer
        // without a graph rule feeding only the data side) is never asked for one.
        let mut leads = targets;
        for v in &nodes {
            if let Some(g) = &v.0.grad_fn {
                if g.inputs.iter().any(|i| leads.contains(&i.id())) {
                    leads.insert(v.id());
                }
            }
        }
        if !leads.contains(&self.id()) {
            return Ok(zeros());
        }

        let mut grads: HashMap<u64, Var<E>> = HashMap::with_capacity(nodes.len());
        grads.insert(self.id(), Var::constant(Tensor::full(&shape, E::ONE)));
        for node in nodes.iter().rev() {
            let Some(gf) = &node.0.grad_fn else {
                continue;
            };
            if !leads.contains(&node.id()) {
                continue;
            }
            let Some(g) = grads.get(&node.id()).cloned() else {
                continue;
            };
            let needs: Vec<bool> = gf.inputs.iter().map(|i| leads.contains(&i.id())).collect();
            let input_grads = gf.rule.backward_graph(&g, &gf.inputs, node, &needs)?;
            for ((inp, need), ig) in gf.inputs.iter().zip(&needs).zip(input_grads) {
                let (true, Some(ig)) = (*need, ig) else {
                    continue;
                };
                if ig.shape() != inp.shape() {
                    return Err(Error::Autograd(format!(
                        "internal: the graph rule of {} produced a gradient of shape {:?} for an input of shape {:?}",
                        gf.rule.name(),
                        ig.shape(),
                        inp.shape()
                    )));
                }
                let total = match grads.remove(&inp.id()) {
                    Some(acc) => acc.add(&ig)?,
                    None => ig,
                };
                grads.insert(inp.id(), total);
            }
        }
        Ok(wrt
            .iter()
            .map(|x| {
                grads
                    .get(&x.id())
                    .cloned()
                    .unwrap_or_else(|| Var::constant(Tensor::zeros(&x.shape())))
            })
            .collect())
    }
}

/// Parameter leaves, and the gradient of a scalar over them as nodes on the tape.
type LeavesAndGradient<E> = (Vec<Var<E>>, Vec<Var<E>>);

/// Fresh parameter leaves for `params`, and `f`'s scalar on them with its gradient on the tape.
fn gradient_on_tape<E: Element>(
    f: impl Fn(&[Var<E>]) -> Result<Var<E>>,
    params: &[Tensor<E>],
) -> Result<LeavesAndGradient<E>> {
    let leaves: Vec<Var<E>> = params.iter().map(|t| Var::parameter(t.clone())).collect();
    let loss = f(&leaves)?;
    let grads = loss.grad_graph(&leaves)?;
    Ok((leaves, grads))
}

/// H·v for the gradient `grads` (on the tape) of a scalar over `leaves`: ∇(∇f · v).
fn hvp_on_tape<E: Element>(
    grads: &[Var<E>],
    leaves: &[Var<E>],
    v: &[Tensor<E>],
) -> Result<Vec<Tensor<E>>> {
    let mut dot: Option<Var<E>> = None;
    for (g, v) in grads.iter().zip(v) {
        let term = g.mul(&Var::constant(v.clone()))?.sum();
        dot = Some(match dot {
            Some(acc) => acc.add(&term)?,
            None => term,
        });
    }
    let Some(dot) = dot else {
        return Ok(vec![]);
    };
    Ok(dot
        .grad_graph(leaves)?
        .iter()
        .map(|h| h.value().clone())
        .collect())
}

/// The Hessian of the scalar `f(params)` times the direction `v` (one tensor per parameter,
/// shaped like it), without forming the Hessian: H·v = ∇(∇f · v), two backward walks.
/// `f` is called once, with the parameters as fresh [`Var::parameter`] leaves (as in
/// [`gradcheck`](super::gradcheck)). Every op on the way needs a graph form of its derivative
/// (all of `Var`'s own ops and the losses in [`crate::loss`] have one).
///
/// Errors if `v` does not match `params` in number and shapes, if `f` fails or does not return
/// one element, or with [`Error::NoDoubleBackward`] for an op without a second derivative.
///
/// ```
/// use nabla::autograd::hessian_vector_product;
/// use nabla::Tensor;
///
/// // f(x) = Σ x_i³ has Hessian diag(6 x_i).
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
/// let v = Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap();
/// let hv = hessian_vector_product(|p| Ok(p[0].powf(3.0).sum()), &[x], &[v]).unwrap();
/// assert_eq!(hv[0].data(), &[6.0, 12.0]);
/// ```
pub fn hessian_vector_product<E: Element>(
    f: impl Fn(&[Var<E>]) -> Result<Var<E>>,
    params: &[Tensor<E>],
    v: &[Tensor<E>],
) -> Result<Vec<Tensor<E>>> {
    if v.len() != params.len() {
        return Err(Error::ShapeMismatch {
            op: "hessian_vector_product (number of parameters vs directions)",
            lhs: vec![params.len()],
            rhs: vec![v.len()],
        });
    }
    if let Some((p, d)) = params.iter().zip(v).find(|(p, d)| p.shape() != d.shape()) {
        return Err(Error::ShapeMismatch {
            op: "hessian_vector_product (parameter vs direction)",
            lhs: p.shape().to_vec(),
            rhs: d.shape().to_vec(),
        });
    }
    let _recording = RecordingGuard::new();
    let (leaves, grads) = gradient_on_tape(f, params)?;
    hvp_on_tape(&grads, &leaves, v)
}

/// The full Hessian of the scalar `f(params)` over every element of every parameter (in
/// order, each flattened row-major), as an `[n, n]` tensor: row k is H·e_k, one backward walk
/// per element through a gradient computed once. For small n only: errors (a parameter error)
/// above [`MAX_HESSIAN_SIZE`] elements; otherwise as [`hessian_vector_product`].
///
/// ```
/// use nabla::autograd::hessian;
/// use nabla::Tensor;
///
/// // f(x, y) = x²·y has Hessian [[2y, 2x], [2x, 0]].
/// let (x, y) = (Tensor::scalar(3.0f64), Tensor::scalar(5.0));
/// let h = hessian(|v| v[0].powf(2.0).mul(&v[1]), &[x, y]).unwrap();
/// assert_eq!(h.shape(), &[2, 2]);
/// assert_eq!(h.data(), &[10.0, 6.0, 6.0, 0.0]);
/// ```
pub fn hessian<E: Element>(
    f: impl Fn(&[Var<E>]) -> Result<Var<E>>,
    params: &[Tensor<E>],
) -> Result<Tensor<E>> {
    let n: usize = params.iter().map(Tensor::len).sum();
    if n > MAX_HESSIAN_SIZE {
        return Err(Error::param(
            "hessian",
            format!(
                "{n} parameter elements is more than {MAX_HESSIAN_SIZE}; use hessian_vector_product"
            ),
        ));
    }
    let _recording = RecordingGuard::new();
    let (leaves, grads) = gradient_on_tape(f, params)?;
    let mut basis: Vec<Tensor<E>> = params.iter().map(|p| Tensor::zeros(p.shape())).collect();
    let mut rows = Vec::with_capacity(n * n);
    for (i, p) in params.iter().enumerate() {
        for j in 0..p.len() {
            basis[i].data_mut()[j] = E::ONE;
            for h in hvp_on_tape(&grads, &leaves, &basis)? {
                rows.extend_from_slice(h.data());
            }
            basis[i].data_mut()[j] = E::ZERO;
        }
    }
    Tensor::from_vec(rows, &[n, n])
}
