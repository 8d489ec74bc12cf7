//! The cascade network of cascade-correlation (Fahlman & Lebiere 1990): hidden units in a
//! cascade, each seeing the inputs and every earlier unit, and a linear output layer that
//! sees the inputs and every unit (shortcut connections). Forward and the chain rule side by
//! side; [`crate::train::cascade`] grows it one unit at a time.
//!
//! With inputs x (I values) and units h₀ … h_{U−1}, write the feature row
//! f = [x, h₀, …, h_{U−1}] (I + U values). Unit k computes
//!
//! ```text
//! h_k = act_k(b_k + Σ_{j < I + k} W[k, j] · f_j)
//! ```
//!
//! (it reads only the inputs and the units before it), and the outputs are logits
//! y = f·Vᵀ + c, as a linear output layer would give them (the loss applies softmax or
//! sigmoid).
//!
//! Backward, with δ = ∂E/∂y: ∂E/∂V = δᵀ·f, ∂E/∂c = Σ δ and ∂E/∂f = δ·V; then for the units in
//! reverse order, with d_k = ∂E/∂h_k · act_k′ (read from h_k): ∂E/∂W[k, j] = Σ_rows d_k f_j,
//! ∂E/∂b_k = Σ d_k, and d_k · W[k, j] is added to ∂E/∂f_j for j < I + k, which carries it to
//! the earlier units and the inputs.

use super::module::check_lengths;
use super::{Activation, Backprop, Init, LayerSpec, Module, Pass};
use crate::autograd::Var;
use crate::rng::Rng;
use crate::tensor::gemm::{matmul_into, Trans};
use crate::{Element, Error, Result, Tensor};

/// The tensor names of a cascade's parameters, in state-dict order (the units' only when
/// it has units).
pub const CASCADE_TENSORS: [&str; 4] =
    ["units.weight", "units.bias", "output.weight", "output.bias"];

/// A cascade-correlation network as one layer: `in_features → out_features` logits through
/// `units.len()` cascaded hidden units with shortcut connections (see the module docs).
///
/// Parameters, as the model file stores them (`0.` prefixed in a one-layer network):
/// `units.weight` `[U, I + U]` (row k holds unit k's weights over the inputs then the earlier
/// units; the entries from column I + k on are unused and kept at zero), `units.bias` `[U]`,
/// `output.weight` `[O, I + U]` and `output.bias` `[O]`. A cascade without units has only the
/// output tensors: a linear model.
#[derive(Clone, Debug)]
pub struct Cascade<E: Element = f32> {
    in_features: usize,
    out_features: usize,
    units: Vec<Activation>,
    unit_weight: Option<Var<E>>,
    unit_bias: Option<Var<E>>,
    weight: Var<E>,
    bias: Var<E>,
}

impl<E: Element> Cascade<E> {
    /// A cascade with `units` hidden units (their activations in order), weights drawn with
    /// `init` from `rng` (unit k with fan-in I + k; the output layer with fan-in I + U),
    /// biases zero.
    pub fn new(
        in_features: usize,
        out_features: usize,
        units: &[Activation],
        init: Init,
        rng: &mut Rng,
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::param(
                "layer size",
                format!("a cascade needs at least one input and one output, got {in_features} → {out_features}"),
            ));
        }
        for a in units {
            a.validate()?;
        }
        let (i, u) = (in_features, units.len());
        let mut unit_weight = vec![0.0f32; u * (i + u)];
        for (k, row) in unit_weight.chunks_exact_mut(i + u).enumerate() {
            init.fill(&mut row[..i + k], i + k, 1, rng);
        }
        let mut weight = vec![0.0f32; out_features * (i + u)];
        init.fill(&mut weight, i + u, out_features, rng);
        let cast = |v: Vec<f32>, shape: &[usize]| -> Result<Tensor<E>> {
            Ok(Tensor::from_vec(v, shape)?.cast())
        };
        Self::from_parts(
            in_features,
            units.to_vec(),
            (u > 0)
                .then(|| -> Result<_> {
                    Ok((cast(unit_weight, &[u, i + u])?, cast(vec![0.0; u], &[u])?))
                })
                .transpose()?,
            cast(weight, &[out_features, i + u])?,
            cast(vec![0.0; out_features], &[out_features])?,
        )
    }

    /// A cascade from explicit tensors: the units' `(weight [U, I + U], bias [U])` (`None`
    /// without units), the output weight `[O, I + U]` and bias `[O]`. The unused entries of
    /// the units' weight (column I + k on, for unit k) are set to zero.
    pub fn from_parts(
        in_features: usize,
        units: Vec<Activation>,
        unit_tensors: Option<(Tensor<E>, Tensor<E>)>,
        weight: Tensor<E>,
        bias: Tensor<E>,
    ) -> Result<Self> {
        let u = units.len();
        let m = in_features + u;
        let bad = |what: &'static str, got: &[usize], want: Vec<usize>| Error::ShapeMismatch {
            op: what,
            lhs: got.to_vec(),
            rhs: want,
        };
        let o = weight.shape().first().copied().unwrap_or(0);
        if weight.shape() != [o, m] || o == 0 {
            return Err(bad(
                "cascade output weight [outputs, inputs + units]",
                weight.shape(),
                vec![o, m],
            ));
        }
        if bias.shape() != [o] {
            return Err(bad("cascade output bias [outputs]", bias.shape(), vec![o]));
        }
        let (unit_weight, unit_bias) = match (u, unit_tensors) {
            (0, None) => (None, None),
            (_, Some((mut w, b))) if u > 0 => {
                if w.shape() != [u, m] {
                    return Err(bad(
                        "cascade unit weight [units, inputs + units]",
                        w.shape(),
                        vec![u, m],
                    ));
                }
                if b.shape() != [u] {
                    return Err(bad("cascade unit bias [units]", b.shape(), vec![u]));
                }
                for (k, row) in w.data_mut().chunks_exact_mut(m).enumerate() {
                    row[in_features + k..].fill(E::ZERO);
                }
                (Some(Var::parameter(w)), Some(Var::parameter(b)))
            }
            (_, given) => {
                return Err(Error::param(
                    "cascade",
                    format!(
                        "{u} units but {} unit tensors",
                        if given.is_some() { "some" } else { "no" }
                    ),
                ))
            }
        };
        Ok(Cascade {
            in_features,
            out_features: o,
            units,
            unit_weight,
            unit_bias,
            weight: Var::parameter(weight),
            bias: Var::parameter(bias),
        })
    }

    /// Inputs per row.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Outputs per row.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The hidden units' activations, in installation order.
    pub fn units(&self) -> &[Activation] {
        &self.units
    }

    /// Values in one feature row: the inputs and every unit.
    pub fn feature_len(&self) -> usize {
        self.in_features + self.units.len()
    }

    /// The units' weight `[U, I + U]` and bias `[U]` (`None` without units).
    pub fn unit_tensors(&self) -> Option<(Tensor<E>, Tensor<E>)> {
        match (&self.unit_weight, &self.unit_bias) {
            (Some(w), Some(b)) => Some((w.value().clone(), b.value().clone())),
            _ => None,
        }
    }

    /// The output layer's weight `[O, I + U]` and bias `[O]`.
    pub fn output_tensors(&self) -> (Tensor<E>, Tensor<E>) {
        (self.weight.value().clone(), self.bias.value().clone())
    }

    /// The output layer's parameters (weight, bias): what retraining the outputs trains.
    pub fn output_parameters(&self) -> [Var<E>; 2] {
        [self.weight.clone(), self.bias.clone()]
    }

    /// Fill `features` (`rows × feature_len`) with each row's [x, h₀, …, h_{U−1}]; returns
    /// nothing else (the outputs are a linear layer over these).
    pub fn features_into(&self, x: &[E], rows: usize, features: &mut [E]) -> Result<()> {
        let (i, m) = (self.in_features, self.feature_len());
        if x.len() < rows * i || features.len() < rows * m {
            return Err(Error::ShapeMismatch {
                op: "cascade features (inputs, feature rows)",
                lhs: vec![x.len(), features.len()],
                rhs: vec![rows * i, rows * m],
            });
        }
        let w = self.unit_weight.as_ref().map(|w| w.value());
        let b = self.unit_bias.as_ref().map(|b| b.value());
        for (xr, fr) in x
            .chunks_exact(i)
            .zip(features.chunks_exact_mut(m))
            .take(rows)
        {
            fr[..i].copy_from_slice(xr);
            if let (Some(w), Some(b)) = (&w, &b) {
                for (k, act) in self.units.iter().enumerate() {
                    let wk = &w.data()[k * m..k * m + i + k];
                    let mut z = b.data()[k];
                    for (&wj, &fj) in wk.iter().zip(&fr[..i + k]) {
                        z += wj * fj;
                    }
                    fr[i + k] = act.apply(z);
                }
            }
        }
        Ok(())
    }

    /// This cascade with one more unit: `activation` with weights `weight` over the current
    /// feature row (I + U values) and `bias`. The output layer gains a column for it holding
    /// `output_column` (one value per output); every other weight is kept.
    pub fn with_unit(
        &self,
        activation: Activation,
        weight: &[E],
        bias: E,
        output_column: &[E],
    ) -> Result<Self> {
        activation.validate()?;
        let (i, u, o) = (self.in_features, self.units.len(), self.out_features);
        let (m, m1) = (i + u, i + u + 1);
        if weight.len() != m || output_column.len() != o {
            return Err(Error::ShapeMismatch {
                op: "cascade new unit (weights over the feature row, output column)",
                lhs: vec![weight.len(), output_column.len()],
                rhs: vec![m, o],
            });
        }
        let mut uw = vec![E::ZERO; (u + 1) * m1];
        let mut ub = vec![E::ZERO; u + 1];
        if let Some((w, b)) = self.unit_tensors() {
            for k in 0..u {
                uw[k * m1..k * m1 + m].copy_from_slice(&w.data()[k * m..(k + 1) * m]);
            }
            ub[..u].copy_from_slice(b.data());
        }
        uw[u * m1..u * m1 + m].copy_from_slice(weight);
        ub[u] = bias;
        let (w, b) = self.output_tensors();
        let mut ow = vec![E::ZERO; o * m1];
        for r in 0..o {
            ow[r * m1..r * m1 + m].copy_from_slice(&w.data()[r * m..(r + 1) * m]);
            ow[r * m1 + m] = output_column[r];
        }
        let mut units = self.units.clone();
        units.push(activation);
        Self::from_parts(
            i,
            units,
            Some((
                Tensor::from_vec(uw, &[u + 1, m1])?,
                Tensor::from_vec(ub, &[u + 1])?,
            )),
            Tensor::from_vec(ow, &[o, m1])?,
            b,
        )
    }
}

impl<E: Element> Module<E> for Cascade<E> {
    fn spec(&self) -> LayerSpec {
        LayerSpec::Cascade {
            in_features: self.in_features,
            out_features: self.out_features,
            units: self.units.clone(),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input != [self.in_features] {
            return Err(Error::ShapeMismatch {
                op: "cascade (input row vs inputs)",
                lhs: input.to_vec(),
                rhs: vec![self.in_features],
            });
        }
        Ok(vec![self.out_features])
    }

    /// The feature rows f (kept for backward) and room for ∂E/∂f.
    fn scratch_len(&self, pass: &Pass<'_>) -> usize {
        2 * pass.rows * self.feature_len()
    }

    fn forward(&self, x: &[E], y: &mut [E], scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        check_lengths("cascade forward", x, y, pass)?;
        let (rows, m, o) = (pass.rows, self.feature_len(), self.out_features);
        let features = &mut scratch[..rows * m];
        self.features_into(x, rows, features)?;
        let y = &mut y[..rows * o];
        let w = self.weight.value();
        matmul_into(
            rows,
            o,
            m,
            features,
            Trans::No,
            w.data(),
            Trans::Yes,
            y,
            false,
        );
        pass.activation
            .apply_rows_with_bias(y, self.bias.value().data());
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (_, _, dy, dx, scratch) = grads.checked("cascade backward", pass)?;
        let (rows, i, m, o) = (
            pass.rows,
            self.in_features,
            self.feature_len(),
            self.out_features,
        );
        if scratch.len() < 2 * rows * m {
            return Err(Error::Autograd(
                "cascade backward without its forward pass's feature rows".into(),
            ));
        }
        let (features, dfeatures) = scratch.split_at_mut(rows * m);
        let (features, dfeatures) = (&features[..], &mut dfeatures[..rows * m]);
        let delta = &dy[..rows * o];
        {
            let mut gw = self.weight.grad_mut();
            let gw = gw.get_or_insert_with(|| Tensor::zeros(&[o, m]));
            matmul_into(
                o,
                m,
                rows,
                delta,
                Trans::Yes,
                features,
                Trans::No,
                gw.data_mut(),
                true,
            );
            let mut gb = self.bias.grad_mut();
            let gb = gb.get_or_insert_with(|| Tensor::zeros(&[o]));
            for row in delta.chunks_exact(o) {
                for (b, &d) in gb.data_mut().iter_mut().zip(row) {
                    *b += d;
                }
            }
        }
        let w = self.weight.value();
        matmul_into(
            rows,
            m,
            o,
            delta,
            Trans::No,
            w.data(),
            Trans::No,
            dfeatures,
            false,
        );
        if let (Some(uw), Some(ub)) = (&self.unit_weight, &self.unit_bias) {
            let u = self.units.len();
            let weights = uw.value();
            let mut gw = uw.grad_mut();
            let gw = gw.get_or_insert_with(|| Tensor::zeros(&[u, m]));
            let mut gb = ub.grad_mut();
            let gb = gb.get_or_insert_with(|| Tensor::zeros(&[u]));
            for (fr, dfr) in features.chunks_exact(m).zip(dfeatures.chunks_exact_mut(m)) {
                for k in (0..u).rev() {
                    let d = dfr[i + k] * self.units[k].derivative_from_output(fr[i + k]);
                    gb.data_mut()[k] += d;
                    let fan_in = i + k;
                    let g = &mut gw.data_mut()[k * m..k * m + fan_in];
                    for (gj, &fj) in g.iter_mut().zip(&fr[..fan_in]) {
                        *gj += d * fj;
                    }
                    let wk = &weights.data()[k * m..k * m + fan_in];
                    for (dj, &wj) in dfr[..fan_in].iter_mut().zip(wk) {
                        *dj += d * wj;
                    }
                }
            }
        }
        if let Some(dx) = dx {
            for (dxr, dfr) in dx
                .chunks_exact_mut(i)
                .zip(dfeatures.chunks_exact(m))
                .take(rows)
            {
                dxr.copy_from_slice(&dfr[..i]);
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        let mut out = vec![];
        if let (Some(w), Some(b)) = (&self.unit_weight, &self.unit_bias) {
            out.push((CASCADE_TENSORS[0], w.clone()));
            out.push((CASCADE_TENSORS[1], b.clone()));
        }
        out.push((CASCADE_TENSORS[2], self.weight.clone()));
        out.push((CASCADE_TENSORS[3], self.bias.clone()));
        out
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        let units = self.unit_tensors().map(|(w, b)| (w.cast(), b.cast()));
        let (w, b) = self.output_tensors();
        Ok(Box::new(Cascade::<f64>::from_parts(
            self.in_features,
            self.units.clone(),
            units,
            w.cast(),
            b.cast(),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::{Loss, Targets};
    use crate::nn::{Sequential, Workspace};

    fn cascade(units: &[Activation]) -> Cascade<f64> {
        let mut rng = Rng::new(7);
        let c = Cascade::<f64>::new(3, 2, units, Init::Uniform { lo: -0.8, hi: 0.8 }, &mut rng)
            .unwrap();
        // Non-zero biases, so that their gradients are checked at a general point.
        let (w, _) = c.unit_tensors().unwrap();
        let bias = Tensor::from_vec(
            (0..units.len()).map(|k| 0.1 * k as f64 - 0.2).collect(),
            &[units.len()],
        )
        .unwrap();
        let (ow, _) = c.output_tensors();
        let ob = Tensor::from_vec(vec![0.3, -0.1], &[2]).unwrap();
        Cascade::from_parts(3, units.to_vec(), Some((w.cast(), bias)), ow, ob).unwrap()
    }

    /// The chain rule of the layer (every parameter and the input) against central
    /// differences of the loss in f64.
    #[test]
    fn backward_matches_finite_differences_in_f64() {
        let units = [Activation::Tanh, Activation::Sigmoid, Activation::Tanh];
        let net = Sequential::<f64>::new(&[3]).with(cascade(&units));
        let rows = 5;
        let x: Vec<f64> = (0..rows * 3).map(|k| (k as f64 * 0.37).sin()).collect();
        let t: Vec<f64> = (0..rows * 2).map(|k| (k as f64 * 0.91).cos()).collect();
        let mut ws = Workspace::new(&net, rows).unwrap();
        net.zero_grad();
        net.loss_backward(&mut ws, &x, rows, Targets::Values(&t), Loss::Mse)
            .unwrap();
        let loss_at = |ws: &mut Workspace<f64>| -> f64 {
            let out = net.forward_batch(ws, &x, rows).unwrap().to_vec();
            let mut g = vec![0.0; rows * 2];
            Loss::Mse
                .value_and_grad(&out, rows, 2, Targets::Values(&t), &mut g)
                .unwrap()
        };
        let h = 1e-6;
        for (name, p) in net.named_parameters() {
            let analytic = p.grad().unwrap().into_vec();
            for (j, &g) in analytic.iter().enumerate() {
                let orig = p.value().data()[j];
                p.value_mut().data_mut()[j] = orig + h;
                let up = loss_at(&mut ws);
                p.value_mut().data_mut()[j] = orig - h;
                let down = loss_at(&mut ws);
                p.value_mut().data_mut()[j] = orig;
                let numeric = (up - down) / (2.0 * h);
                assert!(
                    (numeric - g).abs() < 1e-7 * (1.0 + numeric.abs()),
                    "{name}[{j}]: analytic {g}, numeric {numeric}"
                );
            }
        }
        // ∂E/∂x through a linear layer in front of the cascade.
        let mut rng = Rng::new(1);
        let front = crate::nn::Linear::<f64>::new(3, 3, Init::XavierUniform, &mut rng).unwrap();
        let net2 = Sequential::<f64>::new(&[3])
            .with(front)
            .with(cascade(&units));
        let mut ws2 = Workspace::keeping_every_output(&net2, rows).unwrap();
        net2.zero_grad();
        net2.loss_backward(&mut ws2, &x, rows, Targets::Values(&t), Loss::Mse)
            .unwrap();
        let (_, w0) = &net2.named_parameters()[0];
        let analytic = w0.grad().unwrap().into_vec();
        for (j, &g) in analytic.iter().enumerate() {
            let orig = w0.value().data()[j];
            let mut at = |v: f64| {
                w0.value_mut().data_mut()[j] = v;
                let out = net2.forward_batch(&mut ws2, &x, rows).unwrap().to_vec();
                let mut gr = vec![0.0; rows * 2];
                Loss::Mse
                    .value_and_grad(&out, rows, 2, Targets::Values(&t), &mut gr)
                    .unwrap()
            };
            let numeric = (at(orig + h) - at(orig - h)) / (2.0 * h);
            at(orig);
            assert!(
                (numeric - g).abs() < 1e-7 * (1.0 + numeric.abs()),
                "front weight[{j}]: analytic {g}, numeric {numeric}"
            );
        }
    }

    #[test]
    fn a_unit_sees_only_the_inputs_and_the_units_before_it() {
        let c = cascade(&[Activation::Tanh, Activation::Tanh]);
        let (w, _) = c.unit_tensors().unwrap();
        // Unit 0 reads the 3 inputs; unit 1 the inputs and unit 0; the rest is zero.
        assert_eq!(&w.data()[3..5], &[0.0, 0.0]);
        assert_eq!(w.data()[9], 0.0);
        assert!(w.data()[8] != 0.0);
        // A value in an unused entry of a loaded file has no effect.
        let x = [0.5, -1.0, 2.0];
        let mut f = [0.0; 5];
        c.features_into(&x, 1, &mut f).unwrap();
        let mut w2 = w.clone();
        w2.data_mut()[4] = 100.0;
        let (ow, ob) = c.output_tensors();
        let (_, b) = c.unit_tensors().unwrap();
        let c2 = Cascade::from_parts(3, c.units().to_vec(), Some((w2, b)), ow, ob).unwrap();
        let mut f2 = [0.0; 5];
        c2.features_into(&x, 1, &mut f2).unwrap();
        assert_eq!(f, f2);
    }

    #[test]
    fn adding_a_unit_keeps_the_old_weights_and_a_zero_column_keeps_the_outputs() {
        let c = cascade(&[Activation::Tanh]);
        let net = Sequential::<f64>::new(&[3]).with(c.clone());
        let bigger = c
            .with_unit(
                Activation::Sigmoid,
                &[0.1, 0.2, -0.3, 0.4],
                0.5,
                &[0.0, 0.0],
            )
            .unwrap();
        assert_eq!(bigger.units(), &[Activation::Tanh, Activation::Sigmoid]);
        let net2 = Sequential::<f64>::new(&[3]).with(bigger.clone());
        let x = [0.3, -0.2, 0.9, 1.0, 0.0, -1.0];
        let mut ws = Workspace::new(&net, 2).unwrap();
        let mut ws2 = Workspace::new(&net2, 2).unwrap();
        let a = net.forward_batch(&mut ws, &x, 2).unwrap().to_vec();
        let b = net2.forward_batch(&mut ws2, &x, 2).unwrap().to_vec();
        assert_eq!(a, b);
        let e = bigger
            .with_unit(Activation::Tanh, &[0.0; 3], 0.0, &[0.0, 0.0])
            .unwrap_err();
        assert!(e.to_string().contains("new unit"), "{e}");
        assert_eq!(net2.num_parameters(), 2 * 5 + 2 + 2 * 5 + 2);
    }
}
