//! `nabla export --format onnx`: small models trained by the CLI are exported, checked by
//! onnx's checker and run by onnxruntime (tests/python/check_onnx.py) on the rows `nabla
//! predict` predicted, every output within 1e-5 of predict's: a three-class MLP (with leaky
//! ReLU, tanh, batch norm and dropout), a one-logit binary classifier, a regression MLP with a
//! standardised target, and a CNN with convolutions, both poolings, batch norms, flatten and
//! dropout.

mod common;

use std::path::{Path, PathBuf};

use common::{
    json_of, nabla, nabla_cmd, ok, python_tmpdir, s, stderr, stdout, with_number_moved, CHECK_ONNX,
};

/// A CSV file that the built-in source `name` embeds.
fn builtin_csv(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../nabla/src/data/builtin")
        .join(name)
}

/// Train with the flags `train` into `dir/model.safetensors`, export it to `dir/model.onnx`
/// and predict `data` into `dir/pred.csv` (with `--proba` for a classifier); returns the ONNX
/// file, the predictions and the export's JSON summary.
fn train_export_predict(
    dir: &Path,
    train: &[&str],
    data: &str,
    proba: bool,
) -> (PathBuf, PathBuf, serde_json::Value) {
    let model = dir.join("model.safetensors");
    let onnx = dir.join("model.onnx");
    let pred = dir.join("pred.csv");
    let mut args = vec!["train", "--quiet", "--out", s(&model)];
    args.extend_from_slice(train);
    ok(&nabla(&args));
    let summary = json_of(&nabla_cmd(
        "export --model {} --format onnx --out {} --json",
        &[s(&model), s(&onnx)],
    ));
    let mut args = vec!["predict", "--model", s(&model), "--data", data];
    if proba {
        args.push("--proba");
    }
    args.extend_from_slice(&["--out", s(&pred)]);
    ok(&nabla(&args));
    (onnx, pred, summary)
}

/// [`train_export_predict`] of a classifier with `--arch arch` trained for `epochs` on
/// `builtin:NAME`, in a fresh folder (`None` when the Python checks are skipped).
fn builtin_classifier(
    tag: &str,
    name: &str,
    arch: &str,
    epochs: &str,
) -> Option<(PathBuf, PathBuf, PathBuf, serde_json::Value)> {
    let d = python_tmpdir(tag)?;
    let data = format!("builtin:{name}");
    let train = ["--data", &data, "--arch", arch, "--epochs", epochs];
    let (onnx, pred, summary) = train_export_predict(&d, &train, &data, true);
    Some((d, onnx, pred, summary))
}

/// The export's summary gives the input `[batch, features]`, the output `[batch, width]` and
/// the operators `want_operators`.
fn assert_export(
    summary: &serde_json::Value,
    features: usize,
    (output, width): (&str, usize),
    want_operators: &[&str],
) {
    assert_eq!(summary["opset"], 17);
    assert_eq!(summary["input"]["name"], "input");
    assert_eq!(
        summary["input"]["shape"],
        serde_json::json!(["batch", features])
    );
    assert_eq!(summary["output"]["name"], output);
    assert_eq!(
        summary["output"]["shape"],
        serde_json::json!(["batch", width])
    );
    assert_eq!(operators(summary), want_operators);
}

/// The operators of an export's JSON summary.
fn operators(summary: &serde_json::Value) -> Vec<&str> {
    summary["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// A seeded CSV of `rows` rows: features x1..x3 in [-2, 2) and the target column from `target`.
fn write_csv(path: &Path, rows: usize, target: impl Fn(f64, f64, f64) -> String) {
    write_csv_with(path, rows, "y", target)
}

/// [`write_csv`] with the target columns named by `targets` (a header fragment such as
/// `y0,y1`), `target` giving their values.
fn write_csv_with(
    path: &Path,
    rows: usize,
    targets: &str,
    target: impl Fn(f64, f64, f64) -> String,
) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
    };
    let mut text = format!("x1,x2,x3,{targets}\n");
    for _ in 0..rows {
        let (a, b, c) = (uniform(), uniform(), uniform());
        text.push_str(&format!("{a:.4},{b:.4},{c:.4},{}\n", target(a, b, c)));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_mlp_classifier_matches_predict_and_a_wrong_probability_is_caught() {
    let arch = "linear(16), leaky_relu(0.1), batchnorm, linear(8), tanh, dropout(0.2), linear";
    let Some((d, onnx, pred, summary)) = builtin_classifier("onnx-iris", "iris", arch, "40") else {
        return;
    };
    // Dropout adds no node.
    assert_export(
        &summary,
        4,
        ("probabilities", 3),
        &[
            "Sub",
            "Div",
            "Gemm",
            "LeakyRelu",
            "BatchNormalization",
            "Gemm",
            "Tanh",
            "Gemm",
            "Softmax",
        ],
    );
    let model = d.join("model.safetensors");
    let text = stdout(ok(&nabla_cmd("inspect {}", &[s(&model)])));
    assert!(text.contains("onnx export: yes (opset 17;"), "{text}");
    let inspected = json_of(&nabla_cmd("inspect {} --json", &[s(&model)]));
    assert_eq!(
        inspected["onnx_export"],
        serde_json::json!({"exportable": true, "opset": 17})
    );

    let data = builtin_csv("iris.csv");
    let report = CHECK_ONNX.passes(&onnx, &data, &pred);
    assert!(report.contains("150 rows"), "{report}");
    eprintln!("{report}");

    // One probability moved by 1e-4 (ten times the tolerance) must be caught.
    let wrong = d.join("wrong.csv");
    with_number_moved(&pred, 70, 2, -1e-4, &wrong);
    let o = CHECK_ONNX.run(&onnx, &data, &wrong);
    assert!(!o.status.success(), "{}", stdout(&o));
    let msg = stderr(&o);
    assert!(
        msg.contains("probabilities differ") && msg.contains("row 69"),
        "{msg}"
    );
}

/// Train an MLP with `train` flags on a seeded CSV of 300 rows whose target is `target`,
/// export and predict it, check the export's operators and run the Python check; the export's
/// JSON summary.
fn csv_model_matches_predict(
    tag: &str,
    target: impl Fn(f64, f64, f64) -> String,
    train: &[&str],
    output: (&str, usize),
    want_operators: &[&str],
) -> Option<serde_json::Value> {
    let classifier = output.0 == "probabilities";
    let d = python_tmpdir(tag)?;
    let csv = d.join("data.csv");
    write_csv(&csv, 300, target);
    let mut flags = vec!["--data", s(&csv), "--epochs", "30"];
    flags.extend_from_slice(train);
    let (onnx, pred, summary) = train_export_predict(&d, &flags, s(&csv), classifier);
    assert_export(&summary, 3, output, want_operators);
    let report = CHECK_ONNX.passes(&onnx, &csv, &pred);
    assert!(report.contains("300 rows"), "{report}");
    eprintln!("{report}");
    Some(summary)
}

#[test]
fn a_one_logit_binary_classifier_gives_both_probabilities_as_predict_does() {
    let label = |a: f64, b: f64, c: f64| {
        if a + b * b - 0.5 * c > 1.0 {
            "yes"
        } else {
            "no"
        }
    };
    let Some(summary) = csv_model_matches_predict(
        "onnx-binary",
        |a, b, c| label(a, b, c).to_string(),
        &["--hidden", "8", "--activation", "sigmoid"],
        ("probabilities", 2),
        &[
            "Sub", "Div", "Gemm", "Sigmoid", "Gemm", "Sigmoid", "Sub", "Concat",
        ],
    ) else {
        return;
    };
    assert_eq!(summary["class_labels"], serde_json::json!(["no", "yes"]));
}

#[test]
fn a_regression_mlp_predicts_in_the_original_units() {
    // Mean about 3 and spread about 2.5: the target is standardised, and the export maps its
    // outputs back (Mul, Add).
    csv_model_matches_predict(
        "onnx-regression",
        |a, b, c| format!("{:.4}", 3.0 + 2.0 * a - b * c),
        &["--hidden", "16", "--activation", "tanh"],
        ("prediction", 1),
        &["Sub", "Div", "Gemm", "Tanh", "Gemm", "Mul", "Add"],
    );
}

#[test]
fn a_regression_mlp_with_three_targets_maps_each_output_back() {
    // Three targets of different means and spreads: each output has its own scale and shift.
    let Some(d) = python_tmpdir("onnx-three-targets") else {
        return;
    };
    let csv = d.join("data.csv");
    write_csv_with(&csv, 300, "y0,y1,y2", |a, b, c| {
        format!(
            "{:.4},{:.4},{:.4}",
            3.0 + 2.0 * a - b * c,
            -40.0 + 10.0 * b,
            0.1 * a * c
        )
    });
    let flags = [
        "--data",
        s(&csv),
        "--target",
        "y0,y1,y2",
        "--epochs",
        "30",
        "--hidden",
        "16",
    ];
    let (onnx, pred, summary) = train_export_predict(&d, &flags, s(&csv), false);
    assert_export(
        &summary,
        3,
        ("prediction", 3),
        &["Sub", "Div", "Gemm", "Relu", "Gemm", "Mul", "Add"],
    );
    let report = CHECK_ONNX.passes(&onnx, &csv, &pred);
    assert!(report.contains("prediction of width 3"), "{report}");
}

#[test]
fn a_cnn_with_every_layer_kind_matches_predict() {
    let arch = "conv2d(4, 3, padding=1), batchnorm, relu, maxpool2d(2), \
                conv2d(6, 2x3, stride=1x2, padding=0x1, bias=false), leaky_relu(0.05), \
                avgpool2d(2x1, stride=1), flatten, batchnorm, dropout(0.1), sigmoid, linear";
    let Some((_, onnx, pred, summary)) = builtin_classifier("onnx-cnn", "digits", arch, "1") else {
        return;
    };
    assert_export(
        &summary,
        64,
        ("probabilities", 10),
        &[
            "Sub",
            "Div",
            "Reshape",
            "Conv",
            "BatchNormalization",
            "Relu",
            "MaxPool",
            "Conv",
            "LeakyRelu",
            "AveragePool",
            "Flatten",
            "BatchNormalization",
            "Sigmoid",
            "Gemm",
            "Softmax",
        ],
    );
    let report = CHECK_ONNX.passes(&onnx, &builtin_csv("digits.csv.gz"), &pred);
    assert!(report.contains("1797 rows"), "{report}");
    eprintln!("{report}");
}

#[test]
fn the_readme_export_example_prints_what_the_readme_shows() {
    let section = common::readme_section("onnx");
    let d = common::tmpdir("onnx-readme");
    let run = |line: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "nabla", "{line}");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args(&words[1..])
            .current_dir(&d)
            .output()
            .unwrap();
        stdout(ok(&o))
    };
    let command = |prefix: &str| {
        section
            .lines()
            .find_map(|l| l.strip_prefix("$ ").filter(|c| c.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no `$ {prefix}` in the README's ONNX section"))
    };
    run(command("nabla train"));
    let export = command("nabla export");
    let printed = run(export);
    let shown: Vec<&str> = section
        .split(&format!("$ {export}\n"))
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(printed.lines().collect::<Vec<_>>(), shown);
    let inspect = run("nabla inspect iris.safetensors");
    assert!(inspect.contains("onnx export: yes"), "{inspect}");
}
