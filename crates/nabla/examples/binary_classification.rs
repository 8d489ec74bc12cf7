//! Two input features X1, X2, one hidden layer, a sigmoid output read through binary
//! cross-entropy: points inside a ring are class 1, outside class 0. Prints accuracy on a
//! held-out split.
//!
//! Run: `cargo run --release --example binary_classification`

use nabla::data::Task;
use nabla::loss::Loss;
use nabla::nn::{Activation, MlpConfig, Sequential};
use nabla::optim::{Adam, AdamConfig};
use nabla::rng::Rng;
use nabla::train::{evaluate, ArrayData, NoCallback, TargetData, TrainConfig, Trainer};

fn ring(n: usize, seed: u64) -> nabla::Result<ArrayData> {
    let mut r = Rng::new(seed);
    let (mut x, mut y) = (vec![], vec![]);
    for _ in 0..n {
        let (x1, x2) = (r.uniform(-2.0, 2.0), r.uniform(-2.0, 2.0));
        let d = (x1 * x1 + x2 * x2).sqrt();
        x.extend([x1 as f32, x2 as f32]);
        y.push(u32::from((0.8..1.6).contains(&d)));
    }
    ArrayData::new(x, 2, TargetData::Classes(y))
}

fn main() -> nabla::Result<()> {
    let train = ring(2000, 1)?;
    let test = ring(500, 2)?;
    // One logit: the network outputs z and P(class 1) = sigmoid(z), trained with BCE on logits.
    let mut net = Sequential::mlp(
        &MlpConfig::new(2, [16], 1)
            .with_activation(Activation::Tanh)
            .with_seed(3),
    )?;
    let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(0.02))?;
    let cfg = TrainConfig::new(Loss::BceWithLogits)
        .with_epochs(60)
        .with_batch_size(32);
    let history = Trainer::new(&mut net, &mut opt, cfg)?.fit(&train, None, &mut NoCallback)?;
    for e in history.epochs.iter().filter(|e| e.epoch % 10 == 0) {
        println!(
            "epoch {:>3}  train BCE {:.4}  train accuracy {:.3}",
            e.epoch,
            e.train_loss,
            e.train_accuracy.unwrap_or(0.0)
        );
    }
    let m = evaluate(&net, &test, Loss::BceWithLogits, Task::Classify, 256)?;
    println!(
        "held-out: BCE {:.4}, accuracy {:.3}",
        m.loss,
        m.accuracy.unwrap_or(0.0)
    );
    Ok(())
}
