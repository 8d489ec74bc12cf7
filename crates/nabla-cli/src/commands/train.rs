//! `nabla train`: fit a feedforward network to a data set, report its figures and save it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use nabla::autograd::Var;
use nabla::data::Task;
use nabla::io::{ModelMeta, FORMAT_VERSION};
use nabla::loss::Loss;
use nabla::nn::{Activation, Init};
use nabla::optim::{Objective, Optimizer, OptimizerState};
use nabla::train::{
    BatchInfo, Callback, Checkpoint, DataSettings, EpochRecord, Metrics, NetworkSettings,
    OptimizerSettings, RowSubset, RunSettings, TrainConfig, Trainer, TrainerState,
};
use nabla::Tensor;

use super::{print_json, CliError};
use crate::distributed;
use crate::pipeline::{
    self, defaults, figures, lib_err, metrics_json, metrics_text, ArchFlags, DataFlags, OnOff,
    OptimFlags, TaskFlag,
};
use nabla::train::Collective;

/// Exit code after Ctrl-C.
const EXIT_INTERRUPTED: i32 = 130;

/// Set by the Ctrl-C handler; checked after every batch.
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Train a feedforward network on a data set and save it.
///
/// Output layer and loss follow the task: softmax cross-entropy for several
/// classes, ONE logit with sigmoid + binary cross-entropy for two classes, a linear output with
/// MSE for regression.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    #[command(flatten)]
    pub data: DataFlags,
    #[command(flatten)]
    pub arch: ArchFlags,
    #[command(flatten)]
    pub optim: OptimFlags,
    /// Passes over the training data (with --resume: the total to reach) [default: 10 for a
    /// training set of 10 000 rows or more; for a smaller one enough for about 2 000
    /// optimiser steps, between 20 and 200; 500 for the small-regression default].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Rows per mini-batch [default: 32 for a training set under 10 000 rows, 128 for a
    /// larger one; the whole training split for the small-regression default (a regression
    /// under 10 000 rows with a validation split and no optimiser flag: full-batch rprop)].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Stop after this many epochs without a better validation loss and keep the best weights
    /// [default: off; 50 for the small-regression default].
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Stop as soon as the loss reaches this value (at the end of an epoch): the validation
    /// loss when there is a validation split, else the training loss (FANN's desired error).
    #[arg(long, value_name = "LOSS")]
    #[serde(default)]
    pub target_loss: Option<f32>,
    /// Shuffle the training rows every epoch (seeded).
    #[arg(long, value_enum, default_value = "on")]
    pub shuffle: OnOff,
    /// Seed of the splits, initial weights, dropout and shuffling.
    #[arg(long, default_value_t = defaults::SEED)]
    pub seed: u64,
    /// Worker threads for the matrix products (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Cut every batch into N shards whose gradients are added as N MPI processes add them,
    /// so that one process reproduces `mpirun -np N nabla train …` (bit for bit with 2; see
    /// the README, "Training on several machines"). Under mpirun each process is one shard.
    #[arg(long, value_name = "N", default_value_t = 1)]
    #[serde(default = "one")]
    pub shards: usize,
    /// Under mpirun: sum the gradients over the processes in one call after the backward pass
    /// (fused), or layer by layer as each layer's backward pass ends, overlapping the
    /// communication with the rest of the pass (layers). The weights are the same either way.
    #[arg(long, value_enum, default_value = "fused")]
    #[serde(default)]
    pub allreduce: AllReduce,
    /// Start from the weights of a safetensors file (a nabla model or a plain PyTorch state
    /// dict of the same nn.Sequential architecture).
    #[arg(long, value_name = "MODEL")]
    pub init_from: Option<PathBuf>,
    /// Continue an interrupted run from its checkpoint, up to --epochs in total.
    #[arg(long, value_name = "CHECKPOINT", conflicts_with = "init_from")]
    pub resume: Option<PathBuf>,
    /// Every N epochs (and on Ctrl-C) rewrite --out atomically as a checkpoint (model,
    /// optimiser state, epoch, RNG states).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<usize>,
    /// Model file to write [default: model.safetensors].
    #[arg(long, value_name = "MODEL")]
    pub out: Option<PathBuf>,
    /// Write one CSV row per epoch: epoch, lr, train_loss, train_accuracy, val_loss,
    /// val_accuracy, and each parameter tensor's gradient norm.
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// Print one JSON object with the run's figures on stdout at the end.
    #[arg(long)]
    pub json: bool,
    /// Evaluate the test set after every epoch (it takes no part in training): shown on the
    /// epoch lines and, with --json, listed under "test_per_epoch" with the seconds since the
    /// command started.
    #[arg(long)]
    pub track_test: bool,
    /// Write a self-contained HTML report (curves, metrics, confusion matrix, warnings).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Add each layer's weight-gradient norm to the per-epoch line.
    #[arg(long)]
    pub diagnostics: bool,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
    /// Testing aid: behave as if Ctrl-C came at the end of this epoch.
    #[arg(long, hide = true)]
    pub stop_after: Option<usize>,
    /// Grow a cascade-correlation network (Fahlman & Lebiere 1990, as FANN's cascade2)
    /// instead of training fixed layers: candidate units (tanh and sigmoid) are trained to
    /// correlate with the residual error, the best is installed with frozen input weights
    /// (it sees the inputs and every earlier unit), the output weights are retrained
    /// (full-batch iRPROP−; --epochs caps each retraining, default 150), until the validation
    /// loss has not fallen for 3 units (the best size is kept) or --max-units are installed.
    #[arg(long, conflicts_with_all = CASCADE_EXCLUDES)]
    #[serde(default)]
    pub cascade: bool,
    /// With --cascade: most hidden units to install [default: 16].
    #[arg(long, value_name = "N", requires = "cascade")]
    #[serde(default)]
    pub max_units: Option<usize>,
    /// With --cascade: candidate units trained for each installation [default: 8].
    #[arg(long, value_name = "N", requires = "cascade")]
    #[serde(default)]
    pub candidates: Option<usize>,
}

fn one() -> usize {
    1
}

/// How the gradients are summed over MPI processes (`--allreduce`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllReduce {
    /// One call per step, after the backward pass.
    #[default]
    Fused,
    /// One call per layer, started as its backward pass ends.
    Layers,
}

/// The flags that do not apply to --cascade (it chooses its units, their activations and
/// its trainer itself, and writes no checkpoint), refused with both named.
const CASCADE_EXCLUDES: [&str; 22] = [
    "hidden",
    "arch",
    "input_shape",
    "activation",
    "dropout",
    "init",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "line_search",
    "batch_size",
    "early_stopping",
    "target_loss",
    "init_from",
    "resume",
    "checkpoint_every",
    "history",
    "report",
    "track_test",
    "shards",
];

/// An optimiser shared between the trainer and the checkpoint callback.
#[derive(Clone)]
struct SharedOptimizer(Rc<RefCell<Box<dyn Optimizer>>>);

impl Optimizer for SharedOptimizer {
    fn step(&mut self) -> nabla::Result<()> {
        self.0.borrow_mut().step()
    }
    fn step_with_objective(
        &mut self,
        loss: f64,
        objective: &mut dyn Objective,
    ) -> nabla::Result<()> {
        self.0.borrow_mut().step_with_objective(loss, objective)
    }
    fn zero_grad(&mut self) {
        self.0.borrow_mut().zero_grad()
    }
    fn learning_rate(&self) -> f64 {
        self.0.borrow().learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.0.borrow_mut().set_learning_rate(lr)
    }
    fn state(&self) -> OptimizerState {
        self.0.borrow().state()
    }
    fn load_state(&mut self, state: &OptimizerState) -> nabla::Result<()> {
        self.0.borrow_mut().load_state(state)
    }
    fn name(&self) -> &'static str {
        self.0.borrow().name()
    }
}

/// Keys of [`RunSettings::extra`]: the flags of `train` that the library does not read but a
/// resumed run keeps.
const EXTRA_REPORT: &str = "report";
const EXTRA_DIAGNOSTICS: &str = "diagnostics";
const EXTRA_TARGET_LOSS: &str = "target_loss";
const EXTRA_SHARDS: &str = "shards";
/// The number of MPI processes of the run that wrote a checkpoint (absent: one).
const EXTRA_RANKS: &str = "ranks";

/// The run's settings as the library stores them in a checkpoint.
fn run_settings(args: &Args, ranks: usize) -> Result<RunSettings, CliError> {
    let d = &args.data;
    let a = &args.arch;
    let o = &args.optim;
    let mut extra = BTreeMap::new();
    if args.shards > 1 {
        extra.insert(EXTRA_SHARDS.to_string(), json!(args.shards));
    }
    if ranks > 1 {
        extra.insert(EXTRA_RANKS.to_string(), json!(ranks));
    }
    if let Some(report) = &args.report {
        extra.insert(EXTRA_REPORT.to_string(), json!(report));
    }
    if args.diagnostics {
        extra.insert(EXTRA_DIAGNOSTICS.to_string(), json!(true));
    }
    if let Some(t) = args.target_loss {
        extra.insert(EXTRA_TARGET_LOSS.to_string(), json!(t));
    }
    Ok(RunSettings {
        data: DataSettings {
            source: d.data.clone(),
            test_source: d.test.clone(),
            target: d.target.clone(),
            task: match d.task {
                TaskFlag::Auto => None,
                TaskFlag::Classify => Some(Task::Classify),
                TaskFlag::Regress => Some(Task::Regress),
            },
            val_split: d.val_split,
            test_split: d.test_split,
            split_file: d.split_file.clone(),
            train_rows: d.train_rows.clone(),
            test_rows: d.test_rows.clone(),
            standardize: d.standardize.map(OnOff::is_on),
        },
        network: NetworkSettings {
            hidden: pipeline::parse_hidden(&a.hidden)?,
            activation: Activation::from_name(&a.activation)
                .map_err(|e| CliError::usage(format!("--activation: {e}")))?,
            dropout: a.dropout,
            init: match a.init.as_str() {
                "auto" => None,
                name => Some(
                    Init::from_name(name).map_err(|e| CliError::usage(format!("--init: {e}")))?,
                ),
            },
            loss: match a.loss.as_str() {
                "auto" => None,
                name => Some(
                    Loss::from_name(name).map_err(|e| CliError::usage(format!("--loss: {e}")))?,
                ),
            },
            architecture: a.arch.clone(),
            input_shape: a
                .input_shape
                .as_deref()
                .map(pipeline::parse_input_shape)
                .transpose()?,
        },
        optimizer: OptimizerSettings {
            name: o.optimizer_name().to_string(),
            learning_rate: o.lr,
            momentum: o.momentum,
            weight_decay: o.weight_decay,
            schedule: o.schedule_name().to_string(),
            line_search: o.line_search.clone(),
        },
        epochs: args.epochs,
        batch_size: args.batch_size,
        early_stopping: args.early_stopping,
        shuffle: args.shuffle.is_on(),
        seed: args.seed,
        checkpoint_every: args.checkpoint_every,
        init_from: args.init_from.clone(),
        extra,
    })
}

/// The `--init` name of an initialiser (`None` for those no flag chooses).
fn init_flag(init: Init) -> Option<&'static str> {
    Some(match init {
        Init::XavierUniform => "xavier_uniform",
        Init::XavierNormal => "xavier_normal",
        Init::HeUniform => "he_uniform",
        Init::HeNormal => "he_normal",
        Init::LecunNormal => "lecun_normal",
        Init::TorchDefault => "torch",
        Init::Zeros => "zeros",
        Init::Constant { .. } | Init::Uniform { .. } | Init::Normal { .. } => return None,
    })
}

/// The flags of a run resumed from the checkpoint at `path`: its settings, with the
/// run-control flags of this command line (`cmd`).
fn resumed_args(saved: &RunSettings, cmd: &Args, path: &Path) -> Result<Args, CliError> {
    let (d, n, o) = (&saved.data, &saved.network, &saved.optimizer);
    let not_flags = |what: String| {
        CliError::failure(format!(
            "--resume {}: the checkpoint's {what} has no command-line flag",
            path.display()
        ))
    };
    let activation = n.activation.name();
    if Activation::from_name(activation).ok() != Some(n.activation) {
        return Err(not_flags(format!("activation {:?}", n.activation)));
    }
    let init = match n.init {
        None => "auto",
        Some(init) => init_flag(init).ok_or_else(|| not_flags(format!("init {init:?}")))?,
    };
    let hidden: Vec<String> = n.hidden.iter().map(usize::to_string).collect();
    Ok(Args {
        data: DataFlags {
            data: d.source.clone(),
            test: d.test_source.clone(),
            target: d.target.clone(),
            task: match d.task {
                None => TaskFlag::Auto,
                Some(Task::Classify) => TaskFlag::Classify,
                Some(Task::Regress) => TaskFlag::Regress,
            },
            val_split: d.val_split,
            test_split: d.test_split,
            split_file: d.split_file.clone(),
            train_rows: d.train_rows.clone(),
            test_rows: d.test_rows.clone(),
            standardize: d.standardize.map(on_off),
        },
        arch: ArchFlags {
            hidden: hidden.join(","),
            activation: activation.to_string(),
            dropout: n.dropout,
            init: init.to_string(),
            loss: n.loss.map_or("auto", |l| l.name()).to_string(),
            arch: n.architecture.clone(),
            input_shape: n.input_shape.as_ref().map(|shape| {
                let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
                dims.join(",")
            }),
        },
        optim: OptimFlags {
            optimizer: Some(o.name.clone()),
            lr: o.learning_rate,
            momentum: o.momentum,
            weight_decay: o.weight_decay,
            schedule: Some(o.schedule.clone()),
            line_search: o.line_search.clone(),
        },
        epochs: cmd.epochs.or(saved.epochs),
        batch_size: saved.batch_size,
        early_stopping: saved.early_stopping,
        target_loss: saved
            .extra
            .get(EXTRA_TARGET_LOSS)
            .and_then(|v| v.as_f64())
            .map(|v| v as f32),
        shuffle: on_off(saved.shuffle),
        seed: saved.seed,
        threads: cmd.threads,
        allreduce: cmd.allreduce,
        shards: saved
            .extra
            .get(EXTRA_SHARDS)
            .and_then(|v| v.as_u64())
            .map_or(1, |v| v as usize),
        init_from: saved.init_from.clone(),
        resume: Some(path.to_path_buf()),
        checkpoint_every: cmd.checkpoint_every.or(saved.checkpoint_every),
        out: Some(cmd.out.clone().unwrap_or_else(|| path.to_path_buf())),
        history: cmd.history.clone(),
        json: cmd.json,
        track_test: cmd.track_test,
        report: saved
            .extra
            .get(EXTRA_REPORT)
            .and_then(|v| v.as_str())
            .map(PathBuf::from),
        diagnostics: saved
            .extra
            .get(EXTRA_DIAGNOSTICS)
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        quiet: cmd.quiet,
        stop_after: cmd.stop_after,
        cascade: false,
        max_units: None,
        candidates: None,
    })
}

fn on_off(on: bool) -> OnOff {
    if on {
        OnOff::On
    } else {
        OnOff::Off
    }
}

/// Read the checkpoint given to `--resume`.
fn read_checkpoint(path: &Path) -> Result<Checkpoint, CliError> {
    let file = nabla::io::load_safetensors(path).map_err(lib_err)?;
    if !Checkpoint::is_checkpoint(&file) {
        return Err(CliError::failure(format!(
            "--resume {}: not a checkpoint (a finished model has no training state; \
             checkpoints come from --checkpoint-every or Ctrl-C)",
            path.display()
        )));
    }
    Checkpoint::from_file(file, path).map_err(|e| match e {
        nabla::Error::Model { msg, .. } => {
            CliError::failure(format!("--resume {}: {msg}", path.display()))
        }
        other => lib_err(other),
    })
}

/// Progress output, checkpoints and Ctrl-C during training.
struct Monitor<'a> {
    quiet: bool,
    tty: bool,
    epochs: usize,
    bar: Option<ProgressBar>,
    epoch_start: Instant,
    rows_in_epoch: usize,
    loss_sum: f64,
    params: Vec<(String, Var)>,
    optimizer: SharedOptimizer,
    /// The run at the end of the last epoch (what a checkpoint written now holds).
    last: Checkpoint,
    checkpoint_every: Option<usize>,
    stop_after: Option<usize>,
    out: &'a Path,
    args: &'a Args,
    error: Option<CliError>,
    diagnostics: nabla::train::DiagnosticsMonitor,
    warnings: Vec<String>,
    /// When the command started (for --track-test's timings).
    started: Instant,
    /// With --track-test: one JSON object per epoch.
    test_per_epoch: Vec<serde_json::Value>,
}

impl Monitor<'_> {
    /// Take the weights (parameters and buffers), the optimiser's state and `trainer` into
    /// [`Monitor::last`].
    fn snapshot(&mut self, trainer: &TrainerState) {
        self.last.weights = self
            .params
            .iter()
            .map(|(n, v)| (n.clone(), v.value().clone()))
            .collect();
        self.last.optimizer = self.optimizer.state();
        self.last.trainer = trainer.clone();
    }
}

impl Monitor<'_> {
    /// Feed the epoch to the diagnostics (vanishing/exploding gradients, dead units) and print
    /// each new warning on stderr unless --quiet; warnings are kept for the report.
    fn print_diagnostics(&mut self, record: &EpochRecord) {
        for w in self.diagnostics.observe(record) {
            let line = format!("epoch {}: {}", w.epoch, w.message);
            if !self.quiet {
                eprintln!("warning: {line}");
            }
            self.warnings.push(line);
        }
    }
}

/// Appends one split's figures to an epoch line: `  val loss L acc A r2 R`, each figure only
/// when the task has it.
fn push_split_figures(line: &mut String, split: &str, m: &Metrics) {
    line.push_str(&format!("  {split} loss {:.4}", m.loss));
    if let Some(a) = m.accuracy {
        line.push_str(&format!(" acc {a:.4}"));
    }
    if let Some(r2) = m.r2 {
        line.push_str(&format!(" r2 {r2:.4}"));
    }
}

impl Callback for Monitor<'_> {
    fn on_batch_end(&mut self, info: &BatchInfo) -> ControlFlow<()> {
        self.rows_in_epoch += info.rows;
        self.loss_sum += info.loss as f64 * info.rows as f64;
        if !self.quiet && self.tty {
            let bar = self.bar.get_or_insert_with(|| {
                let b = ProgressBar::new(info.batches as u64);
                b.set_style(
                    ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.set_prefix(format!("{}/{}", info.epoch, self.epochs));
                b
            });
            bar.set_position((info.batch + 1) as u64);
            if info.batch.is_multiple_of(8) || info.batch + 1 == info.batches {
                let secs = self.epoch_start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.4}  {:.0} rows/s",
                    self.loss_sum / self.rows_in_epoch.max(1) as f64,
                    self.rows_in_epoch as f64 / secs
                ));
            }
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn on_epoch_end(&mut self, record: &EpochRecord, state: &TrainerState) -> ControlFlow<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.quiet {
            let mut line = format!(
                "epoch {:>3}/{}  lr {:.2e}  train loss {:.4}",
                record.epoch, self.epochs, record.lr, record.train_loss
            );
            if let Some(a) = record.train_accuracy {
                line.push_str(&format!(" acc {a:.4}"));
            }
            if let Some(v) = &record.val {
                push_split_figures(&mut line, "val", v);
            }
            if let Some(t) = &record.test {
                push_split_figures(&mut line, "test", t);
            }
            line.push_str(&format!(
                "  {:.1}s  {:.0} rows/s",
                record.seconds,
                self.rows_in_epoch as f64 / record.seconds.max(1e-9)
            ));
            if self.args.diagnostics {
                let norms: Vec<String> = record
                    .grad_norms
                    .iter()
                    .filter(|(n, _)| n.ends_with(".weight"))
                    .map(|(n, g)| format!("{}={g:.2e}", n.trim_end_matches(".weight")))
                    .collect();
                line.push_str(&format!("  |∇W| {}", norms.join(" ")));
            }
            eprintln!("{line}");
        }
        self.print_diagnostics(record);
        if let Some(t) = &record.test {
            let mut o = serde_json::Map::new();
            o.insert("epoch".into(), json!(record.epoch));
            o.insert("test_loss".into(), super::json_number(t.loss as f64));
            if let Some(a) = t.accuracy {
                o.insert("test_accuracy".into(), super::json_number(a));
            }
            if let Some(r2) = t.r2 {
                o.insert("test_r2".into(), super::json_number(r2 as f64));
            }
            o.insert(
                "seconds_since_start".into(),
                json!(self.started.elapsed().as_secs_f64()),
            );
            self.test_per_epoch.push(serde_json::Value::Object(o));
        }
        self.rows_in_epoch = 0;
        self.loss_sum = 0.0;
        self.epoch_start = Instant::now();
        self.snapshot(state);
        if let Some(n) = self.checkpoint_every {
            if record.epoch.is_multiple_of(n) {
                if let Err(e) = self.last.save(self.out) {
                    self.error = Some(lib_err(e));
                    return ControlFlow::Break(());
                }
            }
        }
        if self.stop_after == Some(record.epoch) {
            INTERRUPTED.store(true, Ordering::SeqCst);
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

fn validate(args: &Args) -> Result<(), CliError> {
    if args.epochs == Some(0) {
        return Err(CliError::usage("--epochs 0: must be at least 1"));
    }
    if args.batch_size == Some(0) {
        return Err(CliError::usage("--batch-size 0: must be at least 1"));
    }
    if args.early_stopping == Some(0) {
        return Err(CliError::usage(
            "--early-stopping 0: patience must be at least 1",
        ));
    }
    if let Some(t) = args.target_loss {
        if !t.is_finite() || t < 0.0 {
            return Err(CliError::usage(format!(
                "--target-loss {t}: must be a finite number of at least 0"
            )));
        }
    }
    if args.checkpoint_every == Some(0) {
        return Err(CliError::usage("--checkpoint-every 0: must be at least 1"));
    }
    if args.early_stopping.is_some() && args.data.val_split == 0.0 {
        return Err(CliError::usage(
            "--early-stopping needs a validation split (--val-split above 0)",
        ));
    }
    Ok(())
}

/// Runs `nabla train`, as one process or as one of the processes of `collective` (rank 0
/// alone prints and writes files).
pub fn run(args: Args, collective: &dyn Collective) -> Result<(), CliError> {
    let (rank, ranks) = (collective.rank(), collective.size());
    // Every failure before training is known to every process (data a rank cannot read ends
    // the job with rank 0 naming it).
    let ready = prepare(args, ranks, rank == 0);
    let (args, resume, out, data) = distributed::agree(collective, "to start", ready)?;
    train(args, resume, out, data, collective)
}

/// Flags, checkpoint, output paths and data of a run: everything that can fail before the
/// processes start training together.
fn prepare(
    mut args: Args,
    ranks: usize,
    writes: bool,
) -> Result<(Args, Option<Checkpoint>, PathBuf, pipeline::Prepared), CliError> {
    pipeline::set_threads(args.threads)?;
    // Resuming: the checkpoint's settings, with the run-control flags of this command line.
    let mut resume = None;
    if let Some(path) = args.resume.clone() {
        let checkpoint = read_checkpoint(&path)?;
        args = resumed_args(&checkpoint.settings, &args, &path)?;
        let saved_ranks = checkpoint
            .settings
            .extra
            .get(EXTRA_RANKS)
            .and_then(|v| v.as_u64())
            .map_or(1, |v| v as usize);
        if saved_ranks != ranks {
            let how = |n: usize| match n {
                1 => "one process (no mpirun)".to_string(),
                n => format!("mpirun -np {n}"),
            };
            return Err(CliError::failure(format!(
                "--resume {}: the checkpoint was written by a run on {}; resume it the same way \
                 (this run is {}): the shards of each batch, and so the weights, depend on the \
                 number of processes",
                path.display(),
                how(saved_ranks),
                how(ranks)
            )));
        }
        resume = Some(checkpoint);
    }
    validate(&args)?;
    if ranks > 1 && args.cascade {
        return Err(CliError::usage(
            "--cascade cannot be used under mpirun: it grows its network one unit at a time on \
             one process",
        ));
    }
    if ranks > 1 && args.shards > 1 {
        return Err(CliError::usage(format!(
            "--shards {} cannot be used under mpirun: each of the {ranks} processes computes \
             one shard of every batch",
            args.shards
        )));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(defaults::OUT));
    // A file that cannot be written fails now, not after training.
    if writes {
        for path in std::iter::once(&out)
            .chain(&args.history)
            .chain(&args.report)
        {
            nabla::io::check_output_path(path).map_err(lib_err)?;
        }
    }
    let data = pipeline::prepare_data(&args.data, args.seed)?;
    Ok((args, resume, out, data))
}

fn train(
    mut args: Args,
    resume: Option<Checkpoint>,
    out: PathBuf,
    data: pipeline::Prepared,
    collective: &dyn Collective,
) -> Result<(), CliError> {
    let t0 = Instant::now();
    let (rank, ranks) = (collective.rank(), collective.size());
    let lead = rank == 0;
    if args.cascade {
        return super::cascade::run(&args, data, &out, t0);
    }
    if args.track_test && data.test.as_ref().is_none_or(|t| t.is_empty()) {
        return Err(CliError::usage(
            "--track-test needs a test set: --test, --split-file, a source with its own test \
             set (mnist:DIR) or --test-split above 0",
        ));
    }
    // The small-data rule fills in the flags it decides, so that the checkpoint records them
    // and a resumed run repeats them.
    let small_regression = defaults::small_regression(
        data.train.len(),
        data.task == Task::Regress,
        data.val.as_ref().is_some_and(|v| !v.is_empty()),
        args.optim.any_given(),
        args.batch_size,
    );
    if let Some(full_batch) = small_regression {
        args.optim.optimizer = Some(defaults::SMALL_REGRESSION_OPTIMIZER.to_string());
        args.batch_size = Some(full_batch);
        args.epochs.get_or_insert(defaults::SMALL_REGRESSION_EPOCHS);
        args.early_stopping
            .get_or_insert(defaults::SMALL_REGRESSION_PATIENCE);
    }
    let (default_epochs, batch_size) =
        defaults::for_training_rows(data.train.len(), args.batch_size);
    let epochs = args.epochs.unwrap_or(default_epochs);
    let n_classes = data.class_names.len();
    let (plan, loss) = pipeline::network_plan(&args.arch, &data, args.seed)?;
    let mut net = plan.build()?;
    if let Some(path) = &args.init_from {
        let file = nabla::io::load_safetensors(path).map_err(lib_err)?;
        let weights: Vec<(String, Tensor)> = file
            .tensors
            .into_iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .collect();
        net.load_state_dict(&weights).map_err(|e| {
            let msg = match e {
                nabla::Error::Model { msg, .. } => msg,
                other => other.to_string(),
            };
            CliError::failure(format!(
                "--init-from {}: {msg} (architecture from the flags: {})",
                path.display(),
                plan.describe()
            ))
        })?;
    }
    if let Some(checkpoint) = &resume {
        net.load_state_dict(&checkpoint.weights).map_err(|e| {
            CliError::failure(format!("--resume: checkpoint weights do not fit: {e}"))
        })?;
    }
    let params = net.named_parameters();
    let saved_tensors = net.named_tensors();
    let optimizer = SharedOptimizer(Rc::new(RefCell::new(pipeline::build_optimizer(
        &args.optim,
        params.iter().map(|(_, v)| v.clone()).collect(),
    )?)));
    let schedule = pipeline::schedule(&args.optim, epochs)?;
    let task_kind = data.task;
    let train_cfg = TrainConfig {
        epochs,
        batch_size,
        shuffle: args.shuffle.is_on(),
        seed: args.seed,
        loss,
        task: task_kind,
        early_stopping: args.early_stopping,
        schedule,
        target_loss: args.target_loss,
        shards: args.shards,
    };
    let mut meta = ModelMeta {
        format_version: FORMAT_VERSION,
        input_shape: plan.input_shape.clone(),
        layers: plan.layers.clone(),
        architecture: plan.mlp.clone(),
        task: data.task,
        loss,
        class_labels: data.class_names.clone(),
        feature_names: data.feature_names.clone(),
        target: data.target_name.clone(),
        standardization: data.standardizer.clone(),
        target_standardization: data.target_scaler.clone(),
        data_source: data.source.clone(),
        training: json!({"checkpoint": true}),
    };
    let quiet = args.quiet || !lead;
    if !quiet {
        data_banner(&args, &data);
        eprintln!(
            "network: {} ({}), {} parameters",
            plan.describe(),
            pipeline::describe_loss(loss, plan.outputs),
            net.num_parameters()
        );
        let processes = match (ranks, args.shards) {
            (1, 1) => String::new(),
            (1, s) => format!("; {s} shards per batch"),
            (n, _) => format!("; {n} MPI processes, each a shard of every batch"),
        };
        if small_regression.is_some() {
            eprintln!(
                "small-data default: a regression with {} training rows (under {}): full-batch \
                 {}, early stopping after {} epochs without a better validation loss, best \
                 weights kept (any --optimizer, --lr, --schedule or --batch-size flag \
                 overrides)",
                data.train.len(),
                defaults::LARGE_SET_ROWS,
                defaults::SMALL_REGRESSION_OPTIMIZER,
                args.early_stopping
                    .unwrap_or(defaults::SMALL_REGRESSION_PATIENCE),
            );
        }
        eprintln!(
            "training: {} lr {}, {} schedule, {epochs} epochs, batch {}, seed {}; {} threads, {} kernels{processes}",
            optimizer.name(),
            optimizer.learning_rate(),
            args.optim.schedule_name(),
            batch_size,
            args.seed,
            nabla::tensor::gemm::max_threads(),
            nabla::tensor::gemm::kernel_path().name()
        );
    }
    // Under mpirun, Ctrl-C reaches every process through the launcher, which ends the job.
    if ranks == 1 {
        ctrlc_handler();
    }
    let mut opt_handle = optimizer.clone();
    let mut trainer = Trainer::new(&mut net, &mut opt_handle, train_cfg)
        .and_then(|t| t.with_collective(collective))
        .map(|t| t.with_layered_sums(args.allreduce == AllReduce::Layers))
        .map_err(lib_err)?;
    if let Some(checkpoint) = &resume {
        // The trainer has read the base learning rate; now restore the optimiser's state.
        optimizer
            .0
            .borrow_mut()
            .load_state(&checkpoint.optimizer)
            .map_err(|e| CliError::failure(format!("--resume: {e}")))?;
        trainer
            .restore_state(checkpoint.trainer.clone())
            .map_err(|e| CliError::failure(format!("--resume: {e}")))?;
    }
    let settings = run_settings(&args, ranks)?;
    let mut monitor = Monitor {
        quiet,
        tty: std::io::stderr().is_terminal(),
        epochs,
        bar: None,
        epoch_start: Instant::now(),
        rows_in_epoch: 0,
        loss_sum: 0.0,
        params: saved_tensors,
        optimizer: optimizer.clone(),
        last: Checkpoint {
            weights: vec![],
            meta: meta.clone(),
            optimizer: optimizer.state(),
            trainer: trainer.state(),
            settings,
        },
        checkpoint_every: args.checkpoint_every.filter(|_| lead),
        stop_after: args.stop_after,
        out: &out,
        args: &args,
        error: None,
        diagnostics: nabla::train::DiagnosticsMonitor::new(),
        warnings: vec![],
        started: t0,
        test_per_epoch: vec![],
    };
    monitor.snapshot(&trainer.state());
    let tracked = if args.track_test {
        data.test
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| t as &dyn nabla::train::BatchSource)
    } else {
        None
    };
    let fit_start = Instant::now();
    let fitted = trainer.fit_tracking(
        &data.train,
        data.val
            .as_ref()
            .map(|v| v as &dyn nabla::train::BatchSource),
        tracked,
        &mut monitor,
    );
    let fit_seconds = fit_start.elapsed().as_secs_f64();
    let epochs_done = trainer.state().epoch;
    drop(trainer);
    if let Some(bar) = monitor.bar.take() {
        bar.finish_and_clear();
    }
    if let Some(e) = monitor.error.take() {
        return Err(e);
    }
    if ranks > 1 && fitted.as_ref().map_or(true, |h| h.interrupted) {
        // Every process stopped at the same step, for the same reason (every stop is decided
        // from figures summed over them).
        distributed::mark_agreed();
    }
    if !lead {
        // Training ends at the same step on every process (every stop is decided from
        // figures summed over them); rank 0 reports it and writes the files.
        return match fitted {
            Ok(h) if !h.interrupted => Ok(()),
            Ok(_) => Err(distributed::reported_by_rank_0(EXIT_INTERRUPTED)),
            Err(_) => Err(distributed::reported_by_rank_0(super::EXIT_FAILURE)),
        };
    }
    let warnings = std::mem::take(&mut monitor.warnings);
    let test_per_epoch = std::mem::take(&mut monitor.test_per_epoch);
    let history = fitted.map_err(|e| match e {
        nabla::Error::Diverged { .. } => {
            CliError::failure(format!("{e}; lower the learning rate (--lr)"))
        }
        other => lib_err(other),
    })?;
    if history.interrupted {
        monitor.last.save(&out).map_err(lib_err)?;
        let done = monitor.last.trainer.epoch;
        return Err(CliError {
            message: format!(
                "interrupted after epoch {done} of {epochs}; checkpoint written to {} — \
                 continue with: nabla train --resume {}",
                out.display(),
                out.display()
            ),
            code: EXIT_INTERRUPTED,
        });
    }
    net.set_training(false);
    let scaler = data.target_scaler.as_ref();
    let (train_m, train_evaluated) = final_train_figures(&net, &data, loss)?;
    let val_m = match &data.val {
        Some(v) => Some(figures(&net, v, data.truth[1].as_deref(), loss, scaler)?),
        None => None,
    };
    // With --track-test the last epoch already evaluated the test set with these very weights
    // (classification: no unit conversion needed); reuse it unless early stopping restored
    // other weights.
    let tracked_final = match (data.task, history.best_epoch, history.epochs.last()) {
        (Task::Classify, None, Some(r)) if args.track_test => r.test.clone(),
        _ => None,
    };
    let test_m = match (&data.test, tracked_final) {
        (Some(t), _) if t.is_empty() => None,
        (Some(_), Some(m)) => Some(m),
        (Some(t), None) => Some(figures(&net, t, data.truth[2].as_deref(), loss, scaler)?),
        (None, _) => None,
    };
    let seconds = t0.elapsed().as_secs_f64();
    let task_name = meta.task;
    // The run's figures: printed with --json and kept in the model file (serde_json's maps are
    // sorted, so the keys added below print in the same order as if written here).
    let run_figures = json!({
        "epochs_run": epochs_done,
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        "target_loss_reached": history.target_reached.as_ref().map(|t| json!({
            "epoch": t.epoch,
            "on": t.on,
            "loss": super::json_number(t.loss as f64),
            "target": super::json_number(t.target as f64),
        })),
        "train": metrics_json(&train_m),
        "train_rows_evaluated": train_evaluated,
        "val": val_m.as_ref().map(metrics_json),
        "test": test_m.as_ref().map(metrics_json),
        "seconds": seconds,
        "training_seconds": fit_seconds,
    });
    // Under mpirun: the time this process spent in the sums over the processes.
    let mpi = collective
        .time_in_sums()
        .filter(|_| ranks > 1)
        .map(|(spent, calls)| {
            let spent = spent.as_secs_f64();
            json!({
                "processes": ranks,
                "allreduce_calls": calls,
                "allreduce_seconds": spent,
                "training_seconds": fit_seconds,
            })
        });
    let mut summary = run_figures.clone();
    if let Some(m) = &mpi {
        summary["mpi"] = m.clone();
    }
    summary["task"] = json!(task_name);
    summary["model"] = json!(out.display().to_string());
    let mut settings = serde_json::to_value(&args).unwrap_or_default();
    if let Some(o) = settings.as_object_mut() {
        o.remove("resume");
        o.remove("stop_after");
        o.insert("epochs".into(), json!(epochs));
        o.insert("batch_size".into(), json!(batch_size));
    }
    meta.training = run_figures;
    meta.training["rows"] = json!({
        "train": data.train.len(),
        "val": data.val.as_ref().map_or(0, |d| d.len()),
        "test": data.test.as_ref().map_or(0, |d| d.len()),
    });
    meta.training["settings"] = settings;
    nabla::io::save_model(&out, &net, &meta, &BTreeMap::new()).map_err(lib_err)?;
    if let Some(h) = &args.history {
        nabla::io::write_atomic(h, history.to_csv().as_bytes()).map_err(lib_err)?;
    }
    if let Some(path) = &args.report {
        let mut final_metrics = vec![("train".to_string(), train_m.clone())];
        if let Some(m) = &val_m {
            final_metrics.push(("validation".into(), m.clone()));
        }
        if let Some(m) = &test_m {
            final_metrics.push(("test".into(), m.clone()));
        }
        let confusion = match (&data.test, data.task) {
            (Some(t), Task::Classify) if !t.is_empty() => {
                let outputs = nabla::train::predict_outputs(&net, t, 256).map_err(lib_err)?;
                let predicted = nabla::train::predicted_classes(&outputs, plan.outputs);
                let truth = t.labels().unwrap_or_default();
                let cm = nabla::train::ConfusionMatrix::new(n_classes, truth, &predicted)
                    .map_err(lib_err)?;
                Some(crate::report::Confusion {
                    labels: data.class_names.clone(),
                    counts: cm.counts,
                })
            }
            _ => None,
        };
        let hyperparameters = vec![
            ("optimizer".into(), args.optim.optimizer_name().to_string()),
            (
                "learning rate".into(),
                format!("{}", optimizer.0.borrow().learning_rate()),
            ),
            ("schedule".into(), args.optim.schedule_name().to_string()),
            ("epochs".into(), epochs.to_string()),
            ("batch size".into(), batch_size.to_string()),
            ("seed".into(), args.seed.to_string()),
            (
                "loss".into(),
                pipeline::describe_loss(loss, plan.outputs).to_string(),
            ),
        ];
        let input = crate::report::ReportInput {
            title: format!("nabla training report: {}", data.source),
            data_summary: format!(
                "{}: {} features; train {}, validation {}, test {} rows",
                data.source,
                data.train.n_features,
                data.train.len(),
                data.val.as_ref().map_or(0, |d| d.len()),
                data.test.as_ref().map_or(0, |d| d.len())
            ),
            architecture: plan.describe(),
            hyperparameters,
            history: history.clone(),
            final_metrics,
            confusion,
            warnings: warnings.clone(),
        };
        let html = crate::report::render_report(&input)
            .map_err(|e| CliError::failure(format!("--report: {e}")))?;
        nabla::io::write_atomic(path, html.as_bytes()).map_err(lib_err)?;
    }
    if args.json {
        if args.track_test {
            summary["test_per_epoch"] = serde_json::Value::Array(test_per_epoch);
        }
        return print_json(&summary);
    }
    let mut lines = vec![format!(
        "trained {epochs_done} epoch{}{} in {seconds:.1} s",
        if epochs_done == 1 { "" } else { "s" },
        match (history.stopped_early, history.best_epoch) {
            (true, Some(b)) => format!(" (early stop; best epoch {b})"),
            (false, Some(b)) => format!(" (kept best epoch {b})"),
            _ => String::new(),
        }
    )];
    if let Some(t) = &history.target_reached {
        lines.push(format!(
            "stopped at epoch {}: the {} loss {:.6} reached --target-loss {}",
            t.epoch, t.on, t.loss, t.target
        ));
    }
    let output_names = match data.target_outputs {
        1 => vec![],
        k => pipeline::output_names(&meta, k),
    };
    if let Some(m) = &mpi {
        let (calls, spent) = (
            m["allreduce_calls"].as_u64().unwrap_or(0),
            m["allreduce_seconds"].as_f64().unwrap_or(0.0),
        );
        lines.push(format!(
            "MPI: {ranks} processes; rank 0 spent {spent:.2} s of {fit_seconds:.2} s training in {calls} all-reduce calls ({:.3} ms each)",
            1e3 * spent / calls.max(1) as f64
        ));
    }
    lines.push(format!("train: {}", metrics_text(&train_m)));
    lines.extend(pipeline::per_output_text(&train_m, &output_names));
    if train_evaluated < data.train.len() {
        lines.push(format!(
            "       (train figures on {train_evaluated} evenly spaced of the {} training rows)",
            data.train.len()
        ));
    }
    if let Some(m) = &val_m {
        lines.push(format!("val:   {}", metrics_text(m)));
        lines.extend(pipeline::per_output_text(m, &output_names));
    }
    if let Some(m) = &test_m {
        lines.push(format!("test:  {}", metrics_text(m)));
        lines.extend(pipeline::per_output_text(m, &output_names));
    }
    if let (Some(m), Task::Classify) = (&test_m, data.task) {
        if let Some(a) = m.accuracy {
            lines.push(format!("test accuracy: {:.2}%", a * 100.0));
        }
    }
    lines.push(format!("model saved to {}", out.display()));
    println!("{}", lines.join("\n"));
    Ok(())
}

/// The run's first lines on stderr: the data, its task and splits, and a note on the task
/// chosen automatically.
pub(super) fn data_banner(args: &Args, data: &pipeline::Prepared) {
    let n_classes = data.class_names.len();
    let sizes = format!(
        "train {}, val {}, test {}",
        data.train.len(),
        data.val.as_ref().map_or(0, |d| d.len()),
        data.test.as_ref().map_or(0, |d| d.len())
    );
    let target = match (data.task, &data.task_reason) {
        (_, Some(reason)) => reason.clone(),
        (Task::Classify, None) => format!("{n_classes} classes"),
        (Task::Regress, None) if data.target_outputs > 1 => {
            format!("regression with {} targets", data.target_outputs)
        }
        (Task::Regress, None) => "regression".to_string(),
    };
    eprintln!(
        "data: {} — {} features, {target} ({sizes}); standardize {}",
        data.source,
        data.train.n_features,
        if data.standardizer.is_some() {
            "on"
        } else {
            "off"
        }
    );
    if let Some(note) = pipeline::auto_task_note(&args.data, data) {
        eprintln!("{note}");
    }
}

/// The final training-set figures of `net` and the rows they were taken on: every row of a
/// training set up to TRAIN_FIGURE_ROWS, that many evenly spaced rows of a larger one.
pub(super) fn final_train_figures(
    net: &nabla::nn::Sequential,
    data: &pipeline::Prepared,
    loss: Loss,
) -> Result<(Metrics, usize), CliError> {
    let scaler = data.target_scaler.as_ref();
    match evenly_spaced(data.train.len(), TRAIN_FIGURE_ROWS) {
        None => Ok((
            figures(net, &data.train, data.truth[0].as_deref(), loss, scaler)?,
            data.train.len(),
        )),
        Some(rows) => {
            let k = data.target_outputs;
            let truth: Option<Vec<f32>> = data.truth[0].as_ref().map(|t| {
                rows.iter()
                    .flat_map(|&i| t[i * k..(i + 1) * k].iter().copied())
                    .collect()
            });
            // The sample is read in place: a copy of its rows would add to the peak memory.
            let sample = RowSubset::new(&data.train, &rows).map_err(lib_err)?;
            let m = figures(net, &sample, truth.as_deref(), loss, scaler)?;
            Ok((m, rows.len()))
        }
    }
}

/// Install the Ctrl-C handler once: the first Ctrl-C stops after the current batch and writes
/// a checkpoint; a second one exits at once.
pub(super) fn ctrlc_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted twice; exiting without a checkpoint");
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
}

/// Rows of the final training-set figures at most: a full pass over 60 000 MNIST images through
/// a CNN costs a third of an epoch, and 10 000 rows pin an accuracy to about ±0.3 %.
pub(super) const TRAIN_FIGURE_ROWS: usize = 10_000;

/// `most` evenly spaced indices of `0..n` when `n` is larger, else `None` (all of them).
pub(super) fn evenly_spaced(n: usize, most: usize) -> Option<Vec<usize>> {
    (n > most).then(|| (0..most).map(|i| i * n / most).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Train {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Args {
        Train::try_parse_from(std::iter::once("train").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn settings_survive_a_checkpoint_and_resume_with_every_flag() {
        let first = parse(&[
            "--data",
            "x.csv",
            "--test",
            "t.csv",
            "--target",
            "y",
            "--task",
            "regress",
            "--val-split",
            "0.2",
            "--test-split",
            "0.3",
            "--standardize",
            "off",
            "--hidden",
            "16,8",
            "--activation",
            "tanh",
            "--dropout",
            "0.1",
            "--init",
            "he_uniform",
            "--loss",
            "sse",
            "--optimizer",
            "nesterov",
            "--lr",
            "0.05",
            "--momentum",
            "0.8",
            "--weight-decay",
            "0.001",
            "--schedule",
            "step",
            "--epochs",
            "7",
            "--batch-size",
            "9",
            "--early-stopping",
            "2",
            "--target-loss",
            "0.25",
            "--shuffle",
            "off",
            "--seed",
            "11",
            "--checkpoint-every",
            "3",
            "--report",
            "r.html",
            "--diagnostics",
            "--shards",
            "2",
            "--out",
            "ck.safetensors",
        ]);
        let settings = run_settings(&first, 1).unwrap();
        let path = Path::new("ck.safetensors");
        let back = resumed_args(&settings, &parse(&["--resume", "ck.safetensors"]), path).unwrap();
        let mut want = serde_json::to_value(&first).unwrap();
        want["resume"] = json!("ck.safetensors");
        assert_eq!(serde_json::to_value(&back).unwrap(), want);
        assert_eq!(run_settings(&back, 1).unwrap(), settings);

        // The run-control flags of the resuming command line win.
        let cmd = parse(&[
            "--resume",
            "ck.safetensors",
            "--epochs",
            "20",
            "--checkpoint-every",
            "5",
            "--out",
            "final.safetensors",
            "--quiet",
            "--json",
        ]);
        let back = resumed_args(&settings, &cmd, path).unwrap();
        assert_eq!(
            (back.epochs, back.checkpoint_every, back.quiet, back.json),
            (Some(20), Some(5), true, true)
        );
        assert_eq!(back.out.as_deref(), Some(Path::new("final.safetensors")));
        assert_eq!(back.report.as_deref(), Some(Path::new("r.html")));
    }

    #[test]
    fn final_train_figures_take_evenly_spaced_rows_of_a_large_set() {
        assert_eq!(super::evenly_spaced(10, 10), None);
        assert_eq!(super::evenly_spaced(10, 4), Some(vec![0, 2, 5, 7]));
        let rows = super::evenly_spaced(60_000, 10_000).unwrap();
        assert_eq!((rows.len(), rows[1], rows[9_999]), (10_000, 6, 59_994));
    }
}
