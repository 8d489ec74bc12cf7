//! A layer defined in the test crate (tests/common: `ScaleShift`) is trained by the library's
//! `Trainer`, saved, reloaded through a `LayerRegistry`, predicts the same, and passes the
//! gradient check, with no change to the library.

mod common;

use std::collections::BTreeMap;

use nabla::io::{load_model, load_model_with, save_model};
use nabla::loss::Loss;
use nabla::nn::{Activation, ActivationLayer, Init, Linear, Sequential};
use nabla::optim::{Adam, AdamConfig};
use nabla::rng::Rng;
use nabla::train::{predict_outputs, ArrayData, NoCallback, TargetData, TrainConfig, Trainer};

fn blobs(n: usize, seed: u64) -> ArrayData {
    let mut rng = Rng::new(seed);
    let mut x = vec![];
    let mut y = vec![];
    for i in 0..n {
        let c = (i % 3) as u32;
        // Features on very different scales: the learned per-feature gain has work to do.
        x.push((c as f64 * 2.0 + rng.normal() * 0.5) as f32 * 100.0);
        x.push((c as f64 - 1.0 + rng.normal() * 0.5) as f32 * 0.01);
        y.push(c);
    }
    ArrayData::new(x, 2, TargetData::Classes(y)).unwrap()
}

fn model(seed: u64) -> Sequential {
    let mut rng = Rng::new(seed);
    Sequential::new(&[2])
        .with(common::ScaleShift::<f32>::new(2))
        .with(Linear::new(2, 8, Init::XavierUniform, &mut rng).unwrap())
        .with(ActivationLayer(Activation::Tanh))
        .with(Linear::new(8, 3, Init::XavierUniform, &mut rng).unwrap())
}

#[test]
fn a_user_defined_layer_trains_saves_reloads_and_predicts() {
    let train = blobs(300, 1);
    let mut net = model(2);
    let before: Vec<f32> = net.state_dict()[0].1.data().to_vec();
    let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(0.01)).unwrap();
    let cfg = TrainConfig::new(Loss::CrossEntropy)
        .with_epochs(30)
        .with_batch_size(32);
    let history = Trainer::new(&mut net, &mut opt, cfg)
        .unwrap()
        .fit(&train, None, &mut NoCallback)
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.train_accuracy.unwrap() > 0.9, "{last:?}");
    assert!(last.train_loss < history.epochs[0].train_loss);
    // The custom layer's own parameters moved and had gradients reported.
    assert_ne!(net.state_dict()[0].1.data(), &before[..]);
    assert!(last
        .grad_norms
        .iter()
        .any(|(n, g)| n == "0.gain" && *g > 0.0));

    let dir = std::env::temp_dir().join(format!("nabla-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("custom.safetensors");
    let meta = common::classifier_meta(&["a", "b", "c"], &["x1", "x2"], "blobs");
    save_model(&path, &net, &meta, &BTreeMap::new()).unwrap();
    let e = load_model(&path).unwrap_err().to_string();
    assert!(e.contains("scale_shift"), "{e}");
    let (back, meta_back, _) = load_model_with(&path, &common::registry()).unwrap();
    assert_eq!(meta_back.layers.len(), 4);
    assert_eq!(back.state_dict(), net.state_dict());
    let test = blobs(60, 9);
    net.set_training(false);
    assert_eq!(
        predict_outputs(&back, &test, 16).unwrap(),
        predict_outputs(&net, &test, 16).unwrap()
    );

    // The same layer code in f64 against finite differences.
    let x: Vec<f32> = test_rows(&test, 6);
    let classes = [0u32, 1, 2, 0, 1, 2];
    let checks = common::classifier_gradients(&back, &x, 6, &classes, 100);
    assert_eq!(checks.len(), 6);
    for c in &checks {
        assert!(c.f64_vs_numeric < 1e-6, "{c:?}");
        assert!(c.f32_vs_f64 < 1e-3, "{c:?}");
    }
}

fn test_rows(data: &ArrayData, rows: usize) -> Vec<f32> {
    data.x[..rows * data.n_features].to_vec()
}

#[test]
fn a_network_with_a_custom_layer_cannot_be_exported_to_onnx_and_says_which_layer() {
    let net = model(3);
    let meta = common::classifier_meta(&["a", "b", "c"], &["x1", "x2"], "blobs");
    let e = nabla::io::onnx::check_exportable(&net, &meta).unwrap_err();
    assert!(matches!(e, nabla::Error::Export { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("cannot export to ONNX") && text.contains("'scale_shift'"),
        "{text}"
    );
    let e = nabla::io::onnx::to_onnx_bytes(&net, &meta).unwrap_err();
    assert_eq!(e.to_string(), text);
}
