//! The training loop: learning, determinism, early stopping, divergence, resuming, and the
//! vanishing-gradient effect.

use std::ops::ControlFlow;

use nabla::data::Task;
use nabla::loss::Loss;
use nabla::nn::{Activation, Init, MlpConfig, Sequential};
use nabla::optim::{Adam, AdamConfig, LrSchedule, Optimizer, Sgd, SgdConfig};
use nabla::rng::Rng;
use nabla::train::{
    evaluate, ArrayData, BatchInfo, BatchSource, Callback, EpochRecord, History, NoCallback,
    RowSubset, TargetData, TrainConfig, Trainer, TrainerState,
};

fn blobs(n: usize, seed: u64) -> ArrayData {
    // Three Gaussian blobs in 2-D.
    let centres = [(-2.0, 0.0), (2.0, 0.5), (0.0, 2.5)];
    let mut r = Rng::new(seed);
    let mut x = vec![];
    let mut y = vec![];
    for i in 0..n {
        let c = i % 3;
        x.push((centres[c].0 + 0.6 * r.normal()) as f32);
        x.push((centres[c].1 + 0.6 * r.normal()) as f32);
        y.push(c as u32);
    }
    ArrayData::new(x, 2, TargetData::Classes(y)).unwrap()
}

fn net(seed: u64, hidden: Vec<usize>, act: Activation) -> Sequential {
    Sequential::mlp(
        &MlpConfig::new(2, hidden, 3)
            .with_activation(act)
            .with_seed(seed),
    )
    .unwrap()
}

/// Ten sigmoid-sized hidden layers of 32: deep enough for gradients to vanish.
fn deep_net(activation: Activation, init: Init) -> Sequential {
    Sequential::mlp(
        &MlpConfig::new(2, [32; 10], 3)
            .with_activation(activation)
            .with_init(init)
            .with_seed(11),
    )
    .unwrap()
}

fn adam(m: &Sequential, lr: f64) -> Adam {
    Adam::new(m.parameters(), AdamConfig::with_lr(lr)).unwrap()
}

fn sgd(m: &Sequential, lr: f64) -> Sgd {
    Sgd::new(m.parameters(), SgdConfig::with_lr(lr)).unwrap()
}

/// Train `m` with `opt` and `conf` on `train` (validating on `val`), reporting to `cb`.
fn fit(
    m: &mut Sequential,
    opt: &mut dyn Optimizer,
    conf: TrainConfig,
    train: &ArrayData,
    val: Option<&ArrayData>,
    cb: &mut dyn Callback,
) -> History {
    let val = val.map(|v| v as &dyn BatchSource);
    Trainer::new(m, opt, conf)
        .unwrap()
        .fit(train, val, cb)
        .unwrap()
}

fn cfg(epochs: usize) -> TrainConfig {
    TrainConfig::new(Loss::CrossEntropy)
        .with_epochs(epochs)
        .with_batch_size(16)
        .with_seed(4)
}

#[test]
fn learns_three_blobs_and_reports_metrics() {
    let train = blobs(300, 1);
    let val = blobs(90, 2);
    let mut m = net(0, vec![16], Activation::Relu);
    let mut opt = adam(&m, 0.01);
    let mut t = Trainer::new(&mut m, &mut opt, cfg(30)).unwrap();
    let h = t.fit(&train, Some(&val), &mut NoCallback).unwrap();
    assert_eq!(h.epochs.len(), 30);
    let last = h.epochs.last().unwrap();
    let val_acc = last.val.as_ref().unwrap().accuracy.unwrap();
    assert!(val_acc > 0.95, "validation accuracy {val_acc}");
    assert!(last.train_loss < h.epochs[0].train_loss / 3.0);
    assert_eq!(last.grad_norms.len(), 4);
    assert_eq!(last.grad_norms[0].0, "0.weight");
    assert!(last
        .grad_norms
        .iter()
        .all(|(_, g)| g.is_finite() && *g > 0.0));
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let train = blobs(200, 3);
    let run = || {
        let mut m = net(7, vec![8, 8], Activation::Tanh);
        let mut opt = Sgd::new(
            m.parameters(),
            SgdConfig {
                momentum: 0.9,
                ..SgdConfig::with_lr(0.1)
            },
        )
        .unwrap();
        fit(&mut m, &mut opt, cfg(5), &train, None, &mut NoCallback);
        m.state_dict()
    };
    let a = run();
    let b = run();
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let bits_a: Vec<u32> = ta.data().iter().map(|v| v.to_bits()).collect();
        let bits_b: Vec<u32> = tb.data().iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits_a, bits_b, "{na}");
    }
}

struct StopAfter(usize, Option<(TrainerState, Vec<(String, nabla::Tensor)>)>);
impl Callback for StopAfter {
    fn on_epoch_end(&mut self, r: &EpochRecord, s: &TrainerState) -> ControlFlow<()> {
        if r.epoch == self.0 {
            self.1 = Some((s.clone(), vec![]));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

#[test]
fn an_interrupted_run_resumes_bit_identically() {
    let train = blobs(150, 5);
    let mk = || net(3, vec![10], Activation::Relu);
    let mut conf = cfg(6);
    conf.schedule = LrSchedule::StepDecay {
        step_size: 2,
        gamma: 0.5,
    };
    // Uninterrupted.
    let mut full = mk();
    {
        let mut opt = adam(&full, 0.02);
        fit(
            &mut full,
            &mut opt,
            conf.clone(),
            &train,
            None,
            &mut NoCallback,
        );
    }
    // Stopped after 2 epochs, saved, and continued in a fresh trainer and optimiser.
    let mut part = mk();
    let (state, opt_state, weights) = {
        let mut opt = adam(&part, 0.02);
        let mut cb = StopAfter(2, None);
        let h = fit(&mut part, &mut opt, conf.clone(), &train, None, &mut cb);
        assert!(h.interrupted);
        (cb.1.unwrap().0, opt.state(), part.state_dict())
    };
    let mut resumed = mk();
    resumed.load_state_dict(&weights).unwrap();
    let mut opt = adam(&resumed, 0.02);
    opt.load_state(&opt_state).unwrap();
    let mut t = Trainer::new(&mut resumed, &mut opt, conf).unwrap();
    t.restore_state(state).unwrap();
    let h = t.fit(&train, None, &mut NoCallback).unwrap();
    assert_eq!(h.epochs.first().unwrap().epoch, 3);
    assert_eq!(full.state_dict(), resumed.state_dict());
}

#[test]
fn target_loss_stops_at_the_first_epoch_that_reaches_it() {
    // Without validation the training loss decides; the run stops at the first epoch at or
    // below the target, long before the 200 epochs, and says which loss reached it.
    let train = blobs(300, 1);
    let val = blobs(90, 2);
    let run = |conf: TrainConfig, val: Option<&ArrayData>| {
        let mut m = net(0, vec![16], Activation::Relu);
        let mut opt = adam(&m, 0.01);
        fit(&mut m, &mut opt, conf, &train, val, &mut NoCallback)
    };
    let full = run(cfg(40), None);
    let target = full.epochs[9].train_loss;
    let h = run(cfg(200).with_target_loss(target), None);
    let first = full
        .epochs
        .iter()
        .position(|e| e.train_loss <= target)
        .unwrap()
        + 1;
    assert_eq!(h.epochs.len(), first);
    let reached = h.target_reached.expect("the target was reached");
    assert_eq!((reached.epoch, reached.on.as_str()), (first, "train"));
    assert_eq!(reached.loss, h.epochs[first - 1].train_loss);
    assert!(!h.stopped_early);
    // With validation, the validation loss decides.
    let h = run(cfg(200).with_target_loss(0.2), Some(&val));
    let reached = h.target_reached.expect("the target was reached");
    assert_eq!(reached.on, "validation");
    let last = h.epochs.last().unwrap();
    assert!(last.val.as_ref().unwrap().loss <= 0.2 && h.epochs.len() < 200);
    assert!(h.epochs[..h.epochs.len() - 1]
        .iter()
        .all(|e| e.val.as_ref().unwrap().loss > 0.2));
    // An unreachable target trains every epoch; a negative one is refused.
    let h = run(cfg(5).with_target_loss(0.0), None);
    assert_eq!((h.epochs.len(), h.target_reached), (5, None));
    assert!(cfg(5).with_target_loss(-1.0).validate().is_err());
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // A tiny noisy set and a large network with a high rate: validation loss rises soon.
    let train = blobs(30, 8);
    let val = blobs(300, 9);
    let mut m = net(1, vec![64, 64], Activation::Relu);
    let mut opt = adam(&m, 0.05);
    let mut conf = cfg(200);
    conf.early_stopping = Some(3);
    conf.batch_size = 4;
    let h = fit(&mut m, &mut opt, conf, &train, Some(&val), &mut NoCallback);
    assert!(h.stopped_early, "ran all {} epochs", h.epochs.len());
    let best = h.best_epoch.unwrap();
    let best_loss = h.epochs[best - 1].val.as_ref().unwrap().loss;
    let min_loss = h
        .epochs
        .iter()
        .map(|e| e.val.as_ref().unwrap().loss)
        .fold(f32::INFINITY, f32::min);
    assert_eq!(best_loss, min_loss);
    assert_eq!(h.epochs.len(), best + 3);
    m.set_training(false);
    let now = nabla::train::evaluate(&m, &val, Loss::CrossEntropy, Task::Classify, 4).unwrap();
    assert_eq!(
        now.loss, best_loss,
        "the network holds the best epoch's weights"
    );
}

#[test]
fn divergence_stops_with_the_epoch_and_batch_and_keeps_finite_weights() {
    let train = blobs(64, 1);
    let mut m = net(2, vec![8], Activation::Relu);
    let mut opt = sgd(&m, 1e12);
    let e = Trainer::new(&mut m, &mut opt, cfg(50))
        .unwrap()
        .fit(&train, None, &mut NoCallback)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("diverged at epoch") && msg.contains("batch"),
        "{msg}"
    );
    assert!(m
        .state_dict()
        .iter()
        .all(|(_, t)| t.data().iter().all(|v| v.is_finite())));
}

#[test]
fn vanishing_gradients_in_deep_sigmoid_nets_but_not_with_relu_and_he() {
    let train = blobs(128, 4);
    let first_last_ratio = |act: Activation, init: Init| {
        let mut m = deep_net(act, init);
        let mut opt = sgd(&m, 1e-3);
        let mut conf = cfg(1);
        conf.batch_size = 128;
        let h = fit(&mut m, &mut opt, conf, &train, None, &mut NoCallback);
        let norms = &h.epochs[0].grad_norms;
        let first = norms.iter().find(|(n, _)| n == "0.weight").unwrap().1;
        let last = norms
            .iter()
            .rev()
            .find(|(n, _)| n.ends_with(".weight"))
            .unwrap()
            .1;
        first / last
    };
    let sigmoid = first_last_ratio(Activation::Sigmoid, Init::XavierUniform);
    let relu = first_last_ratio(Activation::Relu, Init::HeNormal);
    assert!(
        sigmoid < 1e-3,
        "sigmoid first/last gradient-norm ratio {sigmoid}"
    );
    assert!(relu > 0.05, "relu+he first/last ratio {relu}");
}

struct CountBatches(usize);
impl Callback for CountBatches {
    fn on_batch_end(&mut self, i: &BatchInfo) -> ControlFlow<()> {
        assert!(i.loss.is_finite() && i.rows > 0);
        self.0 += 1;
        ControlFlow::Continue(())
    }
}

#[test]
fn batches_cover_the_data_each_epoch() {
    let train = blobs(50, 6);
    let mut m = net(0, vec![4], Activation::Relu);
    let mut opt = sgd(&m, 0.1);
    let mut cb = CountBatches(0);
    fit(&mut m, &mut opt, cfg(3), &train, None, &mut cb);
    assert_eq!(cb.0, 3 * 4);
    let mut opt2 = Sgd::new(m.parameters(), SgdConfig::default()).unwrap();
    let mut bad = cfg(1);
    bad.batch_size = 0;
    assert!(Trainer::new(&mut m, &mut opt2, bad).is_err());
}

mod diagnostics {
    use super::*;
    use nabla::train::{diagnose, Warning, WarningKind};

    /// The warnings of four epochs of SGD on a deep network.
    fn deep_net_warnings(activation: Activation, init: Init) -> Vec<Warning> {
        let train = blobs(128, 4);
        let mut m = deep_net(activation, init);
        let mut opt = sgd(&m, 0.01);
        let h = fit(&mut m, &mut opt, cfg(4), &train, None, &mut NoCallback);
        diagnose(&h.epochs)
    }

    #[test]
    fn a_deep_sigmoid_net_warns_of_vanishing_gradients_naming_the_layer() {
        let w = deep_net_warnings(Activation::Sigmoid, Init::XavierUniform);
        let first = w
            .iter()
            .find(|w| w.kind == WarningKind::VanishingGradient && w.layer == 0)
            .unwrap_or_else(|| panic!("no vanishing warning for layer 0: {w:?}"));
        assert_eq!(first.epoch, 3);
        assert!(
            first.message.contains("layer 0") && first.message.contains("He"),
            "{}",
            first.message
        );
        assert!(!w.iter().any(|w| w.kind != WarningKind::VanishingGradient));
    }

    #[test]
    fn relu_with_he_does_not_warn() {
        let w = deep_net_warnings(Activation::Relu, Init::HeNormal);
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_learning_rate_past_stability_warns_of_exploding_gradients() {
        // Linear regression y = 2x with MSE, z = w·x + b. The loss is quadratic with Hessian
        // H = 2·[[E[x²], E[x]], [E[x], 1]]; gradient descent multiplies the error along H's top
        // eigenvector by |1 − lr·λmax| per step, so lr = 2.5/λmax makes that factor 1.5.
        let mut r = Rng::new(1);
        let xs: Vec<f32> = (0..64).map(|_| r.uniform(-1.0, 1.0) as f32).collect();
        let n = xs.len() as f64;
        let m2 = xs.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n;
        let m1 = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
        let (a, b, d) = (2.0 * m2, 2.0 * m1, 2.0);
        let lambda_max = (a + d) / 2.0 + (((a - d) / 2.0).powi(2) + b * b).sqrt();
        // The same 64 rows 16 times: 16 full-batch steps per epoch.
        let xs16 = xs.repeat(16);
        let ys16: Vec<f32> = xs16.iter().map(|x| 2.0 * x).collect();
        let data = ArrayData::new(
            xs16,
            1,
            TargetData::Values {
                values: ys16,
                outputs: 1,
            },
        )
        .unwrap();
        let mut m = Sequential::mlp(&MlpConfig::new(1, [], 1).with_seed(2)).unwrap();
        let mut opt = sgd(&m, 2.5 / lambda_max);
        let mut conf = cfg(3);
        conf.batch_size = 64;
        conf.loss = Loss::Mse;
        conf.task = Task::Regress;
        conf.shuffle = false;
        let h = Trainer::new(&mut m, &mut opt, conf)
            .unwrap()
            .fit(&data, None, &mut NoCallback)
            .unwrap_or_else(|e| panic!("diverged before the monitor could see growth: {e}"));
        let w = diagnose(&h.epochs);
        let ex = w
            .iter()
            .find(|w| w.kind == WarningKind::ExplodingGradient)
            .unwrap_or_else(|| {
                panic!(
                    "no exploding warning: {:?}",
                    h.epochs
                        .iter()
                        .map(|e| e.grad_norms.clone())
                        .collect::<Vec<_>>()
                )
            });
        assert_eq!(ex.layer, 0);
        assert!(
            ex.message.contains("lower the learning rate"),
            "{}",
            ex.message
        );
    }

    #[test]
    fn a_strongly_negative_bias_kills_relu_units() {
        let train = blobs(90, 2);
        let mut m = net(3, vec![16], Activation::Relu);
        {
            let params = m.named_parameters();
            let (_, b) = params.iter().find(|(n, _)| n == "0.bias").unwrap();
            b.value_mut().data_mut().iter_mut().for_each(|v| *v = -50.0);
        }
        let mut opt = sgd(&m, 0.01);
        let h = fit(&mut m, &mut opt, cfg(1), &train, None, &mut NoCallback);
        assert_eq!(h.epochs[0].layers[0].dead_fraction, 1.0);
        let w = diagnose(&h.epochs);
        assert!(
            w.iter().any(|w| w.kind == WarningKind::DeadUnits
                && w.layer == 0
                && w.message.contains("leaky ReLU")),
            "{w:?}"
        );
    }
}

/// A row subset read in place gives the figures of the same rows copied out, and refuses a
/// row past the end.
#[test]
fn a_row_subset_evaluates_as_its_rows_copied_out() {
    let data = blobs(90, 11);
    let network = net(3, vec![8], Activation::Tanh);
    let rows: Vec<usize> = (0..90).rev().step_by(7).collect();
    let view = RowSubset::new(&data, &rows).unwrap();
    let mut x = vec![0.0; rows.len() * 2];
    data.fill_features(&rows, &mut x);
    let labels = match data.targets().unwrap() {
        nabla::train::TargetView::Classes(c) => rows.iter().map(|&r| c[r]).collect(),
        _ => unreachable!("blobs are classes"),
    };
    let copied = ArrayData::new(x, 2, TargetData::Classes(labels)).unwrap();
    let on_view = evaluate(&network, &view, Loss::CrossEntropy, Task::Classify, 4).unwrap();
    let on_copy = evaluate(&network, &copied, Loss::CrossEntropy, Task::Classify, 4).unwrap();
    assert_eq!(on_view, on_copy);
    assert!(on_view.accuracy.is_some());
    let err = RowSubset::new(&data, &[3, 90]).unwrap_err().to_string();
    assert!(err.contains("row 90 of a data set of 90 rows"), "{err}");
}
