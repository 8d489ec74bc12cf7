//! Rprop, L-BFGS and quickprop beyond their PyTorch trajectories (`torch_trajectories.rs`):
//! quickprop against hand-computed steps and an independent implementation of FANN's rule on
//! summed slopes, Rprop's sign rule and bounds by hand, L-BFGS on a quadratic, the errors, and
//! each of the three learning XOR through the trainer.

use nabla::autograd::Var;
use nabla::loss::Loss;
use nabla::nn::{Activation, ActivationLayer, Init, Linear, Sequential};
use nabla::optim::{
    Lbfgs, LbfgsConfig, LineSearch, LrSchedule, Optimizer, Quickprop, QuickpropConfig, Rprop,
    RpropConfig,
};
use nabla::rng::Rng;
use nabla::train::{ArrayData, NoCallback, TargetData, TrainConfig, Trainer};
use nabla::{Element, Error, Tensor};

fn parameter<E: Element>(values: &[f64]) -> Var<E> {
    let data: Vec<E> = values.iter().map(|&v| E::from_f64(v)).collect();
    Var::parameter(Tensor::from_vec(data, &[values.len()]).unwrap())
}

fn set_grad<E: Element>(p: &Var<E>, grad: &[f64]) {
    let data: Vec<E> = grad.iter().map(|&v| E::from_f64(v)).collect();
    *p.grad_mut() = Some(Tensor::from_vec(data, &[grad.len()]).unwrap());
}

fn value<E: Element>(p: &Var<E>) -> Vec<f64> {
    p.value().data().iter().map(|v| v.to_f64()).collect()
}

#[test]
fn quickprop_takes_the_hand_computed_steps_of_each_branch() {
    // FANN's defaults: ε = 0.7, decay = −1e-4, μ = 1.75 (so μ/(1+μ) = 0.63636…).
    let w = parameter::<f32>(&[1.0]);
    let mut opt = Quickprop::new(vec![w.clone()], QuickpropConfig::default()).unwrap();
    // Step 1, no previous step: slope s = −0.5 − 1e-4·1 = −0.5001, Δ = 0.7·s = −0.35007.
    set_grad(&w, &[0.5]);
    Optimizer::step(&mut opt).unwrap();
    assert!((value(&w)[0] - 0.64993).abs() < 1e-6, "{:?}", value(&w));
    // Step 2: s = −0.2 − 1e-4·0.64993 = −0.200065; Δ₋ < 0 and s < 0: linear term 0.7·s;
    // s > 0.63636·(−0.5001) = −0.31825, so the parabola: Δ₋·s/(s₋ − s) = −0.233429;
    // Δ = −0.140045 − 0.233429 = −0.373474.
    set_grad(&w, &[0.2]);
    Optimizer::step(&mut opt).unwrap();
    assert!((value(&w)[0] - 0.276456).abs() < 1e-6, "{:?}", value(&w));
    // Step 3: s = −0.19 − 1e-4·0.276456 = −0.190028 < 0.63636·(−0.200065) = −0.127314: the
    // parabola would jump too far, so μ·Δ₋ = −0.653580, plus 0.7·s = −0.133019: Δ = −0.786599.
    set_grad(&w, &[0.19]);
    Optimizer::step(&mut opt).unwrap();
    assert!((value(&w)[0] + 0.510143).abs() < 1e-6, "{:?}", value(&w));
}

/// FANN's `fann_update_weights_quickprop`, written out in FANN's own terms for this test: the
/// slopes are the *summed* negative gradients of `rows` rows, ε = lr / rows, and the decay is
/// added to the summed slope; weights clamped to ±1500.
struct FannQuickprop {
    lr: f64,
    decay: f64,
    mu: f64,
    prev_steps: Vec<f64>,
    prev_slopes: Vec<f64>,
}

impl FannQuickprop {
    fn update(&mut self, weights: &mut [f64], summed_slopes: &[f64], rows: usize) {
        let epsilon = self.lr / rows as f64;
        let shrink = self.mu / (1.0 + self.mu);
        for i in 0..weights.len() {
            let w = weights[i];
            let prev_step = self.prev_steps[i];
            let slope = summed_slopes[i] + self.decay * w;
            let prev_slope = self.prev_slopes[i];
            let mut next = 0.0;
            if prev_step > 0.001 {
                if slope > 0.0 {
                    next += epsilon * slope;
                }
                if slope > shrink * prev_slope {
                    next += self.mu * prev_step;
                } else {
                    next += prev_step * slope / (prev_slope - slope);
                }
            } else if prev_step < -0.001 {
                if slope < 0.0 {
                    next += epsilon * slope;
                }
                if slope < shrink * prev_slope {
                    next += self.mu * prev_step;
                } else {
                    next += prev_step * slope / (prev_slope - slope);
                }
            } else {
                next += epsilon * slope;
            }
            self.prev_steps[i] = next;
            weights[i] = (w + next).clamp(-1500.0, 1500.0);
            self.prev_slopes[i] = slope;
        }
    }
}

#[test]
fn quickprop_on_the_mean_gradient_equals_fanns_rule_on_summed_slopes() {
    // Per row r, the loss Σᵢ aᵣᵢ(θᵢ − tᵣᵢ)² + θᵢ⁴/4: a gradient that keeps changing, so every
    // branch of the rule is taken over the run.
    let rows = 5;
    let n = 4;
    let mut rng = Rng::new(3);
    let a: Vec<f64> = (0..rows * n).map(|_| rng.uniform(0.5, 1.5)).collect();
    let t: Vec<f64> = (0..rows * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let row_gradient = |theta: &[f64], r: usize, i: usize| {
        2.0 * a[r * n + i] * (theta[i] - t[r * n + i]) + theta[i].powi(3)
    };
    let init = [0.8, -1.1, 0.05, 1.7];
    let fann_decay = -0.002;
    let mut fann = FannQuickprop {
        lr: 0.3,
        decay: fann_decay,
        mu: 1.75,
        prev_steps: vec![0.0; n],
        prev_slopes: vec![0.0; n],
    };
    let mut reference = init.to_vec();
    // nabla sees the mean gradient; FANN's decay on the sum is decay/rows on the mean.
    let theta = parameter::<f64>(&init);
    let cfg = QuickpropConfig {
        lr: 0.3,
        decay: fann_decay / rows as f64,
        mu: 1.75,
    };
    let mut opt = Quickprop::new(vec![theta.clone()], cfg).unwrap();
    let mut branches_seen = [false; 3];
    for step in 0..40 {
        let now = value(&theta);
        let mean: Vec<f64> = (0..n)
            .map(|i| (0..rows).map(|r| row_gradient(&now, r, i)).sum::<f64>() / rows as f64)
            .collect();
        let summed: Vec<f64> = (0..n)
            .map(|i| {
                -(0..rows)
                    .map(|r| row_gradient(&reference, r, i))
                    .sum::<f64>()
            })
            .collect();
        for &p in &fann.prev_steps {
            branches_seen[if p > 0.001 {
                0
            } else if p < -0.001 {
                1
            } else {
                2
            }] = true;
        }
        fann.update(&mut reference, &summed, rows);
        set_grad(&theta, &mean);
        opt.step().unwrap();
        for (i, (&got, &want)) in value(&theta).iter().zip(&reference).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "step {}: weight {i} is {got}, FANN's rule gives {want}",
                step + 1
            );
        }
    }
    assert_eq!(
        branches_seen, [true; 3],
        "every branch of the rule was taken"
    );
}

#[test]
fn rprop_grows_shrinks_skips_and_bounds_its_steps() {
    let w = parameter::<f64>(&[0.0]);
    let mut opt = Rprop::new(vec![w.clone()], RpropConfig::default()).unwrap();
    let mut expect = |grad: f64, want: f64| {
        set_grad(&w, &[grad]);
        opt.step().unwrap();
        assert!(
            (value(&w)[0] - want).abs() < 1e-15,
            "{:?} vs {want}",
            value(&w)
        );
    };
    expect(1.0, -0.01); // first step: Δ = lr, against the gradient's sign
    expect(1.0, -0.022); // same sign: Δ = 0.01·1.2
    expect(-1.0, -0.022); // sign flip: Δ = 0.012·0.5 = 0.006, this update skipped
    expect(-1.0, -0.016); // after a skip the product is 0: Δ stays 0.006
    expect(-1.0, -0.0088); // same sign again: Δ = 0.0072

    // Bounds: Δ grows 40 → 48 → 50 (Δmax) and stays there.
    let w = parameter::<f64>(&[0.0]);
    let mut opt = Rprop::new(vec![w.clone()], RpropConfig::with_lr(40.0)).unwrap();
    for want in [-40.0, -88.0, -138.0, -188.0] {
        set_grad(&w, &[1.0]);
        opt.step().unwrap();
        assert_eq!(value(&w)[0], want);
    }
    // A zero gradient never moves the weight.
    set_grad(&w, &[0.0]);
    opt.step().unwrap();
    assert_eq!(value(&w)[0], -188.0);
}

/// ½θᵀAθ − bᵀθ with A symmetric positive definite; the objective writes its gradient Aθ − b.
struct Quadratic {
    a: Vec<f64>,
    b: Vec<f64>,
    n: usize,
}

impl Quadratic {
    fn new(n: usize) -> Self {
        let mut rng = Rng::new(9);
        let m: Vec<f64> = (0..n * n).map(|_| rng.uniform(-0.5, 0.5)).collect();
        // A = MᵀM + I.
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[k * n + i] * m[k * n + j]).sum::<f64>()
                    + f64::from(u8::from(i == j));
            }
        }
        let b = (0..n).map(|_| rng.uniform(-0.5, 0.5)).collect();
        Quadratic { a, b, n }
    }

    fn evaluate(&self, p: &Var<f64>) -> f64 {
        let x = value(p);
        let ax: Vec<f64> = (0..self.n)
            .map(|i| (0..self.n).map(|j| self.a[i * self.n + j] * x[j]).sum())
            .collect();
        let grad: Vec<f64> = ax.iter().zip(&self.b).map(|(ax, b)| ax - b).collect();
        set_grad(p, &grad);
        x.iter()
            .zip(&ax)
            .zip(&self.b)
            .map(|((x, ax), b)| 0.5 * x * ax - b * x)
            .sum()
    }

    /// The minimiser A⁻¹b, by Gaussian elimination.
    fn solution(&self) -> Vec<f64> {
        let n = self.n;
        let mut m = self.a.clone();
        let mut x = self.b.clone();
        for c in 0..n {
            for r in c + 1..n {
                let f = m[r * n + c] / m[c * n + c];
                for k in c..n {
                    m[r * n + k] -= f * m[c * n + k];
                }
                x[r] -= f * x[c];
            }
        }
        for c in (0..n).rev() {
            for k in c + 1..n {
                x[c] -= m[c * n + k] * x[k];
            }
            x[c] /= m[c * n + c];
        }
        x
    }
}

#[test]
fn lbfgs_minimises_a_quadratic_in_one_step_with_either_line_search() {
    let q = Quadratic::new(6);
    let want = q.solution();
    for line_search in [LineSearch::None, LineSearch::StrongWolfe] {
        let theta = parameter::<f64>(&[0.0; 6]);
        let cfg = LbfgsConfig {
            line_search,
            ..LbfgsConfig::default()
        };
        let mut opt = Lbfgs::new(vec![theta.clone()], cfg).unwrap();
        let mut objective = || Ok(q.evaluate(&theta));
        let loss = q.evaluate(&theta);
        opt.step_with_objective(loss, &mut objective).unwrap();
        let err = value(&theta)
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // The step ends when the loss changes by less than tolerance_change (1e-9), so the
        // loss is that close to the minimum, and the weights within about its square root.
        let minimum = {
            let at = parameter::<f64>(&want);
            q.evaluate(&at)
        };
        let gap = q.evaluate(&theta) - minimum;
        println!(
            "{}: loss gap {gap:.3e}, weights off by {err:.3e}",
            line_search.name()
        );
        assert!(
            gap < 1e-8,
            "{}: loss above the minimum by {gap:e}",
            line_search.name()
        );
        assert!(
            err < 1e-4,
            "{}: off the minimiser by {err:e}",
            line_search.name()
        );
        assert!(opt.evaluations() <= 26, "{} evaluations", opt.evaluations());
        // At the minimum (gradient within tolerance_grad after more steps) a step changes
        // nothing.
        for _ in 0..3 {
            let loss = q.evaluate(&theta);
            opt.step_with_objective(loss, &mut objective).unwrap();
        }
        let before = value(&theta);
        let loss = q.evaluate(&theta);
        opt.step_with_objective(loss, &mut objective).unwrap();
        assert_eq!(value(&theta), before, "{}", line_search.name());
    }
}

#[test]
fn lbfgs_needs_an_objective_and_restores_the_weights_when_it_fails() {
    let p = parameter::<f32>(&[1.0, -2.0]);
    let mut opt = Lbfgs::new(vec![p.clone()], LbfgsConfig::default()).unwrap();
    set_grad(&p, &[0.5, -0.5]);
    match Optimizer::step(&mut opt) {
        Err(Error::Param { msg, .. }) => assert!(msg.contains("step_with_objective"), "{msg}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // The objective fails on its first call (after L-BFGS has moved the weights).
    let mut calls = 0;
    let mut failing = || {
        calls += 1;
        Err(Error::param("objective", "the loss is NaN"))
    };
    let result = opt.step_with_objective(1.0, &mut failing);
    assert!(matches!(result, Err(Error::Param { .. })), "{result:?}");
    assert_eq!(calls, 1);
    assert_eq!(value(&p), vec![1.0, -2.0], "weights restored");
}

/// The defaults with one change.
fn changed<C: Default>(change: fn(&mut C)) -> C {
    let mut cfg = C::default();
    change(&mut cfg);
    cfg
}

#[test]
fn invalid_settings_are_refused_with_the_setting_named() {
    let p = || vec![parameter::<f32>(&[1.0])];
    let param_error = |r: nabla::Result<()>, needle: &str| match r {
        Err(Error::Param { name, msg }) => {
            let text = format!("{name}: {msg}");
            assert!(text.contains(needle), "{text:?} should name {needle:?}");
        }
        other => panic!("expected a parameter error naming {needle:?}, got {other:?}"),
    };
    for (etas, needle) in [
        ((0.5, 1.0), "etas"),
        ((0.0, 1.2), "etas"),
        ((1.2, 0.5), "etas"),
    ] {
        let cfg = RpropConfig {
            etas,
            ..RpropConfig::default()
        };
        param_error(Rprop::new(p(), cfg).map(|_| ()), needle);
    }
    let cfg = RpropConfig {
        step_sizes: (1.0, 0.5),
        ..RpropConfig::default()
    };
    param_error(Rprop::new(p(), cfg).map(|_| ()), "step sizes");
    param_error(
        Rprop::new(p(), RpropConfig::with_lr(0.0)).map(|_| ()),
        "learning rate",
    );
    let lbfgs = |change: fn(&mut LbfgsConfig), needle: &str| {
        param_error(Lbfgs::new(p(), changed(change)).map(|_| ()), needle)
    };
    lbfgs(|c| c.max_iter = 0, "max_iter");
    lbfgs(|c| c.history_size = 0, "history");
    lbfgs(|c| c.max_eval = Some(0), "max_eval");
    lbfgs(|c| c.tolerance_grad = -1.0, "tolerance_grad");
    lbfgs(|c| c.lr = f64::NAN, "learning rate");
    param_error(LineSearch::parse("armijo").map(|_| ()), "line search");
    let quickprop = |change: fn(&mut QuickpropConfig), needle: &str| {
        param_error(Quickprop::new(p(), changed(change)).map(|_| ()), needle)
    };
    quickprop(|c| c.decay = 0.1, "decay");
    quickprop(|c| c.mu = 0.0, "mu");
}

#[test]
fn documented_defaults_are_pytorchs_and_fanns() {
    assert_eq!(
        RpropConfig::default(),
        RpropConfig {
            lr: 0.01,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0)
        }
    );
    let l = LbfgsConfig::default();
    assert_eq!((l.lr, l.max_iter, l.history_size), (1.0, 20, 100));
    assert_eq!((l.tolerance_grad, l.tolerance_change), (1e-7, 1e-9));
    assert_eq!((l.max_evaluations(), l.line_search), (25, LineSearch::None));
    assert_eq!(
        QuickpropConfig::default(),
        QuickpropConfig {
            lr: 0.7,
            decay: -1e-4,
            mu: 1.75
        }
    );
}

/// Train a 2-4-2 tanh network on the four rows of XOR, full batch, and return the last
/// epoch's loss and accuracy.
fn xor_with(make: impl FnOnce(Vec<Var<f32>>) -> Box<dyn Optimizer>, epochs: usize) -> (f32, f64) {
    let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let data = ArrayData::new(x, 2, TargetData::Classes(vec![0, 1, 1, 0])).unwrap();
    let mut rng = Rng::new(1);
    let mut net = Sequential::new(&[2])
        .with(Linear::new(2, 4, Init::XavierUniform, &mut rng).unwrap())
        .with(ActivationLayer(Activation::Tanh))
        .with(Linear::new(4, 2, Init::XavierUniform, &mut rng).unwrap());
    let mut opt = make(net.parameters());
    let cfg = TrainConfig {
        epochs,
        batch_size: 4,
        loss: Loss::CrossEntropy,
        schedule: LrSchedule::Constant,
        ..TrainConfig::default()
    };
    let history = Trainer::new(&mut net, opt.as_mut(), cfg)
        .unwrap()
        .fit(&data, None, &mut NoCallback)
        .unwrap();
    let last = history.epochs.last().unwrap();
    (last.train_loss, last.train_accuracy.unwrap())
}

#[test]
fn each_trainer_learns_xor_full_batch() {
    let rprop = xor_with(
        |p| Box::new(Rprop::new(p, RpropConfig::default()).unwrap()),
        200,
    );
    let lbfgs = xor_with(
        |p| Box::new(Lbfgs::new(p, LbfgsConfig::default()).unwrap()),
        10,
    );
    let wolfe = xor_with(
        |p| {
            let cfg = LbfgsConfig {
                line_search: LineSearch::StrongWolfe,
                ..LbfgsConfig::default()
            };
            Box::new(Lbfgs::new(p, cfg).unwrap())
        },
        10,
    );
    let quickprop = xor_with(
        |p| Box::new(Quickprop::new(p, QuickpropConfig::default()).unwrap()),
        300,
    );
    for (name, (loss, accuracy)) in [
        ("rprop", rprop),
        ("lbfgs", lbfgs),
        ("lbfgs strong_wolfe", wolfe),
        ("quickprop", quickprop),
    ] {
        println!("{name}: XOR loss {loss:.3e}, accuracy {accuracy}");
        assert_eq!(accuracy, 1.0, "{name} did not learn XOR (loss {loss})");
        assert!(loss < 0.05, "{name}: loss {loss} after training");
    }
}
