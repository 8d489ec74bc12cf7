//! Training checkpoints: a model file that also holds where the run stands, so that it can be
//! continued bit-identically.
//!
//! A checkpoint is a safetensors file written like a model (see [`crate::io`]): the weights
//! under their `torch.nn.Sequential` names and the [`ModelMeta`] in the header, so it loads with
//! [`crate::io::load_model`] and, after dropping the tensors whose names start with `__`, with
//! PyTorch's `load_state_dict(strict=True)`. On top of that it holds
//!
//! * each optimiser buffer as a 1-D tensor [`OPTIMIZER_BUFFER_PREFIX`]`<buffer name>`
//!   (`__optim.0.exp_avg`), and
//! * under the header key [`CHECKPOINT_KEY`], JSON with the layout version, the
//!   [`RunSettings`], the [`TrainerState`] and the [`OptimizerState`] without its buffers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TrainerState;
use crate::data::Task;
use crate::io::{ModelFile, ModelMeta, FORMAT_KEY, META_KEY};
use crate::loss::Loss;
use crate::nn::{Activation, Init};
use crate::optim::OptimizerState;
use crate::{Error, Result, Tensor};

/// Header metadata key of a checkpoint's training state.
pub const CHECKPOINT_KEY: &str = "nabla_checkpoint";
/// Name prefix of the optimiser-buffer tensors (a model loader skips names starting with `__`).
pub const OPTIMIZER_BUFFER_PREFIX: &str = "__optim.";
/// Layout version of the training state written by this build. Version 1 (unnumbered) stored
/// the command line's arguments instead of [`RunSettings`]; it is refused on loading.
pub const CHECKPOINT_VERSION: u32 = 2;

/// Which data a run trains on and how it is split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSettings {
    /// The training data source (`builtin:NAME`, `mnist:DIR`, a CSV file); `None`: the front
    /// end's default.
    pub source: Option<String>,
    /// A separate test source with the same columns.
    pub test_source: Option<String>,
    /// Target column of a CSV; `None`: the last column.
    pub target: Option<String>,
    /// Classification or regression; `None`: decided from the target column.
    pub task: Option<Task>,
    /// Fraction of the training rows (after the test split) held out for validation.
    pub val_split: f64,
    /// Fraction of the source held out for testing when it has no test set of its own.
    pub test_split: f64,
    /// Fixed splits: `PREFIX.train.txt` and `PREFIX.test.txt` hold 0-based row indices.
    pub split_file: Option<String>,
    /// Row-index file of the training rows (with `test_rows`).
    pub train_rows: Option<PathBuf>,
    /// Row-index file of the test rows (with `train_rows`).
    pub test_rows: Option<PathBuf>,
    /// Standardise with the training split's statistics; `None`: the default for the source
    /// (on for tables, off for images).
    pub standardize: Option<bool>,
}

/// The network a run builds, as chosen before the data decides the input and output widths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkSettings {
    /// Hidden layer widths (empty: a linear model).
    pub hidden: Vec<usize>,
    /// Activation of the hidden layers.
    pub activation: Activation,
    /// Dropout probability after each hidden layer, in [0, 1).
    pub dropout: f64,
    /// Weight initialiser; `None`: the front end's automatic choice.
    pub init: Option<Init>,
    /// Loss; `None`: chosen from the task (cross-entropy for several classes, binary
    /// cross-entropy on one logit for two, MSE for regression).
    pub loss: Option<Loss>,
    /// The layers as an [`crate::nn::Architecture`] string; when set it replaces `hidden`,
    /// `activation` and `dropout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The shape of one input row given by the front end (`None`: the source's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

/// The optimiser and learning-rate schedule of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSettings {
    /// The algorithm's name as the front end spells it (nabla's CLI: sgd, momentum,
    /// nesterov, adam, adamw, rmsprop, rprop, lbfgs, quickprop).
    pub name: String,
    /// Learning rate; `None`: the optimiser's default.
    pub learning_rate: Option<f64>,
    /// Momentum; `None`: the optimiser's default.
    pub momentum: Option<f64>,
    /// Weight decay; `None`: the optimiser's default.
    pub weight_decay: Option<f64>,
    /// The schedule's name, resolved against the run's epochs (nabla's CLI: constant, step,
    /// cosine).
    pub schedule: String,
    /// L-BFGS's line search (`none`, `strong_wolfe`); `None`: the optimiser's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_search: Option<String>,
}

/// What a training run was asked to do: enough to rebuild it (with the data) and resume it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// The data and its splits.
    pub data: DataSettings,
    /// The network and its loss.
    pub network: NetworkSettings,
    /// The optimiser and its schedule.
    pub optimizer: OptimizerSettings,
    /// Total epochs; `None`: the front end's default for the data size.
    pub epochs: Option<usize>,
    /// Rows per mini-batch; `None`: the front end's default for the data size.
    pub batch_size: Option<usize>,
    /// Early-stopping patience in epochs (`None`: off).
    pub early_stopping: Option<usize>,
    /// Shuffle the training rows every epoch.
    pub shuffle: bool,
    /// Seed of the splits, initial weights, dropout and shuffling.
    pub seed: u64,
    /// Write a checkpoint every this many epochs.
    pub checkpoint_every: Option<usize>,
    /// The weights file the run started from, if not from fresh initial weights.
    pub init_from: Option<PathBuf>,
    /// Settings of the front end that the library does not read (nabla's CLI keeps its report
    /// file and its diagnostics switch here), so that a resumed run behaves as the first.
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A run at the end of an epoch: the weights, the model's description, the optimiser's and
/// the trainer's state, and the settings of the run.
///
/// [`Checkpoint::save`] writes it as a model file that also resumes; [`Checkpoint::load`]
/// reads it back. Restore a run with `Sequential::load_state_dict(&weights)`,
/// `Optimizer::load_state(&optimizer)` (after the [`super::Trainer`] is built, since it reads
/// the base learning rate) and `Trainer::restore_state(trainer)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The network's tensors by name (none starting with `__`); [`Checkpoint::load`] gives
    /// them in file order, sorted by name.
    pub weights: Vec<(String, Tensor)>,
    /// The model's description, as in a finished model file.
    pub meta: ModelMeta,
    /// The optimiser's state, buffers included.
    pub optimizer: OptimizerState,
    /// Where the run stands.
    pub trainer: TrainerState,
    /// What the run was asked to do.
    pub settings: RunSettings,
}

/// The JSON under [`CHECKPOINT_KEY`].
#[derive(Serialize, Deserialize)]
struct Header {
    version: u32,
    settings: RunSettings,
    trainer: TrainerState,
    /// The optimiser state without its buffers (they are tensors of their own).
    optimizer: OptimizerState,
    buffer_names: Vec<String>,
}

fn model_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Model {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::param("checkpoint", format!("cannot serialise the {what}: {e}")))
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (a crash leaves the old file or the new one).
    ///
    /// Errors: a weight whose name starts with `__` (reserved for the optimiser's buffers), or
    /// the file cannot be written (naming it).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors = Vec::with_capacity(self.weights.len() + self.optimizer.buffers.len());
        for (name, t) in &self.weights {
            if name.starts_with("__") {
                return Err(Error::param(
                    "checkpoint weights",
                    format!("'{name}': names starting with __ are reserved"),
                ));
            }
            tensors.push((name.clone(), t.clone()));
        }
        let mut optimizer = self.optimizer.clone();
        let mut buffer_names = Vec::with_capacity(optimizer.buffers.len());
        for (name, data) in std::mem::take(&mut optimizer.buffers) {
            let len = data.len();
            tensors.push((
                format!("{OPTIMIZER_BUFFER_PREFIX}{name}"),
                Tensor::from_vec(data, &[len])?,
            ));
            buffer_names.push(name);
        }
        let header = Header {
            version: CHECKPOINT_VERSION,
            settings: self.settings.clone(),
            trainer: self.trainer.clone(),
            optimizer,
            buffer_names,
        };
        let mut md = BTreeMap::new();
        md.insert(FORMAT_KEY.to_string(), "pt".to_string());
        md.insert(META_KEY.to_string(), to_json("model metadata", &self.meta)?);
        md.insert(
            CHECKPOINT_KEY.to_string(),
            to_json("training state", &header)?,
        );
        crate::io::save_safetensors(path, &tensors, &md)
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// Errors name the file: it is missing ([`Error::Io`]), not a safetensors file, truncated
    /// or corrupt, a model without training state ("not a checkpoint"), a checkpoint of the
    /// older layout or of a newer nabla, or its training state does not match its tensors
    /// (all [`Error::Model`]).
    pub fn load(path: &Path) -> Result<Checkpoint> {
        Checkpoint::from_file(crate::io::load_safetensors(path)?, path)
    }

    /// True when a safetensors file read with [`crate::io::load_safetensors`] holds training
    /// state (a finished model or a plain state dict does not).
    pub fn is_checkpoint(file: &ModelFile) -> bool {
        file.metadata.contains_key(CHECKPOINT_KEY)
    }

    /// [`Checkpoint::load`] on a file already read; `path` is what errors name.
    pub fn from_file(file: ModelFile, path: &Path) -> Result<Checkpoint> {
        let Some(text) = file.metadata.get(CHECKPOINT_KEY) else {
            return Err(model_err(
                path,
                "not a checkpoint (it holds no training state: a finished model or a plain \
                 state dict)",
            ));
        };
        let invalid =
            |e: serde_json::Error| model_err(path, format!("checkpoint data is invalid: {e}"));
        let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
        if value.get("version").is_none() && value.get("args").is_some() {
            return Err(model_err(
                path,
                "is a checkpoint from an older nabla (it stores the command line, not run \
                 settings) and cannot be resumed by this version; restart the training",
            ));
        }
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if let Some(v) = version.filter(|&v| v > u64::from(CHECKPOINT_VERSION)) {
            return Err(model_err(
                path,
                format!(
                    "was written by a newer nabla (checkpoint version {v}; this build reads up \
                     to {CHECKPOINT_VERSION})"
                ),
            ));
        }
        let header: Header = serde_json::from_value(value).map_err(invalid)?;
        let meta = file.meta(path)?;
        let mut optimizer = header.optimizer;
        for name in &header.buffer_names {
            let key = format!("{OPTIMIZER_BUFFER_PREFIX}{name}");
            let Some((_, t)) = file.tensors.iter().find(|(n, _)| *n == key) else {
                return Err(model_err(
                    path,
                    format!("optimiser buffer '{key}' is missing"),
                ));
            };
            optimizer.buffers.push((name.clone(), t.data().to_vec()));
        }
        let weights = file
            .tensors
            .into_iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .collect();
        Ok(Checkpoint {
            weights,
            meta,
            optimizer,
            trainer: header.trainer,
            settings: header.settings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::FORMAT_VERSION;
    use crate::nn::{MlpConfig, Sequential};
    use crate::optim::{Adam, AdamConfig, Optimizer};

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nabla-ckpt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn settings() -> RunSettings {
        RunSettings {
            data: DataSettings {
                source: Some("builtin:iris".into()),
                test_source: None,
                target: Some("species".into()),
                task: Some(Task::Classify),
                val_split: 0.1,
                test_split: 0.2,
                split_file: None,
                train_rows: Some("rows/train.txt".into()),
                test_rows: Some("rows/test.txt".into()),
                standardize: Some(true),
            },
            network: NetworkSettings {
                hidden: vec![8, 4],
                activation: Activation::LeakyRelu { alpha: 0.01 },
                dropout: 0.2,
                init: None,
                loss: Some(Loss::CrossEntropy),
                architecture: None,
                input_shape: None,
            },
            optimizer: OptimizerSettings {
                name: "adam".into(),
                learning_rate: Some(0.003),
                momentum: None,
                weight_decay: Some(1e-4),
                schedule: "cosine".into(),
                line_search: None,
            },
            epochs: Some(5),
            batch_size: None,
            early_stopping: Some(3),
            shuffle: true,
            seed: 7,
            checkpoint_every: Some(1),
            init_from: None,
            extra: BTreeMap::from([("diagnostics".to_string(), serde_json::json!(true))]),
        }
    }

    /// A small network after one Adam step, so that the optimiser has buffers.
    fn checkpoint() -> Checkpoint {
        let cfg = MlpConfig::new(4, [8, 4], 3).with_dropout(0.2).with_seed(7);
        let net = Sequential::mlp(&cfg).unwrap();
        let params: Vec<_> = net.named_parameters().into_iter().map(|(_, v)| v).collect();
        for p in &params {
            let g = p.value().map(|x| 0.5 * x + 0.01);
            *p.grad_mut() = Some(g);
        }
        let mut opt = Adam::new(params, AdamConfig::default()).unwrap();
        opt.step().unwrap();
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            input_shape: vec![cfg.inputs],
            layers: cfg.layer_specs().unwrap(),
            architecture: Some(cfg),
            task: Task::Classify,
            loss: Loss::CrossEntropy,
            class_labels: vec!["a".into(), "b".into(), "c".into()],
            feature_names: (1..=4).map(|i| format!("x{i}")).collect(),
            target: Some("species".into()),
            standardization: None,
            target_standardization: None,
            data_source: "builtin:iris".into(),
            training: serde_json::json!({"checkpoint": true}),
        };
        Checkpoint {
            weights: net.state_dict(),
            meta,
            optimizer: opt.state(),
            trainer: TrainerState {
                epoch: 2,
                shuffle_rng: [1, 2, 3, u64::MAX],
                dropout_rngs: net.dropout_rng_states(),
                best: Some((0.25, 2)),
                since_best: 0,
            },
            settings: settings(),
        }
    }

    #[test]
    fn save_then_load_gives_the_same_checkpoint() {
        let ck = checkpoint();
        assert!(!ck.optimizer.buffers.is_empty());
        let path = tmpdir("rt").join("ck.safetensors");
        ck.save(&path).unwrap();
        let back = Checkpoint::load(&path).unwrap();
        // A safetensors file keeps its tensors sorted by name.
        let mut expected = ck;
        expected.weights.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(back, expected);
    }

    #[test]
    fn a_checkpoint_is_also_a_model_file() {
        let ck = checkpoint();
        let path = tmpdir("model").join("ck.safetensors");
        ck.save(&path).unwrap();
        let (net, meta, file) = crate::io::load_model(&path).unwrap();
        assert_eq!(meta, ck.meta);
        assert_eq!(net.state_dict(), ck.weights);
        assert_eq!(
            file.metadata.get(FORMAT_KEY).map(String::as_str),
            Some("pt")
        );
        assert!(Checkpoint::is_checkpoint(&file));
        // The optimiser's buffers are 1-D tensors beside the weights.
        for (name, data) in &ck.optimizer.buffers {
            let key = format!("{OPTIMIZER_BUFFER_PREFIX}{name}");
            let (_, t) = file.tensors.iter().find(|(n, _)| *n == key).unwrap();
            assert_eq!(t.shape(), [data.len()]);
        }
    }

    fn load_err(path: &Path) -> String {
        let e = Checkpoint::load(path).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains(&*path.file_name().unwrap().to_string_lossy()),
            "the error names the file: {shown}"
        );
        shown
    }

    #[test]
    fn truncated_foreign_and_finished_files_are_refused() {
        let dir = tmpdir("bad");
        let ck = checkpoint();
        let good = dir.join("good.safetensors");
        ck.save(&good).unwrap();
        let bytes = std::fs::read(&good).unwrap();

        let trunc = dir.join("trunc.safetensors");
        std::fs::write(&trunc, &bytes[..bytes.len() - 9]).unwrap();
        assert!(load_err(&trunc).contains("corrupt or truncated"));

        let csv = dir.join("data.csv");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        assert!(load_err(&csv).contains("not a safetensors file"));

        let finished = dir.join("finished.safetensors");
        let net = Sequential::mlp(ck.meta.architecture.as_ref().unwrap()).unwrap();
        crate::io::save_model(&finished, &net, &ck.meta, &BTreeMap::new()).unwrap();
        let e = load_err(&finished);
        assert!(e.contains("not a checkpoint"), "{e}");
        let file = crate::io::load_safetensors(&finished).unwrap();
        assert!(!Checkpoint::is_checkpoint(&file));

        let missing = dir.join("missing.safetensors");
        assert!(matches!(Checkpoint::load(&missing), Err(Error::Io { .. })));
    }

    /// Rewrites the checkpoint header of `from` (and drops tensors `drop`) into `to`.
    fn doctored(from: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value), drop: &str) {
        let mut file = crate::io::load_safetensors(from).unwrap();
        let mut header: serde_json::Value =
            serde_json::from_str(&file.metadata[CHECKPOINT_KEY]).unwrap();
        edit(&mut header);
        file.metadata
            .insert(CHECKPOINT_KEY.into(), header.to_string());
        file.tensors.retain(|(n, _)| drop.is_empty() || n != drop);
        crate::io::save_safetensors(to, &file.tensors, &file.metadata).unwrap();
    }

    #[test]
    fn old_new_and_inconsistent_training_state_is_refused() {
        let dir = tmpdir("state");
        let good = dir.join("good.safetensors");
        checkpoint().save(&good).unwrap();

        let old = dir.join("old.safetensors");
        doctored(
            &good,
            &old,
            |h| {
                let o = h.as_object_mut().unwrap();
                o.remove("version");
                o.remove("settings");
                o.insert("args".into(), serde_json::json!({"seed": 0}));
            },
            "",
        );
        let e = load_err(&old);
        assert!(
            e.contains("older nabla") && e.contains("restart the training"),
            "{e}"
        );

        let newer = dir.join("newer.safetensors");
        doctored(&good, &newer, |h| h["version"] = serde_json::json!(99), "");
        assert!(load_err(&newer).contains("newer nabla"));

        let broken = dir.join("broken.safetensors");
        doctored(
            &good,
            &broken,
            |h| h["trainer"] = serde_json::json!("x"),
            "",
        );
        assert!(load_err(&broken).contains("checkpoint data is invalid"));

        let first = checkpoint().optimizer.buffers[0].0.clone();
        let key = format!("{OPTIMIZER_BUFFER_PREFIX}{first}");
        let no_buffer = dir.join("no-buffer.safetensors");
        doctored(&good, &no_buffer, |_| {}, &key);
        let e = load_err(&no_buffer);
        assert!(
            e.contains(&format!("optimiser buffer '{key}' is missing")),
            "{e}"
        );
    }

    #[test]
    fn reserved_weight_names_are_refused() {
        let mut ck = checkpoint();
        ck.weights[0].0 = "__optim.0.exp_avg".into();
        let e = ck
            .save(&tmpdir("reserved").join("ck.safetensors"))
            .unwrap_err();
        assert!(matches!(e, Error::Param { .. }), "{e}");
    }
}
