//! `nabla train --arch`: convolutional (and any layer-list) networks from the command line,
//! and what predict, eval, inspect, explain, graph and --resume make of them.

mod common;

use std::path::{Path, PathBuf};

use common::{json_of, nabla, ok, s, stderr, stdout, tmpdir};

/// A tiny CNN for the 8×8 digits (410 parameters).
const TINY: &str = "conv2d(4,3), relu, maxpool2d(2), flatten, linear";

/// Train `arch` on `data` for two epochs into `out` (extra flags after), quietly; the JSON.
fn train(arch: &str, data: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "train", "--arch", arch, "--data", data, "--epochs", "2", "--quiet", "--json", "--out",
    ];
    args.push(s(out));
    args.extend(extra);
    json_of(&nabla(&args))
}

/// `text` has `line` as one of its lines.
fn assert_has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in\n{text}"
    );
}

/// The one line a refused command printed (exit code 2, no panic).
fn refused(args: &[&str]) -> String {
    let o = nabla(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: {err}");
    lines[0].to_string()
}

#[test]
fn a_tiny_cnn_trains_on_digits_and_predicts_evaluates_and_inspects() {
    let d = tmpdir("arch-digits");
    let model = d.join("cnn.safetensors");
    let v = train(TINY, "builtin:digits", &model, &[]);
    assert_eq!(v["epochs_run"], 2);
    assert!(v["test"]["accuracy"].as_f64().unwrap() > 0.1, "{v}");

    let p = stdout(ok(&nabla(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        "builtin:digits",
        "--proba",
    ])));
    assert_eq!(p.lines().count(), 1 + 1797);
    assert!(p.starts_with("prediction,p_0,"), "{p}");
    let e = json_of(&nabla(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        "builtin:digits",
        "--json",
    ]));
    assert!(e["accuracy"].as_f64().unwrap() > 0.1, "{e}");

    let text = stdout(ok(&nabla(&["inspect", s(&model)])));
    for line in [
        "architecture: 1×8×8 → conv2d(1 → 4, kernel 3×3, stride 1×1, padding 0×0) relu → \
         maxpool2d(2×2, stride 2×2) → flatten → 10",
        "  index  layer                                               output shape  parameters",
        "         input                                               1×8×8",
        "      0  Conv2d(1 → 4, kernel 3×3, stride 1×1, padding 0×0)  4×6×6                 40",
        "      1  ReLU                                                4×6×6                  0",
        "      2  MaxPool2d(2×2, stride 2×2)                          4×3×3                  0",
        "      3  Flatten                                             36                     0",
        "      4  Linear(36 → 10)                                     10                   370",
        "         total                                                                    410",
        "parameters: 410",
        "features: 64 — p0, p1, p2, p3, p4, p5, p6, p7, …",
    ] {
        assert_has_line(&text, line);
    }
    let ins = json_of(&nabla(&["inspect", s(&model), "--json"]));
    assert_eq!(ins["input_shape"], serde_json::json!([1, 8, 8]));
    assert_eq!(ins["parameters"], 410);
    let shapes: Vec<&serde_json::Value> = ins["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["output_shape"])
        .collect();
    assert_eq!(
        serde_json::json!(shapes),
        serde_json::json!([[4, 6, 6], [4, 6, 6], [4, 3, 3], [36], [10]])
    );
    assert_eq!(ins["layers"][0]["kind"], "conv2d");
    assert_eq!(ins["layers"][0]["parameters"], 40);
    assert_eq!(ins["layers"][4]["in"], 36);

    // graph draws the CNN one node per layer; explain says in one line that it takes MLPs.
    let dot = d.join("g.dot");
    let row = [
        "--model",
        s(&model),
        "--data",
        "builtin:digits",
        "--row",
        "3",
    ];
    let mut graph = vec!["graph", "--out", s(&dot)];
    graph.extend(row);
    ok(&nabla(&graph));
    let dot = std::fs::read_to_string(&dot).unwrap();
    assert!(
        dot.contains("conv2d (z0)") && dot.contains("maxpool2d"),
        "{dot}"
    );
    let mut explain = vec!["explain", "--param", "0.weight[0,0]"];
    explain.extend(row);
    let o = nabla(&explain);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("layer 0 is conv2d") && err.contains("explain supports Linear → activation"),
        "{err}"
    );
}

#[test]
fn bad_specs_are_refused_in_one_line_naming_the_layer() {
    let d = tmpdir("arch-bad");
    let out = d.join("never.safetensors");
    for (arch, want) in [
        (
            "relu, linear(4), conv2d(64)",
            "error: --arch: layer 3 'conv2d(64)': conv2d takes (OUT, K[, stride=S][, padding=P][, bias=false])",
        ),
        (
            "conv2d(4,3), bogus(2)",
            "error: --arch: layer 2 'bogus(2)': unknown layer 'bogus'; the layers are conv2d, \
             maxpool2d, avgpool2d, batchnorm, flatten, linear, relu, leaky_relu, tanh, sigmoid, \
             dropout",
        ),
        (
            "conv2d(4, 3x), flatten, linear",
            "error: --arch: layer 1 'conv2d(4, 3x)': K '3x' is not a size: expected a whole \
             number of at least 1, or HxW (e.g. 3 or 3x5)",
        ),
        (
            "conv2d(4,3",
            "error: --arch: layer 1 'conv2d(4,3': missing ')'",
        ),
        (
            "conv2d(4,3), dropout(1.5), flatten, linear",
            "error: --arch: layer 2 'dropout(1.5)': invalid dropout: 1.5 is outside [0, 1)",
        ),
        (
            "conv2d(64,3), relu, maxpool2d(2), maxpool2d(2), maxpool2d(2), flatten, linear",
            "error: --arch: layer 5 'maxpool2d(2)': input 64×1×1 is smaller than the 2×2 window",
        ),
        (
            "flatten, conv2d(4,3), linear",
            "error: --arch: layer 2 'conv2d(4,3)': input 64 is not a channels×height×width map, \
             which conv2d needs (it comes after 'flatten')",
        ),
        (
            "conv2d(4,3), relu, linear",
            "error: --arch: layer 3 'linear': input 4×6×6 is a map, but linear takes flat rows: \
             add flatten before it",
        ),
        (
            "conv2d(4,3), flatten, linear, relu, linear",
            "error: --arch: layer 3 'linear': only the last linear may leave out OUT (the task \
             sets it); write linear(OUT)",
        ),
        (
            "conv2d(10,8)",
            "error: --arch: layer 1 'conv2d(10,8)': the network's output is 10×1×1, but the \
             task needs 10 outputs: end with flatten, linear",
        ),
        (
            " ",
            "error: --arch: invalid architecture: no layers (expected e.g. \"conv2d(32, 3), \
             relu, flatten, linear\")",
        ),
    ] {
        let args = ["train", "--arch", arch, "--epochs", "1", "--out", s(&out)];
        assert_eq!(refused(&args), want, "{arch}");
    }
    // A 2-D layer on the flat rows of a table points to --input-shape.
    let line = refused(&[
        "train",
        "--arch",
        TINY,
        "--data",
        "builtin:iris",
        "--out",
        s(&out),
    ]);
    assert_eq!(
        line,
        "error: --arch: layer 1 'conv2d(4,3)': input 4 is not a channels×height×width map, \
         which conv2d needs (the input rows are 1-D; give them an image shape) — for pixel \
         columns: --input-shape C,H,W"
    );
    assert!(!out.exists());
}

#[test]
fn arch_excludes_the_mlp_flags_and_input_shape_must_fit_the_features() {
    let d = tmpdir("arch-flags");
    let out = d.join("never.safetensors");
    for mlp_flag in [
        ["--hidden", "8"],
        ["--activation", "tanh"],
        ["--dropout", "0.1"],
    ] {
        let mut args = vec!["train", "--arch", TINY, "--out", s(&out)];
        args.extend(mlp_flag);
        let o = nabla(&args);
        assert_eq!(o.status.code(), Some(2), "{mlp_flag:?}");
        assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    }
    let o = nabla(&["train", "--input-shape", "1,8,8", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--arch"), "{}", stderr(&o));

    let arch = ["train", "--arch", TINY, "--out", s(&out), "--input-shape"];
    let with_shape = |shape: &'static str, data: &'static str| {
        let mut a = arch.to_vec();
        a.extend([shape, "--data", data]);
        refused(&a)
    };
    assert_eq!(
        with_shape("1,2,3", "builtin:iris"),
        "error: --input-shape 1,2,3: 1×2×3 is 6 values per row, but builtin:iris has 4 features"
    );
    assert_eq!(
        with_shape("1,28,28", "builtin:digits"),
        "error: --input-shape 1,28,28: 1×28×28 is 784 values per row, but builtin:digits has 64 \
         features"
    );
    assert_eq!(
        with_shape("8,8", "builtin:digits"),
        "error: --input-shape 8,8: expected C,H,W, three whole numbers of at least 1 (e.g. \
         1,28,28)"
    );
    assert!(!out.exists());
}

/// `rows` random 3×4 two-channel images in CSV columns `c0..c23`, labelled by which channel
/// is brighter, with a header.
fn two_channel_csv(path: &Path, rows: usize) {
    let mut text: Vec<String> = (0..24).map(|i| format!("c{i}")).collect();
    text.push("label".into());
    let mut lines = vec![text.join(",")];
    let mut state = 11u64;
    for r in 0..rows {
        let bright = r % 2;
        let mut cells: Vec<String> = (0..24)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                let noise = (state >> 40) as f64 / (1u64 << 24) as f64;
                let channel = i / 12;
                let v = noise + if channel == bright { 1.0 } else { 0.0 };
                format!("{v:.4}")
            })
            .collect();
        cells.push(["dim_first", "bright_first"][1 - bright].into());
        lines.push(cells.join(","));
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_csv_of_pixel_columns_takes_its_shape_from_input_shape() {
    let d = tmpdir("arch-csv");
    let csv = d.join("two.csv");
    two_channel_csv(&csv, 60);
    let model = d.join("m.safetensors");
    let arch = "conv2d(3, 2x3, padding=1), batchnorm, leaky_relu(0.1), avgpool2d(2), flatten, \
                dropout(0.1), linear";
    train(arch, s(&csv), &model, &["--input-shape", "2,3,4"]);
    let text = stdout(ok(&nabla(&["inspect", s(&model)])));
    assert!(
        text.lines()
            .any(|l| l.starts_with("         input  ") && l.ends_with("  2×3×4")),
        "{text}"
    );
    for needle in [
        "Conv2d(2 → 3, kernel 2×3, stride 1×1, padding 1×1)",
        "BatchNorm2d(3)",
        "LeakyReLU(0.1)",
        "AvgPool2d(2×2, stride 2×2)",
        "Dropout(0.1)",
        "Linear(12 → 1)",
        "classes (2): bright_first, dim_first",
    ] {
        assert!(text.contains(needle), "no {needle:?} in\n{text}");
    }
    let p = stdout(ok(&nabla(&[
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&csv),
    ])));
    assert_eq!(p.lines().count(), 61);
}

/// A folder with MNIST-format files of `count` 6×5 images (train and t10k).
fn tiny_mnist(dir: &Path, count: u32) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for part in ["train", "t10k"] {
        let mut images = vec![];
        for w in [0x803u32, count, 6, 5] {
            images.extend_from_slice(&w.to_be_bytes());
        }
        let mut labels = vec![];
        for w in [0x801u32, count] {
            labels.extend_from_slice(&w.to_be_bytes());
        }
        for i in 0..count {
            let label = (i % 3) as u8;
            // The label's row band is bright.
            images.extend((0..30).map(|p| if p / 10 == label as u32 { 250 } else { 5 }));
            labels.push(label);
        }
        std::fs::write(dir.join(format!("{part}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{part}-labels-idx1-ubyte")), labels).unwrap();
    }
    dir.to_path_buf()
}

#[test]
fn mnist_folders_give_each_row_its_image_shape_and_resume_continues_a_cnn() {
    let d = tmpdir("arch-mnist");
    let dir = tiny_mnist(&d.join("mnist"), 30);
    let source = format!("mnist:{}", dir.display());
    let model = d.join("m.safetensors");
    let arch = "conv2d(2, 3, padding=1), relu, maxpool2d(2, stride=1), flatten, linear(5), \
                tanh, linear";
    train(arch, &source, &model, &["--init", "torch"]);
    let ins = json_of(&nabla(&["inspect", s(&model), "--json"]));
    assert_eq!(ins["input_shape"], serde_json::json!([1, 6, 5]));
    assert_eq!(
        ins["layers"][2]["output_shape"],
        serde_json::json!([2, 5, 4])
    );
    // Images are not standardised (pixels / 255), as for an MLP.
    assert_eq!(ins["standardization"], serde_json::Value::Null);
    let (net, _, _) = nabla::io::load_model(&model).unwrap();
    assert_eq!(net.input_shape(), [1, 6, 5]);
    let e = json_of(&nabla(&[
        "eval",
        "--model",
        s(&model),
        "--data",
        &source,
        "--json",
    ]));
    assert!(e["accuracy"].is_number(), "{e}");

    // An MLP on the same folder still takes flat rows.
    let mlp = d.join("mlp.safetensors");
    let flags = [
        "--hidden", "4", "--data", &source, "--epochs", "1", "--quiet",
    ];
    let mut args = vec!["train", "--out", s(&mlp)];
    args.extend(flags);
    ok(&nabla(&args));
    let ins = json_of(&nabla(&["inspect", s(&mlp), "--json"]));
    assert_eq!(ins["input_shape"], serde_json::json!([30]));

    // Interrupted after epoch 1 and resumed: the same weights as the uninterrupted run.
    let part = d.join("part.safetensors");
    let o = nabla(&[
        "train",
        "--arch",
        arch,
        "--data",
        &source,
        "--init",
        "torch",
        "--epochs",
        "2",
        "--quiet",
        "--out",
        s(&part),
        "--checkpoint-every",
        "1",
        "--stop-after",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    ok(&nabla(&["train", "--resume", s(&part), "--quiet"]));
    let (resumed, _, _) = nabla::io::load_model(&part).unwrap();
    assert_eq!(resumed.state_dict(), net.state_dict());
}

#[test]
fn torch_init_gives_conv_layers_kaiming_uniform_with_a_sqrt5() {
    let d = tmpdir("arch-init");
    let arch = "conv2d(16, 3), relu, flatten, linear";
    let untrained = d.join("untrained.safetensors");
    // Two steps at a tiny learning rate: the weights are still the initial draw (to 1e-8).
    let args = ["--init", "torch", "--lr", "1e-9", "--batch-size", "2000"];
    train(arch, "builtin:digits", &untrained, &args);
    let (net, _, _) = nabla::io::load_model(&untrained).unwrap();
    let state = net.state_dict();
    let bound = 1.0 / 3.0; // 1/√(in·kh·kw) = 1/√9
    for name in ["0.weight", "0.bias"] {
        let (_, t) = state.iter().find(|(n, _)| n == name).unwrap();
        let max = t.data().iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(
            max <= bound + 1e-6 && max > 0.5 * bound,
            "{name}: max |w| {max}"
        );
    }
}

#[test]
fn gradcheck_takes_an_arch_too() {
    let text = stdout(ok(&nabla(&[
        "gradcheck",
        "--arch",
        "conv2d(2,3,stride=2), tanh, avgpool2d(1x2), flatten, linear",
        "--rows",
        "3",
    ])));
    assert!(
        text.contains("0.weight") && text.contains("ok: every error"),
        "{text}"
    );
}

#[test]
fn the_readme_network_and_its_inspect_table_are_what_the_binary_gives() {
    let section = common::readme_section("cnn");
    let arch = section
        .split("$ nabla train --arch \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(
        arch.starts_with("conv2d(32,3), relu, conv2d(64,3)"),
        "{arch}"
    );
    let d = tmpdir("arch-readme");
    let model = d.join("cnn.safetensors");
    train(arch, "builtin:digits", &model, &[]);
    let text = stdout(ok(&nabla(&["inspect", s(&model)])));
    let table = section
        .split("$ nabla inspect cnn.safetensors")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in table {
        assert_has_line(&text, line);
    }
}
