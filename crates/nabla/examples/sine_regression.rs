//! A network approximates sin(x) on [−π, π] (regression with MSE); prints the final MSE and a
//! few predictions.
//!
//! Run: `cargo run --release --example sine_regression`

use std::f64::consts::PI;

use nabla::data::Task;
use nabla::loss::Loss;
use nabla::nn::{Activation, MlpConfig, Sequential, Workspace};
use nabla::optim::{Adam, AdamConfig, LrSchedule};
use nabla::train::{evaluate, ArrayData, NoCallback, TargetData, TrainConfig, Trainer};

fn main() -> nabla::Result<()> {
    let n = 512;
    let xs: Vec<f32> = (0..n)
        .map(|i| (-PI + 2.0 * PI * i as f64 / (n - 1) as f64) as f32)
        .collect();
    let ys: Vec<f32> = xs.iter().map(|&x| x.sin()).collect();
    let data = ArrayData::new(
        xs.clone(),
        1,
        TargetData::Values {
            values: ys,
            outputs: 1,
        },
    )?;
    let mut net = Sequential::mlp(
        &MlpConfig::new(1, [32, 32], 1)
            .with_activation(Activation::Tanh)
            .with_seed(1),
    )?;
    let mut opt = Adam::new(net.parameters(), AdamConfig::with_lr(0.01))?;
    let cfg = TrainConfig::new(Loss::Mse)
        .with_epochs(300)
        .with_batch_size(64)
        .with_task(Task::Regress)
        .with_schedule(LrSchedule::CosineAnnealing {
            t_max: 300,
            eta_min: 1e-4,
        });
    Trainer::new(&mut net, &mut opt, cfg)?.fit(&data, None, &mut NoCallback)?;
    let m = evaluate(&net, &data, Loss::Mse, Task::Regress, 512)?;
    println!(
        "final MSE {:.6}  (RMSE {:.4}, R² {:.5})",
        m.loss,
        m.rmse.unwrap_or(0.0),
        m.r2.unwrap_or(0.0)
    );
    let mut ws = Workspace::new(&net, 1)?;
    for x in [-3.0f32, -1.5, 0.0, 1.0, 2.5] {
        let y = net.forward_batch(&mut ws, &[x], 1)?[0];
        println!("sin({x:>4}) = {:>8.5}   network: {y:>8.5}", x.sin());
    }
    Ok(())
}
