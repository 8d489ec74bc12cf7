//! ONNX export: a saved network, with its input standardisation and the outputs `nabla predict`
//! gives, as one standard ONNX model (IR version [`IR_VERSION`], default operator set
//! [`OPSET`]).
//!
//! The graph reads one float tensor [`INPUT`] of shape `[batch, features]` (`batch` is a free
//! dimension): the raw feature values in the model's column order, as `predict` reads them. It
//! then
//!
//! 1. standardises them, `(x − mean) / std` (`Sub`, `Div`), when the model was trained on
//!    standardised features;
//! 2. reshapes them to `[batch, C, H, W]` (`Reshape`) when the model's rows are images;
//! 3. runs the layers: linear → `Gemm` (transB = 1), the activations → `Relu`, `LeakyRelu`,
//!    `Tanh`, `Sigmoid` (identity adds no node), dropout adds no node (inference), conv2d →
//!    `Conv`, the pools → `MaxPool`, `AveragePool`, flatten → `Flatten` (axis 1), batch norm →
//!    `BatchNormalization` with the running statistics; a cascade-correlation network →
//!    per hidden unit a `Gemm` over the features so far, its activation and a `Concat` that
//!    appends the unit to the features, then a `Gemm` over all of them;
//! 4. ends in one output, as `predict` computes it: for a classifier [`PROBABILITIES`],
//!    `[batch, classes]` (`Softmax` over several logits; for a single logit z, the log-odds of
//!    the second class, `[1 − σ(z), σ(z)]`); for regression [`PREDICTION`], `[batch, outputs]`
//!    in the target's original units (`z · std + mean` when the target was standardised).
//!
//! The model's metadata (`metadata_props`) holds `class_labels`, `feature_names` and
//! `input_shape` as JSON lists, and `task`, `target` and `data_source` as text.

mod proto;

use std::path::Path;

use prost::Message;

use self::proto::{
    attribute_type, AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto,
};
use super::ModelMeta;
use crate::data::Task;
use crate::nn::{Activation, LayerSpec, Module, Sequential};
use crate::{Error, Result};

/// The default-domain operator set the graph is written for.
pub const OPSET: i64 = 17;
/// The ONNX IR version written (IR 8 goes with opset 17).
pub const IR_VERSION: i64 = 8;
/// Name of the graph's input.
pub const INPUT: &str = "input";
/// Name of a classifier's output: class probabilities in `class_labels` order.
pub const PROBABILITIES: &str = "probabilities";
/// Name of a regression model's output: values in the target's original units.
pub const PREDICTION: &str = "prediction";
/// Name of the free batch dimension of the input and the output.
pub const BATCH: &str = "batch";

/// What an export wrote, for a summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnnxSummary {
    /// The graph input's name ([`INPUT`]) and width (features per row).
    pub input: (String, usize),
    /// The graph output's name ([`PROBABILITIES`] or [`PREDICTION`]) and width.
    pub output: (String, usize),
    /// The operators of the graph's nodes, in order.
    pub operators: Vec<String>,
    /// Size of the file in bytes.
    pub bytes: usize,
}

fn export_err(msg: impl Into<String>) -> Error {
    Error::Export {
        format: "ONNX",
        msg: msg.into(),
    }
}

/// Whether the model can be written as ONNX: `Ok`, or an [`Error::Export`] saying why not
/// (a custom layer, which has no ONNX operator, named with its index; a standardisation that
/// does not fit the input).
pub fn check_exportable(net: &Sequential, meta: &ModelMeta) -> Result<()> {
    for (i, layer) in net.layers().iter().enumerate() {
        if let LayerSpec::Custom { name, .. } = layer.spec() {
            return Err(export_err(format!(
                "layer {i} '{name}' is a custom layer, which has no ONNX operator"
            )));
        }
    }
    let features = net.input_size();
    if let Some(s) = &meta.standardization {
        if s.mean.len() != features || s.std.len() != features {
            return Err(export_err(format!(
                "the standardisation has {} means and {} standard deviations for {features} features",
                s.mean.len(),
                s.std.len()
            )));
        }
    }
    net.layer_shapes().map(|_| ())
}

/// The ONNX model of a network and its metadata, as protobuf bytes (see the module docs for
/// the graph).
pub fn to_onnx_bytes(net: &Sequential, meta: &ModelMeta) -> Result<Vec<u8>> {
    Ok(build_model(net, meta)?.0.encode_to_vec())
}

/// Write the ONNX model of a network to `path` atomically; returns what it wrote.
pub fn save_onnx(path: &Path, net: &Sequential, meta: &ModelMeta) -> Result<OnnxSummary> {
    let (model, mut summary) = build_model(net, meta)?;
    let bytes = model.encode_to_vec();
    summary.bytes = bytes.len();
    super::write_atomic(path, &bytes)?;
    Ok(summary)
}

fn build_model(net: &Sequential, meta: &ModelMeta) -> Result<(ModelProto, OnnxSummary)> {
    check_exportable(net, meta)?;
    let features = net.input_size();
    let mut g = GraphBuilder::default();
    let mut x = INPUT.to_string();
    if let Some(s) = &meta.standardization {
        let mean = g.floats("standardize.mean", &[features], &s.mean);
        let std = g.floats("standardize.std", &[features], &s.std);
        let centred = g.node("Sub", "standardize.sub", &[&x, &mean], vec![]);
        x = g.node("Div", "standardize.div", &[&centred, &std], vec![]);
    }
    let input_shape = net.input_shape();
    if input_shape.len() > 1 {
        let mut shape = vec![-1i64];
        shape.extend(input_shape.iter().map(|&d| d as i64));
        let shape = g.int64s("input_shape", &shape);
        x = g.node("Reshape", "reshape", &[&x, &shape], vec![]);
    }
    for (i, layer) in net.layers().iter().enumerate() {
        x = g.layer(i, layer.as_ref(), &x)?;
    }
    let outputs = net.output_size();
    let (output, width) = match meta.task {
        Task::Classify if outputs == 1 => {
            let p = g.node("Sigmoid", "probabilities.sigmoid", &[&x], vec![]);
            let one = g.floats("probabilities.one", &[], &[1.0]);
            let q = g.node("Sub", "probabilities.complement", &[&one, &p], vec![]);
            g.node_to(
                "Concat",
                PROBABILITIES,
                &[&q, &p],
                vec![int("axis", 1)],
                PROBABILITIES,
            );
            (PROBABILITIES, 2)
        }
        Task::Classify => {
            g.node_to(
                "Softmax",
                PROBABILITIES,
                &[&x],
                vec![int("axis", -1)],
                PROBABILITIES,
            );
            (PROBABILITIES, outputs)
        }
        Task::Regress => {
            match meta.target_scaler() {
                Some(t) => {
                    // One scale and shift per output, broadcast over the batch.
                    let n = t.std.len();
                    let std = g.floats("target.std", &[n], &t.std);
                    let mean = g.floats("target.mean", &[n], &t.mean);
                    let scaled = g.node("Mul", "target.mul", &[&x, &std], vec![]);
                    g.node_to("Add", PREDICTION, &[&scaled, &mean], vec![], PREDICTION);
                }
                None => g.node_to("Identity", PREDICTION, &[&x], vec![], PREDICTION),
            }
            (PREDICTION, outputs)
        }
    };
    let summary = OnnxSummary {
        input: (INPUT.into(), features),
        output: (output.into(), width),
        operators: g
            .nodes
            .iter()
            .map(|n| n.op_type.clone().unwrap_or_default())
            .collect(),
        bytes: 0,
    };
    let graph = GraphProto {
        node: g.nodes,
        name: Some("nabla".into()),
        initializer: g.initializers,
        doc_string: Some(format!(
            "{} exported by nabla: {} raw features in, {output} out",
            match meta.task {
                Task::Classify => "classifier",
                Task::Regress => "regression model",
            },
            features
        )),
        input: vec![value_info(
            INPUT,
            features,
            "raw feature values, one row per example, in the model's feature order",
        )],
        output: vec![value_info(
            output,
            width,
            match meta.task {
                Task::Classify => "class probabilities in the order of metadata class_labels",
                Task::Regress => "predicted values in the target's original units",
            },
        )],
    };
    let mut props = vec![
        ("task", meta.task.to_string()),
        ("class_labels", json(&meta.class_labels)),
        ("feature_names", json(&meta.feature_names)),
        ("input_shape", json(&input_shape.to_vec())),
        ("data_source", meta.data_source.clone()),
    ];
    if let Some(t) = &meta.target {
        props.push(("target", t.clone()));
    }
    let model = ModelProto {
        ir_version: Some(IR_VERSION),
        producer_name: Some("nabla".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: None,
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        metadata_props: props
            .into_iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            })
            .collect(),
    };
    Ok((model, summary))
}

/// JSON text of a list that goes into the metadata.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The nodes and constant tensors of a graph being written, in order.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// A float constant named `name`; returns its name.
    fn floats(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, dims, proto::FLOAT, raw)
    }

    /// A one-dimensional int64 constant named `name`; returns its name.
    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, &[values.len()], proto::INT64, raw)
    }

    fn constant(&mut self, name: &str, dims: &[usize], data_type: i32, raw: Vec<u8>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            name: Some(name.into()),
            raw_data: Some(raw),
        });
        name.into()
    }

    /// A node named `name` whose one output is named after it; returns the output's name.
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.node_to(op, name, inputs, attributes, name);
        name.into()
    }

    /// A node whose one output is `output`.
    fn node_to(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        output: &str,
    ) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: Some(name.into()),
            op_type: Some(op.into()),
            attribute: attributes,
        });
    }

    /// Layer `i` (its state-dict index) applied to `x`; returns its output's name (`x` itself
    /// for a layer that adds no node). Constants are named as in the state dict (`0.weight`).
    fn layer(&mut self, i: usize, layer: &dyn Module, x: &str) -> Result<String> {
        let tensor = |g: &mut Self, local: &str| -> Result<String> {
            let found = layer
                .parameters()
                .into_iter()
                .chain(layer.buffers())
                .find(|(n, _)| *n == local);
            let Some((_, var)) = found else {
                return Err(export_err(format!("layer {i} has no tensor '{local}'")));
            };
            let value = var.value();
            Ok(g.floats(&format!("{i}.{local}"), value.shape(), value.data()))
        };
        let name = |kind: &str| format!("{i}.{kind}");
        let pair = |v: [usize; 2]| [v[0] as i64, v[1] as i64];
        Ok(match layer.spec() {
            LayerSpec::Linear { .. } => {
                let (w, b) = (tensor(self, "weight")?, tensor(self, "bias")?);
                self.node(
                    "Gemm",
                    &name("linear"),
                    &[x, &w, &b],
                    vec![int("transB", 1)],
                )
            }
            LayerSpec::Activation { activation } => self.activation(activation, &i.to_string(), x),
            LayerSpec::Dropout { .. } => x.to_string(),
            LayerSpec::Conv2d {
                kernel,
                stride,
                padding,
                bias,
                ..
            } => {
                let w = tensor(self, "weight")?;
                let mut inputs = vec![x.to_string(), w];
                if bias {
                    inputs.push(tensor(self, "bias")?);
                }
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let [ph, pw] = pair(padding);
                self.node(
                    "Conv",
                    &name("conv2d"),
                    &inputs,
                    vec![
                        ints("kernel_shape", &pair(kernel)),
                        ints("strides", &pair(stride)),
                        ints("pads", &[ph, pw, ph, pw]),
                        ints("dilations", &[1, 1]),
                        int("group", 1),
                    ],
                )
            }
            LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
                let (op, kind) = match layer.spec() {
                    LayerSpec::MaxPool2d { .. } => ("MaxPool", "maxpool2d"),
                    _ => ("AveragePool", "avgpool2d"),
                };
                self.node(
                    op,
                    &name(kind),
                    &[x],
                    vec![
                        ints("kernel_shape", &pair(kernel)),
                        ints("strides", &pair(stride)),
                        ints("pads", &[0, 0, 0, 0]),
                        int("ceil_mode", 0),
                    ],
                )
            }
            LayerSpec::Flatten => {
                self.node("Flatten", &name("flatten"), &[x], vec![int("axis", 1)])
            }
            LayerSpec::BatchNorm { eps, .. } => {
                let inputs = [
                    x.to_string(),
                    tensor(self, "weight")?,
                    tensor(self, "bias")?,
                    tensor(self, "running_mean")?,
                    tensor(self, "running_var")?,
                ];
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                self.node(
                    "BatchNormalization",
                    &name("batchnorm"),
                    &inputs,
                    vec![float("epsilon", eps as f32)],
                )
            }
            LayerSpec::Custom { name, .. } => {
                return Err(export_err(format!(
                    "layer {i} '{name}' is a custom layer, which has no ONNX operator"
                )))
            }
            LayerSpec::Cascade {
                in_features, units, ..
            } => {
                // Unit k: Gemm over the features so far (its row of units.weight up to column
                // I + k), its activation, and a Concat that appends it to the features; then
                // the output Gemm over every feature.
                let mut features = x.to_string();
                if !units.is_empty() {
                    let found = |local: &str| {
                        layer
                            .parameters()
                            .into_iter()
                            .find(|(n, _)| *n == local)
                            .map(|(_, v)| v.value().clone())
                            .ok_or_else(|| export_err(format!("layer {i} has no tensor '{local}'")))
                    };
                    let (w, b) = (found("units.weight")?, found("units.bias")?);
                    let m = in_features + units.len();
                    for (k, act) in units.iter().enumerate() {
                        let fan_in = in_features + k;
                        let row = &w.data()[k * m..k * m + fan_in];
                        let wk = self.floats(&format!("{i}.units.{k}.weight"), &[1, fan_in], row);
                        let bias = &b.data()[k..k + 1];
                        let bk = self.floats(&format!("{i}.units.{k}.bias"), &[1], bias);
                        let unit = format!("{i}.unit{k}");
                        let z = self.node(
                            "Gemm",
                            &format!("{unit}.linear"),
                            &[&features, &wk, &bk],
                            vec![int("transB", 1)],
                        );
                        let h = self.activation(*act, &unit, &z);
                        features = self.node(
                            "Concat",
                            &format!("{unit}.concat"),
                            &[&features, &h],
                            vec![int("axis", 1)],
                        );
                    }
                }
                let (w, b) = (tensor(self, "output.weight")?, tensor(self, "output.bias")?);
                self.node(
                    "Gemm",
                    &name("output"),
                    &[&features, &w, &b],
                    vec![int("transB", 1)],
                )
            }
        })
    }

    /// The node of an elementwise activation on `x`, named `prefix.kind`; returns its output
    /// (`x` itself for the identity, which adds no node).
    fn activation(&mut self, activation: Activation, prefix: &str, x: &str) -> String {
        let name = |kind: &str| format!("{prefix}.{kind}");
        match activation {
            Activation::Identity => x.to_string(),
            Activation::Relu => self.node("Relu", &name("relu"), &[x], vec![]),
            Activation::Tanh => self.node("Tanh", &name("tanh"), &[x], vec![]),
            Activation::Sigmoid => self.node("Sigmoid", &name("sigmoid"), &[x], vec![]),
            Activation::LeakyRelu { alpha } => self.node(
                "LeakyRelu",
                &name("leaky_relu"),
                &[x],
                vec![float("alpha", alpha)],
            ),
        }
    }
}

/// The attribute `name` of type `kind` holding the value set in `value`.
fn attribute(name: &str, kind: i32, value: AttributeProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(kind),
        ..value
    }
}

fn int(name: &str, i: i64) -> AttributeProto {
    let value = AttributeProto {
        i: Some(i),
        ..Default::default()
    };
    attribute(name, attribute_type::INT, value)
}

fn ints(name: &str, ints: &[i64]) -> AttributeProto {
    let value = AttributeProto {
        ints: ints.to_vec(),
        ..Default::default()
    };
    attribute(name, attribute_type::INTS, value)
}

fn float(name: &str, f: f32) -> AttributeProto {
    let value = AttributeProto {
        f: Some(f),
        ..Default::default()
    };
    attribute(name, attribute_type::FLOAT, value)
}

/// A `[batch, width]` float tensor value.
fn value_info(name: &str, width: usize, doc: &str) -> ValueInfoProto {
    let dim = |value| Dimension { value: Some(value) };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: Some(proto::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: vec![
                        dim(DimensionValue::DimParam(BATCH.into())),
                        dim(DimensionValue::DimValue(width as i64)),
                    ],
                }),
            }),
        }),
        doc_string: Some(doc.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Standardizer;
    use crate::loss::Loss;
    use crate::nn::MlpConfig;

    /// The io tests' metadata (features a and b standardised), for `task`, `loss`, `labels`.
    fn meta(task: Task, loss: Loss, labels: &[&str]) -> ModelMeta {
        ModelMeta {
            task,
            loss,
            class_labels: labels.iter().map(|l| l.to_string()).collect(),
            standardization: Some(Standardizer {
                mean: vec![0.5, -1.0],
                std: vec![2.0, 4.0],
            }),
            ..super::super::tests::meta_for(&MlpConfig::new(2, [], 1))
        }
    }

    fn decode(net: &Sequential, meta: &ModelMeta) -> ModelProto {
        ModelProto::decode(to_onnx_bytes(net, meta).unwrap().as_slice()).unwrap()
    }

    fn ops(model: &ModelProto) -> Vec<String> {
        let graph = model.graph.as_ref().unwrap();
        graph
            .node
            .iter()
            .map(|n| n.op_type.clone().unwrap())
            .collect()
    }

    fn initializer<'a>(model: &'a ModelProto, name: &str) -> &'a TensorProto {
        let graph = model.graph.as_ref().unwrap();
        let found = graph
            .initializer
            .iter()
            .find(|t| t.name.as_deref() == Some(name));
        found.unwrap_or_else(|| panic!("no initializer {name}"))
    }

    fn floats(t: &TensorProto) -> Vec<f32> {
        let raw = t.raw_data.as_ref().unwrap();
        raw.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn an_mlp_classifier_reads_back_with_its_weights_interface_and_labels() {
        let cfg = MlpConfig::new(2, [3], 4)
            .with_activation(Activation::LeakyRelu { alpha: 0.2 })
            .with_dropout(0.3)
            .with_seed(4);
        let net = Sequential::mlp(&cfg).unwrap();
        let m = decode(
            &net,
            &meta(Task::Classify, Loss::CrossEntropy, &["w", "x", "y", "z"]),
        );
        assert_eq!(m.ir_version, Some(IR_VERSION));
        assert_eq!(m.opset_import[0].version, Some(OPSET));
        assert_eq!(
            ops(&m),
            ["Sub", "Div", "Gemm", "LeakyRelu", "Gemm", "Softmax"]
        );
        let w = initializer(&m, "0.weight");
        assert_eq!(w.dims, [3, 2]);
        let state: Vec<(String, crate::Tensor)> = net.state_dict();
        let weight = &state.iter().find(|(n, _)| n == "0.weight").unwrap().1;
        assert_eq!(floats(w), weight.data());
        assert_eq!(floats(initializer(&m, "standardize.std")), [2.0, 4.0]);

        let graph = m.graph.as_ref().unwrap();
        let leaky = &graph.node[3].attribute[0];
        assert_eq!((leaky.name.as_deref(), leaky.f), (Some("alpha"), Some(0.2)));
        let gemm = &graph.node[2];
        assert_eq!(gemm.input, ["standardize.div", "0.weight", "0.bias"]);
        assert_eq!(graph.node.last().unwrap().output, [PROBABILITIES]);
        let out = graph.output[0]
            .r#type
            .as_ref()
            .unwrap()
            .tensor_type
            .as_ref()
            .unwrap();
        let dims: Vec<_> = out
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.value.clone())
            .collect();
        assert_eq!(
            dims,
            [
                Some(DimensionValue::DimParam("batch".into())),
                Some(DimensionValue::DimValue(4))
            ]
        );
        let props: Vec<(String, String)> = m
            .metadata_props
            .iter()
            .map(|p| (p.key.clone().unwrap(), p.value.clone().unwrap()))
            .collect();
        assert!(props.contains(&("class_labels".into(), r#"["w","x","y","z"]"#.into())));
        assert!(props.contains(&("feature_names".into(), r#"["x1","x2"]"#.into())));
    }

    #[test]
    fn zero_valued_attributes_are_written_and_a_cnn_is_reshaped_first() {
        let specs: Vec<LayerSpec> = serde_json::from_value(serde_json::json!([
            {"layer": "conv2d", "in_channels": 1, "out_channels": 2,
             "kernel": [2, 2], "stride": [1, 1], "padding": [0, 0]},
            {"layer": "max_pool2d", "kernel": [2, 2], "stride": [1, 1]},
            {"layer": "flatten"},
            {"layer": "linear", "in_features": 8, "out_features": 1}
        ]))
        .unwrap();
        let net = Sequential::from_specs(&[1, 4, 4], &specs, None, 1).unwrap();
        let mut meta = meta(Task::Regress, Loss::Mse, &[]);
        meta.standardization = None;
        meta.target_standardization = Some(Standardizer {
            mean: vec![10.0],
            std: vec![3.0],
        });
        let m = decode(&net, &meta);
        assert_eq!(
            ops(&m),
            ["Reshape", "Conv", "MaxPool", "Flatten", "Gemm", "Mul", "Add"]
        );
        let graph = m.graph.as_ref().unwrap();
        let pool = &graph.node[2];
        let ceil = pool
            .attribute
            .iter()
            .find(|a| a.name.as_deref() == Some("ceil_mode"));
        assert_eq!(ceil.unwrap().i, Some(0), "an int attribute of 0 is present");
        assert_eq!(floats(initializer(&m, "target.mean")), [10.0]);
        let shape = initializer(&m, "input_shape");
        let raw = shape.raw_data.as_ref().unwrap();
        let dims: Vec<i64> = raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(dims, [-1, 1, 4, 4]);
        assert_eq!(graph.output[0].name.as_deref(), Some(PREDICTION));
    }

    #[test]
    fn a_one_logit_classifier_ends_in_both_probabilities() {
        let net = Sequential::mlp(&MlpConfig::new(2, [], 1)).unwrap();
        let m = decode(
            &net,
            &meta(Task::Classify, Loss::BceWithLogits, &["no", "yes"]),
        );
        assert_eq!(ops(&m), ["Sub", "Div", "Gemm", "Sigmoid", "Sub", "Concat"]);
    }

    #[test]
    fn a_standardisation_of_the_wrong_width_is_an_export_error() {
        let net = Sequential::mlp(&MlpConfig::new(3, [], 2)).unwrap();
        let e = to_onnx_bytes(&net, &meta(Task::Classify, Loss::CrossEntropy, &["a", "b"]))
            .unwrap_err();
        assert!(matches!(e, Error::Export { .. }), "{e:?}");
        assert!(e.to_string().contains("for 3 features"), "{e}");
    }
}
