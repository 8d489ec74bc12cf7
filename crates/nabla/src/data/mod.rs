//! Data sets: loading (CSV, IDX/MNIST, embedded built-ins), splitting and standardisation.
//!
//! A [`Dataset`] holds plain vectors: features row-major (`f32`, or `u8` pixels scaled per batch)
//! and a [`Target`] (class labels, regression values, or none). Nothing here depends on tensors;
//! training code copies rows into its own buffers with [`Dataset::fill_batch`], which never
//! allocates.
//!
//! Sources are named by a spec string, see [`load_source`]:
//! `path/to/file.csv`, `path/to/file.csv.gz`, `mnist:DIR`, `builtin:digits`, `builtin:iris`,
//! `builtin:xor`.

mod builtin;
mod csv_source;
mod fann;
mod gzip;
mod idx;
mod split;
mod standardize;

pub use builtin::BUILTIN_NAMES;
pub use csv_source::{load_csv, load_csv_bytes, write_csv};
pub use fann::{is_fann_path, load_fann, load_fann_bytes, write_fann, FannData};
pub use idx::{load_idx_pair, load_idx_pair_bytes, load_mnist_dir};
pub use split::{apply_split_files, split_dataset, stratified_split};
pub use standardize::Standardizer;

use crate::nn::batch::each_row;
use crate::{Error, Result};

/// Feature storage, row-major `len × n_features`.
#[derive(Clone, Debug, PartialEq)]
pub enum Features {
    /// Real-valued features as read.
    F32(Vec<f32>),
    /// Raw bytes (image pixels); the value handed to a model is `byte as f32 * scale`.
    U8 {
        /// The bytes, row-major.
        data: Vec<u8>,
        /// Multiplier applied when a batch is filled (1/255 for images).
        scale: f32,
    },
}

impl Features {
    /// Number of stored values (rows × features).
    pub fn value_count(&self) -> usize {
        match self {
            Features::F32(v) => v.len(),
            Features::U8 { data, .. } => data.len(),
        }
    }
}

/// What a data set asks a model to predict.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Classification: `labels[i]` indexes `class_names`.
    Classes {
        /// One label per row, each `< class_names.len()`.
        labels: Vec<u32>,
        /// Class names in label order (sorted numerically when all are numbers, else
        /// lexicographically, unless fixed by the caller or the source).
        class_names: Vec<String>,
        /// The target column's name (`label` for IDX files).
        name: String,
    },
    /// Regression: one or more real values per row (several outputs: multi-target
    /// regression, e.g. FANN's building and robot sets).
    Values {
        /// `rows × names.len()` values, row-major.
        values: Vec<f32>,
        /// One name per output (the target columns), at least one.
        names: Vec<String>,
    },
    /// No target (a CSV given to a trained model for prediction).
    None,
}

impl Target {
    /// The target column's name (`None` when there is no target); several target columns
    /// read as their names joined with `,`, the form [`LoadOptions::target`] takes.
    pub fn name(&self) -> Option<String> {
        match self {
            Target::Classes { name, .. } => Some(name.clone()),
            Target::Values { names, .. } => Some(names.join(",")),
            Target::None => None,
        }
    }

    /// Values per row a model predicts for this target: the number of target columns for
    /// regression, 1 for class labels and 0 without a target.
    pub fn outputs(&self) -> usize {
        match self {
            Target::Classes { .. } => 1,
            Target::Values { names, .. } => names.len(),
            Target::None => 0,
        }
    }
}

/// The kind of model a target calls for: the one task type of the library (data, training
/// metrics, model files). In files it reads `"classification"` or `"regression"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Task {
    /// Predict one of a fixed set of classes; accuracy is reported.
    #[serde(rename = "classification")]
    Classify,
    /// Predict a real value; RMSE, MAE and R² are reported.
    #[serde(rename = "regression")]
    Regress,
}

impl Task {
    /// `"classification"` or `"regression"`.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Classify => "classification",
            Task::Regress => "regression",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How to decide the task for a CSV target column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskChoice {
    /// Decide from the target column, see [`load_csv`] for the rule.
    #[default]
    Auto,
    /// Treat the target as class labels.
    Classify,
    /// Treat the target as real values (every cell must be a finite number).
    Regress,
}

/// Options for [`load_source`].
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Target column name for CSV sources; `None` means the last column (or, when
    /// `target_required` is false, no target at all: every column is a feature).
    pub target: Option<String>,
    /// Classification, regression, or decide from the data.
    pub task: TaskChoice,
    /// When false, a named target column that the file lacks gives [`Target::None`] instead of
    /// an error (prediction on new data).
    pub target_required: bool,
    /// Fixed class names (a trained model's). When set, every target cell must be one of them
    /// and labels index this list; a single class is then allowed.
    pub class_names: Option<Vec<String>>,
    /// When true, a CSV's target column (if the file has it) is left out of the features and
    /// not read at all, giving [`Target::None`]: prediction, where a label the model never saw
    /// or an empty target cell must not be an error.
    pub ignore_target: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            target: None,
            task: TaskChoice::Auto,
            target_required: true,
            class_names: None,
            ignore_target: false,
        }
    }
}

/// What [`load_source`] returns: the training data and, when the source has one (the MNIST
/// `t10k` files), a separate test set.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedData {
    /// Training rows (everything, for single-file sources).
    pub train: Dataset,
    /// The source's own test rows, if it defines them.
    pub test: Option<Dataset>,
    /// The natural shape of one row when the source holds images: `[1, rows, columns]` for
    /// MNIST-format files and `[1, 8, 8]` for `builtin:digits`; `None` for tables. The
    /// features are the same either way (pixels row-major); the shape tells a convolutional
    /// network how to read them.
    pub image_shape: Option<Vec<usize>>,
    /// Why the task is what it is, when the source decided it from its values (FANN files:
    /// e.g. `"3 outputs, one hot per row → classification with 3 classes"`).
    pub task_reason: Option<String>,
}

/// A data set held in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Row-major features, `len() × n_features` values.
    pub features: Features,
    /// Number of features per row.
    pub n_features: usize,
    /// One name per feature column.
    pub feature_names: Vec<String>,
    /// Labels, values or nothing.
    pub target: Target,
    /// Where the data came from (file path or source spec), for messages.
    pub source_name: String,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        if self.n_features == 0 {
            return match &self.target {
                Target::Classes { labels, .. } => labels.len(),
                Target::Values { values, names } => values.len() / names.len().max(1),
                Target::None => 0,
            };
        }
        self.features.value_count() / self.n_features
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The task the target calls for; `None` without a target.
    pub fn task(&self) -> Option<Task> {
        match self.target {
            Target::Classes { .. } => Some(Task::Classify),
            Target::Values { .. } => Some(Task::Regress),
            Target::None => None,
        }
    }

    /// Number of classes (0 unless the target is [`Target::Classes`]).
    pub fn n_classes(&self) -> usize {
        match &self.target {
            Target::Classes { class_names, .. } => class_names.len(),
            _ => 0,
        }
    }

    /// The class labels, if the target is [`Target::Classes`].
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.target {
            Target::Classes { labels, .. } => Some(labels),
            _ => None,
        }
    }

    /// Rows per class, indexed by label; `None` unless the target is [`Target::Classes`].
    pub fn class_counts(&self) -> Option<Vec<usize>> {
        match &self.target {
            Target::Classes {
                labels,
                class_names,
                ..
            } => {
                let mut counts = vec![0usize; class_names.len()];
                for &l in labels {
                    counts[l as usize] += 1;
                }
                Some(counts)
            }
            _ => None,
        }
    }

    /// Copy the rows `indices` (in that order) into `x_out` as f32, `indices.len() × n_features`
    /// values row-major. `U8` features are multiplied by their scale. Does not allocate.
    ///
    /// Errors with [`Error::ShapeMismatch`] when `x_out` has the wrong length. Panics if an index
    /// is `>= len()` (indices come from this crate's splits and batchers, never from user input
    /// unchecked).
    pub fn fill_batch(&self, indices: &[usize], x_out: &mut [f32]) -> Result<()> {
        let d = self.n_features;
        if x_out.len() != indices.len() * d {
            return Err(Error::ShapeMismatch {
                op: "fill_batch",
                lhs: vec![indices.len(), d],
                rhs: vec![x_out.len()],
            });
        }
        if d == 0 {
            return Ok(());
        }
        if let Some(&bad) = indices.iter().find(|&&r| r >= self.len()) {
            return Err(Error::param(
                "fill_batch",
                format!("row {bad} of a data set of {} rows", self.len()),
            ));
        }
        // Large batches are gathered by the threads the products use, a run of rows each.
        match &self.features {
            Features::F32(data) => each_row(indices.len(), d, (x_out, d), |s, out| {
                let row = indices[s];
                out.copy_from_slice(&data[row * d..(row + 1) * d]);
            }),
            Features::U8 { data, scale } => {
                let scale = *scale;
                each_row(indices.len(), d, (x_out, d), |s, out| {
                    let row = indices[s];
                    for (o, &b) in out.iter_mut().zip(&data[row * d..(row + 1) * d]) {
                        *o = b as f32 * scale;
                    }
                })
            }
        }
        Ok(())
    }

    /// A new data set with the rows `indices`, in that order (repeats allowed). Feature storage
    /// keeps its kind. Panics if an index is `>= len()`.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let d = self.n_features;
        let features = match &self.features {
            Features::F32(data) => {
                let mut out = Vec::with_capacity(indices.len() * d);
                for &row in indices {
                    out.extend_from_slice(&data[row * d..(row + 1) * d]);
                }
                Features::F32(out)
            }
            Features::U8 { data, scale } => {
                let mut out = Vec::with_capacity(indices.len() * d);
                for &row in indices {
                    out.extend_from_slice(&data[row * d..(row + 1) * d]);
                }
                Features::U8 {
                    data: out,
                    scale: *scale,
                }
            }
        };
        let target = match &self.target {
            Target::Classes {
                labels,
                class_names,
                name,
            } => Target::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                class_names: class_names.clone(),
                name: name.clone(),
            },
            Target::Values { values, names } => {
                let k = names.len();
                let mut out = Vec::with_capacity(indices.len() * k);
                for &i in indices {
                    out.extend_from_slice(&values[i * k..(i + 1) * k]);
                }
                Target::Values {
                    values: out,
                    names: names.clone(),
                }
            }
            Target::None => Target::None,
        };
        Dataset {
            features,
            n_features: d,
            feature_names: self.feature_names.clone(),
            target,
            source_name: self.source_name.clone(),
        }
    }

    /// Every row's features as f32, row-major (`U8` features times their scale).
    pub fn features_f32(&self) -> Vec<f32> {
        match &self.features {
            Features::F32(v) => v.clone(),
            Features::U8 { data, scale } => data.iter().map(|&b| b as f32 * scale).collect(),
        }
    }

    /// Turn `U8` features into `F32` (each byte times the scale); `F32` is left alone.
    pub fn to_f32_features(&mut self) {
        if let Features::U8 { data, scale } = &self.features {
            let scale = *scale;
            let v = data.iter().map(|&b| b as f32 * scale).collect();
            self.features = Features::F32(v);
        }
    }

    /// A short multi-line summary for people: source, rows, features and the target (classes
    /// with their row counts, or the value range for regression).
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}: {} rows, {} features",
            self.source_name,
            self.len(),
            self.n_features
        );
        match &self.target {
            Target::Classes { class_names, .. } => {
                let counts = self.class_counts().unwrap_or_default();
                s.push_str(&format!(", {} classes\n  class counts:", class_names.len()));
                for (name, c) in class_names.iter().zip(&counts) {
                    s.push_str(&format!(" {name}={c}"));
                }
            }
            Target::Values { values, names } => {
                let k = names.len().max(1);
                if k > 1 {
                    s.push_str(&format!(", regression with {k} targets"));
                }
                for (j, name) in names.iter().enumerate() {
                    let column = values.iter().skip(j).step_by(k);
                    let n = (values.len() / k).max(1) as f64;
                    let mean = column.clone().map(|&v| v as f64).sum::<f64>() / n;
                    let min = column.clone().copied().fold(f32::INFINITY, f32::min);
                    let max = column.copied().fold(f32::NEG_INFINITY, f32::max);
                    if k == 1 {
                        s.push_str(&format!(", regression target '{name}'"));
                    }
                    s.push_str(&format!(
                        "\n  target {}min {min}, mean {mean:.6}, max {max}",
                        if k == 1 {
                            String::new()
                        } else {
                            format!("'{name}' ")
                        }
                    ));
                }
            }
            Target::None => s.push_str(", no target"),
        }
        s
    }
}

/// Load a data set named by `spec`:
///
/// * `builtin:digits`, `builtin:iris`, `builtin:xor`: embedded sets (see [`BUILTIN_NAMES`]),
///   read with the CSV rules and `opts`;
/// * `mnist:DIR`: the four IDX files of MNIST or Fashion-MNIST in `DIR` (`.gz` or not); the
///   `t10k` pair, when present, becomes [`LoadedData::test`]; `opts.task` must not be `Regress`;
///
/// * `fann:PATH`, or a path ending in `.train`, `.test` or `.data` (optionally `.gz`): a FANN
///   training-data file, see [`load_fann`]; every output is a target, and
///   [`LoadedData::task_reason`] says why the task was chosen;
///
/// and, for image sources, the shape of one image ([`LoadedData::image_shape`]).
/// * anything else: a CSV file path, gzip-compressed when it ends in `.gz`, see [`load_csv`].
pub fn load_source(spec: &str, opts: &LoadOptions) -> Result<LoadedData> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        let train = builtin::load_builtin(name, opts)?;
        let image_shape = builtin::image_shape(name, &train);
        return Ok(LoadedData {
            train,
            test: None,
            image_shape,
            task_reason: None,
        });
    }
    let fann_path = spec
        .strip_prefix("fann:")
        .or_else(|| is_fann_path(spec).then_some(spec));
    if let Some(path) = fann_path {
        let f = load_fann(std::path::Path::new(path), opts)?;
        return Ok(LoadedData {
            train: f.data,
            test: None,
            image_shape: None,
            task_reason: Some(f.task_reason),
        });
    }
    if let Some(dir) = spec.strip_prefix("mnist:") {
        if opts.task == TaskChoice::Regress {
            return Err(Error::param(
                "task",
                format!("{spec} is a classification data set; regression is not possible"),
            ));
        }
        return load_mnist_dir(std::path::Path::new(dir));
    }
    let train = load_csv(std::path::Path::new(spec), opts)?;
    Ok(LoadedData {
        train,
        test: None,
        image_shape: None,
        task_reason: None,
    })
}

#[cfg(test)]
mod column_name_tests {
    use super::*;

    #[test]
    fn the_target_keeps_its_column_name() {
        let dir = std::env::temp_dir().join(format!("nabla-colnames-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(&p, "\u{feff} a ;\"b;c\";;label\n1;2;3;x\n4;5;6;y\n").unwrap();
        let ds = load_csv(&p, &LoadOptions::default()).unwrap();
        assert_eq!(ds.feature_names, ["a", "b;c", "column_3"]);
        assert_eq!(ds.target.name().as_deref(), Some("label"));
        let q = dir.join("u.csv");
        std::fs::write(&q, "u,v,w\n1,2,0\n3,4,1\n").unwrap();
        let opts = LoadOptions {
            target: Some("u".into()),
            ..LoadOptions::default()
        };
        assert_eq!(
            load_csv(&q, &opts).unwrap().target.name().as_deref(),
            Some("u")
        );
        let xor = load_source("builtin:xor", &LoadOptions::default()).unwrap();
        assert_eq!(xor.train.target.name().as_deref(), Some("y"));
    }
}

#[cfg(test)]
mod tests;
