//! `nabla train` prints diagnostics warnings that name the layer and a remedy, adds gradient
//! norms to the epoch line with --diagnostics, and writes the HTML report with --report.

mod common;

use common::{nabla_cmd, ok, s, stderr, tmpdir};

#[test]
fn a_deep_sigmoid_network_gets_a_vanishing_gradient_warning() {
    let d = tmpdir("vanish");
    let out = d.join("m.safetensors");
    let o = nabla_cmd("train --hidden 32,32,32,32,32,32,32,32 --activation sigmoid --init xavier --optimizer sgd --lr 0.01 --epochs 4 --out {}", &[s(&out)]);
    let err = stderr(ok(&o));
    let line = err
        .lines()
        .find(|l| l.starts_with("warning: epoch 3: vanishing gradients in layer 0"))
        .unwrap_or_else(|| panic!("no warning for layer 0 in:\n{err}"));
    assert!(line.contains("--activation relu --init he"), "{line}");
}

#[test]
fn a_huge_learning_rate_stops_with_the_epoch_batch_and_a_remedy() {
    let d = tmpdir("explode");
    let out = d.join("m.safetensors");
    // A huge learning rate: the loss diverges; the error names epoch and batch and a remedy.
    let o = nabla_cmd(
        "train --optimizer sgd --lr 1e6 --epochs 3 --out {}",
        &[s(&out)],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: training diverged at epoch 1, batch ")
            && last.contains("weights kept from before this batch")
            && last.contains("lower the learning rate"),
        "{err}"
    );
    assert!(!out.exists(), "no model is written when training diverges");
}

#[test]
fn diagnostics_flag_adds_gradient_norms_and_report_holds_the_accuracy() {
    let d = tmpdir("report");
    let out = d.join("m.safetensors");
    let report = d.join("r.html");
    let o = nabla_cmd(
        "train --epochs 2 --diagnostics --json --out {} --report {}",
        &[s(&out), s(&report)],
    );
    let err = stderr(ok(&o));
    let epoch_line = err.lines().find(|l| l.starts_with("epoch   1/2")).unwrap();
    assert!(
        epoch_line.contains("|∇W| 0=") && epoch_line.contains(" 2="),
        "{epoch_line}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = summary["test"]["accuracy"].as_f64().unwrap();
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains(&format!("{:.2}%", 100.0 * acc)),
        "report lacks test accuracy {acc}"
    );
    assert!(html.contains("<svg"), "curves are inline SVG");
    for external in ["src=\"http", "href=\"http", "<script", "<link"] {
        assert!(
            !html.contains(external),
            "the report must be self-contained: found {external}"
        );
    }
}
