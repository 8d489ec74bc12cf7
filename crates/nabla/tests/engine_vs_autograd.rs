//! The engine (each layer's own forward and backward over a workspace) and the autograd graph
//! built from primitive ops (matmul, add, the activation ops, each gradient-checked against
//! finite differences on its own) are two independent routes to the same gradients. They
//! must agree.

use nabla::autograd::Var;
use nabla::loss::{Loss, Targets};
use nabla::nn::{Activation, Dropout, LayerSpec, MlpConfig, Sequential, Workspace};
use nabla::rng::Rng;
use nabla::{loss, Tensor};

fn random_input(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..rows * cols)
        .map(|_| r.uniform(-1.5, 1.5) as f32)
        .collect()
}

fn grads(net: &Sequential) -> Vec<(String, Vec<f32>)> {
    net.named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.grad().expect("gradient present").into_vec()))
        .collect()
}

fn assert_close(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)], what: &str) {
    assert_eq!(a.len(), b.len());
    for ((na, ga), (nb, gb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        let scale = ga
            .iter()
            .chain(gb)
            .fold(0f32, |m, v| m.max(v.abs()))
            .max(1e-3);
        for (i, (x, y)) in ga.iter().zip(gb).enumerate() {
            assert!(
                (x - y).abs() <= 2e-5 * scale + 1e-7,
                "{what}: {na}[{i}] engine {x} vs autograd {y} (scale {scale})"
            );
        }
    }
}

fn autograd_loss(
    net: &Sequential,
    x: &[f32],
    rows: usize,
    cols: usize,
    lossk: Loss,
    t: &TargetsOwned,
) -> f32 {
    let xv = Var::constant(Tensor::from_vec(x.to_vec(), &[rows, cols]).unwrap());
    let out = primitive_forward(net, &xv);
    let l = match (lossk, t) {
        (Loss::CrossEntropy, TargetsOwned::Classes(c)) => {
            let c: Vec<usize> = c.iter().map(|&v| v as usize).collect();
            loss::cross_entropy(&out, &c).unwrap()
        }
        (Loss::BceWithLogits, TargetsOwned::Values(v)) => {
            let t = Var::constant(Tensor::from_vec(v.clone(), &out.shape()).unwrap());
            loss::bce_with_logits(&out, &t).unwrap()
        }
        (Loss::Sse, TargetsOwned::Values(v)) => {
            let t = Var::constant(Tensor::from_vec(v.clone(), &out.shape()).unwrap());
            loss::sse(&out, &t).unwrap()
        }
        (Loss::Mse, TargetsOwned::Values(v)) => {
            let t = Var::constant(Tensor::from_vec(v.clone(), &out.shape()).unwrap());
            loss::mse(&out, &t).unwrap()
        }
        _ => unreachable!(),
    };
    l.backward().unwrap();
    let v = l.value().item().unwrap();
    v
}

/// The network written as primitive graph ops, layer by layer from its description.
fn primitive_forward(net: &Sequential, x: &Var) -> Var {
    let mut h = x.clone();
    for layer in net.layers() {
        let p = layer.parameters();
        h = match layer.spec() {
            LayerSpec::Linear { .. } => h
                .matmul(&p[0].1.transpose().unwrap())
                .unwrap()
                .add(&p[1].1)
                .unwrap(),
            LayerSpec::Activation { activation } => activation.forward_var(&h),
            LayerSpec::Dropout { .. } if net.is_training() => {
                let any: &dyn std::any::Any = layer.as_ref();
                let d = any.downcast_ref::<Dropout>().expect("a dropout layer");
                let mut mask = Tensor::zeros(&h.shape());
                d.draw_mask(mask.data_mut());
                h.mul(&Var::constant(mask)).unwrap()
            }
            LayerSpec::Dropout { .. } => h,
            other => panic!("no primitive form for {other:?}"),
        };
    }
    h
}

enum TargetsOwned {
    Classes(Vec<u32>),
    Values(Vec<f32>),
}

fn check(act: Activation, lossk: Loss, outputs: usize, seed: u64) {
    let (rows, cols) = (7, 5);
    let cfg = MlpConfig::new(cols, [6, 4], outputs)
        .with_activation(act)
        .with_seed(seed);
    let mut net = Sequential::mlp(&cfg).unwrap();
    net.set_training(false);
    let x = random_input(rows, cols, seed + 1);
    let mut r = Rng::new(seed + 2);
    let t = match lossk {
        Loss::CrossEntropy => {
            TargetsOwned::Classes((0..rows).map(|_| r.below(outputs) as u32).collect())
        }
        Loss::BceWithLogits => {
            TargetsOwned::Values((0..rows * outputs).map(|_| r.below(2) as f32).collect())
        }
        _ => TargetsOwned::Values(
            (0..rows * outputs)
                .map(|_| r.uniform(-1.0, 1.0) as f32)
                .collect(),
        ),
    };
    let la = autograd_loss(&net, &x, rows, cols, lossk, &t);
    let ga = grads(&net);
    net.zero_grad();
    let mut ws = Workspace::new(&net, 16).unwrap();
    let targets = match &t {
        TargetsOwned::Classes(c) => Targets::Classes(c),
        TargetsOwned::Values(v) => Targets::Values(v),
    };
    let lf = net
        .loss_backward(&mut ws, &x, rows, targets, lossk)
        .unwrap();
    let gf = grads(&net);
    assert!(
        (la - lf).abs() <= 1e-5 * la.abs().max(1.0),
        "{act:?} {lossk:?}: loss {lf} vs {la}"
    );
    assert_close(&gf, &ga, &format!("{act:?} {lossk:?}"));
}

#[test]
fn every_activation_and_loss_agrees_with_autograd() {
    let acts = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.1 },
        Activation::Identity,
    ];
    for (k, act) in acts.into_iter().enumerate() {
        let s = 10 * k as u64;
        check(act, Loss::CrossEntropy, 3, s);
        check(act, Loss::BceWithLogits, 1, s + 1);
        check(act, Loss::Sse, 2, s + 2);
        check(act, Loss::Mse, 2, s + 3);
    }
}

#[test]
fn dropout_in_training_mode_matches_autograd_with_the_same_masks() {
    let cfg = MlpConfig::new(4, [8], 3)
        .with_activation(Activation::Relu)
        .with_dropout(0.5)
        .with_seed(5);
    let net = Sequential::mlp(&cfg).unwrap();
    let states = net.dropout_rng_states();
    let x = random_input(6, 4, 1);
    let classes = vec![0u32, 1, 2, 1, 0, 2];
    let t = TargetsOwned::Classes(classes.clone());
    let la = autograd_loss(&net, &x, 6, 4, Loss::CrossEntropy, &t);
    let ga = grads(&net);
    net.zero_grad();
    net.set_dropout_rng_states(&states).unwrap();
    let mut ws = Workspace::new(&net, 6).unwrap();
    let lf = net
        .loss_backward(
            &mut ws,
            &x,
            6,
            Targets::Classes(&classes),
            Loss::CrossEntropy,
        )
        .unwrap();
    assert!((la - lf).abs() < 1e-5, "{la} vs {lf}");
    assert_close(&grads(&net), &ga, "dropout");
}

#[test]
fn engine_gradients_accumulate_until_zeroed() {
    let cfg = MlpConfig::new(3, [4], 2).with_seed(2);
    let net = Sequential::mlp(&cfg).unwrap();
    let x = random_input(5, 3, 3);
    let c = vec![0u32, 1, 1, 0, 1];
    let mut ws = Workspace::new(&net, 5).unwrap();
    net.loss_backward(&mut ws, &x, 5, Targets::Classes(&c), Loss::CrossEntropy)
        .unwrap();
    let once = grads(&net);
    net.loss_backward(&mut ws, &x, 5, Targets::Classes(&c), Loss::CrossEntropy)
        .unwrap();
    let twice = grads(&net);
    for ((_, a), (_, b)) in once.iter().zip(&twice) {
        for (x, y) in a.iter().zip(b) {
            assert!((2.0 * x - y).abs() <= 1e-6 * x.abs().max(1.0));
        }
    }
    net.zero_grad();
    assert!(grads(&net).iter().all(|(_, g)| g.iter().all(|&v| v == 0.0)));
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let cfg = MlpConfig::new(3, [4], 2);
    let net = Sequential::mlp(&cfg).unwrap();
    let mut ws = Workspace::new(&net, 4).unwrap();
    let x = vec![0.0f32; 15];
    assert!(
        net.forward_batch(&mut ws, &x, 5).is_err(),
        "more rows than the workspace holds"
    );
    assert!(
        net.forward_batch(&mut ws, &x[..5], 2).is_err(),
        "too few features"
    );
    let e = net
        .loss_backward(
            &mut ws,
            &x,
            2,
            Targets::Classes(&[0, 7]),
            Loss::CrossEntropy,
        )
        .unwrap_err();
    assert!(e.to_string().contains("class 7"), "{e}");
    assert!(net
        .loss_backward(&mut ws, &x, 2, Targets::Classes(&[0]), Loss::CrossEntropy)
        .is_err());
}
