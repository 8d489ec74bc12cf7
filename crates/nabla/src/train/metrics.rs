use serde::{Deserialize, Serialize};

use super::{
    count_correct, gather_targets, require_targets, shard_bounds, BatchSource, Collective,
    SingleProcess, TargetView,
};
use crate::data::Task;
use crate::loss::Loss;
use crate::nn::{Sequential, Workspace};
use crate::Result;

/// Figures of a network on a data set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per row (the loss as defined for training, averaged over rows).
    pub loss: f32,
    /// Fraction of rows classified correctly: the exact ratio correct / rows, in f64 (an f32
    /// would print 295/384 as 0.7682291865348816).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Root-mean-square error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f32>,
    /// Mean absolute error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f32>,
    /// Coefficient of determination R² = 1 − SS_res/SS_tot (regression). With several
    /// outputs: the mean of the outputs' R² (`rmse` is then the root of the mean of their
    /// MSEs and `mae` the mean of their MAEs, i.e. both over every value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f32>,
    /// Each output's RMSE, MAE and R², in output order, when there are several outputs
    /// (regression with several targets); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_output: Vec<OutputMetrics>,
}

/// Regression figures of one output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputMetrics {
    /// Root-mean-square error.
    pub rmse: f32,
    /// Mean absolute error.
    pub mae: f32,
    /// R² = 1 − SS_res/SS_tot (0 when the output is constant).
    pub r2: f32,
}

/// Evaluate `net` (in its current mode) on `data` in batches of `batch` rows.
///
/// For SSE the reported loss is per row (the sum over a batch divided by its rows), so that
/// figures of different set sizes compare. This builds a workspace and buffers for one call;
/// to evaluate repeatedly (every epoch) use an [`Evaluator`], which keeps them.
pub fn evaluate(
    net: &Sequential,
    data: &dyn BatchSource,
    loss: Loss,
    task: Task,
    batch: usize,
) -> Result<Metrics> {
    let bs = batch.clamp(1, data.len().max(1));
    let mut ws = Workspace::new(net, bs)?;
    Evaluator::default().evaluate(net, &mut ws, data, loss, task)
}

/// Final figures of `net` (in its current mode) on `data`, the way a user reads them: the loss
/// as trained (on a standardised target, if it was standardised) and the accuracy, or for
/// regression RMSE, MAE and R² in the target's original units: the outputs are mapped back
/// through `target_scaler` and compared with `truth`, the unstandardised targets.
pub fn evaluate_in_original_units(
    net: &Sequential,
    data: &dyn BatchSource,
    loss: Loss,
    truth: Option<&[f32]>,
    target_scaler: Option<&crate::data::Standardizer>,
    batch: usize,
) -> Result<Metrics> {
    let task = match data.targets() {
        Some(super::TargetView::Values { .. }) => Task::Regress,
        _ => Task::Classify,
    };
    let mut m = evaluate(net, data, loss, task, batch)?;
    if let (Task::Regress, Some(truth)) = (task, truth) {
        let mut pred = super::predict_outputs(net, data, batch)?;
        if let Some(s) = target_scaler {
            s.inverse_values(&mut pred);
        }
        let r = super::report::regression_metrics_by_output(&pred, truth, net.output_size())?;
        m.rmse = r.rmse;
        m.mae = r.mae;
        m.r2 = r.r2;
        m.per_output = r.per_output;
    }
    Ok(m)
}

/// Evaluates a network repeatedly without allocating after the first call: it keeps the batch
/// buffers (features, targets, row indices, loss gradient) and runs the forward passes in a
/// caller's [`Workspace`], for example the one the trainer uses for its steps. Batches have
/// the workspace's `max_batch` rows (the last one fewer).
#[derive(Debug, Default)]
pub struct Evaluator {
    x: Vec<f32>,
    grad: Vec<f32>,
    cls: Vec<u32>,
    vals: Vec<f32>,
    rows: Vec<usize>,
    pred: Vec<f32>,
}

impl Evaluator {
    /// An evaluator with empty buffers (they grow on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Figures of `net` (in its current mode: call `set_training(false)` first to switch
    /// dropout off) on every row of `data`, with the forward passes in `ws`. The loss is the
    /// mean per row (for SSE, each batch's sum divided by its rows).
    pub fn evaluate(
        &mut self,
        net: &Sequential,
        ws: &mut Workspace,
        data: &dyn BatchSource,
        loss: Loss,
        task: Task,
    ) -> Result<Metrics> {
        self.evaluate_shared(net, ws, data, loss, task, &SingleProcess)
    }

    /// [`Evaluator::evaluate`] as one process of a data-parallel run: each process evaluates
    /// its share of the rows (contiguous, as [`shard_bounds`] cuts them) and the sums behind
    /// the figures are added over the processes, so every process returns the same figures.
    /// Every process must call it with the same data.
    pub fn evaluate_shared(
        &mut self,
        net: &Sequential,
        ws: &mut Workspace,
        data: &dyn BatchSource,
        loss: Loss,
        task: Task,
        collective: &dyn Collective,
    ) -> Result<Metrics> {
        let n = data.len();
        let d = data.n_features();
        let bs = ws.max_batch().min(n.max(1));
        let outputs = ws.output_len();
        self.x.resize(bs * d, 0.0);
        self.grad.resize(bs * outputs, 0.0);
        let (lo, hi) = shard_bounds(n, collective.size(), collective.rank());
        if self.rows.first() != Some(&lo) || self.rows.len() != hi - lo {
            self.rows.clear();
            self.rows.extend(lo..hi);
        }
        let all_targets = require_targets(data)?;
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        self.pred.clear();
        // Regression outputs of every row, this process's at their place (zero elsewhere).
        self.pred.resize(lo * outputs, 0.0);
        for chunk in self.rows.chunks(bs) {
            let rows = chunk.len();
            data.fill_features(chunk, &mut self.x[..rows * d]);
            let out = net.forward_batch(ws, &self.x, rows)?;
            let targets = gather_targets(all_targets, chunk, &mut self.cls, &mut self.vals)?;
            let l = loss.value_and_grad(
                out,
                rows,
                outputs,
                targets,
                &mut self.grad[..rows * outputs],
            )?;
            loss_sum += match loss {
                Loss::Sse => l as f64,
                _ => l as f64 * rows as f64,
            };
            match all_targets {
                TargetView::Classes(_) => correct += count_correct(out, rows, outputs, &self.cls),
                TargetView::Values { .. } => self.pred.extend_from_slice(&out[..rows * outputs]),
            }
        }
        if collective.size() > 1 {
            let mut sums = [loss_sum, correct as f64];
            collective.sum_f64(&mut sums)?;
            (loss_sum, correct) = (sums[0], sums[1] as usize);
            if let TargetView::Values { .. } = all_targets {
                self.pred.resize(n * outputs, 0.0);
                collective.sum_f32(&mut self.pred)?;
            }
        }
        let mut m = Metrics {
            loss: (loss_sum / n.max(1) as f64) as f32,
            ..Metrics::default()
        };
        match (task, all_targets) {
            (Task::Classify, TargetView::Classes(_)) => {
                m.accuracy = Some(correct as f64 / n.max(1) as f64);
            }
            (_, TargetView::Values { values, outputs }) if n > 0 => {
                let r = super::report::regression_metrics_by_output(&self.pred, values, outputs)?;
                m.rmse = r.rmse;
                m.mae = r.mae;
                m.r2 = r.r2;
                m.per_output = r.per_output;
            }
            _ => {}
        }
        Ok(m)
    }
}
