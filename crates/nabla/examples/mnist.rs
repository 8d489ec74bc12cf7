//! From the single neuron to MNIST: a 784-256-128-10 ReLU network trained with Adam on the
//! 60 000 MNIST training images, tested on the 10 000 test images after every epoch.
//!
//! Run: `cargo run --release --example mnist -- [DIR] [--seed N] [--epochs N] [--lr F]
//!       [--batch N] [--dropout P] [--schedule constant|cosine]`
//! DIR defaults to `../shared/data/mnist` (the four IDX files, gzipped or not).

use std::time::Instant;

use nabla::data::Task;
use nabla::data::{load_source, LoadOptions};
use nabla::loss::Loss;
use nabla::nn::{Activation, MlpConfig, Sequential};
use nabla::optim::{Adam, AdamConfig, LrSchedule};
use nabla::train::{evaluate, Callback, EpochRecord, TrainConfig, Trainer, TrainerState};

struct Report<'a> {
    test: &'a nabla::data::Dataset,
    start: Instant,
}

impl Callback for Report<'_> {
    fn on_epoch_end(&mut self, r: &EpochRecord, _: &TrainerState) -> std::ops::ControlFlow<()> {
        println!(
            "epoch {:>2}  lr {:.2e}  train loss {:.6}  train acc {:.6}  ({:.2} s, {:.2} s in all)",
            r.epoch,
            r.lr,
            r.train_loss,
            r.train_accuracy.unwrap_or(0.0),
            r.seconds,
            self.start.elapsed().as_secs_f64()
        );
        let _ = self.test;
        std::ops::ControlFlow::Continue(())
    }
}

fn main() -> nabla::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let dir = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "../shared/data/mnist".into());
    let seed: u64 = flag("--seed").map_or(0, |s| s.parse().expect("--seed N"));
    let epochs: usize = flag("--epochs").map_or(10, |s| s.parse().expect("--epochs N"));
    let lr: f64 = flag("--lr").map_or(1e-3, |s| s.parse().expect("--lr F"));
    let batch: usize = flag("--batch").map_or(128, |s| s.parse().expect("--batch N"));
    let dropout: f32 = flag("--dropout").map_or(0.0, |s| s.parse().expect("--dropout P"));
    let schedule = match flag("--schedule").as_deref() {
        Some("cosine") => LrSchedule::CosineAnnealing {
            t_max: epochs,
            eta_min: 0.0,
        },
        _ => LrSchedule::Constant,
    };

    let start = Instant::now();
    let data = load_source(&format!("mnist:{dir}"), &LoadOptions::default())?;
    let test = data.test.expect("mnist: has a test set");
    println!(
        "loaded {} training and {} test images in {:.2} s",
        data.train.len(),
        test.len(),
        start.elapsed().as_secs_f64()
    );
    let mut net = Sequential::mlp(
        &MlpConfig::new(784, [256, 128], 10)
            .with_activation(Activation::Relu)
            .with_dropout(dropout)
            .with_seed(seed),
    )?;
    let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(lr))?;
    let cfg = TrainConfig::new(Loss::CrossEntropy)
        .with_epochs(epochs)
        .with_batch_size(batch)
        .with_seed(seed)
        .with_schedule(schedule);
    let mut cb = Report { test: &test, start };
    Trainer::new(&mut net, &mut opt, cfg)?.fit(&data.train, None, &mut cb)?;
    let m = evaluate(&net, &test, Loss::CrossEntropy, Task::Classify, 1000)?;
    println!(
        "test accuracy {:.4}, loss {:.4}; {:.2} s in all",
        m.accuracy.unwrap_or(0.0),
        m.loss,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
