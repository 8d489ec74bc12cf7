//! `nabla explain`, `nabla graph` and `nabla plot`, run as a user would. Numbers are checked
//! against hand-derived formulas, autograd, and central finite differences computed here.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{nabla, nabla_cmd};
use serde_json::Value;

/// The standard output of `nabla_cmd(line, values)`, after checking that it succeeded.
fn ok(line: &str, values: &[&str]) -> String {
    let out = nabla_cmd(line, values);
    assert!(
        out.status.success(),
        "{line} {values:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nabla-viz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn number_after(text: &str, prefix: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

// ------------------------------------------------------------------ explain

#[test]
fn explain_textbook_total_equals_autograd_and_the_hand_chain_rule() {
    let text = ok("explain", &[]);
    let total = number_after(&text, "∂E/∂w1 (product along the path)");
    let autograd = number_after(&text, "∂E/∂w1 (autograd)");
    assert!((total - autograd).abs() <= 1e-15, "{total} vs {autograd}");
    // By hand: a1 = σ(w1 x + b1), a2 = σ(w2 a1 + b2), ∂E/∂w1 = (a2 − t) a2(1 − a2) w2 a1(1 − a1) x.
    let (x, w1, b1, w2, b2, t) = (1.5, 0.8, 0.1, -1.2, 0.3, 1.0);
    let a1 = sigmoid(w1 * x + b1);
    let a2 = sigmoid(w2 * a1 + b2);
    let hand = (a2 - t) * a2 * (1.0 - a2) * w2 * a1 * (1.0 - a1) * x;
    assert!((total - hand).abs() <= 1e-15, "{total} vs {hand}");
    assert!(text.contains("1 path from w1 to E"));
    assert!(text.contains(&format!("{:.10}", a2)), "a2 printed");

    // Every textbook parameter, by JSON: the total is autograd's and matches the hand formulas.
    let delta2 = (a2 - t) * a2 * (1.0 - a2);
    let delta1 = delta2 * w2 * a1 * (1.0 - a1);
    for (param, expected) in [
        ("w1", delta1 * x),
        ("b1", delta1),
        ("w2", delta2 * a1),
        ("b2", delta2),
    ] {
        let v: Value = serde_json::from_str(&ok("explain --param {} --json", &[param])).unwrap();
        let total = v["total"].as_f64().unwrap();
        assert!(
            (total - v["autograd"].as_f64().unwrap()).abs() <= 1e-15,
            "{param}"
        );
        assert!(
            (total - expected).abs() <= 1e-15,
            "{param}: {total} vs {expected}"
        );
        let product: f64 = v["paths"][0]["factors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["value"].as_f64().unwrap())
            .product();
        assert!(
            (product - total).abs() <= 1e-15,
            "{param}: factors multiply to the total"
        );
    }
}

/// Writes a small classification CSV and a model with the given hidden widths, saved through the
/// library, with a standardisation so that the explained row must be standardised.
fn model_fixture(tag: &str, hidden: Vec<usize>, loss: &str) -> (PathBuf, PathBuf) {
    use nabla::data::Standardizer;
    use nabla::data::Task;
    use nabla::io::{save_model, ModelMeta, FORMAT_VERSION};
    use nabla::loss::Loss;
    use nabla::nn::{Activation, MlpConfig, Sequential};
    let csv = tmp(&format!("{tag}.csv"));
    let mut rows = String::from("f1,f2,f3,label\n");
    for i in 0..12 {
        let v = i as f64;
        rows.push_str(&format!(
            "{},{},{},{}\n",
            v * 0.5 - 2.0,
            (v * 1.3).sin(),
            v * v * 0.1,
            if loss == "bce" {
                ["a", "b"][i % 2]
            } else {
                ["a", "b", "c"][i % 3]
            }
        ));
    }
    std::fs::write(&csv, rows).unwrap();
    let outputs = if loss == "bce" { 1 } else { 3 };
    let cfg = MlpConfig::new(3, hidden, outputs)
        .with_activation(Activation::Sigmoid)
        .with_seed(11);
    let net = Sequential::mlp(&cfg).unwrap();
    let meta = ModelMeta {
        format_version: FORMAT_VERSION,
        input_shape: vec![],
        layers: vec![],
        architecture: Some(cfg),
        task: Task::Classify,
        loss: Loss::from_name(loss).unwrap(),
        class_labels: if loss == "bce" {
            vec!["a".into(), "b".into()]
        } else {
            vec!["a".into(), "b".into(), "c".into()]
        },
        feature_names: vec!["f1".into(), "f2".into(), "f3".into()],
        target: Some("label".into()),
        standardization: Some(Standardizer {
            mean: vec![0.5, 0.1, 2.0],
            std: vec![2.0, 0.7, 3.0],
        }),
        target_standardization: None,
        data_source: csv.display().to_string(),
        training: Value::Null,
    };
    let model = tmp(&format!("{tag}.safetensors"));
    save_model(&model, &net, &meta, &BTreeMap::new()).unwrap();
    (model, csv)
}

#[test]
fn explain_model_sums_paths_and_matches_autograd() {
    let (model, csv) = model_fixture("paths", vec![4, 3], "cross_entropy");
    let (m, d) = (model.to_str().unwrap(), csv.to_str().unwrap());
    // 0.weight feeds neuron 2 of layer 1, then 3 neurons of layer 2, then 3 outputs: 9 paths.
    let v: Value = serde_json::from_str(&ok(
        "explain --model {} --data {} --row 4 --param 0.weight[2,1] --json",
        &[m, d],
    ))
    .unwrap();
    assert_eq!(v["path_count"], 9);
    assert_eq!(v["paths_listed"], "all");
    let paths = v["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 9);
    let sum: f64 = paths.iter().map(|p| p["product"].as_f64().unwrap()).sum();
    let total = v["total"].as_f64().unwrap();
    let autograd = v["autograd"].as_f64().unwrap();
    assert!((sum - total).abs() <= 1e-15);
    assert!(
        (total - autograd).abs() <= 1e-12 * (1.0 + autograd.abs()),
        "{total} vs {autograd}"
    );
    assert!(autograd.abs() > 1e-6, "a gradient that could be wrong");
    // The row was standardised with the stored mean and std: row 4 has f2 = sin(5.2).
    let x = v["forward"]["input"][1].as_f64().unwrap();
    let expected = (((4.0f64 * 1.3).sin() as f32 - 0.1f32) / 0.7f32) as f64;
    assert!((x - expected).abs() < 1e-6, "{x} vs {expected}");
    // Row 4 is class "b" (index 1).
    assert_eq!(v["forward"]["target"]["class"], 1);

    // A bias in the last layer has a single path; BCE with one logit also agrees.
    let v: Value = serde_json::from_str(&ok(
        "explain --model {} --data {} --row 0 --param 4.bias[1] --json",
        &[m, d],
    ))
    .unwrap();
    assert_eq!(v["path_count"], 1);
    let (total, autograd) = (
        v["total"].as_f64().unwrap(),
        v["autograd"].as_f64().unwrap(),
    );
    assert!((total - autograd).abs() <= 1e-12 * (1.0 + autograd.abs()));
}

#[test]
fn explain_many_paths_prints_the_delta_recursion() {
    let (model, csv) = model_fixture("wide", vec![4, 6, 5], "cross_entropy");
    let (m, d) = (model.to_str().unwrap(), csv.to_str().unwrap());
    // From 0.weight through hidden layers of 6 and 5 neurons to 3 outputs: 6 × 5 × 3 = 90
    // paths, more than the 64 that are listed one by one.
    let text = ok(
        "explain --model {} --data {} --row 2 --param 0.weight[0,0]",
        &[m, d],
    );
    assert!(text.contains("90 paths"), "{text}");
    assert!(
        text.contains("δ3[k]") && text.contains("δ1[0] = "),
        "{text}"
    );
    assert!(text.contains("the 5 largest paths"), "{text}");
    let total = number_after(&text, "∂E/∂0.weight[0,0] (sum over all paths)");
    let autograd = number_after(&text, "∂E/∂0.weight[0,0] (autograd)");
    assert!((total - autograd).abs() <= 1e-12 * (1.0 + autograd.abs()));

    let (model, csv) = model_fixture("bce", vec![3], "bce");
    let v: Value = serde_json::from_str(&ok(
        "explain --model {} --data {} --row 1 --param 0.weight[1,2] --json",
        &[model.to_str().unwrap(), csv.to_str().unwrap()],
    ))
    .unwrap();
    let (total, autograd) = (
        v["total"].as_f64().unwrap(),
        v["autograd"].as_f64().unwrap(),
    );
    assert!((total - autograd).abs() <= 1e-12 * (1.0 + autograd.abs()));
}

#[test]
fn explain_rejects_bad_parameters() {
    for (args, needle) in [
        (vec!["explain", "--param", "w3"], "parameters:"),
        (vec!["explain", "--param", "0.weight[1,0]"], "out of range"),
        (vec!["explain", "--param", "0.bias[0,0]"], "one index"),
        (
            vec!["explain", "--param", "1.weight[0,0]"],
            "not a linear layer",
        ),
    ] {
        let out = nabla(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}"
        );
    }
}

// ------------------------------------------------------------------ graph

struct DotNode {
    label: String,
}

/// (from node, to node, label) of one DOT edge.
type DotEdge = (String, String, String);

fn parse_dot(dot: &str) -> (BTreeMap<String, DotNode>, Vec<DotEdge>) {
    let mut nodes = BTreeMap::new();
    let mut edges = vec![];
    for line in dot.lines().map(str::trim) {
        let label = |l: &str| {
            let start = l.find("label=\"").unwrap() + 7;
            let end = l[start..].find("\"").unwrap() + start;
            l[start..end].to_string()
        };
        if let Some((lhs, _)) = line.split_once(" [") {
            if let Some((a, b)) = lhs.split_once(" -> ") {
                edges.push((a.to_string(), b.to_string(), label(line)));
            } else if lhs.starts_with('n') && lhs[1..].chars().all(|c| c.is_ascii_digit()) {
                nodes.insert(lhs.to_string(), DotNode { label: label(line) });
            }
        }
    }
    (nodes, edges)
}

/// The value in a node label: the number after "= " on the value line.
fn node_value(label: &str) -> f64 {
    let value_part = label
        .split("\\n")
        .find(|p| p.contains("= ") && !p.starts_with('∂'))
        .unwrap();
    value_part.rsplit("= ").next().unwrap().parse().unwrap()
}

fn op_of(label: &str) -> &str {
    label.split("\\n").next().unwrap()
}

/// The operation of a node, implemented here independently of the library.
fn apply(op: &str, args: &[f64]) -> f64 {
    match op {
        "add" => args[0] + args[1],
        "sub" => args[0] - args[1],
        "mul" => args[0] * args[1],
        "div" => args[0] / args[1],
        "neg" => -args[0],
        "sin" => args[0].sin(),
        "exp" => args[0].exp(),
        _ if op.starts_with("powf (^") => {
            let p: f64 = op
                .trim_start_matches("powf (^")
                .trim_end_matches(')')
                .parse()
                .unwrap();
            args[0].powf(p)
        }
        other => panic!("no reference implementation for {other}"),
    }
}

#[test]
fn graph_of_an_expression_has_values_gradients_and_finite_difference_edges() {
    let out = tmp("g.dot");
    let text = ok(
        "graph {} --at x=1,y=2,z=3 --out {}",
        &[
            "x^2*y + x*y*z + z^2 + sin(x)/exp(y) - z",
            out.to_str().unwrap(),
        ],
    );
    assert!(text.contains("DOT"));
    let dot = std::fs::read_to_string(&out).unwrap();
    assert!(dot.starts_with("digraph"));
    let (nodes, edges) = parse_dot(&dot);
    let leaves: BTreeMap<&str, &DotNode> = nodes
        .values()
        .filter_map(|n| {
            n.label
                .split(" = ")
                .next()
                .filter(|h| ["x", "y", "z"].contains(h))
                .map(|h| (h, n))
        })
        .collect();
    assert_eq!(leaves.len(), 3);
    // f = 2 + 6 + 9 + sin(1)/e² − 3; ∂x = 2xy + yz + cos(1)/e² = 10 + cos 1/e², ∂y = x² + xz −
    // sin(1)/e² = 4 − sin 1/e², ∂z = xy + 2z − 1 = 7 (from the leaves' ∂f/∂· lines).
    let grad_of = |n: &DotNode| -> f64 {
        n.label
            .split("\\n")
            .find(|p| p.starts_with("∂f/∂·"))
            .unwrap()
            .rsplit("= ")
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let e2 = 2f64.exp();
    for (name, expected) in [
        ("x", 10.0 + 1f64.cos() / e2),
        ("y", 4.0 - 1f64.sin() / e2),
        ("z", 7.0),
    ] {
        let got = grad_of(leaves[name]);
        assert!(
            (got - expected).abs() < 1e-5 * (1.0 + expected.abs()),
            "∂f/∂{name}: {got} vs {expected}"
        );
    }
    let f_expected = 17.0 - 3.0 + 1f64.sin() / e2;
    let sink: Vec<&str> = nodes
        .keys()
        .filter(|id| !edges.iter().any(|(a, _, _)| a == *id))
        .map(|s| s.as_str())
        .collect();
    assert_eq!(sink.len(), 1);
    let f_got = node_value(&nodes[sink[0]].label);
    assert!((f_got - f_expected).abs() < 1e-5, "{f_got} vs {f_expected}");

    // Every edge's local derivative, against a central difference of the node's operation.
    let mut checked = 0;
    for (id, node) in &nodes {
        let incoming: Vec<&DotEdge> = edges.iter().filter(|(_, b, _)| b == id).collect();
        if incoming.is_empty() {
            continue;
        }
        let args: Vec<f64> = incoming
            .iter()
            .map(|(a, _, _)| node_value(&nodes[a].label))
            .collect();
        let op = op_of(&node.label);
        assert!(
            (apply(op, &args) - node_value(&node.label)).abs()
                < 1e-5 * (1.0 + args.iter().map(|a| a.abs()).sum::<f64>()),
            "{op} value"
        );
        for (k, (_, _, label)) in incoming.iter().enumerate() {
            assert!(label.starts_with(&format!("∂/∂in{}: ", k + 1)), "{label}");
            let local: f64 = label.rsplit(": ").next().unwrap().parse().unwrap();
            let h = 1e-6;
            let mut plus = args.clone();
            let mut minus = args.clone();
            plus[k] += h;
            minus[k] -= h;
            let fd = (apply(op, &plus) - apply(op, &minus)) / (2.0 * h);
            assert!(
                (local - fd).abs() < 1e-5 * (1.0 + fd.abs()),
                "{op} input {k}: {local} vs {fd}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} edges");
}

#[test]
fn graph_of_a_model_and_svg_rendering() {
    let (model, csv) = model_fixture("graph", vec![4], "cross_entropy");
    let out = tmp("net.dot");
    ok(
        "graph --model {} --data {} --row 3 --out {}",
        &[
            model.to_str().unwrap(),
            csv.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let dot = std::fs::read_to_string(&out).unwrap();
    for needle in [
        "linear",
        "0.weight",
        "2.bias",
        "sigmoid",
        "cross_entropy",
        "shape [4, 3]",
    ] {
        assert!(dot.contains(needle), "{needle} missing from\n{dot}");
    }
    let svg_out = tmp("g.svg");
    let run = nabla_cmd(
        "graph x*y --at x=2,y=3 --out {}",
        &[svg_out.to_str().unwrap()],
    );
    let has_dot = Command::new("dot").arg("-V").output().is_ok();
    if has_dot {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let svg = std::fs::read_to_string(&svg_out).unwrap();
        assert!(svg.contains("<svg") && svg.contains("mul"));
    } else {
        assert_eq!(run.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&run.stderr).contains("apt-get install graphviz"));
    }
}

// ------------------------------------------------------------------ plots

/// Decodes a PNG: (width, height, number of distinct colours).
fn png_facts(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let colours: HashSet<&[u8]> = buf[..info.buffer_size()].chunks(step).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn plot_activations_png_and_svg() {
    let png_path = tmp("act.png");
    ok(
        "plot activations --out {} --width 640 --height 480",
        &[png_path.to_str().unwrap()],
    );
    let (w, h, colours) = png_facts(&png_path);
    assert_eq!((w, h), (640, 480));
    assert!(colours > 20, "blank picture ({colours} colours)");
    let svg_path = tmp("act.svg");
    ok("plot activations --out {}", &[svg_path.to_str().unwrap()]);
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("width=\"1000\"") && svg.contains("height=\"800\"")
    );
    for text in ["sigmoid", "tanh", "ReLU", "leaky ReLU", "σ′(0) = 0.25"] {
        assert!(svg.contains(text), "{text} missing");
    }
}

#[test]
fn plot_fn_marks_stationary_points_and_descent() {
    let svg_path = tmp("f.svg");
    let text = ok(
        "plot fn x*(x-1)*(x-2)*(x-3) --in -0.5..3.5 --descent-from x=1.25 --lr 0.05 --out {}",
        &[svg_path.to_str().unwrap()],
    );
    // f′ = 4x³ − 18x² + 22x − 6 = 2(2x − 3)(x² − 3x + 1): stationary at 1.5 and (3 ± √5)/2.
    let low = (3.0 - 5f64.sqrt()) / 2.0;
    assert!(text.contains("3 stationary point(s)"), "{text}");
    assert!(
        text.contains(&format!("x = {low:.6}")),
        "descent ends at the left minimum: {text}"
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for needle in [
        "<svg",
        "minimum (0.382, -1.000)",
        "maximum (1.500, 0.562)",
        "minimum (2.618, -1.000)",
        "gradient descent, lr = 0.05",
        "f′(x)",
    ] {
        assert!(svg.contains(needle), "{needle} missing");
    }
    let png_path = tmp("f.png");
    ok(
        "plot fn sin(x) --in 0..6 --out {}",
        &[png_path.to_str().unwrap()],
    );
    let (w, h, colours) = png_facts(&png_path);
    assert_eq!((w, h), (1000, 800));
    assert!(colours > 20);
    let out = nabla_cmd(
        "plot fn x*y --in 0..1 --out {}",
        &[png_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = nabla_cmd("plot fn x --in 0..1 --out f.jpg", &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn plot_history_from_csv() {
    let csv = tmp("history.csv");
    let mut rows = String::from("epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,grad_norm:0.weight,grad_norm:2.weight\n");
    for e in 1..=20 {
        let t = e as f64;
        rows.push_str(&format!(
            "{e},0.01,{},{},{},{},{},{}\n",
            1.0 / t,
            1.0 - 0.5 / t,
            1.2 / t + 0.02,
            0.9 - 0.5 / t,
            0.5 * (-t / 5.0).exp(),
            0.05 / t
        ));
    }
    std::fs::write(&csv, rows).unwrap();
    let png_path = tmp("curves.png");
    let text = ok(
        "plot history {} --out {}",
        &[csv.to_str().unwrap(), png_path.to_str().unwrap()],
    );
    assert!(text.contains("20 epochs"));
    let (w, h, colours) = png_facts(&png_path);
    assert_eq!((w, h), (1000, 1100));
    assert!(colours > 20);
    let svg_path = tmp("curves.svg");
    ok(
        "plot history {} --out {}",
        &[csv.to_str().unwrap(), svg_path.to_str().unwrap()],
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for needle in [
        "Loss per epoch",
        "Accuracy per epoch",
        "Gradient norm per parameter (log scale)",
        "validation loss",
        "0.weight",
        "2.weight",
    ] {
        assert!(svg.contains(needle), "{needle} missing");
    }
    std::fs::write(&csv, "epoch,train_loss\n1,abc\n").unwrap();
    let out = nabla_cmd(
        "plot history {} --out {}",
        &[csv.to_str().unwrap(), png_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2, column 2"));
}
