//! The model file: safetensors tensors named like a PyTorch `nn.Sequential` state dict, with
//! nabla's own metadata as JSON in the safetensors header, written atomically.
//!
//! A file saved here loads unchanged into PyTorch with
//! `model.load_state_dict(safetensors.torch.load_file(path), strict=True)`; nabla reads its
//! architecture (format 2: the input shape and the list of [`LayerSpec`]s; format 1, written
//! by earlier releases: an [`MlpConfig`]), standardisation, class labels and training summary
//! back from the metadata, so the file alone rebuilds the whole model.

pub mod onnx;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::data::{Standardizer, Task};
use crate::loss::Loss;
use crate::nn::{LayerRegistry, LayerSpec, MlpConfig, Sequential};
use crate::{Error, Result, Tensor};

/// Version of the metadata layout written by this build.
pub const FORMAT_VERSION: u32 = 2;
/// Header metadata key holding [`ModelMeta`] as JSON.
pub const META_KEY: &str = "nabla";
/// Header metadata key holding the format marker.
pub const FORMAT_KEY: &str = "format";

/// Everything about a model besides its tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Layout version ([`FORMAT_VERSION`]; 1 for files of earlier releases).
    pub format_version: u32,
    /// Shape of one input row (format 2).
    #[serde(default)]
    pub input_shape: Vec<usize>,
    /// The layers in order (format 2); [`save_model`] fills this and `input_shape` from the
    /// network.
    #[serde(default)]
    pub layers: Vec<LayerSpec>,
    /// The feedforward settings the network was built from, when it was built from them. In
    /// format 1 this is the whole architecture; in format 2 it is informational (the layers
    /// rebuild the network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<MlpConfig>,
    /// Classification or regression.
    pub task: Task,
    /// The loss it was trained with.
    pub loss: Loss,
    /// Class labels in output order (classification). With one output (a single logit), the
    /// logit is the log-odds of `class_labels[1]`.
    #[serde(default)]
    pub class_labels: Vec<String>,
    /// Feature names in input order.
    #[serde(default)]
    pub feature_names: Vec<String>,
    /// Name of the target column, if any.
    #[serde(default)]
    pub target: Option<String>,
    /// Feature standardisation fitted on the training split.
    #[serde(default)]
    pub standardization: Option<Standardizer>,
    /// Regression target standardisation (outputs are mapped back with it).
    #[serde(default)]
    pub target_standardization: Option<Standardizer>,
    /// Where the training data came from.
    #[serde(default)]
    pub data_source: String,
    /// Final figures and settings of the training run.
    #[serde(default)]
    pub training: serde_json::Value,
}

impl ModelMeta {
    /// Values in one input row.
    pub fn input_size(&self) -> usize {
        match &self.architecture {
            Some(a) if self.input_shape.is_empty() => a.inputs,
            _ => self.input_shape.iter().product(),
        }
    }

    /// The regression targets' standardisation when it is the per-output map that prediction
    /// inverts (output j is `z_j · std_j + mean_j`), else `None`.
    pub fn target_scaler(&self) -> Option<&Standardizer> {
        self.target_standardization
            .as_ref()
            .filter(|s| !s.mean.is_empty() && s.mean.len() == s.std.len())
    }
}

/// Tensors and header metadata of a safetensors file.
#[derive(Clone, Debug, Default)]
pub struct ModelFile {
    /// Tensors in file order (sorted by name, as safetensors stores them).
    pub tensors: Vec<(String, Tensor)>,
    /// The header's string metadata.
    pub metadata: BTreeMap<String, String>,
}

impl ModelFile {
    /// The nabla metadata, or an error saying the file is not a nabla model.
    pub fn meta(&self, path: &Path) -> Result<ModelMeta> {
        let Some(text) = self.metadata.get(META_KEY) else {
            return Err(model_err(
                path,
                "has no nabla metadata (a plain state dict?); use it with `train --init-from`",
            ));
        };
        let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            model_err(
                path,
                format!("its metadata (header entry '{META_KEY}') is not JSON: {e}"),
            )
        })?;
        let meta: ModelMeta = serde_json::from_value(json).map_err(|e| {
            model_err(
                path,
                format!("its metadata (header entry '{META_KEY}') is not a nabla model's: {e}"),
            )
        })?;
        if meta.format_version > FORMAT_VERSION {
            return Err(model_err(
                path,
                format!(
                    "was written by a newer nabla (format {}; this build reads up to {FORMAT_VERSION})",
                    meta.format_version
                ),
            ));
        }
        Ok(meta)
    }

    /// Rebuild the network from the metadata and load its weights (checked by name and shape).
    pub fn build_network(&self, path: &Path) -> Result<(Sequential, ModelMeta)> {
        self.build_network_with(path, &LayerRegistry::new())
    }

    /// [`ModelFile::build_network`] for a model that may hold custom layers, rebuilt by
    /// `registry`.
    pub fn build_network_with(
        &self,
        path: &Path,
        registry: &LayerRegistry,
    ) -> Result<(Sequential, ModelMeta)> {
        let meta = self.meta(path)?;
        let invalid =
            |e: Error| model_err(path, format!("architecture in metadata is invalid: {e}"));
        let weights: Vec<(String, Tensor)> = self
            .tensors
            .iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .cloned()
            .collect();
        // The metadata sizes the network, which is allocated before the weights are checked:
        // a few bytes of JSON must not make it allocate gigabytes. Up to twice the values the
        // file holds plus SIZE_SLACK, the network is built and load_state_dict names the
        // tensor that is missing or of the wrong shape; beyond, the metadata is refused.
        let held: usize = weights.iter().map(|(_, t)| t.len()).sum();
        let check_size = |described: Option<usize>| match described {
            Some(n) if n <= held.saturating_mul(2).saturating_add(SIZE_SLACK) => Ok(()),
            _ => Err(model_err(
                path,
                format!(
                    "its metadata describes layers of {} weights, but the file holds {held} values",
                    described.map_or("too many".to_string(), |n| n.to_string())
                ),
            )),
        };
        let mut net = if meta.format_version <= 1 {
            let Some(cfg) = &meta.architecture else {
                return Err(model_err(path, "format 1 metadata has no architecture"));
            };
            let sizes: Vec<usize> = std::iter::once(cfg.inputs)
                .chain(cfg.hidden.iter().copied())
                .chain(std::iter::once(cfg.outputs))
                .collect();
            check_size(sizes.windows(2).try_fold(0usize, |sum, pair| {
                sum.checked_add(linear_weights(pair[0], pair[1])?)
            }))?;
            Sequential::mlp(cfg).map_err(invalid)?
        } else {
            if meta.layers.is_empty() {
                return Err(model_err(path, "metadata lists no layers"));
            }
            check_size(
                meta.layers
                    .iter()
                    .try_fold(0usize, |sum, spec| sum.checked_add(spec_weights(spec)?)),
            )?;
            Sequential::from_specs_with(&meta.input_shape, &meta.layers, None, 0, registry)
                .map_err(invalid)?
        };
        net.load_state_dict(&weights)
            .map_err(|e| with_path(e, path))?;
        check_meta_fits(&meta, &net).map_err(|msg| model_err(path, msg))?;
        net.set_training(false);
        // A format-1 file describes its layers through the MLP settings; list them as format 2
        // does, so that callers read one description.
        let mut meta = meta;
        meta.input_shape = net.input_shape().to_vec();
        meta.layers = net.specs();
        Ok((net, meta))
    }
}

/// How many more weights than twice the file's values the metadata may describe before
/// [`ModelFile::build_network`] refuses it unbuilt (2^20 values, 4 MiB of f32).
const SIZE_SLACK: usize = 1 << 20;

/// Weights and biases of a linear layer, `None` when the count overflows.
fn linear_weights(inputs: usize, outputs: usize) -> Option<usize> {
    inputs.checked_mul(outputs)?.checked_add(outputs)
}

/// The values a built-in layer's weights and biases take in a model file (batch norm's running
/// statistics besides), at least; `None` when the count overflows. A custom layer counts 0.
fn spec_weights(spec: &LayerSpec) -> Option<usize> {
    match spec {
        LayerSpec::Linear {
            in_features,
            out_features,
        } => linear_weights(*in_features, *out_features),
        LayerSpec::Conv2d {
            in_channels,
            out_channels,
            kernel,
            bias,
            ..
        } => out_channels
            .checked_mul(*in_channels)?
            .checked_mul(kernel[0])?
            .checked_mul(kernel[1])?
            .checked_add(if *bias { *out_channels } else { 0 }),
        LayerSpec::BatchNorm { channels, .. } => channels.checked_mul(2),
        LayerSpec::Cascade {
            in_features,
            out_features,
            units,
        } => {
            let features = in_features.checked_add(units.len())?;
            linear_weights(features, units.len())?
                .checked_add(linear_weights(features, *out_features)?)
        }
        _ => Some(0),
    }
}

/// The metadata's standardisation, class labels and feature names agree with the network's
/// input and output sizes; the message names what contradicts what.
fn check_meta_fits(meta: &ModelMeta, net: &Sequential) -> std::result::Result<(), String> {
    let (inputs, outputs) = (net.input_size(), net.output_size());
    if let Some(s) = &meta.standardization {
        if s.mean.len() != inputs || s.std.len() != inputs {
            return Err(format!(
                "its standardisation has {} means and {} standard deviations, but the network \
                 takes {inputs} features",
                s.mean.len(),
                s.std.len()
            ));
        }
    }
    if let Some(t) = &meta.target_standardization {
        if t.mean.len() != t.std.len() || t.mean.len() != outputs {
            return Err(format!(
                "its target standardisation has {} means and {} standard deviations, but the \
                 network has {outputs} outputs (expected one of each per output)",
                t.mean.len(),
                t.std.len()
            ));
        }
    }
    let labels = meta.class_labels.len();
    let labels_fit = labels == 0 || labels == outputs || (outputs == 1 && labels == 2);
    if meta.task == Task::Classify && !labels_fit {
        let s = if labels == 1 { "" } else { "s" };
        return Err(format!(
            "it lists {labels} class label{s}, but the network has {outputs} outputs"
        ));
    }
    let names = meta.feature_names.len();
    if names != 0 && names != inputs {
        return Err(format!(
            "it lists {names} feature names, but the network takes {inputs} features"
        ));
    }
    Ok(())
}

/// Check that `path` can name a file to write: it names a file (not `dir/` or `..`), is not
/// a directory, and its folder exists. [`write_atomic`] checks this first; a command that
/// works long before writing (training) checks it up front, so that a bad `--out` fails at
/// once.
pub fn check_output_path(path: &Path) -> Result<()> {
    let bad = |msg: String| Error::param("output path", msg);
    let shown = path.display();
    if path.is_dir() {
        return Err(bad(format!("{shown} is a directory; name a file to write")));
    }
    if path.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(bad(format!("'{shown}' names no file")));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => Err(bad(format!(
            "{shown}: the folder {} does not exist",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

fn model_err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Model {
        path: path.display().to_string(),
        msg: msg.into(),
    }
}

fn with_path(e: Error, path: &Path) -> Error {
    match e {
        Error::Model { msg, .. } => model_err(path, msg),
        other => other,
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over the target, so a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    check_output_path(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let name = path.file_name().ok_or_else(|| {
        Error::param("output path", format!("'{}' names no file", path.display()))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Serialise tensors and metadata to safetensors bytes.
pub fn to_safetensors_bytes(
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            let mut bytes = Vec::with_capacity(t.len() * 4);
            for v in t.data() {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            (n.clone(), t.shape().to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = raw
        .iter()
        .map(|(n, s, b)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::param("tensor", format!("{n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::serialize(views, Some(info))
        .map_err(|e| Error::param("model file", format!("cannot serialise: {e}")))
}

/// Save tensors with metadata to `path` atomically.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_safetensors_bytes(tensors, metadata)?)
}

/// Save a network with its metadata (and any extra header entries, e.g. a checkpoint).
pub fn save_model(
    path: &Path,
    net: &Sequential,
    meta: &ModelMeta,
    extra: &BTreeMap<String, String>,
) -> Result<()> {
    let mut md = extra.clone();
    md.insert(FORMAT_KEY.into(), "pt".into());
    let mut meta = meta.clone();
    meta.format_version = FORMAT_VERSION;
    meta.input_shape = net.input_shape().to_vec();
    meta.layers = net.specs();
    md.insert(
        META_KEY.into(),
        serde_json::to_string(&meta).map_err(|e| Error::param("metadata", e.to_string()))?,
    );
    save_safetensors(path, &net.state_dict(), &md)
}

/// Read a safetensors file: F32 tensors (F64 and F16/BF16 are converted to f32) and metadata.
/// A missing, truncated, corrupt or foreign file gives an error naming the file and the problem.
pub fn load_safetensors(path: &Path) -> Result<ModelFile> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_safetensors(path, &bytes)
}

/// [`load_safetensors`] on bytes already read.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<ModelFile> {
    if bytes.len() < 8 {
        return Err(model_err(
            path,
            format!(
                "is not a safetensors file ({} bytes, too short for a header)",
                bytes.len()
            ),
        ));
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    if header_len > bytes.len() - 8 || bytes.get(8) != Some(&b'{') {
        return Err(model_err(
            path,
            "is not a safetensors file (bad header; truncated, or another format)",
        ));
    }
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| model_err(path, format!("is corrupt or truncated: {e}")))?;
    let (_, md) = SafeTensors::read_metadata(bytes)
        .map_err(|e| model_err(path, format!("is corrupt or truncated: {e}")))?;
    let metadata: BTreeMap<String, String> = md
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut tensors = vec![];
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    for name in names {
        let view = st
            .tensor(&name)
            .map_err(|e| model_err(path, format!("tensor '{name}': {e}")))?;
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                .collect(),
            Dtype::BF16 => view
                .data()
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            other => {
                return Err(model_err(
                    path,
                    format!("tensor '{name}' has dtype {other:?}; only floating-point tensors are supported"),
                ))
            }
        };
        let t = Tensor::from_vec(data, view.shape())?;
        tensors.push((name, t));
    }
    Ok(ModelFile { tensors, metadata })
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as u32;
    let bits = if exp == 0 {
        if frac == 0 {
            sign
        } else {
            // subnormal
            let v = frac as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
    } else if exp == 31 {
        sign | 0x7f80_0000 | (frac << 13)
    } else {
        sign | (((exp - 15 + 127) as u32) << 23) | (frac << 13)
    };
    f32::from_bits(bits)
}

/// Load a nabla model file: the network (in evaluation mode) and its metadata.
pub fn load_model(path: &Path) -> Result<(Sequential, ModelMeta, ModelFile)> {
    load_model_with(path, &LayerRegistry::new())
}

/// [`load_model`] for a model that may hold custom layers, rebuilt by `registry`.
pub fn load_model_with(
    path: &Path,
    registry: &LayerRegistry,
) -> Result<(Sequential, ModelMeta, ModelFile)> {
    let file = load_safetensors(path)?;
    let (net, meta) = file.build_network_with(path, registry)?;
    Ok((net, meta, file))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::nn::Activation;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("nabla-io-{tag}-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        d
    }

    pub(super) fn meta_for(cfg: &MlpConfig) -> ModelMeta {
        ModelMeta {
            format_version: FORMAT_VERSION,
            input_shape: vec![cfg.inputs],
            layers: cfg.layer_specs().unwrap(),
            architecture: Some(cfg.clone()),
            task: Task::Classify,
            loss: Loss::CrossEntropy,
            class_labels: vec!["a".into(), "b".into(), "c".into()],
            feature_names: vec!["x1".into(), "x2".into()],
            target: Some("y".into()),
            standardization: Some(Standardizer {
                mean: vec![0.5, -1.0],
                std: vec![2.0, 1.0],
            }),
            target_standardization: None,
            data_source: "test".into(),
            training: serde_json::json!({"epochs": 3}),
        }
    }

    #[test]
    fn save_and_load_round_trip_rebuilds_the_same_network() {
        let cfg = MlpConfig::new(2, [5, 4], 3)
            .with_activation(Activation::Tanh)
            .with_seed(9);
        let net = Sequential::mlp(&cfg).unwrap();
        let path = tmpdir("rt").join("m.safetensors");
        save_model(&path, &net, &meta_for(&cfg), &BTreeMap::new()).unwrap();
        let (back, meta, file) = load_model(&path).unwrap();
        assert_eq!(meta, meta_for(&cfg));
        assert_eq!(back.state_dict(), net.state_dict());
        let names: Vec<&str> = file.tensors.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
        );
        assert_eq!(back.num_parameters(), net.num_parameters());
    }

    #[test]
    fn truncated_corrupt_and_foreign_files_are_rejected() {
        let cfg = MlpConfig::new(2, [3], 2);
        let net = Sequential::mlp(&cfg).unwrap();
        let dir = tmpdir("bad");
        let good = dir.join("good.safetensors");
        save_model(&good, &net, &meta_for(&cfg), &BTreeMap::new()).unwrap();
        let bytes = fs::read(&good).unwrap();

        let trunc = dir.join("trunc.safetensors");
        fs::write(&trunc, &bytes[..bytes.len() - 7]).unwrap();
        let e = load_model(&trunc).unwrap_err().to_string();
        assert!(
            e.contains("trunc.safetensors") && e.contains("corrupt or truncated"),
            "{e}"
        );

        let csv = dir.join("data.csv");
        fs::write(&csv, "a,b,c\n1,2,3\n4,5,6\n").unwrap();
        let e = load_model(&csv).unwrap_err().to_string();
        assert!(e.contains("not a safetensors file"), "{e}");

        let plain = dir.join("plain.safetensors");
        save_safetensors(&plain, &net.state_dict(), &BTreeMap::new()).unwrap();
        let e = load_model(&plain).unwrap_err().to_string();
        assert!(e.contains("no nabla metadata"), "{e}");

        let e = load_model(&dir.join("missing.safetensors")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tmpdir("atomic");
        let p = dir.join("f.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp-")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn an_output_path_must_name_a_file_in_an_existing_folder() {
        let dir = tmpdir("outpath");
        let e = write_atomic(&dir, b"x").unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = check_output_path(&dir.join("none").join("f.bin")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = check_output_path(Path::new("no-such-folder-here/")).unwrap_err();
        assert!(e.to_string().contains("names no file"), "{e}");
        check_output_path(&dir.join("new.bin")).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
    }

    #[test]
    fn metadata_that_contradicts_the_network_is_refused() {
        let cfg = MlpConfig::new(2, [3], 3);
        let net = Sequential::mlp(&cfg).unwrap();
        let dir = tmpdir("contradict");
        let mut two_labels = meta_for(&cfg);
        two_labels.class_labels.pop();
        let mut names = meta_for(&cfg);
        names.feature_names.push("x3".into());
        for (meta, want) in [
            (two_labels, "2 class labels, but the network has 3 outputs"),
            (names, "3 feature names, but the network takes 2 features"),
        ] {
            let path = dir.join("m.safetensors");
            save_model(&path, &net, &meta, &BTreeMap::new()).unwrap();
            let e = load_model(&path).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("m.safetensors"), "{e}");
        }
    }

    /// A 2 KB file whose metadata announced a linear layer of 3·10^9 outputs made the loader
    /// allocate 24 GB (an abort, not an error); metadata sizes beyond the file's values are
    /// refused before anything is built, in both formats, overflowing counts included.
    #[test]
    fn metadata_announcing_layers_far_beyond_the_file_is_refused_unbuilt() {
        let cfg = MlpConfig::new(2, [3], 3);
        let net = Sequential::mlp(&cfg).unwrap();
        let path = Path::new("m.safetensors");
        let mut huge = meta_for(&cfg);
        huge.layers = vec![
            LayerSpec::Linear {
                in_features: 2,
                out_features: 3_000_000_000,
            },
            LayerSpec::Linear {
                in_features: 3_000_000_000,
                out_features: 3,
            },
        ];
        let mut overflowing = meta_for(&cfg);
        overflowing.layers = vec![LayerSpec::Conv2d {
            in_channels: usize::MAX,
            out_channels: 2,
            kernel: [3, 3],
            stride: [1, 1],
            padding: [0, 0],
            bias: true,
        }];
        let mut format_1 = meta_for(&cfg);
        format_1.format_version = 1;
        format_1.architecture = Some(MlpConfig::new(2, [1 << 40, 3], 3));
        for (meta, want) in [
            (
                huge,
                "describes layers of 18000000003 weights, but the file holds 21 values",
            ),
            (overflowing, "describes layers of too many weights"),
            (format_1, "but the file holds 21 values"),
        ] {
            let file = ModelFile {
                tensors: net.state_dict(),
                metadata: [(META_KEY.to_string(), serde_json::to_string(&meta).unwrap())].into(),
            };
            let e = file.build_network(path).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("m.safetensors"), "{e}");
        }
    }

    /// A grown cascade network saves, loads from the file alone and predicts exactly what it
    /// predicted in memory; its tensors carry the layer's names and shapes.
    #[test]
    fn a_cascade_network_round_trips_and_predicts_the_same() {
        use crate::train::{predict_outputs, train_cascade, ArrayData, CascadeConfig, TargetData};
        let x: Vec<f32> = (0..40).map(|i| ((i * 7 % 13) as f32 / 6.0) - 1.0).collect();
        let y: Vec<f32> = x.chunks(2).map(|r| (r[0] * r[1]).sin()).collect();
        let data = ArrayData::new(
            x,
            2,
            TargetData::Values {
                values: y,
                outputs: 1,
            },
        )
        .unwrap();
        let mut cfg = CascadeConfig::new(Loss::Mse, Task::Regress, 1);
        cfg.max_units = 3;
        let run = train_cascade(&data, None, &cfg, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        let net = Sequential::new(&[2]).with(run.network);
        let mut meta = meta_for(&MlpConfig::new(2, [], 1));
        meta.architecture = None;
        meta.task = Task::Regress;
        meta.loss = Loss::Mse;
        meta.class_labels = vec![];
        let path = tmpdir("cascade").join("c.safetensors");
        save_model(&path, &net, &meta, &BTreeMap::new()).unwrap();
        let (back, meta_back, file) = load_model(&path).unwrap();
        assert_eq!(meta_back.layers, net.specs());
        let names: Vec<(&str, &[usize])> = file
            .tensors
            .iter()
            .map(|(n, t)| (n.as_str(), t.shape()))
            .collect();
        assert_eq!(
            names,
            [
                ("0.output.bias", &[1][..]),
                ("0.output.weight", &[1, 5][..]),
                ("0.units.bias", &[3][..]),
                ("0.units.weight", &[3, 5][..]),
            ]
        );
        let before = predict_outputs(&net, &data, 7).unwrap();
        let after = predict_outputs(&back, &data, 7).unwrap();
        assert_eq!(before, after);
        assert!(before.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }
}
