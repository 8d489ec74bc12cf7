//! Rprop and L-BFGS against PyTorch: the trajectories of `torch.optim.Rprop` and
//! `torch.optim.LBFGS` (no line search, strong Wolfe, and a small history that wraps) on a tiny
//! MLP, recorded by `tests/fixtures/lbfgs_rprop/make_fixtures.py` in float64 and float32.
//!
//! In f64 nabla's optimisers, over nabla's own network and loss, follow PyTorch's float64
//! trajectory step by step (weights, loss, and for L-BFGS the number of evaluations per step).
//! In f32, through the trainer (full batch), Rprop follows it too; L-BFGS amplifies rounding
//! (PyTorch's own float32 run drifts from its float64 one by up to 0.26 in a weight over the
//! same steps), so there the f32 test checks the first step against 2e-4 and the whole run
//! against PyTorch's own f32-vs-f64 drift: nabla's f32 run must not drift more than twice as
//! far as PyTorch's (two f32 realisations of one chaotic amplification of rounding).

use std::cell::Cell;

use nabla::data::Task;
use nabla::loss::{Loss, Targets};
use nabla::nn::{Activation, ActivationLayer, Init, Linear, Sequential, Workspace};
use nabla::optim::{Lbfgs, LbfgsConfig, LineSearch, LrSchedule, Optimizer, Rprop, RpropConfig};
use nabla::rng::Rng;
use nabla::train::{ArrayData, NoCallback, TargetData, TrainConfig, Trainer};
use nabla::{Element, Tensor};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/lbfgs_rprop/trajectories.json");

/// The tolerance of the f64 comparison: |nabla − torch| on every weight and loss, at every
/// step. Measured when this was written: 2.2e-16 for Rprop over 60 steps; for L-BFGS 3e-15
/// after the first step (20 iterations), then growing about 50× per step to 1.8e-8 after the
/// fifth: rounding differences of the dot and matrix products, amplified by the quasi-Newton
/// steps as PyTorch's own float32 run is (to 0.26 from 1e-7).
const F64_TOLERANCE: f64 = 1e-7;
/// The tolerance for f32 runs that do not amplify rounding.
const F32_TOLERANCE: f64 = 2e-4;

const NAMES: [&str; 4] = ["0.weight", "0.bias", "2.weight", "2.bias"];

struct Problem {
    rows: usize,
    features: usize,
    hidden: usize,
    outputs: usize,
    x: Vec<f64>,
    y: Vec<f64>,
    init: Vec<Vec<f64>>,
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn problem(root: &Value) -> Problem {
    let n = |k: &str| root[k].as_u64().unwrap() as usize;
    Problem {
        rows: n("rows"),
        features: n("features"),
        hidden: n("hidden"),
        outputs: n("outputs"),
        x: floats(&root["x"]),
        y: floats(&root["y"]),
        init: NAMES.iter().map(|k| floats(&root["init"][k])).collect(),
    }
}

fn cases(root: &Value) -> &Vec<Value> {
    root["cases"].as_array().unwrap()
}

fn case<'a>(root: &'a Value, name: &str) -> &'a Value {
    cases(root)
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("fixture has no case {name}"))
}

/// The network at the fixture's initial weights.
fn network<E: Element>(p: &Problem) -> Sequential<E> {
    let mut rng = Rng::new(0);
    let net = Sequential::<E>::new(&[p.features])
        .with(Linear::<E>::new(p.features, p.hidden, Init::XavierUniform, &mut rng).unwrap())
        .with(ActivationLayer(Activation::Tanh))
        .with(Linear::<E>::new(p.hidden, p.outputs, Init::XavierUniform, &mut rng).unwrap());
    let shapes = [
        vec![p.hidden, p.features],
        vec![p.hidden],
        vec![p.outputs, p.hidden],
        vec![p.outputs],
    ];
    let tensors: Vec<(String, Tensor<E>)> = NAMES
        .iter()
        .zip(&p.init)
        .zip(&shapes)
        .map(|((n, v), s)| {
            let data = v.iter().map(|&x| E::from_f64(x)).collect();
            (n.to_string(), Tensor::from_vec(data, s).unwrap())
        })
        .collect();
    net.load_state_dict(&tensors).unwrap();
    net
}

fn lbfgs_config(options: &Value) -> LbfgsConfig {
    let d = LbfgsConfig::default();
    LbfgsConfig {
        lr: options["lr"].as_f64().unwrap_or(d.lr),
        max_iter: options["max_iter"]
            .as_u64()
            .map_or(d.max_iter, |v| v as usize),
        history_size: options["history_size"]
            .as_u64()
            .map_or(d.history_size, |v| v as usize),
        line_search: match options["line_search_fn"].as_str() {
            Some(name) => LineSearch::parse(name).unwrap(),
            None => LineSearch::None,
        },
        ..d
    }
}

/// Largest |a − b| between nabla's parameters and a recorded step's.
fn param_deviation<E: Element>(net: &Sequential<E>, recorded: &Value) -> f64 {
    let mut worst = 0.0f64;
    for (name, p) in net.named_parameters() {
        let want = floats(&recorded["params"][name.as_str()]);
        let got = p.value();
        assert_eq!(got.len(), want.len(), "{name}");
        for (&g, &w) in got.data().iter().zip(&want) {
            worst = worst.max((g.to_f64() - w).abs());
        }
    }
    worst
}

/// Replay one case in f64 with nabla's optimiser over nabla's network and loss; returns the
/// largest deviation of any weight or loss over the run.
fn replay_f64(p: &Problem, case: &Value) -> f64 {
    let net = network::<f64>(p);
    let mut ws = Workspace::<f64>::new(&net, p.rows).unwrap();
    let params = net.parameters();
    let evaluations = Cell::new(0usize);
    let mut objective = || -> nabla::Result<f64> {
        evaluations.set(evaluations.get() + 1);
        for q in &params {
            q.zero_grad();
        }
        net.loss_backward(&mut ws, &p.x, p.rows, Targets::Values(&p.y), Loss::Mse)
    };
    let name = case["name"].as_str().unwrap();
    let steps = case["float64"].as_array().unwrap();
    let mut worst = 0.0f64;
    let kind = case["kind"].as_str().unwrap();
    let mut rprop =
        (kind == "rprop").then(|| Rprop::new(params.clone(), RpropConfig::default()).unwrap());
    let mut lbfgs = (kind == "lbfgs")
        .then(|| Lbfgs::new(params.clone(), lbfgs_config(&case["options"])).unwrap());
    for (k, recorded) in steps.iter().enumerate() {
        evaluations.set(0);
        let loss = objective().unwrap();
        if let Some(opt) = rprop.as_mut() {
            opt.step().unwrap();
        }
        if let Some(opt) = lbfgs.as_mut() {
            opt.step_with_objective(loss, &mut objective).unwrap();
            assert_eq!(
                evaluations.get() as u64,
                recorded["evaluations"].as_u64().unwrap(),
                "{name}: objective evaluations in step {}",
                k + 1
            );
        }
        let loss_error = (loss - recorded["loss"].as_f64().unwrap()).abs();
        let weight_error = param_deviation(&net, recorded);
        assert!(
            loss_error <= F64_TOLERANCE && weight_error <= F64_TOLERANCE,
            "{name} (f64): step {}: loss off by {loss_error:e}, a weight off by {weight_error:e}",
            k + 1
        );
        worst = worst.max(loss_error).max(weight_error);
    }
    worst
}

#[test]
fn rprop_and_lbfgs_in_f64_follow_pytorchs_float64_trajectories() {
    let root: Value = serde_json::from_str(FIXTURE).unwrap();
    let p = problem(&root);
    assert_eq!(cases(&root).len(), 4);
    for case in cases(&root) {
        let worst = replay_f64(&p, case);
        println!(
            "{:12} f64: max |nabla − torch float64| over the run {worst:.3e}",
            case["name"].as_str().unwrap()
        );
    }
}

/// Train in f32 through the trainer (one full batch per epoch, no shuffling, constant rate)
/// and return the run's per-epoch losses and the network.
fn train_f32(
    p: &Problem,
    opt: &mut dyn Optimizer,
    net: &mut Sequential,
    epochs: usize,
) -> Vec<f64> {
    let x = p.x.iter().map(|&v| v as f32).collect();
    let y = p.y.iter().map(|&v| v as f32).collect();
    let data = ArrayData::new(
        x,
        p.features,
        TargetData::Values {
            values: y,
            outputs: p.outputs,
        },
    )
    .unwrap();
    let cfg = TrainConfig {
        epochs,
        batch_size: p.rows,
        shuffle: false,
        loss: Loss::Mse,
        task: Task::Regress,
        schedule: LrSchedule::Constant,
        ..TrainConfig::default()
    };
    let history = Trainer::new(net, opt, cfg)
        .unwrap()
        .fit(&data, None, &mut NoCallback)
        .unwrap();
    history.epochs.iter().map(|e| e.train_loss as f64).collect()
}

#[test]
fn rprop_through_the_trainer_in_f32_follows_pytorchs_float64_trajectory() {
    let root: Value = serde_json::from_str(FIXTURE).unwrap();
    let p = problem(&root);
    let case = case(&root, "rprop");
    let steps = case["float64"].as_array().unwrap();
    let mut net = network::<f32>(&p);
    let mut opt = Rprop::new(net.parameters(), RpropConfig::default()).unwrap();
    let losses = train_f32(&p, &mut opt, &mut net, steps.len());
    let mut worst_loss = 0.0f64;
    for (k, (loss, recorded)) in losses.iter().zip(steps).enumerate() {
        let err = (loss - recorded["loss"].as_f64().unwrap()).abs();
        assert!(
            err <= F32_TOLERANCE,
            "rprop f32: epoch {} loss off by {err:e}",
            k + 1
        );
        worst_loss = worst_loss.max(err);
    }
    let weights = param_deviation(&net, steps.last().unwrap());
    assert!(
        weights <= F32_TOLERANCE,
        "rprop f32: final weight off by {weights:e}"
    );
    println!(
        "rprop f32 via the trainer: max loss error {worst_loss:.3e}, final weights {weights:.3e}"
    );
}

#[test]
fn lbfgs_through_the_trainer_in_f32_stays_within_pytorchs_own_float32_drift() {
    let root: Value = serde_json::from_str(FIXTURE).unwrap();
    let p = problem(&root);
    for name in ["lbfgs", "lbfgs_wolfe", "lbfgs_small"] {
        let case = case(&root, name);
        let f64_steps = case["float64"].as_array().unwrap();
        let f32_steps = case["float32"].as_array().unwrap();
        // One step (20 inner iterations for the defaults) from the common start.
        let mut net = network::<f32>(&p);
        let mut opt = Lbfgs::new(net.parameters(), lbfgs_config(&case["options"])).unwrap();
        train_f32(&p, &mut opt, &mut net, 1);
        let first = param_deviation(&net, &f64_steps[0]);
        let torch_first = param_deviation(&network_after(&p, &f32_steps[0]), &f64_steps[0]);
        // The whole run.
        let mut net = network::<f32>(&p);
        let mut opt = Lbfgs::new(net.parameters(), lbfgs_config(&case["options"])).unwrap();
        let losses = train_f32(&p, &mut opt, &mut net, f64_steps.len());
        let last = param_deviation(&net, f64_steps.last().unwrap());
        let torch_last = param_deviation(
            &network_after(&p, f32_steps.last().unwrap()),
            f64_steps.last().unwrap(),
        );
        let final_loss = f64_steps.last().unwrap()["loss"].as_f64().unwrap();
        println!(
            "{name:12} f32 via the trainer: first step max |dw| {first:.3e} (torch f32 {torch_first:.3e}); \
             after {} steps {last:.3e} (torch f32 {torch_last:.3e}); last loss {:.6} (torch f64 {final_loss:.6})",
            f64_steps.len(),
            losses.last().unwrap()
        );
        assert!(
            first <= F32_TOLERANCE.max(torch_first),
            "{name} f32: first step off by {first:e}"
        );
        assert!(
            last <= (2.0 * torch_last).max(F32_TOLERANCE),
            "{name} f32: after the run off by {last:e}, more than twice PyTorch's own float32 drift {torch_last:e}"
        );
        let loss_error = (losses.last().unwrap() - final_loss).abs();
        assert!(
            loss_error < 0.1 * final_loss,
            "{name} f32: final loss off by {loss_error:e}"
        );
    }
}

/// A network holding a recorded step's parameters (to measure PyTorch's own f32 drift).
fn network_after(p: &Problem, recorded: &Value) -> Sequential<f64> {
    let net = network::<f64>(p);
    let tensors: Vec<(String, Tensor<f64>)> = net
        .named_parameters()
        .into_iter()
        .map(|(n, q)| {
            let shape = q.shape();
            (
                n.clone(),
                Tensor::from_vec(floats(&recorded["params"][n.as_str()]), &shape).unwrap(),
            )
        })
        .collect();
    net.load_state_dict(&tensors).unwrap();
    net
}
