//! Shared by the library's integration tests: a model file's metadata for a classifier, and a
//! layer defined outside the library, as a user would write one: y = x ⊙ gain + shift per
//! feature, with learned `gain` and `shift`. It implements [`Module`] and nothing else of
//! nabla's, and is then trained, saved, reloaded and checked like a built-in layer.

#![allow(dead_code)]

use nabla::autograd::Var;
use nabla::data::Task;
use nabla::io::{ModelMeta, FORMAT_VERSION};
use nabla::loss::Loss;
use nabla::nn::{Backprop, BuildContext, LayerRegistry, LayerSpec, Module, Pass};
use nabla::{Element, Error, Result, Tensor};

#[derive(Debug)]
pub struct ScaleShift<E: Element = f32> {
    pub gain: Var<E>,
    pub shift: Var<E>,
}

impl<E: Element> ScaleShift<E> {
    pub fn new(features: usize) -> Self {
        ScaleShift {
            gain: Var::parameter(Tensor::ones(&[features])),
            shift: Var::parameter(Tensor::zeros(&[features])),
        }
    }

    fn features(&self) -> usize {
        self.gain.value().len()
    }
}

impl<E: Element> Module<E> for ScaleShift<E> {
    fn spec(&self) -> LayerSpec {
        LayerSpec::Custom {
            name: "scale_shift".into(),
            config: serde_json::json!({ "features": self.features() }),
        }
    }

    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>> {
        if input != [self.features()] {
            return Err(Error::ShapeMismatch {
                op: "scale_shift",
                lhs: input.to_vec(),
                rhs: vec![self.features()],
            });
        }
        Ok(input.to_vec())
    }

    fn forward(&self, x: &[E], y: &mut [E], _scratch: &mut [E], pass: &Pass<'_>) -> Result<()> {
        let n = self.features();
        let (g, s) = (self.gain.value(), self.shift.value());
        for (xr, yr) in x.chunks_exact(n).zip(y.chunks_exact_mut(n)).take(pass.rows) {
            for j in 0..n {
                yr[j] = xr[j] * g.data()[j] + s.data()[j];
            }
        }
        Ok(())
    }

    fn backward(&self, grads: Backprop<'_, E>, pass: &Pass<'_>) -> Result<()> {
        let (x, _, dy, dx, _) = grads.checked("scale-shift backward", pass)?;
        let n = self.features();
        {
            let mut gg = self.gain.grad_mut();
            let gg = gg.get_or_insert_with(|| Tensor::zeros(&[n]));
            let mut gs = self.shift.grad_mut();
            let gs = gs.get_or_insert_with(|| Tensor::zeros(&[n]));
            for (xr, dr) in x.chunks_exact(n).zip(dy.chunks_exact(n)).take(pass.rows) {
                for j in 0..n {
                    gg.data_mut()[j] += dr[j] * xr[j];
                    gs.data_mut()[j] += dr[j];
                }
            }
        }
        if let Some(dx) = dx {
            let g = self.gain.value();
            for (dr, dxr) in dy
                .chunks_exact(n)
                .zip(dx.chunks_exact_mut(n))
                .take(pass.rows)
            {
                for j in 0..n {
                    dxr[j] = dr[j] * g.data()[j];
                }
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Vec<(&'static str, Var<E>)> {
        vec![("gain", self.gain.clone()), ("shift", self.shift.clone())]
    }

    fn to_f64(&self) -> Result<Box<dyn Module<f64>>> {
        Ok(Box::new(ScaleShift {
            gain: Var::parameter(self.gain.value().cast()),
            shift: Var::parameter(self.shift.value().cast()),
        }))
    }
}

/// The registry that rebuilds [`ScaleShift`] layers from a model file.
pub fn registry() -> LayerRegistry {
    fn build(config: &serde_json::Value, _ctx: &mut BuildContext<'_>) -> Result<Box<dyn Module>> {
        let features = config["features"]
            .as_u64()
            .ok_or_else(|| Error::param("scale_shift", "config needs 'features'"))?;
        Ok(Box::new(ScaleShift::<f32>::new(features as usize)))
    }
    let mut r = LayerRegistry::new();
    r.register("scale_shift", build);
    r
}

/// Metadata of a cross-entropy classifier over `classes`, trained on `source` (the layers are
/// filled in by `save_model`).
pub fn classifier_meta(classes: &[&str], features: &[&str], source: &str) -> ModelMeta {
    ModelMeta {
        format_version: FORMAT_VERSION,
        input_shape: vec![],
        layers: vec![],
        architecture: None,
        task: Task::Classify,
        loss: Loss::CrossEntropy,
        class_labels: classes.iter().map(|c| c.to_string()).collect(),
        feature_names: features.iter().map(|f| f.to_string()).collect(),
        target: None,
        standardization: None,
        target_standardization: None,
        data_source: source.into(),
        training: serde_json::Value::Null,
    }
}

/// [`check_gradients`] of a classifier under cross-entropy on `rows` rows of `x` with labels
/// `classes`: central differences with step 1e-6, up to `samples` elements per tensor.
pub fn classifier_gradients(
    net: &nabla::nn::Sequential,
    x: &[f32],
    rows: usize,
    classes: &[u32],
    samples: usize,
) -> Vec<nabla::nn::check::TensorCheck> {
    let targets = nabla::loss::Targets::Classes(classes);
    nabla::nn::check::check_gradients(net, x, rows, targets, Loss::CrossEntropy, 1e-6, samples)
        .unwrap()
}
