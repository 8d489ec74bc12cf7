//! Every differentiable operation checked against central finite differences in f64, over
//! random shapes (extents 1..4) and values kept inside each function's smooth domain; plus the
//! chain-rule bookkeeping (shared subexpressions, accumulation, errors) and the kink conventions.

use nabla::autograd::{gradcheck, no_grad, Var};
use nabla::{Result, Tensor};
use proptest::prelude::*;

const EPS: f64 = 1e-6;
const TOL: f64 = 1e-6;

/// Reduce to a scalar with unequal fixed weights, so every output element's gradient matters and
/// a wrong permutation of gradients would be caught.
fn weighted_sum(y: &Var<f64>) -> Result<Var<f64>> {
    let shape = y.shape();
    let n: usize = shape.iter().product();
    let w: Vec<f64> = (0..n)
        .map(|i| 0.3 + 0.25 * ((i * 7 % 5) as f64) - 0.1 * (i % 3) as f64)
        .collect();
    Ok(y.mul(&Var::constant(Tensor::from_vec(w, &shape)?))?.sum())
}

fn check(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let report = gradcheck(|v| weighted_sum(&f(v)?), inputs, EPS).unwrap();
    report.assert_below(TOL).unwrap();
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 1..=3)
}

fn tensor_in(shape: Vec<usize>, lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec(lo..hi, n).prop_map(move |v| Tensor::from_vec(v, &shape).unwrap())
}

/// Values with lo ≤ |x| ≤ hi and either sign: away from 0 (kinks, poles).
fn tensor_away_from_zero(
    shape: Vec<usize>,
    lo: f64,
    hi: f64,
) -> impl Strategy<Value = Tensor<f64>> {
    let n: usize = shape.iter().product();
    prop::collection::vec((lo..hi, any::<bool>()), n).prop_map(move |v| {
        let data = v
            .into_iter()
            .map(|(m, neg)| if neg { -m } else { m })
            .collect();
        Tensor::from_vec(data, &shape).unwrap()
    })
}

/// Two shapes that broadcast together: the second (or first) has some extents set to 1 and
/// possibly fewer leading axes.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (
        shape_strategy(),
        prop::collection::vec(any::<bool>(), 3),
        prop::collection::vec(any::<bool>(), 3),
        0usize..3,
        any::<bool>(),
    )
        .prop_map(|(base, mask_a, mask_b, drop, swap)| {
            let a: Vec<usize> = base
                .iter()
                .zip(&mask_a)
                .map(|(&d, &m)| if m { 1 } else { d })
                .collect();
            let b: Vec<usize> = base
                .iter()
                .zip(&mask_b)
                .map(|(&d, &m)| if m { 1 } else { d })
                .collect();
            let drop = drop.min(b.len() - 1);
            let b = b[drop..].to_vec();
            if swap {
                (b, a)
            } else {
                (a, b)
            }
        })
}

fn binary_inputs(lo: f64, hi: f64) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    broadcast_pair()
        .prop_flat_map(move |(a, b)| (tensor_in(a, lo, hi), tensor_away_from_zero(b, 0.1, 2.0)))
}

fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn add_sub_mul_div_broadcast((a, b) in binary_inputs(-2.0, 2.0)) {
        let inputs = [a, b];
        check(|v| v[0].add(&v[1]), &inputs);
        check(|v| v[0].sub(&v[1]), &inputs);
        check(|v| v[1].sub(&v[0]), &inputs);
        check(|v| v[0].mul(&v[1]), &inputs);
        check(|v| v[0].div(&v[1]), &inputs);
    }

    #[test]
    fn smooth_unary(x in shape_strategy().prop_flat_map(|s| tensor_in(s, -2.0, 2.0))) {
        let inputs = [x];
        check(|v| Ok(v[0].neg()), &inputs);
        check(|v| Ok(v[0].exp()), &inputs);
        check(|v| Ok(v[0].sin()), &inputs);
        check(|v| Ok(v[0].cos()), &inputs);
        check(|v| Ok(v[0].tanh()), &inputs);
        check(|v| Ok(v[0].sigmoid()), &inputs);
        check(|v| Ok(v[0].softplus()), &inputs);
        check(|v| Ok(v[0].add_scalar(1.5)), &inputs);
        check(|v| Ok(v[0].mul_scalar(-0.7)), &inputs);
        check(|v| Ok(v[0].sub_scalar(0.2).div_scalar(3.0)), &inputs);
    }

    #[test]
    fn tan_inside_its_period(x in shape_strategy().prop_flat_map(|s| tensor_in(s, -1.2, 1.2))) {
        check(|v| Ok(v[0].tan()), &[x]);
    }

    #[test]
    fn inverse_trig_inside_their_domain(x in shape_strategy().prop_flat_map(|s| tensor_in(s, -0.9, 0.9)), w in shape_strategy().prop_flat_map(|s| tensor_in(s, -3.0, 3.0))) {
        check(|v| Ok(v[0].asin()), std::slice::from_ref(&x));
        check(|v| Ok(v[0].acos()), &[x]);
        check(|v| Ok(v[0].atan()), &[w]);
    }

    #[test]
    fn positive_domain_unary(x in shape_strategy().prop_flat_map(|s| tensor_in(s, 0.1, 3.0)), p in prop::sample::select(vec![2.0, 0.5, -1.5, 3.0])) {
        let inputs = [x];
        check(|v| Ok(v[0].ln()), &inputs);
        check(|v| Ok(v[0].log()), &inputs);
        check(|v| Ok(v[0].sqrt()), &inputs);
        check(|v| Ok(v[0].powf(p)), &inputs);
    }

    #[test]
    fn kinked_functions_away_from_kink(x in shape_strategy().prop_flat_map(|s| tensor_away_from_zero(s, 1e-3, 2.0))) {
        let inputs = [x];
        check(|v| Ok(v[0].abs()), &inputs);
        check(|v| Ok(v[0].relu()), &inputs);
        check(|v| Ok(v[0].leaky_relu(0.1)), &inputs);
    }

    #[test]
    fn pow_with_variable_exponent((x, y) in broadcast_pair().prop_flat_map(|(a, b)| (tensor_in(a, 0.2, 3.0), tensor_in(b, -2.0, 2.0)))) {
        check(|v| v[0].pow(&v[1]), &[x, y]);
    }

    #[test]
    fn matmul_transpose_reshape((a, b) in (1usize..4, 1usize..4, 1usize..4).prop_flat_map(|(m, k, n)| (tensor_in(vec![m, k], -2.0, 2.0), tensor_in(vec![k, n], -2.0, 2.0)))) {
        let inputs = [a, b];
        check(|v| v[0].matmul(&v[1]), &inputs);
        check(|v| v[1].transpose()?.matmul(&v[0].transpose()?), &inputs);
        check(|v| v[0].reshape(&[v[0].value().len()])?.sin().reshape(&v[0].shape()), &inputs);
    }

    #[test]
    fn reductions(x in shape_strategy().prop_flat_map(|s| tensor_in(s, -2.0, 2.0)), axis_seed in 0usize..3, keepdim in any::<bool>()) {
        let axis = axis_seed % x.rank();
        let inputs = [x];
        check(|v| Ok(v[0].sum()), &inputs);
        check(|v| Ok(v[0].mean()), &inputs);
        check(|v| v[0].sum_axis(axis, keepdim), &inputs);
        check(|v| v[0].mean_axis(axis, keepdim), &inputs);
        check(|v| v[0].softmax(axis), &inputs);
        check(|v| v[0].log_softmax(axis), &inputs);
    }

    #[test]
    fn max_axis_with_distinct_values(
        (shape, perm) in shape_strategy().prop_flat_map(|s| { let n: usize = s.iter().product(); (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle()) }),
        axis_seed in 0usize..3,
        keepdim in any::<bool>(),
    ) {
        // Distinct values 0.3 apart: no ties within the finite-difference step.
        let x = Tensor::from_vec(perm.iter().map(|&i| i as f64 * 0.3 - 1.0).collect(), &shape).unwrap();
        let axis = axis_seed % x.rank();
        check(|v| v[0].max_axis(axis, keepdim), &[x]);
    }

    #[test]
    fn select_by_index_per_row((x, idx) in (1usize..4, 1usize..4).prop_flat_map(|(n, c)| (tensor_in(vec![n, c], -2.0, 2.0), prop::collection::vec(0..c, n)))) {
        check(|v| v[0].select_by_index(&idx), &[x]);
    }
}

#[test]
fn named_broadcast_cases() {
    let a = t(&[0.5, -1.0, 2.0, 1.5, 0.3, -0.7], &[2, 3]);
    let row = t(&[0.4, -1.3, 0.8], &[3]);
    check(|v| v[0].add(&v[1])?.mul(&v[1]), &[a.clone(), row]);
    let col = t(&[0.7, -1.1], &[2, 1]);
    let wide = t(&[0.2, 0.9, -0.5, 1.4], &[1, 4]);
    check(|v| v[0].mul(&v[1]), &[col.clone(), wide.clone()]);
    check(|v| v[0].div(&v[1]), &[wide, col]);
    let s = Tensor::scalar(1.7);
    check(|v| v[0].sub(&v[1])?.div(&v[1]), &[a, s]);
    // The gradient of a broadcast operand has that operand's shape and sums the copies.
    let x = Var::parameter(t(&[1.0, 2.0, 3.0], &[3]));
    let m = Var::constant(Tensor::ones(&[4, 3]));
    m.add(&x).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[4.0, 4.0, 4.0]);
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let a = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
    let b = Var::parameter(Tensor::<f64>::zeros(&[2]));
    let msg = a.add(&b).unwrap_err().to_string();
    assert!(
        msg.contains("add") && msg.contains("[2, 3]") && msg.contains("[2]"),
        "{msg}"
    );
    assert!(a.matmul(&a).unwrap_err().to_string().contains("matmul"));
    assert!(a.sum_axis(2, false).is_err());
    assert!(a.select_by_index(&[0, 3]).is_err());
    assert!(a.select_by_index(&[0]).is_err());
    assert!(a.reshape(&[4]).is_err());
    assert!(b.transpose().is_err());
}

#[test]
fn shared_subexpressions_sum_their_path_gradients() {
    // y = x·x + sin(x)·x: dy/dx = 2x + cos(x)·x + sin(x).
    let xs = [0.3f64, -1.1, 2.4];
    let x = Var::parameter(t(&xs, &[3]));
    let y = x.mul(&x).unwrap().add(&x.sin().mul(&x).unwrap()).unwrap();
    y.sum().backward().unwrap();
    let g = x.grad().unwrap();
    for (i, &v) in xs.iter().enumerate() {
        let want = 2.0 * v + v.cos() * v + v.sin();
        assert!(
            (g.data()[i] - want).abs() < 1e-12,
            "{} vs {want}",
            g.data()[i]
        );
    }
    // Diamond: a = e^x, b = 3a, c = a², out = b + c: d/dx = (3 + 2a)·a.
    let x = Var::parameter(Tensor::scalar(0.4f64));
    let a = x.exp();
    let out = a.mul_scalar(3.0).add(&a.mul(&a).unwrap()).unwrap();
    let grads = out.backward().unwrap();
    let av = 0.4f64.exp();
    assert!((x.grad().unwrap().item().unwrap() - (3.0 + 2.0 * av) * av).abs() < 1e-12);
    // The intermediate's gradient is reported too: d out / d a = 3 + 2a.
    assert!((grads.get(&a).unwrap().item().unwrap() - (3.0 + 2.0 * av)).abs() < 1e-12);
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let x = Var::parameter(t(&[1.0, -2.0], &[2]));
    let loss = || x.mul(&x).unwrap().sum();
    loss().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[2.0, -4.0]);
    loss().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[4.0, -8.0]);
    x.zero_grad();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 0.0]);
    loss().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[2.0, -4.0]);
}

#[test]
fn backward_misuse_is_an_error() {
    let x = Var::parameter(t(&[1.0, 2.0], &[2]));
    // Non-scalar output without an explicit gradient.
    assert!(x.exp().backward().is_err());
    // A constant output.
    let c = Var::constant(Tensor::scalar(1.0f64));
    assert!(c.exp().backward().is_err());
    // Under no_grad nothing is recorded and backward fails.
    let y = no_grad(|| x.mul(&x).unwrap().sum());
    assert!(!y.requires_grad());
    assert!(y.is_leaf());
    assert!(y.backward().is_err());
    assert!(x.grad().is_none());
}

#[test]
fn kink_conventions_are_pinned() {
    let x = Var::parameter(t(&[0.0, 0.0, 0.0], &[3]));
    let alpha = 0.2;
    let out = x
        .relu()
        .mul_scalar(1.0)
        .add(&x.leaky_relu(alpha).mul_scalar(10.0))
        .unwrap()
        .add(&x.abs().mul_scalar(100.0))
        .unwrap();
    out.sum().backward().unwrap();
    // relu'(0) = 0, leaky'(0) = alpha, |x|'(0) = 0  =>  0 + 10·alpha + 0.
    for &g in x.grad().unwrap().data() {
        assert!((g - 10.0 * alpha).abs() < 1e-15, "{g}");
    }
    // Separately, to see each one alone.
    for (f, want) in [
        (
            Box::new(|v: &Var<f64>| v.relu()) as Box<dyn Fn(&Var<f64>) -> Var<f64>>,
            0.0,
        ),
        (Box::new(move |v: &Var<f64>| v.leaky_relu(alpha)), alpha),
        (Box::new(|v: &Var<f64>| v.abs()), 0.0),
    ] {
        let z = Var::parameter(Tensor::scalar(0.0f64));
        f(&z).backward().unwrap();
        assert_eq!(z.grad().unwrap().item().unwrap(), want);
    }
}

#[test]
fn max_axis_ties_send_gradient_to_first_index() {
    let x = Var::parameter(t(&[1.0, 3.0, 3.0, 2.0, 2.0, 0.0], &[2, 3]));
    x.max_axis(1, false).unwrap().sum().backward().unwrap();
    assert_eq!(x.grad().unwrap().data(), &[0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let x = Var::parameter(t(&[1e4, -1e4, 0.0, 1e4], &[2, 2]));
    let s = x.softmax(1).unwrap();
    let ls = x.log_softmax(1).unwrap();
    assert!(s.value().data().iter().all(|v| v.is_finite()));
    assert!(ls.value().data().iter().all(|v| v.is_finite()));
    ls.sum().backward().unwrap();
    assert!(x.grad().unwrap().data().iter().all(|v| v.is_finite()));
}

#[test]
fn f32_ops_run_too() {
    let x = Var::parameter(Tensor::from_vec(vec![0.5f32, -0.5], &[1, 2]).unwrap());
    let w = Var::parameter(Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap());
    let y = x.matmul(&w).unwrap().sigmoid().sum();
    y.backward().unwrap();
    // y = σ(0.5 − 1.0) = σ(−0.5); dy/dw = σ'(−0.5)·x.
    let s = 1.0 / (1.0 + 0.5f32.exp());
    let d = s * (1.0 - s);
    let gw = w.grad().unwrap();
    assert!((gw.data()[0] - d * 0.5).abs() < 1e-6 && (gw.data()[1] + d * 0.5).abs() < 1e-6);
}
