//! Conv2d, MaxPool2d and Flatten on the one engine: forward against a direct convolution
//! written here, gradients against finite differences in f64 over several shapes, strides and
//! paddings (rectangular ones included) and over random ones (proptest, with or without bias and
//! pooling), the tie rule of max pooling, and a save/load round
//! trip of a small CNN.

mod common;

use std::collections::BTreeMap;

use nabla::io::{load_model, save_model};
use nabla::loss::{Loss, Targets};
use nabla::nn::{
    Activation, ActivationLayer, Backprop, Conv2d, Conv2dConfig, Flatten, Init, Linear, MaxPool2d,
    Module, Pass, Sequential, Workspace,
};
use nabla::rng::Rng;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.uniform(-1.0, 1.0) as f32).collect()
}

/// y[o][i][j] = b[o] + Σ_c Σ_ky Σ_kx w[o][c][ky][kx] · x[c][i·s + ky − p][j·s + kx − p].
#[allow(clippy::too_many_arguments)]
fn direct_conv(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    weight: &[f32],
    bias: &[f32],
    (o, kh, kw): (usize, usize, usize),
    stride: [usize; 2],
    padding: [usize; 2],
) -> Vec<f32> {
    let oh = (h + 2 * padding[0] - kh) / stride[0] + 1;
    let ow = (w + 2 * padding[1] - kw) / stride[1] + 1;
    let mut y = vec![0.0f32; o * oh * ow];
    for oc in 0..o {
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = bias[oc] as f64;
                for ci in 0..c {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let yy = (i * stride[0] + ky) as isize - padding[0] as isize;
                            let xx = (j * stride[1] + kx) as isize - padding[1] as isize;
                            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                continue;
                            }
                            let xv = x[(ci * h + yy as usize) * w + xx as usize] as f64;
                            let wv = weight[((oc * c + ci) * kh + ky) * kw + kx] as f64;
                            acc += xv * wv;
                        }
                    }
                }
                y[(oc * oh + i) * ow + j] = acc as f32;
            }
        }
    }
    y
}

/// (input [c, h, w], out channels, kernel, stride, padding).
type Case = ([usize; 3], usize, [usize; 2], [usize; 2], [usize; 2]);

const CASES: [Case; 4] = [
    ([1, 5, 5], 2, [3, 3], [1, 1], [0, 0]),
    ([2, 7, 6], 3, [3, 2], [2, 1], [1, 0]),
    ([3, 4, 9], 2, [2, 4], [1, 3], [2, 1]),
    ([2, 6, 6], 4, [1, 1], [2, 2], [0, 1]),
];

/// The convolution of one case, drawn from `seed`.
fn conv_of(&(input, out, kernel, stride, padding): &Case, seed: u64) -> Conv2d {
    Conv2dConfig {
        stride,
        padding,
        kernel,
        ..Conv2dConfig::new(input[0], out, 1)
    }
    .init(&mut Rng::new(seed))
    .unwrap()
}

#[test]
fn conv2d_forward_matches_a_direct_convolution() {
    for (k, &(input, out, kernel, stride, padding)) in CASES.iter().enumerate() {
        let conv = conv_of(&CASES[k], k as u64);
        let shape = conv.output_shape(&input).unwrap();
        let rows = 2;
        let n_in: usize = input.iter().product();
        let n_out: usize = shape.iter().product();
        let x = random(rows * n_in, 10 + k as u64);
        let mut y = vec![0.0f32; rows * n_out];
        let pass = Pass::new(rows, &input, &shape, false);
        let mut scratch = vec![0.0f32; conv.scratch_len(&pass)];
        conv.forward(&x, &mut y, &mut scratch, &pass).unwrap();
        let (w, b) = (conv.weight.value(), conv.bias.as_ref().unwrap().value());
        for s in 0..rows {
            let want = direct_conv(
                &x[s * n_in..(s + 1) * n_in],
                (input[0], input[1], input[2]),
                w.data(),
                b.data(),
                (out, kernel[0], kernel[1]),
                stride,
                padding,
            );
            for (g, e) in y[s * n_out..(s + 1) * n_out].iter().zip(&want) {
                assert!((g - e).abs() < 1e-5, "case {k}: {g} vs {e}");
            }
        }
    }
}

/// conv → tanh → (2×2 max pooling when it fits) → flatten → linear(3).
fn cnn(case: &Case, seed: u64) -> Sequential {
    let mut rng = Rng::new(seed + 1);
    let mut net = Sequential::new(&case.0)
        .with(conv_of(case, seed))
        .with(ActivationLayer(Activation::Tanh));
    let shape = net.output_shape().unwrap();
    if shape[1] >= 2 && shape[2] >= 2 {
        net.push(MaxPool2d::new(2));
    }
    net.push(Flatten);
    let flat = net.output_size();
    net.push(Linear::new(flat, 3, Init::XavierUniform, &mut rng).unwrap());
    net
}

#[test]
fn cnn_gradients_match_finite_differences_in_f64() {
    for (k, case) in CASES.iter().enumerate() {
        let mut net = cnn(case, 20 + k as u64);
        net.set_training(false);
        let rows = 3;
        let x = random(rows * net.input_size(), 30 + k as u64);
        let classes = [0u32, 2, 1];
        let checks = common::classifier_gradients(&net, &x, rows, &classes, 400);
        assert_eq!(checks.len(), 4);
        for c in &checks {
            assert!(c.f64_vs_numeric < 1e-6, "case {k}: {c:?}");
            assert!(c.f32_vs_f64 < 1e-4, "case {k}: {c:?}");
        }
    }
}

#[test]
fn max_pooling_sends_the_gradient_to_the_first_maximum_of_a_tie() {
    let pool = MaxPool2d::new(2);
    let input = [1usize, 2, 4];
    // Window 1: all equal (the first, top-left, wins); window 2: the maximum twice, at the
    // second and fourth place (the second wins).
    let x = [1.0f32, 1.0, 0.0, 5.0, 1.0, 1.0, 2.0, 5.0];
    let shape = <MaxPool2d as Module<f32>>::output_shape(&pool, &input).unwrap();
    assert_eq!(shape, [1, 1, 2]);
    let pass = Pass::new(1, &input, &shape, true);
    let mut scratch = vec![0.0f32; <MaxPool2d as Module<f32>>::scratch_len(&pool, &pass)];
    let mut y = [0.0f32; 2];
    pool.forward(&x, &mut y, &mut scratch, &pass).unwrap();
    assert_eq!(y, [1.0, 5.0]);
    let mut dy = [10.0f32, 20.0];
    let mut dx = [9.0f32; 8];
    let grads = Backprop {
        x: &x,
        y: &y,
        dy: &mut dy,
        dx: Some(&mut dx),
        scratch: &mut scratch,
    };
    pool.backward(grads, &pass).unwrap();
    assert_eq!(dx, [10.0, 0.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn a_cnn_trains_a_step_saves_and_reloads_with_its_layers() {
    let net = cnn(&CASES[1], 7);
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "4.weight", "4.bias"]);
    assert_eq!(net.named_parameters()[0].1.shape(), [3, 2, 3, 2]);
    let rows = 4;
    let x = random(rows * net.input_size(), 8);
    let mut ws = Workspace::new(&net, rows).unwrap();
    let l = net
        .loss_backward(
            &mut ws,
            &x,
            rows,
            Targets::Classes(&[0, 1, 2, 1]),
            Loss::CrossEntropy,
        )
        .unwrap();
    assert!(l.is_finite());
    let dir = std::env::temp_dir().join(format!("nabla-cnn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cnn.safetensors");
    let meta = common::classifier_meta(&["a", "b", "c"], &[], "random");
    save_model(&path, &net, &meta, &BTreeMap::new()).unwrap();
    let (back, meta_back, _) = load_model(&path).unwrap();
    assert_eq!(meta_back.input_shape, [2, 7, 6]);
    assert_eq!(back.specs(), net.specs());
    assert_eq!(back.state_dict(), net.state_dict());
    let mut ws2 = Workspace::new(&back, rows).unwrap();
    let mut net_eval = net;
    net_eval.set_training(false);
    let want = net_eval.forward_batch(&mut ws, &x, rows).unwrap().to_vec();
    assert_eq!(back.forward_batch(&mut ws2, &x, rows).unwrap(), &want[..]);
}

fn bn_mlp(seed: u64) -> Sequential {
    let mut rng = Rng::new(seed);
    Sequential::new(&[4])
        .with(Linear::new(4, 5, Init::XavierUniform, &mut rng).unwrap())
        .with(nabla::nn::BatchNormConfig::new(5).init().unwrap())
        .with(ActivationLayer(Activation::Tanh))
        .with(Linear::new(5, 3, Init::XavierUniform, &mut rng).unwrap())
}

#[test]
fn batchnorm_gradients_match_finite_differences_in_training_and_evaluation() {
    let x = random(6 * 4, 41);
    let classes = [0u32, 1, 2, 2, 1, 0];
    for training in [true, false] {
        let mut net = bn_mlp(40);
        net.set_training(training);
        let checks = common::classifier_gradients(&net, &x, 6, &classes, 400);
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
        );
        for c in &checks {
            assert!(c.f64_vs_numeric < 1e-6, "training {training}: {c:?}");
            assert!(c.f32_vs_f64 < 1e-4, "training {training}: {c:?}");
        }
    }
    // BatchNorm2d after a convolution, in training mode.
    let mut rng = Rng::new(43);
    let conv: Conv2d = Conv2dConfig::new(2, 3, 3).init(&mut rng).unwrap();
    let mut cnn = Sequential::new(&[2, 5, 5])
        .with(conv)
        .with(nabla::nn::BatchNormConfig::new(3).init().unwrap())
        .with(ActivationLayer(Activation::Tanh))
        .with(Flatten);
    let flat = cnn.output_size();
    cnn.push(Linear::new(flat, 2, Init::XavierUniform, &mut rng).unwrap());
    let x = random(4 * 50, 44);
    let checks = common::classifier_gradients(&cnn, &x, 4, &[0, 1, 1, 0], 400);
    for c in &checks {
        assert!(c.f64_vs_numeric < 1e-6, "2-D: {c:?}");
    }
}

#[test]
fn batchnorm_running_statistics_and_state_dict_names_follow_pytorch() {
    let bn: nabla::nn::BatchNorm = nabla::nn::BatchNormConfig::new(2).init().unwrap();
    let net = Sequential::new(&[2]).with(bn);
    // Feature 0: 1, 2, 3, 6 (mean 3, biased var 3.5, unbiased 14/3); feature 1: constant 5.
    let x = [1.0f32, 5.0, 2.0, 5.0, 3.0, 5.0, 6.0, 5.0];
    let mut ws = Workspace::new(&net, 4).unwrap();
    let y = net.forward_batch(&mut ws, &x, 4).unwrap().to_vec();
    let inv = 1.0 / (3.5f64 + 1e-5).sqrt();
    assert!((y[0] as f64 - (1.0 - 3.0) * inv).abs() < 1e-6, "{y:?}");
    assert_eq!(y[1], 0.0);
    let sd = net.state_dict();
    let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "0.running_mean",
            "0.running_var",
            "0.num_batches_tracked"
        ]
    );
    let running_mean = sd[2].1.data();
    let running_var = sd[3].1.data();
    assert!((running_mean[0] - 0.3).abs() < 1e-6 && (running_mean[1] - 0.5).abs() < 1e-6);
    assert!((running_var[0] as f64 - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-6);
    assert!((running_var[1] - 0.9).abs() < 1e-6);
    assert_eq!(sd[4].1.data(), [1.0]);
    // Only γ and β are trained.
    assert_eq!(net.named_parameters().len(), 2);
    // Evaluation uses the running statistics.
    let mut net = net;
    net.set_training(false);
    let y = net.forward_batch(&mut ws, &x, 4).unwrap();
    let want = (1.0 - 0.3) / (running_var[0] as f64 + 1e-5).sqrt();
    assert!((y[0] as f64 - want).abs() < 1e-5, "{} vs {want}", y[0]);
}

#[test]
fn average_pooling_forward_and_gradients_with_overlapping_windows() {
    let pool = nabla::nn::AvgPool2d::new(2);
    let input = [1usize, 2, 4];
    let x: Vec<f32> = (1..=8).map(|v| v as f32).collect();
    let shape = <nabla::nn::AvgPool2d as Module<f32>>::output_shape(&pool, &input).unwrap();
    let pass = Pass::new(1, &input, &shape, false);
    let mut y = [0.0f32; 2];
    pool.forward(&x, &mut y, &mut [], &pass).unwrap();
    assert_eq!(
        y,
        [(1.0 + 2.0 + 5.0 + 6.0) / 4.0, (3.0 + 4.0 + 7.0 + 8.0) / 4.0]
    );
    // Overlapping windows (stride 1) after a convolution, against finite differences.
    let mut rng = Rng::new(50);
    let conv: Conv2d = Conv2dConfig::new(1, 2, 2).init(&mut rng).unwrap();
    let mut net = Sequential::new(&[1, 5, 6])
        .with(conv)
        .with(ActivationLayer(Activation::Tanh))
        .with(nabla::nn::AvgPool2d {
            kernel: [2, 3],
            stride: [1, 1],
        })
        .with(Flatten);
    let flat = net.output_size();
    net.push(Linear::new(flat, 2, Init::XavierUniform, &mut rng).unwrap());
    let x = random(3 * 30, 51);
    let checks = common::classifier_gradients(&net, &x, 3, &[1, 0, 1], 400);
    for c in &checks {
        assert!(c.f64_vs_numeric < 1e-6, "{c:?}");
    }
    assert_eq!(net.specs()[2].kind(), "avgpool2d");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 24,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random input shapes, kernels, strides, paddings, bias or none, and a max, average or no
    /// pool after the convolution: the engine's gradients in f64 against central differences,
    /// and f32 against f64.
    #[test]
    fn random_cnns_match_finite_differences(
        (c, h, w) in (1usize..=3, 3usize..=7, 3usize..=7),
        (out, kh, kw) in (1usize..=3, 1usize..=3, 1usize..=3),
        (sy, sx, py, px) in (1usize..=2, 1usize..=2, 0usize..=1, 0usize..=1),
        bias in proptest::bool::ANY,
        pool in 0u8..3,
        seed in 0u64..1000,
    ) {
        let conv = Conv2dConfig {
            kernel: [kh, kw],
            stride: [sy, sx],
            padding: [py, px],
            bias,
            ..Conv2dConfig::new(c, out, 1)
        }
        .init(&mut Rng::new(seed))
        .unwrap();
        let mut net = Sequential::new(&[c, h, w])
            .with(conv)
            .with(ActivationLayer(Activation::Tanh));
        let map = net.output_shape().unwrap();
        if map[1] >= 2 && map[2] >= 2 {
            match pool {
                0 => net.push(MaxPool2d { kernel: [2, 2], stride: [1, 2] }),
                1 => net.push(nabla::nn::AvgPool2d { kernel: [2, 1], stride: [1, 1] }),
                _ => {}
            }
        }
        net.push(Flatten);
        let flat = net.output_size();
        net.push(Linear::new(flat, 3, Init::XavierUniform, &mut Rng::new(seed + 1)).unwrap());
        net.set_training(false);
        let rows = 2;
        let x = random(rows * net.input_size(), seed + 2);
        let checks = common::classifier_gradients(&net, &x, rows, &[2, 0], 200);
        proptest::prop_assert_eq!(checks.len(), if bias { 4 } else { 3 });
        for check in &checks {
            proptest::prop_assert!(check.f64_vs_numeric < 1e-6, "{:?}", check);
            proptest::prop_assert!(check.f32_vs_f64 < 1e-4, "{:?}", check);
        }
    }
}

/// 2×2 max-pooling (its own fast path) against a direct reference on odd sizes (the last row
/// and column dropped), several channels and samples, with many ties: values, and the input
/// each gradient goes to (the first maximum in window order).
#[test]
fn two_by_two_max_pooling_matches_a_direct_reference() {
    let pool = MaxPool2d::new(2);
    let (rows, c, h, w) = (3usize, 2usize, 5usize, 7usize);
    let input = [c, h, w];
    let shape = <MaxPool2d as Module<f32>>::output_shape(&pool, &input).unwrap();
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(shape, [c, oh, ow]);
    let n_in = c * h * w;
    let x: Vec<f32> = (0..rows * n_in)
        .map(|i| ((i * i * 31 + i) % 3) as f32)
        .collect();
    let pass = Pass::new(rows, &input, &shape, true);
    let mut scratch = vec![0.0f32; <MaxPool2d as Module<f32>>::scratch_len(&pool, &pass)];
    let mut y = vec![0.0f32; rows * c * oh * ow];
    pool.forward(&x, &mut y, &mut scratch, &pass).unwrap();
    let mut dy: Vec<f32> = (0..y.len()).map(|i| 1.0 + i as f32).collect();
    let mut dx = vec![9.0f32; x.len()];
    let mut want_dx = vec![0.0f32; x.len()];
    for s in 0..rows {
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = None::<(f32, usize)>;
                    for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let at = s * n_in + ch * h * w + (2 * oy + ky) * w + 2 * ox + kx;
                        if best.is_none_or(|(m, _)| x[at] > m) {
                            best = Some((x[at], at));
                        }
                    }
                    let (m, at) = best.unwrap();
                    let o = ((s * c + ch) * oh + oy) * ow + ox;
                    assert_eq!(y[o], m, "sample {s} channel {ch} window ({oy}, {ox})");
                    want_dx[at] += dy[o];
                }
            }
        }
    }
    let grads = Backprop {
        x: &x,
        y: &y,
        dy: &mut dy,
        dx: Some(&mut dx),
        scratch: &mut scratch,
    };
    pool.backward(grads, &pass).unwrap();
    assert_eq!(dx, want_dx);
}

/// The same on even sizes (every input inside a window, so the backward pass writes each
/// one once, without clearing the map first), 19 windows a row (a full group of sixteen and a
/// masked one on the vector path).
#[test]
fn two_by_two_max_pooling_on_even_sizes_matches_a_direct_reference() {
    let pool = MaxPool2d::new(2);
    let (rows, c, h, w) = (2usize, 3usize, 6usize, 38usize);
    let input = [c, h, w];
    let shape = <MaxPool2d as Module<f32>>::output_shape(&pool, &input).unwrap();
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(shape, [c, oh, ow]);
    let n_in = c * h * w;
    let x: Vec<f32> = (0..rows * n_in)
        .map(|i| ((i * i * 31 + i) % 3) as f32)
        .collect();
    let pass = Pass::new(rows, &input, &shape, true);
    let mut scratch = vec![0.0f32; <MaxPool2d as Module<f32>>::scratch_len(&pool, &pass)];
    let mut y = vec![0.0f32; rows * c * oh * ow];
    pool.forward(&x, &mut y, &mut scratch, &pass).unwrap();
    let mut dy: Vec<f32> = (0..y.len()).map(|i| 1.0 + i as f32).collect();
    let mut dx = vec![9.0f32; x.len()];
    let mut want_dx = vec![0.0f32; x.len()];
    for s in 0..rows {
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = None::<(f32, usize)>;
                    for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let at = s * n_in + ch * h * w + (2 * oy + ky) * w + 2 * ox + kx;
                        if best.is_none_or(|(m, _)| x[at] > m) {
                            best = Some((x[at], at));
                        }
                    }
                    let (m, at) = best.unwrap();
                    let o = ((s * c + ch) * oh + oy) * ow + ox;
                    assert_eq!(y[o], m, "sample {s} channel {ch} window ({oy}, {ox})");
                    want_dx[at] += dy[o];
                }
            }
        }
    }
    let grads = Backprop {
        x: &x,
        y: &y,
        dy: &mut dy,
        dx: Some(&mut dx),
        scratch: &mut scratch,
    };
    pool.backward(grads, &pass).unwrap();
    assert_eq!(dx, want_dx);
}
