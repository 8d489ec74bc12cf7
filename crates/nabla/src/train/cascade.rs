//! Cascade-correlation training (Fahlman & Lebiere 1990, in the flavour of FANN's cascade2):
//! grow a [`Cascade`] one hidden unit at a time.
//!
//! 1. Train the output layer (inputs → outputs, no hidden unit) with full-batch iRPROP−.
//! 2. Train a pool of candidate units on the residual error. Each candidate sees the inputs
//!    and every installed unit; its weights move (iRPROP−, full batch) to maximise
//!    [`CorrelationObjective`], the size of the covariance between its output and the
//!    residual error at each output. Candidates of several activations compete (cascade2's
//!    mixed pool).
//! 3. Install the best candidate with its input weights frozen; the output layer gains a
//!    column for it (starting at zero) and is retrained on every feature.
//! 4. Repeat until the validation loss has not improved for [`CascadeConfig::patience`]
//!    units (the network then goes back to the best number of units), or
//!    [`CascadeConfig::max_units`] units are installed. Without a validation set the
//!    training loss decides.
//!
//! The residual error is ∂loss/∂logit of the loss being minimised (the output error
//! y − t, scaled, for MSE; p − t for the cross-entropies), so every loss of [`Loss`] works and
//! none is written twice. Since installed units never change, their outputs are computed once
//! per stage and the output layer trains as a [`crate::nn::Linear`] layer on the cached
//! feature rows, through the ordinary [`Trainer`]; candidates are a linear layer and an
//! activation layer of the one engine, with ∂(−score)/∂(output) fed to its backward pass.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{
    evaluate, require_targets, ArrayData, BatchSource, Callback, EpochRecord, TargetData,
    TargetView, TrainConfig, Trainer, TrainerState,
};
use crate::data::Task;
use crate::loss::{Loss, Targets};
use crate::nn::{Activation, ActivationLayer, Cascade, Init, Linear, Sequential, Workspace};
use crate::optim::{LrSchedule, Optimizer, Rprop, RpropConfig};
use crate::rng::Rng;
use crate::{Element, Error, Result, Tensor};

/// Settings of a cascade-correlation run; FANN's defaults where it has them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CascadeConfig {
    /// The loss the output layer minimises (its gradient is the residual error).
    pub loss: Loss,
    /// Classification or regression (for metrics).
    pub task: Task,
    /// Outputs of the network (classes, one logit, or regression targets).
    pub outputs: usize,
    /// Most hidden units to install (default 16).
    pub max_units: usize,
    /// Candidate units trained for each installation (default 8), shared round-robin among
    /// [`CascadeConfig::activations`].
    pub candidates: usize,
    /// Activations of the candidate pool (default tanh and sigmoid, FANN's symmetric and
    /// plain sigmoids).
    pub activations: Vec<Activation>,
    /// Most epochs (full-batch steps) of candidate training per unit (default 150, FANN's
    /// cascade_max_cand_epochs).
    pub candidate_epochs: usize,
    /// Most epochs of output training per stage (default 150, FANN's cascade_max_out_epochs).
    pub output_epochs: usize,
    /// A stage ends when its monitored figure (the best candidate score; the output layer's
    /// training loss) has not improved by
    /// [`CascadeConfig::stagnation_fraction`] in this many epochs (default 12, FANN's
    /// cascade_*_stagnation_epochs).
    pub stagnation_epochs: usize,
    /// Relative improvement that counts (default 0.01, FANN's cascade_*_change_fraction).
    pub stagnation_fraction: f64,
    /// Installed units in a row without a better validation loss before growing stops and the
    /// network goes back to its best size (default 3).
    pub patience: usize,
    /// Seed of the candidates' initial weights.
    pub seed: u64,
}

impl CascadeConfig {
    /// A run minimising `loss` for `outputs` outputs, with every other setting at its default.
    pub fn new(loss: Loss, task: Task, outputs: usize) -> Self {
        CascadeConfig {
            loss,
            task,
            outputs,
            max_units: 16,
            candidates: 8,
            activations: vec![Activation::Tanh, Activation::Sigmoid],
            candidate_epochs: 150,
            output_epochs: 150,
            stagnation_epochs: 12,
            stagnation_fraction: 0.01,
            patience: 3,
            seed: 0,
        }
    }

    /// Check every field's domain; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        let at_least_one = [
            ("outputs", self.outputs),
            ("candidates", self.candidates),
            ("candidate epochs", self.candidate_epochs),
            ("output epochs", self.output_epochs),
            ("stagnation epochs", self.stagnation_epochs),
            ("patience", self.patience),
        ];
        for (name, v) in at_least_one {
            if v == 0 {
                return Err(Error::param(name, "must be at least 1"));
            }
        }
        if self.activations.is_empty() {
            return Err(Error::param("candidate activations", "none given"));
        }
        for a in &self.activations {
            a.validate()?;
        }
        if !(self.stagnation_fraction.is_finite() && self.stagnation_fraction >= 0.0) {
            return Err(Error::param(
                "stagnation fraction",
                format!(
                    "{}: must be a finite number of at least 0",
                    self.stagnation_fraction
                ),
            ));
        }
        Ok(())
    }
}

/// What one stage of a run did: the output layer retrained after the unit installed (none for
/// the first stage).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Hidden units in the network after this stage.
    pub units: usize,
    /// The installed unit's activation.
    pub activation: Option<Activation>,
    /// Its correlation score ([`CorrelationObjective`]) when installed.
    pub score: Option<f64>,
    /// Epochs of candidate training.
    pub candidate_epochs: usize,
    /// Epochs of output training.
    pub output_epochs: usize,
    /// Loss on the training set after the stage.
    pub train_loss: f32,
    /// Loss on the validation set after the stage.
    pub val_loss: Option<f32>,
    /// Wall time of the stage.
    pub seconds: f64,
}

/// Why growing stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CascadeStop {
    /// [`CascadeConfig::max_units`] units were installed.
    MaxUnits,
    /// The validation loss stopped falling; the network holds the best number of units.
    ValidationStalled,
    /// The residual error vanished (the training set is fitted exactly).
    NoResidual,
    /// The callback asked to stop.
    Interrupted,
}

/// The outcome of [`train_cascade`].
#[derive(Clone, Debug)]
pub struct CascadeRun {
    /// The network kept: the best-validated size, or the last one.
    pub network: Cascade,
    /// One record per stage, in order (units 0, 1, …), including units later dropped.
    pub stages: Vec<UnitRecord>,
    /// Why growing stopped.
    pub stop: CascadeStop,
}

/// Fahlman's candidate score over a centred residual: for a candidate with outputs V_p on
/// the N rows p, and residual errors E_{p,o} centred per output (Ē_o = 0),
///
/// ```text
/// S = Σ_o | Σ_p (V_p − V̄) E_{p,o} | / √(N · Σ_{p,o} E_{p,o}²)
/// ```
///
/// The denominator is a constant of the residual that makes S free of the residual's scale:
/// with one output S is the candidate's standard deviation times |its correlation with the
/// error| (at most 1 for a tanh unit). Its derivative is
/// ∂S/∂V_p = Σ_o sign(C_o) E_{p,o} / √(N Σ E²), with C_o = Σ_p (V_p − V̄) E_{p,o}: the term
/// through V̄ is Σ_p E_{p,o} = 0, so this is exact. At C_o = 0 (the kink of |·|) sign is taken
/// as 0.
#[derive(Clone, Debug)]
pub struct CorrelationObjective<E: Element = f32> {
    residual: Vec<E>,
    rows: usize,
    outputs: usize,
    norm: f64,
}

impl<E: Element> CorrelationObjective<E> {
    /// The objective for `residual` (`rows × outputs`, row-major, not yet centred).
    pub fn new(residual: &[E], rows: usize, outputs: usize) -> Result<Self> {
        if rows == 0 || outputs == 0 || residual.len() != rows * outputs {
            return Err(Error::ShapeMismatch {
                op: "correlation objective (residual rows × outputs)",
                lhs: vec![residual.len()],
                rhs: vec![rows, outputs],
            });
        }
        let mut mean = vec![0.0f64; outputs];
        for row in residual.chunks_exact(outputs) {
            for (m, &e) in mean.iter_mut().zip(row) {
                *m += e.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows as f64);
        let centred: Vec<E> = residual
            .chunks_exact(outputs)
            .flat_map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(|(&e, &m)| E::from_f64(e.to_f64() - m))
            })
            .collect();
        let squares: f64 = centred.iter().map(|e| e.to_f64() * e.to_f64()).sum();
        let norm = (rows as f64 * squares).sqrt();
        Ok(CorrelationObjective {
            residual: centred,
            rows,
            outputs,
            norm,
        })
    }

    /// √(N · Σ E²) of the centred residual (0: nothing left to correlate with).
    pub fn residual_norm(&self) -> f64 {
        self.norm
    }

    /// The score S of each of `candidates` candidates whose outputs are `values`
    /// (`rows × candidates`, row-major), and, when `grad` is given (same shape), ∂S/∂V
    /// written into it.
    pub fn scores(
        &self,
        values: &[E],
        candidates: usize,
        grad: Option<&mut [E]>,
    ) -> Result<Vec<f64>> {
        let (n, o) = (self.rows, self.outputs);
        if values.len() < n * candidates || grad.as_ref().is_some_and(|g| g.len() < n * candidates)
        {
            return Err(Error::ShapeMismatch {
                op: "correlation scores (candidate values rows × candidates)",
                lhs: vec![values.len()],
                rhs: vec![n, candidates],
            });
        }
        let norm = if self.norm > 0.0 { self.norm } else { 1.0 };
        let mut mean = vec![0.0f64; candidates];
        for row in values[..n * candidates].chunks_exact(candidates) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v.to_f64();
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // C[k][o] = Σ_p (V_pk − V̄_k) E_po.
        let mut cov = vec![0.0f64; candidates * o];
        for (vrow, erow) in values
            .chunks_exact(candidates)
            .zip(self.residual.chunks_exact(o))
        {
            for k in 0..candidates {
                let v = vrow[k].to_f64() - mean[k];
                for (c, &e) in cov[k * o..(k + 1) * o].iter_mut().zip(erow) {
                    *c += v * e.to_f64();
                }
            }
        }
        let scores = (0..candidates)
            .map(|k| cov[k * o..(k + 1) * o].iter().map(|c| c.abs()).sum::<f64>() / norm)
            .collect();
        if let Some(grad) = grad {
            let sign: Vec<f64> = cov
                .iter()
                .map(|&c| {
                    if c > 0.0 {
                        1.0
                    } else if c < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            for (grow, erow) in grad
                .chunks_exact_mut(candidates)
                .zip(self.residual.chunks_exact(o))
            {
                for (k, g) in grow.iter_mut().enumerate() {
                    let s: f64 = sign[k * o..(k + 1) * o]
                        .iter()
                        .zip(erow)
                        .map(|(s, &e)| s * e.to_f64())
                        .sum();
                    *g = E::from_f64(s / norm);
                }
            }
        }
        Ok(scores)
    }
}

/// A pool of candidates of one activation: a linear layer over the feature row and the
/// activation, as a network of the one engine.
struct CandidateGroup {
    activation: Activation,
    net: Sequential,
    ws: Workspace,
    opt: Rprop,
    grad: Vec<f32>,
}

impl CandidateGroup {
    fn new(
        activation: Activation,
        count: usize,
        features: usize,
        rows: usize,
        rng: &mut Rng,
    ) -> Result<Self> {
        // Each candidate is one unit: weights over the feature row drawn as Glorot's for a
        // fan-out of 1, and a bias drawn alike, so that the candidates' hyperplanes differ in
        // offset as well as direction.
        let mut w = vec![0.0f32; count * features];
        for row in w.chunks_exact_mut(features) {
            Init::XavierUniform.fill(row, features, 1, rng);
        }
        let mut b = vec![0.0f32; count];
        Init::XavierUniform.fill(&mut b, features, 1, rng);
        let linear = Linear::from_tensors(
            Tensor::from_vec(w, &[count, features])?,
            Tensor::from_vec(b, &[count])?,
        )?;
        let net = Sequential::new(&[features])
            .with(linear)
            .with(ActivationLayer(activation));
        let ws = Workspace::new(&net, rows)?;
        let opt = Rprop::new(net.parameters(), RpropConfig::default())?;
        Ok(CandidateGroup {
            activation,
            net,
            ws,
            opt,
            grad: vec![0.0; rows * count],
        })
    }

    fn count(&self) -> usize {
        self.net.output_size()
    }

    /// The candidates' scores on `features`, and with `step` one iRPROP− step up the score.
    fn scores(
        &mut self,
        features: &[f32],
        rows: usize,
        objective: &CorrelationObjective,
        step: bool,
    ) -> Result<Vec<f64>> {
        let k = self.count();
        let values = self.net.forward_batch(&mut self.ws, features, rows)?;
        if !step {
            return objective.scores(values, k, None);
        }
        let scores = objective.scores(values, k, Some(&mut self.grad))?;
        // Minimise −S: its gradient with respect to the candidates' outputs is −∂S/∂V.
        for (g, &s) in self.ws.output_grad_mut().iter_mut().zip(&self.grad) {
            *g = -s;
        }
        self.net.zero_grad();
        self.net.backward_batch(&mut self.ws, features)?;
        self.opt.step()?;
        Ok(scores)
    }

    /// Candidate `k`'s weights over the feature row and its bias.
    fn unit(&self, k: usize) -> (Vec<f32>, f32) {
        let params = self.net.parameters();
        let (w, b) = (params[0].value(), params[1].value());
        let m = w.shape()[1];
        (w.data()[k * m..(k + 1) * m].to_vec(), b.data()[k])
    }
}

/// Whether a minimised figure went `since` epochs without falling by the fraction `frac`.
struct Stagnation {
    best: f64,
    since: usize,
    epochs: usize,
    frac: f64,
}

impl Stagnation {
    fn new(epochs: usize, frac: f64) -> Self {
        Stagnation {
            best: f64::INFINITY,
            since: 0,
            epochs,
            frac,
        }
    }

    /// Record `value`; true when the stage should end.
    fn stalled(&mut self, value: f64) -> bool {
        let threshold = if self.best.is_finite() {
            self.best - self.frac * self.best.abs()
        } else {
            f64::INFINITY
        };
        if value < threshold {
            self.best = value;
            self.since = 0;
        } else {
            self.since += 1;
        }
        self.since >= self.epochs
    }
}

impl Callback for Stagnation {
    fn on_epoch_end(&mut self, record: &EpochRecord, _: &TrainerState) -> ControlFlow<()> {
        match self.stalled(record.train_loss as f64) {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    }
}

/// A data set's features, all rows in order.
fn all_features(data: &dyn BatchSource) -> Vec<f32> {
    let n = data.len();
    let mut x = vec![0.0; n * data.n_features()];
    let idx: Vec<usize> = (0..n).collect();
    data.fill_features(&idx, &mut x);
    x
}

fn owned_targets(view: TargetView<'_>) -> TargetData {
    match view {
        TargetView::Classes(c) => TargetData::Classes(c.to_vec()),
        TargetView::Values { values, outputs } => TargetData::Values {
            values: values.to_vec(),
            outputs,
        },
    }
}

fn batch_targets(t: &TargetData) -> Targets<'_> {
    match t {
        TargetData::Classes(c) => Targets::Classes(c),
        TargetData::Values { values, .. } => Targets::Values(values),
    }
}

/// One split: its inputs, its targets, and the cascade's feature rows on it.
struct Split {
    x: Vec<f32>,
    y: TargetData,
    rows: usize,
    features: ArrayData,
}

impl Split {
    fn new(data: &dyn BatchSource, net: &Cascade) -> Result<Self> {
        let y = owned_targets(require_targets(data)?);
        let x = all_features(data);
        let rows = data.len();
        let features = ArrayData::new(x.clone(), net.feature_len(), y.clone())?;
        Ok(Split {
            x,
            y,
            rows,
            features,
        })
    }

    /// Recompute the feature rows for `net` (after a unit was installed).
    fn refresh(&mut self, net: &Cascade) -> Result<()> {
        let m = net.feature_len();
        let mut f = vec![0.0; self.rows * m];
        net.features_into(&self.x, self.rows, &mut f)?;
        self.features = ArrayData::new(f, m, self.y.clone())?;
        Ok(())
    }
}

/// Retrain the output layer of `net` on the cached feature rows; returns the network with the
/// new output weights, the epochs run and the training and validation losses.
fn train_outputs(
    net: &Cascade,
    train: &Split,
    val: Option<&Split>,
    cfg: &CascadeConfig,
) -> Result<(Cascade, usize, f32, Option<f32>)> {
    let (w, b) = net.output_tensors();
    let mut layer = Sequential::new(&[net.feature_len()]).with(Linear::from_tensors(w, b)?);
    let mut opt = Rprop::new(layer.parameters(), RpropConfig::default())?;
    let tcfg = TrainConfig {
        epochs: cfg.output_epochs,
        batch_size: train.rows,
        shuffle: false,
        seed: cfg.seed,
        loss: cfg.loss,
        task: cfg.task,
        early_stopping: None,
        schedule: LrSchedule::Constant,
        target_loss: None,
        shards: 1,
    };
    let history = {
        let mut trainer = Trainer::new(&mut layer, &mut opt as &mut dyn Optimizer, tcfg)?;
        // As FANN, the output layer trains until its training loss stagnates; the validation
        // set judges whole units, not epochs.
        let mut stagnation = Stagnation::new(cfg.stagnation_epochs, cfg.stagnation_fraction);
        trainer.fit(&train.features, None, &mut stagnation)?
    };
    let params = layer.parameters();
    let grown = Cascade::from_parts(
        net.in_features(),
        net.units().to_vec(),
        net.unit_tensors(),
        params[0].value().clone(),
        params[1].value().clone(),
    )?;
    let batch = train.rows.clamp(1, 4096);
    let train_loss = evaluate(&layer, &train.features, cfg.loss, cfg.task, batch)?.loss;
    let val_loss = match val {
        Some(v) => Some(evaluate(&layer, &v.features, cfg.loss, cfg.task, batch)?.loss),
        None => None,
    };
    Ok((grown, history.epochs.len(), train_loss, val_loss))
}

/// The candidate chosen for installation.
struct Chosen {
    activation: Activation,
    /// Its weights over the feature row.
    weights: Vec<f32>,
    bias: f32,
    score: f64,
    /// Epochs of candidate training.
    epochs: usize,
}

/// Train candidates on the residual of `net` over `train` and return the best one (`None`
/// when there is no residual error left).
fn best_candidate(
    net: &Cascade,
    train: &Split,
    cfg: &CascadeConfig,
    rng: &mut Rng,
) -> Result<Option<Chosen>> {
    let (n, m, o) = (train.rows, net.feature_len(), cfg.outputs);
    // The residual: ∂loss/∂logit at the current outputs.
    let head = Sequential::new(&[m]).with({
        let (w, b) = net.output_tensors();
        Linear::from_tensors(w, b)?
    });
    let mut ws = Workspace::new(&head, n)?;
    let logits = head.forward_batch(&mut ws, &train.features.x, n)?.to_vec();
    let mut residual = vec![0.0f32; n * o];
    cfg.loss
        .value_and_grad(&logits, n, o, batch_targets(&train.y), &mut residual)?;
    let objective = CorrelationObjective::new(&residual, n, o)?;
    let norm = objective.residual_norm();
    if norm.is_nan() || norm <= 0.0 {
        return Ok(None);
    }
    let pools = cfg.activations.len().min(cfg.candidates);
    let mut groups = (0..pools)
        .map(|g| {
            let count = cfg.candidates / pools + usize::from(g < cfg.candidates % pools);
            CandidateGroup::new(cfg.activations[g], count, m, n, rng)
        })
        .collect::<Result<Vec<_>>>()?;
    let f = &train.features.x;
    let mut stagnation = Stagnation::new(cfg.stagnation_epochs, cfg.stagnation_fraction);
    let mut epochs = 0;
    while epochs < cfg.candidate_epochs {
        let mut best = 0.0f64;
        for g in &mut groups {
            for s in g.scores(f, n, &objective, true)? {
                best = best.max(s);
            }
        }
        epochs += 1;
        if !best.is_finite() {
            return Err(Error::Diverged {
                epoch: epochs,
                batch: 1,
                msg: "a candidate unit's score is not finite".into(),
            });
        }
        if stagnation.stalled(-best) {
            break;
        }
    }
    let mut chosen: Option<(usize, usize, f64)> = None;
    for (gi, g) in groups.iter_mut().enumerate() {
        for (k, s) in g.scores(f, n, &objective, false)?.into_iter().enumerate() {
            if chosen.is_none_or(|(_, _, best)| s > best) {
                chosen = Some((gi, k, s));
            }
        }
    }
    Ok(chosen.map(|(gi, k, score)| {
        let (weights, bias) = groups[gi].unit(k);
        Chosen {
            activation: groups[gi].activation,
            weights,
            bias,
            score,
            epochs,
        }
    }))
}

/// Grow a cascade-correlation network on `train` (see the module docs), watching `val` when
/// given. `on_stage` sees each stage's figures as it ends and may stop the run.
pub fn train_cascade(
    train: &dyn BatchSource,
    val: Option<&dyn BatchSource>,
    cfg: &CascadeConfig,
    on_stage: &mut dyn FnMut(&UnitRecord) -> ControlFlow<()>,
) -> Result<CascadeRun> {
    cfg.validate()?;
    if train.is_empty() {
        return Err(Error::param("training data", "has no rows"));
    }
    let val = val.filter(|v| !v.is_empty());
    if let Some(v) = val {
        if v.n_features() != train.n_features() {
            return Err(Error::ShapeMismatch {
                op: "cascade (validation features vs training features)",
                lhs: vec![v.n_features()],
                rhs: vec![train.n_features()],
            });
        }
    }
    let mut rng = Rng::new(cfg.seed);
    let mut net = Cascade::new(train.n_features(), cfg.outputs, &[], Init::Zeros, &mut rng)?;
    let mut train_split = Split::new(train, &net)?;
    let mut val_split = val.map(|v| Split::new(v, &net)).transpose()?;
    let mut stages = vec![];
    let t0 = Instant::now();
    let (trained, epochs, train_loss, val_loss) =
        train_outputs(&net, &train_split, val_split.as_ref(), cfg)?;
    net = trained;
    let record = UnitRecord {
        units: 0,
        activation: None,
        score: None,
        candidate_epochs: 0,
        output_epochs: epochs,
        train_loss,
        val_loss,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let monitored = |r: &UnitRecord| r.val_loss.unwrap_or(r.train_loss);
    let mut best = (monitored(&record), net.clone());
    let mut since_best = 0;
    let mut stop = on_stage(&record)
        .is_break()
        .then_some(CascadeStop::Interrupted);
    stages.push(record);
    while stop.is_none() {
        if net.units().len() >= cfg.max_units {
            stop = Some(CascadeStop::MaxUnits);
            break;
        }
        let t0 = Instant::now();
        let Some(Chosen {
            activation,
            weights,
            bias,
            score,
            epochs: cand_epochs,
        }) = best_candidate(&net, &train_split, cfg, &mut rng)?
        else {
            stop = Some(CascadeStop::NoResidual);
            break;
        };
        let installed = net.with_unit(activation, &weights, bias, &vec![0.0; cfg.outputs])?;
        train_split.refresh(&installed)?;
        if let Some(v) = &mut val_split {
            v.refresh(&installed)?;
        }
        let (trained, epochs, train_loss, val_loss) =
            train_outputs(&installed, &train_split, val_split.as_ref(), cfg)?;
        net = trained;
        let record = UnitRecord {
            units: net.units().len(),
            activation: Some(activation),
            score: Some(score),
            candidate_epochs: cand_epochs,
            output_epochs: epochs,
            train_loss,
            val_loss,
            seconds: t0.elapsed().as_secs_f64(),
        };
        if !train_loss.is_finite() {
            return Err(Error::Diverged {
                epoch: record.units,
                batch: 1,
                msg: format!("the training loss is {train_loss} after installing a unit"),
            });
        }
        if monitored(&record) < best.0 {
            best = (monitored(&record), net.clone());
            since_best = 0;
        } else {
            since_best += 1;
        }
        if on_stage(&record).is_break() {
            stop = Some(CascadeStop::Interrupted);
        } else if val_split.is_some() && since_best >= cfg.patience {
            stop = Some(CascadeStop::ValidationStalled);
        }
        stages.push(record);
    }
    // With a validation set the best-validated size is kept; without one, the last.
    let network = match val_split {
        Some(_) => best.1,
        None => net,
    };
    Ok(CascadeRun {
        network,
        stages,
        stop: stop.unwrap_or(CascadeStop::MaxUnits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Module;

    /// ∂S/∂θ of a candidate pool (linear layer + tanh, the engine's backward pass fed with
    /// ∂S/∂V) against central differences of S in f64.
    #[test]
    fn correlation_gradient_matches_finite_differences_in_f64() {
        let (rows, m, o, k) = (9, 3, 2, 4);
        let x: Vec<f64> = (0..rows * m).map(|i| (i as f64 * 0.61).sin()).collect();
        let e: Vec<f64> = (0..rows * o)
            .map(|i| (i as f64 * 1.37).cos() + 0.3)
            .collect();
        let objective = CorrelationObjective::new(&e, rows, o).unwrap();
        let mut rng = Rng::new(5);
        for act in [Activation::Tanh, Activation::Sigmoid] {
            let lin =
                Linear::<f64>::new(m, k, Init::Uniform { lo: -1.0, hi: 1.0 }, &mut rng).unwrap();
            lin.bias
                .value_mut()
                .data_mut()
                .copy_from_slice(&[0.1, -0.2, 0.3, 0.05]);
            let net = Sequential::<f64>::new(&[m])
                .with(lin)
                .with(ActivationLayer(act));
            let mut ws = Workspace::new(&net, rows).unwrap();
            let mut dv = vec![0.0; rows * k];
            let values = net.forward_batch(&mut ws, &x, rows).unwrap().to_vec();
            objective.scores(&values, k, Some(&mut dv)).unwrap();
            ws.output_grad_mut().copy_from_slice(&dv);
            net.zero_grad();
            net.backward_batch(&mut ws, &x).unwrap();
            let total = |ws: &mut Workspace<f64>| -> f64 {
                let v = net.forward_batch(ws, &x, rows).unwrap().to_vec();
                objective.scores(&v, k, None).unwrap().iter().sum()
            };
            let h = 1e-6;
            for p in net.parameters() {
                let analytic = p.grad().unwrap().into_vec();
                for (j, &g) in analytic.iter().enumerate() {
                    let orig = p.value().data()[j];
                    p.value_mut().data_mut()[j] = orig + h;
                    let up = total(&mut ws);
                    p.value_mut().data_mut()[j] = orig - h;
                    let down = total(&mut ws);
                    p.value_mut().data_mut()[j] = orig;
                    let numeric = (up - down) / (2.0 * h);
                    assert!(
                        (numeric - g).abs() < 1e-7 * (1.0 + numeric.abs()),
                        "{act:?} [{j}]: analytic {g}, numeric {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_score_is_the_normalised_covariance_and_ignores_the_residual_mean() {
        // One output, residual (1, −1, 3) → centred (0, −2, 2), Σ E² = 8, √(3 · 8) = √24.
        let objective = CorrelationObjective::new(&[1.0f64, -1.0, 3.0], 3, 1).unwrap();
        assert_eq!(objective.residual_norm(), 24f64.sqrt());
        // V = (5, 0, 1): V̄ = 2, C = 3·0 + (−2)(−2) + (−1)(2) = 2 → S = 2 / √24.
        let s = objective.scores(&[5.0, 0.0, 1.0], 1, None).unwrap();
        assert_eq!(s, vec![2.0 / 24f64.sqrt()]);
        // With one output, S is std(V) · |corr(V, E)|: here a candidate equal to the error.
        let s = objective.scores(&[0.0, -2.0, 2.0], 1, None).unwrap();
        let std = (8.0f64 / 3.0).sqrt();
        assert!((s[0] - std).abs() < 1e-15, "{s:?}");
        // A constant candidate has no covariance and a zero gradient.
        let mut g = vec![9.0; 3];
        let s = objective.scores(&[4.0, 4.0, 4.0], 1, Some(&mut g)).unwrap();
        assert_eq!((s, g), (vec![0.0], vec![0.0; 3]));
        assert!(CorrelationObjective::new(&[1.0f64, 2.0], 3, 1).is_err());
        assert!(objective.scores(&[1.0, 2.0], 1, None).is_err());
    }

    fn xor_parity(bits: usize) -> ArrayData {
        let rows = 1 << bits;
        let mut x = vec![];
        let mut y = vec![];
        for r in 0..rows {
            let mut ones = 0;
            for b in 0..bits {
                let v = (r >> b) & 1;
                ones += v;
                x.push(if v == 1 { 1.0 } else { -1.0 });
            }
            y.push((ones % 2) as u32);
        }
        ArrayData::new(x, bits, TargetData::Classes(y)).unwrap()
    }

    /// Parity is not linearly separable: without a hidden unit the loss stays at chance
    /// (ln 2 for one logit); hidden units take it far below, and growing stops at max_units.
    #[test]
    fn cascade_learns_parity_and_stops_at_max_units() {
        let data = xor_parity(3);
        let mut cfg = CascadeConfig::new(Loss::BceWithLogits, Task::Classify, 1);
        cfg.max_units = 4;
        let mut seen = vec![];
        let run = train_cascade(&data, None, &cfg, &mut |r| {
            seen.push(r.units);
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(run.stop, CascadeStop::MaxUnits);
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(run.network.units().len(), 4);
        let linear = run.stages[0].train_loss;
        let grown = run.stages.last().unwrap().train_loss;
        assert!(linear > 0.6, "no hidden unit: {linear}");
        assert!(grown < 0.1, "four units: {grown}");
        // Every row classified right by the installed network, run through the engine.
        let net = Sequential::new(&[3]).with(run.network.clone());
        let m = evaluate(&net, &data, Loss::BceWithLogits, Task::Classify, 8).unwrap();
        assert_eq!(m.accuracy, Some(1.0));
        assert!((m.loss - grown).abs() < 1e-6);
        assert_eq!(run.network.spec().kind(), "cascade");
    }

    #[test]
    fn a_validation_set_that_stops_improving_ends_the_growth_at_the_best_size() {
        let data = xor_parity(3);
        let mut cfg = CascadeConfig::new(Loss::BceWithLogits, Task::Classify, 1);
        cfg.max_units = 12;
        cfg.patience = 2;
        // Validating on the training rows: once they are fitted the loss cannot keep falling
        // by much, but it does fall; so use a set whose labels are noise instead.
        let noise = ArrayData::new(
            data.x.clone(),
            3,
            TargetData::Classes(vec![0, 0, 1, 1, 0, 1, 0, 1]),
        )
        .unwrap();
        let run = train_cascade(
            &data,
            Some(&noise),
            &cfg,
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
        assert_eq!(run.stop, CascadeStop::ValidationStalled);
        let best = run
            .stages
            .iter()
            .min_by(|a, b| a.val_loss.partial_cmp(&b.val_loss).unwrap())
            .unwrap();
        assert_eq!(run.network.units().len(), best.units);
        assert!(run.stages.len() < 13);
        let last = run.stages.last().unwrap().units;
        assert_eq!(last, best.units + cfg.patience);
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let data = xor_parity(2);
        let mut cfg = CascadeConfig::new(Loss::BceWithLogits, Task::Classify, 1);
        cfg.candidates = 0;
        let e = train_cascade(&data, None, &cfg, &mut |_| ControlFlow::Continue(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("candidates"), "{e}");
    }
}
