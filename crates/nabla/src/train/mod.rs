//! The training loop: seeded shuffled mini-batches, validation, metrics, early stopping,
//! per-layer gradient diagnostics, divergence detection, callbacks and a history.
//!
//! Training runs the network's layers through [`Sequential::loss_backward`] over one
//! [`Workspace`] kept for the whole run: each step zeroes the gradients, runs forward, the loss
//! and backward, checks that the loss and every gradient are finite, then lets the optimiser
//! update the weights. A non-finite value
//! stops training *before* the update, so the weights stay at their last good values.
//!
//! The optimiser gets the step through [`Optimizer::step_with_objective`], with an objective
//! that recomputes the loss and gradients on the same batch: L-BFGS calls it for its inner
//! iterations (as `torch.optim.LBFGS.step(closure)` does), every other optimiser takes one
//! step from the gradients already computed. The batch's figures (loss, accuracy, gradient
//! norms) are those at the weights the step started from. A non-finite loss at a point
//! L-BFGS tries also stops training, with the weights put back to the step's start.

pub mod cascade;
mod checkpoint;
pub mod collective;
pub mod diagnostics;
pub mod explain;
mod history;
mod metrics;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod report;

pub use cascade::{
    train_cascade, CascadeConfig, CascadeRun, CascadeStop, CorrelationObjective, UnitRecord,
};
pub use checkpoint::{
    Checkpoint, DataSettings, NetworkSettings, OptimizerSettings, RunSettings, CHECKPOINT_KEY,
    CHECKPOINT_VERSION, OPTIMIZER_BUFFER_PREFIX,
};
pub use collective::{shard_bounds, Collective, SingleProcess};
pub use diagnostics::{diagnose, DiagnosticsMonitor, Warning, WarningKind};
pub use history::HistoryTable;
pub use metrics::{evaluate, evaluate_in_original_units, Evaluator, Metrics, OutputMetrics};
pub use report::{
    class_probabilities, predict_outputs, predicted_classes, regression_metrics,
    regression_metrics_by_output, ClassScores, ConfusionMatrix,
};

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::Task;
use crate::loss::{Loss, Targets};
use crate::nn::{Activation, Sequential, Workspace};
use crate::optim::{LrSchedule, Optimizer};
use crate::rng::Rng;
use crate::{Error, Result, Tensor};

/// Targets of a whole data set.
#[derive(Clone, Debug, PartialEq)]
pub enum TargetData {
    /// One class index per row.
    Classes(Vec<u32>),
    /// `rows × outputs` values.
    Values { values: Vec<f32>, outputs: usize },
}

/// Anything the trainer can draw batches from.
pub trait BatchSource {
    /// Number of rows.
    fn len(&self) -> usize;
    /// True when there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Features per row.
    fn n_features(&self) -> usize;
    /// Copy the features of rows `idx` into `x` (`idx.len() × n_features`), without allocating.
    fn fill_features(&self, idx: &[usize], x: &mut [f32]);
    /// The targets of every row (`None` when the data has no target).
    fn targets(&self) -> Option<TargetView<'_>>;
}

/// A borrowed view of a data set's targets.
#[derive(Clone, Copy, Debug)]
pub enum TargetView<'a> {
    /// One class index per row.
    Classes(&'a [u32]),
    /// `rows × outputs` values.
    Values { values: &'a [f32], outputs: usize },
}

impl TargetData {
    /// Borrow as a [`TargetView`].
    pub fn view(&self) -> TargetView<'_> {
        match self {
            TargetData::Classes(c) => TargetView::Classes(c),
            TargetData::Values { values, outputs } => TargetView::Values {
                values,
                outputs: *outputs,
            },
        }
    }
}

pub(crate) fn require_targets<'a>(data: &'a dyn BatchSource) -> Result<TargetView<'a>> {
    data.targets()
        .ok_or_else(|| Error::param("data", "has no target to train or evaluate against"))
}

impl BatchSource for crate::data::Dataset {
    fn len(&self) -> usize {
        crate::data::Dataset::len(self)
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn fill_features(&self, idx: &[usize], x: &mut [f32]) {
        // Indices come from 0..len(), so this cannot fail.
        self.fill_batch(idx, x).expect("row indices in range");
    }
    fn targets(&self) -> Option<TargetView<'_>> {
        match &self.target {
            crate::data::Target::Classes { labels, .. } => Some(TargetView::Classes(labels)),
            crate::data::Target::Values { values, names } => Some(TargetView::Values {
                values,
                outputs: names.len(),
            }),
            crate::data::Target::None => None,
        }
    }
}

/// Some rows of another source, read in place: the features stay where they are (no copy of
/// the rows), only the chosen rows' targets are gathered. For figures on a sample of a large
/// training set.
#[derive(Debug)]
pub struct RowSubset<'a, S: BatchSource + ?Sized> {
    source: &'a S,
    rows: &'a [usize],
    target: Option<TargetData>,
}

impl<'a, S: BatchSource + ?Sized> RowSubset<'a, S> {
    /// Rows `rows` of `source`, in that order; an index past its end is an [`Error::Param`].
    pub fn new(source: &'a S, rows: &'a [usize]) -> Result<Self> {
        let n = source.len();
        if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
            return Err(Error::param(
                "rows",
                format!("row {bad} of a data set of {n} rows"),
            ));
        }
        let target = source.targets().map(|t| match t {
            TargetView::Classes(c) => TargetData::Classes(rows.iter().map(|&r| c[r]).collect()),
            TargetView::Values { values, outputs } => TargetData::Values {
                values: rows
                    .iter()
                    .flat_map(|&r| values[r * outputs..(r + 1) * outputs].iter().copied())
                    .collect(),
                outputs,
            },
        });
        Ok(RowSubset {
            source,
            rows,
            target,
        })
    }
}

impl<S: BatchSource + ?Sized> BatchSource for RowSubset<'_, S> {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn n_features(&self) -> usize {
        self.source.n_features()
    }
    fn fill_features(&self, idx: &[usize], x: &mut [f32]) {
        let d = self.source.n_features();
        for (k, &i) in idx.iter().enumerate() {
            self.source
                .fill_features(&[self.rows[i]], &mut x[k * d..(k + 1) * d]);
        }
    }
    fn targets(&self) -> Option<TargetView<'_>> {
        self.target.as_ref().map(TargetData::view)
    }
}

/// An in-memory data set: row-major features and their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayData {
    /// `rows × n_features`, row-major.
    pub x: Vec<f32>,
    /// Features per row.
    pub n_features: usize,
    /// Targets.
    pub y: TargetData,
}

impl ArrayData {
    /// Checks that features and targets agree in length.
    pub fn new(x: Vec<f32>, n_features: usize, y: TargetData) -> Result<Self> {
        let rows = x.len().checked_div(n_features).unwrap_or(0);
        let trows = match &y {
            TargetData::Classes(c) => c.len(),
            TargetData::Values { values, outputs } => values.len() / (*outputs).max(1),
        };
        if n_features == 0 || !x.len().is_multiple_of(n_features) || rows != trows {
            return Err(Error::ShapeMismatch {
                op: "ArrayData::new (features vs targets)",
                lhs: vec![rows, n_features],
                rhs: vec![trows],
            });
        }
        Ok(ArrayData { x, n_features, y })
    }
}

impl BatchSource for ArrayData {
    fn len(&self) -> usize {
        self.x.len() / self.n_features
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn fill_features(&self, idx: &[usize], x: &mut [f32]) {
        let d = self.n_features;
        for (k, &i) in idx.iter().enumerate() {
            x[k * d..(k + 1) * d].copy_from_slice(&self.x[i * d..(i + 1) * d]);
        }
    }
    fn targets(&self) -> Option<TargetView<'_>> {
        Some(self.y.view())
    }
}

/// Settings of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Rows per mini-batch (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Shuffle rows each epoch (seeded); off = index order.
    pub shuffle: bool,
    /// Seed of the shuffling generator.
    pub seed: u64,
    /// The loss to minimise.
    pub loss: Loss,
    /// Classification or regression (for metrics).
    pub task: Task,
    /// Stop after this many epochs without a better validation loss, and restore the best
    /// weights. `None` trains every epoch.
    pub early_stopping: Option<usize>,
    /// Learning rate per epoch.
    pub schedule: LrSchedule,
    /// Stop at the end of the first epoch whose loss is at or below this value: the
    /// validation loss when a validation set is given, else the epoch's training loss (FANN's
    /// `desired_error`). `None` trains every epoch.
    #[serde(default)]
    pub target_loss: Option<f32>,
    /// Cut every batch into this many shards and add their gradients as that many MPI ranks
    /// do (see [`collective`]), so that one process reproduces an N-rank run. 1 (the default)
    /// sums each batch's gradient in one pass. Under a [`Collective`] of several processes it
    /// must be 1: each rank computes one shard.
    #[serde(default = "one_shard")]
    pub shards: usize,
}

fn one_shard() -> usize {
    1
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            loss: Loss::CrossEntropy,
            task: Task::Classify,
            early_stopping: None,
            schedule: LrSchedule::Constant,
            target_loss: None,
            shards: 1,
        }
    }
}

impl TrainConfig {
    /// Minimise `loss`; every other field at its default (10 epochs of 32-row batches,
    /// shuffled with seed 0, classification, constant learning rate, no early stopping). The
    /// `with_*` methods change one field each:
    /// `TrainConfig::new(Loss::Mse).with_epochs(300).with_task(Task::Regress)`.
    pub fn new(loss: Loss) -> Self {
        TrainConfig {
            loss,
            ..TrainConfig::default()
        }
    }

    /// Passes over the training data.
    pub fn with_epochs(self, epochs: usize) -> Self {
        TrainConfig { epochs, ..self }
    }

    /// Rows per mini-batch.
    pub fn with_batch_size(self, batch_size: usize) -> Self {
        TrainConfig { batch_size, ..self }
    }

    /// Classification or regression.
    pub fn with_task(self, task: Task) -> Self {
        TrainConfig { task, ..self }
    }

    /// The learning rate per epoch.
    pub fn with_schedule(self, schedule: LrSchedule) -> Self {
        TrainConfig { schedule, ..self }
    }

    /// The seed of the shuffling generator.
    pub fn with_seed(self, seed: u64) -> Self {
        TrainConfig { seed, ..self }
    }

    /// Stop once the (validation, else training) loss reaches `loss`.
    pub fn with_target_loss(self, loss: f32) -> Self {
        TrainConfig {
            target_loss: Some(loss),
            ..self
        }
    }

    /// Cut every batch into `shards` shards, as that many MPI ranks do.
    pub fn with_shards(self, shards: usize) -> Self {
        TrainConfig { shards, ..self }
    }

    /// Check every field's domain.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::param("batch size", "must be at least 1"));
        }
        if self.shards == 0 {
            return Err(Error::param("shards", "must be at least 1"));
        }
        if let Some(t) = self.target_loss {
            if !t.is_finite() || t < 0.0 {
                return Err(Error::param(
                    "target loss",
                    format!("{t}: must be a finite number of at least 0"),
                ));
            }
        }
        if self.early_stopping == Some(0) {
            return Err(Error::param(
                "early stopping patience",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Diagnostics of one hidden or output layer over an epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerDiagnostics {
    /// Module index of the linear layer (`0` for `0.weight`).
    pub layer: usize,
    /// Its activation.
    pub activation: String,
    /// Fraction of unit outputs that were saturated (sigmoid/tanh within 0.01 of a bound, ReLU
    /// exactly 0), over every row of the epoch.
    pub saturated_fraction: f32,
    /// Fraction of units that were saturated on every row of the epoch (dead ReLU units).
    pub dead_fraction: f32,
}

/// Figures of one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate used in the epoch.
    pub lr: f64,
    /// Mean training loss over the epoch's batches (weighted by rows).
    pub train_loss: f32,
    /// Training accuracy over the epoch's batches (classification), the exact ratio in f64.
    pub train_accuracy: Option<f64>,
    /// Validation figures, if a validation set was given.
    pub val: Option<Metrics>,
    /// Figures on a tracked test set after this epoch (see [`Trainer::fit_tracking`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Metrics>,
    /// Root-mean-square over the epoch's batches of each parameter tensor's gradient norm,
    /// by parameter name.
    pub grad_norms: Vec<(String, f32)>,
    /// Per linear layer: saturation and dead units.
    pub layers: Vec<LayerDiagnostics>,
    /// Wall time of the epoch (training, validation and any tracked test evaluation).
    pub seconds: f64,
}

/// Per-epoch figures of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per epoch run.
    pub epochs: Vec<EpochRecord>,
    /// Epoch (1-based) whose weights the network holds at the end when early stopping
    /// restored them.
    pub best_epoch: Option<usize>,
    /// True if early stopping ended the run.
    pub stopped_early: bool,
    /// True if a callback ended the run.
    pub interrupted: bool,
    /// When [`TrainConfig::target_loss`] ended the run: which loss reached it, at which epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reached: Option<TargetReached>,
}

/// The loss that reached [`TrainConfig::target_loss`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetReached {
    /// 1-based epoch at whose end it was reached.
    pub epoch: usize,
    /// `"validation"` or `"train"`.
    pub on: String,
    /// The loss at that epoch.
    pub loss: f32,
    /// The target.
    pub target: f32,
}

/// What a callback sees after each batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchInfo {
    /// 1-based epoch.
    pub epoch: usize,
    /// 0-based batch within the epoch.
    pub batch: usize,
    /// Batches in the epoch.
    pub batches: usize,
    /// Rows in this batch.
    pub rows: usize,
    /// This batch's loss.
    pub loss: f32,
}

/// Hooks called during training; return `ControlFlow::Break(())` to stop after the current
/// batch or epoch.
pub trait Callback {
    /// After each optimiser step.
    fn on_batch_end(&mut self, _info: &BatchInfo) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// After each epoch (and its validation).
    fn on_epoch_end(&mut self, _record: &EpochRecord, _trainer: &TrainerState) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// A callback that does nothing.
pub struct NoCallback;
impl Callback for NoCallback {}

/// Where a run stands: enough to resume it bit-identically (with the weights and the
/// optimiser state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Shuffling generator state at the start of the next epoch.
    pub shuffle_rng: [u64; 4],
    /// Dropout generators' states.
    pub dropout_rngs: Vec<[u64; 4]>,
    /// Best validation loss so far and its epoch (early stopping).
    pub best: Option<(f32, usize)>,
    /// Epochs since the best.
    pub since_best: usize,
}

/// Runs training of one network with one optimiser.
pub struct Trainer<'a> {
    net: &'a mut Sequential,
    opt: &'a mut dyn Optimizer,
    cfg: TrainConfig,
    ws: Workspace,
    base_lr: f64,
    state: TrainerState,
    best_weights: Option<Vec<(String, Tensor)>>,
    params: Vec<(String, crate::autograd::Var)>,
    x_buf: Vec<f32>,
    y_cls: Vec<u32>,
    y_val: Vec<f32>,
    order: Vec<usize>,
    evaluator: Evaluator,
    diagnosed: Vec<DiagnosedLayer>,
    collective: &'a dyn Collective,
    /// Every parameter's gradient end to end (and the loss last), for summing shards.
    flat: Vec<f32>,
    /// The sums of the layered all-reduce.
    recv: Vec<f32>,
    /// Sum each layer's gradient over the processes as soon as it is ready (else the whole
    /// buffer after the backward pass).
    layered: bool,
    slots: Vec<Option<LayerSlot>>,
}

/// Which shards of each batch this process computes: `mine` of `count`.
#[derive(Clone, Debug)]
struct ShardPlan {
    count: usize,
    mine: std::ops::Range<usize>,
}

/// What [`batch_gradient`] needs besides the batch.
struct GradientSum<'s> {
    net: &'s Sequential,
    params: &'s [(String, crate::autograd::Var)],
    loss: Loss,
    collective: &'s dyn Collective,
    plan: &'s ShardPlan,
    /// Per layer, where its parameters' gradients go in the layered sum (see
    /// [`batch_gradient_layered`]); `None` sums the whole buffer after the backward pass.
    layered: Option<&'s [Option<LayerSlot>]>,
}

/// A layer's parameters in the layered sum: their gradients' place in the buffer, and their
/// indices in the trainer's parameter list.
#[derive(Clone, Debug)]
struct LayerSlot {
    values: std::ops::Range<usize>,
    params: std::ops::Range<usize>,
}

/// Each layer's [`LayerSlot`]: gradients at 1.. (slot 0 holds the loss), in parameter order.
fn layer_slots(net: &Sequential) -> Vec<Option<LayerSlot>> {
    let (mut at, mut index) = (1, 0);
    net.layers()
        .iter()
        .map(|layer| {
            let params = layer.parameters();
            if params.is_empty() {
                return None;
            }
            let n: usize = params.iter().map(|(_, p)| p.value().len()).sum();
            let slot = LayerSlot {
                values: at..at + n,
                params: index..index + params.len(),
            };
            (at, index) = (at + n, index + params.len());
            Some(slot)
        })
        .collect()
}

/// Copy the gradients of `params` end to end into `dst` (zeros for a missing one), as many
/// whole parameters as `dst` holds.
fn copy_grads(params: &[(String, crate::autograd::Var)], dst: &mut [f32]) {
    let mut at = 0;
    for (_, p) in params {
        let n = p.value().len();
        if at + n > dst.len() {
            break;
        }
        match p.grad_ref().as_ref() {
            Some(g) => dst[at..at + n].copy_from_slice(g.data()),
            None => dst[at..at + n].fill(0.0),
        }
        at += n;
    }
}

/// Set the gradients of `params` from `src`, end to end (the inverse of [`copy_grads`]).
fn set_grads(params: &[(String, crate::autograd::Var)], src: &[f32]) {
    let mut at = 0;
    for (_, p) in params {
        let n = p.value().len();
        let mut slot = p.grad_mut();
        let dst = slot
            .get_or_insert_with(|| Tensor::zeros(&p.shape()))
            .data_mut();
        dst.copy_from_slice(&src[at..at + n]);
        at += n;
    }
}

/// [`batch_gradient`] for one process of several computing one shard, with each layer's
/// gradient summed over the processes as soon as its backward pass is done (while the
/// earlier layers' passes run), the loss last.
#[allow(clippy::too_many_arguments)]
fn batch_gradient_layered(
    g: &GradientSum<'_>,
    slots: &[Option<LayerSlot>],
    ws: &mut Workspace,
    x: &[f32],
    (rows, d): (usize, usize),
    targets: Targets<'_>,
    (send, recv): (&mut Vec<f32>, &mut Vec<f32>),
    on_shard: &mut dyn FnMut(&Workspace, usize, usize),
) -> Result<f32> {
    let total: usize = g.params.iter().map(|(_, p)| p.value().len()).sum();
    send.resize(total + 1, 0.0);
    recv.resize(total + 1, 0.0);
    let (lo, hi) = shard_bounds(rows, g.plan.count, g.plan.mine.start);
    let outputs = g.net.output_size();
    for (_, p) in g.params {
        p.zero_grad();
    }
    let mut value = 0.0f32;
    g.collective.sum_in_parts(send, recv, &mut |parts| {
        if hi > lo {
            let t = slice_targets(targets, lo, hi, outputs);
            let share = (hi - lo, rows);
            let mut after_layer = |i: usize| -> Result<()> {
                match &slots[i] {
                    Some(slot) => parts.post(slot.values.clone(), |dst| {
                        copy_grads(&g.params[slot.params.clone()], dst)
                    }),
                    None => Ok(()),
                }
            };
            let xs = &x[lo * d..hi * d];
            value = g
                .net
                .loss_backward_layered(ws, xs, share, t, g.loss, &mut after_layer)?;
            on_shard(ws, lo, hi);
        }
        // Gradients not posted yet (all of them for an empty shard), then the loss.
        let low = parts.posted_from();
        parts.post(1..low, |dst| copy_grads(g.params, dst))?;
        parts.post(0..1, |dst| dst[0] = value)
    })?;
    set_grads(g.params, &recv[1..]);
    Ok(recv[0])
}

/// Targets of rows `lo..hi` of a batch's targets.
fn slice_targets<'t>(t: Targets<'t>, lo: usize, hi: usize, outputs: usize) -> Targets<'t> {
    match t {
        Targets::Classes(c) => Targets::Classes(&c[lo..hi]),
        Targets::Values(v) => Targets::Values(&v[lo * outputs..hi * outputs]),
    }
}

/// The loss and gradient of one batch of `rows` rows (features `x`, `d` per row), left in
/// the parameters' gradient slots: in one pass without shards, else shard by shard with the
/// shards' gradients added in shard order and summed over the processes. `on_shard` sees the
/// workspace after each forward pass, with the rows it covered.
#[allow(clippy::too_many_arguments)]
fn batch_gradient(
    g: &GradientSum<'_>,
    ws: &mut Workspace,
    x: &[f32],
    (rows, d): (usize, usize),
    targets: Targets<'_>,
    (flat, recv): (&mut Vec<f32>, &mut Vec<f32>),
    on_shard: &mut dyn FnMut(&Workspace, usize, usize),
) -> Result<f32> {
    if let Some(slots) = g.layered {
        let bufs = (flat, recv);
        return batch_gradient_layered(g, slots, ws, x, (rows, d), targets, bufs, on_shard);
    }
    let zero_grads = || {
        for (_, p) in g.params {
            p.zero_grad();
        }
    };
    if g.plan.count == 1 {
        zero_grads();
        let value = g
            .net
            .loss_backward(ws, &x[..rows * d], rows, targets, g.loss)?;
        on_shard(ws, 0, rows);
        return Ok(value);
    }
    let outputs = g.net.output_size();
    let total: usize = g.params.iter().map(|(_, p)| p.value().len()).sum();
    flat.resize(total + 1, 0.0);
    for (k, s) in g.plan.mine.clone().enumerate() {
        let (lo, hi) = shard_bounds(rows, g.plan.count, s);
        zero_grads();
        let value = if hi > lo {
            let t = slice_targets(targets, lo, hi, outputs);
            let v =
                g.net
                    .loss_backward_of_share(ws, &x[lo * d..hi * d], hi - lo, rows, t, g.loss)?;
            on_shard(ws, lo, hi);
            v
        } else {
            0.0
        };
        // The first shard is copied (not added to zero, which would turn −0 into +0).
        let mut at = 0;
        for (_, p) in g.params {
            let n = p.value().len();
            let grad = p.grad_ref();
            let dst = &mut flat[at..at + n];
            match grad.as_ref().map(|t| t.data()) {
                Some(src) if k == 0 => dst.copy_from_slice(src),
                Some(src) => dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b),
                None if k == 0 => dst.fill(0.0),
                None => {}
            }
            at += n;
        }
        flat[total] = if k == 0 { value } else { flat[total] + value };
    }
    if g.collective.size() > 1 {
        g.collective.sum_f32(flat)?;
    }
    set_grads(g.params, flat);
    Ok(flat[total])
}

/// A dropout generator's state for rank `rank` of a run, from rank 0's: ranks draw different
/// masks (as the rows they see differ), each from a stream of its own.
fn rank_stream(state: [u64; 4], rank: usize) -> [u64; 4] {
    if rank == 0 {
        return state;
    }
    let mixed = state[0] ^ state[1].rotate_left(17) ^ state[2].rotate_left(31) ^ state[3];
    Rng::new(mixed ^ (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).state()
}

/// A layer with parameters whose unit outputs the trainer watches: the output of the
/// activation right after it (or its own output when none follows).
#[derive(Clone, Copy, Debug)]
struct DiagnosedLayer {
    /// Index of the layer with parameters.
    layer: usize,
    activation: Activation,
    /// Index of the layer whose output is watched.
    output: usize,
    /// Values per row of that output.
    width: usize,
}

fn diagnosed_layers(net: &Sequential, ws: &Workspace) -> Vec<DiagnosedLayer> {
    let layers = net.layers();
    (0..layers.len())
        .filter(|&i| !layers[i].parameters().is_empty())
        .map(|i| {
            let next = layers.get(i + 1).and_then(|l| l.activation());
            let output = if next.is_some() { i + 1 } else { i };
            DiagnosedLayer {
                layer: i,
                activation: next.unwrap_or(Activation::Identity),
                output,
                width: ws.shape(output).iter().product(),
            }
        })
        .collect()
}

impl<'a> Trainer<'a> {
    /// A trainer for `net` with `opt`; the optimiser's current learning rate is the base of the
    /// schedule.
    pub fn new(
        net: &'a mut Sequential,
        opt: &'a mut dyn Optimizer,
        cfg: TrainConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        let ws = Workspace::new(net, cfg.batch_size)?;
        let base_lr = opt.learning_rate();
        let params = net.named_parameters();
        let diagnosed = diagnosed_layers(net, &ws);
        let state = TrainerState {
            epoch: 0,
            shuffle_rng: Rng::new(cfg.seed).state(),
            dropout_rngs: net.dropout_rng_states(),
            best: None,
            since_best: 0,
        };
        Ok(Trainer {
            net,
            opt,
            ws,
            base_lr,
            state,
            best_weights: None,
            params,
            x_buf: vec![],
            y_cls: vec![],
            y_val: vec![],
            order: vec![],
            evaluator: Evaluator::new(),
            diagnosed,
            cfg,
            collective: &SingleProcess,
            flat: vec![],
            recv: vec![],
            layered: false,
            slots: vec![],
        })
    }

    /// Train as one process of a data-parallel run over `collective`: each batch's gradient
    /// is this process's shard of it, summed over the processes (see [`collective`]), and
    /// validation and test figures are computed on each process's share of the rows and
    /// summed. Every process must make the same calls with the same data, network and
    /// settings. Dropout draws its masks from a stream of each rank's own.
    pub fn with_collective(mut self, collective: &'a dyn Collective) -> Result<Self> {
        if collective.size() > 1 && self.cfg.shards > 1 {
            return Err(Error::param(
                "shards",
                format!(
                    "{} shards cannot be combined with {} processes (each process computes one shard)",
                    self.cfg.shards,
                    collective.size()
                ),
            ));
        }
        self.collective = collective;
        self.reseed_dropout()?;
        Ok(self)
    }

    /// Under a [`Collective`] of several processes: sum each layer's gradient as soon as its
    /// backward pass is done, overlapping the communication with the earlier layers' passes
    /// (`true`), or the whole gradient in one call after the backward pass (`false`, the
    /// default). The sums, and so the weights, are the same either way.
    pub fn with_layered_sums(mut self, layered: bool) -> Self {
        self.layered = layered;
        self.slots = if layered {
            layer_slots(self.net)
        } else {
            vec![]
        };
        self
    }

    fn reseed_dropout(&mut self) -> Result<()> {
        let rank = self.collective.rank();
        if rank > 0 {
            let states: Vec<[u64; 4]> = self
                .net
                .dropout_rng_states()
                .into_iter()
                .map(|s| rank_stream(s, rank))
                .collect();
            self.net.set_dropout_rng_states(&states)?;
        }
        Ok(())
    }

    /// Sum this epoch's counts over the processes (each counted its own shards' rows), and
    /// average batch norm's running statistics (each process's follow its own shards).
    fn sum_epoch_figures(
        &mut self,
        correct: &mut usize,
        sat_count: &mut [usize],
        unit_alive: &mut [Vec<bool>],
    ) -> Result<()> {
        let mut figures: Vec<f64> = std::iter::once(*correct as f64)
            .chain(sat_count.iter().map(|&c| c as f64))
            .chain(unit_alive.iter().flatten().map(|&a| f64::from(u8::from(a))))
            .collect();
        self.collective.sum_f64(&mut figures)?;
        *correct = figures[0] as usize;
        for (c, &f) in sat_count.iter_mut().zip(&figures[1..]) {
            *c = f as usize;
        }
        let alive = unit_alive.iter_mut().flat_map(|u| u.iter_mut());
        for (a, &f) in alive.zip(&figures[1 + sat_count.len()..]) {
            *a = f > 0.0;
        }
        let running: Vec<_> = self
            .net
            .named_tensors()
            .into_iter()
            .filter(|(name, _)| name.ends_with("running_mean") || name.ends_with("running_var"))
            .map(|(_, v)| v)
            .collect();
        if !running.is_empty() {
            let mut values: Vec<f32> = running
                .iter()
                .flat_map(|v| v.value().data().to_vec())
                .collect();
            self.collective.sum_f32(&mut values)?;
            let inv = 1.0 / self.collective.size() as f32;
            let mut at = 0;
            for v in &running {
                let mut t = v.value_mut();
                let data = t.data_mut();
                for (d, &s) in data.iter_mut().zip(&values[at..]) {
                    *d = s * inv;
                }
                at += data.len();
            }
        }
        Ok(())
    }

    fn shard_plan(&self) -> ShardPlan {
        let (rank, size) = (self.collective.rank(), self.collective.size());
        if size > 1 {
            ShardPlan {
                count: size,
                mine: rank..rank + 1,
            }
        } else {
            ShardPlan {
                count: self.cfg.shards,
                mine: 0..self.cfg.shards,
            }
        }
    }

    /// The run's position (for checkpoints).
    pub fn state(&self) -> TrainerState {
        let mut s = self.state.clone();
        s.dropout_rngs = self.net.dropout_rng_states();
        s
    }

    /// Continue from a saved position (weights and optimiser state are restored by the caller).
    pub fn restore_state(&mut self, state: TrainerState) -> Result<()> {
        self.net.set_dropout_rng_states(&state.dropout_rngs)?;
        self.state = state;
        self.reseed_dropout()
    }

    /// The base learning rate of the schedule.
    pub fn base_lr(&self) -> f64 {
        self.base_lr
    }

    /// The network being trained.
    pub fn net(&self) -> &Sequential {
        self.net
    }

    /// Train from the current state up to `cfg.epochs` epochs in total.
    pub fn fit(
        &mut self,
        train: &dyn BatchSource,
        val: Option<&dyn BatchSource>,
        cb: &mut dyn Callback,
    ) -> Result<History> {
        self.fit_tracking(train, val, None, cb)
    }

    /// [`Trainer::fit`], and after every epoch also evaluate `test` (for example to see when
    /// the test accuracy first reaches a target); the figures land in [`EpochRecord::test`].
    /// The test set plays no part in training or early stopping. Validation and test
    /// evaluation reuse the training workspace and one set of batch buffers, so they allocate
    /// nothing after the first epoch.
    pub fn fit_tracking(
        &mut self,
        train: &dyn BatchSource,
        val: Option<&dyn BatchSource>,
        test: Option<&dyn BatchSource>,
        cb: &mut dyn Callback,
    ) -> Result<History> {
        let n = train.len();
        if n == 0 {
            return Err(Error::param("training data", "has no rows"));
        }
        let d = train.n_features();
        if d != self.net.input_size() {
            return Err(Error::ShapeMismatch {
                op: "fit (data features vs network inputs)",
                lhs: vec![n, d],
                rhs: vec![self.net.input_size()],
            });
        }
        let outputs = self.net.output_size();
        let all_targets = require_targets(train)?;
        let bs = self.cfg.batch_size.min(n);
        self.x_buf.resize(bs * d, 0.0);
        let plan = self.shard_plan();
        let mut history = History::default();
        while self.state.epoch < self.cfg.epochs {
            let epoch = self.state.epoch + 1;
            let t0 = Instant::now();
            let lr = self.cfg.schedule.lr_at(self.base_lr, self.state.epoch);
            self.opt.set_learning_rate(lr);
            self.net.set_training(true);
            // Batch order for this epoch.
            self.order.clear();
            self.order.extend(0..n);
            let mut rng = Rng::from_state(self.state.shuffle_rng);
            if self.cfg.shuffle {
                rng.shuffle(&mut self.order);
            }
            let batches = n.div_ceil(bs);
            let mut loss_sum = 0.0f64;
            let mut correct = 0usize;
            let mut norm_sq: Vec<f64> = vec![0.0; self.params.len()];
            let mut sat_count = vec![0usize; self.diagnosed.len()];
            let mut unit_alive: Vec<Vec<bool>> = self
                .diagnosed
                .iter()
                .map(|d| vec![false; d.width])
                .collect();
            let mut interrupted = false;
            for b in 0..batches {
                let lo = b * bs;
                let hi = (lo + bs).min(n);
                let rows = hi - lo;
                let idx = &self.order[lo..hi];
                for s in plan.mine.clone() {
                    let (lo, hi) = shard_bounds(rows, plan.count, s);
                    train.fill_features(&idx[lo..hi], &mut self.x_buf[lo * d..hi * d]);
                }
                gather_targets(all_targets, idx, &mut self.y_cls, &mut self.y_val)?;
                let targets = match all_targets {
                    TargetView::Classes(_) => Targets::Classes(&self.y_cls),
                    TargetView::Values { .. } => Targets::Values(&self.y_val),
                };
                let sum = GradientSum {
                    net: &*self.net,
                    params: &self.params,
                    loss: self.cfg.loss,
                    collective: self.collective,
                    plan: &plan,
                    layered: (self.layered && self.collective.size() > 1)
                        .then_some(&self.slots[..]),
                };
                let (y_cls, diagnosed) = (&self.y_cls, &self.diagnosed);
                // Metrics and unit diagnostics from the forward values of each shard.
                let mut on_shard = |ws: &Workspace, lo: usize, hi: usize| {
                    if let TargetView::Classes(_) = all_targets {
                        correct += count_correct(ws.output(), hi - lo, outputs, &y_cls[lo..hi]);
                    }
                    for ((count, alive), d) in
                        sat_count.iter_mut().zip(&mut unit_alive).zip(diagnosed)
                    {
                        let (a, width) = (ws.layer_output(d.output), d.width);
                        // One monomorphised loop per activation, each with the one saturation
                        // test of Activation::is_saturated.
                        *count += match d.activation {
                            Activation::Identity => 0,
                            act @ Activation::Relu => {
                                count_saturated(a, width, alive, |v| act.is_saturated(v))
                            }
                            act @ Activation::LeakyRelu { .. } => {
                                count_saturated(a, width, alive, |v| act.is_saturated(v))
                            }
                            act @ Activation::Sigmoid => {
                                count_saturated(a, width, alive, |v| act.is_saturated(v))
                            }
                            act @ Activation::Tanh => {
                                count_saturated(a, width, alive, |v| act.is_saturated(v))
                            }
                        };
                    }
                };
                let (ws, x) = (&mut self.ws, &self.x_buf);
                let (flat, recv) = (&mut self.flat, &mut self.recv);
                let loss =
                    batch_gradient(&sum, ws, x, (rows, d), targets, (flat, recv), &mut on_shard)?;
                if !loss.is_finite() {
                    return Err(diverged(epoch, b, &format!("the loss is {loss}")));
                }
                for (k, (name, p)) in self.params.iter().enumerate() {
                    let g = p.grad_ref();
                    let sq: f64 = g.as_ref().map(|g| sum_of_squares(g.data())).unwrap_or(0.0);
                    if !sq.is_finite() {
                        let what = format!("the gradient of {name} is not finite");
                        return Err(diverged(epoch, b, &what));
                    }
                    norm_sq[k] += sq;
                }
                // Optimisers that re-evaluate the loss within a step (L-BFGS) do it on this
                // batch, through this objective; the others ignore it.
                let mut objective = || -> Result<f64> {
                    let value = batch_gradient(
                        &sum,
                        ws,
                        x,
                        (rows, d),
                        targets,
                        (flat, recv),
                        &mut |_, _, _| {},
                    )?;
                    if !value.is_finite() {
                        let what = format!(
                            "the loss is {value} at a point the optimiser tried in its step"
                        );
                        return Err(diverged(epoch, b, &what));
                    }
                    Ok(value as f64)
                };
                self.opt.step_with_objective(loss as f64, &mut objective)?;
                loss_sum += loss as f64 * rows as f64;
                let info = BatchInfo {
                    epoch,
                    batch: b,
                    batches,
                    rows,
                    loss,
                };
                if cb.on_batch_end(&info).is_break() {
                    interrupted = true;
                    break;
                }
            }
            if self.collective.size() > 1 && !interrupted {
                self.sum_epoch_figures(&mut correct, &mut sat_count, &mut unit_alive)?;
            }
            if interrupted {
                // The epoch did not finish: keep the state at the epoch's start for resuming.
                history.interrupted = true;
                break;
            }
            self.state.shuffle_rng = rng.state();
            self.state.epoch = epoch;
            let layers = self
                .diagnosed
                .iter()
                .enumerate()
                .map(|(s, d)| {
                    let (width, act, layer) = (d.width, d.activation, d.layer);
                    let dead = unit_alive[s].iter().filter(|&&a| !a).count();
                    LayerDiagnostics {
                        layer,
                        activation: act_name(act),
                        saturated_fraction: sat_count[s] as f32 / (n * width) as f32,
                        dead_fraction: if act == Activation::Identity {
                            0.0
                        } else {
                            dead as f32 / width as f32
                        },
                    }
                })
                .collect();
            let mut eval_set = |set: Option<&dyn BatchSource>| -> Result<Option<Metrics>> {
                match set {
                    Some(v) if !v.is_empty() => {
                        self.net.set_training(false);
                        let m = self.evaluator.evaluate_shared(
                            &*self.net,
                            &mut self.ws,
                            v,
                            self.cfg.loss,
                            self.cfg.task,
                            self.collective,
                        );
                        self.net.set_training(true);
                        m.map(Some)
                    }
                    _ => Ok(None),
                }
            };
            let val_metrics = eval_set(val)?;
            let test_metrics = eval_set(test)?;
            let record = EpochRecord {
                epoch,
                lr,
                train_loss: (loss_sum / n as f64) as f32,
                train_accuracy: match all_targets {
                    TargetView::Classes(_) => Some(correct as f64 / n as f64),
                    _ => None,
                },
                val: val_metrics,
                test: test_metrics,
                grad_norms: self
                    .params
                    .iter()
                    .zip(&norm_sq)
                    .map(|((name, _), &sq)| (name.clone(), (sq / batches as f64).sqrt() as f32))
                    .collect(),
                layers,
                seconds: t0.elapsed().as_secs_f64(),
            };
            // Early stopping on the validation loss.
            let mut stop = false;
            if let (Some(patience), Some(m)) = (self.cfg.early_stopping, &record.val) {
                let better = match self.state.best {
                    None => true,
                    Some((best, _)) => m.loss < best,
                };
                if better {
                    self.state.best = Some((m.loss, epoch));
                    self.state.since_best = 0;
                    self.best_weights = Some(self.net.state_dict());
                } else {
                    self.state.since_best += 1;
                    if self.state.since_best >= patience {
                        stop = true;
                    }
                }
            }
            if let Some(target) = self.cfg.target_loss {
                let (on, loss) = match &record.val {
                    Some(m) => ("validation", m.loss),
                    None => ("train", record.train_loss),
                };
                if loss <= target {
                    history.target_reached = Some(TargetReached {
                        epoch,
                        on: on.into(),
                        loss,
                        target,
                    });
                }
            }
            history.epochs.push(record);
            let state = self.state();
            if cb
                .on_epoch_end(history.epochs.last().expect("just pushed"), &state)
                .is_break()
            {
                history.interrupted = true;
                break;
            }
            if stop {
                history.stopped_early = true;
                break;
            }
            if history.target_reached.is_some() {
                break;
            }
        }
        if self.cfg.early_stopping.is_some() {
            if let (Some(w), Some((_, ep))) = (&self.best_weights, self.state.best) {
                if history.stopped_early
                    || history.target_reached.is_some()
                    || self.state.epoch >= self.cfg.epochs
                {
                    self.net.load_state_dict(w)?;
                    history.best_epoch = Some(ep);
                }
            }
        }
        self.net.set_training(false);
        Ok(history)
    }
}

/// Training stopped at batch `b` (0-based) of `epoch` because of `what`; the weights are
/// those from before the batch.
fn diverged(epoch: usize, b: usize, what: &str) -> Error {
    Error::Diverged {
        epoch,
        batch: b + 1,
        msg: format!("{what}; weights kept from before this batch"),
    }
}

/// Count the saturated values of a batch of unit outputs (`rows × width`, row-major) and mark
/// each unit with a value that is not saturated as alive. Monomorphised per activation test so
/// that the loop is branch-free; a large batch is shared among the product threads by units
/// (each thread owns its units' `alive` flags; the counts are integers, so their sum does not
/// depend on the split).
#[inline]
fn count_saturated<F: Fn(f32) -> bool + Sync>(
    a: &[f32],
    width: usize,
    alive: &mut [bool],
    saturated: F,
) -> usize {
    #[inline(always)]
    fn body<F: Fn(f32) -> bool>(
        a: &[f32],
        width: usize,
        units: std::ops::Range<usize>,
        alive: &mut [bool],
        sat: &F,
    ) -> usize {
        // A row's count in 32 bits (a row holds fewer than 2³² units): the loop then
        // vectorises on 32-bit lanes, as wide as the values it tests.
        let mut count = 0usize;
        for row in a.chunks_exact(width) {
            let mut row_count = 0u32;
            for (alive_u, &v) in alive.iter_mut().zip(&row[units.clone()]) {
                let s = sat(v);
                row_count += u32::from(s);
                *alive_u |= !s;
            }
            count += row_count as usize;
        }
        count
    }
    fn vectorised<F: Fn(f32) -> bool>(
        a: &[f32],
        width: usize,
        units: std::ops::Range<usize>,
        alive: &mut [bool],
        sat: &F,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn body_avx2<F: Fn(f32) -> bool>(
                a: &[f32],
                width: usize,
                units: std::ops::Range<usize>,
                alive: &mut [bool],
                sat: &F,
            ) -> usize {
                body(a, width, units, alive, sat)
            }
            // With AVX-512 the comparisons give mask registers, which count and update the
            // byte flags directly (AVX2 narrows each 32-bit comparison to bytes by shuffles).
            #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
            unsafe fn body_avx512<F: Fn(f32) -> bool>(
                a: &[f32],
                width: usize,
                units: std::ops::Range<usize>,
                alive: &mut [bool],
                sat: &F,
            ) -> usize {
                body(a, width, units, alive, sat)
            }
            // The AVX-512 path (chosen only on CPUs with AVX-512F; `NABLA_KERNEL` may choose
            // another), where the CPU also has BW and VL.
            if crate::tensor::gemm::kernel_path() == crate::tensor::gemm::KernelPath::Avx512
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: AVX-512F/BW/VL are present (checked just above); the body is safe.
                return unsafe { body_avx512(a, width, units, alive, sat) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 is present (checked just above); the body is safe code.
                return unsafe { body_avx2(a, width, units, alive, sat) };
            }
        }
        body(a, width, units, alive, sat)
    }
    if width == 0 {
        return 0;
    }
    let threads = crate::nn::batch::threads_for(a.len() / width, width);
    if threads == 1 {
        return vectorised(a, width, 0..width, alive, &saturated);
    }
    let split = crate::nn::batch::Split::new(width, threads);
    let total = std::sync::atomic::AtomicUsize::new(0);
    let flags = crate::nn::batch::Parts(alive.as_mut_ptr());
    crate::tensor::gemm::parallel_parts(split.parts(), &|i| {
        let units = split.range(i);
        // SAFETY: the unit ranges are disjoint and inside `alive` (one flag per unit).
        let alive = unsafe { flags.slice(units.start, units.len()) };
        let n = vectorised(a, width, units, alive, &saturated);
        total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    total.into_inner()
}

/// Σ v² in f64, over eight independent partial sums so that the loop vectorises (the order of
/// additions differs from a plain left-to-right sum only by f64 rounding).
fn sum_of_squares(data: &[f32]) -> f64 {
    #[inline(always)]
    fn body(data: &[f32]) -> f64 {
        let mut acc = [0.0f64; 8];
        let chunks = data.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += (v as f64) * (v as f64);
            }
        }
        let mut s: f64 = acc.iter().sum();
        for &v in tail {
            s += (v as f64) * (v as f64);
        }
        s
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn body_avx2(data: &[f32]) -> f64 {
            body(data)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above); the body is safe code.
            return unsafe { body_avx2(data) };
        }
    }
    body(data)
}

fn act_name(a: Activation) -> String {
    a.name().to_string()
}

/// Copy the targets of rows `idx` into the buffers and view them as batch targets.
pub(crate) fn gather_targets<'b>(
    all: TargetView<'_>,
    idx: &[usize],
    cls: &'b mut Vec<u32>,
    vals: &'b mut Vec<f32>,
) -> Result<Targets<'b>> {
    match all {
        TargetView::Classes(c) => {
            cls.clear();
            cls.extend(idx.iter().map(|&i| c[i]));
            Ok(Targets::Classes(cls))
        }
        TargetView::Values { values, outputs } => {
            vals.clear();
            for &i in idx {
                vals.extend_from_slice(&values[i * outputs..(i + 1) * outputs]);
            }
            Ok(Targets::Values(vals))
        }
    }
}

/// Rows whose predicted class equals the target: argmax for several outputs, logit > 0 for one.
pub(crate) fn count_correct(out: &[f32], rows: usize, outputs: usize, classes: &[u32]) -> usize {
    (0..rows)
        .filter(|&i| predicted_class(&out[i * outputs..(i + 1) * outputs]) == classes[i] as usize)
        .count()
}

/// The predicted class of one row of outputs: the argmax (first on ties), or for a single
/// logit 1 when it is positive.
pub fn predicted_class(row: &[f32]) -> usize {
    if row.len() == 1 {
        return usize::from(row[0] > 0.0);
    }
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}
