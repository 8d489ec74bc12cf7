//! FANN files as a data source, several regression targets, `--target-loss` and `convert`:
//! tests that run the `nabla` binary on small FANN files they write themselves.

mod common;

use std::path::Path;

use common::{json_of, nabla_cmd, ok, s, stderr, stdout, tmpdir, Lcg};

/// A FANN file of `rows` pairs with 4 inputs in [0, 1) and 3 smooth real outputs.
fn regression_fann(path: &Path, rows: usize, seed: u64) {
    let mut r = Lcg(seed);
    let mut text = format!("{rows} 4 3\n");
    for _ in 0..rows {
        let x: Vec<f64> = (0..4).map(|_| r.next()).collect();
        let y = [x[0] + 0.5 * x[1], (3.0 * x[2]).sin(), x[0] * x[3] - x[1]];
        let xs: Vec<String> = x.iter().map(|v| format!("{v:.5}")).collect();
        let ys: Vec<String> = y.iter().map(|v| format!("{v:.5}")).collect();
        text.push_str(&format!("{}\n{}\n", xs.join(" "), ys.join(" ")));
    }
    std::fs::write(path, text).unwrap();
}

/// A FANN file of three blobs in 2-D, one-hot outputs coded `low`/1 (`low` = 0 or -1).
fn classes_fann(path: &Path, rows: usize, seed: u64, low: &str) {
    let mut r = Lcg(seed);
    let mut text = format!("{rows} 2 3\n");
    for i in 0..rows {
        let k = i % 3;
        let outputs: Vec<&str> = (0..3).map(|j| if j == k { "1" } else { low }).collect();
        text.push_str(&format!(
            "{:.4} {:.4}\n{}\n",
            k as f64 * 2.0 + r.next(),
            -(k as f64) + r.next(),
            outputs.join(" ")
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_three_output_regression_is_learnt_from_fann_files() {
    let d = tmpdir("fann-regression");
    let (train, test) = (d.join("set.train"), d.join("set.test"));
    regression_fann(&train, 600, 1);
    regression_fann(&test, 200, 2);
    let (model, history) = (d.join("m.safetensors"), d.join("h.csv"));
    let o = ok(&nabla_cmd(
        "train --data {} --test {} --hidden 32 --epochs 60 --lr 0.01 --out {} --history {}",
        &[s(&train), s(&test), s(&model), s(&history)],
    ))
    .clone();
    let err = stderr(&o);
    assert!(
        err.contains("3 outputs, real values → regression with 3 outputs"),
        "{err}"
    );
    assert!(err.contains("4 → 32 relu → 3 (linear output"), "{err}");
    let out = stdout(&o);
    for name in ["y0", "y1", "y2"] {
        assert!(out.contains(&format!("  {name}: rmse ")), "{out}");
    }
    // The loss falls: the last epoch's training loss is a fraction of the first's.
    let csv = std::fs::read_to_string(&history).unwrap();
    let losses: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(
        losses[losses.len() - 1] < losses[0] / 5.0,
        "training loss {losses:?}"
    );
    // eval: per-output figures, all three learnt.
    let v = json_of(&nabla_cmd(
        "eval --model {} --data {} --json",
        &[s(&model), &format!("fann:{}", s(&test))],
    ));
    let outputs = v["outputs"].as_array().expect("per-output figures");
    assert_eq!(outputs.len(), 3);
    for o in outputs {
        assert!(o["r2"].as_f64().unwrap() > 0.9, "{v}");
    }
    let mean_r2 = outputs
        .iter()
        .map(|o| o["r2"].as_f64().unwrap())
        .sum::<f64>()
        / 3.0;
    assert!((v["r2"].as_f64().unwrap() - mean_r2).abs() < 1e-6, "{v}");
    let text = stdout(ok(&nabla_cmd(
        "eval --model {} --data {}",
        &[s(&model), s(&test)],
    )));
    assert!(
        text.contains("over all 3 outputs") && text.contains("  y2: rmse"),
        "{text}"
    );
    // predict: three columns in the original units, close to the truth.
    let pred = stdout(ok(&nabla_cmd(
        "predict --model {} --data {}",
        &[s(&model), s(&test)],
    )));
    let mut lines = pred.lines();
    assert_eq!(
        lines.next(),
        Some("prediction_y0,prediction_y1,prediction_y2")
    );
    let first: Vec<f64> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(first.len(), 3);
    assert_eq!(pred.lines().count(), 201);
    // The same data as CSV with --target y0,y1,y2 trains the same network shape.
    let csv_train = d.join("set.csv");
    ok(&nabla_cmd(
        "convert {} --to csv --out {}",
        &[s(&train), s(&csv_train)],
    ));
    let v = json_of(&nabla_cmd(
        "train --data {} --target y0,y1,y2 --hidden 8 --epochs 3 --quiet --json --out {}",
        &[s(&csv_train), s(&d.join("c.safetensors"))],
    ));
    assert_eq!(v["task"], "regression");
    assert_eq!(v["test"]["outputs"].as_array().unwrap().len(), 3);
    let inspect = stdout(ok(&nabla_cmd("inspect {}", &[s(&d.join("c.safetensors"))])));
    assert!(inspect.contains("y0,y1,y2"), "{inspect}");
}

#[test]
fn one_hot_outputs_are_classes_and_predict_gives_one_probability_per_class() {
    let d = tmpdir("fann-classes");
    let (train, test) = (d.join("blobs.data"), d.join("blobs.test"));
    classes_fann(&train, 300, 3, "-1");
    classes_fann(&test, 90, 4, "-1");
    let model = d.join("m.safetensors");
    let o = ok(&nabla_cmd(
        "train --data {} --test {} --hidden 16 --epochs 60 --lr 0.01 --json --out {}",
        &[&format!("fann:{}", s(&train)), s(&test), s(&model)],
    ))
    .clone();
    let err = stderr(&o);
    assert!(
        err.contains("3 outputs, one hot per row → classification with 3 classes"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["test"]["accuracy"].as_f64().unwrap() >= 0.95, "{v}");
    let pred = stdout(ok(&nabla_cmd(
        "predict --model {} --data {} --proba",
        &[s(&model), s(&test)],
    )));
    assert_eq!(pred.lines().next(), Some("prediction,p_0,p_1,p_2"));
    let row: Vec<f64> = pred
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(row[0], 0.0);
    assert!((row[1..].iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");

    // A single 0/1 output: two classes, one logit, p_0,p_1.
    let parity = d.join("xor.train");
    std::fs::write(&parity, "4 2 1\n0 0\n0\n0 1\n1\n1 0\n1\n1 1\n0\n").unwrap();
    let model = d.join("x.safetensors");
    let o = ok(&nabla_cmd(
        "train --data {} --val-split 0 --test-split 0 --hidden 8 --epochs 2 --out {}",
        &[s(&parity), s(&model)],
    ))
    .clone();
    assert!(
        stderr(&o).contains("1 output, values 0/1 → classification with 2 classes"),
        "{}",
        stderr(&o)
    );
    let pred = stdout(ok(&nabla_cmd(
        "predict --model {} --data {} --proba",
        &[s(&model), s(&parity)],
    )));
    assert_eq!(pred.lines().next(), Some("prediction,p_0,p_1"));
}

#[test]
fn bad_fann_files_fail_with_one_line_naming_the_pair() {
    let d = tmpdir("fann-errors");
    for (name, text, want) in [
        (
            "ragged.train",
            "3 2 1\n1 2\n1\n3 4 5\n0\n6 7\n1\n",
            "line 4: pair 2: the input line has 3 values, expected 2",
        ),
        (
            "short.train",
            "3 1 1\n1\n1\n2\n0\n",
            "the header announces 3 pairs, but the file ends after 2",
        ),
        (
            "word.train",
            "2 1 1\n1\n1\nabc\n0\n",
            "line 4, column input 1: pair 2: 'abc' is not a number",
        ),
        ("empty.train", "", "the file is empty"),
    ] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        let o = nabla_cmd(
            "train --data {} --quiet --out {}",
            &[s(&p), s(&d.join("m"))],
        );
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(s(&p)), "{err}");
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn target_loss_stops_training_and_says_so() {
    let d = tmpdir("fann-target-loss");
    let train = d.join("blobs.train");
    classes_fann(&train, 300, 5, "0");
    let v = json_of(&nabla_cmd(
        "train --data {} --hidden 16 --epochs 200 --target-loss 0.1 --quiet --json --out {}",
        &[s(&train), s(&d.join("m.safetensors"))],
    ));
    let reached = &v["target_loss_reached"];
    assert_eq!(reached["on"], "validation", "{v}");
    assert!(reached["loss"].as_f64().unwrap() <= 0.1, "{v}");
    let epochs = v["epochs_run"].as_u64().unwrap();
    assert!(
        epochs < 200 && reached["epoch"].as_u64() == Some(epochs),
        "{v}"
    );
    let o = ok(&nabla_cmd(
        "train --data {} --hidden 16 --epochs 200 --val-split 0 --target-loss 0.1 --out {}",
        &[s(&train), s(&d.join("m.safetensors"))],
    ))
    .clone();
    assert!(
        stdout(&o).contains("the train loss") && stdout(&o).contains("reached --target-loss 0.1"),
        "{}",
        stdout(&o)
    );
    let o = nabla_cmd("train --data {} --target-loss -1", &[s(&train)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn convert_goes_from_csv_to_fann_and_back() {
    let d = tmpdir("fann-convert");
    let csv = d.join("t.csv");
    std::fs::write(&csv, "a,b,label\n0.5,1,cat\n2,-3,dog\n4,5,fish\n1,1,dog\n").unwrap();
    let fann = d.join("t.data");
    let said = stderr(ok(&nabla_cmd(
        "convert {} --to fann --out {}",
        &[s(&csv), s(&fann)],
    )));
    assert!(said.contains("4 rows, 2 features"), "{said}");
    let text = std::fs::read_to_string(&fann).unwrap();
    assert_eq!(
        text,
        "4 2 3\n0.5 1\n1 0 0\n2 -3\n0 1 0\n4 5\n0 0 1\n1 1\n0 1 0\n"
    );
    // Back to CSV: the classes come back as output indices.
    let back = stdout(ok(&nabla_cmd("convert {} --to csv", &[s(&fann)])));
    assert_eq!(back, "x0,x1,class\n0.5,1,0\n2,-3,1\n4,5,2\n1,1,1\n");
    // No target in the CSV for FANN: one line, exit 1; a .gz output is refused.
    let o = nabla_cmd("convert {} --to fann --target nope", &[s(&csv)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("target column not found"),
        "{}",
        stderr(&o)
    );
    let o = nabla_cmd("convert {} --to fann --out x.data.gz", &[s(&csv)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// The settings a model file records (`inspect --json`): optimiser, batch, epochs, patience.
fn recorded_settings(model: &Path) -> (String, u64, u64, Option<u64>) {
    let v = json_of(&nabla_cmd("inspect {} --json", &[s(model)]));
    let settings = &v["training"]["settings"];
    (
        settings["optim"]["optimizer"]
            .as_str()
            .unwrap_or("adam")
            .to_string(),
        settings["batch_size"].as_u64().unwrap(),
        settings["epochs"].as_u64().unwrap_or(0),
        settings["early_stopping"].as_u64(),
    )
}

#[test]
fn a_small_regression_defaults_to_full_batch_rprop_and_flags_override_it() {
    let d = tmpdir("fann-small-default");
    let train = d.join("set.train");
    regression_fann(&train, 300, 3);
    let model = d.join("m.safetensors");
    // Plain defaults: 300 rows → 216 training rows after the test and validation splits.
    let o = ok(&nabla_cmd(
        "train --data {} --hidden 16 --threads 1 --out {}",
        &[s(&train), s(&model)],
    ))
    .clone();
    let err = stderr(&o);
    assert!(
        err.contains("small-data default: a regression with 216 training rows (under 10000): full-batch rprop, early stopping after 50 epochs"),
        "{err}"
    );
    assert!(
        err.contains("training: rprop lr 0.01, constant schedule, 500 epochs, batch 216,"),
        "{err}"
    );
    assert_eq!(
        recorded_settings(&model),
        ("rprop".to_string(), 216, 500, Some(50))
    );
    // --epochs and --early-stopping set their part and keep the rule.
    let o = ok(&nabla_cmd(
        "train --data {} --hidden 16 --threads 1 --epochs 40 --early-stopping 7 --out {}",
        &[s(&train), s(&model)],
    ))
    .clone();
    assert!(
        stderr(&o).contains("early stopping after 7 epochs"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        recorded_settings(&model),
        ("rprop".to_string(), 216, 40, Some(7))
    );
    // Any optimiser, rate, schedule or batch flag turns the rule off: Adam's defaults.
    for flags in [
        "--optimizer adam",
        "--lr 0.001",
        "--schedule cosine",
        "--batch-size 32",
    ] {
        let o = ok(&nabla_cmd(
            &format!("train --data {{}} --hidden 16 --threads 1 {flags} --out {{}}"),
            &[s(&train), s(&model)],
        ))
        .clone();
        let err = stderr(&o);
        assert!(!err.contains("small-data default"), "{flags}: {err}");
        assert!(
            err.contains("training: adam lr 0.001, cosine schedule"),
            "{flags}: {err}"
        );
        let (name, batch, _, patience) = recorded_settings(&model);
        assert_eq!(
            (name.as_str(), batch, patience),
            ("adam", 32, None),
            "{flags}"
        );
    }
    // No validation split (nothing to stop on) or a classification: Adam's defaults.
    let o = ok(&nabla_cmd(
        "train --data {} --hidden 16 --threads 1 --val-split 0 --epochs 2 --out {}",
        &[s(&train), s(&model)],
    ))
    .clone();
    assert!(
        stderr(&o).contains("training: adam lr 0.001"),
        "{}",
        stderr(&o)
    );
    let classes = d.join("classes.train");
    classes_fann(&classes, 300, 4, "0");
    let o = ok(&nabla_cmd(
        "train --data {} --hidden 16 --threads 1 --epochs 2 --out {}",
        &[s(&classes), s(&model)],
    ))
    .clone();
    assert!(!stderr(&o).contains("small-data default"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("training: adam lr 0.001"),
        "{}",
        stderr(&o)
    );
}
