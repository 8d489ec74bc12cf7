//! The path shared by the data commands: flags → data → splits → standardisation → network →
//! optimiser, and the reverse for a saved model (model file → how to read data for it).
//!
//! Every default of `nabla train` lives in [`defaults`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use nabla::data::{
    apply_split_files, load_source, stratified_split, Dataset, LoadOptions, Standardizer, Target,
    Task, TaskChoice,
};
use nabla::io::ModelMeta;
use nabla::loss::Loss;
use nabla::nn::{shape_text, Activation, Architecture, Init, LayerSpec, MlpConfig, Sequential};
use nabla::optim::{
    Adam, AdamConfig, AdamW, AdamWConfig, Lbfgs, LbfgsConfig, LineSearch, LrSchedule, Optimizer,
    Quickprop, QuickpropConfig, RmsProp, RmsPropConfig, Rprop, RpropConfig, Sgd, SgdConfig,
};

use crate::commands::CliError;

/// The defaults of `nabla train`, in one place. Measured: the default run reaches ≥ 0.97 test
/// accuracy on `builtin:digits` in a few seconds, and `--data mnist:DIR` with these settings
/// reaches ≥ 0.98 within the default epochs (see the README's figures table).
pub mod defaults {
    /// Data source when `--data` is not given.
    pub const DATA: &str = "builtin:digits";
    /// Model file written by `train`.
    pub const OUT: &str = "model.safetensors";
    /// Hidden layer widths.
    pub const HIDDEN: &str = "256,128";
    /// Hidden activation.
    pub const ACTIVATION: &str = "relu";
    /// Initialiser of `--init auto`: Glorot/Xavier uniform, U(±√(6 / (fan_in + fan_out))),
    /// for every layer, biases zero. Its standard deviation √(2 / (fan_in + fan_out)) is
    /// below He's √(2 / fan_in) where fan_out is large relative to fan_in (64 → 64: 0.125 vs
    /// 0.177) and close to it in MNIST's first layer (0.044 vs 0.051). Over seeds 0–4 it gave
    /// higher test accuracy than He on digits and breast cancer, and at least 0.980 on MNIST
    /// (README, "End to end").
    pub const INIT: nabla::nn::Init = nabla::nn::Init::XavierUniform;
    /// Optimiser.
    pub const OPTIMIZER: &str = "adam";
    /// Learning-rate schedule (cosine annealing to 0 over the run's epochs).
    pub const SCHEDULE: &str = "cosine";
    /// Schedule of rprop, lbfgs and quickprop: constant, as PyTorch and FANN run them (Rprop's
    /// rate is only its initial step size, L-BFGS's is its step length).
    pub const SCHEDULE_SMALL_DATA_TRAINERS: &str = "constant";
    /// Training sets with at least this many rows count as large (see [`for_training_rows`]).
    pub const LARGE_SET_ROWS: usize = 10_000;
    /// Rows per mini-batch of a small training set.
    pub const BATCH_SIZE: usize = 32;
    /// Optimiser steps a small training set gets at least (see [`for_training_rows`]).
    pub const SMALL_SET_STEPS: usize = 2_000;
    /// Fewest and most passes over a small training set.
    pub const SMALL_SET_EPOCHS: (usize, usize) = (20, 200);
    /// Passes over a large training set.
    pub const LARGE_SET_EPOCHS: usize = 10;
    /// Rows per mini-batch of a large training set.
    pub const LARGE_SET_BATCH_SIZE: usize = 128;

    /// Epochs and batch size when the flags do not give them, from the number of training
    /// rows (and, for the epochs, the batch size in use). The rule:
    ///
    /// * a large set (at least [`LARGE_SET_ROWS`] rows) gets batch 128 and 10 epochs: MNIST
    ///   then takes 4 690 Adam steps, enough with the cosine schedule for ≥ 98 % test accuracy,
    ///   and batches of 128 rows keep the matrix products efficient;
    /// * a small set gets batch 32 and as many epochs as it takes to make about 2 000
    ///   optimiser steps, at least 20 and at most 200: digits (about 1 300 training rows, 41
    ///   steps per epoch) gets 49 epochs, iris 200.
    pub fn for_training_rows(rows: usize, batch: Option<usize>) -> (usize, usize) {
        if rows >= LARGE_SET_ROWS {
            return (LARGE_SET_EPOCHS, batch.unwrap_or(LARGE_SET_BATCH_SIZE));
        }
        let batch = batch.unwrap_or(BATCH_SIZE);
        let steps_per_epoch = rows.div_ceil(batch).max(1);
        let epochs = SMALL_SET_STEPS
            .div_ceil(steps_per_epoch)
            .clamp(SMALL_SET_EPOCHS.0, SMALL_SET_EPOCHS.1);
        (epochs, batch)
    }

    /// Optimiser of a small regression (see [`small_regression`]): iRPROP−, full batch.
    pub const SMALL_REGRESSION_OPTIMIZER: &str = "rprop";
    /// Most epochs (full-batch steps) of a small regression.
    pub const SMALL_REGRESSION_EPOCHS: usize = 500;
    /// Early-stopping patience of a small regression, in epochs; the best weights are kept.
    pub const SMALL_REGRESSION_PATIENCE: usize = 50;

    /// The small-data rule: a regression with fewer than [`LARGE_SET_ROWS`] training rows and
    /// a validation split, when no flag of the optimiser, its rate or schedule, nor the batch
    /// size is given, trains with full-batch iRPROP− (`torch.optim.Rprop`'s defaults) for up
    /// to [`SMALL_REGRESSION_EPOCHS`] epochs with early stopping after
    /// [`SMALL_REGRESSION_PATIENCE`] epochs without a better validation loss (`--epochs` and
    /// `--early-stopping` still set those two). Returns the batch size that makes it full
    /// batch, or `None` when the rule does not apply.
    ///
    /// Measured with `bench/small_defaults` on 20 % of each FANN training file and on the
    /// scikit-learn diabetes split (never the test files): against Adam with the cosine
    /// schedule it lowered the holdout MSE on 6 of the 8 small regression sets (geometric
    /// mean 0.86 of Adam's, seed 0); on classification sets it lost badly on some (wine, digits:
    /// overconfident probabilities), so classification keeps Adam.
    pub fn small_regression(
        rows: usize,
        regression: bool,
        has_validation: bool,
        optimizer_flags_given: bool,
        batch: Option<usize>,
    ) -> Option<usize> {
        (regression
            && rows < LARGE_SET_ROWS
            && has_validation
            && !optimizer_flags_given
            && batch.is_none())
        .then_some(rows.max(1))
    }

    /// Fraction of the data held out for the final test figure (when the source has no test set).
    pub const TEST_SPLIT: f64 = 0.2;
    /// Fraction of the remaining rows held out for validation.
    pub const VAL_SPLIT: f64 = 0.1;
    /// Seed of splits, initial weights, dropout and shuffling.
    pub const SEED: u64 = 0;
    /// Learning rate of `momentum`/`nesterov` SGD when `--momentum` is not given (PyTorch's
    /// default momentum is 0, which would make these plain SGD).
    pub const SGD_MOMENTUM: f64 = 0.9;
}

/// `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

/// The task flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
pub enum TaskFlag {
    Auto,
    Classify,
    Regress,
}

/// Map a library error to a CLI error: bad parameters are usage errors (exit 2), everything
/// else (data, files, models, divergence) a failure (exit 1).
pub fn lib_err(e: nabla::Error) -> CliError {
    match e {
        nabla::Error::Param { .. } | nabla::Error::Architecture { .. } => {
            CliError::usage(e.to_string())
        }
        other => CliError::failure(other.to_string()),
    }
}

/// Flags that choose and split the data.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct DataFlags {
    /// Training data: a CSV file (.csv or .csv.gz, header row; comma, semicolon or tab),
    /// a FANN file (fann:PATH, or a name ending in .train, .test or .data, optionally .gz;
    /// every output is a target), mnist:DIR (the four IDX files; t10k is the test set) or
    /// builtin:digits|iris|xor.
    #[arg(long, value_name = "SOURCE")]
    pub data: Option<String>,
    /// A separate test set (same columns as --data); without it a stratified split of --data
    /// is held out (--test-split).
    #[arg(long, value_name = "SOURCE")]
    pub test: Option<String>,
    /// Target column of a CSV (default: the last column); several comma-separated columns
    /// (y0,y1,y2) make a regression with one output per column.
    #[arg(long, value_name = "COLUMN[,COLUMN...]")]
    pub target: Option<String>,
    /// Classification, regression, or decide from the target column (non-numbers or few
    /// distinct integers → classes).
    #[arg(long, value_enum, default_value = "auto")]
    pub task: TaskFlag,
    /// Fraction of the training rows (after the test split) held out for validation and
    /// early stopping; 0 turns validation off.
    #[arg(long, default_value_t = defaults::VAL_SPLIT, allow_negative_numbers = true)]
    pub val_split: f64,
    /// Fraction of --data held out for the final test figure when there is no --test; 0 turns
    /// the test split off.
    #[arg(long, default_value_t = defaults::TEST_SPLIT, allow_negative_numbers = true)]
    pub test_split: f64,
    /// Fixed train/test rows instead of a random test split: PREFIX.train.txt and
    /// PREFIX.test.txt hold 0-based row indices of --data, one per line.
    #[arg(long, value_name = "PREFIX", conflicts_with_all = ["train_rows", "test"])]
    pub split_file: Option<String>,
    /// Row-index file of the training rows (with --test-rows).
    #[arg(
        long,
        value_name = "FILE",
        requires = "test_rows",
        conflicts_with = "test"
    )]
    pub train_rows: Option<PathBuf>,
    /// Row-index file of the test rows (with --train-rows).
    #[arg(long, value_name = "FILE", requires = "train_rows")]
    pub test_rows: Option<PathBuf>,
    /// Standardise features (and a regression target) with statistics of the training split;
    /// default on for CSV and built-ins, off for images.
    #[arg(long, value_enum)]
    pub standardize: Option<OnOff>,
}

/// Data ready for training: splits already standardised.
pub struct Prepared {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Option<Dataset>,
    pub task: Task,
    /// Why the source chose the task, when it decided from the values (FANN files).
    pub task_reason: Option<String>,
    /// Values a row's target holds: the number of target columns for regression, else 1.
    pub target_outputs: usize,
    pub class_names: Vec<String>,
    pub feature_names: Vec<String>,
    pub target_name: Option<String>,
    pub standardizer: Option<Standardizer>,
    pub target_scaler: Option<Standardizer>,
    /// Regression targets of (train, val, test) in their original units.
    pub truth: [Option<Vec<f32>>; 3],
    pub source: String,
    /// The shape of one image when the source holds images (see `LoadedData::image_shape`).
    pub image_shape: Option<Vec<usize>>,
}

fn check_fraction(flag: &str, v: f64) -> Result<(), CliError> {
    if !(0.0..1.0).contains(&v) {
        return Err(CliError::usage(format!(
            "{flag} {v}: must be at least 0 and below 1"
        )));
    }
    Ok(())
}

pub fn task_choice(t: TaskFlag) -> TaskChoice {
    match t {
        TaskFlag::Auto => TaskChoice::Auto,
        TaskFlag::Classify => TaskChoice::Classify,
        TaskFlag::Regress => TaskChoice::Regress,
    }
}

fn values_of(ds: &Dataset) -> Option<Vec<f32>> {
    match &ds.target {
        Target::Values { values, .. } => Some(values.clone()),
        _ => None,
    }
}

/// Load, split and standardise the data for `train` (and `gradcheck`).
pub fn prepare_data(flags: &DataFlags, seed: u64) -> Result<Prepared, CliError> {
    check_fraction("--val-split", flags.val_split)?;
    check_fraction("--test-split", flags.test_split)?;
    let source = flags
        .data
        .clone()
        .unwrap_or_else(|| defaults::DATA.to_string());
    let opts = LoadOptions {
        target: flags.target.clone(),
        task: task_choice(flags.task),
        target_required: true,
        class_names: None,
        ignore_target: false,
    };
    let loaded = load_source(&source, &opts).map_err(lib_err)?;
    let image_shape = loaded.image_shape.clone();
    let images = source.starts_with("mnist:");
    // The target column's name (the last column unless --target names one), kept in the model
    // so that `predict` can drop it from a file that has it; image folders have no columns.
    let target_name = match images {
        true => None,
        false => loaded.train.target.name(),
    };
    let task_reason = loaded.task_reason.clone();
    let mut all = loaded.train;
    if all.is_empty() {
        return Err(CliError::failure(format!("{source}: no rows")));
    }
    let task = all
        .task()
        .ok_or_else(|| CliError::failure(format!("{source}: no target column")))?;
    let class_names = match &all.target {
        Target::Classes { class_names, .. } => class_names.clone(),
        _ => vec![],
    };
    // Test rows: the source's own, a --test source, split files, or a stratified split.
    let split_paths = match (&flags.split_file, &flags.train_rows, &flags.test_rows) {
        (Some(prefix), _, _) => Some((
            PathBuf::from(format!("{prefix}.train.txt")),
            PathBuf::from(format!("{prefix}.test.txt")),
        )),
        (None, Some(tr), Some(te)) => Some((tr.clone(), te.clone())),
        _ => None,
    };
    let mut test = loaded.test;
    if let Some(test_source) = &flags.test {
        let test_opts = LoadOptions {
            target: target_name.clone(),
            task: match task {
                Task::Classify => TaskChoice::Classify,
                Task::Regress => TaskChoice::Regress,
            },
            target_required: true,
            class_names: (task == Task::Classify).then(|| class_names.clone()),
            ignore_target: false,
        };
        let t = load_source(test_source, &test_opts).map_err(lib_err)?;
        let t = t.test.unwrap_or(t.train);
        if t.n_features != all.n_features {
            return Err(CliError::failure(format!(
                "{test_source}: {} features, but {source} has {}",
                t.n_features, all.n_features
            )));
        }
        test = Some(t);
    } else if let Some((tr, te)) = &split_paths {
        let (a, b) = apply_split_files(&all, tr, te).map_err(lib_err)?;
        all = a;
        test = Some(b);
    } else if test.is_none() && flags.test_split > 0.0 {
        let (tr, te) = stratified_split(&all, flags.test_split, seed).map_err(lib_err)?;
        let held = all.subset(&te);
        all = all.subset(&tr);
        test = Some(held);
    }
    let (mut train, mut val) = if flags.val_split > 0.0 {
        let (tr, va) =
            stratified_split(&all, flags.val_split, seed.wrapping_add(1)).map_err(lib_err)?;
        (all.subset(&tr), Some(all.subset(&va)))
    } else {
        (all, None)
    };
    let val_empty = val.as_ref().is_some_and(|v| v.is_empty());
    if val_empty {
        val = None;
    }
    if train.is_empty() {
        return Err(CliError::failure(format!(
            "{source}: no training rows left after the splits"
        )));
    }
    let truth = [
        values_of(&train),
        val.as_ref().and_then(values_of),
        test.as_ref().and_then(values_of),
    ];
    let standardize = flags.standardize.map_or(!images, OnOff::is_on);
    let mut standardizer = None;
    let mut target_scaler = None;
    if standardize {
        let s = Standardizer::fit(&train).map_err(lib_err)?;
        for ds in std::iter::once(&mut train)
            .chain(val.as_mut())
            .chain(test.as_mut())
        {
            s.apply(ds).map_err(lib_err)?;
        }
        standardizer = Some(s);
        if task == Task::Regress {
            let ts = Standardizer::fit_target(&train).map_err(lib_err)?;
            for ds in std::iter::once(&mut train)
                .chain(val.as_mut())
                .chain(test.as_mut())
            {
                ts.apply_target(ds).map_err(lib_err)?;
            }
            target_scaler = Some(ts);
        }
    }
    Ok(Prepared {
        feature_names: train.feature_names.clone(),
        target_outputs: train.target.outputs().max(1),
        task_reason,
        train,
        val,
        test,
        task,
        class_names,
        target_name,
        standardizer,
        target_scaler,
        truth,
        source,
        image_shape,
    })
}

/// The banner's note when `--task auto` made a classifier of a target column that holds just
/// two numbers (0/1 labels, or a measurement that happens to take two values), naming the
/// flag that fits it as a regression instead.
pub fn auto_task_note(flags: &DataFlags, data: &Prepared) -> Option<String> {
    let numbers = data.class_names.iter().all(|c| c.parse::<f64>().is_ok());
    let two_numbers = data.task == Task::Classify && data.class_names.len() == 2 && numbers;
    (flags.task == TaskFlag::Auto && two_numbers).then(|| {
        format!(
            "task: classification, because --task auto reads a target of two numbers ({}) as \
             two classes; pass --task regress to fit it as values",
            data.class_names.join(", ")
        )
    })
}

/// Parse `--hidden 64,32` (empty: no hidden layer).
pub fn parse_hidden(text: &str) -> Result<Vec<usize>, CliError> {
    let t = text.trim();
    if t.is_empty() || t == "none" {
        return Ok(vec![]);
    }
    t.split(',')
        .map(|part| match part.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(CliError::usage(format!(
                "--hidden {text}: '{}' is not a positive layer width (expected e.g. 64,32)",
                part.trim()
            ))),
        })
        .collect()
}

/// Flags that shape the network and its loss.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct ArchFlags {
    /// Hidden layer widths, comma-separated; '' for none (a linear model).
    #[arg(long, default_value = defaults::HIDDEN, value_name = "N,N,...")]
    pub hidden: String,
    /// Hidden activation: relu, leaky_relu, sigmoid, tanh.
    #[arg(long, default_value = defaults::ACTIVATION)]
    pub activation: String,
    /// Dropout probability after each hidden layer, in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub dropout: f64,
    /// Weight initialiser: auto (for an MLP Glorot/Xavier uniform for every layer, as
    /// scikit-learn's MLPClassifier, measured better than He on small tables and as good on
    /// MNIST; for a network with conv2d layers each layer's own: He normal before a ReLU,
    /// Glorot elsewhere, measured better on MNIST and Fashion-MNIST), xavier, he, he_uniform,
    /// lecun, torch.
    #[arg(long, default_value = "auto")]
    pub init: String,
    /// Loss: auto (softmax cross-entropy for 3+ classes, one logit with binary cross-entropy
    /// for 2 classes, MSE for regression), cross_entropy, bce, sse, mse.
    #[arg(long, default_value = "auto")]
    pub loss: String,
    /// The layers, with PyTorch's names, instead of --hidden: e.g. "conv2d(32,3), relu,
    /// maxpool2d(2), flatten, linear". Layers: conv2d(OUT, K[, stride=S][, padding=P][, bias=false]),
    /// maxpool2d(K[, stride=S]), avgpool2d(K[, stride=S]), batchnorm, flatten, linear(OUT),
    /// relu, leaky_relu(ALPHA), tanh, sigmoid, dropout(P); K, S, P are N or HxW. Input
    /// channels and features follow from the data; the last linear may leave out OUT, which
    /// the task sets.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["hidden", "activation", "dropout"])]
    #[serde(default)]
    pub arch: Option<String>,
    /// Shape of one input row for --arch, C,H,W (e.g. 1,28,28 for a CSV of 28×28 pixel
    /// columns); C·H·W must equal the number of features [default: 1,28,28 for mnist:DIR,
    /// 1,8,8 for builtin:digits, flat rows for tables].
    #[arg(long, value_name = "C,H,W", requires = "arch")]
    #[serde(default)]
    pub input_shape: Option<String>,
}

/// Parse `--input-shape C,H,W`.
pub fn parse_input_shape(text: &str) -> Result<Vec<usize>, CliError> {
    let dims: Option<Vec<usize>> = text
        .split(',')
        .map(|d| d.trim().parse().ok().filter(|&n: &usize| n > 0))
        .collect();
    match dims {
        Some(d) if d.len() == 3 => Ok(d),
        _ => Err(CliError::usage(format!(
            "--input-shape {text}: expected C,H,W, three whole numbers of at least 1 (e.g. 1,28,28)"
        ))),
    }
}

/// The network `train` builds: its input shape and layers, and how its weights are drawn.
#[derive(Clone, Debug)]
pub struct NetworkPlan {
    pub input_shape: Vec<usize>,
    pub layers: Vec<LayerSpec>,
    pub init: Option<Init>,
    pub seed: u64,
    /// Values in one output row.
    pub outputs: usize,
    /// The MLP settings, when the layers come from --hidden (kept in the model file).
    pub mlp: Option<MlpConfig>,
}

impl NetworkPlan {
    /// The network with fresh weights.
    pub fn build(&self) -> Result<Sequential, CliError> {
        Sequential::from_specs(&self.input_shape, &self.layers, self.init, self.seed)
            .map_err(|e| CliError::usage(e.to_string()))
    }

    /// One line for people (see [`describe_network`]).
    pub fn describe(&self) -> String {
        describe_network(&self.input_shape, &self.layers)
    }
}

/// The network and loss for `data`: an MLP from --hidden, or the layers of --arch resolved
/// for the data's row shape (--input-shape, else the source's image shape, else flat rows).
pub fn network_plan(
    arch: &ArchFlags,
    data: &Prepared,
    seed: u64,
) -> Result<(NetworkPlan, Loss), CliError> {
    let features = data.train.n_features;
    let n_outputs = match data.task {
        Task::Classify => data.class_names.len(),
        Task::Regress => data.target_outputs,
    };
    let (cfg, loss) = network_config(arch, features, data.task, n_outputs, seed)?;
    let Some(text) = &arch.arch else {
        let plan = NetworkPlan {
            input_shape: vec![cfg.inputs],
            layers: cfg.layer_specs().map_err(lib_err)?,
            init: cfg.init,
            seed,
            outputs: cfg.outputs,
            mlp: Some(cfg),
        };
        return Ok((plan, loss));
    };
    let input_shape = match &arch.input_shape {
        Some(t) => {
            let shape = parse_input_shape(t)?;
            let values: usize = shape.iter().product();
            if values != features {
                return Err(CliError::usage(format!(
                    "--input-shape {t}: {} is {values} values per row, but {} has {features} features",
                    shape_text(&shape),
                    data.source
                )));
            }
            shape
        }
        None => data.image_shape.clone().unwrap_or_else(|| vec![features]),
    };
    let layers = Architecture::parse(text)
        .and_then(|a| a.resolve(&input_shape, cfg.outputs))
        .map_err(|e| {
            // A 2-D layer on the flat rows of a table: the rows may be images in columns.
            let flat_input = match &e {
                nabla::Error::Architecture { shape, .. } => shape.as_ref() == Some(&input_shape),
                _ => false,
            };
            let hint = match flat_input && input_shape.len() == 1 {
                true => " — for pixel columns: --input-shape C,H,W",
                false => "",
            };
            CliError::usage(format!("--arch: {e}{hint}"))
        })?;
    let plan = NetworkPlan {
        input_shape,
        layers,
        init: cfg.init,
        seed,
        outputs: cfg.outputs,
        mlp: None,
    };
    Ok((plan, loss))
}

/// Resolve the network's shape and loss for `inputs` features and the task; `n_classes` is
/// the number of classes, or for regression the number of target columns.
pub fn network_config(
    arch: &ArchFlags,
    inputs: usize,
    task: Task,
    n_classes: usize,
    seed: u64,
) -> Result<(MlpConfig, Loss), CliError> {
    let hidden = parse_hidden(&arch.hidden)?;
    let activation = Activation::from_name(&arch.activation)
        .map_err(|e| CliError::usage(format!("--activation: {e}")))?;
    if !(0.0..1.0).contains(&arch.dropout) {
        return Err(CliError::usage(format!(
            "--dropout {}: must be at least 0 and below 1",
            arch.dropout
        )));
    }
    // A network with convolutions: each layer's own default (He before a ReLU, Glorot
    // elsewhere). On PyTorch's MNIST example network (3 epochs) it gave MNIST seed 1 0.9908
    // against Glorot's 0.9891 and Fashion-MNIST 0.9142 against 0.9043; He for every layer
    // too (0.916 on Fashion-MNIST) stops a small CNN on the built-in digits from learning.
    let convolutional = arch
        .arch
        .as_deref()
        .is_some_and(|a| a.to_ascii_lowercase().contains("conv2d"));
    let init = match arch.init.as_str() {
        "auto" if convolutional => None,
        "auto" => Some(defaults::INIT),
        name => Some(Init::from_name(name).map_err(|e| CliError::usage(format!("--init: {e}")))?),
    };
    let loss = match (arch.loss.as_str(), task) {
        ("auto", Task::Regress) => Loss::Mse,
        ("auto", Task::Classify) if n_classes == 2 => Loss::BceWithLogits,
        ("auto", Task::Classify) => Loss::CrossEntropy,
        (name, _) => Loss::from_name(name).map_err(|e| CliError::usage(format!("--loss: {e}")))?,
    };
    if task == Task::Regress && loss != Loss::Mse && loss != Loss::Sse {
        return Err(CliError::usage(format!(
            "--loss {}: a regression target needs mse or sse",
            loss.name()
        )));
    }
    let outputs = match task {
        Task::Regress => n_classes.max(1),
        Task::Classify if loss == Loss::CrossEntropy => n_classes,
        Task::Classify if n_classes == 2 => 1,
        Task::Classify => n_classes,
    };
    let cfg = MlpConfig {
        inputs,
        hidden,
        outputs,
        activation,
        output_activation: Activation::Identity,
        dropout: arch.dropout as f32,
        init,
        seed,
    };
    Ok((cfg, loss))
}

/// Flags of the optimiser and schedule.
#[derive(clap::Args, Clone, Debug, Serialize, Deserialize)]
pub struct OptimFlags {
    /// sgd, momentum (SGD with momentum), nesterov, adam, adamw, rmsprop, rprop (iRPROP−, as
    /// torch.optim.Rprop), lbfgs (as torch.optim.LBFGS: up to 20 iterations on each batch per
    /// step; use --batch-size at the training set's size for full-batch L-BFGS), quickprop
    /// (Fahlman's, as FANN implements it). Default: adam; for a regression with fewer than
    /// 10 000 training rows and a validation split, and no optimiser, rate, schedule or batch
    /// flag, full-batch rprop with early stopping (see README, "Defaults, and why").
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate (default: PyTorch's for the optimiser: 1e-3 for Adam/AdamW, 1e-2 for SGD
    /// and RMSprop, 1e-2 for rprop (its initial step size), 1 for lbfgs (its step length);
    /// FANN's 0.7 for quickprop).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Momentum (momentum/nesterov: default 0.9; rmsprop: default 0; not for adam, adamw,
    /// rprop, lbfgs, quickprop).
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Weight decay (default: 0; AdamW 0.01; quickprop 1e-4, FANN's quickprop_decay of −1e-4;
    /// not for rprop and lbfgs).
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule per epoch: constant, step (×0.1 every third of the run), cosine
    /// (annealed to 0 over the run). Default: cosine; constant for rprop, lbfgs and
    /// quickprop (rprop takes no other: its step sizes adapt per weight).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Line search of lbfgs: none (a fixed step, PyTorch's default) or strong_wolfe.
    #[arg(long, value_name = "none|strong_wolfe")]
    pub line_search: Option<String>,
}

impl OptimFlags {
    /// The optimiser's name: `--optimizer`, or the default.
    pub fn optimizer_name(&self) -> &str {
        self.optimizer.as_deref().unwrap_or(defaults::OPTIMIZER)
    }

    /// Whether any flag of the optimiser or its schedule was given (the small-data rule then
    /// leaves the choice alone, see [`defaults::small_regression`]).
    pub fn any_given(&self) -> bool {
        self.optimizer.is_some()
            || self.lr.is_some()
            || self.momentum.is_some()
            || self.weight_decay.is_some()
            || self.schedule.is_some()
            || self.line_search.is_some()
    }

    /// The schedule's name: `--schedule`, or the default for the optimiser.
    pub fn schedule_name(&self) -> &str {
        match (&self.schedule, self.optimizer_name()) {
            (Some(name), _) => name,
            (None, "rprop" | "lbfgs" | "quickprop") => defaults::SCHEDULE_SMALL_DATA_TRAINERS,
            (None, _) => defaults::SCHEDULE,
        }
    }
}

/// The schedule for a run of `epochs` epochs.
pub fn schedule(flags: &OptimFlags, epochs: usize) -> Result<LrSchedule, CliError> {
    let name = flags.schedule_name();
    if flags.optimizer_name() == "rprop" && name != "constant" {
        return Err(CliError::usage(format!(
            "--schedule {name} does not apply to rprop: its step sizes adapt per weight, and --lr is only the initial step size"
        )));
    }
    Ok(match name {
        "constant" => LrSchedule::Constant,
        "step" => LrSchedule::StepDecay {
            step_size: (epochs / 3).max(1),
            gamma: 0.1,
        },
        "cosine" => LrSchedule::CosineAnnealing {
            t_max: epochs.max(1),
            eta_min: 0.0,
        },
        other => {
            return Err(CliError::usage(format!(
                "--schedule {other}: expected constant, step or cosine"
            )))
        }
    })
}

/// Build the optimiser over `params`; hyperparameters not given take PyTorch's defaults.
pub fn build_optimizer(
    flags: &OptimFlags,
    params: Vec<nabla::autograd::Var>,
) -> Result<Box<dyn Optimizer>, CliError> {
    for (flag, v) in [
        ("--lr", flags.lr),
        ("--momentum", flags.momentum),
        ("--weight-decay", flags.weight_decay),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 || (flag == "--lr" && v == 0.0) {
                return Err(CliError::usage(format!(
                    "{flag} {v}: must be {} and finite",
                    if flag == "--lr" {
                        "positive"
                    } else {
                        "non-negative"
                    }
                )));
            }
        }
    }
    let usage = |e: nabla::Error| CliError::usage(e.to_string());
    let name = flags.optimizer_name();
    let not_for = |flag: &str, given: bool, optimizers: &[&str]| {
        if given && optimizers.contains(&name) {
            Err(CliError::usage(format!("{flag} does not apply to {name}")))
        } else {
            Ok(())
        }
    };
    not_for(
        "--momentum",
        flags.momentum.is_some(),
        &["adam", "adamw", "rprop", "lbfgs", "quickprop"],
    )?;
    not_for(
        "--weight-decay",
        flags.weight_decay.is_some(),
        &["rprop", "lbfgs"],
    )?;
    if flags.line_search.is_some() && name != "lbfgs" {
        return Err(CliError::usage(format!(
            "--line-search applies to lbfgs only, not to {name}"
        )));
    }
    let opt: Box<dyn Optimizer> = match name {
        "sgd" | "momentum" | "nesterov" => {
            let d = SgdConfig::default();
            let momentum = match flags.optimizer_name() {
                "sgd" => flags.momentum.unwrap_or(d.momentum),
                _ => flags.momentum.unwrap_or(defaults::SGD_MOMENTUM),
            };
            let cfg = SgdConfig {
                lr: flags.lr.unwrap_or(d.lr),
                momentum,
                nesterov: flags.optimizer_name() == "nesterov",
                weight_decay: flags.weight_decay.unwrap_or(d.weight_decay),
                ..d
            };
            cfg.validate().map_err(usage)?;
            Box::new(Sgd::new(params, cfg).map_err(usage)?)
        }
        "adam" => {
            let d = AdamConfig::default();
            let cfg = AdamConfig {
                lr: flags.lr.unwrap_or(d.lr),
                weight_decay: flags.weight_decay.unwrap_or(d.weight_decay),
                ..d
            };
            cfg.validate().map_err(usage)?;
            Box::new(Adam::new(params, cfg).map_err(usage)?)
        }
        "adamw" => {
            let d = AdamWConfig::default();
            let cfg = AdamWConfig {
                lr: flags.lr.unwrap_or(d.lr),
                weight_decay: flags.weight_decay.unwrap_or(d.weight_decay),
                ..d
            };
            cfg.validate().map_err(usage)?;
            Box::new(AdamW::new(params, cfg).map_err(usage)?)
        }
        "rmsprop" => {
            let d = RmsPropConfig::default();
            let cfg = RmsPropConfig {
                lr: flags.lr.unwrap_or(d.lr),
                momentum: flags.momentum.unwrap_or(d.momentum),
                weight_decay: flags.weight_decay.unwrap_or(d.weight_decay),
                ..d
            };
            cfg.validate().map_err(usage)?;
            Box::new(RmsProp::new(params, cfg).map_err(usage)?)
        }
        "rprop" => {
            let d = RpropConfig::default();
            let cfg = RpropConfig {
                lr: flags.lr.unwrap_or(d.lr),
                ..d
            };
            Box::new(Rprop::new(params, cfg).map_err(usage)?)
        }
        "lbfgs" => {
            let d = LbfgsConfig::default();
            let line_search = match flags.line_search.as_deref() {
                Some(name) => LineSearch::parse(name)
                    .map_err(|e| CliError::usage(format!("--line-search: {e}")))?,
                None => d.line_search,
            };
            let cfg = LbfgsConfig {
                lr: flags.lr.unwrap_or(d.lr),
                line_search,
                ..d
            };
            Box::new(Lbfgs::new(params, cfg).map_err(usage)?)
        }
        "quickprop" => {
            let d = QuickpropConfig::default();
            let cfg = QuickpropConfig {
                lr: flags.lr.unwrap_or(d.lr),
                decay: flags.weight_decay.map_or(d.decay, |w| -w),
                ..d
            };
            Box::new(Quickprop::new(params, cfg).map_err(usage)?)
        }
        other => {
            return Err(CliError::usage(format!(
                "--optimizer {other}: expected sgd, momentum, nesterov, adam, adamw, rmsprop, rprop, lbfgs or quickprop"
            )))
        }
    };
    Ok(opt)
}

/// Data for a saved model: loaded with the model's target column and classes, standardised as
/// at training time. Returns the data set (its own test set for `mnist:DIR` when `prefer_test`)
/// and, for regression, the original target values.
pub struct ModelData {
    pub data: Dataset,
    pub truth: Option<Vec<f32>>,
    pub target_scaler: Option<Standardizer>,
}

/// Load `source` for a model described by `meta`.
pub fn load_for_model(
    source: &str,
    target_flag: Option<&str>,
    meta: &ModelMeta,
    target_required: bool,
    prefer_test: bool,
) -> Result<ModelData, CliError> {
    let regression = meta.task == Task::Regress;
    let target = target_flag
        .map(str::to_string)
        .or_else(|| meta.target.clone());
    // Without a stored target name, the target is the column that is not one of the model's
    // features (the last column for files written alongside the training data).
    let opts = LoadOptions {
        target,
        task: if regression {
            TaskChoice::Regress
        } else {
            TaskChoice::Classify
        },
        target_required,
        class_names: (!regression).then(|| meta.class_labels.clone()),
        // Prediction drops the target column unread, whatever its cells hold.
        ignore_target: !target_required,
    };
    let loaded = load_source(source, &opts).map_err(|e| match e {
        nabla::Error::Data { ref msg, .. } if msg.contains("not one of the classes") => {
            CliError::failure(format!(
                "{e} (the model knows: {})",
                meta.class_labels.join(", ")
            ))
        }
        other => lib_err(other),
    })?;
    let mut data = match (prefer_test, loaded.test) {
        (true, Some(t)) => t,
        _ => loaded.train,
    };
    let inputs = meta.input_size();
    if data.n_features != inputs {
        let mut msg = format!(
            "{source}: {} feature columns, but the model expects {inputs}",
            data.n_features
        );
        if !meta.feature_names.is_empty() && meta.feature_names.len() <= 20 {
            msg.push_str(&format!(" ({})", meta.feature_names.join(", ")));
        }
        if !target_required && data.n_features == inputs + 1 {
            msg.push_str(
                "; pass --target COLUMN if the file has the target column under another name",
            );
        }
        return Err(CliError::failure(msg));
    }
    let truth = values_of(&data);
    if let Some(s) = &meta.standardization {
        s.apply(&mut data).map_err(lib_err)?;
    }
    let target_scaler = meta.target_scaler().cloned();
    if let (Some(ts), Target::Values { .. }) = (&target_scaler, &data.target) {
        ts.apply_target(&mut data).map_err(lib_err)?;
    }
    Ok(ModelData {
        data,
        truth,
        target_scaler,
    })
}

/// Row `row` (0-based) of `source` for a saved model, read as [`load_for_model`] reads it
/// (the model's target column and standardisation; the training rows of `mnist:DIR`): the data
/// set and the row's features. Every error is a failure (exit 1), a row past the end included.
pub fn load_row(
    source: &str,
    target_flag: Option<&str>,
    meta: &ModelMeta,
    target_required: bool,
    row: usize,
) -> Result<(Dataset, Vec<f32>), CliError> {
    let ds = load_for_model(source, target_flag, meta, target_required, false)
        .map_err(|e| CliError::failure(e.message))?
        .data;
    if row >= ds.len() {
        return Err(CliError::failure(format!(
            "--row {row}: {source} has {} rows (0 to {})",
            ds.len(),
            ds.len().saturating_sub(1)
        )));
    }
    let mut x = vec![0f32; ds.n_features];
    ds.fill_batch(&[row], &mut x)
        .map_err(|e| CliError::failure(e.to_string()))?;
    Ok((ds, x))
}

/// Load a model file, mapping errors.
pub fn load_model(path: &Path) -> Result<(nabla::nn::Sequential, ModelMeta), CliError> {
    let (net, meta, _) = nabla::io::load_model(path).map_err(lib_err)?;
    Ok((net, meta))
}

/// Set up the rayon pool for `--threads N` (0 or absent: rayon's default).
pub fn set_threads(threads: Option<usize>) -> Result<(), CliError> {
    if let Some(n) = threads {
        if n == 0 {
            return Err(CliError::usage("--threads 0: must be at least 1"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| CliError::failure(format!("cannot start {n} threads: {e}")))?;
    }
    Ok(())
}

/// Final figures of `net` on `data`: the loss (as trained, on standardised targets) and
/// accuracy, or for regression RMSE, MAE and R² in the target's original units (`truth`, with
/// the network's outputs mapped back through `scaler`).
pub fn figures(
    net: &nabla::nn::Sequential,
    data: &dyn nabla::train::BatchSource,
    truth: Option<&[f32]>,
    loss: Loss,
    scaler: Option<&Standardizer>,
) -> Result<nabla::train::Metrics, CliError> {
    nabla::train::evaluate_in_original_units(net, data, loss, truth, scaler, 256).map_err(lib_err)
}

/// Metrics as JSON: `{"loss", "accuracy"}` or `{"loss", "rmse", "mae", "r2"}`.
pub fn metrics_json(m: &nabla::train::Metrics) -> serde_json::Value {
    use crate::commands::json_number;
    let mut o = serde_json::Map::new();
    o.insert("loss".into(), json_number(m.loss as f64));
    if let Some(a) = m.accuracy {
        o.insert("accuracy".into(), json_number(a));
    }
    for (k, v) in [("rmse", m.rmse), ("mae", m.mae), ("r2", m.r2)] {
        if let Some(v) = v {
            o.insert(k.into(), json_number(v as f64));
        }
    }
    if !m.per_output.is_empty() {
        let outputs: Vec<serde_json::Value> = m
            .per_output
            .iter()
            .map(|p| {
                serde_json::json!({
                    "rmse": json_number(p.rmse as f64),
                    "mae": json_number(p.mae as f64),
                    "r2": json_number(p.r2 as f64),
                })
            })
            .collect();
        o.insert("outputs".into(), serde_json::Value::Array(outputs));
    }
    serde_json::Value::Object(o)
}

/// Metrics for people: `loss 0.0812  accuracy 0.9750`; with several outputs the figures are
/// over every value (R² the mean of the outputs'), see [`per_output_text`] for each output.
pub fn metrics_text(m: &nabla::train::Metrics) -> String {
    let mut s = format!("loss {:.4}", m.loss);
    if let Some(a) = m.accuracy {
        s.push_str(&format!("  accuracy {a:.4}"));
    }
    if let (Some(r), Some(a), Some(r2)) = (m.rmse, m.mae, m.r2) {
        s.push_str(&format!("  rmse {r:.4}  mae {a:.4}  r2 {r2:.4}"));
    }
    s
}

/// One line per output of a regression with several targets, `names` naming them:
/// `  y0: rmse 0.1021  mae 0.0800  r2 0.8123`. Empty for one output.
pub fn per_output_text(m: &nabla::train::Metrics, names: &[String]) -> Vec<String> {
    m.per_output
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let name = names
                .get(j)
                .cloned()
                .unwrap_or_else(|| format!("output {j}"));
            format!(
                "  {name}: rmse {:.4}  mae {:.4}  r2 {:.4}",
                p.rmse, p.mae, p.r2
            )
        })
        .collect()
}

/// The names of a regression model's outputs: its target columns (stored as one
/// comma-separated text), or `y0`, `y1`, … when they do not match the outputs.
pub fn output_names(meta: &ModelMeta, outputs: usize) -> Vec<String> {
    let stored: Vec<String> = meta
        .target
        .as_deref()
        .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    if stored.len() == outputs {
        stored
    } else {
        (0..outputs).map(|j| format!("y{j}")).collect()
    }
}

/// One line describing a network: `64 → 256 relu → 128 relu → 10`.
pub fn describe_network(input_shape: &[usize], layers: &[LayerSpec]) -> String {
    let mut s = shape_text(input_shape);
    for l in layers {
        match l {
            LayerSpec::Linear { out_features, .. } => s.push_str(&format!(" → {out_features}")),
            LayerSpec::Activation { activation } if layers.last() != Some(l) => {
                s.push_str(&format!(" {}", activation.name()))
            }
            LayerSpec::Activation { activation } => {
                s.push_str(&format!(" ({})", activation.name()))
            }
            LayerSpec::Dropout { p } => s.push_str(&format!(" (dropout {p})")),
            other => s.push_str(&format!(" → {}", other.describe())),
        }
    }
    s
}

/// How the output layer and loss read, for people.
pub fn describe_loss(loss: Loss, outputs: usize) -> &'static str {
    match loss {
        Loss::CrossEntropy => "softmax cross-entropy",
        Loss::BceWithLogits if outputs == 1 => "one logit, sigmoid with binary cross-entropy",
        Loss::BceWithLogits => "sigmoid per output with binary cross-entropy",
        Loss::Mse => "linear output, mean squared error",
        Loss::Sse => "linear output, sum of squared errors",
    }
}
