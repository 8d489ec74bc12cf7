//! A small trained CNN, saved by the library and run by `nabla predict`, is recomputed in numpy
//! by tests/python/check_model.py (and, where torch is installed, loaded strictly into the
//! equivalent `torch.nn.Sequential`): convolutions with rectangular kernels, strides and
//! padding, both poolings, batch norm over channels and over features, and dropout.

mod common;

/// The library tests' helpers (for `classifier_meta`).
#[path = "../../nabla/tests/common/mod.rs"]
mod lib_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{
    check_model_py, nabla_cmd, ok, python_check_passes, python_tmpdir, s, stdout, with_number_moved,
};
use nabla::data::{load_source, LoadOptions, Standardizer};
use nabla::io::{save_model, ModelMeta};
use nabla::loss::Loss;
use nabla::nn::{LayerSpec, Sequential};
use nabla::optim::{Adam, AdamConfig};
use nabla::train::{NoCallback, TrainConfig, Trainer};

/// The CSV that `builtin:digits` embeds (64 pixel columns `p0`…`p63` of 8×8 images, `target`).
fn digits_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nabla/src/data/builtin/digits.csv.gz")
}

/// [1, 8, 8] → conv 3×3 pad 1 → [4, 8, 8] → max pool 2 → [4, 4, 4] → conv 2×3 stride 1×2
/// pad 0×1 → [6, 3, 2] → avg pool 2×1 stride 1 → [6, 2, 2] → flatten → 24 → linear → 10, with
/// batch norms over channels and over features and dropout. Written as the model file's
/// metadata lists layers (what check_model.py reads).
fn cnn_specs() -> Vec<LayerSpec> {
    serde_json::from_value(serde_json::json!([
        {"layer": "conv2d", "in_channels": 1, "out_channels": 4,
         "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1]},
        {"layer": "batch_norm", "channels": 4, "eps": 1e-5, "momentum": 0.1},
        {"layer": "activation", "activation": {"kind": "relu"}},
        {"layer": "max_pool2d", "kernel": [2, 2], "stride": [2, 2]},
        {"layer": "conv2d", "in_channels": 4, "out_channels": 6,
         "kernel": [2, 3], "stride": [1, 2], "padding": [0, 1]},
        {"layer": "activation", "activation": {"kind": "relu"}},
        {"layer": "avg_pool2d", "kernel": [2, 1], "stride": [1, 1]},
        {"layer": "flatten"},
        {"layer": "batch_norm", "channels": 24, "eps": 1e-5, "momentum": 0.1},
        {"layer": "dropout", "p": 0.1},
        {"layer": "linear", "in_features": 24, "out_features": 10}
    ]))
    .unwrap()
}

/// The CNN trained for one epoch on the standardised digits (so that weights and the batch
/// norms' running statistics are far from their initial values), saved with its metadata.
fn trained_cnn_file(path: &Path) {
    let mut digits = load_source("builtin:digits", &LoadOptions::default())
        .unwrap()
        .train;
    let standardizer = Standardizer::fit(&digits).unwrap();
    standardizer.apply(&mut digits).unwrap();
    let mut net = Sequential::from_specs(&[1, 8, 8], &cnn_specs(), None, 17).unwrap();
    assert_eq!(net.output_shape().unwrap(), [10]);
    let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(0.01)).unwrap();
    let cfg = TrainConfig::new(Loss::CrossEntropy)
        .with_epochs(1)
        .with_batch_size(32)
        .with_seed(5);
    Trainer::new(&mut net, &mut opt, cfg)
        .unwrap()
        .fit(&digits, None, &mut NoCallback)
        .unwrap();
    net.set_training(false);
    let state: BTreeMap<String, nabla::Tensor> = net.state_dict().into_iter().collect();
    for stat in ["1.running_mean", "8.running_var"] {
        assert!(
            state[stat].data().iter().all(|&v| v != 0.0 && v != 1.0),
            "{stat} still at its initial value"
        );
    }
    let features: Vec<&str> = digits.feature_names.iter().map(String::as_str).collect();
    let meta = ModelMeta {
        target: Some("target".into()),
        standardization: Some(standardizer),
        ..lib_common::classifier_meta(
            &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            &features,
            "builtin:digits",
        )
    };
    save_model(path, &net, &meta, &BTreeMap::new()).unwrap();
}

#[test]
fn python_recomputes_a_trained_cnn_and_rejects_wrong_probabilities() {
    let Some(d) = python_tmpdir("cnn-python") else {
        return;
    };
    let model = d.join("cnn.safetensors");
    trained_cnn_file(&model);
    let pred = d.join("pred.csv");
    ok(&nabla_cmd(
        "predict --model {} --data builtin:digits --proba --out {}",
        &[s(&model), s(&pred)],
    ));
    let data = digits_csv();
    let report = python_check_passes(&model, &data, &pred);
    for kind in [
        "conv2d",
        "max_pool2d",
        "avg_pool2d",
        "batch_norm",
        "flatten",
    ] {
        assert!(report.contains(kind), "{report}");
    }
    assert!(report.contains("1797 rows"), "{report}");
    eprintln!("{report}");

    // One probability moved by 1e-4 (ten times the tolerance) must be caught.
    let wrong = d.join("wrong.csv");
    with_number_moved(&pred, 500, 3, 1e-4, &wrong);
    let o = check_model_py(&model, &data, &wrong);
    assert!(!o.status.success(), "{}", stdout(&o));
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(
        msg.contains("probabilities differ") && msg.contains("row 499"),
        "{msg}"
    );
}
