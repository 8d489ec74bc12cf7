//! Integration tests of the data commands: they run the `nabla` binary.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{
    json_of, nabla, nabla_cmd, ok, python_check_passes, python_tmpdir, s, stderr, stdout, tmpdir,
    Lcg,
};
use serde_json::Value;

/// Three well separated blobs in 3-D, labelled with text: `a,b,c,label`.
fn blobs_csv(path: &Path, rows: usize) {
    let mut r = Lcg(7);
    let mut text = String::from("a,b,c,label\n");
    let names = ["cat", "dog", "fish"];
    for i in 0..rows {
        let k = i % 3;
        let centre = [k as f64 * 3.0, -(k as f64) * 2.0, 1.0 + k as f64];
        text.push_str(&format!(
            "{:.4},{:.4},{:.4},{}\n",
            centre[0] + r.next() - 0.5,
            centre[1] + r.next() - 0.5,
            centre[2] + r.next() - 0.5,
            names[k]
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    nabla::io::load_safetensors(path)
        .unwrap()
        .tensors
        .into_iter()
        .map(|(n, t)| (n, t.data().to_vec()))
        .collect()
}

#[test]
fn default_train_reaches_97_percent_on_digits() {
    let d = tmpdir("default");
    let out = d.join("model.safetensors");
    let v = json_of(&nabla_cmd("train --json --quiet --out {}", &[s(&out)]));
    let acc = v["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.97, "default test accuracy {acc}");
    assert_eq!(v["task"], "classification");
    // 1 293 training rows → 41 batches of 32 per epoch → ⌈2 000 / 41⌉ = 49 epochs.
    assert_eq!(v["epochs_run"], 49);
    assert!(out.exists());
}

#[test]
fn train_prints_progress_and_summary() {
    let d = tmpdir("summary");
    let out = d.join("m.safetensors");
    let o = nabla_cmd("train --data builtin:iris --epochs 3 --out {}", &[s(&out)]);
    ok(&o);
    let err = stderr(&o);
    assert_eq!(err.matches("epoch ").count(), 3, "{err}");
    assert!(stdout(&o).contains("test accuracy:"), "{}", stdout(&o));
    // Quiet: no progress at all.
    let q = nabla_cmd(
        "train --data builtin:iris --epochs 2 --quiet --out {}",
        &[s(&out)],
    );
    assert_eq!(stderr(ok(&q)), "");
}

#[test]
fn round_trip_train_eval_predict_inspect() {
    let d = tmpdir("roundtrip");
    let csv = d.join("blobs.csv");
    blobs_csv(&csv, 150);
    let model = d.join("m.safetensors");
    let tr = json_of(&nabla_cmd(
        "train --data {} --epochs 20 --hidden 8 --lr 0.02 --json --quiet --out {}",
        &[s(&csv), s(&model)],
    ));
    assert!(tr["test"]["accuracy"].as_f64().unwrap() >= 0.95, "{tr}");

    let ev = json_of(&nabla_cmd(
        "eval --model {} --data {} --json",
        &[s(&model), s(&csv)],
    ));
    let labels: Vec<&str> = ev["confusion_matrix"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(labels, ["cat", "dog", "fish"]);
    let counts = ev["confusion_matrix"]["counts"].as_array().unwrap();
    let total: u64 = counts
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 150);
    assert_eq!(ev["classes"].as_array().unwrap().len(), 3);

    // Predict on the same file (target present) and without the target column.
    let pred = d.join("pred.csv");
    ok(&nabla_cmd(
        "predict --model {} --data {} --proba --out {}",
        &[s(&model), s(&csv), s(&pred)],
    ));
    let text = std::fs::read_to_string(&pred).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "prediction,p_cat,p_dog,p_fish");
    let truth: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let mut right = 0;
    let mut n = 0;
    for (line, t) in lines.zip(&truth) {
        let cells: Vec<&str> = line.split(',').collect();
        let p: Vec<f64> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{line}");
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!(cells[0], ["cat", "dog", "fish"][best]);
        right += usize::from(cells[0] == t);
        n += 1;
    }
    assert_eq!(n, 150);
    // eval's accuracy is the fraction predict gets right.
    let acc = ev["accuracy"].as_f64().unwrap();
    assert!(
        (acc - right as f64 / 150.0).abs() < 1e-6,
        "{acc} vs {right}/150"
    );

    let features_only = d.join("features.csv");
    let body: String = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(&features_only, body).unwrap();
    let o = nabla_cmd(
        "predict --model {} --data {}",
        &[s(&model), s(&features_only)],
    );
    let same: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let got: Vec<String> = stdout(ok(&o)).lines().skip(1).map(String::from).collect();
    assert_eq!(got, same);

    let ins = json_of(&nabla_cmd("inspect {} --json", &[s(&model)]));
    assert_eq!(
        ins["class_labels"],
        serde_json::json!(["cat", "dog", "fish"])
    );
    assert_eq!(ins["parameters"], 3 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(ins["target"], "label");
    assert!(ins["standardization"]["mean"].as_array().unwrap().len() == 3);
    assert_eq!(ins["training"]["test"]["accuracy"], tr["test"]["accuracy"]);
    let text = stdout(ok(&nabla_cmd("inspect {}", &[s(&model)])));
    assert!(
        text.contains("Linear(3 → 8)") && text.contains("classes (3): cat, dog, fish"),
        "{text}"
    );
}

#[test]
fn json_fields_and_history_columns() {
    let d = tmpdir("json");
    let model = d.join("m.safetensors");
    let hist = d.join("h.csv");
    let v = json_of(&nabla_cmd(
        "train --data builtin:iris --epochs 4 --hidden 5 --json --quiet --out {} --history {}",
        &[s(&model), s(&hist)],
    ));
    for key in [
        "task",
        "epochs_run",
        "train",
        "val",
        "test",
        "seconds",
        "training_seconds",
        "model",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    for part in ["train", "val", "test"] {
        assert!(
            v[part]["loss"].is_number() && v[part]["accuracy"].is_number(),
            "{v}"
        );
    }
    assert_eq!(v["epochs_run"], 4);
    assert!(v["training_seconds"].as_f64().unwrap() <= v["seconds"].as_f64().unwrap());
    assert!(v.get("mpi").is_none(), "one process: no MPI figures");
    assert_eq!(v["model"], s(&model));
    let h = std::fs::read_to_string(&hist).unwrap();
    let mut lines = h.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,grad_norm_0.weight,\
         grad_norm_0.bias,grad_norm_2.weight,grad_norm_2.bias"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4);
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<&str> = r.split(',').collect();
        assert_eq!(cells.len(), 10);
        assert_eq!(cells[0], (i + 1).to_string());
        assert!(cells[2..].iter().all(|c| c.parse::<f64>().is_ok()), "{r}");
    }
    // Cosine schedule: the first epoch uses the base rate 1e-3 exactly.
    assert_eq!(rows[0].split(',').nth(1).unwrap(), "0.001");
}

#[test]
fn init_from_a_plain_state_dict() {
    use nabla::nn::{Activation, MlpConfig, Sequential};
    let d = tmpdir("initfrom");
    // iris: 4 features, 3 classes; --hidden 6 → 0.weight [6,4], 0.bias, 2.weight [3,6], 2.bias.
    let net = Sequential::mlp(
        &MlpConfig::new(4, [6], 3)
            .with_activation(Activation::Relu)
            .with_seed(99),
    )
    .unwrap();
    let plain = d.join("plain.safetensors");
    nabla::io::save_safetensors(&plain, &net.state_dict(), &BTreeMap::new()).unwrap();
    let out = d.join("m.safetensors");
    // A learning rate so small that one epoch of Adam moves nothing visibly.
    ok(&nabla_cmd("train --data builtin:iris --hidden 6 --epochs 1 --lr 1e-12 --init-from {} --out {} --quiet", &[s(&plain), s(&out)]));
    let before = tensors(&plain);
    let after = tensors(&out);
    assert_eq!(before.len(), 4);
    for ((n1, a), (n2, b)) in before.iter().zip(&after) {
        assert_eq!(n1, n2);
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "{n1} moved by {worst}");
    }
    // A different architecture is refused, naming the first mismatch.
    let o = nabla_cmd(
        "train --data builtin:iris --hidden 7 --epochs 1 --init-from {} --out {} --quiet",
        &[s(&plain), s(&d.join("x.safetensors"))],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("0.weight") && err.contains("[6, 4]") && err.contains("[7, 4]"),
        "{err}"
    );
    assert!(!d.join("x.safetensors").exists());
}

#[test]
fn checkpoint_and_resume_is_bit_identical() {
    let d = tmpdir("resume");
    let full = interrupt_and_resume(&d, "adam", &[]);
    // A finished model is not a checkpoint.
    let o = nabla_cmd("train --resume {} --quiet", &[s(&full)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a checkpoint"));
}

#[test]
fn checkpoint_and_resume_is_bit_identical_with_rprop_lbfgs_and_quickprop() {
    let d = tmpdir("resume-small-data-trainers");
    interrupt_and_resume(
        &d,
        "rprop",
        &["--optimizer", "rprop", "--batch-size", "200"],
    );
    interrupt_and_resume(&d, "lbfgs", &["--optimizer", "lbfgs"]);
    interrupt_and_resume(
        &d,
        "lbfgs-wolfe",
        &[
            "--optimizer",
            "lbfgs",
            "--line-search",
            "strong_wolfe",
            "--batch-size",
            "200",
        ],
    );
    interrupt_and_resume(&d, "quickprop", &["--optimizer", "quickprop"]);
}

/// Train 5 epochs on iris in one go, and again stopped after epoch 2 and resumed from its
/// checkpoint; the two models must be bit-identical. Returns the uninterrupted run's model.
fn interrupt_and_resume(d: &Path, tag: &str, extra: &[&str]) -> PathBuf {
    let mut common = vec![
        "train",
        "--data",
        "builtin:iris",
        "--hidden",
        "8,4",
        "--dropout",
        "0.2",
        "--epochs",
        "5",
        "--quiet",
    ];
    if !extra.contains(&"--batch-size") {
        common.extend(["--batch-size", "16"]);
    }
    common.extend(extra);
    let full = d.join(format!("{tag}-full.safetensors"));
    let mut a = common.clone();
    a.extend(["--out", s(&full)]);
    ok(&nabla(&a));

    let part = d.join(format!("{tag}-part.safetensors"));
    let mut b = common.clone();
    b.extend([
        "--out",
        s(&part),
        "--checkpoint-every",
        "1",
        "--stop-after",
        "2",
    ]);
    let o = nabla(&b);
    assert_eq!(o.status.code(), Some(130), "{tag}: {}", stderr(&o));
    assert!(stderr(&o).contains("--resume"), "{tag}: {}", stderr(&o));
    // The checkpoint is a valid file holding the optimiser state too.
    let ck = nabla::io::load_safetensors(&part).unwrap();
    assert!(ck.metadata.contains_key("nabla_checkpoint"));
    assert!(
        ck.tensors.iter().any(|(n, _)| n.starts_with("__optim.")),
        "{tag}"
    );

    ok(&nabla_cmd("train --resume {} --quiet", &[s(&part)]));
    let x = tensors(&full);
    let y = tensors(&part);
    assert_eq!(x.len(), y.len());
    for ((n1, a), (n2, b)) in x.iter().zip(&y) {
        assert_eq!(n1, n2);
        let bits_a: Vec<u32> = a.iter().map(|v| v.to_bits()).collect();
        let bits_b: Vec<u32> = b.iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits_a, bits_b, "{tag}: {n1} differs after resume");
    }
    full
}

#[test]
fn regression_on_a_synthetic_csv() {
    let d = tmpdir("regress");
    let csv = d.join("lin.csv");
    let mut r = Lcg(3);
    let mut text = String::from("x1;x2;y\n");
    for _ in 0..200 {
        let (x1, x2) = (r.next() * 4.0 - 2.0, r.next() * 10.0);
        let y = 3.0 * x1 - 2.0 * x2 + 50.0 + (r.next() - 0.5) * 0.1;
        text.push_str(&format!("{x1:.5};{x2:.5};{y:.5}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let model = d.join("m.safetensors");
    let v = json_of(&nabla_cmd(
        "train --data {} --hidden {} --epochs 60 --lr 0.05 --json --quiet --out {}",
        &[s(&csv), "", s(&model)],
    ));
    assert_eq!(v["task"], "regression");
    let r2 = v["test"]["r2"].as_f64().unwrap();
    assert!(r2 > 0.99, "{v}");
    assert!(v["test"]["rmse"].as_f64().unwrap() < 1.0, "{v}");
    // Predictions come back in the target's units: compare with the formula.
    let o = nabla_cmd("predict --model {} --data {}", &[s(&model), s(&csv)]);
    let preds: Vec<f64> = stdout(ok(&o))
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(';').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(preds.len(), 200);
    for (p, row) in preds.iter().zip(&rows) {
        assert!((p - row[2]).abs() < 1.0, "{p} vs {}", row[2]);
    }
    let ev = json_of(&nabla_cmd(
        "eval --model {} --data {} --json",
        &[s(&model), s(&csv)],
    ));
    for k in ["mse", "rmse", "mae", "r2"] {
        assert!(ev[k].is_number(), "{ev}");
    }
}

#[test]
fn split_files_choose_the_test_rows() {
    let d = tmpdir("splitfile");
    let csv = d.join("blobs.csv");
    blobs_csv(&csv, 60);
    let train_rows: String = (0..45).map(|i| format!("{i}\n")).collect();
    let test_rows: String = (45..60).map(|i| format!("{i}\n")).collect();
    std::fs::write(d.join("b.train.txt"), train_rows).unwrap();
    std::fs::write(d.join("b.test.txt"), test_rows).unwrap();
    let model = d.join("m.safetensors");
    let prefix = d.join("b");
    ok(&nabla_cmd(
        "train --data {} --split-file {} --epochs 2 --quiet --out {} --val-split 0",
        &[s(&csv), s(&prefix), s(&model)],
    ));
    let ins = json_of(&nabla_cmd("inspect {} --json", &[s(&model)]));
    assert_eq!(ins["training"]["rows"]["test"], 15);
    assert_eq!(ins["training"]["rows"]["train"], 45);
    assert_eq!(ins["training"]["rows"]["val"], 0);
}

#[test]
fn gradcheck_passes_and_reports_every_tensor() {
    let o = nabla_cmd(
        "gradcheck --data builtin:iris --hidden 5,4 --activation tanh",
        &[],
    );
    let text = stdout(ok(&o));
    for t in [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias",
    ] {
        assert!(text.contains(t), "{text}");
    }
    let v = json_of(&nabla_cmd(
        "gradcheck --data builtin:xor --hidden 3 --json",
        &[],
    ));
    assert_eq!(v["passed"], true);
    // xor has two classes: one logit with binary cross-entropy.
    assert_eq!(v["loss"], "bce");
    // An impossible tolerance fails with exit code 1.
    let o = nabla_cmd(
        "gradcheck --data builtin:iris --hidden 4 --fused-tol 0",
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

/// Runs a command that must fail: one `error:` line on stderr, the given exit code, no panic.
fn fails(args: &[&str], code: i32, needles: &[&str]) {
    let o = nabla(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    if code == 1 {
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected '{n}' in {err}");
    }
}

#[test]
fn bad_input_gives_one_clear_line_and_the_right_exit_code() {
    let d = tmpdir("bad");
    let out = d.join("never.safetensors");
    let o = s(&out);
    let w = |name: &str, text: &str| -> String {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let q = ["--quiet", "--out", o];
    let train = |data: &str, extra: &[&str], code: i32, needles: &[&str]| {
        let mut a = vec!["train", "--data", data];
        a.extend_from_slice(extra);
        a.extend_from_slice(&q);
        fails(&a, code, needles);
    };
    train(s(&d.join("missing.csv")), &[], 1, &["missing.csv"]);
    train(&w("empty.csv", ""), &[], 1, &["empty"]);
    // Malformed CSV files: the message names the line (and column) that is wrong.
    for (name, text, needles) in [
        ("ragged.csv", "a,b,y\n1,2,0\n3,1\n4,5,1\n", &["line 3"][..]),
        (
            "text.csv",
            "a,b,y\n1,2,0\n3,oops,1\n4,5,1\n",
            &["line 3", "column b"][..],
        ),
        ("nan.csv", "a,b,y\n1,NaN,0\n3,2,1\n4,5,1\n", &["line 2"][..]),
        ("inf.csv", "a,b,y\n1,2,0\n3,inf,1\n4,5,1\n", &["line 3"][..]),
        ("one.csv", "a,b,y\n1,2,x\n3,2,x\n4,5,x\n", &["class"][..]),
    ] {
        train(&w(name, text), &[], 1, needles);
    }
    train(
        &w("ok.csv", "a,b,y\n1,2,0\n3,2,1\n4,5,1\n5,5,0\n"),
        &["--target", "nope"],
        1,
        &["nope", "a, b, y"],
    );
    train("builtin:iris", &["--lr", "-1"], 2, &["--lr"]);
    train("builtin:iris", &["--batch-size", "0"], 2, &["--batch-size"]);
    train(
        "builtin:iris",
        &["--hidden", "3,x"],
        2,
        &["--hidden", "'x'"],
    );
    train("builtin:iris", &["--dropout", "1.5"], 2, &["--dropout"]);
    train(
        "builtin:iris",
        &["--optimizer", "lion"],
        2,
        &["--optimizer"],
    );
    // Flags that do not apply to the optimiser are refused, naming both.
    for (flags, needle) in [
        (
            &["--optimizer", "rprop", "--momentum", "0.9"][..],
            "--momentum does not apply to rprop",
        ),
        (
            &["--optimizer", "rprop", "--schedule", "cosine"],
            "does not apply to rprop",
        ),
        (
            &["--optimizer", "lbfgs", "--weight-decay", "0.1"],
            "--weight-decay does not apply to lbfgs",
        ),
        (
            &["--optimizer", "quickprop", "--momentum", "0.5"],
            "--momentum does not apply to quickprop",
        ),
        (
            &["--optimizer", "adam", "--line-search", "strong_wolfe"],
            "--line-search applies to lbfgs only",
        ),
        (
            &["--optimizer", "lbfgs", "--line-search", "armijo"],
            "--line-search",
        ),
    ] {
        train("builtin:iris", flags, 2, &[needle]);
    }
    train("builtin:iris", &["--val-split", "1.2"], 2, &["--val-split"]);
    fails(&["train", "--epochs", "x"], 2, &[]);
    assert!(!out.exists(), "a failed run must not write the model");

    // A model and data that do not fit it.
    let model = d.join("iris.safetensors");
    ok(&nabla_cmd(
        "train --data builtin:iris --epochs 1 --quiet --out {}",
        &[s(&model)],
    ));
    let m = s(&model);
    fails(
        &[
            "eval",
            "--model",
            m,
            "--data",
            &w("three.csv", "a,b,c,target\n1,2,3,setosa\n"),
        ],
        1,
        &["3 feature columns", "expects 4"],
    );
    let names = nabla::io::load_model(&model)
        .unwrap()
        .1
        .feature_names
        .join(",");
    let header = format!("{names},target\n");
    fails(
        &[
            "eval",
            "--model",
            m,
            "--data",
            &w(
                "unseen.csv",
                &format!("{header}5,3,1,0.2,setosa\n6,3,4,1,tulip\n"),
            ),
        ],
        1,
        &["tulip"],
    );
    fails(
        &[
            "eval",
            "--model",
            s(&d.join("none.safetensors")),
            "--data",
            "builtin:iris",
        ],
        1,
        &["none.safetensors"],
    );
    let bytes = std::fs::read(&model).unwrap();
    let trunc = d.join("trunc.safetensors");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    fails(&["inspect", s(&trunc)], 1, &["trunc.safetensors"]);
    fails(
        &[
            "inspect",
            &w("foreign.safetensors", "PK\u{3}\u{4} not a model at all"),
        ],
        1,
        &["not a safetensors"],
    );
    let plain = d.join("plain.safetensors");
    let file = nabla::io::load_safetensors(&model).unwrap();
    nabla::io::save_safetensors(&plain, &file.tensors, &BTreeMap::new()).unwrap();
    fails(&["inspect", s(&plain)], 1, &["no nabla metadata"]);
}

#[test]
fn python_recomputes_the_forward_pass() {
    let Some(d) = python_tmpdir("python") else {
        return;
    };
    let csv = d.join("blobs.csv");
    blobs_csv(&csv, 90);
    let model = d.join("m.safetensors");
    ok(&nabla_cmd(
        "train --data {} --hidden 6,5 --activation tanh --epochs 5 --quiet --out {}",
        &[s(&csv), s(&model)],
    ));
    let pred = d.join("pred.csv");
    ok(&nabla_cmd(
        "predict --model {} --data {} --proba --out {}",
        &[s(&model), s(&csv), s(&pred)],
    ));
    python_check_passes(&model, &csv, &pred);
    // Two classes: one logit, sigmoid.
    let csv2 = d.join("two.csv");
    let mut r = Lcg(5);
    let mut text = String::from("u,v,ok\n");
    for i in 0..80 {
        let k = i % 2;
        text.push_str(&format!(
            "{:.3},{:.3},{}\n",
            k as f64 * 2.0 + r.next(),
            r.next(),
            ["no", "yes"][k]
        ));
    }
    std::fs::write(&csv2, text).unwrap();
    ok(&nabla_cmd(
        "train --data {} --hidden 4 --epochs 3 --quiet --out {}",
        &[s(&csv2), s(&model)],
    ));
    ok(&nabla_cmd(
        "predict --model {} --data {} --proba --out {}",
        &[s(&model), s(&csv2), s(&pred)],
    ));
    python_check_passes(&model, &csv2, &pred);
}

/// `--split-file` trains on exactly the listed rows and tests on exactly the listed rows, in
/// any order and not contiguous: the stored standardisation mean equals the mean of the listed
/// training rows (computed here in f64), and the test loss equals `nabla eval` on a file holding
/// only the listed test rows.
#[test]
fn split_files_use_exactly_the_listed_rows() {
    let d = tmpdir("splitexact");
    let csv = d.join("blobs.csv");
    blobs_csv(&csv, 90);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines[0];
    let rows: Vec<&str> = lines[1..].to_vec();
    // Scattered rows in a shuffled order; the rest (and row 0) belong to neither split.
    let train: Vec<usize> = (0..90).filter(|i| i % 3 != 0).rev().collect();
    let test: Vec<usize> = vec![87, 3, 42, 9, 66, 21, 30, 12, 75, 54];
    let list = |v: &[usize]| v.iter().map(|i| format!("{i}\n")).collect::<String>();
    std::fs::write(d.join("s.train.txt"), list(&train)).unwrap();
    std::fs::write(d.join("s.test.txt"), list(&test)).unwrap();
    let model = d.join("m.safetensors");
    let summary = json_of(&nabla_cmd("train --data {} --split-file {} --epochs 3 --hidden 4 --val-split 0 --quiet --json --out {}", &[s(&csv), s(&d.join("s")), s(&model)]));
    let ins = json_of(&nabla_cmd("inspect {} --json", &[s(&model)]));
    assert_eq!(ins["training"]["rows"]["train"], train.len());
    assert_eq!(ins["training"]["rows"]["test"], test.len());
    let mean = ins["standardization"]["mean"].as_array().unwrap();
    for (j, m) in mean.iter().enumerate() {
        let expected: f64 = train
            .iter()
            .map(|&i| rows[i].split(',').nth(j).unwrap().parse::<f64>().unwrap())
            .sum::<f64>()
            / train.len() as f64;
        let got = m.as_f64().unwrap();
        assert!(
            (got - expected).abs() < 1e-5,
            "feature {j}: {got} vs {expected}"
        );
    }
    let only_test = d.join("test_rows.csv");
    let mut t = format!("{header}\n");
    for &i in &test {
        t.push_str(rows[i]);
        t.push('\n');
    }
    std::fs::write(&only_test, t).unwrap();
    let ev = json_of(&nabla_cmd(
        "eval --model {} --data {} --json",
        &[s(&model), s(&only_test)],
    ));
    assert_eq!(ev["rows"], test.len());
    let (a, b) = (
        ev["loss"].as_f64().unwrap(),
        summary["test"]["loss"].as_f64().unwrap(),
    );
    assert!(
        (a - b).abs() <= 1e-6 * a.abs().max(1.0),
        "eval {a} vs train's test {b}"
    );
    assert_eq!(ev["accuracy"], summary["test"]["accuracy"]);
}

/// `--track-test` reports the test figures after every epoch; the last one is the final test
/// figure and the times grow.
#[test]
fn track_test_lists_every_epoch() {
    let d = tmpdir("tracktest");
    let model = d.join("m.safetensors");
    let v = json_of(&nabla_cmd(
        "train --data builtin:iris --epochs 4 --hidden 8 --track-test --quiet --json --out {}",
        &[s(&model)],
    ));
    let per = v["test_per_epoch"].as_array().expect("test_per_epoch");
    assert_eq!(per.len(), 4, "{v}");
    let mut last = 0.0;
    for (k, e) in per.iter().enumerate() {
        assert_eq!(e["epoch"], k + 1);
        let a = e["test_accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&a));
        let t = e["seconds_since_start"].as_f64().unwrap();
        assert!(t >= last, "{per:?}");
        last = t;
    }
    // Tracking does not change training: the same run without it ends with the last epoch's
    // test figures (computed there by the final evaluation, not the per-epoch one).
    let plain = json_of(&nabla_cmd(
        "train --data builtin:iris --epochs 4 --hidden 8 --quiet --json --out {}",
        &[s(&model)],
    ));
    assert!(plain.get("test_per_epoch").is_none());
    assert_eq!(per[3]["test_accuracy"], plain["test"]["accuracy"]);
    let (a, b) = (
        per[3]["test_loss"].as_f64().unwrap(),
        plain["test"]["loss"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
    assert_eq!(per[3]["test_accuracy"], v["test"]["accuracy"]);
    // Without a test set there is nothing to track: a usage error.
    let o = nabla_cmd(
        "train --data builtin:iris --test-split 0 --track-test --out {}",
        &[s(&model)],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--track-test"), "{}", stderr(&o));
}

/// Train a network of 4 hidden units on `data` with the default epochs and batch size, and
/// return what `nabla inspect --json` says of the model.
fn train_with_default_size(data: &str, model: &Path) -> Value {
    ok(&nabla_cmd(
        "train --data {} --hidden 4 --quiet --out {}",
        &[data, s(model)],
    ));
    json_of(&nabla_cmd("inspect {} --json", &[s(model)]))
}

/// Without --epochs/--batch-size, a training set under 10 000 rows gets batch 32 and enough
/// epochs for about 2 000 optimiser steps (20 to 200), a larger one 10 epochs of batch 128 (the
/// settings stored in the model say so).
#[test]
fn default_epochs_and_batch_follow_the_training_rows() {
    let d = tmpdir("defaultsize");
    let model = d.join("m.safetensors");
    let small = d.join("small.csv");
    blobs_csv(&small, 700);
    let ins = train_with_default_size(s(&small), &model);
    let rows = ins["training"]["rows"]["train"].as_u64().unwrap();
    // 700 rows → about 504 training rows → 16 batches of 32 per epoch → 125 epochs.
    let steps = rows.div_ceil(32);
    let expected = 2000u64.div_ceil(steps).clamp(20, 200);
    assert!((100..150).contains(&expected), "{rows} rows");
    assert_eq!(ins["training"]["settings"]["epochs"], expected, "{ins}");
    assert_eq!(ins["training"]["settings"]["batch_size"], 32, "{ins}");
    assert_eq!(ins["training"]["epochs_run"], expected);
    // Iris (108 training rows, 4 steps per epoch) reaches the cap of 200 epochs.
    let ins = train_with_default_size("builtin:iris", &model);
    assert_eq!(ins["training"]["settings"]["epochs"], 200, "{ins}");
    // 14 000 rows leave about 10 080 training rows after the default test and validation
    // splits: a large set.
    let csv = d.join("big.csv");
    blobs_csv(&csv, 14_000);
    let ins = train_with_default_size(s(&csv), &model);
    let rows = ins["training"]["rows"]["train"].as_u64().unwrap();
    assert!((10_000..10_200).contains(&rows), "{ins}");
    assert_eq!(ins["training"]["settings"]["epochs"], 10, "{ins}");
    assert_eq!(ins["training"]["settings"]["batch_size"], 128, "{ins}");
}

#[test]
fn a_closed_stdout_ends_eval_quietly() {
    let d = tmpdir("closed-stdout");
    let model = d.join("m.safetensors");
    ok(&nabla_cmd(
        "train --data builtin:iris --epochs 2 --quiet --out {}",
        &[s(&model)],
    ));
    // The reader goes away before eval prints (loading and evaluating come first).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["eval", "--model", s(&model), "--data", "builtin:iris"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
}
