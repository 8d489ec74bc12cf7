//! Behaviour of the optimisers beyond their update rules (those are checked against numpy in
//! `optim_fixtures.rs`): resuming from a saved state, state validation, config validation,
//! parameters without gradients, zeroing, and learning-rate schedules.

use nabla::autograd::Var;
use nabla::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Lbfgs, LbfgsConfig, LineSearch, LrSchedule, Optimizer,
    OptimizerState, Quickprop, QuickpropConfig, RmsProp, RmsPropConfig, Rprop, RpropConfig, Sgd,
    SgdConfig,
};
use nabla::{Error, Tensor};

fn params(values: &[(Vec<f32>, Vec<usize>)]) -> Vec<Var<f32>> {
    values
        .iter()
        .map(|(v, s)| Var::parameter(Tensor::from_vec(v.clone(), s).unwrap()))
        .collect()
}

fn problem_params() -> Vec<Var<f32>> {
    params(&[
        (vec![0.5, -1.0, 2.0, 0.25, -0.75, 1.5], vec![2, 3]),
        (vec![1.2, -0.4, 0.9], vec![3]),
    ])
}

/// Gradient of Σ (θ − 0.3)² + 0.1 Σ θ⁴ written into each grad slot.
fn write_gradients(ps: &[Var<f32>]) {
    for p in ps {
        let (shape, grad) = {
            let v = p.value();
            let g: Vec<f32> = v
                .data()
                .iter()
                .map(|&x| 2.0 * (x - 0.3) + 0.4 * x * x * x)
                .collect();
            (v.shape().to_vec(), g)
        };
        *p.grad_mut() = Some(Tensor::from_vec(grad, &shape).unwrap());
    }
}

/// The loss whose gradient [`write_gradients`] writes, in f64.
fn loss(ps: &[Var<f32>]) -> f64 {
    ps.iter()
        .flat_map(|p| p.value().data().to_vec())
        .map(|x| {
            let x = x as f64;
            (x - 0.3).powi(2) + 0.1 * x.powi(4)
        })
        .sum()
}

fn values(ps: &[Var<f32>]) -> Vec<Vec<f32>> {
    ps.iter().map(|p| p.value().data().to_vec()).collect()
}

fn bits(ps: &[Var<f32>]) -> Vec<Vec<u32>> {
    values(ps)
        .into_iter()
        .map(|v| v.into_iter().map(f32::to_bits).collect())
        .collect()
}

// Optimisers over `ps` from their defaults with a change, as in `sgd(ps, |c| c.momentum = 0.9)`.
fn changed<C: Default>(change: impl FnOnce(&mut C)) -> C {
    let mut cfg = C::default();
    change(&mut cfg);
    cfg
}
fn sgd(ps: Vec<Var<f32>>, change: impl FnOnce(&mut SgdConfig)) -> nabla::Result<Sgd> {
    Sgd::new(ps, changed(change))
}
fn adam(ps: Vec<Var<f32>>, change: impl FnOnce(&mut AdamConfig)) -> nabla::Result<Adam> {
    Adam::new(ps, changed(change))
}
fn adamw(ps: Vec<Var<f32>>, change: impl FnOnce(&mut AdamWConfig)) -> nabla::Result<AdamW> {
    AdamW::new(ps, changed(change))
}
fn rms(ps: Vec<Var<f32>>, change: impl FnOnce(&mut RmsPropConfig)) -> nabla::Result<RmsProp> {
    RmsProp::new(ps, changed(change))
}

type Factory = fn(Vec<Var<f32>>) -> Box<dyn Optimizer>;

fn factories() -> Vec<(&'static str, Factory)> {
    vec![
        ("sgd plain", |p| Box::new(sgd(p, |c| c.lr = 0.05).unwrap())),
        ("sgd nesterov", |p| {
            Box::new(
                Sgd::new(
                    p,
                    SgdConfig {
                        lr: 0.02,
                        momentum: 0.9,
                        nesterov: true,
                        weight_decay: 0.01,
                        ..Default::default()
                    },
                )
                .unwrap(),
            )
        }),
        ("adam amsgrad", |p| {
            Box::new(
                Adam::new(
                    p,
                    AdamConfig {
                        lr: 0.05,
                        amsgrad: true,
                        weight_decay: 0.01,
                        ..Default::default()
                    },
                )
                .unwrap(),
            )
        }),
        ("adamw", |p| Box::new(adamw(p, |c| c.lr = 0.05).unwrap())),
        ("rmsprop centred momentum", |p| {
            Box::new(
                RmsProp::new(
                    p,
                    RmsPropConfig {
                        momentum: 0.5,
                        centered: true,
                        ..Default::default()
                    },
                )
                .unwrap(),
            )
        }),
        ("rprop", |p| {
            Box::new(Rprop::new(p, RpropConfig::with_lr(0.05)).unwrap())
        }),
        ("quickprop", |p| {
            Box::new(Quickprop::new(p, QuickpropConfig::with_lr(0.1)).unwrap())
        }),
        // Two iterations per step and three curvature pairs: the history wraps before the
        // save and keeps changing after it.
        ("lbfgs", |p| {
            Box::new(Lbfgs::new(p, small_lbfgs(LineSearch::None)).unwrap())
        }),
        ("lbfgs strong_wolfe", |p| {
            Box::new(Lbfgs::new(p, small_lbfgs(LineSearch::StrongWolfe)).unwrap())
        }),
    ]
}

fn small_lbfgs(line_search: LineSearch) -> LbfgsConfig {
    LbfgsConfig {
        lr: 0.3,
        max_iter: 2,
        history_size: 3,
        tolerance_grad: 0.0,
        tolerance_change: 0.0,
        line_search,
        ..Default::default()
    }
}

/// Optimiser steps `steps` of the resume test's run, which halves the learning rate before
/// step 3: a run split in two parts must take the same steps as one straight run.
fn run_steps(opt: &mut dyn Optimizer, ps: &[Var<f32>], steps: std::ops::Range<usize>) {
    for step in steps {
        if step == 3 {
            opt.set_learning_rate(opt.learning_rate() * 0.5);
        }
        opt.zero_grad();
        write_gradients(ps);
        // L-BFGS re-evaluates through the objective; the others step from the slots.
        let mut objective = || -> nabla::Result<f64> {
            write_gradients(ps);
            Ok(loss(ps))
        };
        opt.step_with_objective(loss(ps), &mut objective).unwrap();
    }
}

#[test]
fn saved_state_resumes_bit_identically() {
    for (label, make) in factories() {
        // Ten uninterrupted steps, with a learning-rate change after three.
        let straight = problem_params();
        let mut opt = make(straight.clone());
        run_steps(opt.as_mut(), &straight, 0..10);

        // Five steps, save through JSON, a fresh optimiser over fresh parameters, five more.
        let first_half = problem_params();
        let mut opt = make(first_half.clone());
        run_steps(opt.as_mut(), &first_half, 0..5);
        let saved = OptimizerState::from_json(&opt.state().to_json().unwrap()).unwrap();
        assert_eq!(
            saved,
            opt.state(),
            "{label}: JSON round trip changed the state"
        );
        assert_eq!(saved.step, 5);
        assert_eq!(saved.param_steps, vec![5, 5]);

        let resumed = problem_params();
        for (dst, src) in resumed.iter().zip(&first_half) {
            dst.set_value(src.value().clone()).unwrap();
        }
        let mut opt = make(resumed.clone());
        opt.load_state(&saved).unwrap();
        assert_eq!(opt.learning_rate(), saved.lr, "{label}: lr not restored");
        run_steps(opt.as_mut(), &resumed, 5..10);
        assert_eq!(
            bits(&resumed),
            bits(&straight),
            "{label}: resumed run diverged"
        );
        assert_eq!(opt.state().step, 10);
    }
}

#[test]
fn state_names_buffers_by_parameter() {
    let ps = problem_params();
    let mut opt = adam(ps.clone(), |c| c.amsgrad = true).unwrap();
    assert!(
        opt.state().buffers.is_empty(),
        "no buffers before the first step"
    );
    write_gradients(&ps);
    opt.step().unwrap();
    let state = opt.state();
    let names: Vec<&str> = state.buffers().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.exp_avg",
            "0.exp_avg_sq",
            "0.max_exp_avg_sq",
            "1.exp_avg",
            "1.exp_avg_sq",
            "1.max_exp_avg_sq"
        ]
    );
    // After one step from zero: m = (1 − β₁)g, v = (1 − β₂)g².
    let g = ps[1].grad().unwrap();
    let (_, m) = state.buffers().find(|(n, _)| *n == "1.exp_avg").unwrap();
    for (&mi, &gi) in m.iter().zip(g.data()) {
        assert!((mi as f64 - 0.1 * gi as f64).abs() <= 1e-6 * (gi.abs() as f64).max(1.0));
    }
    assert_eq!(state.shapes, vec![vec![2, 3], vec![3]]);
}

fn expect_param_error(result: nabla::Result<()>, needle: &str) {
    match result {
        Err(Error::Param { name, msg }) => {
            let text = format!("{name}: {msg}");
            assert!(
                text.contains(needle),
                "error {text:?} should mention {needle:?}"
            );
        }
        other => panic!("expected Error::Param mentioning {needle:?}, got {other:?}"),
    }
}

fn trained_state<O: Optimizer>(opt: &mut O, ps: &[Var<f32>]) -> OptimizerState {
    write_gradients(ps);
    opt.step().unwrap();
    opt.state()
}

#[test]
fn load_state_rejects_mismatches_and_changes_nothing() {
    let ps = problem_params();
    let mut trained = Adam::new(ps.clone(), AdamConfig::default()).unwrap();
    let adam_state = trained_state(&mut trained, &ps);

    // Wrong kind.
    let mut rms = RmsProp::new(problem_params(), RmsPropConfig::default()).unwrap();
    let before = rms.state();
    expect_param_error(rms.load_state(&adam_state), "adam");
    assert_eq!(rms.state(), before);

    // Same kind, transposed first parameter.
    let transposed = params(&[(vec![0.0; 6], vec![3, 2]), (vec![0.0; 3], vec![3])]);
    let mut other = Adam::new(transposed, AdamConfig::default()).unwrap();
    let before = other.state();
    expect_param_error(other.load_state(&adam_state), "[3, 2]");
    assert_eq!(other.state(), before);

    // Same kind, one parameter fewer.
    let mut fewer =
        Adam::new(params(&[(vec![0.0; 6], vec![2, 3])]), AdamConfig::default()).unwrap();
    expect_param_error(fewer.load_state(&adam_state), "2 parameters");

    // Tampered buffer length.
    let mut bad = adam_state.clone();
    bad.buffers[1].1.pop();
    let mut fresh = Adam::new(problem_params(), AdamConfig::default()).unwrap();
    expect_param_error(fresh.load_state(&bad), "0.exp_avg_sq");
    assert!(fresh.state().buffers.is_empty());

    // Missing buffer for an updated parameter.
    let mut bad = adam_state.clone();
    bad.buffers.retain(|(n, _)| n != "1.exp_avg");
    expect_param_error(fresh.load_state(&bad), "exp_avg");

    // A buffer this configuration does not use (AMSGrad state into plain Adam).
    let ps2 = problem_params();
    let mut ams = adam(ps2.clone(), |c| c.amsgrad = true).unwrap();
    let ams_state = trained_state(&mut ams, &ps2);
    expect_param_error(fresh.load_state(&ams_state), "max_exp_avg_sq");

    // Momentum state into SGD without momentum.
    let ps3 = problem_params();
    let mut sgd_m = sgd(ps3.clone(), |c| c.momentum = 0.9).unwrap();
    let sgd_state = trained_state(&mut sgd_m, &ps3);
    let mut sgd_plain = Sgd::new(problem_params(), SgdConfig::default()).unwrap();
    expect_param_error(sgd_plain.load_state(&sgd_state), "momentum_buffer");

    // The intact state loads.
    fresh.load_state(&adam_state).unwrap();
    assert_eq!(fresh.state(), adam_state);
}

#[test]
fn invalid_configurations_are_rejected() {
    // Each case: a fresh optimiser from its defaults with one change, and the word its error
    // must contain.
    let fresh = problem_params;
    for lr in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        expect_param_error(sgd(fresh(), |c| c.lr = lr).map(drop), "learning rate");
        expect_param_error(adam(fresh(), |c| c.lr = lr).map(drop), "learning rate");
        expect_param_error(rms(fresh(), |c| c.lr = lr).map(drop), "learning rate");
    }
    let rejected = [
        (sgd(fresh(), |c| c.momentum = 1.0).map(drop), "momentum"),
        (sgd(fresh(), |c| c.momentum = -0.1).map(drop), "momentum"),
        (
            sgd(fresh(), |c| c.weight_decay = -1.0).map(drop),
            "weight decay",
        ),
        (sgd(fresh(), |c| c.nesterov = true).map(drop), "nesterov"),
        (
            sgd(fresh(), |c| {
                (c.nesterov, c.momentum, c.dampening) = (true, 0.9, 0.1)
            })
            .map(drop),
            "dampening",
        ),
        (adam(fresh(), |c| c.betas = (1.0, 0.999)).map(drop), "beta1"),
        (adam(fresh(), |c| c.betas = (0.9, 1.5)).map(drop), "beta2"),
        (adam(fresh(), |c| c.eps = 0.0).map(drop), "eps"),
        (
            adamw(fresh(), |c| c.weight_decay = f64::NAN).map(drop),
            "weight decay",
        ),
        (rms(fresh(), |c| c.alpha = 1.0).map(drop), "alpha"),
        (rms(fresh(), |c| c.momentum = 1.0).map(drop), "momentum"),
        (rms(fresh(), |c| c.eps = -1e-8).map(drop), "eps"),
    ];
    for (result, needle) in rejected {
        expect_param_error(result, needle);
    }
    sgd(fresh(), |c| (c.nesterov, c.momentum) = (true, 0.9)).unwrap();

    // Empty parameter list, and a parameter that is not a leaf.
    expect_param_error(Sgd::new(vec![], SgdConfig::default()).map(|_| ()), "empty");
    let leaf = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
    // Any operation on a parameter gives a value that is not a leaf.
    let computed = leaf.mul_scalar(1.0);
    assert!(!computed.is_leaf());
    expect_param_error(
        Adam::new(vec![computed], AdamConfig::default()).map(|_| ()),
        "leaf",
    );
}

#[test]
fn documented_defaults_are_pytorchs() {
    let a = AdamConfig::default();
    assert_eq!(
        (a.lr, a.betas, a.eps, a.weight_decay, a.amsgrad),
        (1e-3, (0.9, 0.999), 1e-8, 0.0, false)
    );
    let w = AdamWConfig::default();
    assert_eq!(
        (w.lr, w.betas, w.eps, w.weight_decay),
        (1e-3, (0.9, 0.999), 1e-8, 1e-2)
    );
    let r = RmsPropConfig::default();
    assert_eq!(
        (r.lr, r.alpha, r.eps, r.weight_decay, r.momentum, r.centered),
        (1e-2, 0.99, 1e-8, 0.0, 0.0, false)
    );
    let s = SgdConfig::default();
    assert_eq!(
        (s.momentum, s.dampening, s.nesterov, s.weight_decay),
        (0.0, 0.0, false, 0.0)
    );
}

#[test]
fn parameter_without_gradient_is_skipped() {
    let ps = problem_params();
    let mut opt = adam(ps.clone(), |c| c.lr = 0.1).unwrap();
    let untouched = ps[1].value().clone();
    write_gradients(&ps[..1]);
    assert!(ps[1].grad_ref().is_none());
    opt.step().unwrap();
    opt.step().unwrap();
    assert_eq!(
        *ps[1].value(),
        untouched,
        "a parameter without gradient moved"
    );
    assert_ne!(
        values(&ps[..1]),
        values(&problem_params()[..1]),
        "the other one did not move"
    );
    let state = opt.state();
    assert_eq!(state.param_steps, vec![2, 0]);
    assert!(state.buffers().all(|(n, _)| n.starts_with("0.")));

    // Its first update, when a gradient arrives, is Adam's first step (t = 1), the same as a
    // fresh optimiser's over that parameter alone.
    let alone = Var::parameter(untouched.clone());
    let mut fresh = adam(vec![alone.clone()], |c| c.lr = 0.1).unwrap();
    write_gradients(&ps);
    write_gradients(std::slice::from_ref(&alone));
    opt.step().unwrap();
    fresh.step().unwrap();
    assert_eq!(*ps[1].value(), *alone.value());
    assert_eq!(opt.state().param_steps, vec![3, 1]);
}

#[test]
fn zero_grad_zeros_gradients_and_keeps_empty_slots_empty() {
    let ps = problem_params();
    let mut opt = Sgd::new(ps.clone(), SgdConfig::default()).unwrap();
    write_gradients(&ps[..1]);
    assert!(ps[0].grad().unwrap().data().iter().any(|&g| g != 0.0));
    opt.zero_grad();
    let g = ps[0].grad().expect("buffer kept");
    assert_eq!(g.shape(), &[2, 3]);
    assert!(g.data().iter().all(|&x| x == 0.0));
    assert!(ps[1].grad_ref().is_none());
    // A step on zero gradients leaves plain SGD where it was.
    let before = values(&ps);
    opt.step().unwrap();
    assert_eq!(values(&ps), before);
}

#[test]
fn bad_step_inputs_error_without_changing_anything() {
    let ps = problem_params();
    let mut opt = sgd(ps.clone(), |c| c.momentum = 0.9).unwrap();
    write_gradients(&ps);
    let before = values(&ps);

    opt.set_learning_rate(f64::NAN);
    expect_param_error(opt.step(), "learning rate");
    assert_eq!(values(&ps), before);

    opt.set_learning_rate(0.1);
    *ps[1].grad_mut() = Some(Tensor::zeros(&[4]));
    match opt.step() {
        Err(Error::ShapeMismatch { lhs, rhs, .. }) => {
            assert_eq!((lhs, rhs), (vec![3], vec![4]));
        }
        other => panic!("expected a shape mismatch, got {other:?}"),
    }
    assert_eq!(
        values(&ps),
        before,
        "the first parameter must not move either"
    );
    assert_eq!(opt.state().step, 0);
}

#[test]
fn sgd_first_momentum_step_uses_the_raw_gradient() {
    // With dampening τ, PyTorch sets b = g on the first step (not (1 − τ)g), then b = μb + (1 − τ)g.
    let p = Var::parameter(Tensor::from_vec(vec![1.0f32], &[1]).unwrap());
    let cfg = SgdConfig {
        lr: 0.5,
        momentum: 0.5,
        dampening: 0.5,
        ..Default::default()
    };
    let mut opt = Sgd::new(vec![p.clone()], cfg).unwrap();
    *p.grad_mut() = Some(Tensor::from_vec(vec![2.0], &[1]).unwrap());
    opt.step().unwrap(); // b = 2, θ = 1 − 0.5·2 = 0
    assert_eq!(p.value().data(), &[0.0]);
    opt.step().unwrap(); // b = 0.5·2 + 0.5·2 = 2, θ = 0 − 1 = −1
    assert_eq!(p.value().data(), &[-1.0]);
    *p.grad_mut() = Some(Tensor::from_vec(vec![4.0], &[1]).unwrap());
    opt.step().unwrap(); // b = 0.5·2 + 0.5·4 = 3, θ = −1 − 1.5 = −2.5
    assert_eq!(p.value().data(), &[-2.5]);
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

#[test]
fn schedules_match_hand_computed_values() {
    let base = 0.1;
    let step = LrSchedule::StepDecay {
        step_size: 3,
        gamma: 0.5,
    };
    let want = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025];
    for (e, &w) in want.iter().enumerate() {
        assert!(
            close(step.lr_at(base, e), w),
            "step decay epoch {e}: {}",
            step.lr_at(base, e)
        );
    }

    let exp = LrSchedule::Exponential { gamma: 0.9 };
    let want = [0.1, 0.09, 0.081, 0.0729, 0.06561];
    for (e, &w) in want.iter().enumerate() {
        assert!(close(exp.lr_at(base, e), w), "exponential epoch {e}");
    }

    // eta_min + (base − eta_min)(1 + cos(πt/T))/2 with T = 10, eta_min = 0.001:
    // cos(π/5) = (1 + √5)/4, cos(π/2) = 0, cos(π) = −1.
    let cos = LrSchedule::CosineAnnealing {
        t_max: 10,
        eta_min: 0.001,
    };
    let cos_pi_5 = (1.0 + 5f64.sqrt()) / 4.0;
    let expected = [
        (0, 0.1),
        (2, 0.001 + 0.099 * (1.0 + cos_pi_5) / 2.0),
        (5, 0.001 + 0.099 / 2.0),
        (10, 0.001),
        (20, 0.1),
    ];
    for (e, w) in expected {
        let got = cos.lr_at(base, e);
        assert!((got - w).abs() < 1e-15, "cosine epoch {e}: {got} vs {w}");
    }

    // Warm-up over 4 epochs from a quarter of the base rate, then the cosine from its epoch 0.
    let warm = LrSchedule::LinearWarmup {
        warmup_epochs: 4,
        start_factor: 0.25,
        then: Box::new(cos.clone()),
    };
    let want = [0.025, 0.04375, 0.0625, 0.08125, 0.1];
    for (e, &w) in want.iter().enumerate() {
        assert!(
            close(warm.lr_at(base, e), w),
            "warm-up epoch {e}: {}",
            warm.lr_at(base, e)
        );
    }
    assert!((warm.lr_at(base, 9) - cos.lr_at(base, 5)).abs() < 1e-18);
    assert_eq!(LrSchedule::default().lr_at(base, 1000), base);
}

#[test]
fn schedules_validate_apply_and_serialise() {
    assert!(LrSchedule::StepDecay {
        step_size: 0,
        gamma: 0.5
    }
    .validate()
    .is_err());
    assert!(LrSchedule::Exponential { gamma: 0.0 }.validate().is_err());
    assert!(LrSchedule::Exponential { gamma: f64::NAN }
        .validate()
        .is_err());
    assert!(LrSchedule::CosineAnnealing {
        t_max: 0,
        eta_min: 0.0
    }
    .validate()
    .is_err());
    assert!(LrSchedule::CosineAnnealing {
        t_max: 5,
        eta_min: -1.0
    }
    .validate()
    .is_err());
    let bad_inner = LrSchedule::LinearWarmup {
        warmup_epochs: 2,
        start_factor: 0.5,
        then: Box::new(LrSchedule::Exponential { gamma: -1.0 }),
    };
    assert!(matches!(bad_inner.validate(), Err(Error::Param { .. })));
    for start_factor in [0.0, 1.5] {
        let s = LrSchedule::LinearWarmup {
            warmup_epochs: 2,
            start_factor,
            then: Box::default(),
        };
        assert!(s.validate().is_err());
    }
    let good = LrSchedule::LinearWarmup {
        warmup_epochs: 2,
        start_factor: 0.5,
        then: Box::new(LrSchedule::StepDecay {
            step_size: 2,
            gamma: 0.1,
        }),
    };
    good.validate().unwrap();

    let mut opt = sgd(problem_params(), |c| c.lr = 0.2).unwrap();
    let lr = good.apply(&mut opt, 0.2, 1);
    assert!(close(lr, 0.15));
    assert_eq!(opt.learning_rate(), lr);

    let text = serde_json::to_string(&good).unwrap();
    let back: LrSchedule = serde_json::from_str(&text).unwrap();
    assert_eq!(back, good);
}

#[test]
fn lbfgs_state_is_checked_before_it_is_loaded() {
    let ps = problem_params();
    let mut opt = Lbfgs::new(ps.clone(), small_lbfgs(LineSearch::None)).unwrap();
    run_steps(&mut opt, &ps, 0..4);
    let state = opt.state();
    assert_eq!(
        state
            .scalars
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["t", "prev_loss", "n_iter", "func_evals"]
    );
    // Three curvature pairs after eight iterations (the history holds three).
    assert!(state
        .buffers()
        .any(|(n, d)| n == "lbfgs.ro" && d.len() == 3));

    // A smaller history cannot take three pairs.
    let mut small = Lbfgs::new(
        problem_params(),
        LbfgsConfig {
            history_size: 2,
            ..small_lbfgs(LineSearch::None)
        },
    )
    .unwrap();
    let before = small.state();
    expect_param_error(small.load_state(&state), "history size is 2");
    assert_eq!(small.state(), before);

    // A missing pair, a missing scalar.
    let mut fresh = Lbfgs::new(problem_params(), small_lbfgs(LineSearch::None)).unwrap();
    let mut broken = state.clone();
    broken.buffers.retain(|(n, _)| n != "lbfgs.s.1");
    expect_param_error(fresh.load_state(&broken), "buffers");
    let mut broken = state.clone();
    broken.scalars.retain(|(n, _)| n != "prev_loss");
    expect_param_error(fresh.load_state(&broken), "prev_loss");
    // The intact state loads.
    fresh.load_state(&state).unwrap();
    assert_eq!(fresh.state(), state);
}
