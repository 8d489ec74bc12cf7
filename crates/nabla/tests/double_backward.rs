//! Second derivatives (double backward) held to an independent route: for every op with a graph
//! rule, the Hessian-vector product from [`hessian_vector_product`] against central finite
//! differences of the first-order gradient (which [`Var::backward`] computes with the tensor
//! rules, not the graph ones), in f64, on random inputs and random directions. The gradient
//! that [`Var::grad_graph`] puts on the tape is also checked against [`Var::backward`]'s, since
//! each rule exists in both forms. Then a small MLP's cross-entropy loss, and the typed error of
//! an op without a graph rule.

use nabla::autograd::{hessian, hessian_vector_product, Rule, Var};
use nabla::loss::{bce_with_logits, cross_entropy, mse, sse};
use nabla::nn::{Activation, Dropout, Init, Linear, MlpConfig, Sequential};
use nabla::rng::Rng;
use nabla::{Error, Result, Tensor};
use proptest::prelude::*;

/// The finite-difference step along the direction, and the tolerance on
/// |a − n| / max(1, |a|, |n|).
const EPS: f64 = 1e-5;
const TOL: f64 = 1e-6;

/// An op under test: its inputs' shapes, where their values are drawn, and the op.
struct Case {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    /// Maps a uniform draw in [−1, 1] into the op's smooth domain.
    domain: fn(f64) -> f64,
    op: fn(&[Var<f64>]) -> Result<Var<f64>>,
}

fn anywhere(u: f64) -> f64 {
    1.5 * u
}
fn positive(u: f64) -> f64 {
    0.4 + 1.2 * (u + 1.0)
}
/// Away from 0 (the kinks of abs, relu, leaky relu), either sign.
fn off_zero(u: f64) -> f64 {
    u.signum() * (0.2 + u.abs())
}
fn inside_unit(u: f64) -> f64 {
    0.8 * u
}

const CASES: &[Case] = &[
    Case {
        name: "add (broadcast)",
        shapes: &[&[2, 3], &[3]],
        domain: anywhere,
        op: |v| v[0].add(&v[1]),
    },
    Case {
        name: "sub (broadcast)",
        shapes: &[&[3], &[2, 3]],
        domain: anywhere,
        op: |v| v[0].sub(&v[1]),
    },
    Case {
        name: "mul (broadcast)",
        shapes: &[&[2, 3], &[2, 1]],
        domain: anywhere,
        op: |v| v[0].mul(&v[1]),
    },
    Case {
        name: "div",
        shapes: &[&[2, 3], &[2, 3]],
        domain: off_zero,
        op: |v| v[0].div(&v[1]),
    },
    Case {
        name: "div (broadcast)",
        shapes: &[&[3], &[2, 3]],
        domain: positive,
        op: |v| v[0].div(&v[1]),
    },
    Case {
        name: "matmul",
        shapes: &[&[2, 3], &[3, 4]],
        domain: anywhere,
        op: |v| v[0].matmul(&v[1]),
    },
    Case {
        name: "neg",
        shapes: &[&[4]],
        domain: anywhere,
        op: |v| Ok(v[0].neg()),
    },
    Case {
        name: "add_scalar",
        shapes: &[&[4]],
        domain: anywhere,
        op: |v| Ok(v[0].add_scalar(0.7)),
    },
    Case {
        name: "mul_scalar",
        shapes: &[&[4]],
        domain: anywhere,
        op: |v| Ok(v[0].mul_scalar(-1.3)),
    },
    Case {
        name: "sum",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| Ok(v[0].sum()),
    },
    Case {
        name: "mean",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| Ok(v[0].mean()),
    },
    Case {
        name: "sum_axis",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| v[0].sum_axis(1, false),
    },
    Case {
        name: "mean_axis",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| v[0].mean_axis(0, true),
    },
    Case {
        name: "max_axis",
        shapes: &[&[3, 4]],
        domain: anywhere,
        op: |v| v[0].max_axis(1, false),
    },
    Case {
        name: "sum_to_shape",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| v[0].sum_to_shape(&[3]),
    },
    Case {
        name: "broadcast_to",
        shapes: &[&[3]],
        domain: anywhere,
        op: |v| v[0].broadcast_to(&[2, 3]),
    },
    Case {
        name: "transpose",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| v[0].transpose(),
    },
    Case {
        name: "reshape",
        shapes: &[&[2, 3]],
        domain: anywhere,
        op: |v| v[0].reshape(&[3, 2]),
    },
    Case {
        name: "exp",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].exp()),
    },
    Case {
        name: "ln",
        shapes: &[&[5]],
        domain: positive,
        op: |v| Ok(v[0].ln()),
    },
    Case {
        name: "sqrt",
        shapes: &[&[5]],
        domain: positive,
        op: |v| Ok(v[0].sqrt()),
    },
    Case {
        name: "abs",
        shapes: &[&[5]],
        domain: off_zero,
        op: |v| Ok(v[0].abs()),
    },
    Case {
        name: "sin",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].sin()),
    },
    Case {
        name: "cos",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].cos()),
    },
    Case {
        name: "tan",
        shapes: &[&[5]],
        domain: inside_unit,
        op: |v| Ok(v[0].tan()),
    },
    Case {
        name: "asin",
        shapes: &[&[5]],
        domain: inside_unit,
        op: |v| Ok(v[0].asin()),
    },
    Case {
        name: "acos",
        shapes: &[&[5]],
        domain: inside_unit,
        op: |v| Ok(v[0].acos()),
    },
    Case {
        name: "atan",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].atan()),
    },
    Case {
        name: "sigmoid",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].sigmoid()),
    },
    Case {
        name: "tanh",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].tanh()),
    },
    Case {
        name: "relu",
        shapes: &[&[5]],
        domain: off_zero,
        op: |v| Ok(v[0].relu()),
    },
    Case {
        name: "leaky_relu",
        shapes: &[&[5]],
        domain: off_zero,
        op: |v| Ok(v[0].leaky_relu(0.1)),
    },
    Case {
        name: "softplus",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].softplus()),
    },
    Case {
        name: "powf 3",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].powf(3.0)),
    },
    Case {
        name: "powf -1.5",
        shapes: &[&[5]],
        domain: positive,
        op: |v| Ok(v[0].powf(-1.5)),
    },
    Case {
        name: "powf 0",
        shapes: &[&[5]],
        domain: anywhere,
        op: |v| Ok(v[0].powf(0.0)),
    },
    Case {
        name: "pow (broadcast)",
        shapes: &[&[2, 3], &[3]],
        domain: positive,
        op: |v| v[0].pow(&v[1]),
    },
    Case {
        name: "softmax",
        shapes: &[&[2, 4]],
        domain: anywhere,
        op: |v| v[0].softmax(1),
    },
    Case {
        name: "log_softmax",
        shapes: &[&[2, 4]],
        domain: anywhere,
        op: |v| v[0].log_softmax(1),
    },
    Case {
        name: "select_by_index",
        shapes: &[&[3, 4]],
        domain: anywhere,
        op: |v| v[0].select_by_index(&[2, 0, 3]),
    },
    Case {
        name: "scatter_by_index",
        shapes: &[&[3]],
        domain: anywhere,
        op: |v| v[0].scatter_by_index(&[1, 1, 0], 2),
    },
    Case {
        name: "sse",
        shapes: &[&[2, 3], &[2, 3]],
        domain: anywhere,
        op: |v| sse(&v[0], &v[1]),
    },
    Case {
        name: "mse",
        shapes: &[&[2, 3], &[2, 3]],
        domain: anywhere,
        op: |v| mse(&v[0], &v[1]),
    },
    Case {
        name: "bce_with_logits",
        shapes: &[&[2, 3], &[2, 3]],
        domain: anywhere,
        op: |v| bce_with_logits(&v[0], &v[1]),
    },
    Case {
        name: "cross_entropy",
        shapes: &[&[3, 4]],
        domain: anywhere,
        op: |v| cross_entropy(&v[0], &[1, 3, 0]),
    },
];

fn random_tensor(rng: &mut Rng, shape: &[usize], domain: fn(f64) -> f64) -> Tensor<f64> {
    let n = shape.iter().product();
    let data = (0..n).map(|_| domain(rng.uniform(-1.0, 1.0))).collect();
    Tensor::from_vec(data, shape).unwrap()
}

/// A scalar of the op's output `u` that is curved in `u` too (Σ c⊙u⊙u + Σ d⊙u with random
/// constants), so the Hessian involves the op's derivative and, for nonlinear ops, its second
/// derivative, and a wrong permutation of entries shows.
fn objective(u: &Var<f64>, seed: u64) -> Result<Var<f64>> {
    let mut rng = Rng::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let shape = u.shape();
    let c = Var::constant(random_tensor(&mut rng, &shape, anywhere));
    let d = Var::constant(random_tensor(&mut rng, &shape, anywhere));
    u.mul(u)?.mul(&c)?.sum().add(&u.mul(&d)?.sum())
}

/// A scalar function of the parameters.
type ScalarFn<'a> = dyn Fn(&[Var<f64>]) -> Result<Var<f64>> + 'a;

/// The first-order gradient by the tensor rules ([`Var::backward`]).
fn gradient(f: &ScalarFn<'_>, x: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let leaves: Vec<Var<f64>> = x.iter().map(|t| Var::parameter(t.clone())).collect();
    f(&leaves).unwrap().backward().unwrap();
    leaves
        .iter()
        .zip(x)
        .map(|(l, t)| l.grad().unwrap_or_else(|| Tensor::zeros(t.shape())))
        .collect()
}

/// (∇f(x + εv) − ∇f(x − εv)) / 2ε, an O(ε²) estimate of H·v.
fn fd_hvp(f: &ScalarFn<'_>, x: &[Tensor<f64>], v: &[Tensor<f64>]) -> Vec<Tensor<f64>> {
    let shifted = |s: f64| -> Vec<Tensor<f64>> {
        x.iter()
            .zip(v)
            .map(|(x, v)| x.add(&v.mul_scalar(s)).unwrap())
            .collect()
    };
    let plus = gradient(f, &shifted(EPS));
    let minus = gradient(f, &shifted(-EPS));
    plus.iter()
        .zip(&minus)
        .map(|(p, m)| p.sub(m).unwrap().mul_scalar(0.5 / EPS))
        .collect()
}

/// Largest |a − n| / max(1, |a|, |n|) over every element.
fn max_error(a: &[Tensor<f64>], n: &[Tensor<f64>]) -> f64 {
    a.iter()
        .zip(n)
        .flat_map(|(a, n)| a.data().iter().zip(n.data()))
        .map(|(&a, &n)| {
            let e = (a - n).abs() / 1f64.max(a.abs()).max(n.abs());
            if e.is_nan() {
                f64::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f64::max)
}

/// Checks one op at one random point and direction; returns the HVP error.
fn check_case(case: &Case, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let x: Vec<Tensor<f64>> = case
        .shapes
        .iter()
        .map(|s| random_tensor(&mut rng, s, case.domain))
        .collect();
    let v: Vec<Tensor<f64>> = case
        .shapes
        .iter()
        .map(|s| random_tensor(&mut rng, s, anywhere))
        .collect();
    let f = |p: &[Var<f64>]| objective(&(case.op)(p)?, seed);

    // The graph form of the gradient equals the tensor form.
    let leaves: Vec<Var<f64>> = x.iter().map(|t| Var::parameter(t.clone())).collect();
    let on_tape: Vec<Tensor<f64>> = f(&leaves)
        .unwrap()
        .grad_graph(&leaves)
        .unwrap()
        .iter()
        .map(|g| g.value().clone())
        .collect();
    let first = gradient(&f, &x);
    let e = max_error(&on_tape, &first);
    assert!(
        e <= 1e-12,
        "{}: grad_graph vs backward error {e:e}",
        case.name
    );

    let hv = hessian_vector_product(f, &x, &v).unwrap();
    let fd = fd_hvp(&f, &x, &v);
    let e = max_error(&hv, &fd);
    assert!(
        e <= TOL,
        "{}: H·v error {e:e}\n  autograd {:?}\n  finite differences {:?}",
        case.name,
        hv.iter().map(|t| t.data().to_vec()).collect::<Vec<_>>(),
        fd.iter().map(|t| t.data().to_vec()).collect::<Vec<_>>()
    );
    e
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn every_op_hessian_vector_product_matches_finite_differences(seed in any::<u64>()) {
        for case in CASES {
            check_case(case, seed);
        }
    }
}

/// A two-layer tanh MLP on a fixed batch, parameters [W1 (5×3), b1 (5), W2 (4×5), b2 (4)],
/// with the mean cross-entropy of its logits: the loss of a small classifier.
fn mlp_loss(p: &[Var<f64>]) -> Result<Var<f64>> {
    let mut rng = Rng::new(99);
    let x = Var::constant(random_tensor(&mut rng, &[6, 3], anywhere));
    let hidden = x.matmul(&p[0].transpose()?)?.add(&p[1])?.tanh();
    let logits = hidden.matmul(&p[2].transpose()?)?.add(&p[3])?;
    cross_entropy(&logits, &[0, 3, 1, 2, 2, 1])
}

const MLP_SHAPES: [&[usize]; 4] = [&[5, 3], &[5], &[4, 5], &[4]];

#[test]
fn mlp_cross_entropy_hessian_vector_product_matches_finite_differences() {
    let mut worst: f64 = 0.0;
    for seed in 0..10 {
        let mut rng = Rng::new(seed);
        let params: Vec<Tensor<f64>> = MLP_SHAPES
            .iter()
            .map(|s| random_tensor(&mut rng, s, anywhere))
            .collect();
        let v: Vec<Tensor<f64>> = MLP_SHAPES
            .iter()
            .map(|s| random_tensor(&mut rng, s, anywhere))
            .collect();
        let hv = hessian_vector_product(mlp_loss, &params, &v).unwrap();
        let fd = fd_hvp(&mlp_loss, &params, &v);
        let e = max_error(&hv, &fd);
        assert!(e <= TOL, "seed {seed}: H·v error {e:e}");
        // Not trivially zero: the loss is curved in every parameter tensor.
        for h in &hv {
            assert!(h.data().iter().any(|&x| x.abs() > 1e-3), "{hv:?}");
        }
        worst = worst.max(e);
    }
    println!("MLP cross-entropy H·v, worst error against finite differences: {worst:e}");
}

#[test]
fn mlp_full_hessian_is_symmetric_and_agrees_with_hessian_vector_products() {
    let mut rng = Rng::new(7);
    let params: Vec<Tensor<f64>> = MLP_SHAPES
        .iter()
        .map(|s| random_tensor(&mut rng, s, anywhere))
        .collect();
    let h = hessian(mlp_loss, &params).unwrap();
    let n = 15 + 5 + 20 + 4;
    assert_eq!(h.shape(), &[n, n]);
    let at = |i: usize, j: usize| h.data()[i * n + j];
    for i in 0..n {
        for j in 0..i {
            assert!(
                (at(i, j) - at(j, i)).abs() <= 1e-12,
                "H[{i}][{j}] {} vs {}",
                at(i, j),
                at(j, i)
            );
        }
    }
    // The output bias enters the logits linearly and the softmax is shift-invariant, so the
    // rows of its block sum to zero: Σ_j ∂²L/∂b2_i∂b2_j = 0.
    for i in 40..44 {
        let row: f64 = (40..44).map(|j| at(i, j)).sum();
        assert!(row.abs() <= 1e-12, "row {i} of the b2 block sums to {row}");
    }
    // H·v from the matrix equals hessian_vector_product.
    let v: Vec<Tensor<f64>> = MLP_SHAPES
        .iter()
        .map(|s| random_tensor(&mut rng, s, anywhere))
        .collect();
    let flat: Vec<f64> = v.iter().flat_map(|t| t.data().to_vec()).collect();
    let hv = hessian_vector_product(mlp_loss, &params, &v).unwrap();
    let hv_flat: Vec<f64> = hv.iter().flat_map(|t| t.data().to_vec()).collect();
    for (i, &got) in hv_flat.iter().enumerate() {
        let row: f64 = (0..n).map(|j| at(i, j) * flat[j]).sum();
        assert!(
            (row - got).abs() <= 1e-12 * (1.0 + row.abs()),
            "{i}: {row} vs {got}"
        );
    }
}

#[test]
fn third_derivatives_come_from_differentiating_again() {
    // f = sin(x)·x²: f‴ = −cos(x)·x² − 6x·sin(x) + 6cos(x).
    let x = Var::parameter(Tensor::scalar(0.7f64));
    let f = x.sin().mul(&x.powf(2.0)).unwrap();
    let d1 = f.grad_graph(std::slice::from_ref(&x)).unwrap().remove(0);
    let d2 = d1.grad_graph(std::slice::from_ref(&x)).unwrap().remove(0);
    let d3 = d2.grad_graph(std::slice::from_ref(&x)).unwrap().remove(0);
    let t: f64 = 0.7;
    let expected = -t.cos() * t * t - 6.0 * t * t.sin() + 6.0 * t.cos();
    assert!((d3.value().item().unwrap() - expected).abs() < 1e-12);
    // grad_graph leaves every `grad` alone.
    assert!(x.grad().is_none());
}

#[test]
fn an_op_without_a_graph_rule_is_named_in_a_typed_error() {
    // A network recorded as layer nodes, with a dropout layer (evaluation mode): dropout has
    // no graph form of its forward pass, so no second derivative.
    let mut rng = Rng::new(4);
    let net = Sequential::<f64>::new(&[3])
        .with(Linear::new(3, 4, Init::XavierUniform, &mut rng).unwrap())
        .with(Dropout::new(0.5, 1).unwrap())
        .with(Linear::new(4, 2, Init::XavierUniform, &mut rng).unwrap());
    let x = Var::constant(Tensor::from_vec(vec![0.3, -1.2, 0.7, 1.1, 0.2, -0.4], &[2, 3]).unwrap());
    let loss = cross_entropy(&net.record(&x).unwrap(), &[1, 0]).unwrap();
    let params: Vec<Var<f64>> = net.named_parameters().into_iter().map(|(_, p)| p).collect();
    match loss.grad_graph(&params) {
        Err(Error::NoDoubleBackward { op }) => assert_eq!(op, "dropout"),
        other => panic!("expected NoDoubleBackward, got {other:?}"),
    }
    // Only the paths to the asked-for inputs are walked: the last layer's parameters are
    // reached without passing through the dropout node.
    let last = &params[2..];
    assert!(loss.grad_graph(last).is_ok());
    // First derivatives still work everywhere.
    loss.backward().unwrap();

    // A user's op given only a tensor rule.
    let twice = |v: &[Var<f64>]| -> Result<Var<f64>> {
        let value = v[0].value().mul_scalar(2.0);
        let rule = Rule::new("double_it", |g: &Tensor<f64>, _inputs, _y, _needs| {
            Ok(vec![Some(g.mul_scalar(2.0))])
        });
        Ok(Var::from_op(value, rule, vec![v[0].clone()])
            .powf(2.0)
            .sum())
    };
    let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let err = hessian_vector_product(twice, std::slice::from_ref(&x), std::slice::from_ref(&x))
        .unwrap_err();
    assert!(
        matches!(err, Error::NoDoubleBackward { op: "double_it" }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "autograd: double_it has no double-backward rule, so its gradient cannot be differentiated again"
    );
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
    let f = |v: &[Var<f64>]| Ok(v[0].powf(3.0).sum());
    // Direction of the wrong shape or number.
    let short = Tensor::from_vec(vec![1.0], &[1]).unwrap();
    assert!(matches!(
        hessian_vector_product(f, std::slice::from_ref(&x), &[short]),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(hessian_vector_product(f, std::slice::from_ref(&x), &[]).is_err());
    // A non-scalar output, and an input that does not require gradients.
    let p = Var::parameter(x.clone());
    assert!(p.exp().grad_graph(std::slice::from_ref(&p)).is_err());
    assert!(p
        .exp()
        .sum()
        .grad_graph(&[Var::constant(x.clone())])
        .is_err());
    // A function that does not depend on an input: zero derivatives, not an error.
    let q = Var::parameter(x.clone());
    let g = p.exp().sum().grad_graph(std::slice::from_ref(&q)).unwrap();
    assert_eq!(g[0].value().data(), &[0.0, 0.0]);
    // A linear function has a zero Hessian.
    let hv = hessian_vector_product(
        |v| Ok(v[0].mul_scalar(3.0).sum()),
        std::slice::from_ref(&x),
        std::slice::from_ref(&x),
    )
    .unwrap();
    assert_eq!(hv[0].data(), &[0.0, 0.0]);
    // Too many elements for the full Hessian.
    let big = Tensor::zeros(&[nabla::autograd::MAX_HESSIAN_SIZE + 1]);
    assert!(matches!(hessian(f, &[big]), Err(Error::Param { .. })));
}

/// The same check over 200 fixed seeds, printing each op's worst error (run with
/// `--nocapture` to see the figures).
#[test]
fn worst_error_per_op_over_fixed_seeds() {
    let mut overall: f64 = 0.0;
    for case in CASES {
        let worst = (0..200)
            .map(|seed| check_case(case, seed))
            .fold(0.0, f64::max);
        println!("{:>18}: worst H·v error {worst:.1e}", case.name);
        overall = overall.max(worst);
    }
    println!("all ops: worst H·v error {overall:.1e}");
}

/// Piecewise-linear ops have second derivative 0 everywhere, their kinks included (where the
/// first derivative follows the first-order conventions: relu′(0) = |x|′(0) = 0,
/// leaky_relu′(0) = alpha).
#[test]
fn piecewise_linear_ops_have_second_derivative_zero_at_and_away_from_their_kinks() {
    type Op = fn(&Var<f64>) -> Var<f64>;
    let ops: [(&str, Op, f64); 3] = [
        ("relu", |x| x.relu(), 0.0),
        ("abs", |x| x.abs(), 0.0),
        ("leaky_relu", |x| x.leaky_relu(0.1), 0.1),
    ];
    for (name, op, slope_at_zero) in ops {
        for t in [-1.5, 0.0, 2.0] {
            let x = Var::parameter(Tensor::scalar(t));
            let d1 = op(&x)
                .grad_graph(std::slice::from_ref(&x))
                .unwrap()
                .remove(0);
            let d2 = d1.grad_graph(std::slice::from_ref(&x)).unwrap().remove(0);
            assert_eq!(d2.value().item().unwrap(), 0.0, "{name}'' at {t}");
            if t == 0.0 {
                assert_eq!(d1.value().item().unwrap(), slope_at_zero, "{name}' at 0");
            }
        }
    }
}

/// A network built from `nn` layers and recorded as one graph node per layer: its loss's
/// H·v by double backward (through each layer's graph forward) against finite differences of
/// the gradient that the layers' own backward passes compute.
#[test]
fn recorded_network_hessian_vector_product_matches_finite_differences_of_the_engine() {
    for activation in [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::LeakyRelu { alpha: 0.1 },
    ] {
        let net = Sequential::<f32>::mlp(
            &MlpConfig::new(3, [5], 3)
                .with_activation(activation)
                .with_seed(11),
        )
        .unwrap()
        .to_f64()
        .unwrap();
        let params: Vec<Var<f64>> = net.named_parameters().into_iter().map(|(_, p)| p).collect();
        let mut rng = Rng::new(12);
        let xs = random_tensor(&mut rng, &[4, 3], anywhere);
        let classes = [2, 0, 1, 2];
        let loss_of = |net: &Sequential<f64>| {
            cross_entropy(&net.record(&Var::constant(xs.clone())).unwrap(), &classes).unwrap()
        };
        let v: Vec<Tensor<f64>> = params
            .iter()
            .map(|p| random_tensor(&mut rng, &p.shape(), anywhere))
            .collect();

        // H·v = ∇(∇L · v), both walks through the recorded layer nodes.
        let grads = loss_of(&net).grad_graph(&params).unwrap();
        let mut dot = Var::scalar(0.0);
        for (g, v) in grads.iter().zip(&v) {
            dot = dot
                .add(&g.mul(&Var::constant(v.clone())).unwrap().sum())
                .unwrap();
        }
        let hv: Vec<Tensor<f64>> = dot
            .grad_graph(&params)
            .unwrap()
            .iter()
            .map(|h| h.value().clone())
            .collect();

        // The engine's gradient at θ ± εv.
        let engine_gradient = |s: f64| -> Vec<Tensor<f64>> {
            let saved: Vec<Tensor<f64>> = params.iter().map(|p| p.value().clone()).collect();
            for (p, v) in params.iter().zip(&v) {
                let moved = p.value().add(&v.mul_scalar(s)).unwrap();
                p.set_value(moved).unwrap();
            }
            for p in &params {
                p.clear_grad();
            }
            loss_of(&net).backward().unwrap();
            let g = params.iter().map(|p| p.grad().unwrap()).collect();
            for (p, t) in params.iter().zip(saved) {
                p.set_value(t).unwrap();
                p.clear_grad();
            }
            g
        };
        let (plus, minus) = (engine_gradient(EPS), engine_gradient(-EPS));
        let fd: Vec<Tensor<f64>> = plus
            .iter()
            .zip(&minus)
            .map(|(p, m)| p.sub(m).unwrap().mul_scalar(0.5 / EPS))
            .collect();
        let e = max_error(&hv, &fd);
        assert!(e <= TOL, "{activation:?}: H·v error {e:e}");
        assert!(
            hv.iter().all(|h| h.data().iter().any(|&x| x.abs() > 1e-4)),
            "{hv:?}"
        );
        println!("recorded {activation:?} network: H·v error {e:.1e}");
    }
}
