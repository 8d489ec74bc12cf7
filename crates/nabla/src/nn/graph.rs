//! A network as an autograd graph: each layer becomes one node whose derivative rule is the
//! layer's own backward pass (the engine's code, not a second set of rules), so the graph of a
//! network on an example can be drawn with every value, ∂E/∂node and local derivative.
//!
//! Second derivatives ([`Var::grad_graph`]) go through a layer node by differentiating the
//! layer's [`Module::forward_graph`] (its forward pass in graph operations: linear and the
//! activations have one); a layer without one answers [`Error::NoDoubleBackward`] naming it.

use std::cell::RefCell;

use super::{Backprop, Module, Pass, Sequential};
use crate::autograd::{Backward, Var};
use crate::{Error, Result, Tensor};

/// What a derivative rule returns: one gradient per input.
type Grads = Result<Vec<Option<Tensor<f64>>>>;

/// The derivative rule of one layer node: a private copy of the layer (same values, its own
/// parameter leaves) runs the backward pass, and its parameter gradients are handed back as the
/// gradients of the node's parameter inputs.
struct LayerRule {
    name: &'static str,
    layer: Box<dyn Module<f64>>,
    input_shape: Vec<usize>,
    output_shape: Vec<usize>,
    training: bool,
    scratch: RefCell<Vec<f64>>,
}

impl Backward<f64> for LayerRule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(
        &self,
        grad_output: &Tensor<f64>,
        inputs: &[&Tensor<f64>],
        output: &Tensor<f64>,
        needs: &[bool],
    ) -> Grads {
        self.layer_backward(grad_output, inputs[0], output, needs[0])
    }

    /// The vector-Jacobian product of the layer's [`Module::forward_graph`] on the graph's own
    /// input and parameter nodes: ∂(Σ g ⊙ y)/∂input, computed on the tape so that it can be
    /// differentiated again. Layers without a graph forward answer
    /// [`Error::NoDoubleBackward`].
    fn backward_graph(
        &self,
        g: &Var<f64>,
        inputs: &[Var<f64>],
        _output: &Var<f64>,
        needs: &[bool],
    ) -> Result<Vec<Option<Var<f64>>>> {
        // Every node from here on belongs to this rule's own graph; the partial derivative is
        // taken through it alone, with `g` and the inputs' history held fixed.
        let since = Var::<f64>::scalar(0.0).id();
        let Some(y) = self.layer.forward_graph(&inputs[0], &inputs[1..]) else {
            return Err(Error::NoDoubleBackward { op: self.name });
        };
        let weighted = y?.mul(g)?.sum();
        let wanted: Vec<Var<f64>> = inputs
            .iter()
            .zip(needs)
            .filter(|(_, &need)| need)
            .map(|(input, _)| input.clone())
            .collect();
        let mut grads = weighted.grad_graph_since(&wanted, since)?.into_iter();
        Ok(needs
            .iter()
            .map(|&need| if need { grads.next() } else { None })
            .collect())
    }
}

impl LayerRule {
    /// ∂E/∂x (when `need_x`) and ∂E/∂θ of every parameter, from ∂E/∂y = `grad_output`.
    fn layer_backward(
        &self,
        grad_output: &Tensor<f64>,
        x: &Tensor<f64>,
        output: &Tensor<f64>,
        need_x: bool,
    ) -> Grads {
        let rows = x.shape()[0];
        let pass = Pass::new(rows, &self.input_shape, &self.output_shape, self.training);
        let params = self.layer.parameters();
        for (_, p) in &params {
            p.zero_grad();
        }
        let mut dy = grad_output.data().to_vec();
        let mut dx = vec![0.0; x.len()];
        let grads = Backprop {
            x: x.data(),
            y: output.data(),
            dy: &mut dy,
            dx: Some(&mut dx),
            scratch: &mut self.scratch.borrow_mut(),
        };
        self.layer.backward(grads, &pass)?;
        let mut grads = vec![if need_x {
            Some(Tensor::from_vec(dx, x.shape())?)
        } else {
            None
        }];
        for (_, p) in &params {
            grads.push(Some(p.grad().unwrap_or_else(|| Tensor::zeros(&p.shape()))));
        }
        Ok(grads)
    }
}

impl Sequential<f64> {
    /// Run `x` (`[rows, ...input shape]`) through the network, recording one graph node per
    /// layer with the layer's parameters (labelled `0.weight`, ...) as inputs. Nodes are
    /// labelled `z{i}` after a layer with parameters and `a{i}` after an activation.
    pub fn record(&self, x: &Var<f64>) -> Result<Var<f64>> {
        let shape = x.shape();
        if shape.is_empty() || shape[1..] != self.input_shape()[..] {
            return Err(Error::ShapeMismatch {
                op: "record (input vs network input shape)",
                lhs: shape,
                rhs: self.input_shape().to_vec(),
            });
        }
        let rows = shape[0];
        let shapes = self.layer_shapes()?;
        let mut h = x.clone();
        let mut in_shape = self.input_shape().to_vec();
        for (i, layer) in self.layers().iter().enumerate() {
            let copy = layer.to_f64()?;
            let pass = Pass::new(rows, &in_shape, &shapes[i], self.is_training());
            let mut scratch = vec![0.0; copy.scratch_len(&pass)];
            let out_len: usize = shapes[i].iter().product();
            let mut y = vec![0.0; rows * out_len];
            copy.forward(h.value().data(), &mut y, &mut scratch, &pass)?;
            let mut out_shape = vec![rows];
            out_shape.extend_from_slice(&shapes[i]);
            let mut inputs = vec![h.clone()];
            for (name, p) in layer.parameters() {
                if p.label().is_none() {
                    p.set_label(format!("{i}.{name}"));
                }
                inputs.push(p);
            }
            let has_params = inputs.len() > 1;
            let spec = layer.spec();
            let rule = LayerRule {
                // A rule's name lives as long as the program: a custom layer is drawn as `layer`.
                name: spec.builtin_kind().unwrap_or("layer"),
                layer: copy,
                input_shape: in_shape.clone(),
                output_shape: shapes[i].clone(),
                training: self.is_training(),
                scratch: RefCell::new(scratch),
            };
            h = Var::from_op(Tensor::from_vec(y, &out_shape)?, rule, inputs);
            if has_params {
                h.set_label(format!("z{i}"));
            } else if spec.activation().is_some() {
                h.set_label(format!("a{i}"));
            }
            in_shape = shapes[i].clone();
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Activation, MlpConfig};

    #[test]
    fn recorded_graph_gradients_match_the_engine_and_finite_differences() {
        let net = Sequential::<f32>::mlp(
            &MlpConfig::new(3, [4], 2)
                .with_activation(Activation::Tanh)
                .with_seed(5),
        )
        .unwrap()
        .to_f64()
        .unwrap();
        let xs = vec![0.3, -1.2, 0.7, 1.1, 0.2, -0.4];
        let x = Var::constant(Tensor::from_vec(xs.clone(), &[2, 3]).unwrap());
        let out = net.record(&x).unwrap();
        let loss = crate::loss::cross_entropy(&out, &[1, 0]).unwrap();
        loss.backward().unwrap();
        let params = net.named_parameters();
        let w0 = params[0].1.grad().unwrap();
        // Finite differences on the first weight tensor through the graph's own values.
        let f = |net: &Sequential<f64>| {
            let x = Var::constant(Tensor::from_vec(xs.clone(), &[2, 3]).unwrap());
            let out = crate::autograd::no_grad(|| net.record(&x).unwrap());
            crate::loss::cross_entropy(&out, &[1, 0])
                .unwrap()
                .value()
                .item()
                .unwrap()
        };
        for j in 0..w0.len() {
            let p = &params[0].1;
            let v = p.value().data()[j];
            p.value_mut().data_mut()[j] = v + 1e-6;
            let plus = f(&net);
            p.value_mut().data_mut()[j] = v - 1e-6;
            let minus = f(&net);
            p.value_mut().data_mut()[j] = v;
            let fd = (plus - minus) / 2e-6;
            assert!(
                (fd - w0.data()[j]).abs() < 1e-7,
                "{j}: {fd} vs {}",
                w0.data()[j]
            );
        }
        assert_eq!(out.op_name(), "linear");
    }
}
