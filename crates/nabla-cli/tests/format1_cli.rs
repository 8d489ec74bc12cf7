//! Model files written by the release before the one-engine redesign (format 1, MLPs; see
//! fixtures/format1/README.md) still load, and `predict`, `eval` and `inspect` print what that
//! release printed for them: the same text, except that a number may differ in its last f32
//! digit (relative 1e-6), because the sigmoid is now evaluated in its stable form
//! (e^z/(1 + e^z) for z < 0) where that release used 1/(1 + e^−z) everywhere.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1")
}

/// Run the CLI in the fixture folder (the fixtures name their files relative to it).
fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(fixtures())
        .output()
        .expect("nabla runs");
    assert!(
        out.status.success(),
        "nabla {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn expected(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).expect("fixture present")
}

/// Two outputs agree: the same text, where numbers may differ by f32 rounding.
fn agree(got: &str, want: &str) -> bool {
    let split =
        |s: &str| -> Vec<String> { s.split([',', ' ', '\n', ':']).map(str::to_string).collect() };
    let (g, w) = (split(got), split(want));
    g.len() == w.len()
        && g.iter().zip(&w).all(|(a, b)| {
            a == b
                || match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                    _ => false,
                }
        })
}

fn same(args: &[&str], fixture: &str) {
    let got = run(args);
    let want = expected(fixture);
    if !agree(&got, &want) {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "nabla {args:?} differs from {fixture} at line {}:\n  got:  {:?}\n  want: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

const MODELS: [(&str, &str); 4] = [
    ("iris_tanh", "builtin:iris"),
    ("binary_relu", "binary.csv"),
    ("regression_sigmoid", "regression.csv"),
    ("digits_leaky", "builtin:digits"),
];

#[test]
fn format1_models_predict_exactly_as_before() {
    for (name, data) in MODELS {
        let model = format!("{name}.safetensors");
        let mut args = vec!["predict", "--model", &model, "--data", data];
        if name != "regression_sigmoid" && name != "digits_leaky" {
            args.push("--proba");
        }
        same(&args, &format!("{name}.predict.csv"));
    }
    same(
        &[
            "predict",
            "--model",
            "digits_leaky.safetensors",
            "--data",
            "digits_head.csv",
            "--proba",
        ],
        "digits_leaky.proba_head.csv",
    );
}

#[test]
fn format1_models_evaluate_and_inspect_as_before() {
    for (name, data) in MODELS {
        let model = format!("{name}.safetensors");
        same(
            &["eval", "--model", &model, "--data", data],
            &format!("{name}.eval.txt"),
        );
        same(
            &["eval", "--model", &model, "--data", data, "--json"],
            &format!("{name}.eval.json"),
        );
        same(&["inspect", &model], &format!("{name}.inspect.txt"));
        same(
            &["inspect", &model, "--json"],
            &format!("{name}.inspect.json"),
        );
    }
}
