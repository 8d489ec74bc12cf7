//! Replays the optimiser trajectories of `tests/fixtures/optim/optim_trajectories.json`, written
//! by the independent numpy script `make_fixtures.py` beside it, and compares every parameter
//! after every step.

use nabla::autograd::Var;
use nabla::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};
use nabla::Tensor;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/optim/optim_trajectories.json");

/// |got − want| ≤ REL · max(1, |want|).
const REL: f64 = 1e-6;

struct Problem {
    shapes: Vec<Vec<usize>>,
    init: Vec<Vec<f32>>,
    target: Vec<Vec<f32>>,
    two_a: Vec<Vec<f32>>,
    four_c: f32,
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn nested(v: &Value) -> Vec<Vec<f32>> {
    v.as_array().expect("array").iter().map(f32s).collect()
}

fn problem(root: &Value) -> Problem {
    let p = &root["problem"];
    Problem {
        shapes: p["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s.as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap() as usize)
                    .collect()
            })
            .collect(),
        init: nested(&p["init"]),
        target: nested(&p["target"]),
        two_a: nested(&p["two_a"]),
        four_c: p["four_c"].as_f64().unwrap() as f32,
    }
}

/// g = two_a·(θ − t) + four_c·θ³, in f32 and in the script's order of operations.
fn write_gradients(problem: &Problem, params: &[Var<f32>]) {
    for (k, p) in params.iter().enumerate() {
        let grad: Vec<f32> = {
            let theta = p.value();
            theta
                .data()
                .iter()
                .zip(&problem.target[k])
                .zip(&problem.two_a[k])
                .map(|((&th, &t), &two_a)| two_a * (th - t) + problem.four_c * ((th * th) * th))
                .collect()
        };
        *p.grad_mut() = Some(Tensor::from_vec(grad, &problem.shapes[k]).unwrap());
    }
}

fn build(kind: &str, cfg: &Value, params: Vec<Var<f32>>) -> Box<dyn Optimizer> {
    let f = |key: &str| cfg[key].as_f64().unwrap();
    let b = |key: &str| cfg[key].as_bool().unwrap();
    match kind {
        "sgd" => Box::new(
            Sgd::new(
                params,
                SgdConfig {
                    lr: f("lr"),
                    momentum: f("momentum"),
                    dampening: f("dampening"),
                    nesterov: b("nesterov"),
                    weight_decay: f("weight_decay"),
                },
            )
            .unwrap(),
        ),
        "adam" | "adamw" => {
            let betas = (
                cfg["betas"][0].as_f64().unwrap(),
                cfg["betas"][1].as_f64().unwrap(),
            );
            let adam = AdamConfig {
                lr: f("lr"),
                betas,
                eps: f("eps"),
                weight_decay: f("weight_decay"),
                amsgrad: b("amsgrad"),
            };
            if kind == "adam" {
                Box::new(Adam::new(params, adam).unwrap())
            } else {
                Box::new(AdamW::new(params, AdamWConfig::from(adam)).unwrap())
            }
        }
        "rmsprop" => Box::new(
            RmsProp::new(
                params,
                RmsPropConfig {
                    lr: f("lr"),
                    alpha: f("alpha"),
                    eps: f("eps"),
                    weight_decay: f("weight_decay"),
                    momentum: f("momentum"),
                    centered: b("centered"),
                },
            )
            .unwrap(),
        ),
        other => panic!("unknown optimiser kind {other} in fixture"),
    }
}

#[test]
fn optimisers_follow_the_numpy_reference_trajectories() {
    let root: Value = serde_json::from_str(FIXTURE).unwrap();
    let problem = problem(&root);
    let steps = root["steps"].as_u64().unwrap() as usize;
    let cases = root["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        13,
        "fixture should hold every optimiser variant"
    );
    let mut worst_overall = 0.0f64;
    let mut bit_identical_cases = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        let params: Vec<Var<f32>> = problem
            .init
            .iter()
            .zip(&problem.shapes)
            .map(|(v, s)| Var::parameter(Tensor::from_vec(v.clone(), s).unwrap()))
            .collect();
        let mut opt = build(kind, &case["config"], params.clone());
        assert_eq!(opt.name(), kind);
        let trajectory = case["trajectory"].as_array().unwrap();
        assert_eq!(trajectory.len(), steps);
        let mut worst = 0.0f64;
        let mut exact = true;
        for (step, expected) in trajectory.iter().enumerate() {
            opt.zero_grad();
            write_gradients(&problem, &params);
            opt.step().unwrap();
            for (k, (p, want)) in params.iter().zip(nested(expected)).enumerate() {
                let got = p.value();
                assert_eq!(got.len(), want.len());
                for (j, (&g, &w)) in got.data().iter().zip(&want).enumerate() {
                    let err = (g as f64 - w as f64).abs() / (w as f64).abs().max(1.0);
                    assert!(
                        err <= REL,
                        "{name}: step {} parameter {k} element {j}: got {g}, numpy reference {w} (relative error {err:e})",
                        step + 1
                    );
                    exact &= g.to_bits() == w.to_bits();
                    worst = worst.max(err);
                }
            }
        }
        worst_overall = worst_overall.max(worst);
        bit_identical_cases += usize::from(exact);
        println!(
            "{name:32} max relative error {worst:.3e}{}",
            if exact { " (bit-identical)" } else { "" }
        );
    }
    println!(
        "worst {worst_overall:.3e}; {bit_identical_cases}/{} cases bit-identical",
        cases.len()
    );
}
