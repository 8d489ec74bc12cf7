use serde::{Deserialize, Serialize};

use super::{count_correct, gather_targets, require_targets, BatchSource, TargetView, TaskKind};
use crate::nn::{FusedLoss, Sequential, Workspace};
use crate::Result;

/// Figures of a network on a data set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per row (the loss as defined for training, averaged over rows).
    pub loss: f32,
    /// Fraction of rows classified correctly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
    /// Root-mean-square error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f32>,
    /// Mean absolute error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f32>,
    /// Coefficient of determination R² = 1 − SS_res/SS_tot (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f32>,
}

/// Evaluate `net` (in its current mode) on `data` in batches of `batch` rows.
///
/// For SSE the reported loss is per row (the sum over a batch divided by its rows), so that
/// figures of different set sizes compare.
pub fn evaluate(
    net: &Sequential,
    data: &dyn BatchSource,
    loss: FusedLoss,
    task: TaskKind,
    batch: usize,
) -> Result<Metrics> {
    let n = data.len();
    let d = data.n_features();
    let bs = batch.clamp(1, n.max(1));
    let mut ws = Workspace::new(net, bs)?;
    let outputs = net.output_size().unwrap_or(1);
    let mut x = vec![0.0f32; bs * d];
    let mut grad = vec![0.0f32; bs * outputs];
    let (mut cls, mut vals) = (vec![], vec![]);
    let idx_all: Vec<usize> = (0..n).collect();
    let all_targets = require_targets(data)?;
    let mut loss_sum = 0.0f64;
    let mut correct = 0usize;
    let (mut se, mut ae) = (0.0f64, 0.0f64);
    let mut preds: Vec<f32> = vec![];
    for chunk in idx_all.chunks(bs) {
        let rows = chunk.len();
        data.fill_features(chunk, &mut x[..rows * d]);
        let out = net.forward_fused(&mut ws, &x, rows)?;
        let targets = gather_targets(all_targets, chunk, &mut cls, &mut vals)?;
        let l = crate::nn::fused::loss_and_grad(loss, out, rows, outputs, targets, &mut grad)?;
        loss_sum += match loss {
            FusedLoss::Sse => l as f64,
            _ => l as f64 * rows as f64,
        };
        match all_targets {
            TargetView::Classes(_) => correct += count_correct(out, rows, outputs, &cls),
            TargetView::Values { .. } => {
                for (p, t) in out.iter().zip(&vals) {
                    let e = (p - t) as f64;
                    se += e * e;
                    ae += e.abs();
                }
                preds.extend_from_slice(&out[..rows * outputs]);
            }
        }
    }
    let mut m = Metrics {
        loss: (loss_sum / n.max(1) as f64) as f32,
        ..Metrics::default()
    };
    match (task, all_targets) {
        (TaskKind::Classification, TargetView::Classes(_)) => {
            m.accuracy = Some(correct as f32 / n.max(1) as f32);
        }
        (_, TargetView::Values { values, .. }) => {
            let cnt = values.len().max(1) as f64;
            let mean = values.iter().map(|&v| v as f64).sum::<f64>() / cnt;
            let ss_tot: f64 = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum();
            m.rmse = Some((se / cnt).sqrt() as f32);
            m.mae = Some((ae / cnt) as f32);
            m.r2 = Some(if ss_tot > 0.0 {
                (1.0 - se / ss_tot) as f32
            } else {
                0.0
            });
        }
        _ => {}
    }
    Ok(m)
}
