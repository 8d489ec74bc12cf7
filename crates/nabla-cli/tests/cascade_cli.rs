//! `nabla train --cascade`: a cascade-correlation network grown, saved, evaluated, predicted
//! with and inspected, on a small parity problem the test writes itself; and the flags that
//! do not apply refused.

mod common;

use std::path::Path;

use common::{json_of, nabla, nabla_cmd, ok, python_tmpdir, s, stderr, stdout, tmpdir, CHECK_ONNX};

/// Parity of `bits` bits as a FANN file: every pattern once, inputs −1/1, output 0/1.
fn parity_fann(path: &Path, bits: usize) {
    let rows = 1 << bits;
    let mut text = format!("{rows} {bits} 1\n");
    for r in 0..rows {
        let x: Vec<&str> = (0..bits)
            .map(|b| if (r >> b) & 1 == 1 { "1" } else { "-1" })
            .collect();
        text.push_str(&format!(
            "{}\n{}\n",
            x.join(" "),
            (r as u32).count_ones() % 2
        ));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn cascade_grows_to_max_units_then_predicts_and_inspect_says_it_is_not_sequential() {
    let d = tmpdir("cascade");
    let data = d.join("parity6.train");
    parity_fann(&data, 6);
    let model = d.join("c.safetensors");
    let o = ok(&nabla_cmd(
        "train --data {} --test {} --val-split 0 --cascade --max-units 3 --json --out {}",
        &[s(&data), s(&data), s(&model)],
    ))
    .clone();
    // One progress line per stage, units and losses on each.
    let err = stderr(&o);
    assert!(
        err.contains("network: cascade-correlation, 6 → up to 3 hidden units"),
        "{err}"
    );
    let stage_lines: Vec<&str> = err.lines().filter(|l| l.contains("train loss")).collect();
    assert_eq!(stage_lines.len(), 4, "{err}");
    assert!(stage_lines[3].starts_with("unit  3/3 "), "{err}");
    let j = json_of(&o);
    assert_eq!(j["units"], 3);
    assert_eq!(j["cascade"]["stop"], "max_units");
    let stages = j["cascade"]["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4);
    let first = stages[0]["train_loss"].as_f64().unwrap();
    let last = stages[3]["train_loss"].as_f64().unwrap();
    // Parity is not linearly separable: the outputs alone stay at chance (ln 2 = 0.69).
    assert!(first > 0.6 && last < 0.5 * first, "{first} → {last}");
    let accuracy = j["test"]["accuracy"].as_f64().unwrap();
    assert!(accuracy >= 0.9, "{accuracy}");

    // predict gives the classes whose accuracy train reported.
    let pred = stdout(ok(&nabla(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--proba",
    ])));
    let lines: Vec<&str> = pred.lines().collect();
    assert_eq!(lines[0], "prediction,p_0,p_1");
    let right = lines[1..]
        .iter()
        .enumerate()
        .filter(|(r, l)| l.split(',').next() == Some(&((*r as u32).count_ones() % 2).to_string()))
        .count();
    assert_eq!(right as f64 / 64.0, accuracy);
    let e = json_of(ok(&nabla(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--json",
    ])));
    assert_eq!(e["accuracy"].as_f64(), Some(accuracy), "{e}");

    // inspect: the layer, its tensors, that torch's nn.Sequential does not take it and ONNX
    // does.
    let text = stdout(ok(&nabla(&["inspect", s(&model)])));
    assert!(text.contains("cascade(6 → 1, 3 units"), "{text}");
    assert!(text.contains("torch.nn.Sequential: not loadable"), "{text}");
    assert!(text.contains("onnx export: yes"), "{text}");
    let info = json_of(ok(&nabla(&["inspect", s(&model), "--json"])));
    assert_eq!(info["torch_sequential"]["loadable"], false);
    assert_eq!(info["onnx_export"]["exportable"], true);
    assert_eq!(
        info["layers"][0]["tensors"],
        serde_json::json!([
            "0.units.weight",
            "0.units.bias",
            "0.output.weight",
            "0.output.bias"
        ])
    );
    let onnx = d.join("c.onnx");
    let summary = json_of(ok(&nabla_cmd(
        "export --model {} --format onnx --out {} --json",
        &[s(&model), s(&onnx)],
    )));
    // Per unit a Gemm, its activation and a Concat; then the output Gemm.
    let ops: Vec<&str> = summary["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ops.iter().filter(|&&o| o == "Gemm").count(), 4, "{ops:?}");
    assert_eq!(ops.iter().filter(|&&o| o == "Concat").count(), 4, "{ops:?}");
    assert!(onnx.exists());

    // A plain MLP is loadable, and inspect says nothing of the kind.
    let plain = d.join("plain.safetensors");
    ok(&nabla_cmd(
        "train --data {} --hidden 4 --epochs 2 --quiet --out {}",
        &[s(&data), s(&plain)],
    ));
    let info = json_of(ok(&nabla(&["inspect", s(&plain), "--json"])));
    assert_eq!(info["torch_sequential"]["loadable"], true);
}

#[test]
fn flags_that_do_not_apply_to_cascade_are_refused_naming_both() {
    let d = tmpdir("cascade-flags");
    let data = d.join("parity3.train");
    parity_fann(&data, 3);
    let out = d.join("never.safetensors");
    for (flag, value) in [
        ("--hidden", "8"),
        ("--arch", "conv2d(4,3), relu, flatten, linear"),
        ("--optimizer", "adam"),
        ("--batch-size", "4"),
        ("--early-stopping", "3"),
    ] {
        let o = nabla(&[
            "train",
            "--data",
            s(&data),
            "--cascade",
            flag,
            value,
            "--out",
            s(&out),
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        let err = stderr(&o);
        let first = err.lines().next().unwrap_or("");
        assert!(
            first.contains("'--cascade'") && first.contains(&format!("'{flag}")),
            "{flag}: {err}"
        );
    }
    for flag in ["--max-units", "--candidates"] {
        let o = nabla(&["train", "--data", s(&data), flag, "3", "--out", s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        assert!(stderr(&o).contains("--cascade"), "{}", stderr(&o));
    }
    let o = nabla(&[
        "train",
        "--data",
        s(&data),
        "--cascade",
        "--candidates",
        "0",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--candidates 0"), "{}", stderr(&o));
    assert!(!out.exists());
}

/// The README's description of the model file is what the binary writes: the layer's JSON
/// keys and every tensor with its shape in terms of I, U and O.
#[test]
fn the_readme_describes_the_cascade_model_file_as_written() {
    let section = common::readme_section("cascade");
    let d = tmpdir("cascade-readme");
    let data = d.join("parity3.train");
    parity_fann(&data, 3);
    let model = d.join("c.safetensors");
    ok(&nabla_cmd(
        "train --data {} --val-split 0 --cascade --max-units 2 --quiet --out {}",
        &[s(&data), s(&model)],
    ));
    let bytes = std::fs::read(&model).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(header["__metadata__"]["nabla"].as_str().unwrap()).unwrap();
    let layer = &meta["layers"][0];
    for key in layer.as_object().unwrap().keys() {
        assert!(
            section.contains(&format!("\"{key}\"")),
            "README lacks {key}"
        );
    }
    assert_eq!(layer["layer"], "cascade");
    // I = 3 inputs, U = 2 units, O = 1 output.
    for (name, shape, described) in [
        ("0.units.weight", [2, 5].as_slice(), "[U, I + U]"),
        ("0.units.bias", &[2], "[U]"),
        ("0.output.weight", &[1, 5], "[O, I + U]"),
        ("0.output.bias", &[1], "[O]"),
    ] {
        assert_eq!(header[name]["shape"], serde_json::json!(shape), "{name}");
        let row = format!("| `{name}` | {described} |");
        assert!(section.contains(&row), "README lacks {row}");
    }
    assert_eq!(
        header.as_object().unwrap().len(),
        5,
        "four tensors and the metadata"
    );
}

/// The ONNX export of a cascade network gives what `nabla predict` gives, row by row
/// (onnxruntime, tests/python/check_onnx.py), for a classifier and a regression model.
#[test]
fn an_exported_cascade_network_matches_predict_in_onnxruntime() {
    let Some(d) = python_tmpdir("cascade-onnx") else {
        return;
    };
    let mut r = common::Lcg(3);
    let (mut classes, mut values) = (
        String::from("x1,x2,x3,label\n"),
        String::from("x1,x2,x3,y\n"),
    );
    for _ in 0..300 {
        let (a, b, c) = (
            4.0 * r.next() - 2.0,
            4.0 * r.next() - 2.0,
            4.0 * r.next() - 2.0,
        );
        let label = if a * b + 0.5 * c > 0.3 { "yes" } else { "no" };
        classes.push_str(&format!("{a:.4},{b:.4},{c:.4},{label}\n"));
        values.push_str(&format!(
            "{a:.4},{b:.4},{c:.4},{:.4}\n",
            3.0 + (a * b).sin() - c
        ));
    }
    for (name, text, proba) in [("classes", classes, true), ("values", values, false)] {
        let csv = d.join(format!("{name}.csv"));
        std::fs::write(&csv, text).unwrap();
        let model = d.join(format!("{name}.safetensors"));
        let onnx = d.join(format!("{name}.onnx"));
        let pred = d.join(format!("{name}.pred.csv"));
        ok(&nabla_cmd(
            "train --data {} --cascade --max-units 4 --val-split 0 --quiet --out {}",
            &[s(&csv), s(&model)],
        ));
        ok(&nabla_cmd(
            "export --model {} --format onnx --out {}",
            &[s(&model), s(&onnx)],
        ));
        let mut args = vec!["predict", "--model", s(&model), "--data", s(&csv)];
        if proba {
            args.push("--proba");
        }
        args.extend_from_slice(&["--out", s(&pred)]);
        ok(&nabla(&args));
        let report = CHECK_ONNX.passes(&onnx, &csv, &pred);
        assert!(report.contains("300 rows"), "{report}");
    }
}
