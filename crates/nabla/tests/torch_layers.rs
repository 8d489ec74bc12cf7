//! nabla's convolution-family layers (Conv2d, MaxPool2d, AvgPool2d, Flatten, BatchNorm 1-D and
//! 2-D) against the figures PyTorch computed for the same inputs and parameters, in f64:
//! `tests/fixtures/torch_layers/torch_layers.json`, written by `make_fixtures.py` beside it.
//! Each case's layer is built with the fixture's parameters, run forward and backward once per
//! step through the [`Module`] trait, and every output, input gradient, parameter gradient,
//! running statistic and evaluation output must lie within [`TOL`] of PyTorch's.

use nabla::nn::{
    AvgPool2d, Backprop, BatchNorm, BatchNormConfig, Conv2d, Flatten, LayerSpec, MaxPool2d, Module,
    Pass, Sequential,
};
use nabla::Tensor;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/torch_layers/torch_layers.json");

/// Largest |nabla − PyTorch| allowed for any figure (both sides compute in f64).
const TOL: f64 = 1e-10;

/// A tensor of the fixture: `{"shape": [...], "data": [...]}`.
struct Array {
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Array {
    fn tensor(&self) -> Tensor<f64> {
        Tensor::from_vec(self.data.clone(), &self.shape).unwrap()
    }
}

fn array(v: &Value) -> Array {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("a tensor has a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .expect("a tensor has data")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect();
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "fixture tensor {shape:?} has {} values",
        data.len()
    );
    Array { shape, data }
}

fn pair(v: &Value) -> [usize; 2] {
    let a = v.as_array().expect("a [height, width] pair");
    assert_eq!(a.len(), 2, "{v}");
    [
        a[0].as_u64().unwrap() as usize,
        a[1].as_u64().unwrap() as usize,
    ]
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("a list of names")
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn root() -> Value {
    let root: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    assert_eq!(root["dtype"], "float64");
    assert!(
        root["torch_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()),
        "the fixture records the torch version"
    );
    root
}

/// The fixture's cases of one kind (at least `min` of them, so that no test passes vacuously).
fn cases(root: &Value, kind: &str, min: usize) -> Vec<Value> {
    let found: Vec<Value> = root["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["kind"] == kind)
        .cloned()
        .collect();
    assert!(
        found.len() >= min,
        "the fixture has {} {kind} cases, expected at least {min}",
        found.len()
    );
    found
}

/// Max |got − want| ≤ [`TOL`], element by element, with the same number of values (NaN fails).
fn assert_close(case: &str, what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{case}: {what} has {} values, PyTorch {}",
        got.len(),
        want.len()
    );
    let mut worst = (0.0f64, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        if d > worst.0 {
            worst = (d, i);
        }
    }
    let (d, i) = worst;
    assert!(
        d <= TOL,
        "{case}: {what} differs from PyTorch by {d:e} at [{i}] (nabla {}, PyTorch {})",
        got[i],
        want[i]
    );
}

/// The figures of one forward and backward pass of a layer.
struct Step {
    y: Vec<f64>,
    dx: Vec<f64>,
}

/// Forward `x` (`[rows, ...row shape]`) through `layer`, then backward `dy`; the output shape
/// must be PyTorch's. Outputs and input gradients start as NaN, so a value the layer does not
/// write fails the comparison.
fn run(
    case: &str,
    layer: &dyn Module<f64>,
    x: &Array,
    dy: &Array,
    want_y_shape: &[usize],
    training: bool,
) -> Step {
    let (rows, input) = (x.shape[0], &x.shape[1..]);
    let output = layer.output_shape(input).unwrap();
    assert_eq!(
        [&[rows][..], &output].concat(),
        want_y_shape,
        "{case}: output shape"
    );
    assert_eq!(dy.shape, want_y_shape, "{case}: dy shape");
    let pass = Pass::new(rows, input, &output, training);
    let mut scratch = vec![0.0; layer.scratch_len(&pass)];
    let mut y = vec![f64::NAN; rows * pass.output_len()];
    layer.forward(&x.data, &mut y, &mut scratch, &pass).unwrap();
    let mut dy = dy.data.clone();
    let mut dx = vec![f64::NAN; rows * pass.input_len()];
    let grads = Backprop {
        x: &x.data,
        y: &y,
        dy: &mut dy,
        dx: Some(&mut dx),
        scratch: &mut scratch,
    };
    layer.backward(grads, &pass).unwrap();
    Step { y, dx }
}

fn grad(case: &str, name: &str, layer: &dyn Module<f64>) -> Vec<f64> {
    let (_, var) = layer
        .parameters()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{case}: no parameter {name}"));
    let g = var.grad();
    g.unwrap_or_else(|| panic!("{case}: backward left no gradient in {name}"))
        .data()
        .to_vec()
}

#[test]
fn conv2d_matches_pytorch() {
    let root = root();
    let all = cases(&root, "conv2d", 4);
    assert!(
        all.iter().any(|c| c["config"]["bias"] == false),
        "a case without bias"
    );
    for c in &all {
        let name = c["name"].as_str().unwrap();
        let cfg = &c["config"];
        let weight = array(&c["weight"]);
        let (kernel, stride, padding) = (
            pair(&cfg["kernel"]),
            pair(&cfg["stride"]),
            pair(&cfg["padding"]),
        );
        let out = cfg["out_channels"].as_u64().unwrap() as usize;
        let inc = cfg["in_channels"].as_u64().unwrap() as usize;
        assert_eq!(weight.shape, [out, inc, kernel[0], kernel[1]], "{name}");
        let has_bias = cfg["bias"].as_bool().unwrap();
        let bias = has_bias.then(|| array(&c["bias"]).tensor());
        let conv = Conv2d::from_tensors(weight.tensor(), bias, stride, padding).unwrap();
        assert_eq!(
            Module::<f64>::spec(&conv),
            LayerSpec::Conv2d {
                in_channels: inc,
                out_channels: out,
                kernel,
                stride,
                padding,
                bias: has_bias,
            },
            "{name}"
        );
        let torch_names = names(&c["state_dict"]);
        let nabla_names: Vec<&str> = conv.parameters().iter().map(|(n, _)| *n).collect();
        assert_eq!(nabla_names, torch_names, "{name}: state-dict names");

        let (x, dy, y) = (array(&c["x"]), array(&c["dy"]), array(&c["y"]));
        let step = run(name, &conv, &x, &dy, &y.shape, true);
        assert_close(name, "y", &step.y, &y.data);
        assert_close(name, "dx", &step.dx, &array(&c["dx"]).data);
        let dweight = array(&c["dweight"]);
        assert_eq!(dweight.shape, weight.shape, "{name}");
        assert_close(name, "dweight", &grad(name, "weight", &conv), &dweight.data);
        if has_bias {
            let dbias = array(&c["dbias"]);
            assert_close(name, "dbias", &grad(name, "bias", &conv), &dbias.data);
        }
    }
}

fn pool_cases(kind: &str, build: impl Fn([usize; 2], [usize; 2]) -> Box<dyn Module<f64>>) {
    let root = root();
    for c in &cases(&root, kind, 2) {
        let name = c["name"].as_str().unwrap();
        let (kernel, stride) = (pair(&c["config"]["kernel"]), pair(&c["config"]["stride"]));
        let layer = build(kernel, stride);
        let (x, dy, y) = (array(&c["x"]), array(&c["dy"]), array(&c["y"]));
        for training in [true, false] {
            let step = run(name, layer.as_ref(), &x, &dy, &y.shape, training);
            assert_close(name, "y", &step.y, &y.data);
            assert_close(name, "dx", &step.dx, &array(&c["dx"]).data);
        }
    }
}

#[test]
fn max_pooling_matches_pytorch() {
    pool_cases("maxpool2d", |kernel, stride| {
        Box::new(MaxPool2d { kernel, stride })
    });
}

#[test]
fn average_pooling_matches_pytorch() {
    pool_cases("avgpool2d", |kernel, stride| {
        Box::new(AvgPool2d { kernel, stride })
    });
}

#[test]
fn flatten_matches_pytorch() {
    let root = root();
    for c in &cases(&root, "flatten", 1) {
        let name = c["name"].as_str().unwrap();
        let (x, dy, y) = (array(&c["x"]), array(&c["dy"]), array(&c["y"]));
        let step = run(name, &Flatten, &x, &dy, &y.shape, true);
        assert_close(name, "y", &step.y, &y.data);
        assert_close(name, "dx", &step.dx, &array(&c["dx"]).data);
    }
}

/// One training or evaluation step of a batch-norm case against PyTorch's figures.
fn batchnorm_step(name: &str, bn: &BatchNorm<f64>, s: &Value, training: bool) {
    let (x, dy, y) = (array(&s["x"]), array(&s["dy"]), array(&s["y"]));
    bn.weight.clear_grad();
    bn.bias.clear_grad();
    let step = run(name, bn, &x, &dy, &y.shape, training);
    assert_close(name, "y", &step.y, &y.data);
    assert_close(name, "dx", &step.dx, &array(&s["dx"]).data);
    assert_close(
        name,
        "dweight",
        &grad(name, "weight", bn),
        &array(&s["dweight"]).data,
    );
    assert_close(
        name,
        "dbias",
        &grad(name, "bias", bn),
        &array(&s["dbias"]).data,
    );
    assert_close(
        name,
        "running_mean",
        bn.running_mean.value().data(),
        &array(&s["running_mean"]).data,
    );
    assert_close(
        name,
        "running_var",
        bn.running_var.value().data(),
        &array(&s["running_var"]).data,
    );
    let tracked = s["num_batches_tracked"].as_f64().unwrap();
    assert_eq!(
        bn.num_batches_tracked.value().data(),
        [tracked],
        "{name}: num_batches_tracked"
    );
}

#[test]
fn batchnorm_matches_pytorch_in_training_then_evaluation() {
    let root = root();
    let all = cases(&root, "batchnorm", 2);
    for module in ["BatchNorm1d", "BatchNorm2d"] {
        assert!(
            all.iter().any(|c| c["config"]["module"] == module),
            "a {module} case"
        );
    }
    for c in &all {
        let name = c["name"].as_str().unwrap();
        let cfg = &c["config"];
        let bn = BatchNormConfig {
            channels: cfg["num_features"].as_u64().unwrap() as usize,
            eps: cfg["eps"].as_f64().unwrap(),
            momentum: cfg["momentum"].as_f64().unwrap(),
        }
        .init::<f64>()
        .unwrap();
        bn.weight.set_value(array(&c["weight"]).tensor()).unwrap();
        bn.bias.set_value(array(&c["bias"]).tensor()).unwrap();
        bn.running_mean
            .set_value(array(&c["running_mean"]).tensor())
            .unwrap();
        bn.running_var
            .set_value(array(&c["running_var"]).tensor())
            .unwrap();
        let tracked = c["num_batches_tracked"].as_f64().unwrap();
        bn.num_batches_tracked
            .set_value(Tensor::scalar(tracked))
            .unwrap();

        let steps = c["train"].as_array().unwrap();
        assert!(!steps.is_empty(), "{name}: training steps");
        for (k, s) in steps.iter().enumerate() {
            batchnorm_step(&format!("{name} (training step {k})"), &bn, s, true);
        }
        batchnorm_step(&format!("{name} (evaluation)"), &bn, &c["eval"], false);
    }
}

#[test]
fn batchnorm_state_dict_names_are_pytorchs() {
    let root = root();
    for c in &cases(&root, "batchnorm", 2) {
        let name = c["name"].as_str().unwrap();
        let torch_names = names(&c["state_dict"]);
        assert_eq!(
            torch_names,
            [
                "weight",
                "bias",
                "running_mean",
                "running_var",
                "num_batches_tracked"
            ],
            "{name}: PyTorch's names"
        );
        let channels = c["config"]["num_features"].as_u64().unwrap() as usize;
        let bn: BatchNorm<f64> = BatchNormConfig::new(channels).init().unwrap();
        let local: Vec<&str> = bn
            .parameters()
            .into_iter()
            .chain(bn.buffers())
            .map(|(n, _)| n)
            .collect();
        assert_eq!(local, torch_names, "{name}: the layer's names");
        // In a network, as in a torch.nn.Sequential: "<index>.<name>", γ and β trained.
        let row = array(&c["train"][0]["x"]).shape[1..].to_vec();
        let net = Sequential::new(&row).with(bn);
        let in_net: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
        let want: Vec<String> = torch_names.iter().map(|n| format!("0.{n}")).collect();
        assert_eq!(in_net, want, "{name}: the network's state-dict names");
        let trained: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(trained, want[..2], "{name}: trained parameters");
    }
}
