//! A 2-8-1 network of sigmoid units learns XOR by full-batch gradient descent on the sum of
//! squared errors (lr 0.5), from the same initial weights as the peer benchmarks (splitmix64
//! streams 200–203, U(−1, 1)), so the loss after 1000 steps can be compared: 0.00844.
//!
//! Run: `cargo run --release --example xor`

use nabla::loss::{Loss, Targets};
use nabla::nn::{Activation, ActivationLayer, Linear, Sequential, Workspace};
use nabla::optim::{Optimizer, Sgd, SgdConfig};
use nabla::rng::splitmix_uniform;
use nabla::Tensor;

/// `rows × cols` values of stream `seed`, U(−1, 1), stored as the peers store them
/// (`[fan_in, fan_out]`), returned transposed to nabla's `[out, in]`.
fn peer_weight(seed: u64, fan_in: usize, fan_out: usize) -> Tensor {
    let mut w = vec![0.0f32; fan_in * fan_out];
    for i in 0..fan_in {
        for o in 0..fan_out {
            w[o * fan_in + i] = splitmix_uniform(seed, (i * fan_out + o) as u64, -1.0, 1.0) as f32;
        }
    }
    Tensor::from_vec(w, &[fan_out, fan_in]).expect("shape")
}

fn peer_bias(seed: u64, n: usize) -> Tensor {
    let b = (0..n)
        .map(|i| splitmix_uniform(seed, i as u64, -1.0, 1.0) as f32)
        .collect();
    Tensor::from_vec(b, &[n]).expect("shape")
}

fn main() -> nabla::Result<()> {
    let x = [0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let t = [0.0f32, 1.0, 1.0, 0.0];
    let net = Sequential::new(&[2])
        .with(Linear::from_tensors(
            peer_weight(200, 2, 8),
            peer_bias(201, 8),
        )?)
        .with(ActivationLayer(Activation::Sigmoid))
        .with(Linear::from_tensors(
            peer_weight(202, 8, 1),
            peer_bias(203, 1),
        )?)
        .with(ActivationLayer(Activation::Sigmoid));
    let mut opt = Sgd::new(net.parameters(), SgdConfig::with_lr(0.5))?;
    let mut ws = Workspace::new(&net, 4)?;
    println!("step  SSE");
    for step in 1..=10_000 {
        opt.zero_grad();
        let sse = net.loss_backward(&mut ws, &x, 4, Targets::Values(&t), Loss::Sse)?;
        opt.step()?;
        if step == 1 || step % 1000 == 0 {
            // The loss printed is the one of the weights before this step's update.
            println!("{:>5}  {sse:.6}", step - 1);
        }
    }
    let out = net.forward_batch(&mut ws, &x, 4)?;
    println!("\n x1 x2 | target | output");
    for i in 0..4 {
        println!(
            "  {}  {} |   {}    | {:.4}",
            x[2 * i],
            x[2 * i + 1],
            t[i],
            out[i]
        );
    }
    Ok(())
}
