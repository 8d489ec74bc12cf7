//! Losses: values against hand computations, gradients against hand-derived formulas and
//! against finite differences (f64), stability at huge logits, and shape/index errors.

use nabla::autograd::{gradcheck, Var};
use nabla::loss::{bce_with_logits, cross_entropy, mse, sse};
use nabla::Tensor;
use proptest::prelude::*;

fn t(v: &[f64], s: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn sse_and_mse_values_and_gradients() {
    let y = Var::parameter(t(&[1.0, 2.0, -1.0, 0.5], &[2, 2]));
    let target = Var::constant(t(&[0.0, 2.5, 1.0, 0.5], &[2, 2]));
    // Σ (y − t)² = 1 + 0.25 + 4 + 0 = 5.25.
    let l = sse(&y, &target).unwrap();
    assert_eq!(l.value().item().unwrap(), 5.25);
    l.backward().unwrap();
    assert_eq!(y.grad().unwrap().data(), &[2.0, -1.0, -4.0, 0.0]);
    y.zero_grad();
    let l = mse(&y, &target).unwrap();
    assert_eq!(l.value().item().unwrap(), 5.25 / 4.0);
    l.backward().unwrap();
    assert_eq!(y.grad().unwrap().data(), &[0.5, -0.25, -1.0, 0.0]);
    assert!(sse(&y, &Var::constant(t(&[1.0], &[1]))).is_err());
}

#[test]
fn bce_with_logits_matches_definition_and_gradient() {
    let xs = [0.3, -2.0, 4.0, 0.0];
    let ts = [1.0, 0.0, 0.25, 1.0];
    let x = Var::parameter(t(&xs, &[4]));
    let l = bce_with_logits(&x, &Var::constant(t(&ts, &[4]))).unwrap();
    let want: f64 = xs
        .iter()
        .zip(&ts)
        .map(|(&x, &t)| -(t * sigmoid(x).ln() + (1.0 - t) * (1.0 - sigmoid(x)).ln()))
        .sum::<f64>()
        / 4.0;
    assert!((l.value().item().unwrap() - want).abs() < 1e-14);
    l.backward().unwrap();
    for (i, (&x0, &t0)) in xs.iter().zip(&ts).enumerate() {
        let want = (sigmoid(x0) - t0) / 4.0;
        assert!((x.grad().unwrap().data()[i] - want).abs() < 1e-15);
    }
    // Huge logits: finite, and a confident correct prediction costs ~0.
    let big = Var::parameter(t(&[1e4, -1e4], &[2]));
    let l = bce_with_logits(&big, &Var::constant(t(&[1.0, 0.0], &[2]))).unwrap();
    assert_eq!(l.value().item().unwrap(), 0.0);
    let l = bce_with_logits(&big, &Var::constant(t(&[0.0, 1.0], &[2]))).unwrap();
    assert_eq!(l.value().item().unwrap(), 1e4);
    l.backward().unwrap();
    assert_eq!(big.grad().unwrap().data(), &[0.5, -0.5]);
    assert!(bce_with_logits(&big, &Var::constant(t(&[1.0], &[1]))).is_err());
}

#[test]
fn cross_entropy_values_and_gradient_formula() {
    // Uniform logits: loss ln c.
    let c = 5;
    let z = Var::parameter(Tensor::<f64>::full(&[3, c], 0.7));
    let l = cross_entropy(&z, &[0, 4, 2]).unwrap();
    assert!((l.value().item().unwrap() - (c as f64).ln()).abs() < 1e-14);
    // ∂L/∂logits = (softmax − onehot)/n, computed here by hand.
    let logits = [1.0, 2.0, 0.5, -1.0, 0.0, 3.0];
    let classes = [2usize, 0];
    let x = Var::parameter(t(&logits, &[2, 3]));
    let l = cross_entropy(&x, &classes).unwrap();
    let mut want_loss = 0.0;
    let g = x.grad();
    assert!(g.is_none());
    l.backward().unwrap();
    let g = x.grad().unwrap();
    for i in 0..2 {
        let row = &logits[i * 3..i * 3 + 3];
        let denom: f64 = row.iter().map(|v| v.exp()).sum();
        want_loss += -(row[classes[i]].exp() / denom).ln() / 2.0;
        for (j, &z) in row.iter().enumerate() {
            let onehot = if j == classes[i] { 1.0 } else { 0.0 };
            let want = (z.exp() / denom - onehot) / 2.0;
            assert!((g.data()[i * 3 + j] - want).abs() < 1e-15);
        }
    }
    assert!((l.value().item().unwrap() - want_loss).abs() < 1e-14);
}

#[test]
fn cross_entropy_survives_huge_logits() {
    let x =
        Var::parameter(Tensor::from_vec(vec![1e4f32, -1e4, 0.0, -1e4, 1e4, 0.0], &[2, 3]).unwrap());
    let l = cross_entropy(&x, &[1, 0]).unwrap();
    let v = l.value().item().unwrap();
    assert!(v.is_finite());
    // Each row: true class 2e4 below the max.
    assert!((v - 2e4).abs() < 1.0, "{v}");
    l.backward().unwrap();
    let g = x.grad().unwrap();
    assert!(g.data().iter().all(|v| v.is_finite()));
    assert_eq!(g.data(), &[0.5, -0.5, 0.0, -0.5, 0.5, 0.0]);
}

#[test]
fn cross_entropy_rejects_bad_input() {
    let x = Var::parameter(Tensor::<f64>::zeros(&[2, 3]));
    assert!(cross_entropy(&x, &[0]).is_err());
    let msg = cross_entropy(&x, &[0, 3]).unwrap_err().to_string();
    assert!(msg.contains("cross_entropy") && msg.contains('3'), "{msg}");
    assert!(cross_entropy(&Var::parameter(Tensor::<f64>::zeros(&[3])), &[0, 0, 0]).is_err());
    assert!(cross_entropy(&Var::parameter(Tensor::<f64>::zeros(&[0, 3])), &[]).is_err());
}

fn matrix(lo: f64, hi: f64) -> impl Strategy<Value = Tensor<f64>> {
    (1usize..4, 1usize..4).prop_flat_map(move |(n, c)| {
        prop::collection::vec(lo..hi, n * c)
            .prop_map(move |v| Tensor::from_vec(v, &[n, c]).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn squared_errors_gradcheck(pair in matrix(-2.0, 2.0).prop_flat_map(|a| { let s = a.shape().to_vec(); let n = a.len(); (Just(a), prop::collection::vec(-2.0..2.0f64, n).prop_map(move |v| Tensor::from_vec(v, &s).unwrap())) })) {
        let inputs = [pair.0, pair.1];
        gradcheck(|v| sse(&v[0], &v[1]), &inputs, 1e-6).unwrap().assert_below(1e-6).unwrap();
        gradcheck(|v| mse(&v[0], &v[1]), &inputs, 1e-6).unwrap().assert_below(1e-6).unwrap();
    }

    #[test]
    fn bce_gradcheck(pair in matrix(-4.0, 4.0).prop_flat_map(|a| { let s = a.shape().to_vec(); let n = a.len(); (Just(a), prop::collection::vec(0.0..1.0f64, n).prop_map(move |v| Tensor::from_vec(v, &s).unwrap())) })) {
        gradcheck(|v| bce_with_logits(&v[0], &v[1]), &[pair.0, pair.1], 1e-6).unwrap().assert_below(1e-6).unwrap();
    }

    #[test]
    fn cross_entropy_gradcheck((x, classes) in matrix(-3.0, 3.0).prop_flat_map(|a| { let (n, c) = (a.shape()[0], a.shape()[1]); (Just(a), prop::collection::vec(0..c, n)) })) {
        gradcheck(|v| cross_entropy(&v[0], &classes), std::slice::from_ref(&x), 1e-6).unwrap().assert_below(1e-6).unwrap();
        // The fused rule agrees with the composed log_softmax → select → mean graph.
        gradcheck(|v| Ok(v[0].log_softmax(1)?.select_by_index(&classes)?.mean().neg()), &[x], 1e-6).unwrap().assert_below(1e-6).unwrap();
    }
}
