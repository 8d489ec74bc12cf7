//! Reverse-mode automatic differentiation over a dynamically recorded graph.
//!
//! Every operation on a [`Var`] computes its value at once and, unless gradients are off,
//! records how to send a gradient back to its inputs (its [`Backward`] rule). [`Var::backward`]
//! then applies the chain rule from the output to every input in reverse order of creation. A value
//! that feeds several operations receives the **sum** of the gradients along every path: that is
//! the generalised chain rule, ∂L/∂x = Σ over consumers c of ∂L/∂c · ∂c/∂x.
//!
//! Leaf variables that require gradients (parameters) accumulate into their `grad` across calls
//! until [`Var::zero_grad`], as in PyTorch. Intermediate gradients are returned in a
//! [`Gradients`] store keyed by node, so nothing is hidden in scattered mutable fields.
//!
//! The walk is iterative (no recursion, so deep graphs are fine) and ordered by creation id:
//! every node is created after its inputs, so decreasing id is a valid reverse topological order.

use crate::nn::batch::{split_values, Parts};
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use crate::{Element, Error, Result, Tensor};

mod gradcheck;
mod higher;
mod ops;

pub use gradcheck::{gradcheck, GradcheckReport};
pub use higher::{hessian, hessian_vector_product, MAX_HESSIAN_SIZE};

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

fn next_id() -> u64 {
    NEXT_ID.with(|c| {
        let id = c.get();
        c.set(id + 1);
        id
    })
}

/// Whether operations currently record the graph (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Run `f` with graph recording switched off: results are plain constants. Use it for
/// inference and for optimiser updates.
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}

/// Switches recording off until dropped (restoring the previous state).
pub struct NoGradGuard {
    prev: bool,
}

impl NoGradGuard {
    /// Switch recording off.
    pub fn new() -> Self {
        let prev = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { prev }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// The derivative rule of one operation, kept beside its forward computation.
pub trait Backward<E: Element> {
    /// Operation name, for messages and graph drawings.
    fn name(&self) -> &'static str;

    /// Given ∂L/∂output, return ∂L/∂input for each input, in input order (`None` where
    /// `needs[i]` is false or the input has no gradient). `inputs` and `output` are the values
    /// computed in the forward pass.
    fn backward(
        &self,
        grad_output: &Tensor<E>,
        inputs: &[&Tensor<E>],
        output: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>>;

    /// The same derivative written with graph operations, for derivatives of derivatives
    /// ([`Var::grad_graph`]): given ∂L/∂output as a [`Var`], return ∂L/∂input for each input as
    /// `Var`s recorded on the tape (`None` where `needs[i]` is false), so that they can be
    /// differentiated again. `inputs` are the op's input nodes and `output` its own node.
    ///
    /// The default says that the op has none ([`Error::NoDoubleBackward`] naming it): an op
    /// without this rule still has first derivatives, but no second ones.
    fn backward_graph(
        &self,
        grad_output: &Var<E>,
        inputs: &[Var<E>],
        output: &Var<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Var<E>>>> {
        let _ = (grad_output, inputs, output, needs);
        Err(Error::NoDoubleBackward { op: self.name() })
    }
}

/// A derivative rule written as a closure beside the code that computes the forward value, so
/// that an op's value and its chain-rule step read side by side (as in micrograd). The closure
/// takes the arguments of [`Backward::backward`]. Every built-in op, loss and recorded layer
/// enters the graph through one: `Var::from_op(value, Rule::new("name", |g, inputs, y, needs|
/// ...), inputs)`.
///
/// [`Rule::with_graph`] adds the same rule written with graph operations (the arguments of
/// [`Backward::backward_graph`]), which is what second derivatives run; a rule without one
/// answers [`Error::NoDoubleBackward`] there. The first-order walk never calls it, so it costs
/// the training path nothing.
pub struct Rule<F, G = NoGraph> {
    name: &'static str,
    backward: F,
    graph: G,
}

/// The graph form of a [`Rule`] that has none: its gradient cannot be differentiated again.
pub struct NoGraph;

/// The graph form of a [`Rule`]: a closure with the arguments of [`Backward::backward_graph`].
pub struct Graph<G>(G);

impl<F> Rule<F> {
    /// The bound on `F` here lets the closure's argument types be inferred.
    pub fn new<E: Element>(name: &'static str, backward: F) -> Self
    where
        F: Fn(&Tensor<E>, &[&Tensor<E>], &Tensor<E>, &[bool]) -> Result<Vec<Option<Tensor<E>>>>,
    {
        Rule {
            name,
            backward,
            graph: NoGraph,
        }
    }

    /// The same rule, also written with graph operations so that its result can be
    /// differentiated again (see [`Backward::backward_graph`]).
    pub fn with_graph<E: Element, G>(self, graph: G) -> Rule<F, Graph<G>>
    where
        G: Fn(&Var<E>, &[Var<E>], &Var<E>, &[bool]) -> Result<Vec<Option<Var<E>>>>,
    {
        Rule {
            name: self.name,
            backward: self.backward,
            graph: Graph(graph),
        }
    }
}

impl<E, F> Backward<E> for Rule<F, NoGraph>
where
    E: Element,
    F: Fn(&Tensor<E>, &[&Tensor<E>], &Tensor<E>, &[bool]) -> Result<Vec<Option<Tensor<E>>>>,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        (self.backward)(g, inputs, out, needs)
    }
}

impl<E, F, G> Backward<E> for Rule<F, Graph<G>>
where
    E: Element,
    F: Fn(&Tensor<E>, &[&Tensor<E>], &Tensor<E>, &[bool]) -> Result<Vec<Option<Tensor<E>>>>,
    G: Fn(&Var<E>, &[Var<E>], &Var<E>, &[bool]) -> Result<Vec<Option<Var<E>>>>,
{
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(
        &self,
        g: &Tensor<E>,
        inputs: &[&Tensor<E>],
        out: &Tensor<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Tensor<E>>>> {
        (self.backward)(g, inputs, out, needs)
    }
    fn backward_graph(
        &self,
        g: &Var<E>,
        inputs: &[Var<E>],
        out: &Var<E>,
        needs: &[bool],
    ) -> Result<Vec<Option<Var<E>>>> {
        (self.graph.0)(g, inputs, out, needs)
    }
}

struct GradFn<E: Element> {
    rule: Box<dyn Backward<E>>,
    inputs: Vec<Var<E>>,
}

struct Node<E: Element> {
    id: u64,
    value: RefCell<Tensor<E>>,
    grad: RefCell<Option<Tensor<E>>>,
    requires_grad: bool,
    grad_fn: Option<GradFn<E>>,
    label: RefCell<Option<String>>,
}

/// A tensor in the graph: its value, whether gradients flow to it, and (for results of
/// operations) how to send gradients back. Cloning a `Var` clones a handle, not the data.
pub struct Var<E: Element = f32>(Rc<Node<E>>);

impl<E: Element> Clone for Var<E> {
    fn clone(&self) -> Self {
        Var(Rc::clone(&self.0))
    }
}

impl<E: Element> fmt::Debug for Var<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.0.id)
            .field("op", &self.op_name())
            .field("shape", &self.shape())
            .field("requires_grad", &self.0.requires_grad)
            .finish()
    }
}

impl<E: Element> Var<E> {
    /// A constant: gradients never flow to it.
    pub fn constant(value: Tensor<E>) -> Self {
        Self::leaf(value, false)
    }

    /// A parameter: a leaf whose gradient is accumulated by [`Var::backward`].
    pub fn parameter(value: Tensor<E>) -> Self {
        Self::leaf(value, true)
    }

    /// A leaf with an explicit `requires_grad`.
    pub fn leaf(value: Tensor<E>, requires_grad: bool) -> Self {
        Var(Rc::new(Node {
            id: next_id(),
            value: RefCell::new(value),
            grad: RefCell::new(None),
            requires_grad,
            grad_fn: None,
            label: RefCell::new(None),
        }))
    }

    /// A constant rank-0 tensor.
    pub fn scalar(v: E) -> Self {
        Self::constant(Tensor::scalar(v))
    }

    /// The result of an operation: `value` computed from `inputs`, with the derivative rule
    /// `rule`. Records the graph only if some input requires gradients and recording is on;
    /// otherwise the result is a constant. This is how every operation, including ones users
    /// define, enters the graph.
    pub fn from_op(
        value: Tensor<E>,
        rule: impl Backward<E> + 'static,
        inputs: Vec<Var<E>>,
    ) -> Self {
        let track = is_grad_enabled() && inputs.iter().any(|v| v.0.requires_grad);
        Var(Rc::new(Node {
            id: next_id(),
            value: RefCell::new(value),
            grad: RefCell::new(None),
            requires_grad: track,
            grad_fn: if track {
                Some(GradFn {
                    rule: Box::new(rule),
                    inputs,
                })
            } else {
                None
            },
            label: RefCell::new(None),
        }))
    }

    /// Unique id; later nodes have larger ids.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The value, borrowed.
    pub fn value(&self) -> Ref<'_, Tensor<E>> {
        self.0.value.borrow()
    }

    /// The value, mutably borrowed: for optimiser updates of parameters. Changing a value that
    /// later nodes were computed from does not recompute them.
    pub fn value_mut(&self) -> RefMut<'_, Tensor<E>> {
        self.0.value.borrow_mut()
    }

    /// Replace the value (same shape required).
    pub fn set_value(&self, value: Tensor<E>) -> Result<()> {
        let mut v = self.0.value.borrow_mut();
        if v.shape() != value.shape() {
            return Err(Error::ShapeMismatch {
                op: "set_value",
                lhs: v.shape().to_vec(),
                rhs: value.shape().to_vec(),
            });
        }
        *v = value;
        Ok(())
    }

    /// A copy of the shape.
    pub fn shape(&self) -> Vec<usize> {
        self.0.value.borrow().shape().to_vec()
    }

    /// Whether gradients flow to this variable.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// True for leaves (parameters and constants).
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.is_none()
    }

    /// Name of the operation that produced this value ("leaf" for leaves).
    pub fn op_name(&self) -> &'static str {
        match &self.0.grad_fn {
            Some(g) => g.rule.name(),
            None => "leaf",
        }
    }

    /// The inputs of the operation that produced this value (empty for leaves).
    pub fn inputs(&self) -> Vec<Var<E>> {
        match &self.0.grad_fn {
            Some(g) => g.inputs.clone(),
            None => vec![],
        }
    }

    /// The local derivatives of this operation: for each input, the operation's backward rule
    /// applied to a gradient of ones, i.e. Σ over output elements of ∂output/∂input (for scalar
    /// nodes exactly ∂self/∂input). Computed for every input, constants included; empty for
    /// leaves and for nodes recorded without gradients. Nothing is accumulated anywhere: use it
    /// to label the edges of a graph drawing.
    pub fn local_derivatives(&self) -> Result<Vec<Option<Tensor<E>>>> {
        let Some(gf) = &self.0.grad_fn else {
            return Ok(vec![]);
        };
        let needs = vec![true; gf.inputs.len()];
        let input_vals: Vec<Ref<'_, Tensor<E>>> =
            gf.inputs.iter().map(|i| i.0.value.borrow()).collect();
        let input_refs: Vec<&Tensor<E>> = input_vals.iter().map(|r| &**r).collect();
        let out = self.0.value.borrow();
        let seed = Tensor::full(out.shape(), E::ONE);
        gf.rule.backward(&seed, &input_refs, &out, &needs)
    }

    /// Attach a human-readable label (used by graph drawings).
    pub fn set_label(&self, label: impl Into<String>) {
        *self.0.label.borrow_mut() = Some(label.into());
    }

    /// The label, if one was set.
    pub fn label(&self) -> Option<String> {
        self.0.label.borrow().clone()
    }

    /// The accumulated gradient of a leaf (`None` before any backward or after zeroing).
    pub fn grad(&self) -> Option<Tensor<E>> {
        self.0.grad.borrow().clone()
    }

    /// The gradient slot, borrowed (no copy).
    pub fn grad_ref(&self) -> Ref<'_, Option<Tensor<E>>> {
        self.0.grad.borrow()
    }

    /// The gradient slot, mutably borrowed: layers write gradients here directly in their backward pass.
    pub fn grad_mut(&self) -> RefMut<'_, Option<Tensor<E>>> {
        self.0.grad.borrow_mut()
    }

    /// Reset the accumulated gradient to zero, keeping its buffer.
    pub fn zero_grad(&self) {
        if let Some(g) = self.0.grad.borrow_mut().as_mut() {
            // Large gradients are cleared by the threads the products use.
            let data = g.data_mut();
            if data.len() < 4096 {
                return data.fill(E::ZERO);
            }
            let parts = Parts(data.as_mut_ptr());
            split_values(data.len(), |r| {
                // SAFETY: the runs are disjoint and inside `data`.
                unsafe { parts.slice(r.start, r.len()) }.fill(E::ZERO)
            });
        }
    }

    /// Drop the gradient buffer.
    pub fn clear_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }

    /// The same value, cut from the graph (a constant).
    pub fn detach(&self) -> Var<E> {
        Var::constant(self.value().clone())
    }

    /// Back-propagate from this scalar: every leaf that requires gradients gets ∂self/∂leaf
    /// added to its `grad`. Returns the gradients of every node on the way.
    ///
    /// Errors if `self` is not a one-element tensor or does not require gradients.
    pub fn backward(&self) -> Result<Gradients<E>> {
        let v = self.value();
        if v.len() != 1 {
            return Err(Error::Autograd(format!(
                "backward() needs a scalar output, got shape {:?}; pass an explicit output gradient with backward_with",
                v.shape()
            )));
        }
        let seed = Tensor::full(v.shape(), E::ONE);
        drop(v);
        self.backward_with(seed)
    }

    /// Back-propagate with an explicit ∂L/∂self of the same shape as `self`.
    pub fn backward_with(&self, grad_output: Tensor<E>) -> Result<Gradients<E>> {
        if !self.0.requires_grad {
            return Err(Error::Autograd(
                "backward() called on a value that does not require gradients (no parameter leads to it, or it was computed under no_grad)".into(),
            ));
        }
        if grad_output.shape() != self.value().shape() {
            return Err(Error::ShapeMismatch {
                op: "backward",
                lhs: self.shape(),
                rhs: grad_output.shape().to_vec(),
            });
        }
        // Collect the nodes that need gradients, iteratively.
        let mut nodes: Vec<Var<E>> = Vec::new();
        let mut seen: HashMap<u64, ()> = HashMap::new();
        let mut stack = vec![self.clone()];
        seen.insert(self.0.id, ());
        while let Some(v) = stack.pop() {
            if let Some(g) = &v.0.grad_fn {
                for inp in &g.inputs {
                    if inp.0.requires_grad && seen.insert(inp.0.id, ()).is_none() {
                        stack.push(inp.clone());
                    }
                }
            }
            nodes.push(v);
        }
        nodes.sort_unstable_by_key(|v| std::cmp::Reverse(v.0.id));

        let mut grads: HashMap<u64, Tensor<E>> = HashMap::with_capacity(nodes.len());
        grads.insert(self.0.id, grad_output);
        for node in &nodes {
            let Some(g) = grads.get(&node.0.id) else {
                continue;
            };
            match &node.0.grad_fn {
                Some(gf) => {
                    let needs: Vec<bool> = gf.inputs.iter().map(|i| i.0.requires_grad).collect();
                    let input_vals: Vec<Ref<'_, Tensor<E>>> =
                        gf.inputs.iter().map(|i| i.0.value.borrow()).collect();
                    let input_refs: Vec<&Tensor<E>> = input_vals.iter().map(|r| &**r).collect();
                    let out = node.0.value.borrow();
                    let input_grads = gf.rule.backward(g, &input_refs, &out, &needs)?;
                    drop(out);
                    drop(input_refs);
                    drop(input_vals);
                    for ((inp, need), ig) in gf.inputs.iter().zip(&needs).zip(input_grads) {
                        let (true, Some(ig)) = (*need, ig) else {
                            continue;
                        };
                        if ig.shape() != inp.0.value.borrow().shape() {
                            return Err(Error::Autograd(format!(
                                "internal: {} produced a gradient of shape {:?} for an input of shape {:?}",
                                gf.rule.name(),
                                ig.shape(),
                                inp.shape()
                            )));
                        }
                        match grads.get_mut(&inp.0.id) {
                            Some(acc) => accumulate(acc, &ig),
                            None => {
                                grads.insert(inp.0.id, ig);
                            }
                        }
                    }
                }
                None => {
                    let mut slot = node.0.grad.borrow_mut();
                    match slot.as_mut() {
                        Some(acc) if acc.shape() == g.shape() => accumulate(acc, g),
                        _ => *slot = Some(g.clone()),
                    }
                }
            }
        }
        Ok(Gradients { map: grads })
    }
}

fn accumulate<E: Element>(acc: &mut Tensor<E>, g: &Tensor<E>) {
    for (a, &b) in acc.data_mut().iter_mut().zip(g.data()) {
        *a += b;
    }
}

/// The gradients computed by one backward pass, for every node on the way (leaves included).
pub struct Gradients<E: Element = f32> {
    map: HashMap<u64, Tensor<E>>,
}

impl<E: Element> Gradients<E> {
    /// ∂output/∂v from this pass, if `v` was on a path to the output.
    pub fn get(&self, v: &Var<E>) -> Option<&Tensor<E>> {
        self.map.get(&v.id())
    }

    /// Number of nodes that received a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no node received a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
