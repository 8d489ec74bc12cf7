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

/// Saves `net` through the library as a classifier of `classes` over the named features (the
/// target column named `target`), standardised with `standardization`, at `tag.safetensors`.
fn save_classifier(
    tag: &str,
    net: &nabla::nn::Sequential,
    loss: nabla::loss::Loss,
    (classes, feature_names, target): (&[&str], Vec<String>, &str),
    standardization: nabla::data::Standardizer,
    source: &str,
) -> PathBuf {
    use nabla::io::{save_model, ModelMeta, FORMAT_VERSION};
    let meta = ModelMeta {
        format_version: FORMAT_VERSION,
        input_shape: vec![],
        layers: vec![],
        architecture: None,
        task: nabla::data::Task::Classify,
        loss,
        class_labels: classes.iter().map(|c| c.to_string()).collect(),
        feature_names,
        target: Some(target.into()),
        standardization: Some(standardization),
        target_standardization: None,
        data_source: source.into(),
        training: Value::Null,
    };
    let model = tmp(&format!("{tag}.safetensors"));
    save_model(&model, net, &meta, &BTreeMap::new()).unwrap();
    model
}

/// Writes a small classification CSV and a model with the given hidden widths, saved through the
/// library, with a standardisation so that the explained row must be standardised.
fn model_fixture(tag: &str, hidden: Vec<usize>, loss: &str) -> (PathBuf, PathBuf) {
    use nabla::data::Standardizer;
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
    let classes: &[&str] = if loss == "bce" {
        &["a", "b"]
    } else {
        &["a", "b", "c"]
    };
    let standardization = Standardizer {
        mean: vec![0.5, 0.1, 2.0],
        std: vec![2.0, 0.7, 3.0],
    };
    let model = save_classifier(
        tag,
        &net,
        Loss::from_name(loss).unwrap(),
        (
            classes,
            ["f1", "f2", "f3"].map(String::from).to_vec(),
            "label",
        ),
        standardization,
        &csv.display().to_string(),
    );
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

/// The text of the SVG at `path`, after checking that it holds each of `needles`.
fn svg_containing(path: &Path, needles: &[&str]) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    for needle in std::iter::once(&"<svg").chain(needles) {
        assert!(
            svg.contains(needle),
            "{needle} missing from {}",
            path.display()
        );
    }
    svg
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
    svg_containing(
        &svg_path,
        &[
            "width=\"1000\"",
            "height=\"800\"",
            "sigmoid",
            "tanh",
            "ReLU",
            "leaky ReLU",
            "σ′(0) = 0.25",
        ],
    );
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
    svg_containing(
        &svg_path,
        &[
            "minimum (0.382, -1.000)",
            "maximum (1.500, 0.562)",
            "minimum (2.618, -1.000)",
            "gradient descent, lr = 0.05",
            "f′(x)",
        ],
    );
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
    svg_containing(
        &svg_path,
        &[
            "Loss per epoch",
            "Accuracy per epoch",
            "Gradient norm per parameter (log scale)",
            "validation loss",
            "0.weight",
            "2.weight",
        ],
    );
    std::fs::write(&csv, "epoch,train_loss\n1,abc\n").unwrap();
    let out = nabla_cmd(
        "plot history {} --out {}",
        &[csv.to_str().unwrap(), png_path.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2, column 2"));
}

// ------------------------------------------------------------------ convolutional pictures

/// A CNN for `input` ([c, h, w]) with 3×3 convolutions of `channels` (padding 1, ReLU after
/// each, 2×2 max pooling after the first when there are two; the first one's last channel
/// dead), then flatten and linear(10), saved as a digits classifier with a per-pixel standardisation; returns the path and the
/// network.
fn cnn_fixture(
    tag: &str,
    input: [usize; 3],
    channels: &[usize],
) -> (PathBuf, nabla::nn::Sequential) {
    use nabla::data::Standardizer;
    use nabla::loss::Loss;
    use nabla::nn::{Activation, LayerSpec, Sequential};
    let conv = |in_channels, out_channels| LayerSpec::Conv2d {
        in_channels,
        out_channels,
        kernel: [3, 3],
        stride: [1, 1],
        padding: [1, 1],
        bias: true,
    };
    let relu = LayerSpec::Activation {
        activation: Activation::Relu,
    };
    let mut specs = vec![conv(input[0], channels[0]), relu.clone()];
    let mut side = input[1];
    for pair in channels.windows(2) {
        specs.push(LayerSpec::MaxPool2d {
            kernel: [2, 2],
            stride: [2, 2],
        });
        side /= 2;
        specs.extend([conv(pair[0], pair[1]), relu.clone()]);
    }
    specs.extend([
        LayerSpec::Flatten,
        LayerSpec::Linear {
            in_features: channels[channels.len() - 1] * side * side,
            out_features: 10,
        },
    ]);
    let net = Sequential::from_specs(&input, &specs, None, 5).unwrap();
    // The first convolution's last channel is dead: with a bias of −1000 the ReLU after it
    // outputs 0 everywhere.
    net.named_parameters()[1].1.value_mut().data_mut()[channels[0] - 1] = -1000.0;
    let n: usize = input.iter().product();
    let digits: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let digits: Vec<&str> = digits.iter().map(String::as_str).collect();
    let pixels = (0..n).map(|j| format!("p{j}")).collect();
    let standardization = Standardizer {
        mean: (0..n).map(|j| (j % 7) as f32).collect(),
        std: (0..n).map(|j| 1.0 + (j % 3) as f32).collect(),
    };
    let path = save_classifier(
        tag,
        &net,
        Loss::CrossEntropy,
        (&digits, pixels, "target"),
        standardization,
        "builtin:digits",
    );
    (path, net)
}

/// The `fill` colours of an SVG's filled `<rect>`s in order (the first is the background), and
/// the number of frames (`fill="none"` rects).
fn svg_rects(svg: &str) -> (Vec<[u8; 3]>, usize) {
    let mut filled = vec![];
    let mut frames = 0;
    for rect in svg.split("<rect").skip(1) {
        let fill = rect
            .split("fill=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        if fill == "none" {
            frames += 1;
        } else {
            let hex = |i: usize| u8::from_str_radix(&fill[1 + 2 * i..3 + 2 * i], 16).unwrap();
            filled.push([hex(0), hex(1), hex(2)]);
        }
    }
    (filled, frames)
}

/// The grey (0–255) a value gets on a tile's own scale, black at its minimum, white at its maximum.
fn own_grey(values: &[f32]) -> Vec<i32> {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    values
        .iter()
        .map(|v| ((v - lo) / (hi - lo) * 255.0).round() as i32)
        .collect()
}

/// The one error line and exit code of a command that must fail.
fn failure(line: &str, values: &[&str]) -> (Option<i32>, String) {
    let out = nabla_cmd(line, values);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{line}: one line expected:\n{err}");
    (out.status.code(), err)
}

#[test]
fn plot_filters_draws_one_tile_per_output_channel_on_a_shared_scale() {
    let (model, net) = cnn_fixture("filters", [2, 6, 6], &[5]);
    let m = model.to_str().unwrap();
    let svg_path = tmp("filters.svg");
    let text = ok(
        "plot filters --model {} --out {}",
        &[m, svg_path.to_str().unwrap()],
    );
    let title = "Filters of layer 0: conv2d(2 → 5, kernel 3×3, stride 1×1, padding 1×1), weight [5, 2, 3, 3]";
    assert!(text.contains(title), "{text}");
    let svg = svg_containing(
        &svg_path,
        &[
            title,
            "5 filters of 3×3, each the mean over 2 input channels",
        ],
    );
    let (filled, frames) = svg_rects(&svg);
    assert_eq!(frames, 5, "one framed tile per output channel");
    assert_eq!(
        filled.len(),
        1 + 5 * 9,
        "background and 9 pixels per filter"
    );
    // Each pixel: the mean over the 2 input channels; red where it is positive, blue where
    // negative, and the largest |mean| fully saturated.
    let weight = net.named_parameters()[0].1.value().clone();
    let means: Vec<f32> = weight
        .data()
        .chunks(18)
        .flat_map(|f| (0..9).map(move |p| (f[p] + f[9 + p]) / 2.0))
        .collect();
    let largest = means.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(
        svg.contains(&format!("blue = −{largest:.3}")),
        "the scale is named"
    );
    for (k, (&v, c)) in means.iter().zip(&filled[1..]).enumerate() {
        let (red, blue) = (c[0] as i32, c[2] as i32);
        assert_eq!(v > 0.0, red > blue, "pixel {k}: {v} drawn as {c:?}");
        if v.abs() == largest {
            assert!(*c == [213, 94, 0] || *c == [0, 114, 178], "{c:?}");
        }
    }
    let png_path = tmp("filters.png");
    ok(
        "plot filters --model {} --out {} --width 500 --height 300",
        &[m, png_path.to_str().unwrap()],
    );
    let (w, h, colours) = png_facts(&png_path);
    assert_eq!((w, h), (500, 300));
    assert!(colours > 20, "blank picture ({colours} colours)");
}

#[test]
fn plot_feature_maps_draws_the_input_and_every_conv_layer_of_one_row() {
    use nabla::data::{load_source, LoadOptions};
    use nabla::nn::Workspace;
    let (model, net) = cnn_fixture("fmaps", [1, 8, 8], &[4, 6]);
    let m = model.to_str().unwrap();
    let svg_path = tmp("fmaps.svg");
    let text = ok(
        "plot feature-maps --model {} --data builtin:digits --row 7 --out {}",
        &[m, svg_path.to_str().unwrap()],
    );
    assert!(
        text.contains("2 conv layer(s): layer 1 4×8×8, layer 4 6×4×4"),
        "{text}"
    );
    let svg = svg_containing(
        &svg_path,
        &[
            "Feature maps of row 7 of builtin:digits",
            "input 1×8×8",
            "layer 1: relu after layer 0, conv2d(1 → 4, kernel 3×3, stride 1×1, padding 1×1) — 4 channels of 8×8",
            "layer 4: relu after layer 3, conv2d(4 → 6, kernel 3×3, stride 1×1, padding 1×1) — 6 channels of 4×4",
        ],
    );
    let (filled, frames) = svg_rects(&svg);
    assert_eq!(
        frames,
        1 + 4 + 6,
        "one framed tile for the input and per channel"
    );
    assert_eq!(filled.len(), 1 + 64 + 4 * 64 + 6 * 16);
    // The input tile is row 7 standardised with the model's statistics, and the first channel
    // of layer 1 is that row through conv → ReLU, each on its own grey scale.
    let (_, meta, _) = nabla::io::load_model(&model).unwrap();
    let opts = LoadOptions {
        target: Some("target".into()),
        ..LoadOptions::default()
    };
    let mut ds = load_source("builtin:digits", &opts).unwrap().train;
    meta.standardization.unwrap().apply(&mut ds).unwrap();
    let mut x = vec![0f32; 64];
    ds.fill_batch(&[7], &mut x).unwrap();
    let mut ws = Workspace::keeping_every_output(&net, 1).unwrap();
    let mut net = net;
    net.set_training(false);
    net.forward_batch(&mut ws, &x, 1).unwrap();
    let channel0 = &ws.layer_output(1)[..64];
    assert!(channel0.iter().all(|&v| v >= 0.0), "after the ReLU");
    for (tile, want) in [
        (&filled[1..65], own_grey(&x)),
        (&filled[65..129], own_grey(channel0)),
    ] {
        for (k, (c, g)) in tile.iter().zip(want).enumerate() {
            assert!(c[0] == c[1] && c[1] == c[2], "grey");
            assert!((c[0] as i32 - g).abs() <= 1, "pixel {k}: {} vs {g}", c[0]);
        }
    }
    // The dead channel (3 of layer 1) is flat: mid-grey, its value beside its number.
    assert!(svg.contains("\n3 = 0\n"), "the flat channel's label");
    assert!(filled[65 + 3 * 64..65 + 4 * 64]
        .iter()
        .all(|c| *c == [128, 128, 128]));
    let png_path = tmp("fmaps.png");
    ok(
        "plot feature-maps --model {} --data builtin:digits --row 0 --out {}",
        &[m, png_path.to_str().unwrap()],
    );
    let (w, h, colours) = png_facts(&png_path);
    assert_eq!((w, h), (1000, 60 + 280 * 3));
    assert!(colours > 20, "blank picture ({colours} colours)");
}

#[test]
fn conv_pictures_explain_themselves_and_reject_models_and_rows_they_cannot_draw() {
    for (what, needles) in [
        ("filters", ["mean of the filter", "diverging colour scale"]),
        ("feature-maps", ["activation right after it", "own grey"]),
    ] {
        let help = ok("plot {} --help", &[what]);
        for needle in needles {
            assert!(
                help.contains(needle),
                "{what} --help: {needle} missing:\n{help}"
            );
        }
    }
    let (mlp, csv) = model_fixture("noconv", vec![4], "cross_entropy");
    let (mlp, csv) = (mlp.to_str().unwrap(), csv.to_str().unwrap());
    let out = tmp("never.png");
    let out = out.to_str().unwrap();
    let (code, err) = failure("plot filters --model {} --out {}", &[mlp, out]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err.trim(),
        "error: plot filters: the model has no conv2d layer; its layers are: linear, sigmoid, linear"
    );
    let (code, err) = failure(
        "plot feature-maps --model {} --data {} --row 0 --out {}",
        &[mlp, csv, out],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("plot feature-maps: the model has no conv2d layer"),
        "{err}"
    );
    let (cnn, _) = cnn_fixture("rows", [1, 8, 8], &[2]);
    let cnn = cnn.to_str().unwrap();
    let (code, err) = failure(
        "plot feature-maps --model {} --data builtin:digits --row 1797 --out {}",
        &[cnn, out],
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--row 1797: builtin:digits has 1797 rows (0 to 1796)"),
        "{err}"
    );
    let (code, err) = failure(
        "plot feature-maps --model {} --data builtin:iris --row 0 --out {}",
        &[cnn, out],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("but the model expects 64"), "{err}");
    assert!(!Path::new(out).exists(), "no picture on failure");
}
