//! C1's network layer by layer: the forward and the backward time of each layer of the MNIST
//! CNN of `bench/e2e` (PyTorch's MNIST example without dropout) at batch 128, the same
//! measurement as `bench/cnn_layers/torch_layers.py` makes in PyTorch, so the two can be set
//! side by side one layer at a time.

use nabla::loss::{Loss, Targets};
use nabla::nn::{Architecture, Backprop, Pass, Sequential, Workspace};
use nabla::rng::Rng;
use nabla::Result;
use serde_json::json;

/// The network of C1/C2, in `--arch` syntax.
pub const C1_ARCH: &str = "conv2d(32,3), relu, conv2d(64,3), relu, maxpool2d(2), flatten, \
                           linear(128), relu, linear";

/// The median of `reps` timings of `f` in milliseconds, after `warmup` untimed calls.
fn median_ms(warmup: usize, reps: usize, f: impl FnMut() -> Result<()>) -> Result<f64> {
    let (median, _, _) = super::time_calls(f, reps, warmup)?;
    Ok(median * 1e3)
}

/// Each layer alone on the activation it gets in the network (random pixels in [0, 1] through
/// the layers before it) and a random upstream gradient: forward, then backward (∂E/∂input for
/// every layer but the first, plus the parameter gradients). A last line times a whole
/// training step's forward with the loss, and its backward.
pub fn c1_layers(batch: usize, reps: usize, warmup: usize) -> Result<()> {
    let specs = Architecture::parse(C1_ARCH)?.resolve(&[1, 28, 28], 10)?;
    let net = Sequential::from_specs(&[1, 28, 28], &specs, None, 0)?;
    let shapes = net.layer_shapes()?;
    let mut rng = Rng::new(7);
    let mut input: Vec<f32> = (0..batch * 784)
        .map(|_| rng.uniform(0.0, 1.0) as f32)
        .collect();
    let mut in_shape = net.input_shape().to_vec();
    for (i, layer) in net.layers().iter().enumerate() {
        let out_len: usize = shapes[i].iter().product();
        let in_len = input.len() / batch;
        let pass = Pass::new(batch, &in_shape, &shapes[i], true);
        let mut scratch = vec![0f32; layer.scratch_len(&pass)];
        let mut y = vec![0f32; batch * out_len];
        let forward_ms = median_ms(warmup, reps, || {
            layer.forward(&input, &mut y, &mut scratch, &pass)
        })?;
        let dy: Vec<f32> = (0..y.len()).map(|_| rng.normal() as f32).collect();
        let mut dy_work = dy.clone();
        let mut dx = vec![0f32; batch * in_len];
        let backward_ms = median_ms(warmup, reps, || {
            dy_work.copy_from_slice(&dy);
            let grads = Backprop {
                x: &input,
                y: &y,
                dy: &mut dy_work,
                dx: (i > 0).then_some(&mut dx[..]),
                scratch: &mut scratch,
            };
            layer.backward(grads, &pass)
        })?;
        println!(
            "{}",
            json!({
                "peer": "nabla", "workload": "c1_layers", "index": i,
                "layer": layer.spec().describe(), "batch": batch,
                "forward_ms": forward_ms, "backward_ms": backward_ms,
                "input": in_shape, "output": shapes[i],
            })
        );
        input = y;
        in_shape = shapes[i].clone();
    }
    let mut ws = Workspace::new(&net, batch)?;
    let x: Vec<f32> = (0..batch * 784)
        .map(|_| rng.uniform(0.0, 1.0) as f32)
        .collect();
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
    let forward_ms = median_ms(warmup, reps, || {
        net.forward_batch(&mut ws, &x, batch).map(drop)
    })?;
    let step_ms = median_ms(warmup, reps, || {
        net.loss_backward(
            &mut ws,
            &x,
            batch,
            Targets::Classes(&labels),
            Loss::CrossEntropy,
        )
        .map(drop)
    })?;
    let flop = 72e6 * batch as f64;
    println!(
        "{}",
        json!({
            "peer": "nabla", "workload": "c1_layers", "layer": "network", "batch": batch,
            "forward_ms": forward_ms, "forward_and_backward_ms": step_ms,
            "gflops_per_s": flop / (step_ms * 1e-3) / 1e9,
            "parameters": net.num_parameters(),
        })
    );
    Ok(())
}
